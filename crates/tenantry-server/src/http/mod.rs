//! HTTP surfaces: health, tenant data plane, admin plane, owner dashboard.

mod admin;
mod admin_backup;
mod admin_credentials;
mod admin_fleet;
mod admin_jobs;
mod admin_onboard;
mod admin_provision;
mod admin_servers;
mod admin_tenants;
mod auth;
pub mod client;
mod dashboard;
pub mod data;
pub mod error;
mod files;
mod health;
pub mod limits;
mod observe;
pub mod openapi;
pub mod resource;
mod users;

use crate::app::App;
use axum::routing::{get, post};
use axum::Router;

pub use admin::OwnerAuth;
pub use client::{ClientAddr, TrustedProxies};
pub use error::HttpError;

/// The whole HTTP API.
pub fn router(app: App) -> Router {
    let tenant_layer =
        axum::middleware::from_fn_with_state(app.tenants.clone(), tenantry::router::tenant_layer);
    let data = Router::new()
        .route("/api/auth/login", post(auth::login))
        .merge(users::routes())
        .merge(data::routes())
        .merge(files::routes())
        .route_layer(tenant_layer);
    let metrics = app.metrics().clone();
    let max_body_bytes = app.max_body_bytes;
    let routes = Router::new()
        .route("/api/health", get(health::live))
        .route("/metrics", get(observe::scrape))
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/health/tenants", get(health::tenants))
        .route("/api/admin/login", post(admin::login))
        .merge(admin_tenants::routes())
        .merge(admin_backup::routes())
        .merge(admin_credentials::routes())
        .merge(admin_onboard::routes())
        .merge(admin_provision::routes())
        .merge(admin_servers::routes())
        .merge(admin_fleet::routes())
        .merge(admin_jobs::routes())
        .merge(users::admin_routes())
        .merge(dashboard::routes())
        .merge(data)
        .fallback(not_found);
    observe::observe(limits::limit(routes, max_body_bytes), metrics).with_state(app)
}

async fn not_found() -> tenantry::router::ApiError {
    tenantry::router::ApiError::not_found("not_found", "no such route")
}

/// Parses a JSON body into `T`, answering 400 with the serde message (which names the field), 413
/// over the body limit.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for JsonBody<T> {
    type Rejection = tenantry::router::ApiError;
    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = req.extensions().get::<limits::BodyLimit>().copied();
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(e) => Err(limits::body_rejection(e.status(), e.body_text(), limit)),
        }
    }
}

/// A JSON body that may be absent: an empty body gives `T::default()`; a malformed one is a 400.
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Default> axum::extract::FromRequest<S>
    for OptionalJson<T>
{
    type Rejection = tenantry::router::ApiError;
    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = req.extensions().get::<limits::BodyLimit>().copied();
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| limits::body_rejection(e.status(), e.body_text(), limit))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map(OptionalJson)
            .map_err(|e| tenantry::router::ApiError::bad_request("invalid_body", e.to_string()))
    }
}
