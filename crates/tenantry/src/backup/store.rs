//! Where backups live: `{data_dir}/backups/{tenant code}/{code}-{time}-{id}.tar.zst`, registry
//! backups under `{data_dir}/backups/_registry/` (no tenant code starts with `_`). A listing is a
//! directory listing; each archive's manifest is its first entry, so listing reads little.

use super::archive;
use super::manifest::BackupSummary;
use super::{blocking, BackupError};
use crate::tenant::TenantCode;
use std::path::{Path, PathBuf};

/// File-name suffix of every archive.
pub const ARCHIVE_SUFFIX: &str = ".tar.zst";

/// The backup folder of one data directory; a cheap `Clone`.
#[derive(Debug, Clone)]
pub struct BackupStore {
    root: PathBuf,
}

impl BackupStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `{data_dir}/backups`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self::new(data_dir.join("backups"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the backups of tenant `code` go.
    pub fn tenant_dir(&self, code: &TenantCode) -> PathBuf {
        self.root.join(code.as_str())
    }

    /// Where registry backups go.
    pub fn registry_dir(&self) -> PathBuf {
        self.root.join("_registry")
    }

    /// A private scratch directory under `{root}/.staging` (same file system as the backups, so
    /// archives are renamed into place), removed on drop.
    pub(crate) fn staging(&self) -> Result<tempfile::TempDir, BackupError> {
        let dir = self.root.join(".staging");
        private_dir(&dir)?;
        tempfile::Builder::new()
            .prefix("job-")
            .tempdir_in(&dir)
            .map_err(|source| BackupError::Io {
                stage: "creating a staging directory",
                source,
            })
    }

    /// The path of stored backup `file` of tenant `code`; a name with a path in it is refused.
    pub fn find(&self, code: &TenantCode, file: &str) -> Result<PathBuf, BackupError> {
        let plain = !file.starts_with('.') && !file.contains(['/', '\\']);
        let path = self.tenant_dir(code).join(file);
        if plain && file.ends_with(ARCHIVE_SUFFIX) && path.is_file() {
            Ok(path)
        } else {
            Err(BackupError::NotFound(format!(
                "backup {file} of tenant {code}"
            )))
        }
    }

    /// The stored backups of tenant `code`, newest first. Files that are not readable archives
    /// are skipped (and logged).
    pub async fn list(&self, code: &TenantCode) -> Result<Vec<BackupSummary>, BackupError> {
        let dir = self.tenant_dir(code);
        blocking(move || {
            let entries = match std::fs::read_dir(&dir) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                r => r.map_err(|source| BackupError::Io {
                    stage: "listing backups",
                    source,
                })?,
            };
            let mut out = Vec::new();
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || !name.ends_with(ARCHIVE_SUFFIX) {
                    continue;
                }
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                match archive::read_manifest(&entry.path()) {
                    Ok(m) => out.push(BackupSummary::new(name, size, &m)),
                    Err(e) => tracing::warn!(file = %name, error = %e, "not a readable backup"),
                }
            }
            out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.file.cmp(&a.file)));
            Ok(out)
        })
        .await
    }
}

/// `{label}-{UTC time}-{random}.tar.zst`: sortable by time, never colliding.
pub(crate) fn archive_name(label: &str) -> String {
    let time = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{label}-{time}-{}{ARCHIVE_SUFFIX}", &id[..8])
}

/// Creates `dir` (and parents); on Unix, a newly created `dir` is readable by its owner only.
pub(crate) fn private_dir(dir: &Path) -> Result<(), BackupError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| BackupError::Io {
        stage: "creating the backup folder",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_sort_by_time_and_differ() {
        let (a, b) = (archive_name("ACME"), archive_name("ACME"));
        assert!(
            a.starts_with("ACME-20") && a.ends_with(ARCHIVE_SUFFIX),
            "{a}"
        );
        assert_ne!(a, b);
    }

    #[test]
    fn find_refuses_names_that_leave_the_tenant_folder() {
        let dir = tempfile::tempdir().unwrap();
        let store = BackupStore::new(dir.path());
        let code = TenantCode::parse("ACME").unwrap();
        std::fs::create_dir_all(store.tenant_dir(&code)).unwrap();
        std::fs::write(dir.path().join("x.tar.zst"), "").unwrap();
        assert!(store.find(&code, "../x.tar.zst").is_err());
        std::fs::write(store.tenant_dir(&code).join("a.tar.zst"), "").unwrap();
        assert!(store.find(&code, "a.tar.zst").is_ok());
    }
}
