//! Backing up the fleet: every active or suspended tenant, a bounded number at once. One tenant's
//! failure stops nobody else; each result is reported as it comes.

use super::{BackupError, BackupReport, Backups};
use crate::tenant::{TenantCode, TenantStatus};
use futures::StreamExt;
use std::path::PathBuf;

/// What `backup --all` does.
#[derive(Debug, Clone)]
pub struct FleetBackupOptions {
    /// Tenants backed up at once. Default: 4 (dumps are I/O- and CPU-heavy).
    pub concurrency: usize,
    /// Write every archive here instead of each tenant's folder in the store. Default: none.
    pub out_dir: Option<PathBuf>,
    /// Only these tenants (all when empty).
    pub only: Vec<TenantCode>,
}

impl Default for FleetBackupOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            out_dir: None,
            only: Vec::new(),
        }
    }
}

/// One tenant's result in a fleet backup.
pub type FleetResult = (TenantCode, Result<BackupReport, BackupError>);

impl Backups {
    /// The tenants [`Backups::backup_all`] visits: active or suspended, optionally only some.
    pub async fn fleet(&self, only: &[TenantCode]) -> Result<Vec<TenantCode>, BackupError> {
        Ok(self
            .registry
            .all_configs()
            .await?
            .into_iter()
            .filter(|c| {
                matches!(
                    c.tenant.status,
                    TenantStatus::Active | TenantStatus::Suspended
                )
            })
            .map(|c| c.tenant.code)
            .filter(|code| only.is_empty() || only.contains(code))
            .collect())
    }

    /// Backs up every tenant of the fleet with at most `concurrency` at once. `progress` is called
    /// once per tenant as it finishes; results come back sorted by code.
    pub async fn backup_all(
        &self,
        options: &FleetBackupOptions,
        actor: &str,
        progress: impl Fn(&TenantCode, &Result<BackupReport, BackupError>),
    ) -> Result<Vec<FleetResult>, BackupError> {
        let codes = self.fleet(&options.only).await?;
        let out_dir = options.out_dir.as_deref();
        let mut results: Vec<FleetResult> = futures::stream::iter(codes)
            .map(|code| async move {
                let done = self.backup(&code, out_dir, actor, &|_| {}).await;
                (code, done)
            })
            .buffer_unordered(options.concurrency.max(1))
            .inspect(|(code, done)| progress(code, done))
            .collect()
            .await;
        results.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(results)
    }
}
