//! Admin plane (owner token): tenant backups.
//!
//! - `GET /api/admin/tenants/{id}/backup` streams a fresh backup (`.tar.zst`) as an attachment. The
//!   archive is written to an already-unlinked file and streamed from it in chunks: never held in
//!   memory, never left on disk.
//! - `POST /api/admin/tenants/{id}/backups` stores one in the backup folder; answers its manifest.
//! - `GET /api/admin/tenants/{id}/backups` lists the stored ones (manifest summaries).

use super::OwnerAuth;
use crate::app::App;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tenantry::backup::{BackupError, Backups};
use tenantry::router::ApiError;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/admin/tenants/{id}/backup", get(download))
        .route("/api/admin/tenants/{id}/backups", get(list).post(create))
}

/// The backup service of this app. Backups live in `{data_dir}/backups`; the data directory is
/// the parent of the file store's root (`{data_dir}/files`).
fn backups(app: &App) -> Backups {
    let root = app.storage().root();
    let data_dir = root.parent().unwrap_or(root);
    Backups::new(
        app.registry().clone(),
        app.pools().clone(),
        app.storage().clone(),
        data_dir,
    )
}

/// The tenant named by `id` (UUID or code), through the platform's one lookup.
async fn find(app: &App, id: &str) -> Result<tenantry::registry::Tenant, ApiError> {
    let r: tenantry::platform::TenantRef =
        id.parse().map_err(|e: tenantry::tenant::InvalidValue| {
            ApiError::bad_request("invalid_input", e.to_string())
        })?;
    app.platform().tenant(&r).await.map_err(|e| match e {
        tenantry::platform::PlatformError::NotFound { .. } => {
            ApiError::not_found("tenant_not_found", format!("tenant {id} does not exist"))
        }
        other => ApiError::internal(&other),
    })
}

/// Maps backup errors to HTTP answers; unexpected causes are logged, not shown.
fn backup_error(e: BackupError) -> ApiError {
    match e {
        BackupError::Registry(r) => r.into(),
        e @ BackupError::WrongStatus { .. } => {
            ApiError::new(StatusCode::CONFLICT, "invalid_status", e.to_string())
        }
        e @ (BackupError::Tool { .. } | BackupError::Database { .. }) => {
            tracing::warn!(error = %e, "backup failed");
            ApiError::new(StatusCode::BAD_GATEWAY, "backup_failed", e.to_string())
        }
        e @ BackupError::ToolMissing { .. } => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "backup_tool_missing",
            e.to_string(),
        ),
        other => ApiError::internal(&other),
    }
}

async fn download(
    State(app): State<App>,
    owner: OwnerAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let t = find(&app, &id).await?;
    let (report, file) = backups(&app)
        .backup_detached(&t.code, &owner.actor().to_string())
        .await
        .map_err(backup_error)?;
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    let headers = [
        (header::CONTENT_TYPE, "application/zstd".to_owned()),
        (header::CONTENT_LENGTH, report.archive_size.to_string()),
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", report.file),
        ),
    ];
    Ok((headers, Body::from_stream(stream)).into_response())
}

async fn create(
    State(app): State<App>,
    owner: OwnerAuth,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let t = find(&app, &id).await?;
    let report = backups(&app)
        .backup(&t.code, None, &owner.actor().to_string(), &|_| {})
        .await
        .map_err(backup_error)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "file": report.file,
            "archiveSize": report.archive_size,
            "sha256": report.archive_sha256,
            "manifest": report.manifest,
        })),
    ))
}

async fn list(
    State(app): State<App>,
    _o: OwnerAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let t = find(&app, &id).await?;
    let data = backups(&app).list(&t.code).await.map_err(backup_error)?;
    Ok(Json(json!({ "data": data })))
}
