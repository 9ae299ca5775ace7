//! Per-tenant backups and restores, and backups of the registry itself.
//!
//! One backup is one archive (`.tar.zst`): `manifest.json` first (tenant, engine, placement, schema
//! version, the size and sha256 of every part, time, tenantry version), then the database dump,
//! then the tenant's files. Dumps use the engines' own tools (see [`dump`]); passwords reach them
//! through the environment or a 0600 option file, never the command line. Compression, hashing and
//! file copies run on the blocking pool.
//!
//! A restore verifies every checksum before it touches anything, then replaces the tenant's
//! database and files (with the tenant suspended and its pool closed meanwhile), or builds a new
//! tenant from the archive ([`Backups::restore_into`]). These are building blocks: the platform
//! (`platform/backups.rs`) runs them for an `Actor` and audits each one.
//!
//! - [`Backups`]: the operations on one registry, pool manager, file store and backup folder.
//! - [`BackupStore`]: `{data_dir}/backups/{code}/…`; listing.
//! - [`registry_backup`]: the control plane's own backup and restore.

mod archive;
mod create;
mod dump;
mod files;
mod fleet;
mod manifest;
pub mod registry_backup;
mod restore;
mod restore_into;
mod store;
mod tools;

pub use archive::ArchiveInfo;
pub use create::BackupReport;
pub use fleet::FleetBackupOptions;
pub use manifest::{BackupKind, BackupSummary, DumpFormat, Manifest, Part, TenantInfo};
pub use restore::{file_name, origin, RestoreReport};
pub use restore_into::NewTenantFrom;
pub use store::{BackupStore, ARCHIVE_SUFFIX};

use crate::pools::PoolManager;
use crate::registry::{Registry, RegistryError};
use crate::storage::{Storage, StorageError};
use crate::tenant::{Engine, TenantCode, TenantStatus};
use std::path::Path;

/// Which stage of a backup or restore failed. Never carries a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("tenant {code} is {status}; {action} needs it active or suspended")]
    WrongStatus {
        code: TenantCode,
        status: TenantStatus,
        action: &'static str,
    },
    #[error(
        "{tool} was not found (searched $PATH and /usr/lib/postgresql/*/bin); install {package}"
    )]
    ToolMissing { tool: String, package: &'static str },
    #[error("{tool} failed: {message}")]
    Tool { tool: String, message: String },
    #[error("the database failed while {stage}: {source}")]
    Database {
        stage: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("{stage} failed: {source}")]
    Io {
        stage: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("reading the tenant's files failed: {0}")]
    Storage(#[from] StorageError),
    #[error("not a tenantry backup: {0}")]
    InvalidArchive(String),
    #[error("the archive was altered or damaged ({0}); nothing was restored")]
    Tampered(String),
    #[error("restoring over {what} replaces its data: confirm it (--confirm)")]
    ConfirmationRequired { what: String },
    #[error("the backup is of tenant {backup}, not {code}; restore it with --into NEWCODE to make a copy")]
    OtherTenant { code: TenantCode, backup: String },
    #[error("the backup holds a {backup} database, but {target} is {actual}")]
    EngineMismatch {
        target: String,
        backup: Engine,
        actual: Engine,
    },
    #[error("{0}")]
    Incompatible(String),
    /// SQL Server tenants: tenantry has no dump tool for them yet.
    #[error(
        "tenantry cannot back up or restore {engine} tenants yet: use the server's own backups \
         (SQL Server BACKUP DATABASE, Azure SQL automated backups and point-in-time restore)"
    )]
    EngineUnsupported { engine: Engine },
    #[error("database {database} already exists on server {server}; a restore never adopts a database it did not create")]
    DatabaseExists { database: String, server: String },
    #[error("step {step} failed: {message}")]
    Step { step: &'static str, message: String },
    #[error("{0} not found")]
    NotFound(String),
}

impl BackupError {
    /// Whether the backup or restore declined before changing anything (bad archive, wrong
    /// tenant or status, no confirmation), as opposed to trying and failing.
    pub fn is_refusal(&self) -> bool {
        match self {
            Self::Registry(r) => matches!(
                r,
                RegistryError::NotFound(_)
                    | RegistryError::Conflict(_)
                    | RegistryError::DatabaseInUse { .. }
                    | RegistryError::Invalid(_)
            ),
            Self::WrongStatus { .. }
            | Self::InvalidArchive(_)
            | Self::Tampered(_)
            | Self::ConfirmationRequired { .. }
            | Self::OtherTenant { .. }
            | Self::EngineMismatch { .. }
            | Self::Incompatible(_)
            | Self::DatabaseExists { .. }
            | Self::NotFound(_) => true,
            _ => false,
        }
    }
}

/// Called with a stage's name as it starts (for progress output).
pub type Progress<'a> = &'a (dyn Fn(&'static str) + Sync);

/// Runs `f` on the blocking pool (disk, compression, hashing).
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, BackupError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, BackupError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BackupError::Io {
            stage: "a background task",
            source: std::io::Error::other(e),
        })?
}

/// Backup and restore on one registry, pool manager, file store and backup folder; a cheap `Clone`.
#[derive(Clone)]
pub struct Backups {
    registry: Registry,
    /// Restores close the tenant's pool before they replace its data, and after.
    pools: PoolManager,
    storage: Storage,
    store: BackupStore,
}

impl Backups {
    /// Backups go to `{data_dir}/backups`.
    pub fn new(registry: Registry, pools: PoolManager, storage: Storage, data_dir: &Path) -> Self {
        Self::with_store(registry, pools, storage, BackupStore::in_data_dir(data_dir))
    }

    pub fn with_store(
        registry: Registry,
        pools: PoolManager,
        storage: Storage,
        store: BackupStore,
    ) -> Self {
        Self {
            registry,
            pools,
            storage,
            store,
        }
    }

    pub fn store(&self) -> &BackupStore {
        &self.store
    }

    /// The stored backups of tenant `code`, newest first.
    pub async fn list(&self, code: &TenantCode) -> Result<Vec<BackupSummary>, BackupError> {
        self.store.list(code).await
    }
}

/// Checks an archive completely (every part against the manifest) without restoring it, and
/// returns its manifest.
pub async fn verify(archive: &Path) -> Result<Manifest, BackupError> {
    let archive = archive.to_owned();
    blocking(move || {
        let scratch = tempfile::tempdir().map_err(|source| BackupError::Io {
            stage: "creating a scratch directory",
            source,
        })?;
        archive::unpack_verified(&archive, scratch.path())
    })
    .await
}

/// Reads only the manifest of an archive (no checksums are verified).
pub async fn read_manifest(archive: &Path) -> Result<Manifest, BackupError> {
    let archive = archive.to_owned();
    blocking(move || archive::read_manifest(&archive)).await
}
