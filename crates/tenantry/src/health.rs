//! Health probes of tenant databases.
//!
//! A probe opens a short-lived connection of its own (never a pooled one), runs `SELECT 1` and
//! closes it, so checking a thousand tenants neither opens a thousand pools nor evicts the pools
//! busy tenants are using. Probes run concurrently with a bound, each under a timeout, so one dead
//! server never stalls the answer.

use crate::db::{EngineConnection, Purpose};
use crate::registry::{DataSource, TenantConfig};
use futures::StreamExt;
use serde::Serialize;
use std::time::{Duration, Instant};

/// Longest a single probe may take. Default: 2 s.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Probes in flight at once. Default: 16.
pub const PROBE_CONCURRENCY: usize = 16;

/// What a probe found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub connected: bool,
    /// Connect + `SELECT 1` + close, in milliseconds.
    pub latency_ms: Option<f64>,
    pub error: Option<String>,
}

/// Probes one tenant database with a connection of its own.
pub async fn probe(source: &DataSource, timeout: Duration) -> Probe {
    let started = Instant::now();
    let attempt = async {
        let mut conn = EngineConnection::connect(source, Purpose::Probe, timeout)
            .await
            .map_err(|e| describe(&e))?;
        conn.execute_raw("SELECT 1")
            .await
            .map_err(|e| describe(&e))?;
        let _ = conn.close().await;
        Ok::<_, String>(())
    };
    let result = tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")));
    Probe {
        connected: result.is_ok(),
        latency_ms: result
            .is_ok()
            .then(|| started.elapsed().as_secs_f64() * 1000.0),
        error: result.err(),
    }
}

/// Probes many tenants, at most `concurrency` at once; results in the order given.
pub async fn probe_all(
    configs: Vec<TenantConfig>,
    concurrency: usize,
    timeout: Duration,
) -> Vec<(TenantConfig, Probe)> {
    futures::stream::iter(configs)
        .map(|c| async move {
            let p = probe(&c.source, timeout).await;
            (c, p)
        })
        .buffered(concurrency.max(1))
        .collect()
        .await
}

/// An error in words, without the driver's internals (and never a password: none is in it).
fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::PoolTimedOut => "no connection within the probe timeout".into(),
        sqlx::Error::Io(io) => format!("network: {io}"),
        sqlx::Error::Tls(_) => "TLS handshake failed".into(),
        sqlx::Error::Database(db) => format!("database: {}", db.message()),
        other => other.to_string(),
    }
}
