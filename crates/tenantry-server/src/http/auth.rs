//! Tenant-user login: users live in the tenant's own database.

use super::JsonBody;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::Row;
use tenantry::auth::{self, Claims, TokenKind};
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
    let q = conn
        .sql("SELECT id, username, full_name, role, password_hash FROM users WHERE username = ?");
    let row = sqlx::query(&q)
        .bind(body.username.trim())
        .fetch_optional(&mut *conn)
        .await?;
    let denied = || ApiError::unauthorized("wrong username or password");
    let Some(row) = row else {
        auth::burn_verify_time(&body.password);
        return Err(denied());
    };
    let hash: String = row.try_get("password_hash")?;
    if !auth::verify_password(&body.password, &hash) {
        return Err(denied());
    }
    let id: i64 = row.try_get("id")?;
    let claims = Claims {
        sub: id.to_string(),
        kind: TokenKind::Tenant,
        tid: Some(tenant.tenant.id),
        tenant: Some(tenant.tenant.code.to_string()),
        name: row.try_get("username")?,
        role: row.try_get("role")?,
        iat: 0,
        exp: 0,
    };
    let (token, exp) = app.signer().issue(claims.clone());
    Ok(Json(json!({
        "token": token,
        "expiresAt": exp,
        "user": {"id": id, "username": claims.name, "fullName": row.try_get::<String, _>("full_name")?, "role": claims.role},
        "tenant": {"id": tenant.tenant.id, "code": tenant.tenant.code, "name": tenant.tenant.name},
    })))
}
