//! Configuration: an optional TOML file, then `TENANTRY_*` environment variables (environment wins).

use anyhow::Context;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tenantry::hashing::HashPoolSettings;
use tenantry::limits::LoginThrottleSettings;
use tenantry::pools::PoolManagerSettings;
use tenantry::registry::CacheSettings;

use crate::telemetry::MetricsSettings;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address the HTTP server listens on. Default: `127.0.0.1:8080`. Env: `TENANTRY_LISTEN`.
    pub listen: String,
    /// Directory for the embedded registry, key file and SQLite servers. Default: `./tenantry-data`.
    /// Env: `TENANTRY_DATA_DIR`.
    pub data_dir: PathBuf,
    /// Registry URL (`sqlite:…` or `postgres://…`). Default: `sqlite://{data_dir}/registry.db`.
    /// Env: `TENANTRY_REGISTRY_URL`.
    pub registry_url: Option<String>,
    /// File holding the master key (64 hex digits). Default: `{data_dir}/master.key`. The key itself
    /// may instead come from `TENANTRY_MASTER_KEY`. Env: `TENANTRY_MASTER_KEY_FILE`.
    pub master_key_file: Option<PathBuf>,
    /// Base domain for subdomain resolution (`acme.example.com`). Default: none.
    /// Env: `TENANTRY_BASE_DOMAIN`.
    pub base_domain: Option<String>,
    /// Lifetime of issued tokens. Default: 12 h.
    #[serde(with = "humantime_serde")]
    pub token_ttl: Duration,
    /// Give each dedicated tenant its own least-privilege database login with a generated password
    /// (instead of the server's admin login). Default: false. Env: `TENANTRY_SEPARATE_DB_USERS`.
    pub separate_db_users: bool,
    /// Pool-manager settings (`[pools]`).
    pub pools: PoolManagerSettings,
    /// Tenant-config cache settings (`[cache]`: `poll` (default 1 s, env `TENANTRY_CACHE_POLL`),
    /// `unknown_check_interval` (100 ms), `max_entries` (100,000)).
    pub cache: CacheSettings,
    /// Largest file a tenant may upload. Default: 10 MiB.
    pub max_file_bytes: u64,
    /// Largest request body other than a file upload; a larger one is answered 413. Default: 1 MiB.
    pub max_body_bytes: usize,
    /// How long a tenant user's status (disabled, role, password) is trusted before the router
    /// reads it again. Changes made through tenantry apply at once on the instance that made them
    /// and, through the tenant's users epoch in the registry, on other instances at their next
    /// `[cache] poll`; this bound is for changes made to a tenant's `users` table behind
    /// tenantry's back, and for every change when the poll is off. Default: 5 min.
    #[serde(with = "humantime_serde")]
    pub user_status_ttl: Duration,
    /// `/metrics` settings (`[metrics]`).
    pub metrics: MetricsSettings,
    /// Password hashing pool (`[hashing]`: `max_concurrent` (0 = cores - 1), `max_queued`,
    /// `queue_timeout`); past it sign-ins answer 503 `busy`.
    pub hashing: HashPoolSettings,
    /// Sign-in throttling (`[login]`: `per_account_burst`, `per_account_every`,
    /// `per_address_burst`, `per_address_every`, `max_keys`); past it 429 `too_many_attempts`.
    pub login: LoginThrottleSettings,
    /// On SIGTERM/Ctrl-C, how long requests in flight may run before the pools and the registry
    /// close. Default: 30 s.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// HTTP front settings (`[http]`).
    pub http: HttpSettings,
}

/// `[http]` in the server config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HttpSettings {
    /// Reverse proxies (IP addresses or CIDR blocks) whose `X-Forwarded-For` names the client:
    /// behind them, the client address (login throttling keys on it) is the rightmost entry that
    /// is not a trusted proxy. From any other peer the header is ignored. Default: none (the TCP
    /// peer is the client). Env: `TENANTRY_TRUSTED_PROXIES` (comma-separated).
    pub trusted_proxies: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./tenantry-data"),
            registry_url: None,
            master_key_file: None,
            base_domain: None,
            token_ttl: Duration::from_secs(12 * 3600),
            separate_db_users: false,
            pools: PoolManagerSettings::default(),
            cache: CacheSettings::default(),
            max_file_bytes: tenantry::storage::DEFAULT_MAX_FILE_BYTES,
            max_body_bytes: crate::http::limits::DEFAULT_MAX_BODY_BYTES,
            user_status_ttl: Duration::from_secs(300),
            metrics: MetricsSettings::default(),
            hashing: HashPoolSettings::default(),
            login: LoginThrottleSettings::default(),
            shutdown_timeout: crate::startup::DEFAULT_DRAIN_TIMEOUT,
            http: HttpSettings::default(),
        }
    }
}

impl Config {
    /// Reads `file` (if given), then applies the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut config: Config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("config file {} is invalid", path.display()))?
            }
            None => Config::default(),
        };
        config.apply_env(|k| std::env::var(k).ok());
        Ok(config)
    }

    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) {
        if let Some(v) = var("TENANTRY_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = var("TENANTRY_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = var("TENANTRY_REGISTRY_URL") {
            self.registry_url = Some(v);
        }
        if let Some(v) = var("TENANTRY_MASTER_KEY_FILE") {
            self.master_key_file = Some(v.into());
        }
        if let Some(v) = var("TENANTRY_SEPARATE_DB_USERS") {
            self.separate_db_users = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = var("TENANTRY_TRUSTED_PROXIES") {
            let entries = v.split(',').map(str::trim).filter(|e| !e.is_empty());
            self.http.trusted_proxies = entries.map(str::to_owned).collect();
        }
        if let Some(v) = var("TENANTRY_BASE_DOMAIN") {
            self.base_domain = Some(v);
        }
        if let Some(v) = var("TENANTRY_CACHE_POLL") {
            match humantime_serde::re::humantime::parse_duration(&v) {
                Ok(poll) => self.cache.poll = poll,
                Err(e) => tracing::warn!(value = %v, error = %e, "TENANTRY_CACHE_POLL ignored"),
            }
        }
        if let Some(v) = var("TENANTRY_METRICS_TOKEN") {
            self.metrics.token = Some(v.into());
        }
    }

    pub fn registry_url(&self) -> String {
        self.registry_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("registry.db").display()))
    }

    pub fn master_key_file(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_wins_over_the_file() {
        let mut c: Config =
            toml::from_str("listen = \"0.0.0.0:1\"\nbase_domain = \"a.com\"").unwrap();
        c.apply_env(|k| (k == "TENANTRY_LISTEN").then(|| "127.0.0.1:2".to_owned()));
        assert_eq!(c.listen, "127.0.0.1:2");
        assert_eq!(c.base_domain.as_deref(), Some("a.com"));
    }

    #[test]
    fn cache_poll_comes_from_the_file_then_the_environment() {
        let mut c: Config = toml::from_str("[cache]\npoll = \"250ms\"").unwrap();
        assert_eq!(c.cache.poll, Duration::from_millis(250));
        assert_eq!(
            c.cache.max_entries, 100_000,
            "unset fields keep their default"
        );
        c.apply_env(|k| (k == "TENANTRY_CACHE_POLL").then(|| "2s".to_owned()));
        assert_eq!(c.cache.poll, Duration::from_secs(2));
        assert_eq!(Config::default().cache.poll, Duration::from_secs(1));
    }

    #[test]
    fn durations_and_pool_settings_parse_from_toml() {
        let c: Config = toml::from_str(
            "token_ttl = \"1h\"\n[pools]\nmax_pools = 7\npool_idle_timeout = \"10s\"",
        )
        .unwrap();
        assert_eq!(c.token_ttl, Duration::from_secs(3600));
        assert_eq!(c.pools.max_pools, 7);
        assert_eq!(c.pools.pool_idle_timeout, Duration::from_secs(10));
        assert!(toml::from_str::<Config>("[pools]\nmax_pools = \"many\"").is_err());
    }

    #[test]
    fn metrics_settings_parse_and_the_token_comes_from_the_environment() {
        let mut c: Config =
            toml::from_str("[metrics]\ntop_tenants = 5\ntenant_window = \"1m\"").unwrap();
        assert_eq!(c.metrics.top_tenants, 5);
        assert_eq!(c.metrics.tenant_window, Duration::from_secs(60));
        assert!(c.metrics.token.is_none());
        c.apply_env(|k| {
            (k == "TENANTRY_METRICS_TOKEN").then(|| "s3cret-token-for-prometheus".into())
        });
        let token = c.metrics.token.as_ref().map(tenantry::secrets::expose);
        assert_eq!(token, Some("s3cret-token-for-prometheus"));
        assert!(
            !format!("{c:?}").contains("s3cret"),
            "Debug hides the token"
        );
    }

    #[test]
    fn trusted_proxies_default_to_none_and_come_from_the_file_or_the_environment() {
        assert!(Config::default().http.trusted_proxies.is_empty());
        let mut c: Config =
            toml::from_str("[http]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.7\"]").unwrap();
        assert_eq!(c.http.trusted_proxies, ["10.0.0.0/8", "192.0.2.7"]);
        c.apply_env(|k| (k == "TENANTRY_TRUSTED_PROXIES").then(|| "127.0.0.1, ::1".into()));
        assert_eq!(c.http.trusted_proxies, ["127.0.0.1", "::1"]);
    }

    #[test]
    fn hashing_and_login_settings_parse_from_toml() {
        let c: Config = toml::from_str(
            "[hashing]\nmax_concurrent = 3\nqueue_timeout = \"250ms\"\n[login]\nper_account_burst = 4",
        )
        .unwrap();
        assert_eq!(c.hashing.max_concurrent, 3);
        assert_eq!(c.hashing.queue_timeout, Duration::from_millis(250));
        assert_eq!(c.login.per_account_burst, 4);
        assert_eq!(
            c.login.per_address_burst, 50,
            "unset fields keep their default"
        );
    }

    #[test]
    fn registry_defaults_to_sqlite_in_the_data_dir() {
        let c = Config {
            data_dir: "/d".into(),
            ..Config::default()
        };
        assert_eq!(c.registry_url(), "sqlite:///d/registry.db");
        assert_eq!(c.master_key_file(), PathBuf::from("/d/master.key"));
    }
}
