//! The operator CLI (`tenantry`): each command parses its arguments, calls one platform operation
//! as the CLI actor (`cli:$USER`), and prints the answer (a table, or `--json`).

mod backup;
#[cfg(feature = "bench")]
mod bench;
mod exit;
mod init;
mod keys;
mod migrate;
mod owner;
mod secret;
mod server;
pub(crate) mod table;
mod tenant;

pub use exit::{exit_code, Usage};

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
    /// First start: create the registry, the master key file (unless a key is configured) and the
    /// first owner.
    Init(init::InitArgs),
    /// Serve the HTTP API on the configured registry (needs an owner: see `init`).
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
    /// Owners: the operators who sign in to the admin API.
    #[command(subcommand)]
    Owner(owner::OwnerCommand),
    /// Migrate tenant databases (`--all`, `--only CODE…`) or report drift (`status`).
    Migrate(migrate::MigrateArgs),
    /// Benchmarks (throwaway servers; prints tables). Built with `--features bench`.
    #[cfg(feature = "bench")]
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Master-key operations.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Backups: `backup`, `restore`, `backups list`, `registry backup|restore`.
    #[command(flatten)]
    Backup(backup::BackupCommand),
    /// The audit log, newest first.
    Audit(server::AuditArgs),
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
        Command::Init(args) => init::run(&config, args).await,
        Command::Serve { listen } => {
            if let Some(l) = listen {
                config.listen = l;
            }
            let app = open(&config).await?;
            if app.platform().owner_count().await? == 0 {
                anyhow::bail!(
                    "the registry has no owner, so nobody could sign in to the admin API: \
                     run `tenantry init --owner-email EMAIL --owner-name NAME` first"
                );
            }
            serve(config, app, false).await
        }
        Command::Tenant(cmd) => tenant::run(&open(&config).await?, cmd).await,
        Command::Server(cmd) => server::run(&open(&config).await?, cmd).await,
        Command::Owner(cmd) => owner::run(&open(&config).await?, cmd).await,
        Command::Keys(cmd) => keys::run(&config, cmd).await,
        Command::Audit(args) => server::audit(&open(&config).await?, args).await,
        Command::Backup(cmd) => backup::run(&config, cmd).await,
        #[cfg(feature = "bench")]
        Command::Bench(cmd) => bench::run(cmd).await,
        Command::Migrate(args) => migrate::run(&open(&config).await?, args).await,
    }
}

/// Opens the configured registry with the configured key.
async fn open(config: &Config) -> anyhow::Result<App> {
    App::open(config, startup::load_master_key(config)?).await
}

async fn serve(config: Config, app: App, demo: bool) -> anyhow::Result<()> {
    recover_provisioning(&app).await?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    println!("tenantry listening on http://{addr}");
    if demo {
        print_demo_help(&addr.to_string());
    }
    startup::run_draining(listener, app, shutdown_signal(), config.shutdown_timeout).await?;
    eprintln!("tenantry stopped");
    Ok(())
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    eprintln!("tenantry: shutting down (draining requests in flight)");
}

/// Provisionings a previous run left unfinished: resumed when the admin user exists, marked
/// `failed` (with what to do) otherwise; each said here and audited.
async fn recover_provisioning(app: &App) -> anyhow::Result<()> {
    for r in app.platform().recover_provisioning().await? {
        let t = &r.tenant;
        match r.job {
            Some(job) => eprintln!(
                "tenant {}: unfinished provisioning resumed (job {job})",
                t.code
            ),
            None => eprintln!(
                "tenant {}: unfinished provisioning marked failed: {}",
                t.code,
                t.status_reason.as_deref().unwrap_or("")
            ),
        }
    }
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
