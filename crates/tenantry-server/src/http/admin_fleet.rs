//! Admin plane (owner token): fleet schema drift and "migrate all" as a background job.
//!
//! `POST /api/admin/fleet/migrate` starts a fleet migration as a platform job (see
//! [`tenantry::jobs`]) and answers 202 with its id; `GET /api/admin/fleet/migrate/{job}` reports
//! its progress. One runs at a time (409 `migration_running` otherwise). Jobs are this server
//! process's own.

use super::openapi::{ErrorBody, OwnerErrors};
use super::{HttpError, OptionalJson, OwnerAuth};
use crate::app::App;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tenantry::fleet::FleetOptions;
use tenantry::jobs::{JobKind, JobStatus};
use tenantry::router::ApiError;
use tenantry::tenant::Engine;

/// Most tenants migrated at once by one job.
const MAX_CONCURRENCY: usize = 32;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/admin/fleet/drift", get(drift))
        .route("/api/admin/fleet/migrate", post(start))
        .route("/api/admin/fleet/migrate/{job}", get(progress))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DriftQuery {
    /// `behind`, `current` or `ahead`: only those tenants in `data`.
    state: Option<String>,
    page: Option<u32>,
    limit: Option<u32>,
}

/// Counts per drift state over the whole fleet, and one page of tenants (optionally of one state).
#[utoipa::path(get, path = "/api/admin/fleet/drift", tag = "fleet", security(("owner" = [])), params(DriftQuery),
    responses((status = 200, body = serde_json::Value, description = "`{counts, latest, data, page, limit, total}`"), OwnerErrors))]
async fn drift(
    State(app): State<App>,
    _o: OwnerAuth,
    Query(q): Query<DriftQuery>,
) -> Result<Json<Value>, ApiError> {
    const STATES: [&str; 3] = ["behind", "current", "ahead"];
    if let Some(s) = q.state.as_deref().filter(|s| !STATES.contains(s)) {
        return Err(ApiError::bad_request(
            "invalid_input",
            format!("state: {s} is not one of behind, current, ahead"),
        ));
    }
    let page = q.page.unwrap_or(1).max(1);
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let all = app
        .platform()
        .drift()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let count = |state: &str| all.iter().filter(|d| d.state == state).count();
    let counts =
        json!({"behind": count("behind"), "current": count("current"), "ahead": count("ahead")});
    let matching: Vec<_> = all
        .iter()
        .filter(|d| q.state.as_deref().is_none_or(|s| d.state == s))
        .collect();
    let start = (page as usize - 1) * limit as usize;
    let data: Vec<_> = matching.iter().skip(start).take(limit as usize).collect();
    let latest: serde_json::Map<String, Value> = Engine::ALL
        .iter()
        .map(|e| {
            (
                e.as_str().to_owned(),
                tenantry::migrate::latest_version(*e).into(),
            )
        })
        .collect();
    Ok(Json(json!({
        "counts": counts,
        "latest": latest,
        "data": data,
        "page": page,
        "limit": limit,
        "total": matching.len(),
    })))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    /// Tenants migrated at once; default 8.
    concurrency: Option<usize>,
}

#[utoipa::path(post, path = "/api/admin/fleet/migrate", tag = "fleet", security(("owner" = [])), request_body(content = Option<StartBody>),
    responses((status = 202, body = serde_json::Value, description = "`{job, total}`"), (status = 409, body = ErrorBody, description = "`migration_running`"), OwnerErrors))]
async fn start(
    State(app): State<App>,
    owner: OwnerAuth,
    OptionalJson(body): OptionalJson<StartBody>,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let mut options = FleetOptions::default();
    if let Some(n) = body.concurrency {
        if !(1..=MAX_CONCURRENCY).contains(&n) {
            return Err(ApiError::bad_request(
                "invalid_input",
                format!("concurrency: must be from 1 to {MAX_CONCURRENCY}"),
            )
            .into());
        }
        options.concurrency = n;
    }
    let job = (app.platform())
        .start_fleet_migration(owner.actor(), options)
        .await?;
    let total = job.report(0).total.unwrap_or(0);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"job": job.id(), "total": total})),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProgressQuery {
    /// Only outcomes from this index on (a poller passes how many it already has).
    since: Option<usize>,
}

/// The job's counts, and the tenants' outcomes from index `since` on.
#[utoipa::path(get, path = "/api/admin/fleet/migrate/{job}", tag = "fleet", security(("owner" = [])),
    params(("job" = String, Path, description = "job id"), ProgressQuery),
    responses((status = 200, body = serde_json::Value, description = "counts and `outcomes` from `since`"), (status = 404, body = ErrorBody, description = "`job_not_found`"), OwnerErrors))]
async fn progress(
    State(app): State<App>,
    _o: OwnerAuth,
    Path(id): Path<String>,
    Query(q): Query<ProgressQuery>,
) -> Result<Json<Value>, ApiError> {
    let job = super::admin_jobs::find(&app, &id)
        .ok()
        .filter(|j| j.kind() == JobKind::FleetMigrate)
        .ok_or_else(|| ApiError::not_found("job_not_found", format!("no migration job {id}")))?;
    let all = job.report(0);
    let count = |o: &str| all.items.iter().filter(|i| i["outcome"] == o).count();
    let since = q.since.unwrap_or(0);
    Ok(Json(json!({
        "job": all.id,
        "total": all.total.unwrap_or(0),
        "done": all.done,
        "failed": count("failed"),
        "migrated": count("migrated"),
        "current": count("current"),
        "startedAt": all.started_at,
        "finishedAt": all.finished_at,
        "finished": all.status != JobStatus::Running,
        "error": all.error,
        "since": since,
        "outcomes": all.items.get(since..).unwrap_or_default(),
    })))
}
