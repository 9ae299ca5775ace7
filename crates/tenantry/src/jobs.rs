//! Background jobs: work that outlives the request (or command) that started it.
//!
//! A [`Job`] has an id, a [`JobKind`], the steps done so far, items (one per tenant of a fleet
//! job), an outcome and its start and finish times. It is kept in memory: a [`Jobs`] board (a cheap
//! `Clone`, owned by the platform) holds every running job and the last few finished ones. Anyone
//! may follow a job: [`Job::subscribe`] wakes on every change, [`Job::finished`] waits for the end.
//!
//! Jobs are this process's: a restart forgets them. What must survive one (a tenant's
//! provisioning step) is recorded in the registry by the job itself.

use crate::tenant::TenantCode;
use serde::Serialize;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;
use uuid::Uuid;

/// Finished jobs a board keeps by default (running ones are always kept).
pub const KEPT_FINISHED: usize = 64;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum JobKind {
    /// Provisioning a new tenant.
    Provision,
    /// Running the provisioning steps of a `provisioning`/`failed` tenant again.
    Retry,
    /// Finishing, after a restart, a provisioning that had created the admin user.
    Resume,
    /// Migrating every tenant ("migrate all").
    FleetMigrate,
    /// Building a new tenant from a stored backup of another.
    RestoreInto,
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Running,
    Succeeded,
    Failed,
}

/// The tenant a job works on.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobTenant {
    pub id: Uuid,
    pub code: TenantCode,
}

/// One step done, and when.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobStep {
    pub name: String,
    pub at: String,
}

/// A job as it stands: what `GET /api/admin/jobs/{id}` shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobReport {
    pub id: Uuid,
    pub kind: JobKind,
    pub tenant: Option<JobTenant>,
    pub status: JobStatus,
    /// The last step done.
    pub step: Option<String>,
    pub steps: Vec<JobStep>,
    /// Items expected (a fleet job: tenants), when known.
    pub total: Option<usize>,
    /// Items done so far.
    pub done: usize,
    /// Items from index `since` on.
    pub items: Vec<Value>,
    pub since: usize,
    pub error: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
}

/// A cheap `Clone` handle on one job.
#[derive(Clone)]
pub struct Job {
    inner: Arc<JobInner>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.inner.id)
            .field("kind", &self.inner.kind)
            .field("status", &self.status())
            .finish()
    }
}

struct JobInner {
    id: Uuid,
    kind: JobKind,
    tenant: Option<JobTenant>,
    started_at: String,
    /// A std mutex: held for a few field reads and writes, never across an `.await`.
    state: Mutex<JobState>,
    /// Bumped on every change, so followers wake without polling.
    changed: watch::Sender<u64>,
}

struct JobState {
    steps: Vec<JobStep>,
    total: Option<usize>,
    items: Vec<Value>,
    status: JobStatus,
    error: Option<String>,
    finished_at: Option<String>,
}

impl Job {
    fn new(kind: JobKind, tenant: Option<JobTenant>) -> Self {
        Self {
            inner: Arc::new(JobInner {
                id: Uuid::new_v4(),
                kind,
                tenant,
                started_at: crate::db::now(),
                state: Mutex::new(JobState {
                    steps: Vec::new(),
                    total: None,
                    items: Vec::new(),
                    status: JobStatus::Running,
                    error: None,
                    finished_at: None,
                }),
                changed: watch::channel(0).0,
            }),
        }
    }

    pub fn id(&self) -> Uuid {
        self.inner.id
    }

    pub fn kind(&self) -> JobKind {
        self.inner.kind
    }

    pub fn tenant(&self) -> Option<&JobTenant> {
        self.inner.tenant.as_ref()
    }

    fn lock(&self) -> MutexGuard<'_, JobState> {
        self.inner.state.lock().expect("job mutex poisoned")
    }

    /// Changes the state (unless finished) and wakes the followers.
    fn update(&self, f: impl FnOnce(&mut JobState)) {
        {
            let mut state = self.lock();
            if state.status != JobStatus::Running {
                return;
            }
            f(&mut state);
        }
        self.inner.changed.send_modify(|v| *v += 1);
    }

    /// Records that step `name` is done.
    pub fn step(&self, name: &str) {
        let step = JobStep {
            name: name.to_owned(),
            at: crate::db::now(),
        };
        self.update(|s| s.steps.push(step));
    }

    /// How many items the job expects.
    pub fn set_total(&self, total: usize) {
        self.update(|s| s.total = Some(total));
    }

    /// Records one item's outcome (e.g. one tenant of a fleet job).
    pub fn record(&self, item: Value) {
        self.update(|s| s.items.push(item));
    }

    /// Ends the job: succeeded, or failed with `Err(message)`.
    pub fn finish(&self, outcome: Result<(), String>) {
        self.update(|s| {
            match outcome {
                Ok(()) => s.status = JobStatus::Succeeded,
                Err(e) => {
                    s.status = JobStatus::Failed;
                    s.error = Some(e);
                }
            }
            s.finished_at = Some(crate::db::now());
        });
    }

    pub fn status(&self) -> JobStatus {
        self.lock().status
    }

    pub fn is_running(&self) -> bool {
        self.status() == JobStatus::Running
    }

    /// The job as it stands, with the items from index `since` on.
    pub fn report(&self, since: usize) -> JobReport {
        let s = self.lock();
        let since = since.min(s.items.len());
        JobReport {
            id: self.inner.id,
            kind: self.inner.kind,
            tenant: self.inner.tenant.clone(),
            status: s.status,
            step: s.steps.last().map(|st| st.name.clone()),
            steps: s.steps.clone(),
            total: s.total,
            done: s.items.len(),
            items: s.items[since..].to_vec(),
            since,
            error: s.error.clone(),
            started_at: self.inner.started_at.clone(),
            finished_at: s.finished_at.clone(),
        }
    }

    /// A receiver that wakes on every change of the job.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }

    /// Waits until the job has finished and returns its report.
    pub async fn finished(&self) -> JobReport {
        let mut changes = self.subscribe();
        while self.is_running() {
            // The sender lives as long as `self`, so this only returns on a change.
            let _ = changes.changed().await;
        }
        self.report(0)
    }
}

/// The jobs of this process: every running job and the last finished ones; a cheap `Clone`.
#[derive(Clone)]
pub struct Jobs {
    inner: Arc<Board>,
}

struct Board {
    /// Oldest first. A std mutex: held for list operations only, never across an `.await`.
    list: Mutex<VecDeque<Job>>,
    /// Finished jobs kept; older finished ones are forgotten.
    keep_finished: usize,
}

impl Default for Jobs {
    fn default() -> Self {
        Self::new(KEPT_FINISHED)
    }
}

impl Jobs {
    pub fn new(keep_finished: usize) -> Self {
        Self {
            inner: Arc::new(Board {
                list: Mutex::new(VecDeque::new()),
                keep_finished,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Job>> {
        self.inner.list.lock().expect("jobs mutex poisoned")
    }

    /// Registers a new running job.
    pub fn start(&self, kind: JobKind, tenant: Option<JobTenant>) -> Job {
        let job = Job::new(kind, tenant);
        self.push(&mut self.lock(), job.clone());
        job
    }

    /// Registers a new running job of `kind` unless one of that kind runs; `Err` is the running
    /// one.
    pub fn start_exclusive(&self, kind: JobKind) -> Result<Job, Job> {
        let mut list = self.lock();
        if let Some(running) = list.iter().find(|j| j.kind() == kind && j.is_running()) {
            return Err(running.clone());
        }
        let job = Job::new(kind, None);
        self.push(&mut list, job.clone());
        Ok(job)
    }

    fn push(&self, list: &mut VecDeque<Job>, job: Job) {
        list.push_back(job);
        let finished = list.iter().filter(|j| !j.is_running()).count();
        let mut excess = finished.saturating_sub(self.inner.keep_finished);
        list.retain(|j| {
            let drop = excess > 0 && !j.is_running();
            excess -= usize::from(drop);
            !drop
        });
    }

    pub fn get(&self, id: Uuid) -> Option<Job> {
        self.lock().iter().find(|j| j.id() == id).cloned()
    }

    /// The running job working on tenant `id`, if any.
    pub fn running_for_tenant(&self, id: Uuid) -> Option<Job> {
        self.lock()
            .iter()
            .find(|j| j.is_running() && j.tenant().is_some_and(|t| t.id == id))
            .cloned()
    }

    /// Every job kept, newest first.
    pub fn recent(&self) -> Vec<Job> {
        self.lock().iter().rev().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_reports_its_steps_items_and_outcome() {
        let jobs = Jobs::default();
        let job = jobs.start(JobKind::FleetMigrate, None);
        job.set_total(2);
        job.step("started");
        job.record(serde_json::json!({"code": "A"}));
        job.record(serde_json::json!({"code": "B"}));
        job.finish(Err("one failed".into()));
        let r = job.report(1);
        assert_eq!((r.status, r.total, r.done), (JobStatus::Failed, Some(2), 2));
        assert_eq!(r.items, [serde_json::json!({"code": "B"})]);
        assert_eq!(r.step.as_deref(), Some("started"));
        assert_eq!(r.error.as_deref(), Some("one failed"));
        assert!(r.finished_at.is_some());
    }

    #[test]
    fn a_finished_job_changes_no_more() {
        let job = Jobs::default().start(JobKind::Provision, None);
        job.finish(Ok(()));
        job.step("late");
        job.finish(Err("late".into()));
        let r = job.report(0);
        assert_eq!((r.status, r.steps.len()), (JobStatus::Succeeded, 0));
    }

    #[test]
    fn the_board_forgets_the_oldest_finished_jobs_but_never_a_running_one() {
        let jobs = Jobs::new(2);
        let running = jobs.start(JobKind::Provision, None);
        let first = jobs.start(JobKind::Provision, None);
        first.finish(Ok(()));
        for _ in 0..3 {
            jobs.start(JobKind::Provision, None).finish(Ok(()));
        }
        jobs.start(JobKind::Provision, None);
        assert!(jobs.get(running.id()).is_some());
        assert!(jobs.get(first.id()).is_none());
        assert_eq!(jobs.recent().iter().filter(|j| !j.is_running()).count(), 2);
    }

    #[test]
    fn only_one_exclusive_job_of_a_kind_runs_at_a_time() {
        let jobs = Jobs::default();
        let first = jobs.start_exclusive(JobKind::FleetMigrate).unwrap();
        let refused = jobs.start_exclusive(JobKind::FleetMigrate).unwrap_err();
        assert_eq!(refused.id(), first.id());
        first.finish(Ok(()));
        assert!(jobs.start_exclusive(JobKind::FleetMigrate).is_ok());
    }

    #[tokio::test]
    async fn a_follower_wakes_when_the_job_finishes() {
        let job = Jobs::default().start(JobKind::Retry, None);
        let follower = tokio::spawn({
            let job = job.clone();
            async move { job.finished().await }
        });
        tokio::task::yield_now().await;
        job.step("migrate");
        job.finish(Ok(()));
        let report = follower.await.unwrap();
        assert_eq!(report.status, JobStatus::Succeeded);
        assert_eq!(report.steps[0].name, "migrate");
    }
}
