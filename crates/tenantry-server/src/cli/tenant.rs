//! `tenantry tenant …` and `tenantry server …`.

use super::table;
use crate::startup::App;
use clap::Subcommand;
use secrecy::SecretString;
use tenantry::credentials;
use tenantry::lifecycle;
use tenantry::registry::{NewTenant, PoolSettings, Tenant, TenantFilter};
use tenantry::tenant::{DatabaseName, Placement, Subdomain, TenantCode, TenantStatus};

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
    /// Delete a tenant: drops our database (or detaches a customer's) and keeps a tombstone.
    Delete {
        code: TenantCode,
        /// Must be the word DELETE.
        #[arg(long)]
        confirm: Option<String>,
    },
    /// Provision a new tenant (create database, migrate, admin user) and print its admin password.
    Add(AddTenant),
    /// Finish provisioning a tenant left `provisioning` or `failed`.
    Provision {
        #[arg(long)]
        retry: TenantCode,
        /// External placement: allow migrations on the customer's database.
        #[arg(long)]
        migrate: bool,
    },
    /// Change a tenant's database password on its server and in the registry (live pools follow).
    SetPassword {
        code: TenantCode,
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
    /// Data server name.
    #[arg(long)]
    server: String,
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

pub(super) const ACTOR: &str = "cli";

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
        TenantCommand::Delete { code, confirm } => {
            let t = lifecycle::delete(
                app.registry(),
                app.pools(),
                &code,
                confirm.as_deref(),
                ACTOR,
            )
            .await?;
            println!("tenant {} is {}", t.code, t.status);
        }
        TenantCommand::Add(add) => add_tenant(app, add).await?,
        TenantCommand::SetPassword {
            code,
            password_env,
            store_only,
        } => set_password(app, code, password_env.as_deref(), store_only).await?,
        TenantCommand::Provision { retry, migrate } => {
            let password = generated_password();
            let t = app
                .provisioner()
                .migrate_external(migrate)
                .finish_reporting(&retry, &password, &report_step)
                .await?;
            println!(
                "tenant {} is {}; admin password (shown once): {password}",
                t.code, t.status
            );
        }
    }
    Ok(())
}

/// Prints each finished provisioning step, so an operator (or a test) sees how far it got.
fn report_step(step: &'static str) {
    println!("step {step} done");
}

fn generated_password() -> String {
    use rand::distributions::{Alphanumeric, DistString};
    Alphanumeric.sample_string(&mut rand::thread_rng(), 20)
}

pub(super) fn secret_from_env(var: Option<&str>) -> anyhow::Result<Option<SecretString>> {
    match var {
        None => Ok(None),
        Some(v) => std::env::var(v)
            .map(|p| Some(SecretString::from(p)))
            .map_err(|_| anyhow::anyhow!("environment variable {v} is not set")),
    }
}

/// `tenant set-password`: prints the password only when it was generated, and only once.
async fn set_password(
    app: &App,
    code: TenantCode,
    password_env: Option<&str>,
    store_only: bool,
) -> anyhow::Result<()> {
    let given = secret_from_env(password_env)?;
    if store_only {
        let password = given.ok_or_else(|| {
            anyhow::anyhow!("--store-only needs the password in --password-env VAR")
        })?;
        credentials::store_password(app.registry(), &code, password, ACTOR).await?;
        println!("password of tenant {code} changed (stored only; the server was not touched)");
        return Ok(());
    }
    let generated = given.is_none();
    let password = credentials::set_password(app.registry(), &code, given, ACTOR).await?;
    println!("password of tenant {code} changed");
    if generated {
        println!(
            "new database password (shown once): {}",
            tenantry::secrets::expose(&password)
        );
    }
    Ok(())
}

async fn add_tenant(app: &App, add: AddTenant) -> anyhow::Result<()> {
    let server = app.registry().server_by_name(&add.server).await?;
    let placement = if add.external {
        Placement::External
    } else {
        add.placement
    };
    let default_user = (placement != Placement::External)
        .then(|| server.admin_username.clone())
        .flatten();
    let new = NewTenant {
        subdomain: add.subdomain,
        code: add.code,
        name: add.name,
        domains: Vec::new(),
        placement,
        server_id: server.id,
        database: add.database,
        schema: add.schema,
        username: add.username.or(default_user),
        password: secret_from_env(add.password_env.as_deref())?,
        status: TenantStatus::Provisioning,
        region: None,
        pool: PoolSettings::default(),
        plan: add.plan,
        notes: None,
    };
    let password = generated_password();
    let code = new.code.clone();
    let done = app
        .provisioner()
        .migrate_external(add.migrate)
        .provision_reporting(new, &password, &report_step)
        .await;
    let tenant_id = app.registry().tenant(&code).await.ok().map(|t| t.id);
    let result = if done.is_ok() { "ok" } else { "failed" };
    let detail =
        serde_json::json!({"after": {"code": code, "placement": placement, "server": server.name}});
    app.registry()
        .audit(ACTOR, "tenant.provision", tenant_id, detail, result)
        .await?;
    let t = done?;
    app.storage.ensure_tenant_dir(t.id).await?;
    println!(
        "tenant {} is {} on {} ({})",
        t.code, t.status, t.server_name, t.database
    );
    println!("admin user: admin / {password}  (shown once)");
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
