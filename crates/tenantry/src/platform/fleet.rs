//! Fleet operations through the platform: migrating every tenant (audited, with its summary), in
//! the caller's task or as a background job, and drift. The work itself is [`crate::fleet`]'s.

use super::{Actor, AuditAction, Platform, PlatformError};
use crate::fleet::{self, Drift, FleetOptions, Outcome};
use crate::jobs::{Job, JobKind};
use crate::tenant::TenantCode;
use serde_json::json;

impl Platform {
    /// How many tenants [`Platform::migrate_fleet`] would visit.
    pub async fn fleet_size(&self, only: &[TenantCode]) -> Result<usize, PlatformError> {
        Ok(fleet::fleet_size(self.registry(), only).await?)
    }

    /// Migrates the fleet (see [`crate::fleet::migrate_fleet`]); one audit row with the counts and
    /// the codes of the tenants that failed. Tenant failures are results, not an error.
    #[tracing::instrument(skip(self, progress))]
    pub async fn migrate_fleet(
        &self,
        actor: &Actor,
        options: &FleetOptions,
        progress: impl Fn(&TenantCode, &Outcome),
    ) -> Result<Vec<(TenantCode, Outcome)>, PlatformError> {
        let done = fleet::migrate_fleet(self.registry(), self.pools(), options, progress).await;
        let done = done.map_err(PlatformError::from);
        if options.dry_run {
            return done; // changes nothing, so nothing to audit
        }
        let mut detail = json!({"only": options.only});
        if let Ok(results) = &done {
            self.count_migrations(results);
            let count = |f: fn(&Outcome) -> bool| results.iter().filter(|(_, o)| f(o)).count();
            detail["migrated"] = json!(count(|o| matches!(o, Outcome::Migrated { .. })));
            detail["current"] = json!(count(|o| matches!(o, Outcome::Current { .. })));
            detail["failed"] = json!(count(Outcome::is_failure));
            let failed: Vec<String> = results
                .iter()
                .filter(|(_, o)| o.is_failure())
                .map(|(c, _)| c.to_string())
                .collect();
            detail["failedTenants"] = json!(failed);
        }
        self.audited(actor, AuditAction::FleetMigrate, None, detail, done)
            .await
    }

    /// Starts migrating the fleet as a background job (one at a time: `JobRunning` names the
    /// running one). Each tenant's outcome is recorded on the job as `{code, outcome, …}` as it
    /// finishes; the job's total is the number of tenants to visit.
    pub async fn start_fleet_migration(
        &self,
        actor: &Actor,
        options: FleetOptions,
    ) -> Result<Job, PlatformError> {
        let total = self.fleet_size(&options.only).await?;
        let job = self
            .jobs()
            .start_exclusive(JobKind::FleetMigrate)
            .map_err(|running| PlatformError::JobRunning {
                kind: running.kind(),
                job: running.id(),
                what: "fleet migration".into(),
            })?;
        job.set_total(total);
        let (platform, running, actor) = (self.clone(), job.clone(), actor.clone());
        tokio::spawn(async move {
            let record = |code: &TenantCode, outcome: &Outcome| {
                let mut item = serde_json::to_value(outcome).unwrap_or_default();
                item["code"] = json!(code);
                running.record(item);
            };
            let done = platform.migrate_fleet(&actor, &options, record).await;
            if let Ok(results) = &done {
                // The fleet may have changed since the start: the total is what was visited.
                running.set_total(results.len());
            }
            running.finish(done.map(|_| ()).map_err(|e| e.to_string()));
        });
        Ok(job)
    }

    fn count_migrations(&self, results: &[(TenantCode, Outcome)]) {
        for (_, outcome) in results {
            let name = match outcome {
                Outcome::Migrated { .. } => "migrated",
                Outcome::Current { .. } => "current",
                Outcome::WouldMigrate { .. } => continue,
                Outcome::Skipped { .. } => "skipped",
                Outcome::Failed { .. } => "failed",
            };
            self.inner.counters.migration(name, 1);
        }
    }

    /// Every tenant's recorded schema version against the binary's (registry only).
    pub async fn drift(&self) -> Result<Vec<Drift>, PlatformError> {
        Ok(fleet::drift(self.registry()).await?)
    }
}
