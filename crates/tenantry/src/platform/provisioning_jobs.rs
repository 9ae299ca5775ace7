//! Provisioning steps as background jobs: a new tenant's, a retry's, and, after a restart, the
//! resumption (or visible failure) of provisionings that were interrupted.

use super::provisioning::{choose_admin_password, JobPlan, ProvisionStarted};
use super::{Actor, AuditAction, Platform, PlatformError, TenantRef};
use crate::jobs::{Job, JobKind, JobTenant};
use crate::provision::{ProvisionError, Provisioner, ADMIN_USER_STEP};
use crate::registry::{Tenant, TenantFilter};
use crate::secrets::expose;
use crate::tenant::{Placement, TenantStatus};
use futures::FutureExt;
use secrecy::SecretString;
use serde_json::json;
use tokio::sync::oneshot;

/// What a restart did with one tenant it found `provisioning`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recovery {
    pub tenant: Tenant,
    /// The job finishing it, when it could be resumed (its admin user existed).
    pub job: Option<uuid::Uuid>,
}

impl Platform {
    /// Starts the job that runs `tenant`'s provisioning steps (and creates its storage directory)
    /// and writes the audit row of `plan.action` whatever the outcome.
    pub(super) fn start_provisioning_job(
        &self,
        tenant: &Tenant,
        plan: JobPlan,
        outcome: oneshot::Sender<Result<Tenant, PlatformError>>,
    ) -> Job {
        let who = JobTenant {
            id: tenant.id,
            code: tenant.code.clone(),
        };
        let job = self.jobs().start(plan.kind, Some(who));
        if let Some(step) = &tenant.provisioning_step {
            job.step(step);
        }
        let (platform, running, id) = (self.clone(), job.clone(), tenant.id);
        tokio::spawn(async move {
            let steps = platform.run_provisioning(&running, &plan, id);
            let done = std::panic::AssertUnwindSafe(steps).catch_unwind().await;
            let done = done.unwrap_or_else(|_| {
                Err(PlatformError::Interrupted {
                    what: "provisioning".into(),
                    reason: "its job panicked".into(),
                })
            });
            let (actor, action, detail) = (&plan.actor, plan.action, plan.detail.clone());
            let done = platform
                .audited(actor, action, Some(id), detail, done)
                .await;
            running.finish(done.as_ref().map(|_| ()).map_err(ToString::to_string));
            let _ = outcome.send(done);
        });
        job
    }

    async fn run_provisioning(
        &self,
        job: &Job,
        plan: &JobPlan,
        id: uuid::Uuid,
    ) -> Result<Tenant, PlatformError> {
        let code = self.registry().tenant_by_id(id).await?.code;
        let progress = |step: &'static str| job.step(step);
        let p = self
            .provisioner(plan.migrate_external)
            .separate_db_users(plan.separate_db_user);
        let done = match &plan.admin_password {
            Some(pw) => p.finish_reporting(&code, expose(pw), &progress).await,
            None => p.resume_reporting(&code, &progress).await,
        };
        let tenant = done.map_err(provision_error)?;
        self.storage().ensure_tenant_dir(tenant.id).await?;
        job.step("storage directory");
        Ok(tenant)
    }

    /// Runs every step again, as a job, for a tenant left `provisioning` or `failed` (the admin
    /// user gets `admin_password`, generated when `None`). Refused while a job of this process
    /// still works on the tenant.
    #[tracing::instrument(skip(self, admin_password))]
    pub async fn retry(
        &self,
        actor: &Actor,
        r: &TenantRef,
        admin_password: Option<SecretString>,
        migrate_external: bool,
    ) -> Result<ProvisionStarted, PlatformError> {
        let action = AuditAction::TenantRetry;
        let before = self.target(actor, action, r).await?;
        let detail = json!({"before": {"status": before.status, "step": before.provisioning_step}});
        if let Err(e) = self.retryable(&before) {
            return self
                .audited(actor, action, Some(before.id), detail, Err(e))
                .await;
        }
        let (password, generated) = choose_admin_password(admin_password);
        let plan = JobPlan {
            actor: actor.clone(),
            action,
            kind: JobKind::Retry,
            admin_password: Some(password),
            migrate_external,
            separate_db_user: self.settings().separate_db_users,
            detail,
        };
        let (outcome_tx, outcome) = oneshot::channel();
        let job = self.start_provisioning_job(&before, plan, outcome_tx);
        Ok(ProvisionStarted {
            tenant: before,
            job,
            generated_admin_password: generated,
            outcome,
        })
    }

    fn retryable(&self, t: &Tenant) -> Result<(), PlatformError> {
        if !matches!(t.status, TenantStatus::Provisioning | TenantStatus::Failed) {
            return Err(PlatformError::WrongStatus {
                code: t.code.clone(),
                status: t.status,
                action: "retry",
                needs: "provisioning or failed",
            });
        }
        match self.jobs().running_for_tenant(t.id) {
            Some(job) => Err(PlatformError::JobRunning {
                kind: job.kind(),
                job: job.id(),
                what: format!("provisioning of tenant {}", t.code),
            }),
            None => Ok(()),
        }
    }

    /// At start-up: every tenant left `provisioning` with no job of this process on it was
    /// interrupted. One whose admin user exists is resumed by a job (no password needed); the
    /// others are marked `failed` with a reason that says to retry them (a retry sets a new admin
    /// password). Each gets an audit row (`tenant.recover`). Assumes no other process is
    /// provisioning on the same registry at this moment.
    pub async fn recover_provisioning(&self) -> Result<Vec<Recovery>, PlatformError> {
        let mut stuck = Vec::new();
        for page in 1.. {
            let filter = TenantFilter {
                status: Some(TenantStatus::Provisioning),
                page,
                limit: 500,
                ..TenantFilter::default()
            };
            let (found, total) = self.registry().list_tenants(&filter).await?;
            stuck.extend(found);
            if stuck.len() as i64 >= total || page * 500 >= total as u32 {
                break;
            }
        }
        let mut recovered = Vec::new();
        for tenant in stuck {
            if self.jobs().running_for_tenant(tenant.id).is_some() {
                continue;
            }
            recovered.push(self.recover(tenant).await?);
        }
        Ok(recovered)
    }

    async fn recover(&self, tenant: Tenant) -> Result<Recovery, PlatformError> {
        let action = AuditAction::TenantRecover;
        let step = tenant.provisioning_step.clone();
        let detail = json!({"before": {"status": tenant.status, "step": step}});
        if step.as_deref() == Some(ADMIN_USER_STEP) {
            let plan = JobPlan {
                actor: Actor::System,
                action,
                kind: JobKind::Resume,
                admin_password: None,
                // A customer's database we may migrate said so at its migrate step, done by now.
                migrate_external: tenant.placement == Placement::External && tenant.schema_managed,
                separate_db_user: false,
                detail,
            };
            let job = self.start_provisioning_job(&tenant, plan, oneshot::channel().0);
            return Ok(Recovery {
                tenant,
                job: Some(job.id()),
            });
        }
        let after = step.as_deref().unwrap_or("none");
        let e = PlatformError::Interrupted {
            what: format!("provisioning of tenant {}", tenant.code),
            reason: format!(
                "the server stopped after step {after:?}, before the admin user was created; \
                 retry it (`tenantry tenant provision --retry {}` or POST \
                 /api/admin/tenants/{}/retry), which sets a new admin password",
                tenant.code, tenant.code
            ),
        };
        let reason = e.to_string();
        let code = &tenant.code;
        self.registry()
            .set_status(code, TenantStatus::Failed, Some(&reason))
            .await?;
        let failed: Result<(), _> = Err(e);
        let _ = self
            .audited(&Actor::System, action, Some(tenant.id), detail, failed)
            .await;
        let tenant = self.registry().tenant(code).await?;
        Ok(Recovery { tenant, job: None })
    }

    pub(super) fn provisioner(&self, migrate_external: bool) -> Provisioner {
        Provisioner::new(self.registry().clone(), self.pools().clone())
            .migrate_external(migrate_external)
            .separate_db_users(self.settings().separate_db_users)
    }
}

pub(super) fn provision_error(e: ProvisionError) -> PlatformError {
    match e {
        ProvisionError::Registry(r) => r.into(),
        ProvisionError::Step { step, message } => PlatformError::Provision { step, message },
        ProvisionError::DatabaseInUse { field, message } => {
            PlatformError::DatabaseInUse { field, message }
        }
    }
}
