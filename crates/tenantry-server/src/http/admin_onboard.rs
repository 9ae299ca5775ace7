//! Admin plane (owner token): onboarding checks of customer-hosted ("bring your own database")
//! tenant databases, before or after the tenant is registered.

use super::openapi::{OwnerErrors, TenantErrors, TenantId};
use super::{HttpError, JsonBody, OptionalJson, OwnerAuth};
use crate::app::App;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{json, Value};
use tenantry::onboard::CheckReport;
use tenantry::platform::{OnboardCandidate, ServerRef, TenantRef};
use tenantry::router::ApiError;
use tenantry::tenant::DatabaseName;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/admin/onboard/check", post(check))
        .route("/api/admin/tenants/{id}/onboard-check", post(check_tenant))
}

/// A database the customer gives us, not registered yet.
#[derive(Deserialize, utoipa::ToSchema)]
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

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantCheckBody {
    /// Whether our migrations will run DDL there. Default: true.
    ddl: Option<bool>,
}

fn answer(report: CheckReport) -> Json<Value> {
    Json(json!({"ok": report.ok(), "checks": report.checks}))
}

#[utoipa::path(post, path = "/api/admin/onboard/check", tag = "servers", security(("owner" = [])), request_body = CheckBody,
    responses((status = 200, body = serde_json::Value, description = "`{ok, checks}`"), OwnerErrors))]
async fn check(
    State(app): State<App>,
    _o: OwnerAuth,
    JsonBody(body): JsonBody<CheckBody>,
) -> Result<Json<Value>, HttpError> {
    let server = ServerRef::parse(&body.server).map_err(|_| {
        let why = format!(
            "server: no data server named {:?} is registered",
            body.server
        );
        ApiError::bad_request("unknown_server", why)
    })?;
    let candidate = OnboardCandidate {
        server,
        database: body.database,
        username: body.username,
        password: body.password.map(SecretString::from),
        ddl_required: body.ddl.unwrap_or(true),
    };
    Ok(answer(app.platform().onboard_check(candidate).await?))
}

#[utoipa::path(post, path = "/api/admin/tenants/{id}/onboard-check", tag = "servers", security(("owner" = [])), params(TenantId),
    request_body(content = Option<TenantCheckBody>),
    responses((status = 200, body = serde_json::Value, description = "`{ok, checks}`"), TenantErrors))]
async fn check_tenant(
    State(app): State<App>,
    _o: OwnerAuth,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<TenantCheckBody>,
) -> Result<Json<Value>, HttpError> {
    let r: TenantRef = id.parse()?;
    let ddl = body.ddl.unwrap_or(true);
    Ok(answer(app.platform().onboard_check_tenant(&r, ddl).await?))
}
