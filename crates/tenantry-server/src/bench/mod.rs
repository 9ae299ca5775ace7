//! The benchmarks behind `tenantry bench …`: each builds a scratch registry and platform, runs the
//! operation it measures on the data servers it is given, and renders a table. Starting those
//! servers is the caller's job (the CLI starts throwaway ones with `tenantry-testkit`, which is
//! only linked with `--features bench`; the smoke test starts them itself), so this module has no
//! dependency on the test kit and the production binary does not carry it.

mod baseline;
mod client;
pub mod faults;
mod fleet;
pub mod host;
pub mod load;
pub mod login_flood;
pub mod memory;
pub mod migrate;
pub mod provision;
pub mod route;
pub mod scale;
mod zipf;

use anyhow::Context;
use secrecy::SecretString;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tenantry::auth::TokenSigner;
use tenantry::platform::{Platform, PlatformSettings};
use tenantry::pools::PoolManager;
use tenantry::registry::{CacheSettings, DataServer, NewServer, Registry};
use tenantry::secrets::{MasterKey, SecretBox};
use tenantry::storage::Storage;
use tenantry::tenant::{Engine, Hosting, ServerName, TlsMode};

/// A running data server a benchmark may fill with tenant databases. Use only throwaway servers:
/// the benchmarks create (and leave) databases named `tenant_bench0000`, `tenant_fleet0000`, ….
#[derive(Debug, Clone)]
pub struct BenchServer {
    pub engine: Engine,
    /// Host name or IP; for SQLite, the directory that holds the tenant files.
    pub host: String,
    pub port: Option<u16>,
    /// An admin login (`postgres`, `root`, a SQL Server sysadmin); none for SQLite.
    pub admin_user: Option<String>,
    /// The admin login's password (none: the throwaway server trusts local connections).
    pub admin_password: Option<String>,
    pub tls: TlsMode,
}

impl BenchServer {
    /// An SQLite "server": a directory.
    pub fn sqlite(dir: &Path) -> Self {
        Self::trusting(Engine::Sqlite, &dir.display().to_string(), None, None)
    }

    /// A server that lets `admin_user` in without a password and without TLS (the test kit's
    /// PostgreSQL and MariaDB).
    pub fn trusting(
        engine: Engine,
        host: &str,
        port: Option<u16>,
        admin_user: Option<&str>,
    ) -> Self {
        Self {
            engine,
            host: host.to_owned(),
            port,
            admin_user: admin_user.map(str::to_owned),
            admin_password: None,
            tls: TlsMode::Disable,
        }
    }

    /// Registers this server in `registry`.
    async fn register(&self, registry: &Registry) -> anyhow::Result<DataServer> {
        let engine = self.engine;
        let server = registry
            .add_server(NewServer {
                name: ServerName::parse(&format!("bench-{engine}"))?,
                engine,
                host: self.host.clone(),
                port: self.port,
                hosting: Hosting::Ours,
                region: Some("bench".into()),
                tls: self.tls,
                admin_username: self.admin_user.clone(),
                admin_password: self.admin_password.clone().map(SecretString::from),
            })
            .await
            .with_context(|| format!("cannot register the {engine} data server"))?;
        Ok(server)
    }
}

/// A directory under the system temp dir, removed (with everything in it) on drop.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn create(label: &str) -> anyhow::Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!(
            "tenantry-bench-{label}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A platform on a fresh SQLite registry (new master key) in `scratch`, with `pools`.
async fn scratch_platform(scratch: &ScratchDir, pools: PoolManager) -> anyhow::Result<Platform> {
    let url = format!("sqlite://{}/registry.db", scratch.path().display());
    let key = MasterKey::generate();
    let signer = TokenSigner::new(&key, Duration::from_secs(3600));
    let registry = Registry::open(&url, SecretBox::new(key), CacheSettings::default())
        .await
        .context("cannot open the scratch registry")?;
    let storage = Storage::new(
        scratch.path().join("files"),
        tenantry::storage::DEFAULT_MAX_FILE_BYTES,
    );
    Ok(Platform::new(
        registry,
        pools,
        signer,
        storage,
        PlatformSettings {
            data_dir: scratch.path().to_owned(),
            ..PlatformSettings::default()
        },
    ))
}

/// The `p`-th percentile (0 < p ≤ 1, nearest rank) of `sorted`, which must not be empty.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1_000.0)
}

fn secs(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

/// The progress bar every bench draws on stderr for its long steps.
fn progress_bar(
    len: usize,
    prefix: impl Into<std::borrow::Cow<'static, str>>,
) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix:>9} [{bar:30}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(prefix);
    bar
}

/// Provisions dedicated tenant `code` on `server` with admin password `password`, through the
/// platform (the job an operator starts), and waits for it to finish.
async fn provision_dedicated(
    platform: &Platform,
    code: &tenantry::tenant::TenantCode,
    server: uuid::Uuid,
    password: &str,
) -> anyhow::Result<()> {
    use tenantry::platform::{Actor, ProvisionRequest, ServerRef};
    let mut req = ProvisionRequest::new(
        code.clone(),
        code.to_string(),
        tenantry::tenant::Placement::Dedicated,
    );
    req.server = Some(ServerRef::Id(server));
    req.admin_password = Some(SecretString::from(password));
    let job = platform.provision(&Actor::System, req).await?;
    job.wait(|_| {})
        .await
        .with_context(|| format!("provisioning {code}"))?;
    Ok(())
}

/// Overrides tenant `code`'s rate limit (through the platform, as the admin API does).
async fn set_rate_limit(
    platform: &Platform,
    tenant: tenantry::platform::TenantRef,
    requests_per_second: u32,
    burst: u32,
) -> anyhow::Result<()> {
    let limit = tenantry::limits::RateLimit {
        requests_per_second,
        burst,
    };
    let change = tenantry::registry::TenantUpdate {
        rate_limit: Some(Some(limit)),
        ..Default::default()
    };
    platform
        .update(&tenantry::platform::Actor::System, &tenant, change)
        .await?;
    Ok(())
}

/// A rate limit no load of a bench reaches: the bench measures the stack, not a plan's limit.
const UNLIMITED: u32 = 1_000_000;

fn yes_no(met: bool) -> String {
    if met { "yes" } else { "NO" }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn percentile_uses_nearest_rank() {
        let d = millis(&[10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
        assert_eq!(percentile(&d, 0.5), Duration::from_millis(50));
        assert_eq!(percentile(&d, 0.95), Duration::from_millis(100));
        assert_eq!(percentile(&d, 1.0), Duration::from_millis(100));
    }

    #[test]
    fn percentile_of_one_sample_is_that_sample() {
        let d = millis(&[7]);
        assert_eq!(percentile(&d, 0.5), Duration::from_millis(7));
        assert_eq!(percentile(&d, 0.95), Duration::from_millis(7));
    }
}
