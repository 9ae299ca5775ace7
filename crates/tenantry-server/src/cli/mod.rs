//! The operator CLI (`tenantry`).

mod backup;
mod bench;
mod keys;
mod migrate;
mod server;
mod table;
mod tenant;

use crate::config::Config;
use crate::startup::{self, App};
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "tenantry",
    version,
    about = "Database-per-tenant platform: registry, router, lifecycle"
)]
pub struct Cli {
    /// TOML config file (environment variables TENANTRY_* override it).
    #[arg(long, global = true, env = "TENANTRY_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create (first run) an embedded registry with five seeded SQLite tenants and serve it.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        #[arg(long, default_value = "./tenantry-data")]
        data_dir: PathBuf,
    },
    /// Serve the HTTP API on the configured registry.
    Serve {
        #[arg(long)]
        listen: Option<String>,
    },
    /// Tenants in the registry.
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Data servers in the registry.
    #[command(subcommand)]
    Server(server::ServerCommand),
    /// Migrate tenant databases (`--all`, `--only CODE…`) or report drift (`status`).
    Migrate(migrate::MigrateArgs),
    /// Benchmarks (throwaway servers; prints tables).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Master-key operations.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Backups: `backup`, `restore`, `backups list`, `registry backup|restore`.
    #[command(flatten)]
    Backup(backup::BackupCommand),
    /// The audit log, newest first.
    Audit {
        #[arg(long)]
        tenant: Option<tenantry::tenant::TenantCode>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Demo { listen, data_dir } => {
            config.listen = listen;
            config.data_dir = data_dir;
            let app = crate::demo::prepare(&config).await?;
            serve(config, app, true).await
        }
        Command::Serve { listen } => {
            if let Some(l) = listen {
                config.listen = l;
            }
            let app = App::open(&config, startup::load_master_key(&config)?).await?;
            serve(config, app, false).await
        }
        Command::Tenant(cmd) => {
            let app = App::open(&config, startup::load_master_key(&config)?).await?;
            tenant::tenant(&app, cmd).await
        }
        Command::Server(cmd) => {
            let app = App::open(&config, startup::load_master_key(&config)?).await?;
            server::server(&app, cmd).await
        }
        Command::Keys(cmd) => keys::run(&config, cmd).await,
        Command::Backup(cmd) => backup::run(&config, cmd).await,
        Command::Audit {
            tenant,
            limit,
            json,
        } => {
            let app = App::open(&config, startup::load_master_key(&config)?).await?;
            server::audit(&app, tenant, limit, json).await
        }
        Command::Bench(cmd) => bench::run(cmd).await,
        Command::Migrate(args) => {
            let app = App::open(&config, startup::load_master_key(&config)?).await?;
            if migrate::run(&app, args).await? {
                Ok(())
            } else {
                Err(anyhow::anyhow!(
                    "some tenants failed or are not current (see above)"
                ))
            }
        }
    }
}

async fn serve(config: Config, app: App, demo: bool) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    println!("tenantry listening on http://{addr}");
    if demo {
        print_demo_help(&addr.to_string());
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    startup::run(listener, app, shutdown).await?;
    Ok(())
}

fn print_demo_help(addr: &str) {
    use crate::demo::{DEMO_PASSWORD, OWNER_EMAIL};
    println!(
        "\nDemo tenants: DCPSP, DEMO (our server), ACME (customer server A), TECHSTART, GLOBALSEC (customer server B)\n\
         Every tenant: user admin / {DEMO_PASSWORD}.  Owner: {OWNER_EMAIL} / {DEMO_PASSWORD}\n\n\
         Try:\n  curl http://{addr}/api/health\n  \
         TOKEN=$(curl -s -X POST 'http://{addr}/api/auth/login?company=ACME' -H 'content-type: application/json' \\\n     \
         -d '{{\"username\":\"admin\",\"password\":\"{DEMO_PASSWORD}\"}}' | sed 's/.*\"token\":\"\\([^\"]*\\)\".*/\\1/')\n  \
         curl -H \"Authorization: Bearer $TOKEN\" http://{addr}/api/customers\n  \
         OWNER=$(curl -s -X POST http://{addr}/api/admin/login -H 'content-type: application/json' \\\n     \
         -d '{{\"email\":\"{OWNER_EMAIL}\",\"password\":\"{DEMO_PASSWORD}\"}}' | sed 's/.*\"token\":\"\\([^\"]*\\)\".*/\\1/')\n  \
         curl -H \"Authorization: Bearer $OWNER\" http://{addr}/api/health/tenants\n"
    );
}
