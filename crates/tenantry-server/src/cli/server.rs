//! `tenantry server …` and `tenantry audit`.

use super::{secret, table};
use crate::app::App;
use clap::Subcommand;
use tenantry::platform::{Actor, ServerRef, TenantRef};
use tenantry::registry::{DataServer, NewServer};
use tenantry::tenant::{Engine, Hosting, ServerName, TlsMode};

#[derive(Subcommand)]
pub enum ServerCommand {
    /// List data servers.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Register a data server.
    Add {
        #[arg(long)]
        name: ServerName,
        #[arg(long)]
        engine: Engine,
        /// DNS name or IP (SQLite: a directory).
        #[arg(long)]
        host: String,
        /// Default: the engine's (5432, 3306, 1433).
        #[arg(long)]
        port: Option<u16>,
        #[arg(long, default_value = "ours")]
        hosting: Hosting,
        #[arg(long)]
        region: Option<String>,
        /// disable | prefer | require | verify (default: verify for mssql, prefer for the others).
        /// SQL Server: verify = Encrypt=true, TrustServerCertificate=false; require = Encrypt=true,
        /// TrustServerCertificate=true; prefer/disable = Encrypt=false.
        #[arg(long)]
        tls: Option<TlsMode>,
        #[arg(long)]
        admin_user: Option<String>,
        /// Name of an environment variable holding the admin password.
        #[arg(long)]
        admin_password_env: Option<String>,
    },
    /// Remove a data server (by name or id) that holds no tenant.
    Remove { server: ServerRef },
}

pub async fn run(app: &App, cmd: ServerCommand) -> anyhow::Result<()> {
    let actor = Actor::cli_from_env();
    match cmd {
        ServerCommand::List { json } => {
            let servers = app.platform().list_servers().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&servers)?);
            } else {
                print_servers(&servers);
            }
        }
        ServerCommand::Add {
            name,
            engine,
            host,
            port,
            hosting,
            region,
            tls,
            admin_user,
            admin_password_env,
        } => {
            let new = NewServer {
                name,
                engine,
                host,
                port,
                hosting,
                region,
                tls: tls.unwrap_or(engine.default_tls()),
                admin_username: admin_user,
                admin_password: secret::from_env(admin_password_env.as_deref())?,
            };
            let s = app.platform().add_server(&actor, new).await?;
            println!(
                "server {} added ({} {}:{}, tls {})",
                s.name, s.engine, s.host, s.port, s.tls
            );
        }
        ServerCommand::Remove { server } => {
            app.platform().remove_server(&actor, &server).await?;
            println!("server {server} removed");
        }
    }
    Ok(())
}

fn print_servers(servers: &[DataServer]) {
    let rows: Vec<Vec<String>> = servers
        .iter()
        .map(|s| {
            vec![
                s.name.to_string(),
                s.engine.to_string(),
                s.host.clone(),
                s.port.to_string(),
                s.hosting.to_string(),
                s.region.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["NAME", "ENGINE", "HOST", "PORT", "HOSTING", "REGION"];
    print!("{}", table::render(&header, &rows));
}

#[derive(clap::Args)]
pub struct AuditArgs {
    /// Only this tenant's entries (code or id).
    #[arg(long)]
    tenant: Option<TenantRef>,
    #[arg(long, default_value_t = 50)]
    limit: u32,
    #[arg(long)]
    json: bool,
}

/// `tenantry audit`: newest entries first.
pub async fn audit(app: &App, args: AuditArgs) -> anyhow::Result<()> {
    let (entries, total) = app
        .platform()
        .audit_log(args.tenant.as_ref(), 1, args.limit)
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.at.clone(),
                e.actor.clone(),
                e.action.clone(),
                e.result.clone(),
                e.detail.to_string(),
            ]
        })
        .collect();
    let header = ["AT", "ACTOR", "ACTION", "RESULT", "DETAIL"];
    print!("{}", table::render(&header, &rows));
    println!("{} of {total} entries", entries.len());
    Ok(())
}
