//! `POST /api/admin/tenants/{id}/db-password` (owner token): the tenant database's password, as
//! `tenant set-password` does on the command line. The pools follow at once (the data source's
//! fingerprint changes, so the next request opens a pool with the new password).

use super::openapi::{TenantErrors, TenantId};
use super::{HttpError, OptionalJson, OwnerAuth};
use crate::app::App;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{json, Value};
use tenantry::platform::TenantRef;
use tenantry::secrets::expose;

pub fn routes() -> Router<App> {
    Router::new().route("/api/admin/tenants/{id}/db-password", post(set_password))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordBody {
    /// The new password; absent: one is generated and answered once.
    password: Option<String>,
    /// Only store it (the customer's DBA changed it on their server already).
    #[serde(default)]
    store_only: bool,
}

#[utoipa::path(post, path = "/api/admin/tenants/{id}/db-password", tag = "tenants", security(("owner" = [])), params(TenantId),
    request_body(content = Option<PasswordBody>),
    responses((status = 200, body = serde_json::Value, description = "`{tenant, changed}`, plus `password` when generated (shown once)"), TenantErrors))]
async fn set_password(
    State(app): State<App>,
    owner: OwnerAuth,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<PasswordBody>,
) -> Result<Json<Value>, HttpError> {
    let r: TenantRef = id.parse()?;
    let given = body.password.map(SecretString::from);
    if body.store_only {
        let Some(password) = given else {
            let why = "password: storeOnly needs the password";
            return Err(tenantry::router::ApiError::bad_request("invalid_input", why).into());
        };
        app.platform()
            .store_password(owner.actor(), &r, password)
            .await?;
        return Ok(Json(json!({"tenant": r.to_string(), "changed": true})));
    }
    let generated = given.is_none();
    let now = app
        .platform()
        .set_password(owner.actor(), &r, given)
        .await?;
    let mut answer = json!({"tenant": r.to_string(), "changed": true});
    if generated {
        answer["password"] = json!(expose(&now));
    }
    Ok(Json(answer))
}
