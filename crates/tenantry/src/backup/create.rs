//! Backing up one tenant: dump its database, snapshot its files, write the archive. (The platform
//! audits it.)

use super::manifest::{BackupKind, DumpFormat, Manifest, TenantInfo, FORMAT};
use super::store::{archive_name, private_dir};
use super::{archive, blocking, dump, files, BackupError, Backups, Progress};
use crate::registry::{RegistryError, TenantConfig};
use crate::tenant::{TenantCode, TenantStatus};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The outcome of one tenant backup.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupReport {
    /// Where the archive was written.
    pub path: PathBuf,
    /// The archive's file name.
    pub file: String,
    pub archive_size: u64,
    pub archive_sha256: String,
    pub manifest: Manifest,
}

impl Backups {
    /// Backs up tenant `code` to `out_dir` (default: its folder in the backup store).
    #[tracing::instrument(skip(self, out_dir, progress))]
    pub async fn backup(
        &self,
        code: &TenantCode,
        out_dir: Option<&Path>,
        progress: Progress<'_>,
    ) -> Result<BackupReport, BackupError> {
        let config = self.backup_target(code).await?;
        let dir = out_dir.map_or_else(|| self.store.tenant_dir(code), Path::to_owned);
        self.write_backup(&config, &dir, progress).await
    }

    /// Backs up tenant `code` into a file that is already unlinked: the returned handle is the only
    /// way to it, and the disk space goes when it is dropped (for streaming a download).
    pub async fn backup_detached(
        &self,
        code: &TenantCode,
    ) -> Result<(BackupReport, std::fs::File), BackupError> {
        let config = self.backup_target(code).await?;
        let staging = self.store.staging()?;
        let report = self.write_backup(&config, staging.path(), &|_| {}).await?;
        let file = std::fs::File::open(&report.path).map_err(|source| BackupError::Io {
            stage: "opening the archive",
            source,
        })?;
        drop(staging);
        Ok((report, file))
    }

    /// The tenant's config, if it is one that can be backed up (active or suspended).
    pub(super) async fn backup_target(
        &self,
        code: &TenantCode,
    ) -> Result<TenantConfig, BackupError> {
        let config = self
            .registry
            .tenant_config(code)
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("tenant {code}")))?;
        // Refused before any work: an engine without a dump format.
        DumpFormat::for_engine(config.tenant.engine)?;
        let status = config.tenant.status;
        if !matches!(status, TenantStatus::Active | TenantStatus::Suspended) {
            return Err(BackupError::WrongStatus {
                code: code.clone(),
                status,
                action: "backup",
            });
        }
        Ok((*config).clone())
    }

    async fn write_backup(
        &self,
        config: &TenantConfig,
        dir: &Path,
        progress: Progress<'_>,
    ) -> Result<BackupReport, BackupError> {
        let t = &config.tenant;
        let staging = self.store.staging()?;
        let format = DumpFormat::for_engine(t.engine)?;
        let dump_path = staging.path().join(format.part_name());
        progress("dump database");
        dump::dump(&config.source, &dump_path).await?;
        progress("snapshot files");
        let files = files::snapshot(&self.storage, t.id, staging.path()).await?;
        let database =
            blocking(move || archive::part_of(&dump_path, format.part_name().into())).await?;
        let manifest = Manifest {
            format: FORMAT,
            kind: BackupKind::Tenant,
            engine: t.engine,
            tenant: Some(TenantInfo {
                id: t.id,
                code: t.code.clone(),
                name: t.name.clone(),
                placement: t.placement,
                database: t.database.to_string(),
                schema: t.schema.as_ref().map(ToString::to_string),
                schema_version: t.schema_version,
            }),
            master_key_id: None,
            dump_format: format,
            database,
            files,
            created_at: crate::db::now(),
            tenantry_version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        private_dir(dir)?;
        let file = archive_name(t.code.as_str());
        let path = dir.join(&file);
        progress("write archive");
        let (staged, dest, m) = (staging.path().to_owned(), path.clone(), manifest.clone());
        let info = blocking(move || archive::write(&staged, &m, &dest)).await?;
        Ok(BackupReport {
            path,
            file,
            archive_size: info.size,
            archive_sha256: info.sha256,
            manifest,
        })
    }
}
