//! Tenant-user login: users live in the tenant's own database.

use super::JsonBody;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tenantry::auth::{self, Claims, TokenKind};
use tenantry::db::{ColType, SqlValue};
use tenantry::router::{ApiError, Tenant, TenantDb};

#[derive(Deserialize)]
pub struct Login {
    username: String,
    password: String,
}

pub async fn login(
    axum::extract::State(app): axum::extract::State<crate::app::App>,
    Tenant(tenant): Tenant,
    TenantDb(mut conn): TenantDb,
    JsonBody(body): JsonBody<Login>,
) -> Result<Json<Value>, ApiError> {
    if body.username.trim().is_empty() {
        return Err(ApiError::bad_request(
            "invalid_input",
            "username: must not be empty",
        ));
    }
    let row = conn
        .fetch_optional(
            "SELECT id, username, full_name, role, password_hash, disabled FROM users WHERE username = ?",
            &[SqlValue::Text(body.username.trim().to_owned())],
            &[ColType::Int, ColType::Text, ColType::Text, ColType::Text, ColType::Text, ColType::Bool],
        )
        .await?;
    // Release the connection before the (slow) password check: it is not needed any more.
    drop(conn);
    let denied = || ApiError::unauthorized("wrong username or password");
    let Some(row) = row else {
        auth::burn_verify_time(&body.password);
        return Err(denied());
    };
    let text = |i: usize| row[i].as_str().unwrap_or_default().to_owned();
    // A disabled user answers exactly like a wrong password, after the same work.
    let verified = auth::verify_password(&body.password, &text(4));
    if !verified || row[5].as_bool().unwrap_or(false) {
        return Err(denied());
    }
    let id = row[0].as_i64().unwrap_or_default();
    let full_name = text(2);
    let claims = Claims {
        sub: id.to_string(),
        kind: TokenKind::Tenant,
        tid: Some(tenant.tenant.id),
        tenant: Some(tenant.tenant.code.to_string()),
        name: text(1),
        role: text(3),
        iat: 0,
        exp: 0,
    };
    let (token, exp) = app.signer().issue(claims.clone());
    Ok(Json(json!({
        "token": token,
        "expiresAt": exp,
        "user": {"id": id, "username": claims.name, "fullName": full_name, "role": claims.role},
        "tenant": {"id": tenant.tenant.id, "code": tenant.tenant.code, "name": tenant.tenant.name},
    })))
}
