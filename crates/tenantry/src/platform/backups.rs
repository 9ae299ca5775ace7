//! Backups and restores through the platform: each one for an `Actor`, audited whatever the
//! outcome. The work is [`crate::backup`]'s; backups live in `{data_dir}/backups`.

use super::{Actor, AuditAction, Platform, PlatformError, TenantRef};
use crate::backup::registry_backup::RegistryBackupReport;
use crate::backup::{
    self, registry_backup, BackupReport, BackupStore, BackupSummary, Backups, FleetBackupOptions,
    Manifest, NewTenantFrom, Progress, RestoreReport,
};
use crate::jobs::{Job, JobKind, JobTenant};
use crate::secrets::SecretBox;
use crate::tenant::TenantCode;
use futures::{FutureExt, StreamExt};
use serde_json::{json, Value};
use std::path::Path;

/// One tenant's result in a fleet backup.
pub type FleetBackupResult = (TenantCode, Result<BackupReport, PlatformError>);

impl Platform {
    /// The backup service over this platform's registry, pools, files and backup folder.
    fn backups(&self) -> Backups {
        Backups::new(
            self.registry().clone(),
            self.pools().clone(),
            self.storage().clone(),
            &self.settings().data_dir,
        )
    }

    /// Where backups are kept: `{data_dir}/backups`.
    pub fn backup_store(&self) -> BackupStore {
        BackupStore::in_data_dir(&self.settings().data_dir)
    }

    /// Backs up one tenant (active or suspended) to `out_dir` (default: its folder in the store).
    pub async fn backup(
        &self,
        actor: &Actor,
        r: &TenantRef,
        out_dir: Option<&Path>,
        progress: Progress<'_>,
    ) -> Result<BackupReport, PlatformError> {
        let action = AuditAction::TenantBackup;
        let t = self.target(actor, action, r).await?;
        let done = self.backups().backup(&t.code, out_dir, progress).await;
        let detail = backup_detail(done.as_ref().ok(), false);
        let done = done.map_err(PlatformError::from);
        self.audited(actor, action, Some(t.id), detail, done).await
    }

    /// Backs up one tenant into an already-unlinked file, for streaming: the handle is the only
    /// way to it, and the disk space goes when it is dropped.
    pub async fn backup_stream(
        &self,
        actor: &Actor,
        r: &TenantRef,
    ) -> Result<(BackupReport, std::fs::File), PlatformError> {
        let action = AuditAction::TenantBackup;
        let t = self.target(actor, action, r).await?;
        let done = self.backups().backup_detached(&t.code).await;
        let detail = backup_detail(done.as_ref().ok().map(|(r, _)| r), true);
        let done = done.map_err(PlatformError::from);
        self.audited(actor, action, Some(t.id), detail, done).await
    }

    /// The stored backups of one tenant, newest first.
    pub async fn list_backups(&self, r: &TenantRef) -> Result<Vec<BackupSummary>, PlatformError> {
        let t = self.tenant(r).await?;
        Ok(self.backups().list(&t.code).await?)
    }

    /// The tenants a fleet backup visits (active or suspended; all when `only` is empty).
    pub async fn backup_fleet(
        &self,
        only: &[TenantCode],
    ) -> Result<Vec<TenantCode>, PlatformError> {
        Ok(self.backups().fleet(only).await?)
    }

    /// Backs up every tenant of the fleet, at most `options.concurrency` at once, each audited.
    /// One tenant's failure stops nobody else; `progress` hears each as it finishes; the results
    /// come back sorted by code.
    pub async fn backup_all(
        &self,
        actor: &Actor,
        options: &FleetBackupOptions,
        progress: impl Fn(&TenantCode, &Result<BackupReport, PlatformError>),
    ) -> Result<Vec<FleetBackupResult>, PlatformError> {
        let codes = self.backup_fleet(&options.only).await?;
        let out_dir = options.out_dir.as_deref();
        let mut results: Vec<FleetBackupResult> = futures::stream::iter(codes)
            .map(|code| async move {
                let r = TenantRef::Code(code.clone());
                (code, self.backup(actor, &r, out_dir, &|_| {}).await)
            })
            .buffer_unordered(options.concurrency.max(1))
            .inspect(|(code, done)| progress(code, done))
            .collect()
            .await;
        results.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(results)
    }

    /// Replaces a tenant's database and files with a backup of it (needs `confirm`).
    pub async fn restore(
        &self,
        actor: &Actor,
        r: &TenantRef,
        archive: &Path,
        confirm: bool,
        progress: Progress<'_>,
    ) -> Result<RestoreReport, PlatformError> {
        let action = AuditAction::TenantRestore;
        let t = self.target(actor, action, r).await?;
        let done = (self.backups())
            .restore(&t.code, archive, confirm, progress)
            .await;
        if done.is_ok() {
            // The restored `users` table may differ from the one statuses were cached from.
            self.users_changed(&t.code).await;
        }
        let mut detail = restore_detail(archive, done.as_ref().ok().map(|r| &r.manifest));
        detail["into"] = Value::Null;
        if let Ok(report) = &done {
            detail["files"] = json!(report.manifest.files.len());
        }
        let done = done.map_err(PlatformError::from);
        self.audited(actor, action, Some(t.id), detail, done).await
    }

    /// Builds a new tenant `into.code` from a backup of tenant `code` (in a new database that
    /// must not exist); the audit row is the new tenant's.
    pub async fn restore_into(
        &self,
        actor: &Actor,
        code: &TenantCode,
        archive: &Path,
        into: &NewTenantFrom,
        progress: Progress<'_>,
    ) -> Result<RestoreReport, PlatformError> {
        let done = (self.backups())
            .restore_into(code, archive, into, progress)
            .await;
        let mut detail = restore_detail(archive, done.as_ref().ok().map(|r| &r.manifest));
        detail["into"] = json!(into.code);
        let tenant_id = match &done {
            Ok(report) => Some(report.tenant.id),
            // The new tenant exists when the restore failed after registering it.
            Err(_) => self.registry().tenant(&into.code).await.ok().map(|t| t.id),
        };
        if let Ok(report) = &done {
            detail["server"] = json!(report.tenant.server_name);
        }
        let done = done.map_err(PlatformError::from);
        let action = AuditAction::TenantRestore;
        self.audited(actor, action, tenant_id, detail, done).await
    }

    /// Starts a job that builds tenant `into.code` from the stored backup `file` of tenant `r`
    /// ([`Platform::restore_into`], audited there). The backup and the new code are checked
    /// first, so a missing backup (404) or a taken code (409) is answered before any job starts.
    /// The job belongs to the backed-up tenant; its one item is the new tenant once built.
    pub async fn start_restore_into(
        &self,
        actor: &Actor,
        r: &TenantRef,
        file: &str,
        into: NewTenantFrom,
    ) -> Result<Job, PlatformError> {
        let from = self.tenant(r).await?;
        let archive = self.backup_store().find(&from.code, file)?;
        if self.registry().tenant(&into.code).await.is_ok() {
            let what = format!("tenant {}", into.code);
            return Err(PlatformError::Conflict { what });
        }
        let who = JobTenant {
            id: from.id,
            code: from.code.clone(),
        };
        let job = self.jobs().start(JobKind::RestoreInto, Some(who));
        let (platform, running, actor) = (self.clone(), job.clone(), actor.clone());
        tokio::spawn(async move {
            let progress = |step: &'static str| running.step(step);
            let work = platform.restore_into(&actor, &from.code, &archive, &into, &progress);
            let done = std::panic::AssertUnwindSafe(work).catch_unwind().await;
            let done = match done {
                Ok(Ok(report)) => {
                    running.record(json!({ "tenant": report.tenant }));
                    Ok(())
                }
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("the restore job panicked".to_owned()),
            };
            running.finish(done);
        });
        Ok(job)
    }

    /// Backs up the registry (opened from `url`) to the archive `out`.
    pub async fn backup_registry(
        &self,
        actor: &Actor,
        url: &str,
        out: &Path,
    ) -> Result<RegistryBackupReport, PlatformError> {
        let done = registry_backup::backup_registry(self.registry(), url, out).await;
        let detail = match &done {
            Ok(r) => json!({"file": backup::file_name(out), "archiveSize": r.archive_size,
                            "sha256": r.archive_sha256}),
            Err(_) => json!({"file": backup::file_name(out)}),
        };
        let done = done.map_err(PlatformError::from);
        let action = AuditAction::RegistryBackup;
        self.audited(actor, action, None, detail, done).await
    }

    /// Replaces the registry at `url` with a backup (needs `confirm`; no process may have it
    /// open). There is no platform while it happens: the restored registry records the restore.
    pub async fn restore_registry(
        actor: &Actor,
        url: &str,
        archive: &Path,
        secrets: &SecretBox,
        confirm: bool,
    ) -> Result<Manifest, PlatformError> {
        let (manifest, registry) =
            registry_backup::restore_registry(url, archive, secrets, confirm).await?;
        let detail = json!({"file": backup::file_name(archive), "createdAt": manifest.created_at});
        let action = AuditAction::RegistryRestore.as_str();
        let written = registry
            .audit(&actor.to_string(), action, None, detail, "ok")
            .await;
        registry.close().await;
        written.map_err(|source| PlatformError::Audit { action, source })?;
        Ok(manifest)
    }
}

/// The audit detail of a backup (a failure adds its error).
fn backup_detail(done: Option<&BackupReport>, streamed: bool) -> Value {
    match done {
        Some(r) => json!({
            "file": if streamed { Value::Null } else { r.file.clone().into() },
            "streamed": streamed,
            "archiveSize": r.archive_size,
            "sha256": r.archive_sha256,
            "files": r.manifest.files.len(),
            "schemaVersion": r.manifest.tenant.as_ref().and_then(|t| t.schema_version),
        }),
        None => json!({ "streamed": streamed }),
    }
}

/// The audit detail of a restore: the archive and, once read, where its data came from.
fn restore_detail(archive: &Path, manifest: Option<&Manifest>) -> Value {
    json!({"file": backup::file_name(archive), "from": manifest.map(backup::origin)})
}
