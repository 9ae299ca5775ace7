//! `tenantry bench …` (built with `--features bench`): starts throwaway database servers with
//! `tenantry-testkit`, runs a benchmark of [`crate::bench`] on them, prints its table, and stops
//! them. Nothing touches the configured registry or the machine's own database servers.

use crate::bench::{self, BenchServer, ScratchDir};
use anyhow::Context;
use clap::Subcommand;
use tenantry::pools::PoolManagerSettings;
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
        /// Tenants migrated at once (0: the default of `migrate --all`, two per core).
        #[arg(long, default_value_t = 0)]
        concurrency: usize,
    },
    /// `GET /api/tickets` through tenantry vs a hand-written axum + sqlx service, side by side.
    Route {
        /// PostgreSQL tenants (dedicated databases) loaded round-robin.
        #[arg(long, default_value_t = 100)]
        tenants: usize,
        /// Requests in flight at once (one keep-alive connection each).
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Load time per stack and scenario, in seconds.
        #[arg(long, default_value_t = 8)]
        seconds: u64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Many tenants (PostgreSQL schemas + SQLite files), few pools, a connection budget, Zipf traffic.
    Scale {
        #[arg(long, default_value_t = 10_000)]
        tenants: usize,
        /// Share of the tenants on PostgreSQL (schemas in shared databases); the rest are SQLite.
        #[arg(long, default_value_t = 0.5)]
        pg_share: f64,
        /// Shared PostgreSQL databases holding the schemas.
        #[arg(long, default_value_t = 4)]
        databases: usize,
        #[arg(long, default_value_t = 200)]
        max_pools: u64,
        /// Most connections open at once, all tenants.
        #[arg(long, default_value_t = 300)]
        budget: usize,
        /// Idle connections of evicted schema-tenant pools kept for other tenants of their
        /// database to take over (the pool setting `spare_connections`; 0: none).
        #[arg(long, default_value_t = PoolManagerSettings::default().spare_connections)]
        spare_connections: usize,
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
        /// Clients of the closed-loop pass (the paced pass uses twice as many).
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Requests per second of the paced pass, whose latencies are judged (0: half the
        /// closed-loop throughput).
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        /// Zipf exponent of tenant popularity.
        #[arg(long, default_value_t = 1.0)]
        zipf: f64,
        /// More paced passes after the judged one, at these shares of the closed-loop throughput
        /// (e.g. `0.2,0.3,0.4`): where the warm and cold latencies stand at each load.
        #[arg(long, value_delimiter = ',')]
        sweep: Vec<f64>,
        #[arg(long)]
        json: bool,
    },
    /// Wrong-password sign-ins and a tenant flooding past its rate limit, on a local server with
    /// SQLite tenants: RSS before/peak/after, another tenant's p50/p99 before vs during.
    LoginFlood {
        /// Wrong-password sign-ins.
        #[arg(long, default_value_t = 1_000)]
        logins: usize,
        /// Clients at once (both floods).
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Rounds of the rate-limit flood (each one second quiet, then one second flooded).
        #[arg(long, default_value_t = 8)]
        flood_secs: u64,
        /// Requests per second of the flooding tenant (whose limit is 50/s).
        #[arg(long, default_value_t = 500)]
        flood_rps: u64,
        /// Password hashes at once (0: the default, as in `[hashing] max_concurrent`).
        #[arg(long, default_value_t = 0)]
        hash_threads: usize,
        /// Print the measurements as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Provision PostgreSQL tenants on a serving process, sign in to each and read its tickets;
    /// the process's resident memory at every stage.
    Memory {
        /// Tenants provisioned and served.
        #[arg(long, default_value_t = 100)]
        tenants: usize,
        /// Print the measurements as JSON instead of a table.
        #[arg(long)]
        json: bool,
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
            let shown = tenantry::fleet::FleetOptions {
                concurrency,
                ..Default::default()
            }
            .per_server();
            print!("{}", bench::migrate::render(&runs?, shown));
        }
        BenchCommand::Route {
            tenants,
            concurrency,
            seconds,
            json,
        } => {
            eprintln!("bench route: starting a throwaway PostgreSQL server…");
            let server = Throwaway::start(Engine::Postgres).await?;
            let options = bench::route::RouteOptions {
                tenants,
                concurrency,
                duration: std::time::Duration::from_secs(seconds.max(1)),
            };
            let run = bench::route::measure(&server.describe(), &options).await;
            server.stop().await;
            let run = run?;
            show(json, run.as_slice(), bench::route::render)?;
        }
        BenchCommand::Scale {
            tenants,
            pg_share,
            databases,
            max_pools,
            budget,
            spare_connections,
            requests,
            concurrency,
            rate,
            zipf,
            sweep,
            json,
        } => {
            eprintln!("bench scale: starting a throwaway PostgreSQL server…");
            let server = Throwaway::start(Engine::Postgres).await?;
            let options = bench::scale::ScaleOptions {
                tenants,
                pg_share,
                databases,
                max_pools,
                budget,
                spare_connections,
                requests,
                concurrency,
                rate,
                zipf,
                sweep,
            };
            let run = bench::scale::measure(&server.describe(), &options).await;
            server.stop().await;
            let run = run?;
            show(json, &run, bench::scale::render)?;
        }
        BenchCommand::LoginFlood {
            logins,
            concurrency,
            flood_secs,
            flood_rps,
            hash_threads,
            json,
        } => {
            let opts = bench::login_flood::Options {
                logins,
                concurrency,
                flood_secs,
                flood_rps,
                hash_threads,
                ..Default::default()
            };
            eprintln!(
                "bench login-flood: {logins} wrong-password sign-ins, then a rate-limit flood…"
            );
            let run = bench::login_flood::measure(&opts).await?;
            show(json, &run, bench::login_flood::render)?;
        }
        BenchCommand::Memory { tenants, json } => {
            eprintln!("bench memory: starting a throwaway PostgreSQL server…");
            let server = Throwaway::start(Engine::Postgres).await?;
            let run = bench::memory::measure(&server.describe(), tenants).await;
            server.stop().await;
            show(json, &run?, bench::memory::render)?;
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
            show(json, &run, bench::faults::render)?;
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
    fn resume(&self) {
        self.0.resume();
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

/// Prints one bench's result: pretty JSON with `--json`, else its table.
fn show<T: serde::Serialize + ?Sized>(
    json: bool,
    run: &T,
    render: fn(&T) -> String,
) -> anyhow::Result<()> {
    match json {
        true => println!("{}", serde_json::to_string_pretty(run)?),
        false => print!("{}", render(run)),
    }
    Ok(())
}
