//! Backing up the fleet: which tenants, and how (the platform runs it: a bounded number at once,
//! each audited; one tenant's failure stops nobody else).

use super::{BackupError, Backups};
use crate::tenant::{TenantCode, TenantStatus};
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

impl Backups {
    /// The tenants a fleet backup visits: active or suspended, optionally only some.
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
}
