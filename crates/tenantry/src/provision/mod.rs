//! Provisioning: registry row `provisioning` → database → migrate → admin user → `active`.
//!
//! Every step is idempotent, so a retry after a crash or a failure finishes the job; a tenant only
//! becomes `active` once all steps are done. Each step done is recorded in the registry
//! (`provisioning_step`), so an interrupted tenant shows where it stopped. A failed step marks the
//! tenant `failed` with the step and reason. A tenant's database is never one it did not create
//! (see [`database`]).

mod database;
mod engines;

pub(crate) use database::exists_refusal;
pub use engines::ServerAdmin;

use crate::db::{EngineConnection, SqlValue};
use crate::hashing::HashPool;
use crate::onboard::{self, OnboardTarget};
use crate::pools::PoolManager;
use crate::registry::{NewTenant, Registry, RegistryError, Tenant, TenantConfig};
use crate::tenant::{DatabaseName, Engine, Placement, TenantCode, TenantStatus};
use crate::{db, migrate};
use std::time::Duration;

/// Longest provisioning waits to connect to a new tenant database.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The step after which a tenant's admin user exists: from there on, finishing needs no password.
pub const ADMIN_USER_STEP: &str = "admin user";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisionError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("step {step} failed: {message}")]
    Step { step: &'static str, message: String },
    /// The tenant's database (or schema, as `field` says) exists but was not created for it.
    #[error("{field}: {message}")]
    DatabaseInUse {
        field: &'static str,
        message: String,
    },
}

fn step<E: std::fmt::Display>(step: &'static str) -> impl FnOnce(E) -> ProvisionError {
    move |e| ProvisionError::Step {
        step,
        message: e.to_string(),
    }
}

/// Called with a step's name once it is done.
pub type Progress<'a> = &'a (dyn Fn(&'static str) + Sync);

/// Runs provisioning against one registry and pool manager.
#[derive(Clone)]
pub struct Provisioner {
    pub registry: Registry,
    pub pools: PoolManager,
    /// Whether migrations may run on customer-hosted (`external`) databases. Default: no: an
    /// external database must pass the onboarding checks as it is.
    migrate_external: bool,
    /// Whether a dedicated tenant gets its own database login (owner of its database only) with a
    /// generated password, instead of the server's admin login. Default: no.
    separate_db_users: bool,
}

impl Provisioner {
    pub fn new(registry: Registry, pools: PoolManager) -> Self {
        Self {
            registry,
            pools,
            migrate_external: false,
            separate_db_users: false,
        }
    }

    /// Gives each dedicated tenant its own least-privilege database login (`separate_db_users`).
    pub fn separate_db_users(mut self, enabled: bool) -> Self {
        self.separate_db_users = enabled;
        self
    }

    /// Allows migrating customer-hosted databases (`--migrate`).
    pub fn migrate_external(mut self, allowed: bool) -> Self {
        self.migrate_external = allowed;
        self
    }

    /// Creates the registry row (status `provisioning`) and runs every step. The tenant's admin user
    /// gets `admin_password`.
    #[tracing::instrument(skip_all, fields(code = %new.code))]
    pub async fn provision(
        &self,
        new: NewTenant,
        admin_password: &str,
    ) -> Result<Tenant, ProvisionError> {
        self.provision_reporting(new, admin_password, &|_| {}).await
    }

    /// [`Provisioner::provision`], calling `done(step)` after each step completes (for progress
    /// output, and for tests that kill a provisioning process between steps).
    pub async fn provision_reporting(
        &self,
        new: NewTenant,
        admin_password: &str,
        done: Progress<'_>,
    ) -> Result<Tenant, ProvisionError> {
        let code = self.register(new).await?;
        self.step_done(&code, "registry row", done).await?;
        self.finish_reporting(&code, admin_password, done).await
    }

    /// Creates the registry row of a new tenant (status `provisioning`); its claim on its database
    /// is checked there (one tenant per database).
    pub async fn register(&self, mut new: NewTenant) -> Result<TenantCode, ProvisionError> {
        new.status = TenantStatus::Provisioning;
        let code = new.code.clone();
        self.registry.create_tenant(new).await?;
        Ok(code)
    }

    /// Runs (again) every step of a tenant in `provisioning` or `failed`.
    pub async fn finish(
        &self,
        code: &TenantCode,
        admin_password: &str,
    ) -> Result<Tenant, ProvisionError> {
        self.finish_reporting(code, admin_password, &|_| {}).await
    }

    /// [`Provisioner::finish`] with progress (see [`Provisioner::provision_reporting`]).
    pub async fn finish_reporting(
        &self,
        code: &TenantCode,
        admin_password: &str,
        done: Progress<'_>,
    ) -> Result<Tenant, ProvisionError> {
        self.run(code, Some(admin_password), done).await
    }

    /// Finishes a tenant whose admin user exists already (its provisioning was interrupted after
    /// [`ADMIN_USER_STEP`]): the other steps run again, the admin user is left as it is.
    pub async fn resume_reporting(
        &self,
        code: &TenantCode,
        done: Progress<'_>,
    ) -> Result<Tenant, ProvisionError> {
        self.run(code, None, done).await
    }

    async fn run(
        &self,
        code: &TenantCode,
        admin_password: Option<&str>,
        done: Progress<'_>,
    ) -> Result<Tenant, ProvisionError> {
        match self.run_steps(code, admin_password, done).await {
            Ok(()) => {
                self.registry
                    .set_status(code, TenantStatus::Active, None)
                    .await?;
                self.registry.set_provisioning_step(code, None).await?;
                done("active");
                Ok(self.registry.tenant(code).await?)
            }
            Err(e) => {
                let reason = e.to_string();
                tracing::warn!(%code, %reason, "provisioning failed");
                self.registry
                    .set_status(code, TenantStatus::Failed, Some(&reason))
                    .await?;
                Err(e)
            }
        }
    }

    /// Records `step` as done (in the registry, then to `done`).
    async fn step_done(
        &self,
        code: &TenantCode,
        step: &'static str,
        done: Progress<'_>,
    ) -> Result<(), ProvisionError> {
        self.registry
            .set_provisioning_step(code, Some(step))
            .await?;
        done(step);
        Ok(())
    }

    async fn run_steps(
        &self,
        code: &TenantCode,
        admin_password: Option<&str>,
        done: Progress<'_>,
    ) -> Result<(), ProvisionError> {
        let tenant = self.registry.tenant(code).await?;
        if tenant.placement != Placement::External {
            self.database_steps(&tenant, done).await?;
        }
        let config = self
            .registry
            .tenant_config(code)
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("tenant {code}")))?;
        if tenant.placement == Placement::External {
            self.onboard(&config).await?;
            self.step_done(code, "onboard", done).await?;
        }
        // Migrations and the admin user run on a connection of their own: no statement timeout,
        // and nothing enters (or evicts from) the tenants' pools.
        let purpose = db::Purpose::Migration {
            lock_timeout_ms: migrate::LOCK_TIMEOUT_MS,
        };
        let mut conn = EngineConnection::connect(&config.source, purpose, CONNECT_TIMEOUT)
            .await
            .map_err(step("connect"))?;
        self.migrate(&tenant, &mut conn).await?;
        self.step_done(code, "migrate", done).await?;
        admin_user(&mut conn, admin_password)
            .await
            .map_err(step(ADMIN_USER_STEP))?;
        let _ = conn.close().await;
        self.step_done(code, ADMIN_USER_STEP, done).await?;
        Ok(())
    }

    /// An external tenant's database must pass the onboarding checks.
    async fn onboard(&self, config: &TenantConfig) -> Result<(), ProvisionError> {
        let report = onboard::check(OnboardTarget {
            source: &config.source,
            ddl_required: self.migrate_external,
        })
        .await;
        if report.ok() {
            return Ok(());
        }
        let failed: Vec<String> = report
            .checks
            .iter()
            .filter(|c| c.status == onboard::CheckStatus::Failed)
            .map(|c| format!("{}: {}", c.name, c.message))
            .collect();
        Err(ProvisionError::Step {
            step: "onboard",
            message: failed.join("; "),
        })
    }

    /// Migrates the tenant's schema (or, for a customer's schema we do not manage, records it).
    async fn migrate(
        &self,
        tenant: &Tenant,
        conn: &mut EngineConnection,
    ) -> Result<(), ProvisionError> {
        let code = &tenant.code;
        let external = tenant.placement == Placement::External;
        let version = if external && !self.migrate_external {
            // Onboarding proved the customer's schema is current; we only record it.
            migrate::applied_version(conn)
                .await
                .map_err(step("migrate"))?
                .unwrap_or(0)
        } else {
            migrate::migrate_tenant(conn)
                .await
                .map_err(step("migrate"))?
        };
        let managed = !external || self.migrate_external;
        let checksum = managed.then(|| migrate::fingerprint(conn.engine(), version));
        self.registry
            .set_schema_state(code, version, checksum.as_deref())
            .await?;
        if external {
            self.registry.set_schema_managed(code, managed).await?;
        }
        Ok(())
    }
}

/// The login of a tenant's own database user: `u_{database}` (dedicated) or
/// `u_{database}_{schema}` (shared SQL Server), shortened with a hash when over 63 characters, so
/// two tenants never share one.
pub(super) fn tenant_login(
    database: &DatabaseName,
    schema: Option<&DatabaseName>,
) -> Result<DatabaseName, ProvisionError> {
    let full = match schema {
        Some(s) => format!("u_{database}_{s}"),
        None => format!("u_{database}"),
    };
    let name = if full.len() <= 63 {
        full
    } else {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(full.as_bytes());
        let tag: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        format!("{}_{tag}", &full[..50])
    };
    DatabaseName::parse(&name).map_err(step("database user"))
}

/// A generated password for a tenant's database login: SQL Server's policy wants three character
/// classes; the other engines take any alphanumeric one.
pub(super) fn login_password(engine: Engine) -> secrecy::SecretString {
    match engine {
        Engine::Mssql => crate::mssql::generate_login_password(),
        _ => crate::secrets::generate_password(),
    }
}

/// The tenant's `admin` user: created with `password`, or (on a retry, whose caller never saw the
/// first password) given it. Without a password (a resume), it must exist already.
async fn admin_user(conn: &mut EngineConnection, password: Option<&str>) -> Result<(), String> {
    let Some(password) = password else {
        let q = "SELECT COUNT(*) FROM users WHERE username = ?";
        let n = conn
            .fetch_i64(q, &[SqlValue::Text("admin".into())])
            .await
            .map_err(|e| e.to_string())?;
        return match n {
            0 => Err(
                "the admin user was never created: retry the tenant, which sets a new \
                      admin password"
                    .into(),
            ),
            _ => Ok(()),
        };
    };
    let created = ensure_user(conn, "admin", "Administrator", "admin", password)
        .await
        .map_err(|e| e.to_string())?;
    if !created {
        conn.execute(
            "UPDATE users SET password_hash = ?, updated_at = ? WHERE username = ?",
            &[
                SqlValue::Text(HashPool::shared().hash_waiting(password).await),
                SqlValue::Time(chrono::Utc::now()),
                SqlValue::Text("admin".into()),
            ],
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Creates a tenant user unless one of that name exists (idempotent). Returns whether it was created.
pub async fn ensure_user(
    conn: &mut EngineConnection,
    username: &str,
    full_name: &str,
    role: &str,
    password: &str,
) -> Result<bool, sqlx::Error> {
    let exists = conn
        .fetch_i64(
            "SELECT COUNT(*) FROM users WHERE username = ?",
            &[SqlValue::Text(username.into())],
        )
        .await?;
    if exists > 0 {
        return Ok(false);
    }
    let now = chrono::Utc::now();
    conn.execute(
        "INSERT INTO users (username, full_name, role, password_hash, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
        &[
            SqlValue::Text(username.into()),
            SqlValue::Text(full_name.into()),
            SqlValue::Text(role.into()),
            SqlValue::Text(HashPool::shared().hash_waiting(password).await),
            SqlValue::Time(now),
            SqlValue::Time(now),
        ],
    )
    .await?;
    Ok(true)
}

/// Compile-time check: provisioning runs inside axum handlers and spawned tasks, whose futures must
/// be `Send` (sqlx's `Migrator::run` over `&mut conn` is not; `run_direct` is).
#[allow(dead_code)]
fn _send_check(p: &Provisioner, code: &TenantCode) {
    fn is_send<T: Send>(_: T) {}
    is_send(p.finish(code, "x"));
    is_send(p.resume_reporting(code, &|_| {}));
}
