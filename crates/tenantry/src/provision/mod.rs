//! Provisioning: registry row `provisioning` → database → migrate → admin user → `active`.
//!
//! Every step is idempotent, so a retry after a crash or a failure finishes the job; a tenant only
//! becomes `active` once all steps are done. A failed step marks the tenant `failed` with the step
//! and reason.

mod engines;

pub use engines::ServerAdmin;

use crate::db::{EngineConnection, SqlValue};
use crate::onboard::{self, OnboardTarget};
use crate::pools::PoolManager;
use crate::registry::{NewTenant, Registry, RegistryError, Tenant};
use crate::tenant::{DatabaseName, Placement, TenantCode, TenantStatus};
use crate::{auth, db, migrate};
use std::time::Duration;

/// Longest provisioning waits to connect to a new tenant database.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisionError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("step {step} failed: {message}")]
    Step { step: &'static str, message: String },
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
        mut new: NewTenant,
        admin_password: &str,
        done: Progress<'_>,
    ) -> Result<Tenant, ProvisionError> {
        new.status = TenantStatus::Provisioning;
        let code = new.code.clone();
        self.registry.create_tenant(new).await?;
        done("registry row");
        self.finish_reporting(&code, admin_password, done).await
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
        match self.run_steps(code, admin_password, done).await {
            Ok(()) => {
                self.registry
                    .set_status(code, TenantStatus::Active, None)
                    .await?;
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

    async fn run_steps(
        &self,
        code: &TenantCode,
        admin_password: &str,
        done: Progress<'_>,
    ) -> Result<(), ProvisionError> {
        let tenant = self.registry.tenant(code).await?;
        if tenant.placement != Placement::External {
            let server = self.registry.server(tenant.server_id).await?;
            let admin = ServerAdmin {
                server: &server,
                password: self.registry.server_admin_password(server.id).await?,
            };
            let database = tenant.database.clone();
            admin
                .create_database(&database)
                .await
                .map_err(step("create database"))?;
            done("create database");
            let own_user = self.separate_db_users
                && tenant.placement == Placement::Dedicated
                && server.engine != crate::tenant::Engine::Sqlite;
            if own_user {
                let name: String = format!("u_{database}").chars().take(63).collect();
                let user = DatabaseName::parse(&name).map_err(step("database user"))?;
                let password = crate::secrets::generate_password();
                admin
                    .create_tenant_user(&database, &user, &password)
                    .await
                    .map_err(step("database user"))?;
                self.registry
                    .set_tenant_credentials(code, user.as_str(), &password)
                    .await?;
                done("database user");
            }
            if let Some(schema) = &tenant.schema {
                admin
                    .create_schema(&database, schema)
                    .await
                    .map_err(step("create schema"))?;
                done("create schema");
            }
        }
        let config = self
            .registry
            .tenant_config(code)
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("tenant {code}")))?;
        if tenant.placement == Placement::External {
            let report = onboard::check(OnboardTarget {
                source: &config.source,
                ddl_required: self.migrate_external,
            })
            .await;
            if !report.ok() {
                let failed: Vec<String> = report
                    .checks
                    .iter()
                    .filter(|c| c.status == onboard::CheckStatus::Failed)
                    .map(|c| format!("{}: {}", c.name, c.message))
                    .collect();
                return Err(ProvisionError::Step {
                    step: "onboard",
                    message: failed.join("; "),
                });
            }
            done("onboard");
        }
        // Migrations and the admin user run on a connection of their own: no statement timeout,
        // and nothing enters (or evicts from) the tenants' pools.
        let purpose = db::Purpose::Migration {
            lock_timeout_ms: migrate::LOCK_TIMEOUT_MS,
        };
        let mut conn = EngineConnection::connect(&config.source, purpose, CONNECT_TIMEOUT)
            .await
            .map_err(step("connect"))?;
        let engine = conn.engine();
        let version = if tenant.placement == Placement::External && !self.migrate_external {
            // Onboarding proved the customer's schema is current; we only record it.
            migrate::applied_version(&mut conn)
                .await
                .map_err(step("migrate"))?
                .unwrap_or(0)
        } else {
            migrate::migrate_tenant(&mut conn)
                .await
                .map_err(step("migrate"))?
        };
        let managed = tenant.placement != Placement::External || self.migrate_external;
        let checksum = managed.then(|| migrate::fingerprint(engine, version));
        self.registry
            .set_schema_state(code, version, checksum.as_deref())
            .await?;
        if tenant.placement == Placement::External {
            self.registry.set_schema_managed(code, managed).await?;
        }
        done("migrate");
        // Created, or (on a retry, whose caller never saw the first password) given this password.
        let created = ensure_user(&mut conn, "admin", "Administrator", "admin", admin_password)
            .await
            .map_err(step("admin user"))?;
        if !created {
            let hash = auth::hash_password(admin_password);
            conn.execute(
                "UPDATE users SET password_hash = ?, updated_at = ? WHERE username = ?",
                &[
                    SqlValue::Text(hash),
                    SqlValue::Time(chrono::Utc::now()),
                    SqlValue::Text("admin".into()),
                ],
            )
            .await
            .map_err(step("admin user"))?;
        }
        let _ = conn.close().await;
        done("admin user");
        Ok(())
    }
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
            SqlValue::Text(auth::hash_password(password)),
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
    is_send(p.run_steps(code, "x", &|_| {}));
}
