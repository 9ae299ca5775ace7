//! The archive: a zstd-compressed tar whose first entry is `manifest.json`, followed by the database
//! part and the tenant's files (`files/…`). Reading verifies every part against the manifest.
//!
//! Everything here is blocking (disk and compression): callers run it on the blocking pool.

use super::manifest::{Manifest, Part, FILES_PREFIX, FORMAT, MANIFEST_NAME};
use super::BackupError;
use crate::storage::StoragePath;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

/// zstd level: fast, and most of a PostgreSQL custom dump is compressed already.
const LEVEL: i32 = 3;
/// A manifest larger than this is not one of ours.
const MANIFEST_LIMIT: u64 = 64 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

fn io_err(stage: &'static str) -> impl FnOnce(io::Error) -> BackupError {
    move |source| BackupError::Io { stage, source }
}

fn invalid(reason: impl std::fmt::Display) -> BackupError {
    BackupError::InvalidArchive(reason.to_string())
}

/// Size and sha256 (lower-case hex) of what went through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W> Hashing<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    fn digest(&self) -> (u64, String) {
        (self.size, format!("{:x}", self.hasher.clone().finalize()))
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Describes the file at `path` as the part `name`.
pub(crate) fn part_of(path: &Path, name: String) -> Result<Part, BackupError> {
    let mut file = File::open(path).map_err(io_err("reading a staged part"))?;
    let mut sink = Hashing::new(io::sink());
    io::copy(&mut file, &mut sink).map_err(io_err("reading a staged part"))?;
    let (size, sha256) = sink.digest();
    Ok(Part { name, size, sha256 })
}

/// The archive that [`write`] produced: its size and sha256 (it cannot list itself).
#[derive(Debug, Clone)]
pub struct ArchiveInfo {
    pub size: u64,
    pub sha256: String,
}

/// Writes `manifest` and its parts (read from `staging/{part name}`) to `dest`. The archive is
/// written to a hidden sibling (mode 0600) and renamed into place once complete and synced.
pub(crate) fn write(
    staging: &Path,
    manifest: &Manifest,
    dest: &Path,
) -> Result<ArchiveInfo, BackupError> {
    let name = dest
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("backup");
    let partial = dest.with_file_name(format!(".{name}.partial"));
    let result = write_to(staging, manifest, &partial);
    match result {
        Ok(info) => {
            std::fs::rename(&partial, dest).map_err(io_err("moving the archive into place"))?;
            Ok(info)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

fn write_to(staging: &Path, manifest: &Manifest, path: &Path) -> Result<ArchiveInfo, BackupError> {
    let stage = "writing the archive";
    let file = private_file(path).map_err(io_err(stage))?;
    let mut encoder =
        zstd::Encoder::new(Hashing::new(BufWriter::new(file)), LEVEL).map_err(io_err(stage))?;
    encoder.include_checksum(true).map_err(io_err(stage))?;
    let mut tar = tar::Builder::new(encoder);
    let mtime = chrono::Utc::now().timestamp().max(0) as u64;
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| io_err(stage)(e.into()))?;
    tar.append_data(
        &mut header(json.len() as u64, mtime),
        MANIFEST_NAME,
        &json[..],
    )
    .map_err(io_err(stage))?;
    for part in manifest.parts() {
        let source = File::open(staging.join(&part.name)).map_err(io_err(stage))?;
        tar.append_data(
            &mut header(part.size, mtime),
            &part.name,
            source.take(part.size),
        )
        .map_err(io_err(stage))?;
    }
    let encoder = tar.into_inner().map_err(io_err(stage))?;
    let mut hashing = encoder.finish().map_err(io_err(stage))?;
    hashing.flush().map_err(io_err(stage))?;
    let (size, sha256) = hashing.digest();
    let file = hashing
        .inner
        .into_inner()
        .map_err(|e| io_err(stage)(e.into_error()))?;
    file.sync_all().map_err(io_err(stage))?;
    Ok(ArchiveInfo { size, sha256 })
}

fn header(size: u64, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(0o600);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

/// Creates `path` readable by its owner only: archives hold tenant data and password hashes.
pub(crate) fn private_file(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn open_entries(archive: &Path) -> Result<tar::Archive<impl Read>, BackupError> {
    let file = File::open(archive).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => BackupError::NotFound(archive.display().to_string()),
        _ => io_err("opening the archive")(e),
    })?;
    let decoder = zstd::Decoder::new(file).map_err(invalid)?;
    Ok(tar::Archive::new(decoder))
}

/// Reads the manifest: the first entry of the archive (nothing else is decompressed).
pub(crate) fn read_manifest(archive: &Path) -> Result<Manifest, BackupError> {
    let mut tar = open_entries(archive)?;
    let mut entries = tar.entries().map_err(invalid)?;
    let first = entries
        .next()
        .ok_or_else(|| invalid("the archive is empty"))?
        .map_err(invalid)?;
    parse_manifest(first)
}

fn parse_manifest(mut entry: tar::Entry<'_, impl Read>) -> Result<Manifest, BackupError> {
    if entry.path_bytes().as_ref() != MANIFEST_NAME.as_bytes() {
        return Err(invalid("its first entry is not manifest.json"));
    }
    let mut text = Vec::new();
    (&mut entry)
        .take(MANIFEST_LIMIT)
        .read_to_end(&mut text)
        .map_err(invalid)?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| invalid(format!("manifest.json is malformed: {e}")))?;
    if manifest.format != FORMAT {
        return Err(invalid(format!(
            "archive format {} (this tenantry reads format {FORMAT})",
            manifest.format
        )));
    }
    check_part_names(&manifest)?;
    Ok(manifest)
}

/// Part names become paths under the staging directory: only the database part and
/// `files/{valid storage path}` are accepted.
fn check_part_names(m: &Manifest) -> Result<(), BackupError> {
    if m.database.name != m.dump_format.part_name() {
        return Err(invalid(format!(
            "unexpected database part {:?}",
            m.database.name
        )));
    }
    for f in &m.files {
        let ok = f
            .name
            .strip_prefix(FILES_PREFIX)
            .is_some_and(|rest| StoragePath::parse(rest).is_ok());
        if !ok {
            return Err(invalid(format!("unsafe file name {:?}", f.name)));
        }
    }
    Ok(())
}

/// Unpacks `archive` into `staging`, checking each part's size and sha256 against the manifest, and
/// that the archive holds exactly the parts the manifest lists. Returns the verified manifest.
pub(crate) fn unpack_verified(archive: &Path, staging: &Path) -> Result<Manifest, BackupError> {
    let mut tar = open_entries(archive)?;
    let mut entries = tar.entries().map_err(invalid)?;
    let first = entries
        .next()
        .ok_or_else(|| invalid("the archive is empty"))?
        .map_err(invalid)?;
    let manifest = parse_manifest(first)?;
    let mut expected: HashMap<&str, &Part> =
        manifest.parts().map(|p| (p.name.as_str(), p)).collect();
    for entry in entries {
        let entry = entry.map_err(invalid)?;
        let name = String::from_utf8(entry.path_bytes().into_owned())
            .map_err(|_| BackupError::Tampered("an entry name is not UTF-8".into()))?;
        let part = expected.remove(name.as_str()).ok_or_else(|| {
            BackupError::Tampered(format!(
                "{name:?} is not listed in the manifest (or listed twice)"
            ))
        })?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(BackupError::Tampered(format!(
                "{name} is not a regular file"
            )));
        }
        let (size, sha256) = unpack_entry(entry, &staging.join(&name))?;
        if size != part.size || sha256 != part.sha256 {
            return Err(BackupError::Tampered(format!(
                "{name}: sha256 {sha256} ({size} bytes), the manifest says {} ({} bytes)",
                part.sha256, part.size
            )));
        }
    }
    if let Some(missing) = expected.keys().next() {
        return Err(BackupError::Tampered(format!("{missing} is missing")));
    }
    Ok(manifest)
}

/// Copies one entry to `dest`, telling a damaged archive (read side) from a disk failure.
fn unpack_entry(mut entry: impl Read, dest: &Path) -> Result<(u64, String), BackupError> {
    let stage = "unpacking the archive";
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(io_err(stage))?;
    }
    let mut out = Hashing::new(BufWriter::new(private_file(dest).map_err(io_err(stage))?));
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = entry.read(&mut buf).map_err(invalid)?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(io_err(stage))?;
    }
    out.flush().map_err(io_err(stage))?;
    Ok(out.digest())
}

#[cfg(test)]
mod tests {
    use super::super::manifest::{BackupKind, DumpFormat};
    use super::*;
    use crate::tenant::Engine;

    /// Stages a dump and one file and describes them in a manifest.
    fn staged(dir: &Path, file_text: &str) -> Manifest {
        std::fs::write(dir.join("database.sqlite"), b"dump bytes").unwrap();
        std::fs::create_dir_all(dir.join("files/docs")).unwrap();
        std::fs::write(dir.join("files/docs/a.txt"), file_text).unwrap();
        Manifest {
            format: FORMAT,
            kind: BackupKind::Registry,
            engine: Engine::Sqlite,
            tenant: None,
            master_key_id: None,
            dump_format: DumpFormat::SqliteFile,
            database: part_of(&dir.join("database.sqlite"), "database.sqlite".into()).unwrap(),
            files: vec![part_of(&dir.join("files/docs/a.txt"), "files/docs/a.txt".into()).unwrap()],
            created_at: "2025-01-01T00:00:00.000Z".into(),
            tenantry_version: "test".into(),
        }
    }

    #[test]
    fn an_archive_unpacks_to_exactly_what_was_staged() {
        let (staging, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let manifest = staged(staging.path(), "hello");
        let path = out.path().join("b.tar.zst");
        write(staging.path(), &manifest, &path).unwrap();
        assert_eq!(read_manifest(&path).unwrap().files, manifest.files);
        let unpacked = tempfile::tempdir().unwrap();
        unpack_verified(&path, unpacked.path()).unwrap();
        let text = std::fs::read_to_string(unpacked.path().join("files/docs/a.txt")).unwrap();
        assert_eq!(text, "hello");
    }

    #[test]
    fn a_part_that_differs_from_its_manifest_entry_is_refused() {
        let (staging, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut manifest = staged(staging.path(), "ten bytes!");
        // Same size, other bytes: only the checksum can tell.
        manifest.files[0].sha256 = part_of(&staging.path().join("database.sqlite"), String::new())
            .unwrap()
            .sha256;
        let path = out.path().join("b.tar.zst");
        write(staging.path(), &manifest, &path).unwrap();
        let err = unpack_verified(&path, tempfile::tempdir().unwrap().path()).unwrap_err();
        assert!(
            matches!(err, BackupError::Tampered(ref m) if m.contains("files/docs/a.txt")),
            "{err}"
        );
    }

    #[test]
    fn a_manifest_naming_a_path_outside_the_archive_is_refused() {
        let staging = tempfile::tempdir().unwrap();
        let mut manifest = staged(staging.path(), "hello");
        for name in [
            "files/../../etc/passwd",
            "/etc/passwd",
            "files/",
            "other/a.txt",
        ] {
            manifest.files[0].name = name.into();
            let err = check_part_names(&manifest).unwrap_err();
            assert!(
                matches!(err, BackupError::InvalidArchive(_)),
                "{name}: {err}"
            );
        }
    }
}
