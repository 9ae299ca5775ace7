//! Per-tenant files: `PUT/GET/DELETE /api/files/{*path}` and `GET /api/files`.
//!
//! The path is taken from the URI exactly as the client sent it, *before* percent-decoding: file
//! names only use `[A-Za-z0-9._-]`, which never needs encoding, so any `%` (`%2e%2e`, `%2f`, `%5c`,
//! `%00`, double encoding) is refused as `invalid_path` instead of being decoded into something
//! that means more than it shows.

use super::error::{storage_error, too_large};
use super::openapi::{Company, ErrorBody, TenantRouteErrors};
use crate::app::App;
use axum::body::Body;
use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tenantry::router::{ApiError, Tenant, TenantUser};
use tenantry::storage::StoragePath;

const PREFIX: &str = "/api/files/";

pub fn routes() -> Router<App> {
    Router::new().route("/api/files", get(list)).route(
        "/api/files/{*path}",
        get(download).put(upload).delete(remove),
    )
}

/// The `{*path}` of the file routes.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // Documents the path; `file_path` reads it from the URI.
pub struct FilePath {
    /// `a-z A-Z 0-9 . _ -` segments separated by `/`; never percent-encoded.
    path: String,
}

/// The file path as sent by the client (still percent-encoded), parsed.
fn file_path(uri: &OriginalUri) -> Result<StoragePath, ApiError> {
    let raw = uri.path().strip_prefix(PREFIX).unwrap_or_default();
    StoragePath::parse(raw).map_err(storage_error)
}

#[tracing::instrument(name = "file_upload", skip_all, fields(tenant = %t.0.tenant.code))]
#[utoipa::path(put, path = "/api/files/{path}", tag = "files", security(("tenant" = [])), params(FilePath, Company),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = serde_json::Value, description = "created: `{path, size}`"), (status = 200, body = serde_json::Value, description = "replaced"),
        (status = 413, body = ErrorBody, description = "`file_too_large`"), TenantRouteErrors))]
async fn upload(
    _user: TenantUser,
    t: Tenant,
    State(app): State<App>,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let path = file_path(&uri)?;
    let limit = app.storage().max_file_bytes();
    // A declared length over the limit is refused before a byte is read; the store enforces the
    // limit again while streaming, for chunked bodies and lying clients.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let stored = app
        .storage()
        .put(t.0.tenant.id, &path, body.into_data_stream())
        .await
        .map_err(storage_error)?;
    let status = if stored.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({"path": path.as_str(), "size": stored.size})),
    ))
}

#[tracing::instrument(name = "file_download", skip_all, fields(tenant = %t.0.tenant.code))]
#[utoipa::path(get, path = "/api/files/{path}", tag = "files", security(("tenant" = [])), params(FilePath, Company),
    responses((status = 200, content_type = "application/octet-stream"), TenantRouteErrors))]
async fn download(
    _user: TenantUser,
    t: Tenant,
    State(app): State<App>,
    uri: OriginalUri,
) -> Result<impl IntoResponse, ApiError> {
    let path = file_path(&uri)?;
    let bytes = app
        .storage()
        .get(t.0.tenant.id, &path)
        .await
        .map_err(storage_error)?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes))
}

#[tracing::instrument(name = "file_delete", skip_all, fields(tenant = %t.0.tenant.code))]
#[utoipa::path(delete, path = "/api/files/{path}", tag = "files", security(("tenant" = [])), params(FilePath, Company),
    responses((status = 204), TenantRouteErrors))]
async fn remove(
    _user: TenantUser,
    t: Tenant,
    State(app): State<App>,
    uri: OriginalUri,
) -> Result<StatusCode, ApiError> {
    let path = file_path(&uri)?;
    app.storage()
        .delete(t.0.tenant.id, &path)
        .await
        .map_err(storage_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[tracing::instrument(name = "file_list", skip_all, fields(tenant = %t.0.tenant.code))]
#[utoipa::path(get, path = "/api/files", tag = "files", security(("tenant" = [])), params(Company),
    responses((status = 200, body = serde_json::Value, description = "`data`: `{path, size}`"), TenantRouteErrors))]
async fn list(
    _user: TenantUser,
    t: Tenant,
    State(app): State<App>,
) -> Result<Json<Value>, ApiError> {
    let files = app
        .storage()
        .list(t.0.tenant.id)
        .await
        .map_err(storage_error)?;
    let data: Vec<Value> = files
        .iter()
        .map(|f| json!({"path": f.path.as_str(), "size": f.size}))
        .collect();
    Ok(Json(json!({ "data": data })))
}
