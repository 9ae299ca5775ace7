//! Provisioning and retrying tenants: server choice, input checks, the provisioner's steps, the
//! storage directory, and one audit row whatever the outcome.

use super::{Actor, AuditAction, Platform, PlatformError, ServerRef, TenantRef};
use crate::provision::{Progress, ProvisionError, Provisioner};
use crate::registry::{DataServer, NewTenant, PoolSettings, RegistryError, Tenant};
use crate::secrets::{expose, generate_password};
use crate::tenant::{
    DatabaseName, Engine, HostName, InvalidValue, Placement, Subdomain, TenantCode, TenantStatus,
};
use secrecy::SecretString;
use serde_json::json;

/// What a new tenant should be.
#[derive(Debug, Clone)]
pub struct ProvisionRequest {
    pub code: TenantCode,
    pub name: String,
    pub subdomain: Option<Subdomain>,
    pub domains: Vec<HostName>,
    pub placement: Placement,
    /// Default: our server (of `engine`, when given) holding the fewest tenants. An external
    /// tenant must name its server.
    pub server: Option<ServerRef>,
    pub engine: Option<Engine>,
    /// Default: `tenant_{code}`.
    pub database: Option<DatabaseName>,
    /// Needed for `shared` placement on PostgreSQL.
    pub schema: Option<DatabaseName>,
    /// Database login; default (not external): the server's admin login.
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// Password of the tenant's `admin` user; default: generated (and returned once).
    pub admin_password: Option<SecretString>,
    /// External placement: allow migrations on the customer's database.
    pub migrate_external: bool,
    /// Overrides the platform's `separate_db_users` for this tenant.
    pub separate_db_user: Option<bool>,
    pub region: Option<String>,
    pub pool: PoolSettings,
    pub plan: String,
    pub notes: Option<String>,
}

impl ProvisionRequest {
    /// A request with every option at its default.
    pub fn new(code: TenantCode, name: impl Into<String>, placement: Placement) -> Self {
        Self {
            code,
            name: name.into(),
            subdomain: None,
            domains: Vec::new(),
            placement,
            server: None,
            engine: None,
            database: None,
            schema: None,
            username: None,
            password: None,
            admin_password: None,
            migrate_external: false,
            separate_db_user: None,
            region: None,
            pool: PoolSettings::default(),
            plan: "standard".into(),
            notes: None,
        }
    }
}

/// A provisioned (or retried) tenant.
#[derive(Debug)]
pub struct Provisioned {
    pub tenant: Tenant,
    /// The admin password when it was generated (show it once); `None` when the caller chose it.
    pub generated_admin_password: Option<SecretString>,
}

/// The admin password to use, and the same again when it was generated (to show it once).
fn choose_admin_password(given: Option<SecretString>) -> (SecretString, Option<SecretString>) {
    match given {
        Some(p) => (p, None),
        None => {
            let p = generate_password();
            (p.clone(), Some(p))
        }
    }
}

impl Platform {
    /// Registers the tenant (status `provisioning`) and runs every provisioning step, then
    /// creates its storage directory. `progress` is called with each finished step's name.
    #[tracing::instrument(skip_all, fields(code = %req.code))]
    pub async fn provision(
        &self,
        actor: &Actor,
        req: ProvisionRequest,
        progress: Progress<'_>,
    ) -> Result<Provisioned, PlatformError> {
        let code = req.code.clone();
        let mut detail = json!({"after": {"code": code, "placement": req.placement}});
        let done = self.provision_steps(req, &mut detail, progress).await;
        // The row may exist even when a step failed (it is then `failed`); a conflict means the
        // code belongs to another tenant, whose history this row must not join.
        let tenant_id = match &done {
            Ok(p) => Some(p.tenant.id),
            Err(PlatformError::Conflict { .. }) => None,
            Err(_) => self.registry().tenant(&code).await.ok().map(|t| t.id),
        };
        self.audited(actor, AuditAction::TenantProvision, tenant_id, detail, done)
            .await
    }

    async fn provision_steps(
        &self,
        req: ProvisionRequest,
        detail: &mut serde_json::Value,
        progress: Progress<'_>,
    ) -> Result<Provisioned, PlatformError> {
        let server = self.placement_server(&req).await?;
        detail["after"]["server"] = json!(server.name);
        let username = req.username.or_else(|| {
            (req.placement != Placement::External)
                .then(|| server.admin_username.clone())
                .flatten()
        });
        let new = NewTenant {
            code: req.code,
            name: req.name,
            subdomain: req.subdomain,
            domains: req.domains,
            placement: req.placement,
            server_id: server.id,
            database: req.database,
            schema: req.schema,
            username,
            password: req.password,
            status: TenantStatus::Provisioning,
            region: req.region,
            pool: req.pool,
            plan: req.plan,
            notes: req.notes,
        };
        let (password, generated) = choose_admin_password(req.admin_password);
        let separate = req
            .separate_db_user
            .unwrap_or(self.settings().separate_db_users);
        let tenant = self
            .provisioner(req.migrate_external)
            .separate_db_users(separate)
            .provision_reporting(new, expose(&password), progress)
            .await
            .map_err(provision_error)?;
        self.storage().ensure_tenant_dir(tenant.id).await?;
        progress("storage directory");
        Ok(Provisioned {
            tenant,
            generated_admin_password: generated,
        })
    }

    /// The server a new tenant goes on, and the checks that depend on it.
    async fn placement_server(&self, req: &ProvisionRequest) -> Result<DataServer, PlatformError> {
        let server = match &req.server {
            Some(r) => self.server(r).await.map_err(|e| match e {
                PlatformError::NotFound { .. } => PlatformError::UnknownServer {
                    name: r.to_string(),
                },
                other => other,
            })?,
            None if req.placement == Placement::External => {
                return Err(
                    InvalidValue::new("server", "an external tenant names its server").into(),
                )
            }
            None => self
                .registry()
                .least_loaded_server(req.engine)
                .await
                .map_err(|e| match e {
                    RegistryError::NotFound(what) => {
                        InvalidValue::new("server", format!("no {what}")).into()
                    }
                    other => PlatformError::from(other),
                })?,
        };
        if req.placement == Placement::Shared
            && server.engine == Engine::Postgres
            && req.schema.is_none()
        {
            return Err(InvalidValue::new(
                "schema",
                "shared placement on PostgreSQL needs a schema",
            )
            .into());
        }
        Ok(server)
    }

    /// Runs every step again for a tenant left `provisioning` or `failed` (the admin user gets
    /// `admin_password`, generated when `None`).
    #[tracing::instrument(skip(self, admin_password, progress))]
    pub async fn retry(
        &self,
        actor: &Actor,
        r: &TenantRef,
        admin_password: Option<SecretString>,
        migrate_external: bool,
        progress: Progress<'_>,
    ) -> Result<Provisioned, PlatformError> {
        let action = AuditAction::TenantRetry;
        let before = self.target(actor, action, r).await?;
        let detail = json!({"before": {"status": before.status}});
        let done = async {
            if !matches!(
                before.status,
                TenantStatus::Provisioning | TenantStatus::Failed
            ) {
                return Err(PlatformError::WrongStatus {
                    code: before.code.clone(),
                    status: before.status,
                    action: "retry",
                    needs: "provisioning or failed",
                });
            }
            let (password, generated) = choose_admin_password(admin_password);
            let tenant = self
                .provisioner(migrate_external)
                .finish_reporting(&before.code, expose(&password), progress)
                .await
                .map_err(provision_error)?;
            self.storage().ensure_tenant_dir(tenant.id).await?;
            progress("storage directory");
            Ok(Provisioned {
                tenant,
                generated_admin_password: generated,
            })
        }
        .await;
        self.audited(actor, action, Some(before.id), detail, done)
            .await
    }

    fn provisioner(&self, migrate_external: bool) -> Provisioner {
        Provisioner::new(self.registry().clone(), self.pools().clone())
            .migrate_external(migrate_external)
            .separate_db_users(self.settings().separate_db_users)
    }
}

fn provision_error(e: ProvisionError) -> PlatformError {
    match e {
        ProvisionError::Registry(r) => r.into(),
        ProvisionError::Step { step, message } => PlatformError::Provision { step, message },
    }
}
