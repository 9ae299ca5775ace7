//! Restoring a tenant backup over the tenant it was taken of: confirmed, checksums verified
//! first, the tenant suspended and its pool closed while its data is replaced.

use super::dump::{self, Target};
use super::manifest::{BackupKind, Manifest, TenantInfo};
use super::{archive, blocking, files, BackupError, Backups, Progress};
use crate::registry::{RegistryError, Tenant};
use crate::tenant::{Engine, TenantCode, TenantStatus};
use serde::Serialize;
use serde_json::json;
use std::path::Path;

/// The outcome of a restore: the tenant as it is now, and the manifest of what was restored.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreReport {
    pub tenant: Tenant,
    pub manifest: Manifest,
}

/// The reason a tenant keeps while a restore replaces its data (requests answer 403 meanwhile).
const RESTORING: &str = "restore in progress";

impl Backups {
    /// Replaces tenant `code`'s database and files with those of `archive` (a backup of the same
    /// tenant code, same engine). Needs `confirm`. Every checksum is verified before anything is
    /// touched; meanwhile the tenant is suspended and its pool closed, and afterwards it returns to
    /// its former status. Should the restore fail after data was changed, the tenant stays
    /// suspended with the reason, to be restored again.
    ///
    /// Only this process's pool is closed: another process serving the same registry sees the
    /// suspension once its config cache expires, and keeps its SQLite connections on the replaced
    /// file until they close; suspend the tenant there first, or restart it.
    #[tracing::instrument(skip(self, archive, progress), fields(archive = %archive.display()))]
    pub async fn restore(
        &self,
        code: &TenantCode,
        archive: &Path,
        confirm: bool,
        progress: Progress<'_>,
    ) -> Result<RestoreReport, BackupError> {
        if !confirm {
            return Err(BackupError::ConfirmationRequired {
                what: format!("tenant {code}"),
            });
        }
        let tenant = self.registry.tenant(code).await?;
        if !matches!(
            tenant.status,
            TenantStatus::Active | TenantStatus::Suspended
        ) {
            return Err(BackupError::WrongStatus {
                code: code.clone(),
                status: tenant.status,
                action: "restore",
            });
        }
        let staging = self.store.staging()?;
        progress("verify archive");
        let manifest = unpack(archive, staging.path()).await?;
        let info = tenant_info(&manifest, code)?;
        check_fits(&tenant, &manifest, info)?;
        self.replace_data(&tenant, &manifest, staging.path(), progress)
            .await?;
        let tenant = self.registry.tenant(code).await?;
        Ok(RestoreReport { tenant, manifest })
    }

    /// Suspends the tenant (if active) and closes its pool, loads the staged data, and sets the
    /// status after: the former one, or `suspended` with the reason when data may have changed.
    async fn replace_data(
        &self,
        tenant: &Tenant,
        manifest: &Manifest,
        staging: &Path,
        progress: Progress<'_>,
    ) -> Result<(), BackupError> {
        let (code, was_active) = (&tenant.code, tenant.status == TenantStatus::Active);
        if was_active {
            self.registry
                .set_status(code, TenantStatus::Suspended, Some(RESTORING))
                .await?;
        }
        self.pools.evict(tenant.id);
        let mut touched = false;
        let done = self
            .load_everything(
                code,
                manifest,
                staging,
                Target::Replace,
                &mut touched,
                progress,
            )
            .await;
        self.pools.evict(tenant.id);
        match &done {
            Err(e) if touched => {
                let reason = format!("restore failed, data may be incomplete ({e}); restore again");
                self.registry
                    .set_status(code, TenantStatus::Suspended, Some(&reason))
                    .await?
            }
            _ if was_active => {
                self.registry
                    .set_status(code, TenantStatus::Active, None)
                    .await?
            }
            _ => {}
        }
        done
    }

    /// Loads the staged dump and files into tenant `code` and records the schema version.
    /// `touched` turns true once the tenant's data may have changed.
    pub(super) async fn load_everything(
        &self,
        code: &TenantCode,
        manifest: &Manifest,
        staging: &Path,
        target: Target,
        touched: &mut bool,
        progress: Progress<'_>,
    ) -> Result<(), BackupError> {
        let config = self
            .registry
            .tenant_config(code)
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("tenant {code}")))?;
        progress("restore database");
        // PostgreSQL restores in one transaction and SQLite by one rename: a failure changes
        // nothing. A MariaDB load may stop half-way.
        *touched |= manifest.engine == Engine::Mysql;
        dump::load(
            &config.source,
            &staging.join(&manifest.database.name),
            target,
        )
        .await?;
        *touched = true;
        progress("restore files");
        files::replace(&self.storage, config.tenant.id, staging, &manifest.files).await?;
        if let Some(version) = manifest.tenant.as_ref().and_then(|t| t.schema_version) {
            self.registry.set_schema_version(code, version).await?;
        }
        Ok(())
    }
}

pub(super) fn step<E: std::fmt::Display>(step: &'static str) -> impl FnOnce(E) -> BackupError {
    move |e| BackupError::Step {
        step,
        message: e.to_string(),
    }
}

pub(super) async fn unpack(archive: &Path, staging: &Path) -> Result<Manifest, BackupError> {
    let (archive, staging) = (archive.to_owned(), staging.to_owned());
    blocking(move || archive::unpack_verified(&archive, &staging)).await
}

/// The manifest's tenant, which must be `code`.
pub(super) fn tenant_info<'m>(
    manifest: &'m Manifest,
    code: &TenantCode,
) -> Result<&'m TenantInfo, BackupError> {
    let info = match (&manifest.kind, &manifest.tenant) {
        (BackupKind::Tenant, Some(info)) => info,
        _ => {
            let why =
                "the archive is a registry backup: restore it with `tenantry registry restore`";
            return Err(BackupError::Incompatible(why.into()));
        }
    };
    if &info.code != code {
        return Err(BackupError::OtherTenant {
            code: code.clone(),
            backup: info.code.to_string(),
        });
    }
    Ok(info)
}

/// An in-place restore needs the same engine, and a schema dump needs the same schema.
fn check_fits(tenant: &Tenant, manifest: &Manifest, info: &TenantInfo) -> Result<(), BackupError> {
    if tenant.engine != manifest.engine {
        return Err(BackupError::EngineMismatch {
            target: format!("tenant {}", tenant.code),
            backup: manifest.engine,
            actual: tenant.engine,
        });
    }
    let tenant_schema = tenant.schema.as_ref().map(ToString::to_string);
    if manifest.engine == Engine::Postgres && info.schema != tenant_schema {
        let describe = |s: &Option<String>| match s {
            Some(s) => format!("schema {s}"),
            None => "a whole database".to_owned(),
        };
        return Err(BackupError::Incompatible(format!(
            "the backup holds {} but tenant {} uses {}",
            describe(&info.schema),
            tenant.code,
            describe(&tenant_schema)
        )));
    }
    Ok(())
}

/// The file name of `archive`, for audit rows.
pub fn file_name(archive: &Path) -> String {
    archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Where a restore's data came from, for its audit row.
pub fn origin(manifest: &Manifest) -> serde_json::Value {
    match &manifest.tenant {
        Some(info) => json!({"code": info.code, "tenantId": info.id,
                             "createdAt": manifest.created_at, "schemaVersion": info.schema_version}),
        None => serde_json::Value::Null,
    }
}
