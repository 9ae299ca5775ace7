//! Admin plane (owner token): the background jobs of this server (provisioning, fleet
//! migrations). `GET /api/admin/jobs` lists the recent ones, newest first; `GET
//! /api/admin/jobs/{id}?since=N` shows one, with its items from index N on.

use super::openapi::{ErrorBody, OwnerErrors};
use super::OwnerAuth;
use crate::app::App;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tenantry::jobs::{Job, JobReport};
use tenantry::router::ApiError;
use uuid::Uuid;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/admin/jobs", get(list))
        .route("/api/admin/jobs/{id}", get(show))
}

/// The job named `id` in a URL; 404 `job_not_found` naming it otherwise.
pub(super) fn find(app: &App, id: &str) -> Result<Job, ApiError> {
    Uuid::parse_str(id)
        .ok()
        .and_then(|id| app.platform().jobs().get(id))
        .ok_or_else(|| ApiError::not_found("job_not_found", format!("no job {id}")))
}

#[utoipa::path(get, path = "/api/admin/jobs", tag = "fleet", security(("owner" = [])),
    responses((status = 200, body = serde_json::Value, description = "`data`: recent jobs"), OwnerErrors))]
async fn list(State(app): State<App>, _o: OwnerAuth) -> Json<Value> {
    let data: Vec<JobReport> = (app.platform().jobs().recent())
        .iter()
        .map(|j| j.report(usize::MAX))
        .collect();
    Json(json!({ "data": data }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShowQuery {
    /// Only items from this index on (a poller passes how many it already has).
    since: Option<usize>,
}

#[utoipa::path(get, path = "/api/admin/jobs/{id}", tag = "fleet", security(("owner" = [])), params(("id" = String, Path, description = "job id"), ShowQuery),
    responses((status = 200, body = JobReport), (status = 404, body = ErrorBody, description = "`job_not_found`"), OwnerErrors))]
async fn show(
    State(app): State<App>,
    _o: OwnerAuth,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Result<Json<JobReport>, ApiError> {
    Ok(Json(find(&app, &id)?.report(q.since.unwrap_or(0))))
}
