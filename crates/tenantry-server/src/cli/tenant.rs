//! `tenantry tenant …` and `tenantry server …`.

use super::table;
use crate::startup::App;
use clap::Subcommand;
use tenantry::lifecycle;
use tenantry::registry::{Tenant, TenantFilter};
use tenantry::tenant::TenantCode;

#[derive(Subcommand)]
pub enum TenantCommand {
    /// List tenants.
    List {
        /// Only tenants with this status.
        #[arg(long)]
        status: Option<tenantry::tenant::TenantStatus>,
        /// Code or name contains this.
        #[arg(long)]
        search: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one tenant.
    Show {
        code: TenantCode,
        #[arg(long)]
        json: bool,
    },
    /// Suspend an active tenant (its requests answer 403).
    Suspend {
        code: TenantCode,
        #[arg(long)]
        reason: String,
    },
    /// Reactivate a suspended tenant.
    Reactivate { code: TenantCode },
}

#[derive(Subcommand)]
pub enum ServerCommand {
    /// List data servers.
    List {
        #[arg(long)]
        json: bool,
    },
}

const ACTOR: &str = "cli";

pub async fn tenant(app: &App, cmd: TenantCommand) -> anyhow::Result<()> {
    match cmd {
        TenantCommand::List {
            status,
            search,
            json,
        } => {
            let filter = TenantFilter {
                status,
                search,
                page: 1,
                limit: 500,
            };
            let (tenants, total) = app.registry().list_tenants(&filter).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tenants)?);
            } else {
                let rows: Vec<Vec<String>> = tenants.iter().map(row).collect();
                print!(
                    "{}",
                    table::render(
                        &[
                            "CODE", "NAME", "STATUS", "ENGINE", "SERVER", "DATABASE", "HOSTING",
                            "VERSION"
                        ],
                        &rows
                    )
                );
                println!("{total} tenant(s)");
            }
        }
        TenantCommand::Show { code, json } => {
            let t = app.registry().tenant(&code).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&t)?);
            } else {
                let v = serde_json::to_value(&t)?;
                let rows: Vec<Vec<String>> = v
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| {
                        vec![
                            k.clone(),
                            v.as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| v.to_string()),
                        ]
                    })
                    .collect();
                print!("{}", table::render(&["FIELD", "VALUE"], &rows));
            }
        }
        TenantCommand::Suspend { code, reason } => {
            let t = lifecycle::suspend(app.registry(), app.pools(), &code, &reason, ACTOR).await?;
            println!("tenant {} is {}", t.code, t.status);
        }
        TenantCommand::Reactivate { code } => {
            let t = lifecycle::reactivate(app.registry(), app.pools(), &code, ACTOR).await?;
            println!("tenant {} is {}", t.code, t.status);
        }
    }
    Ok(())
}

fn row(t: &Tenant) -> Vec<String> {
    vec![
        t.code.to_string(),
        t.name.clone(),
        t.status.to_string(),
        t.engine.to_string(),
        t.server_name.clone(),
        t.database.clone(),
        t.hosting.to_string(),
        t.schema_version
            .map(|v| v.to_string())
            .unwrap_or_else(|| "-".into()),
    ]
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
    }
    Ok(())
}
