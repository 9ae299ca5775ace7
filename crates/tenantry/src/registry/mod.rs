//! The registry: the control-plane database of tenants, domains, data servers and owners.
//!
//! Runs on an embedded SQLite file (default) or PostgreSQL, through the same statements. It holds no
//! business data. Credentials are stored only as secret-box ciphertext. Reads on the request path go
//! through an in-memory cache (see [`cache`]) that every mutation here invalidates, and that follows
//! other processes' changes through the registry's change stamp (see [`changes`]).

mod audit;
mod cache;
mod changes;
mod claims;
mod keys;
mod lookup;
mod owners;
mod plans;
mod reload;
mod servers;
mod tenant_writes;
mod tenants;

pub use audit::AuditEntry;
pub use cache::{CacheSettings, CacheStats};
pub use changes::ChangeWatcher;
pub use claims::DatabaseClaim;
pub use owners::Owner;
pub use plans::Plan;
pub use servers::{DataServer, NewServer};
pub use tenants::{
    DataSource, NewTenant, PoolSettings, Tenant, TenantConfig, TenantFilter, TenantUpdate,
};

use crate::db;
use crate::secrets::{SecretBox, SecretError};
use crate::tenant::{Engine, InvalidValue};
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    #[error("registry URL must start with sqlite: or postgres:")]
    UnsupportedUrl,
    #[error("cannot open the registry: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot migrate the registry: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error(
        "the master key (id {given}) does not match the registry, which was created with key {expected}"
    )]
    WrongKey { given: String, expected: String },
    #[error("registry query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("stored secret cannot be read: {0}")]
    Secret(#[from] SecretError),
    #[error("invalid {0}")]
    Invalid(#[from] InvalidValue),
    #[error("{0} already exists")]
    Conflict(String),
    /// Another tenant holds this database (or schema): one tenant per database.
    #[error("{field}: {message}")]
    DatabaseInUse {
        field: &'static str,
        message: String,
    },
    #[error("{0} not found")]
    NotFound(String),
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator =
    sqlx::migrate!("../../migrations/registry/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator =
    sqlx::migrate!("../../migrations/registry/postgres");

pub(crate) const KEY_CHECK_CONTEXT: &str = "registry:key-check";

/// A cheap `Clone` handle on the registry.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    pool: AnyPool,
    /// The registry's own engine (SQLite or PostgreSQL), for placeholder style.
    engine: Engine,
    /// Replaced when a rotation made elsewhere is picked up (see [`Registry::set_key_source`]).
    /// A std lock: held only to clone two `Arc`s, never across an `.await`.
    pub(crate) secrets: std::sync::RwLock<SecretBox>,
    /// Re-reads the keyring when a ciphertext names a key this process does not hold yet.
    key_source: std::sync::OnceLock<KeySource>,
    cache: cache::TenantCache,
    /// What the cache has seen of the registry's change stamp, and the watcher polling it.
    changes: changes::ChangeTracker,
    /// Statements (and transactions) sent to the registry database through this handle: every one
    /// goes through [`Registry::pool`], which counts it. For benchmarks and metrics: a warm
    /// request must send none.
    queries: std::sync::atomic::AtomicU64,
}

/// Loads the current keyring (e.g. the key file again); `None` when it cannot.
pub type KeySource = Box<dyn Fn() -> Option<SecretBox> + Send + Sync>;

impl Registry {
    /// Opens (creating when needed) and migrates the registry, then checks that `secrets` holds the
    /// key the registry was created with, so a wrong key fails here, at start-up.
    pub async fn open(url: &str, secrets: SecretBox, cache: CacheSettings) -> Result<Self> {
        db::install_drivers();
        let (engine, url) = if let Some(rest) = url.strip_prefix("sqlite:") {
            let url = if rest.contains("mode=") {
                url.to_owned()
            } else if rest.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            (Engine::Sqlite, url)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            (Engine::Postgres, url.to_owned())
        } else {
            return Err(RegistryError::UnsupportedUrl);
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if engine == Engine::Sqlite { 4 } else { 10 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        use sqlx::Executor;
                        conn.execute("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(RegistryError::Connect)?;
        let migrator = match engine {
            Engine::Postgres => &POSTGRES_MIGRATIONS,
            _ => &SQLITE_MIGRATIONS,
        };
        migrator.run(&pool).await.map_err(RegistryError::Migrate)?;
        let registry = Self {
            inner: Arc::new(Inner {
                pool,
                engine,
                secrets: std::sync::RwLock::new(secrets),
                key_source: std::sync::OnceLock::new(),
                cache: cache::TenantCache::new(&cache),
                changes: changes::ChangeTracker::new(cache.unknown_check_interval),
                queries: std::sync::atomic::AtomicU64::new(0),
            }),
        };
        registry.check_key().await?;
        registry.start_following(cache.poll).await?;
        Ok(registry)
    }

    /// Stores a key check on first open; on later opens, proves the key matches.
    async fn check_key(&self) -> Result<()> {
        const CONTEXT: &str = KEY_CHECK_CONTEXT;
        let found: Option<String> =
            sqlx::query_scalar(&self.sql("SELECT value FROM registry_meta WHERE key = ?"))
                .bind("key_check")
                .fetch_optional(self.pool())
                .await?;
        let secrets = &self.secrets();
        match found {
            None => {
                sqlx::query(&self.sql("INSERT INTO registry_meta (key, value) VALUES (?, ?)"))
                    .bind("key_check")
                    .bind(secrets.encrypt("tenantry", CONTEXT))
                    .execute(self.pool())
                    .await?;
                Ok(())
            }
            Some(ct) => match secrets.decrypt(&ct, CONTEXT) {
                Ok(_) => Ok(()),
                Err(_) => Err(RegistryError::WrongKey {
                    given: secrets.key_id().to_owned(),
                    expected: SecretBox::key_id_of(&ct).unwrap_or("?").to_owned(),
                }),
            },
        }
    }

    /// The registry's connection pool; each call counts as one registry query.
    pub fn pool(&self) -> &AnyPool {
        let queries = &self.inner.queries;
        queries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        &self.inner.pool
    }

    /// Registry queries (statements or transactions) sent through this handle since it opened.
    pub fn queries(&self) -> u64 {
        self.inner
            .queries
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn engine(&self) -> Engine {
        self.inner.engine
    }

    /// The secret box in force (cheap clone).
    pub fn secrets(&self) -> SecretBox {
        self.inner
            .secrets
            .read()
            .expect("secrets lock poisoned")
            .clone()
    }

    /// Installs how to reload the keyring: a running server then follows a `keys rotate` made by
    /// another process without a restart (first ciphertext under an unknown key triggers a reload).
    pub fn set_key_source(&self, source: KeySource) {
        let _ = self.inner.key_source.set(source);
    }

    /// Decrypts a stored secret, reloading the keyring once if it names a key not held yet.
    pub(crate) fn decrypt(&self, ciphertext: &str, context: &str) -> Result<secrecy::SecretString> {
        match self.secrets().decrypt(ciphertext, context) {
            Err(SecretError::UnknownKey(kid)) => {
                let reloaded = self.inner.key_source.get().and_then(|load| load());
                match reloaded {
                    Some(fresh) if fresh.keys().iter().any(|k| k.id() == kid) => {
                        tracing::info!(key_id = %fresh.key_id(), "master keyring reloaded");
                        *self.inner.secrets.write().expect("secrets lock poisoned") = fresh.clone();
                        Ok(fresh.decrypt(ciphertext, context)?)
                    }
                    _ => Err(SecretError::UnknownKey(kid).into()),
                }
            }
            other => Ok(other?),
        }
    }

    pub(crate) fn sql<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        db::sql(self.inner.engine, text)
    }

    /// Drops every cached tenant config and domain, so the next request reads the registry.
    pub fn invalidate_all(&self) {
        self.inner.cache.clear();
    }

    /// Number of tenant configs held in the cache (for health output).
    pub fn cached_configs(&self) -> u64 {
        self.inner.cache.len()
    }

    /// Hits and misses of the tenant-config and domain caches since start (for metrics).
    pub fn cache_stats(&self) -> CacheStats {
        self.inner.cache.stats()
    }

    /// Stops the change watcher and closes the registry's connections.
    pub async fn close(&self) {
        if let Some(watcher) = self.watcher() {
            watcher.stop();
        }
        self.inner.pool.close().await;
    }
}

/// Maps a unique-constraint violation to `Conflict(what)`.
pub(crate) fn conflict(err: sqlx::Error, what: impl Into<String>) -> RegistryError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            RegistryError::Conflict(what.into())
        }
        _ => RegistryError::Query(err),
    }
}
