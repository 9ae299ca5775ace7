//! Admin plane (owner token): onboarding checks of customer-hosted ("bring your own database")
//! tenant databases, before or after the tenant is registered.

use super::{JsonBody, OptionalJson, OwnerAuth};
use crate::startup::App;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{json, Value};
use tenantry::onboard::{self, CheckReport, OnboardTarget};
use tenantry::registry::{DataServer, DataSource, RegistryError};
use tenantry::router::ApiError;
use tenantry::tenant::{DatabaseName, Placement};
use uuid::Uuid;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/admin/onboard/check", post(check))
        .route("/api/admin/tenants/{id}/onboard-check", post(check_tenant))
}

/// A database the customer gives us, not registered yet.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckBody {
    /// Server name or id.
    server: String,
    database: DatabaseName,
    username: Option<String>,
    password: Option<String>,
    /// Whether our migrations will run DDL there. Default: true.
    ddl: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantCheckBody {
    /// Whether our migrations will run DDL there. Default: true.
    ddl: Option<bool>,
}

fn answer(report: CheckReport) -> Json<Value> {
    Json(json!({"ok": report.ok(), "checks": report.checks}))
}

async fn server(app: &App, id: &str) -> Result<DataServer, ApiError> {
    let found = match Uuid::parse_str(id) {
        Ok(uuid) => app.registry().server(uuid).await,
        Err(_) => app.registry().server_by_name(id).await,
    };
    found.map_err(|e| match e {
        RegistryError::NotFound(_) => ApiError::bad_request(
            "unknown_server",
            format!("server: no data server named {id:?} is registered"),
        ),
        other => other.into(),
    })
}

#[tracing::instrument(skip_all, fields(server = %body.server, database = %body.database))]
async fn check(
    State(app): State<App>,
    _o: OwnerAuth,
    JsonBody(body): JsonBody<CheckBody>,
) -> Result<Json<Value>, ApiError> {
    let server = server(&app, &body.server).await?;
    let source = DataSource {
        engine: server.engine,
        host: server.host,
        port: server.port,
        database: body.database.to_string(),
        schema: None,
        username: body.username.filter(|u| !u.is_empty()),
        password: body.password.map(SecretString::from),
        tls: server.tls,
        server_id: uuid::Uuid::nil(),
        server_max_connections: None,
        fingerprint: 0,
    };
    let ddl_required = body.ddl.unwrap_or(true);
    let report = onboard::check(OnboardTarget {
        source: &source,
        ddl_required,
    })
    .await;
    Ok(answer(report))
}

#[tracing::instrument(skip_all, fields(tenant = %id))]
async fn check_tenant(
    State(app): State<App>,
    _o: OwnerAuth,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<TenantCheckBody>,
) -> Result<Json<Value>, ApiError> {
    let tenant = super::admin_tenants::find(&app, &id).await?;
    if tenant.placement != Placement::External {
        return Err(ApiError::bad_request(
            "not_external",
            format!(
                "tenant {} is {}: onboarding checks are for external (customer-hosted) tenants",
                tenant.code, tenant.placement
            ),
        ));
    }
    let config = app
        .registry()
        .tenant_config(&tenant.code)
        .await?
        .ok_or_else(|| {
            ApiError::not_found("tenant_not_found", format!("tenant {id} does not exist"))
        })?;
    let report = onboard::check(OnboardTarget {
        source: &config.source,
        ddl_required: body.ddl.unwrap_or(true),
    })
    .await;
    Ok(answer(report))
}
