//! Admin plane (owner token): fleet schema drift and "migrate all" as a background job.
//!
//! `POST /api/admin/fleet/migrate` starts [`tenantry::fleet::migrate_fleet`] on a background task and
//! answers 202 with a job id; `GET /api/admin/fleet/migrate/{job}` reports its progress. One job runs
//! at a time (409 `migration_running` otherwise). The jobs live in this router's state, so each
//! server instance has its own; the running task is aborted when the router is dropped.

use super::{OptionalJson, OwnerAuth};
use crate::app::App;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tenantry::fleet::{FleetOptions, Outcome};
use tenantry::platform::Actor;
use tenantry::router::ApiError;
use tenantry::tenant::{Engine, TenantCode};
use uuid::Uuid;

/// Finished jobs kept for `GET …/migrate/{job}`; older ones are forgotten.
const KEPT_JOBS: usize = 8;
/// Most tenants migrated at once by one job.
const MAX_CONCURRENCY: usize = 32;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/admin/fleet/drift", get(drift))
        .route("/api/admin/fleet/migrate", post(start))
        .route("/api/admin/fleet/migrate/{job}", get(progress))
        .layer(Extension(Jobs::default()))
}

#[derive(Deserialize)]
pub struct DriftQuery {
    /// `behind`, `current` or `ahead`: only those tenants in `data`.
    state: Option<String>,
    page: Option<u32>,
    limit: Option<u32>,
}

/// Counts per drift state over the whole fleet, and one page of tenants (optionally of one state).
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

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    /// Tenants migrated at once; default 8.
    concurrency: Option<usize>,
}

async fn start(
    State(app): State<App>,
    Extension(jobs): Extension<Jobs>,
    owner: OwnerAuth,
    OptionalJson(body): OptionalJson<StartBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut options = FleetOptions::default();
    if let Some(n) = body.concurrency {
        if !(1..=MAX_CONCURRENCY).contains(&n) {
            return Err(ApiError::bad_request(
                "invalid_input",
                format!("concurrency: must be from 1 to {MAX_CONCURRENCY}"),
            ));
        }
        options.concurrency = n;
    }
    let total = app
        .platform()
        .fleet_size(&[])
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let job = Arc::new(Job::new(total));
    jobs.claim(job.clone())?;
    let task = tokio::spawn(run(app, job.clone(), options, owner.actor().clone()));
    jobs.set_task(task.abort_handle());
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"job": job.id, "total": total})),
    ))
}

/// Runs the fleet migration through the platform (which audits it), recording each tenant's
/// outcome as it finishes.
async fn run(app: App, job: Arc<Job>, options: FleetOptions, actor: Actor) {
    let done = app
        .platform()
        .migrate_fleet(&actor, &options, |code, outcome| job.record(code, outcome))
        .await;
    let error = done.as_ref().err().map(ToString::to_string);
    job.finish(error);
}

#[derive(Deserialize)]
pub struct ProgressQuery {
    /// Only outcomes from this index on (a poller passes how many it already has).
    since: Option<usize>,
}

async fn progress(
    Extension(jobs): Extension<Jobs>,
    _o: OwnerAuth,
    Path(id): Path<String>,
    Query(q): Query<ProgressQuery>,
) -> Result<Json<Value>, ApiError> {
    let job = Uuid::parse_str(&id)
        .ok()
        .and_then(|id| jobs.find(id))
        .ok_or_else(|| ApiError::not_found("job_not_found", format!("no migration job {id}")))?;
    Ok(Json(job.report(q.since.unwrap_or(0))))
}

/// The migration jobs of one server: the running one (if any) and the last few finished ones.
#[derive(Clone, Default)]
struct Jobs(Arc<Slots>);

#[derive(Default)]
struct Slots {
    /// A std mutex: held for a few field reads and writes, never across an `.await`.
    state: Mutex<JobList>,
}

#[derive(Default)]
struct JobList {
    /// Newest last.
    recent: VecDeque<Arc<Job>>,
    task: Option<tokio::task::AbortHandle>,
}

impl Jobs {
    /// Registers `job` as the running one, unless another still runs.
    fn claim(&self, job: Arc<Job>) -> Result<(), ApiError> {
        let mut list = self.0.state.lock().expect("jobs mutex poisoned");
        if let Some(running) = list.recent.iter().find(|j| !j.is_finished()) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "migration_running",
                format!("fleet migration {} is still running", running.id),
            ));
        }
        list.recent.push_back(job);
        while list.recent.len() > KEPT_JOBS {
            list.recent.pop_front();
        }
        Ok(())
    }

    fn set_task(&self, task: tokio::task::AbortHandle) {
        self.0.state.lock().expect("jobs mutex poisoned").task = Some(task);
    }

    fn find(&self, id: Uuid) -> Option<Arc<Job>> {
        let list = self.0.state.lock().expect("jobs mutex poisoned");
        list.recent.iter().find(|j| j.id == id).cloned()
    }
}

impl Drop for Slots {
    fn drop(&mut self) {
        if let Some(task) = self.state.get_mut().ok().and_then(|l| l.task.take()) {
            task.abort();
        }
    }
}

/// One fleet migration: its outcomes so far, in completion order.
struct Job {
    id: Uuid,
    started_at: String,
    progress: Mutex<Progress>,
}

#[derive(Default)]
struct Progress {
    total: usize,
    outcomes: Vec<TenantOutcome>,
    finished_at: Option<String>,
    error: Option<String>,
}

#[derive(Clone, Serialize)]
struct TenantOutcome {
    code: TenantCode,
    #[serde(flatten)]
    outcome: Outcome,
}

impl Job {
    fn new(total: usize) -> Self {
        Self {
            id: Uuid::new_v4(),
            started_at: tenantry::db::now(),
            progress: Mutex::new(Progress {
                total,
                ..Progress::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().expect("job mutex poisoned")
    }

    fn is_finished(&self) -> bool {
        self.lock().finished_at.is_some()
    }

    fn record(&self, code: &TenantCode, outcome: &Outcome) {
        self.lock().outcomes.push(TenantOutcome {
            code: code.clone(),
            outcome: outcome.clone(),
        });
    }

    /// Marks the job finished (the fleet may have changed since it started: `total` becomes what
    /// was visited) and returns the summary counts.
    fn finish(&self, error: Option<String>) -> Value {
        let mut p = self.lock();
        if error.is_none() {
            p.total = p.outcomes.len();
        }
        p.error = error;
        p.finished_at = Some(tenantry::db::now());
        summary(&p)
    }

    fn report(&self, since: usize) -> Value {
        let p = self.lock();
        let mut out = summary(&p);
        out["job"] = json!(self.id);
        out["startedAt"] = json!(self.started_at);
        out["finishedAt"] = json!(p.finished_at);
        out["finished"] = json!(p.finished_at.is_some());
        out["error"] = json!(p.error);
        out["since"] = json!(since);
        out["outcomes"] = json!(p.outcomes.get(since..).unwrap_or_default());
        out
    }
}

fn summary(p: &Progress) -> Value {
    let count = |f: fn(&Outcome) -> bool| p.outcomes.iter().filter(|o| f(&o.outcome)).count();
    json!({
        "total": p.total,
        "done": p.outcomes.len(),
        "failed": count(Outcome::is_failure),
        "migrated": count(|o| matches!(o, Outcome::Migrated { .. })),
        "current": count(|o| matches!(o, Outcome::Current { .. })),
    })
}
