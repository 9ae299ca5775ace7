//! Admin plane: provisioning tenants (`POST /api/admin/tenants`) and retrying failed ones. Both
//! answer 202 once the tenant is registered; the steps run as a job that outlives the request
//! (`GET /api/admin/jobs/{job}`, or the tenant's `provisioningStep`).

use super::openapi::{TenantErrors, TenantId};
use super::{HttpError, JsonBody, OptionalJson, OwnerAuth};
use crate::app::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{json, Value};
use tenantry::platform::{ProvisionRequest, ProvisionStarted, ServerRef, TenantRef};
use tenantry::registry::PoolSettings;
use tenantry::secrets::expose;
use tenantry::tenant::{
    DatabaseName, Engine, HostName, InvalidValue, Placement, Subdomain, TenantCode,
};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/admin/tenants", post(create))
        .route("/api/admin/tenants/{id}/retry", post(retry))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateBody {
    code: TenantCode,
    name: String,
    subdomain: Option<Subdomain>,
    #[serde(default)]
    domains: Vec<String>,
    placement: Placement,
    /// Server name or id; default: our server (of `engine`, when given) with the fewest tenants.
    server: Option<String>,
    engine: Option<Engine>,
    /// External placement: allow migrations on the customer's database.
    #[serde(default)]
    migrate: bool,
    /// Overrides the config `separate_db_users` for this tenant.
    separate_db_user: Option<bool>,
    database: Option<DatabaseName>,
    schema: Option<DatabaseName>,
    /// Database login (external tenants: the customer's credentials).
    username: Option<String>,
    password: Option<String>,
    admin_password: Option<String>,
    plan: Option<String>,
    region: Option<String>,
    pool: Option<PoolSettings>,
    notes: Option<String>,
}

impl CreateBody {
    fn into_request(self) -> Result<ProvisionRequest, InvalidValue> {
        let domains = self
            .domains
            .iter()
            .map(|d| HostName::parse(d))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| InvalidValue::new("domains", e.reason))?;
        let server = self.server.as_deref().map(ServerRef::parse).transpose()?;
        let mut req = ProvisionRequest::new(self.code, self.name, self.placement);
        req.subdomain = self.subdomain;
        req.domains = domains;
        req.server = server;
        req.engine = self.engine;
        req.database = self.database;
        req.schema = self.schema;
        req.username = self.username;
        req.password = self.password.map(SecretString::from);
        req.admin_password = self.admin_password.map(SecretString::from);
        req.migrate_external = self.migrate;
        req.separate_db_user = self.separate_db_user;
        req.region = self.region;
        req.pool = self.pool.unwrap_or_default();
        req.plan = self.plan.unwrap_or_else(|| "standard".into());
        req.notes = self.notes;
        Ok(req)
    }
}

/// 202 `{"tenant": …, "job": id}`, plus `adminPassword` when it was generated (shown once: it is
/// stored only as an argon2 hash in the tenant database).
/// `202 Accepted` of create and retry: the tenant, its provisioning job, and the generated admin
/// password when none was given (shown once).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)] // Describes the body `accepted` writes.
pub struct Accepted {
    tenant: tenantry::registry::Tenant,
    job: uuid::Uuid,
    admin_password: Option<String>,
}

fn accepted(started: ProvisionStarted) -> (StatusCode, Json<Value>) {
    let mut body = json!({"tenant": started.tenant, "job": started.job.id()});
    if let Some(pw) = &started.generated_admin_password {
        body["adminPassword"] = json!(expose(pw));
    }
    (StatusCode::ACCEPTED, Json(body))
}

#[utoipa::path(post, path = "/api/admin/tenants", tag = "tenants", security(("owner" = [])), request_body = CreateBody,
    responses((status = 202, body = Accepted, description = "provisioning started as a job"), TenantErrors))]
async fn create(
    State(app): State<App>,
    owner: OwnerAuth,
    JsonBody(b): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let req = b.into_request()?;
    Ok(accepted(
        app.platform().provision(owner.actor(), req).await?,
    ))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryBody {
    admin_password: Option<String>,
    #[serde(default)]
    migrate: bool,
}

#[utoipa::path(post, path = "/api/admin/tenants/{id}/retry", tag = "tenants", security(("owner" = [])), params(TenantId),
    request_body(content = Option<RetryBody>), responses((status = 202, body = Accepted), TenantErrors))]
async fn retry(
    State(app): State<App>,
    owner: OwnerAuth,
    Path(id): Path<String>,
    OptionalJson(b): OptionalJson<RetryBody>,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let r: TenantRef = id.parse()?;
    let password = b.admin_password.map(SecretString::from);
    let started = app.platform().retry(owner.actor(), &r, password, b.migrate);
    Ok(accepted(started.await?))
}
