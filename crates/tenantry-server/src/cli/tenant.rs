//! `tenantry tenant …`.

use super::{secret, table};
use crate::app::App;
use clap::Subcommand;
use tenantry::platform::{
    Actor, PlatformError, ProvisionRequest, Provisioned, ServerRef, TenantRef,
};
use tenantry::registry::{Tenant, TenantFilter};
use tenantry::secrets::expose;
use tenantry::tenant::{DatabaseName, Placement, Subdomain, TenantCode, TenantStatus};

#[derive(Subcommand)]
pub enum TenantCommand {
    /// List tenants.
    List {
        /// Only tenants with this status.
        #[arg(long)]
        status: Option<TenantStatus>,
        /// Code or name contains this.
        #[arg(long)]
        search: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one tenant (by code or id).
    Show {
        tenant: TenantRef,
        #[arg(long)]
        json: bool,
    },
    /// Suspend an active tenant (its requests answer 403).
    Suspend {
        tenant: TenantRef,
        #[arg(long)]
        reason: String,
    },
    /// Reactivate a suspended tenant.
    Reactivate { tenant: TenantRef },
    /// Delete a tenant: drops our database (or detaches a customer's), removes its files and keeps
    /// a tombstone.
    Delete {
        tenant: TenantRef,
        /// Must be the word DELETE.
        #[arg(long)]
        confirm: Option<String>,
    },
    /// Provision a new tenant (create database, migrate, admin user) and print its admin password.
    Add(AddTenant),
    /// Finish provisioning a tenant left `provisioning` or `failed`.
    Provision {
        #[arg(long)]
        retry: TenantRef,
        /// External placement: allow migrations on the customer's database.
        #[arg(long)]
        migrate: bool,
    },
    /// Change a tenant's database password on its server and in the registry (live pools follow).
    SetPassword {
        tenant: TenantRef,
        /// Name of an environment variable holding the new password (default: generate one).
        #[arg(long)]
        password_env: Option<String>,
        /// Only store the password (already changed elsewhere, e.g. by the customer's DBA); needs
        /// --password-env.
        #[arg(long)]
        store_only: bool,
    },
}

#[derive(clap::Args)]
pub struct AddTenant {
    code: TenantCode,
    #[arg(long)]
    name: String,
    /// Data server name or id.
    #[arg(long)]
    server: ServerRef,
    #[arg(long, default_value = "dedicated")]
    placement: Placement,
    /// Shorthand for --placement external (the customer's own database).
    #[arg(long)]
    external: bool,
    /// External placement: allow migrations on the customer's database (otherwise its schema must
    /// already be current).
    #[arg(long)]
    migrate: bool,
    #[arg(long)]
    subdomain: Option<Subdomain>,
    #[arg(long)]
    database: Option<DatabaseName>,
    #[arg(long)]
    schema: Option<DatabaseName>,
    /// Database user (external tenants: the customer's).
    #[arg(long)]
    username: Option<String>,
    /// Name of an environment variable holding the database password (kept out of shell history).
    #[arg(long)]
    password_env: Option<String>,
    #[arg(long, default_value = "standard")]
    plan: String,
}

impl AddTenant {
    fn into_request(self) -> anyhow::Result<ProvisionRequest> {
        let placement = if self.external {
            Placement::External
        } else {
            self.placement
        };
        let mut req = ProvisionRequest::new(self.code, self.name, placement);
        req.server = Some(self.server);
        req.subdomain = self.subdomain;
        req.database = self.database;
        req.schema = self.schema;
        req.username = self.username;
        req.password = secret::from_env(self.password_env.as_deref())?;
        req.migrate_external = self.migrate;
        req.plan = self.plan;
        Ok(req)
    }
}

pub async fn run(app: &App, cmd: TenantCommand) -> anyhow::Result<()> {
    let platform = app.platform();
    let actor = Actor::cli_from_env();
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
            let (tenants, total) = platform.list_tenants(&filter).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tenants)?);
            } else {
                print_list(&tenants, total);
            }
        }
        TenantCommand::Show { tenant, json } => {
            let t = platform.tenant(&tenant).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&t)?);
            } else {
                print_fields(&t)?;
            }
        }
        TenantCommand::Suspend { tenant, reason } => {
            let t = platform.suspend(&actor, &tenant, &reason).await?;
            println!("tenant {} is {}", t.code, t.status);
        }
        TenantCommand::Reactivate { tenant } => {
            let t = platform.reactivate(&actor, &tenant).await?;
            println!("tenant {} is {}", t.code, t.status);
        }
        TenantCommand::Delete { tenant, confirm } => {
            let t = platform.delete(&actor, &tenant, confirm.as_deref()).await?;
            let removed = t.status_reason.as_deref().unwrap_or("");
            println!("tenant {} is {} ({removed})", t.code, t.status);
        }
        TenantCommand::Add(add) => {
            // The same operation as the admin API's; this command follows the job to its end.
            let started = platform.provision(&actor, add.into_request()?).await?;
            let done = started.wait(report_step).await?;
            let t = &done.tenant;
            println!(
                "tenant {} is {} on {} ({})",
                t.code, t.status, t.server_name, t.database
            );
            print_admin_password(&done);
        }
        TenantCommand::SetPassword {
            tenant,
            password_env,
            store_only,
        } => set_password(app, &actor, &tenant, password_env.as_deref(), store_only).await?,
        TenantCommand::Provision { retry, migrate } => {
            let started = platform.retry(&actor, &retry, None, migrate).await;
            let done = match started {
                Ok(started) => started.wait(report_step).await,
                Err(e) => Err(e),
            };
            match done {
                Ok(done) => {
                    println!("tenant {} is {}", done.tenant.code, done.tenant.status);
                    print_admin_password(&done);
                }
                // Killed after the last step: the job is done, so a retry has nothing to do.
                Err(PlatformError::WrongStatus {
                    code,
                    status: TenantStatus::Active,
                    ..
                }) => println!("tenant {code} is active (nothing to retry)"),
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// Prints each finished provisioning step, so an operator (or a test) sees how far it got.
fn report_step(step: &str) {
    println!("step {step} done");
}

fn print_admin_password(done: &Provisioned) {
    if let Some(pw) = &done.generated_admin_password {
        println!("admin user: admin / {}  (shown once)", expose(pw));
    }
}

/// `tenant set-password`: prints the password only when it was generated, and only once.
async fn set_password(
    app: &App,
    actor: &Actor,
    tenant: &TenantRef,
    password_env: Option<&str>,
    store_only: bool,
) -> anyhow::Result<()> {
    let given = secret::from_env(password_env)?;
    if store_only {
        let password = given.ok_or_else(|| {
            anyhow::anyhow!("--store-only needs the password in --password-env VAR")
        })?;
        app.platform()
            .store_password(actor, tenant, password)
            .await?;
        println!("password of tenant {tenant} changed (stored only; the server was not touched)");
        return Ok(());
    }
    let generated = given.is_none();
    let password = app.platform().set_password(actor, tenant, given).await?;
    println!("password of tenant {tenant} changed");
    if generated {
        println!("new database password (shown once): {}", expose(&password));
    }
    Ok(())
}

fn print_list(tenants: &[Tenant], total: i64) {
    let rows: Vec<Vec<String>> = tenants.iter().map(row).collect();
    let header = [
        "CODE", "NAME", "STATUS", "ENGINE", "SERVER", "DATABASE", "HOSTING", "VERSION",
    ];
    print!("{}", table::render(&header, &rows));
    println!("{total} tenant(s)");
}

fn print_fields(t: &Tenant) -> anyhow::Result<()> {
    let v = serde_json::to_value(t)?;
    let rows: Vec<Vec<String>> = v
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let text = v
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string());
            vec![k.clone(), text]
        })
        .collect();
    print!("{}", table::render(&["FIELD", "VALUE"], &rows));
    Ok(())
}

fn row(t: &Tenant) -> Vec<String> {
    vec![
        t.code.to_string(),
        t.name.clone(),
        t.status.to_string(),
        t.engine.to_string(),
        t.server_name.to_string(),
        t.database.to_string(),
        t.hosting.to_string(),
        t.schema_version
            .map(|v| v.to_string())
            .unwrap_or_else(|| "-".into()),
    ]
}
