//! The tenant's files in a backup: a snapshot taken by hard links (uploads replace files by
//! renaming, so a link keeps the version it saw), and a restore that swaps the whole directory.

use super::archive;
use super::manifest::{Part, FILES_PREFIX};
use super::{blocking, BackupError};
use crate::storage::Storage;
use std::io::ErrorKind;
use std::path::Path;
use uuid::Uuid;

fn io_err(stage: &'static str) -> impl FnOnce(std::io::Error) -> BackupError {
    move |source| BackupError::Io { stage, source }
}

/// Links (or, across file systems, copies) every file of the tenant to `staging/files/…` and
/// describes each one. A file deleted meanwhile is left out.
pub(crate) async fn snapshot(
    storage: &Storage,
    tenant_id: Uuid,
    staging: &Path,
) -> Result<Vec<Part>, BackupError> {
    let entries = storage.list(tenant_id).await?;
    let base = storage.tenant_dir(tenant_id);
    let staging = staging.to_owned();
    blocking(move || {
        let mut parts = Vec::with_capacity(entries.len());
        for entry in entries {
            let name = format!("{FILES_PREFIX}{}", entry.path);
            let dest = staging.join(&name);
            if let Some(dir) = dest.parent() {
                std::fs::create_dir_all(dir).map_err(io_err("staging the files"))?;
            }
            let src = base.join(entry.path.as_str());
            let linked =
                std::fs::hard_link(&src, &dest).or_else(|_| std::fs::copy(&src, &dest).map(|_| ()));
            match linked {
                Ok(()) => parts.push(archive::part_of(&dest, name)?),
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err("staging the files")(e)),
            }
        }
        Ok(parts)
    })
    .await
}

/// Replaces the tenant's whole file directory with the files staged under `staging/files/…`: they
/// are gathered in a fresh directory next to it, which then takes its place.
pub(crate) async fn replace(
    storage: &Storage,
    tenant_id: Uuid,
    staging: &Path,
    files: &[Part],
) -> Result<(), BackupError> {
    let dir = storage.tenant_dir(tenant_id);
    let staging = staging.to_owned();
    let names: Vec<String> = files.iter().map(|p| p.name.clone()).collect();
    blocking(move || {
        let root = dir.parent().unwrap_or(Path::new(".")).to_owned();
        std::fs::create_dir_all(&root).map_err(io_err("creating the file store"))?;
        let fresh = root.join(format!(".{tenant_id}.restore-{}", Uuid::new_v4()));
        let gathered = gather(&staging, &fresh, &names);
        if let Err(e) = gathered {
            let _ = std::fs::remove_dir_all(&fresh);
            return Err(e);
        }
        let old = root.join(format!(".{tenant_id}.old-{}", Uuid::new_v4()));
        let had_files = match std::fs::rename(&dir, &old) {
            Ok(()) => true,
            Err(e) if e.kind() == ErrorKind::NotFound => false,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&fresh);
                return Err(io_err("setting the old files aside")(e));
            }
        };
        std::fs::rename(&fresh, &dir).map_err(io_err("moving the restored files into place"))?;
        if had_files {
            if let Err(e) = std::fs::remove_dir_all(&old) {
                tracing::warn!(dir = %old.display(), error = %e, "cannot remove the replaced files");
            }
        }
        Ok(())
    })
    .await
}

/// Moves (or copies) each staged file into `fresh`.
fn gather(staging: &Path, fresh: &Path, names: &[String]) -> Result<(), BackupError> {
    std::fs::create_dir_all(fresh).map_err(io_err("gathering the restored files"))?;
    for name in names {
        let rel = name.strip_prefix(FILES_PREFIX).unwrap_or(name);
        let (src, dest) = (staging.join(name), fresh.join(rel));
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(io_err("gathering the restored files"))?;
        }
        std::fs::rename(&src, &dest)
            .or_else(|_| std::fs::copy(&src, &dest).map(|_| ()))
            .map_err(io_err("gathering the restored files"))?;
    }
    Ok(())
}
