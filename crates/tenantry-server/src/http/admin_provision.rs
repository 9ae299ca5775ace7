//! Admin plane: provisioning tenants (`POST /api/admin/tenants`) and retrying failed ones.

use super::{JsonBody, OptionalJson, OwnerAuth};
use crate::startup::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use rand::distributions::{Alphanumeric, DistString};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{json, Value};
use tenantry::provision::ProvisionError;
use tenantry::registry::{NewTenant, PoolSettings, RegistryError};
use tenantry::router::ApiError;
use tenantry::tenant::{DatabaseName, HostName, Placement, Subdomain, TenantCode, TenantStatus};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/admin/tenants", post(create))
        .route("/api/admin/tenants/{id}/retry", post(retry))
}

#[derive(Deserialize)]
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
    engine: Option<tenantry::tenant::Engine>,
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

fn generated_password() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 20)
}

fn provision_error(e: ProvisionError) -> ApiError {
    match e {
        ProvisionError::Registry(r) => r.into(),
        e @ ProvisionError::Step { .. } => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "provisioning_failed",
            e.to_string(),
        ),
        other => ApiError::internal(&other),
    }
}

async fn create(
    State(app): State<App>,
    OwnerAuth(owner): OwnerAuth,
    JsonBody(b): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let server = match b.server.as_deref() {
        Some(name) => match uuid::Uuid::parse_str(name) {
            Ok(id) => app.registry().server(id).await,
            Err(_) => app.registry().server_by_name(name).await,
        },
        None if b.placement == Placement::External => {
            return Err(ApiError::bad_request(
                "invalid_input",
                "server: an external tenant names its server",
            ));
        }
        None => app.registry().least_loaded_server(b.engine).await,
    }
    .map_err(|e| match e {
        RegistryError::NotFound(what) => {
            ApiError::bad_request("invalid_input", format!("server: no {what}"))
        }
        other => other.into(),
    })?;
    if b.placement == Placement::Shared
        && server.engine == tenantry::tenant::Engine::Postgres
        && b.schema.is_none()
    {
        return Err(ApiError::bad_request(
            "invalid_input",
            "schema: shared placement on PostgreSQL needs a schema",
        ));
    }
    let domains = b
        .domains
        .iter()
        .map(|d| HostName::parse(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::bad_request("invalid_input", format!("domains: {e}")))?;
    let admin_password = b.admin_password.clone().unwrap_or_else(generated_password);
    let new = NewTenant {
        code: b.code.clone(),
        name: b.name,
        subdomain: b.subdomain,
        domains,
        placement: b.placement,
        server_id: server.id,
        database: b.database,
        schema: b.schema,
        username: b.username.or_else(|| {
            (b.placement != Placement::External)
                .then(|| server.admin_username.clone())
                .flatten()
        }),
        password: b.password.map(SecretString::from),
        status: TenantStatus::Provisioning,
        region: b.region,
        pool: b.pool.unwrap_or_default(),
        plan: b.plan.unwrap_or_else(|| "standard".into()),
        notes: b.notes,
    };
    let provisioner = app
        .provisioner()
        .migrate_external(b.migrate)
        .separate_db_users(b.separate_db_user.unwrap_or(app.separate_db_users));
    let done = provisioner.provision(new, &admin_password).await;
    if let Ok(t) = &done {
        app.storage
            .ensure_tenant_dir(t.id)
            .await
            .map_err(|e| ApiError::internal(&e))?;
    }
    let tenant_id = app.registry().tenant(&b.code).await.ok().map(|t| t.id);
    let result = if done.is_ok() { "ok" } else { "failed" };
    let detail = json!({"after": {"code": b.code, "placement": b.placement, "server": server.name}, "password": "***"});
    app.registry()
        .audit(&owner.name, "tenant.provision", tenant_id, detail, result)
        .await?;
    let tenant = done.map_err(provision_error)?;
    let mut body = json!({"tenant": tenant});
    if b.admin_password.is_none() {
        // Shown once: it is stored only as an argon2 hash in the tenant database.
        body["adminPassword"] = json!(admin_password);
    }
    Ok((StatusCode::CREATED, Json(body)))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RetryBody {
    admin_password: Option<String>,
    #[serde(default)]
    migrate: bool,
}

async fn retry(
    State(app): State<App>,
    OwnerAuth(owner): OwnerAuth,
    Path(id): Path<String>,
    OptionalJson(b): OptionalJson<RetryBody>,
) -> Result<Json<Value>, ApiError> {
    let tenant = super::admin_tenants::find(&app, &id).await?;
    if !matches!(
        tenant.status,
        TenantStatus::Provisioning | TenantStatus::Failed
    ) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "invalid_status",
            format!(
                "tenant {} is {}; retry needs it provisioning or failed",
                tenant.code, tenant.status
            ),
        ));
    }
    let admin_password = b.admin_password.clone().unwrap_or_else(generated_password);
    let provisioner = app.provisioner().migrate_external(b.migrate);
    let done = provisioner.finish(&tenant.code, &admin_password).await;
    let result = if done.is_ok() { "ok" } else { "failed" };
    app.registry()
        .audit(
            &owner.name,
            "tenant.retry",
            Some(tenant.id),
            json!({"before": {"status": tenant.status}}),
            result,
        )
        .await?;
    let tenant = done.map_err(provision_error)?;
    let mut out = json!({"tenant": tenant});
    if b.admin_password.is_none() {
        out["adminPassword"] = json!(admin_password);
    }
    Ok(Json(out))
}
