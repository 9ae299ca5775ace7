//! Provisioning tenants: the request, its checks, and the admission (registry row) that must
//! happen before the answer; the steps then run as a background job (see `provisioning_jobs.rs`).
//!
//! One tenant per database: the database (or schema) a new tenant gets is checked against the
//! registry's claims and against the server before anything is created, so a collision is refused
//! with nothing created or changed.

use super::{Actor, AuditAction, Platform, PlatformError, ServerRef};
use crate::jobs::{Job, JobKind};
use crate::provision::{exists_refusal, ServerAdmin};
use crate::registry::{DataServer, NewTenant, PoolSettings, RegistryError, Tenant};
use crate::secrets::generate_password;
use crate::tenant::{
    DatabaseName, Engine, HostName, InvalidValue, Placement, Subdomain, TenantCode, TenantStatus,
};
use secrecy::SecretString;
use serde_json::{json, Value};
use tokio::sync::oneshot;

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
    /// Default: generated from the code, never another tenant's (see `tenant/names.rs`).
    pub database: Option<DatabaseName>,
    /// Needed for `shared` placement on PostgreSQL and SQL Server.
    pub schema: Option<DatabaseName>,
    /// Database login; default (not external): the server's admin login (and its password).
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

/// A provisioning (or retry) that was admitted and runs as a background job.
pub struct ProvisionStarted {
    /// The tenant as admitted: `provisioning`, with the last step done.
    pub tenant: Tenant,
    /// The job running the steps; it outlives the caller.
    pub job: Job,
    /// The admin password when it was generated (show it once).
    pub generated_admin_password: Option<SecretString>,
    pub(super) outcome: oneshot::Receiver<Result<Tenant, PlatformError>>,
}

impl ProvisionStarted {
    /// Follows the job to its end, calling `progress` with each step's name as it is done (those
    /// done before included), and returns the outcome.
    pub async fn wait(self, progress: impl Fn(&str)) -> Result<Provisioned, PlatformError> {
        let mut changes = self.job.subscribe();
        let mut shown = 0;
        loop {
            let report = self.job.report(usize::MAX);
            for step in report.steps.iter().skip(shown) {
                progress(&step.name);
            }
            shown = report.steps.len();
            if !self.job.is_running() {
                break;
            }
            let _ = changes.changed().await;
        }
        let tenant = self
            .outcome
            .await
            .map_err(|_| PlatformError::Interrupted {
                what: format!("provisioning job {}", self.job.id()),
                reason: "it stopped without an outcome".into(),
            })??;
        Ok(Provisioned {
            tenant,
            generated_admin_password: self.generated_admin_password,
        })
    }
}

/// An admitted provisioning: the registered tenant, its job, the generated admin password.
type Admitted = (Tenant, Job, Option<SecretString>);

/// The admin password to use, and the same again when it was generated (to show it once).
pub(super) fn choose_admin_password(
    given: Option<SecretString>,
) -> (SecretString, Option<SecretString>) {
    match given {
        Some(p) => (p, None),
        None => {
            let p = generate_password();
            (p.clone(), Some(p))
        }
    }
}

/// The settings of one provisioning job.
pub(super) struct JobPlan {
    pub actor: Actor,
    pub action: AuditAction,
    pub kind: JobKind,
    pub admin_password: Option<SecretString>,
    pub migrate_external: bool,
    pub separate_db_user: bool,
    pub detail: Value,
}

impl Platform {
    /// Checks the request, registers the tenant (status `provisioning`) and starts a job that runs
    /// every provisioning step and creates its storage directory. Returns once the tenant is
    /// registered; the job outlives the caller (a dropped request stops nothing). A refusal
    /// (bad input, a database another tenant holds or that exists already) creates nothing.
    /// The audit row is written whatever the outcome: at once for a refusal, by the job otherwise.
    #[tracing::instrument(skip_all, fields(code = %req.code))]
    pub async fn provision(
        &self,
        actor: &Actor,
        req: ProvisionRequest,
    ) -> Result<ProvisionStarted, PlatformError> {
        let (admitted_tx, admitted_rx) = oneshot::channel();
        let (outcome_tx, outcome_rx) = oneshot::channel();
        // Admission writes the registry row: it runs on a task of its own, so a caller that goes
        // away half-way cannot leave a row without its job.
        tokio::spawn(
            self.clone()
                .admit_and_run(actor.clone(), req, admitted_tx, outcome_tx),
        );
        let lost = || PlatformError::Interrupted {
            what: "provisioning".into(),
            reason: "its task stopped before the tenant was registered".into(),
        };
        let (tenant, job, generated) = admitted_rx.await.map_err(|_| lost())??;
        Ok(ProvisionStarted {
            tenant,
            job,
            generated_admin_password: generated,
            outcome: outcome_rx,
        })
    }

    async fn admit_and_run(
        self,
        actor: Actor,
        mut req: ProvisionRequest,
        admitted: oneshot::Sender<Result<Admitted, PlatformError>>,
        outcome: oneshot::Sender<Result<Tenant, PlatformError>>,
    ) {
        let action = AuditAction::TenantProvision;
        let mut detail = json!({"after": {"code": req.code, "placement": req.placement}});
        let (password, generated) = choose_admin_password(req.admin_password.take());
        let plan = JobPlan {
            actor,
            action,
            kind: JobKind::Provision,
            admin_password: Some(password),
            migrate_external: req.migrate_external,
            separate_db_user: req
                .separate_db_user
                .unwrap_or(self.settings().separate_db_users),
            detail: Value::Null,
        };
        let tenant = match self.admit(req, &mut detail).await {
            Ok(t) => t,
            Err(e) => {
                let refused = self.audited(&plan.actor, action, None, detail, Err(e));
                let _ = admitted.send(refused.await);
                return;
            }
        };
        let plan = JobPlan { detail, ..plan };
        let job = self.start_provisioning_job(&tenant, plan, outcome);
        let _ = admitted.send(Ok((tenant, job, generated)));
    }

    /// The checks before anything is created, then the registry row (the tenant's claim on its
    /// database).
    async fn admit(
        &self,
        req: ProvisionRequest,
        detail: &mut Value,
    ) -> Result<Tenant, PlatformError> {
        if self.registry().tenant(&req.code).await.is_ok() {
            let what = format!("tenant {}", req.code);
            return Err(PlatformError::Conflict { what });
        }
        let server = self.placement_server(&req).await?;
        detail["after"]["server"] = json!(server.name);
        let database = (req.database.clone())
            .unwrap_or_else(|| DatabaseName::for_tenant(&req.code, uuid::Uuid::new_v4()));
        let schema = req.schema.as_ref();
        detail["after"]["database"] = json!(database);
        detail["after"]["schema"] = json!(schema);
        let name = server.name.as_str();
        self.registry()
            .check_database_free(server.id, name, &database, schema)
            .await?;
        if req.placement != Placement::External {
            self.check_not_on_server(&server, &database, schema).await?;
        }
        // Not external and no login given: the tenant connects as the server's admin, with its
        // password (stored encrypted with the tenant; SQL Server logins always have one).
        let as_admin = req.username.is_none() && req.placement != Placement::External;
        let password = match req.password.clone() {
            None if as_admin => self.registry().server_admin_password(server.id).await?,
            given => given,
        };
        let new = new_tenant(req, &server, database, password);
        let code = self.provisioner(false).register(new).await;
        let code = code.map_err(super::provisioning_jobs::provision_error)?;
        let step = Some("registry row");
        self.registry().set_provisioning_step(&code, step).await?;
        Ok(self.registry().tenant(&code).await?)
    }

    /// Refuses a database (or schema) that is on the server already: it was not created for the
    /// new tenant, so it may belong to anyone.
    async fn check_not_on_server(
        &self,
        server: &DataServer,
        database: &DatabaseName,
        schema: Option<&DatabaseName>,
    ) -> Result<(), PlatformError> {
        let admin = ServerAdmin {
            server,
            password: self.registry().server_admin_password(server.id).await?,
        };
        let found = match schema {
            Some(s) => admin.schema_exists(database, s).await,
            None => admin.database_exists(database).await,
        };
        let found = found.map_err(|e| PlatformError::Provision {
            step: "check database",
            message: e.to_string(),
        })?;
        if found {
            let (field, message) = exists_refusal(server, database, schema);
            return Err(PlatformError::DatabaseInUse { field, message });
        }
        Ok(())
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
        check_schema(req, server.engine)?;
        Ok(server)
    }
}

/// The registry row of an admitted request (the server's login unless one is given, for ours).
fn new_tenant(
    req: ProvisionRequest,
    server: &DataServer,
    database: DatabaseName,
    password: Option<secrecy::SecretString>,
) -> NewTenant {
    let username = req.username.or_else(|| {
        (req.placement != Placement::External)
            .then(|| server.admin_username.clone())
            .flatten()
    });
    NewTenant {
        code: req.code,
        name: req.name,
        subdomain: req.subdomain,
        domains: req.domains,
        placement: req.placement,
        server_id: server.id,
        database: Some(database),
        schema: req.schema,
        username,
        password,
        status: TenantStatus::Provisioning,
        region: req.region,
        pool: req.pool,
        plan: req.plan,
        notes: req.notes,
    }
}

/// Schemas are PostgreSQL's and SQL Server's: `shared` placement needs one there, and no other
/// engine takes one (a MySQL "schema" is a database, an SQLite tenant a file: a second tenant
/// would share it).
fn check_schema(req: &ProvisionRequest, engine: Engine) -> Result<(), InvalidValue> {
    let has_schemas = matches!(engine, Engine::Postgres | Engine::Mssql);
    let why = match (has_schemas, req.placement, &req.schema) {
        (true, Placement::Shared, None) => {
            format!("shared placement on {engine} needs a schema")
        }
        (true, _, _) => return Ok(()),
        (false, Placement::Shared, _) => format!(
            "shared placement (a schema per tenant in one database) needs PostgreSQL or SQL \
             Server; on {engine} a tenant gets a database of its own: use dedicated"
        ),
        (false, _, Some(_)) => {
            format!("schemas are PostgreSQL's and SQL Server's; leave the schema out on {engine}")
        }
        _ => return Ok(()),
    };
    Err(InvalidValue::new("schema", why))
}
