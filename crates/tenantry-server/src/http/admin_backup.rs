//! Admin plane (owner token): tenant backups.
//!
//! - `GET /api/admin/tenants/{id}/backup` streams a fresh backup (`.tar.zst`) as an attachment. The
//!   archive is written to an already-unlinked file and streamed from it in chunks: never held in
//!   memory, never left on disk.
//! - `POST /api/admin/tenants/{id}/backups` stores one in the backup folder; answers its manifest.
//! - `GET /api/admin/tenants/{id}/backups` lists the stored ones (manifest summaries).

use super::{HttpError, OwnerAuth};
use crate::app::App;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tenantry::platform::TenantRef;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/admin/tenants/{id}/backup", get(download))
        .route("/api/admin/tenants/{id}/backups", get(list).post(create))
}

async fn download(
    State(app): State<App>,
    owner: OwnerAuth,
    Path(id): Path<String>,
) -> Result<Response, HttpError> {
    let r: TenantRef = id.parse()?;
    let (report, file) = app.platform().backup_stream(owner.actor(), &r).await?;
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
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let r: TenantRef = id.parse()?;
    let report = (app.platform())
        .backup(owner.actor(), &r, None, &|_| {})
        .await?;
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
) -> Result<Json<Value>, HttpError> {
    let data = app.platform().list_backups(&id.parse()?).await?;
    Ok(Json(json!({ "data": data })))
}
