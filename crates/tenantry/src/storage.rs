//! Per-tenant file storage: each tenant owns the directory `{root}/{tenant id}`, nothing above it.
//!
//! Paths are parsed once into [`StoragePath`] (relative, plain segments, no `..`), then resolved
//! one directory at a time without following symbolic links, so neither a crafted path nor a link
//! planted on disk leads out of the tenant's directory. Uploads go to a temporary file next to the
//! target and are renamed into place only once complete: a reader sees the old file or the new one,
//! never half of one.

mod path;

pub use path::StoragePath;

use futures::{Stream, StreamExt};
use std::fs::Metadata;
use std::path::PathBuf;
use tokio::fs;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

/// Default upload limit: 10 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// Errors of the file store, named by the stage that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The path is malformed or leads out of the tenant's directory (`..`, a symlink, …).
    #[error("invalid path: {0}")]
    InvalidPath(String),
    /// The upload is larger than the configured limit.
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("no such file")]
    NotFound,
    /// The client's upload stream failed before it was complete.
    #[error("the upload was interrupted")]
    Upload(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("file storage failed while {stage}")]
    Io {
        stage: &'static str,
        #[source]
        source: std::io::Error,
    },
}

fn io(stage: &'static str) -> impl FnOnce(std::io::Error) -> StorageError {
    move |source| StorageError::Io { stage, source }
}

fn invalid(reason: impl Into<String>) -> StorageError {
    StorageError::InvalidPath(reason.into())
}

/// The outcome of [`Storage::put`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub size: u64,
    /// `false` when an existing file was replaced.
    pub created: bool,
}

/// One entry of [`Storage::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub path: StoragePath,
    pub size: u64,
}

/// What [`Storage::remove_tenant_dir`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Removed {
    /// Regular files removed (links are removed too, but not counted or followed).
    pub files: u64,
    pub bytes: u64,
}

/// The file store; a cheap `Clone` (two plain values, no open handles).
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
    /// Uploads above this are refused while streaming, before they are ever complete on disk.
    max_file_bytes: u64,
}

/// Removes a temporary upload file unless disarmed, also when the upload future is dropped
/// (client gone), so no partial file outlives its request.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Storage {
    pub fn new(root: impl Into<PathBuf>, max_file_bytes: u64) -> Self {
        Self {
            root: root.into(),
            max_file_bytes,
        }
    }

    /// The directory holding every tenant's directory.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_bytes
    }

    /// `{root}/{tenant id}`; created by provisioning or by the tenant's first upload.
    pub fn tenant_dir(&self, tenant_id: Uuid) -> PathBuf {
        self.root.join(tenant_id.to_string())
    }

    /// Creates the tenant's directory (idempotent): the provisioning step "storage directory".
    pub async fn ensure_tenant_dir(&self, tenant_id: Uuid) -> Result<PathBuf, StorageError> {
        let dir = self.tenant_dir(tenant_id);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|source| StorageError::Io {
                stage: "creating the tenant directory",
                source,
            })?;
        Ok(dir)
    }

    /// Removes the tenant's whole directory (idempotent: a missing one removes nothing) and says
    /// how many files and bytes went with it. Links are removed, never followed. Runs on the
    /// blocking pool: a tenant may hold many files.
    #[tracing::instrument(skip(self))]
    pub async fn remove_tenant_dir(&self, tenant_id: Uuid) -> Result<Removed, StorageError> {
        let dir = self.tenant_dir(tenant_id);
        tokio::task::spawn_blocking(move || remove_counting(&dir))
            .await
            .map_err(|e| StorageError::Io {
                stage: "removing the tenant directory",
                source: std::io::Error::other(e),
            })?
    }

    /// Walks to `path` one directory at a time without following links (creating missing
    /// directories when `create`), checks that the canonical parent is inside the canonical tenant
    /// directory, and refuses a link as the last component. Returns the file and its metadata.
    async fn resolve(
        &self,
        tenant_id: Uuid,
        path: &StoragePath,
        create: bool,
    ) -> Result<(PathBuf, Option<Metadata>), StorageError> {
        use std::io::ErrorKind::{AlreadyExists, NotFound};
        let base = self.tenant_dir(tenant_id);
        if create {
            fs::create_dir_all(&base)
                .await
                .map_err(io("creating the tenant directory"))?;
        }
        let mut dir = base.clone();
        for s in path.dirs() {
            dir.push(s);
            match fs::symlink_metadata(&dir).await {
                Ok(m) if m.is_symlink() => return Err(invalid("the path leads through a link")),
                Ok(m) if m.is_dir() => {}
                Ok(_) if create => {
                    return Err(invalid(format!("'{s}' is a file, not a directory")))
                }
                Ok(_) => return Err(StorageError::NotFound),
                Err(e) if e.kind() == NotFound && create => match fs::create_dir(&dir).await {
                    Err(e) if e.kind() != AlreadyExists => {
                        return Err(io("creating a directory")(e))
                    }
                    _ => {}
                },
                Err(e) if e.kind() == NotFound => return Err(StorageError::NotFound),
                Err(e) => return Err(io("inspecting a directory")(e)),
            }
        }
        let canonical = |p: PathBuf| async move {
            fs::canonicalize(p).await.map_err(|e| match e.kind() {
                NotFound => StorageError::NotFound,
                _ => io("resolving a directory")(e),
            })
        };
        let (base, dir) = (canonical(base).await?, canonical(dir).await?);
        if !dir.starts_with(&base) {
            return Err(invalid("the path leads out of the tenant's directory"));
        }
        let file = dir.join(path.file_name());
        match fs::symlink_metadata(&file).await {
            Ok(m) if m.is_symlink() => Err(invalid("the file is a link")),
            Ok(m) => Ok((file, Some(m))),
            Err(e) if e.kind() == NotFound => Ok((file, None)),
            Err(e) => Err(io("inspecting the file")(e)),
        }
    }

    /// Streams `body` into `path`, atomically replacing any previous file.
    #[tracing::instrument(skip(self, path, body), fields(path = %path))]
    pub async fn put<S, B, E>(
        &self,
        tenant_id: Uuid,
        path: &StoragePath,
        body: S,
    ) -> Result<Stored, StorageError>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (target, meta) = self.resolve(tenant_id, path, true).await?;
        if meta.as_ref().is_some_and(|m| m.is_dir()) {
            return Err(invalid("the path names a directory"));
        }
        // `~` cannot occur in a StoragePath: a temporary file never collides with a stored one.
        let tmp = target.with_file_name(format!(".~upload-{}", Uuid::new_v4()));
        let mut guard = TempFile(Some(tmp.clone()));
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .await
            .map_err(io("creating the temporary file"))?;
        let mut size = 0u64;
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| StorageError::Upload(e.into()))?;
            size += chunk.as_ref().len() as u64;
            if size > self.max_file_bytes {
                let limit = self.max_file_bytes;
                return Err(StorageError::TooLarge { limit });
            }
            file.write_all(chunk.as_ref())
                .await
                .map_err(io("writing the temporary file"))?;
        }
        file.sync_all()
            .await
            .map_err(io("flushing the temporary file"))?;
        drop(file);
        fs::rename(&tmp, &target)
            .await
            .map_err(io("renaming the temporary file"))?;
        guard.0 = None;
        let created = meta.is_none();
        Ok(Stored { size, created })
    }

    #[tracing::instrument(skip(self, path), fields(path = %path))]
    pub async fn get(&self, tenant_id: Uuid, path: &StoragePath) -> Result<Vec<u8>, StorageError> {
        match self.resolve(tenant_id, path, false).await? {
            (file, Some(m)) if m.is_file() => fs::read(file).await.map_err(not_found_or("reading")),
            _ => Err(StorageError::NotFound),
        }
    }

    #[tracing::instrument(skip(self, path), fields(path = %path))]
    pub async fn delete(&self, tenant_id: Uuid, path: &StoragePath) -> Result<(), StorageError> {
        match self.resolve(tenant_id, path, false).await? {
            (file, Some(m)) if m.is_file() => fs::remove_file(file)
                .await
                .map_err(not_found_or("removing")),
            _ => Err(StorageError::NotFound),
        }
    }

    /// Every stored file of the tenant, sorted by path; links and temporary files are skipped.
    #[tracing::instrument(skip(self))]
    pub async fn list(&self, tenant_id: Uuid) -> Result<Vec<FileEntry>, StorageError> {
        let mut out = Vec::new();
        let mut pending = vec![(self.tenant_dir(tenant_id), String::new())];
        while let Some((dir, prefix)) = pending.pop() {
            let mut entries = match fs::read_dir(&dir).await {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                r => r.map_err(io("listing a directory"))?,
            };
            while let Some(entry) = entries
                .next_entry()
                .await
                .map_err(io("listing a directory"))?
            {
                let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
                // Names a client could not have chosen (temporary files, …) are not listed.
                let Ok(path) = StoragePath::parse(&name) else {
                    continue;
                };
                // DirEntry::metadata does not follow links: a link is neither a dir nor a file.
                let meta = entry.metadata().await.map_err(io("inspecting a file"))?;
                if meta.is_dir() {
                    pending.push((entry.path(), format!("{name}/")));
                } else if meta.is_file() {
                    let size = meta.len();
                    out.push(FileEntry { path, size });
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}

/// Counts the regular files under `dir` (not following links), then removes it all.
fn remove_counting(dir: &std::path::Path) -> Result<Removed, StorageError> {
    let mut removed = Removed::default();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = match std::fs::read_dir(&d) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            r => r.map_err(io("listing a directory"))?,
        };
        for entry in entries {
            let entry = entry.map_err(io("listing a directory"))?;
            let meta = entry.metadata().map_err(io("inspecting a file"))?;
            if meta.is_dir() {
                pending.push(entry.path());
            } else if meta.is_file() {
                removed.files += 1;
                removed.bytes += meta.len();
            }
        }
    }
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(io("removing the tenant directory")(e))
        }
        _ => Ok(removed),
    }
}

fn not_found_or(stage: &'static str) -> impl FnOnce(std::io::Error) -> StorageError {
    move |e| match e.kind() {
        std::io::ErrorKind::NotFound => StorageError::NotFound,
        _ => StorageError::Io { stage, source: e },
    }
}

#[cfg(test)]
mod tests;
