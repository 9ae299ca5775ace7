//! Admin plane (owner token): tenant backups.
//!
//! - `GET /api/admin/tenants/{id}/backup` streams a fresh backup (`.tar.zst`) as an attachment. The
//!   archive is written to an already-unlinked file and streamed from it in chunks: never held in
//!   memory, never left on disk.
//! - `POST /api/admin/tenants/{id}/backups` stores one in the backup folder; answers its manifest.
//! - `GET /api/admin/tenants/{id}/backups` lists the stored ones (manifest summaries).
//! - `POST /api/admin/tenants/{id}/backups/{file}/restore` (`{"into": "NEWCODE"}`) builds a new
//!   tenant from a stored one, as a job: 202 `{"job", "into"}`.

use super::openapi::{TenantErrors, TenantId};
use super::{HttpError, JsonBody, OwnerAuth};
use crate::app::App;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tenantry::backup::NewTenantFrom;
use tenantry::platform::TenantRef;
use tenantry::tenant::{DatabaseName, TenantCode};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/admin/tenants/{id}/backup", get(download))
        .route("/api/admin/tenants/{id}/backups", get(list).post(create))
        .route(
            "/api/admin/tenants/{id}/backups/{file}/restore",
            post(restore_into),
        )
}

/// `GET …/backups`: the stored backups, newest first.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Describes the body `list` writes.
pub struct BackupList {
    data: Vec<tenantry::backup::BackupSummary>,
}

#[utoipa::path(get, path = "/api/admin/tenants/{id}/backup", tag = "backups", security(("owner" = [])), params(TenantId),
    responses((status = 200, content_type = "application/zstd", description = "a fresh backup archive (`.tar.zst`)"), TenantErrors))]
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

#[utoipa::path(post, path = "/api/admin/tenants/{id}/backups", tag = "backups", security(("owner" = [])), params(TenantId),
    responses((status = 201, body = serde_json::Value, description = "`{file, archiveSize, sha256, manifest}`"), TenantErrors))]
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

#[utoipa::path(get, path = "/api/admin/tenants/{id}/backups", tag = "backups", security(("owner" = [])), params(TenantId),
    responses((status = 200, body = BackupList), TenantErrors))]
async fn list(
    State(app): State<App>,
    _o: OwnerAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, HttpError> {
    let data = app.platform().list_backups(&id.parse()?).await?;
    Ok(Json(json!({ "data": data })))
}

/// Where a stored backup is restored to: a new tenant.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestoreBody {
    /// The new tenant's code (must not exist).
    into: TenantCode,
    /// Data server name or id. Default: the backed-up tenant's.
    server: Option<String>,
    /// The new database's name (must not exist). Default: generated from the new code.
    database: Option<DatabaseName>,
}

#[utoipa::path(post, path = "/api/admin/tenants/{id}/backups/{file}/restore", tag = "backups", security(("owner" = [])),
    params(TenantId, ("file" = String, Path, description = "a stored backup's file name, as listed")), request_body = RestoreBody,
    responses((status = 202, body = serde_json::Value, description = "`{job, into}`: follow the job; its item is the new tenant"), TenantErrors))]
async fn restore_into(
    State(app): State<App>,
    owner: OwnerAuth,
    Path((id, file)): Path<(String, String)>,
    JsonBody(b): JsonBody<RestoreBody>,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let r: TenantRef = id.parse()?;
    let into = NewTenantFrom {
        code: b.into,
        server: b.server,
        database: b.database,
    };
    let code = into.code.clone();
    let job = (app.platform())
        .start_restore_into(owner.actor(), &r, &file, into)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"job": job.id(), "into": code})),
    ))
}
