//! Admin plane (owner token): data servers.

use super::openapi::{ErrorBody, OwnerErrors};
use super::{HttpError, JsonBody, OwnerAuth};
use crate::app::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{json, Value};
use tenantry::platform::ServerRef;
use tenantry::registry::{DataServer, NewServer};
use tenantry::tenant::{Engine, Hosting, ServerName, TlsMode};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/admin/servers", get(servers).post(add_server))
        .route(
            "/api/admin/servers/{id}",
            axum::routing::delete(remove_server),
        )
}

/// Each server with `tenantCount` (tombstones excluded) and `breaker` (`open` while the pool
/// manager fails its tenants fast, else `closed`).
#[utoipa::path(get, path = "/api/admin/servers", tag = "servers", security(("owner" = [])),
    responses((status = 200, body = serde_json::Value, description = "`data`: servers with `tenantCount` and `breaker`"), OwnerErrors))]
async fn servers(State(app): State<App>, _o: OwnerAuth) -> Result<Json<Value>, HttpError> {
    let counts = app
        .registry()
        .tenant_counts_by_server()
        .await
        .map_err(tenantry::platform::PlatformError::from)?;
    let data: Vec<Value> = app
        .platform()
        .list_servers()
        .await?
        .into_iter()
        .map(|s| {
            let breaker = if app.pools().circuit_open(s.id) {
                "open"
            } else {
                "closed"
            };
            let count = counts.get(&s.id).copied().unwrap_or(0);
            let mut v = json!(s);
            v["tenantCount"] = json!(count);
            v["breaker"] = json!(breaker);
            v
        })
        .collect();
    Ok(Json(json!({ "data": data })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerBody {
    name: ServerName,
    engine: Engine,
    host: String,
    port: Option<u16>,
    hosting: Hosting,
    region: Option<String>,
    /// Default: the engine's ([`Engine::default_tls`]: `verify` for SQL Server).
    tls: Option<TlsMode>,
    admin_username: Option<String>,
    admin_password: Option<String>,
}

#[utoipa::path(post, path = "/api/admin/servers", tag = "servers", security(("owner" = [])), request_body = ServerBody,
    responses((status = 201, body = DataServer), (status = 409, body = ErrorBody, description = "`conflict`"), OwnerErrors))]
async fn add_server(
    State(app): State<App>,
    owner: OwnerAuth,
    JsonBody(b): JsonBody<ServerBody>,
) -> Result<(StatusCode, Json<DataServer>), HttpError> {
    let new = NewServer {
        name: b.name,
        engine: b.engine,
        host: b.host,
        port: b.port,
        hosting: b.hosting,
        region: b.region,
        tls: b.tls.unwrap_or(b.engine.default_tls()),
        admin_username: b.admin_username,
        admin_password: b.admin_password.map(SecretString::from),
    };
    let server = app.platform().add_server(owner.actor(), new).await?;
    Ok((StatusCode::CREATED, Json(server)))
}

#[utoipa::path(delete, path = "/api/admin/servers/{id}", tag = "servers", security(("owner" = [])),
    params(("id" = String, Path, description = "server UUID or name")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`in_use`: tenants live there"), OwnerErrors))]
async fn remove_server(
    State(app): State<App>,
    owner: OwnerAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, HttpError> {
    let r: ServerRef = id.parse()?;
    app.platform().remove_server(owner.actor(), &r).await?;
    Ok(StatusCode::NO_CONTENT)
}
