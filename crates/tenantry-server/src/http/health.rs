//! Liveness and per-tenant health (owner only). Probes run concurrently, each under a timeout, so
//! one dead server never stalls the answer.

use super::OwnerAuth;
use crate::app::App;
use axum::extract::State;
use axum::Json;
use futures::StreamExt;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tenantry::registry::TenantConfig;
use tenantry::router::ApiError;

/// Longest a single tenant probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Probes in flight at once.
const PROBE_CONCURRENCY: usize = 32;

pub async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn tenants(State(app): State<App>, _owner: OwnerAuth) -> Result<Json<Value>, ApiError> {
    let configs = app.registry().all_configs().await?;
    let reports: Vec<Value> = futures::stream::iter(configs)
        .map(|c| {
            let app = app.clone();
            async move { probe(&app, c).await }
        })
        .buffered(PROBE_CONCURRENCY)
        .collect()
        .await;
    Ok(Json(json!({
        "activePools": app.pools().active_pools(),
        "cachedConfigs": app.registry().cached_configs(),
        "openCircuits": app.pools().open_circuits(),
        "tenants": reports,
    })))
}

pub(super) async fn probe(app: &App, config: TenantConfig) -> Value {
    let started = Instant::now();
    let result = tokio::time::timeout(PROBE_TIMEOUT, async {
        let mut conn = app
            .pools()
            .acquire(&config)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query("SELECT 1")
            .execute(&mut *conn)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(())
    })
    .await
    .unwrap_or_else(|_| Err(format!("no answer within {PROBE_TIMEOUT:?}")));
    let t = &config.tenant;
    json!({
        "companyCode": t.code,
        "name": t.name,
        "connected": result.is_ok(),
        "latencyMs": result.is_ok().then(|| started.elapsed().as_secs_f64() * 1000.0),
        "error": result.err(),
        "server": t.server_name,
        "database": t.database,
        "engine": t.engine,
        "hosting": t.hosting,
        "placement": t.placement,
        "schemaVersion": t.schema_version,
        "status": t.status,
    })
}
