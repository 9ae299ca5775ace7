//! `tenantry server …` and `tenantry audit`.

use super::table;
use super::tenant::{secret_from_env, ACTOR};
use crate::startup::App;
use clap::Subcommand;
use tenantry::registry::NewServer;
use tenantry::tenant::{Engine, Hosting, TenantCode, TlsMode};

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
        name: String,
        #[arg(long)]
        engine: Engine,
        /// DNS name or IP (SQLite: a directory).
        #[arg(long)]
        host: String,
        #[arg(long)]
        port: Option<u16>,
        #[arg(long, default_value = "ours")]
        hosting: Hosting,
        #[arg(long)]
        region: Option<String>,
        #[arg(long, default_value = "prefer")]
        tls: TlsMode,
        #[arg(long)]
        admin_user: Option<String>,
        /// Name of an environment variable holding the admin password.
        #[arg(long)]
        admin_password_env: Option<String>,
    },
    /// Remove a data server that holds no tenant.
    Remove { name: String },
}

pub async fn server(app: &App, cmd: ServerCommand) -> anyhow::Result<()> {
    match cmd {
        ServerCommand::List { json } => {
            let servers = app.registry().list_servers().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&servers)?);
            } else {
                let rows: Vec<Vec<String>> = servers
                    .iter()
                    .map(|s| {
                        vec![
                            s.name.clone(),
                            s.engine.to_string(),
                            s.host.clone(),
                            s.port.to_string(),
                            s.hosting.to_string(),
                            s.region.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table::render(
                        &["NAME", "ENGINE", "HOST", "PORT", "HOSTING", "REGION"],
                        &rows
                    )
                );
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
                tls,
                admin_username: admin_user,
                admin_password: secret_from_env(admin_password_env.as_deref())?,
            };
            let s = app.registry().add_server(new).await?;
            let detail = serde_json::json!({"after": {"name": s.name, "engine": s.engine, "host": s.host, "port": s.port}});
            app.registry()
                .audit(ACTOR, "server.add", None, detail, "ok")
                .await?;
            println!(
                "server {} added ({} {}:{})",
                s.name, s.engine, s.host, s.port
            );
        }
        ServerCommand::Remove { name } => {
            let s = app.registry().server_by_name(&name).await?;
            app.registry().remove_server(s.id).await?;
            let detail = serde_json::json!({"before": {"name": s.name}});
            app.registry()
                .audit(ACTOR, "server.remove", None, detail, "ok")
                .await?;
            println!("server {name} removed");
        }
    }
    Ok(())
}

/// `tenantry audit`: newest entries first.
pub async fn audit(
    app: &App,
    tenant: Option<TenantCode>,
    limit: u32,
    json: bool,
) -> anyhow::Result<()> {
    let tenant_id = match &tenant {
        Some(code) => Some(app.registry().tenant(code).await?.id),
        None => None,
    };
    let (entries, total) = app.registry().list_audit(tenant_id, 1, limit).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
    } else {
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
        print!(
            "{}",
            table::render(&["AT", "ACTOR", "ACTION", "RESULT", "DETAIL"], &rows)
        );
        println!("{} of {total} entries", entries.len());
    }
    Ok(())
}
