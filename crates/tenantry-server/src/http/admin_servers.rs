//! Admin plane (owner token): data servers.

use super::{JsonBody, OwnerAuth};
use crate::startup::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{json, Value};
use tenantry::registry::{DataServer, NewServer};
use tenantry::router::ApiError;
use tenantry::tenant::{Engine, Hosting, TlsMode};
use uuid::Uuid;

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
async fn servers(State(app): State<App>, _o: OwnerAuth) -> Result<Json<Value>, ApiError> {
    let counts = app.registry().tenant_counts_by_server().await?;
    let open = app.pools().open_circuits();
    let data: Vec<Value> = app
        .registry()
        .list_servers()
        .await?
        .into_iter()
        .map(|s| {
            let breaker = if open.contains(&s.server_key()) {
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerBody {
    name: String,
    engine: Engine,
    host: String,
    port: Option<u16>,
    hosting: Hosting,
    region: Option<String>,
    #[serde(default = "default_tls")]
    tls: TlsMode,
    admin_username: Option<String>,
    admin_password: Option<String>,
}

fn default_tls() -> TlsMode {
    TlsMode::Prefer
}

async fn add_server(
    State(app): State<App>,
    OwnerAuth(owner): OwnerAuth,
    JsonBody(b): JsonBody<ServerBody>,
) -> Result<(StatusCode, Json<DataServer>), ApiError> {
    let new = NewServer {
        name: b.name,
        engine: b.engine,
        host: b.host,
        port: b.port,
        hosting: b.hosting,
        region: b.region,
        tls: b.tls,
        admin_username: b.admin_username,
        admin_password: b.admin_password.map(SecretString::from),
    };
    let server = app.registry().add_server(new).await?;
    let detail = json!({"after": {"name": server.name, "engine": server.engine, "host": server.host, "port": server.port, "adminPassword": server.has_admin_password.then_some("***")}});
    app.registry()
        .audit(&owner.name, "server.add", None, detail, "ok")
        .await?;
    Ok((StatusCode::CREATED, Json(server)))
}

async fn remove_server(
    State(app): State<App>,
    OwnerAuth(owner): OwnerAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let server = match Uuid::parse_str(&id) {
        Ok(uuid) => app.registry().server(uuid).await?,
        Err(_) => app.registry().server_by_name(&id).await?,
    };
    app.registry().remove_server(server.id).await?;
    app.registry()
        .audit(
            &owner.name,
            "server.remove",
            None,
            json!({"before": {"name": server.name}}),
            "ok",
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
