//! Builds the application from config and runs the HTTP server.

use crate::config::Config;
use crate::http;
use crate::telemetry::Metrics;
use anyhow::Context;
use std::future::{Future, IntoFuture};
use tenantry::auth::TokenSigner;
use tenantry::platform::{Platform, PlatformSettings};
use tenantry::pools::PoolManager;
use tenantry::registry::Registry;
use tenantry::secrets::{MasterKey, SecretBox};
use tenantry::storage::Storage;
use tenantry::tenant::HostName;
use tokio::net::TcpListener;

pub use crate::app::App;

impl App {
    /// Opens the registry named by `config` with `secrets` and starts the pool manager.
    pub async fn open(config: &Config, secrets: SecretBox) -> anyhow::Result<Self> {
        let signer = TokenSigner::new(secrets.master_key(), config.token_ttl);
        let registry = Registry::open(&config.registry_url(), secrets, config.cache.clone())
            .await
            .context("cannot open the registry")?;
        // After a `keys rotate` by another process, re-read the keyring instead of failing.
        let keys_config = config.clone();
        registry.set_key_source(Box::new(move || load_master_key(&keys_config).ok()));
        let base_domain = config
            .base_domain
            .as_deref()
            .map(HostName::parse)
            .transpose()
            .context("base_domain is invalid")?;
        let platform = Platform::new(
            registry,
            PoolManager::new(config.pools.clone()),
            signer,
            Storage::new(config.data_dir.join("files"), config.max_file_bytes),
            PlatformSettings {
                separate_db_users: config.separate_db_users,
                data_dir: config.data_dir.clone(),
                user_status_ttl: config.user_status_ttl,
                hashing: config.hashing.clone(),
                login: config.login.clone(),
            },
        );
        let metrics = Metrics::new(&config.metrics).context("[metrics] is invalid")?;
        let mut app = Self::new(platform, base_domain).with_metrics(metrics);
        app.max_body_bytes = config.max_body_bytes;
        app.trusted_proxies = http::TrustedProxies::parse(&config.http.trusted_proxies)
            .map_err(anyhow::Error::msg)
            .context("[http] trusted_proxies is invalid")?;
        Ok(app)
    }
}

/// Loads the master keyring: `TENANTRY_MASTER_KEY` (keys separated by commas or new lines, current
/// first), else the key file (one key a line). Missing or malformed is an error.
pub fn load_master_key(config: &Config) -> anyhow::Result<SecretBox> {
    let keys = match std::env::var("TENANTRY_MASTER_KEY") {
        Ok(text) => MasterKey::parse_keyring(&text.replace(',', "\n"))
            .context("TENANTRY_MASTER_KEY is invalid")?,
        Err(_) => MasterKey::keyring_from_file(&config.master_key_file())
            .context("cannot load the master key")?,
    };
    Ok(SecretBox::from_keyring(keys))
}

/// Serves `app` on `listener` until `shutdown` resolves, drains in-flight requests (for at most
/// [`DEFAULT_DRAIN_TIMEOUT`]), then closes every tenant pool and the registry.
pub async fn run(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    run_draining(listener, app, shutdown, DEFAULT_DRAIN_TIMEOUT).await
}

/// How long a shutdown waits for in-flight requests by default.
pub const DEFAULT_DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// [`run`] with a bound on the drain: once `shutdown` resolves, no new connection is accepted and
/// requests in flight get up to `drain_timeout` to finish; then the pools and the registry close
/// (a request still running then is cut off).
pub async fn run_draining(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain_timeout: std::time::Duration,
) -> std::io::Result<()> {
    let (pools, registry) = (app.pools().clone(), app.registry().clone());
    app.metrics().spawn_upkeep();
    let router = http::router(app);
    let (stopping_tx, stopping) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = stopping_tx.send(());
    };
    let router = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, router).with_graceful_shutdown(signal);
    let drain_deadline = async move {
        if stopping.await.is_err() {
            std::future::pending::<()>().await; // the server ended by itself
        }
        tokio::time::sleep(drain_timeout).await;
    };
    tokio::select! {
        served = server.into_future() => served?,
        () = drain_deadline => {
            tracing::warn!(?drain_timeout, "requests still running at the end of the drain were cut off");
        }
    }
    pools.close_all().await;
    registry.close().await;
    Ok(())
}
