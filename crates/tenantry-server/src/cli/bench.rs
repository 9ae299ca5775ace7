//! `tenantry bench …`: benchmarks that start their own throwaway database servers (via
//! `tenantry-testkit`), build a scratch registry, measure, and print a table. Nothing touches the
//! configured registry or the machine's own database servers.

mod migrate;
mod provision;

use anyhow::Context;
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tenantry::registry::{CacheSettings, DataServer, NewServer, Registry};
use tenantry::secrets::{MasterKey, SecretBox};
use tenantry::tenant::{Engine, Hosting, TlsMode};
use tenantry_testkit::{MariaDbServer, PgServer};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Provision dedicated tenants one after another on each engine; report latency percentiles.
    Provision {
        /// Tenants provisioned per engine.
        #[arg(long, default_value_t = 20)]
        tenants: usize,
        /// Engines to measure, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "postgres,mysql,sqlite")]
        engines: Vec<Engine>,
    },
    /// Migrate a fleet of fresh PostgreSQL tenant databases, then re-run it as a no-op.
    Migrate {
        /// Tenant databases in the fleet.
        #[arg(long, default_value_t = 200)]
        tenants: usize,
        /// Tenants migrated at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Provision { tenants, engines } => provision::run(tenants, &engines).await,
        BenchCommand::Migrate {
            tenants,
            concurrency,
        } => migrate::run(tenants, concurrency).await,
    }
}

/// A directory under the system temp dir, removed (with everything in it) on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn create(label: &str) -> anyhow::Result<Self> {
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

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A throwaway data server; stopped and removed on drop (SQLite: a directory in the scratch dir).
enum Throwaway {
    Postgres(PgServer),
    Mysql(MariaDbServer),
    Sqlite(PathBuf),
}

impl Throwaway {
    /// Starts a server for `engine` (blocking work runs off the async runtime).
    async fn start(engine: Engine, scratch: &ScratchDir) -> anyhow::Result<Self> {
        Ok(match engine {
            Engine::Postgres => Self::Postgres(
                tokio::task::spawn_blocking(PgServer::start)
                    .await?
                    .context("cannot start a throwaway PostgreSQL server")?,
            ),
            Engine::Mysql => Self::Mysql(
                tokio::task::spawn_blocking(MariaDbServer::start)
                    .await?
                    .context("cannot start a throwaway MariaDB server")?,
            ),
            Engine::Sqlite => Self::Sqlite(scratch.path().join("sqlite-server")),
        })
    }

    /// Registers this server in `registry` with the engine's passwordless admin user.
    async fn register(&self, registry: &Registry) -> anyhow::Result<DataServer> {
        let (engine, host, port, admin) = match self {
            Self::Postgres(s) => (
                Engine::Postgres,
                s.host().to_owned(),
                Some(s.port()),
                Some("postgres"),
            ),
            Self::Mysql(s) => (
                Engine::Mysql,
                s.host().to_owned(),
                Some(s.port()),
                Some("root"),
            ),
            Self::Sqlite(dir) => (Engine::Sqlite, dir.display().to_string(), None, None),
        };
        let server = registry
            .add_server(NewServer {
                name: format!("bench-{engine}"),
                engine,
                host,
                port,
                hosting: Hosting::Ours,
                region: Some("bench".into()),
                tls: TlsMode::Disable,
                admin_username: admin.map(str::to_owned),
                admin_password: None,
            })
            .await
            .with_context(|| format!("cannot register the {engine} data server"))?;
        Ok(server)
    }

    /// Stops the server off the async runtime (dropping it blocks until it has exited).
    async fn stop(self) {
        let _ = tokio::task::spawn_blocking(move || drop(self)).await;
    }
}

/// Opens a fresh SQLite registry (new master key) in `scratch`.
async fn scratch_registry(scratch: &ScratchDir) -> anyhow::Result<Registry> {
    let url = format!("sqlite://{}/registry.db", scratch.path().display());
    Registry::open(
        &url,
        SecretBox::new(MasterKey::generate()),
        CacheSettings::default(),
    )
    .await
    .context("cannot open the scratch registry")
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
