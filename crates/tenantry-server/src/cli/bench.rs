//! `tenantry bench …` (built with `--features bench`): starts throwaway database servers with
//! `tenantry-testkit`, runs a benchmark of [`crate::bench`] on them, prints its table, and stops
//! them. Nothing touches the configured registry or the machine's own database servers.

use crate::bench::{self, BenchServer, ScratchDir};
use anyhow::Context;
use clap::Subcommand;
use tenantry::tenant::Engine;
use tenantry::tenant::TlsMode;
use tenantry_testkit::{BabelfishServer, MariaDbServer, PgServer};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Provision dedicated tenants one after another on each engine; report latency percentiles.
    Provision {
        /// Tenants provisioned per engine.
        #[arg(long, default_value_t = 20)]
        tenants: usize,
        /// Engines to measure, comma-separated.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "postgres,mysql,sqlite,mssql"
        )]
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
    /// Freeze, kill and restart a customer's PostgreSQL server under load; other tenants' latency,
    /// fail-fast time and recovery time.
    Faults {
        /// Seconds of load before the outage and of the outage with its circuit open.
        #[arg(long, default_value_t = 5)]
        phase_secs: u64,
        /// Print the result as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Provision { tenants, engines } => {
            anyhow::ensure!(
                !engines.is_empty(),
                "--engines must name at least one engine"
            );
            let mut runs = Vec::new();
            for engine in engines {
                eprintln!("bench provision: {engine}: preparing a throwaway server…");
                let server = Throwaway::start(engine).await?;
                let run = bench::provision::measure(&server.describe(), tenants).await;
                server.stop().await;
                runs.push(run?);
            }
            print!("{}", bench::provision::render(&runs));
        }
        BenchCommand::Migrate {
            tenants,
            concurrency,
        } => {
            eprintln!("bench migrate: starting a throwaway PostgreSQL server…");
            let server = Throwaway::start(Engine::Postgres).await?;
            let runs = bench::migrate::measure(&server.describe(), tenants, concurrency).await;
            server.stop().await;
            print!("{}", bench::migrate::render(&runs?, concurrency));
        }
        BenchCommand::Faults { phase_secs, json } => {
            eprintln!("bench faults: starting two throwaway PostgreSQL servers…");
            let ours = Throwaway::start(Engine::Postgres).await?;
            let Throwaway::Postgres(customer) = Throwaway::start(Engine::Postgres).await? else {
                unreachable!("a PostgreSQL throwaway")
            };
            let mut customer = FaultyPg(customer);
            let desc = BenchServer::trusting(
                Engine::Postgres,
                customer.0.host(),
                Some(customer.0.port()),
                Some("postgres"),
            );
            let phase = std::time::Duration::from_secs(phase_secs.max(1));
            let run = bench::faults::measure(&ours.describe(), &desc, &mut customer, phase).await;
            ours.stop().await;
            let _ = tokio::task::spawn_blocking(move || drop(customer)).await;
            let run = run?;
            match json {
                true => println!("{}", serde_json::to_string_pretty(&run)?),
                false => print!("{}", bench::faults::render(&run)),
            }
        }
    }
    Ok(())
}

/// The customer's server of `bench faults`: a throwaway PostgreSQL it may freeze and kill.
struct FaultyPg(PgServer);

impl bench::faults::Outage for FaultyPg {
    fn pause(&self) {
        self.0.pause();
    }
    fn kill(&self) {
        self.0.kill();
    }
    fn restart(&mut self) -> anyhow::Result<()> {
        self.0
            .restart()
            .context("cannot restart the customer's server")
    }
}

/// A throwaway data server; stopped and removed on drop (SQLite: a scratch directory).
enum Throwaway {
    Postgres(PgServer),
    Mysql(MariaDbServer),
    Sqlite(ScratchDir),
    /// Babelfish for PostgreSQL: a real TDS and T-SQL server standing in for SQL Server.
    Mssql(BabelfishServer),
}

impl Throwaway {
    /// Starts a server for `engine` (blocking work runs off the async runtime).
    async fn start(engine: Engine) -> anyhow::Result<Self> {
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
            Engine::Sqlite => Self::Sqlite(ScratchDir::create("sqlite-server")?),
            Engine::Mssql => Self::Mssql(
                tokio::task::spawn_blocking(BabelfishServer::start)
                    .await?
                    .context("cannot start a throwaway SQL Server (Babelfish)")?,
            ),
        })
    }

    fn describe(&self) -> BenchServer {
        match self {
            Self::Postgres(s) => {
                BenchServer::trusting(Engine::Postgres, s.host(), Some(s.port()), Some("postgres"))
            }
            Self::Mysql(s) => {
                BenchServer::trusting(Engine::Mysql, s.host(), Some(s.port()), Some("root"))
            }
            Self::Sqlite(dir) => BenchServer::sqlite(dir.path()),
            // Babelfish encrypts with a self-signed certificate: `require` trusts it.
            Self::Mssql(s) => BenchServer {
                admin_password: Some(s.admin_password().to_owned()),
                tls: TlsMode::Require,
                ..BenchServer::trusting(
                    Engine::Mssql,
                    s.host(),
                    Some(s.port()),
                    Some(s.admin_user()),
                )
            },
        }
    }

    /// Stops the server off the async runtime (dropping it blocks until it has exited).
    async fn stop(self) {
        let _ = tokio::task::spawn_blocking(move || drop(self)).await;
    }
}
