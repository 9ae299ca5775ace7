//! Backing up and restoring the registry (the control plane) itself, in the same archive format:
//! an SQLite registry by an online `VACUUM INTO` copy, a PostgreSQL one with `pg_dump -Fc`.
//!
//! The manifest records the id of the master key the registry's secrets are under; a restore
//! refuses a keyring that does not hold it. Restoring replaces the registry: stop every tenantry
//! process that uses it first.

use super::manifest::{BackupKind, DumpFormat, Manifest, FORMAT};
use super::store::private_dir;
use super::{archive, blocking, dump, ArchiveInfo, BackupError};
use crate::registry::{CacheSettings, DataSource, Registry};
use crate::secrets::SecretBox;
use crate::tenant::{Engine, TlsMode};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The outcome of a registry backup.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryBackupReport {
    pub path: PathBuf,
    pub archive_size: u64,
    pub archive_sha256: String,
    pub manifest: Manifest,
}

/// `registry-{time}-{id}.tar.zst`, for the registry folder of the store.
pub fn registry_archive_name() -> String {
    super::store::archive_name("registry")
}

/// Writes a backup of `registry` (opened from `url`) to the archive `out`. (The platform audits
/// it: `Platform::backup_registry`.)
#[tracing::instrument(skip(registry, url))]
pub async fn backup_registry(
    registry: &Registry,
    url: &str,
    out: &Path,
) -> Result<RegistryBackupReport, BackupError> {
    let dir = out.parent().unwrap_or(Path::new(".")).to_owned();
    private_dir(&dir)?;
    let staging = scratch_in(&dir)?;
    let format = DumpFormat::for_engine(registry.engine())?;
    let dump_path = staging.path().join(format.part_name());
    match registry.engine() {
        Engine::Postgres => dump::dump(&postgres_source(url)?, &dump_path).await?,
        _ => {
            sqlx::query("VACUUM INTO ?")
                .bind(dump_path.display().to_string())
                .execute(registry.pool())
                .await
                .map_err(|source| BackupError::Database {
                    stage: "copying the registry",
                    source,
                })?;
        }
    }
    let key_check: Option<String> =
        sqlx::query_scalar("SELECT value FROM registry_meta WHERE key = 'key_check'")
            .fetch_optional(registry.pool())
            .await
            .map_err(|source| BackupError::Database {
                stage: "reading the key check",
                source,
            })?;
    let database = {
        let p = dump_path.clone();
        blocking(move || archive::part_of(&p, format.part_name().into())).await?
    };
    let manifest = Manifest {
        format: FORMAT,
        kind: BackupKind::Registry,
        engine: registry.engine(),
        tenant: None,
        master_key_id: key_check
            .as_deref()
            .and_then(SecretBox::key_id_of)
            .map(str::to_owned),
        dump_format: format,
        database,
        files: Vec::new(),
        created_at: crate::db::now(),
        tenantry_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let (staged, dest, m) = (staging.path().to_owned(), out.to_owned(), manifest.clone());
    let info: ArchiveInfo = blocking(move || archive::write(&staged, &m, &dest)).await?;
    Ok(RegistryBackupReport {
        path: out.to_owned(),
        archive_size: info.size,
        archive_sha256: info.sha256,
        manifest,
    })
}

/// Replaces the registry at `url` with the backup `archive`, after verifying its checksums and
/// that `secrets` holds the master key of its secrets. Needs `confirm`. No process may have the
/// registry open meanwhile. Returns the manifest and the restored registry, open (the platform
/// records the restore in its audit log: `Platform::restore_registry`).
#[tracing::instrument(skip(url, secrets))]
pub async fn restore_registry(
    url: &str,
    archive: &Path,
    secrets: &SecretBox,
    confirm: bool,
) -> Result<(Manifest, Registry), BackupError> {
    if !confirm {
        return Err(BackupError::ConfirmationRequired {
            what: "the registry".into(),
        });
    }
    let engine = registry_engine(url)?;
    let scratch = match engine {
        Engine::Sqlite => scratch_in(sqlite_path(url)?.parent().unwrap_or(Path::new(".")))?,
        _ => tempfile::tempdir().map_err(|source| BackupError::Io {
            stage: "creating a scratch directory",
            source,
        })?,
    };
    let manifest = {
        let (archive, staging) = (archive.to_owned(), scratch.path().to_owned());
        blocking(move || archive::unpack_verified(&archive, &staging)).await?
    };
    check_restorable(&manifest, engine, secrets)?;
    let dump_path = scratch.path().join(&manifest.database.name);
    match engine {
        Engine::Postgres => {
            dump::load(&postgres_source(url)?, &dump_path, dump::Target::Replace).await?
        }
        _ => dump::place_sqlite(&sqlite_path(url)?, &dump_path).await?,
    }
    let registry = Registry::open(url, secrets.clone(), CacheSettings::default()).await?;
    Ok((manifest, registry))
}

fn check_restorable(m: &Manifest, engine: Engine, secrets: &SecretBox) -> Result<(), BackupError> {
    if m.kind != BackupKind::Registry {
        let why = "the archive is a tenant backup: restore it with `tenantry restore CODE FILE`";
        return Err(BackupError::Incompatible(why.into()));
    }
    if m.engine != engine {
        return Err(BackupError::EngineMismatch {
            target: "the registry".into(),
            backup: m.engine,
            actual: engine,
        });
    }
    if let Some(kid) = &m.master_key_id {
        if !secrets.keys().iter().any(|k| k.id() == kid) {
            return Err(BackupError::Incompatible(format!(
                "the backup's secrets are under master key {kid}, which the current keyring does not hold"
            )));
        }
    }
    Ok(())
}

fn scratch_in(dir: &Path) -> Result<tempfile::TempDir, BackupError> {
    tempfile::Builder::new()
        .prefix(".registry-backup-")
        .tempdir_in(dir)
        .map_err(|source| BackupError::Io {
            stage: "creating a scratch directory",
            source,
        })
}

fn registry_engine(url: &str) -> Result<Engine, BackupError> {
    if url.starts_with("sqlite:") {
        Ok(Engine::Sqlite)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Engine::Postgres)
    } else {
        Err(BackupError::Incompatible(
            "registry URL must start with sqlite: or postgres:".into(),
        ))
    }
}

/// The file of an SQLite registry URL (`sqlite://path?…`, `sqlite:path`).
fn sqlite_path(url: &str) -> Result<PathBuf, BackupError> {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(":memory:") {
        return Err(BackupError::Incompatible(
            "an in-memory registry cannot be restored".into(),
        ));
    }
    Ok(PathBuf::from(path))
}

/// The PostgreSQL registry of `url` as a data source for the dump tools (password included, so the
/// tools get it through the environment).
fn postgres_source(url: &str) -> Result<DataSource, BackupError> {
    let bad = |why: &str| BackupError::Incompatible(format!("registry URL: {why}"));
    let u = url::Url::parse(url).map_err(|_| bad("not a URL"))?;
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let sslmode = u
        .query_pairs()
        .find(|(k, _)| k == "sslmode")
        .map(|(_, v)| v.into_owned());
    let tls = match sslmode.as_deref() {
        Some("disable") => TlsMode::Disable,
        Some("require" | "verify-ca" | "verify-full") => TlsMode::Require,
        _ => TlsMode::Prefer,
    };
    Ok(DataSource {
        engine: Engine::Postgres,
        host: u.host_str().ok_or_else(|| bad("no host"))?.to_owned(),
        port: u.port().unwrap_or(5432),
        database: decode(u.path().trim_start_matches('/')),
        schema: None,
        username: (!u.username().is_empty()).then(|| decode(u.username())),
        password: u.password().map(|p| decode(p).into()),
        tls,
        server_id: uuid::Uuid::nil(),
        server_max_connections: None,
        fingerprint: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_registry_urls_name_their_file() {
        let p = sqlite_path("sqlite:///data/registry.db?mode=rwc").unwrap();
        assert_eq!(p, PathBuf::from("/data/registry.db"));
        assert_eq!(
            sqlite_path("sqlite:reg.db").unwrap(),
            PathBuf::from("reg.db")
        );
        assert!(sqlite_path("sqlite::memory:").is_err());
    }

    #[test]
    fn postgres_registry_urls_become_a_data_source_with_decoded_credentials() {
        let s = postgres_source("postgres://u%40x:p%3Aw@db.example.com:5433/reg?sslmode=require")
            .unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.database.as_str()),
            ("db.example.com", 5433, "reg")
        );
        assert_eq!(s.username.as_deref(), Some("u@x"));
        assert_eq!(crate::secrets::expose(s.password.as_ref().unwrap()), "p:w");
        assert_eq!(s.tls, TlsMode::Require);
    }
}
