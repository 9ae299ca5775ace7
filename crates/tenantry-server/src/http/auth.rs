//! Tenant-user login (`?company=CODE` or any other way the tenant layer resolves the tenant): users
//! live in the tenant's own database; the platform checks the password and issues the token.

use super::openapi::{Company, TenantRouteErrors};
use super::{ClientAddr, JsonBody};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tenantry::platform::PlatformError;
use tenantry::router::{ApiError, Tenant};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Login {
    username: String,
    password: String,
}

#[utoipa::path(post, path = "/api/auth/login", tag = "auth", params(Company), request_body = Login,
    responses((status = 200, body = serde_json::Value, description = "`{token, expiresAt, user, tenant: {id, code, name}}`"), TenantRouteErrors))]
pub async fn login(
    State(app): State<crate::app::App>,
    Tenant(tenant): Tenant,
    ClientAddr(client): ClientAddr,
    JsonBody(body): JsonBody<Login>,
) -> Result<Json<Value>, ApiError> {
    let session = app
        .platform()
        .login_user_from(&tenant, &body.username, &body.password, client)
        .await
        .map_err(|e| match e {
            PlatformError::WrongCredentials => ApiError::unauthorized("wrong username or password"),
            other => super::error::platform_error(other),
        })?;
    let t = &tenant.tenant;
    Ok(Json(json!({
        "token": session.token,
        "expiresAt": session.expires_at,
        "user": session.user,
        "tenant": {"id": t.id, "code": t.code, "name": t.name},
    })))
}
