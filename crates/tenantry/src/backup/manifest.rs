//! `manifest.json`: what a backup archive holds, with the sha256 and size of every part, so a
//! restore can prove the archive is whole and unaltered before it touches anything.

use crate::tenant::{Engine, Placement, TenantCode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The archive layout this binary writes and reads.
pub const FORMAT: u32 = 1;

/// Name of the manifest inside the archive (always its first entry).
pub const MANIFEST_NAME: &str = "manifest.json";

/// Prefix of the tenant's files inside the archive (`files/{storage path}`).
pub const FILES_PREFIX: &str = "files/";

/// What was backed up: one tenant, or the registry (control plane) itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupKind {
    Tenant,
    Registry,
}

/// How the database part was written, which decides how it is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DumpFormat {
    /// `pg_dump -Fc`, loaded with `pg_restore`.
    PgCustom,
    /// `mariadb-dump`/`mysqldump` SQL text, loaded with `mariadb`/`mysql`.
    MysqlSql,
    /// A consistent SQLite database file (`VACUUM INTO`), restored by file copy.
    SqliteFile,
}

impl DumpFormat {
    /// The dump format of `engine`; SQL Server tenants are not backed up by tenantry (yet).
    pub fn for_engine(engine: Engine) -> Result<Self, super::BackupError> {
        match engine {
            Engine::Postgres => Ok(DumpFormat::PgCustom),
            Engine::Mysql => Ok(DumpFormat::MysqlSql),
            Engine::Sqlite => Ok(DumpFormat::SqliteFile),
            Engine::Mssql => Err(super::BackupError::EngineUnsupported { engine }),
        }
    }

    /// The name of the database part inside the archive.
    pub fn part_name(self) -> &'static str {
        match self {
            DumpFormat::PgCustom => "database.dump",
            DumpFormat::MysqlSql => "database.sql",
            DumpFormat::SqliteFile => "database.sqlite",
        }
    }
}

/// One part of the archive (the dump or one file): its name inside the archive, size and sha256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    pub name: String,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
}

/// The tenant a backup was taken of, as the registry described it then.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantInfo {
    pub id: Uuid,
    pub code: TenantCode,
    pub name: String,
    pub placement: Placement,
    pub database: String,
    /// The tenant's schema (shared placement on PostgreSQL): the dump holds only this schema.
    pub schema: Option<String>,
    pub schema_version: Option<i64>,
}

/// The manifest of one backup archive.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: u32,
    pub kind: BackupKind,
    pub engine: Engine,
    /// Set for tenant backups.
    pub tenant: Option<TenantInfo>,
    /// Registry backups: the id of the master key the registry's secrets are under (restoring
    /// needs a keyring holding it). Never a key itself.
    pub master_key_id: Option<String>,
    pub dump_format: DumpFormat,
    pub database: Part,
    /// Tenant files, sorted by name (`files/…`).
    pub files: Vec<Part>,
    /// RFC 3339.
    pub created_at: String,
    pub tenantry_version: String,
}

impl Manifest {
    /// Every part the archive must hold besides the manifest.
    pub fn parts(&self) -> impl Iterator<Item = &Part> {
        std::iter::once(&self.database).chain(self.files.iter())
    }

    /// Total size of the parts (uncompressed).
    pub fn total_size(&self) -> u64 {
        self.parts().map(|p| p.size).sum()
    }

    pub fn tenant_code(&self) -> Option<&TenantCode> {
        self.tenant.as_ref().map(|t| &t.code)
    }
}

/// What a listing shows of one stored backup.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupSummary {
    /// File name inside the tenant's backup folder.
    pub file: String,
    /// Size of the archive (compressed).
    pub archive_size: u64,
    pub code: Option<TenantCode>,
    pub tenant_id: Option<Uuid>,
    pub engine: Engine,
    pub placement: Option<Placement>,
    pub schema_version: Option<i64>,
    pub database_size: u64,
    pub files: usize,
    /// Size of database and files, uncompressed.
    pub total_size: u64,
    pub created_at: String,
    pub tenantry_version: String,
}

impl BackupSummary {
    pub fn new(file: String, archive_size: u64, m: &Manifest) -> Self {
        Self {
            file,
            archive_size,
            code: m.tenant.as_ref().map(|t| t.code.clone()),
            tenant_id: m.tenant.as_ref().map(|t| t.id),
            engine: m.engine,
            placement: m.tenant.as_ref().map(|t| t.placement),
            schema_version: m.tenant.as_ref().and_then(|t| t.schema_version),
            database_size: m.database.size,
            files: m.files.len(),
            total_size: m.total_size(),
            created_at: m.created_at.clone(),
            tenantry_version: m.tenantry_version.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_through_json_with_camel_case_fields() {
        let m = Manifest {
            format: FORMAT,
            kind: BackupKind::Tenant,
            engine: Engine::Postgres,
            tenant: Some(TenantInfo {
                id: Uuid::nil(),
                code: TenantCode::parse("ACME").unwrap(),
                name: "Acme".into(),
                placement: Placement::Shared,
                database: "shared_db".into(),
                schema: Some("acme".into()),
                schema_version: Some(1),
            }),
            master_key_id: None,
            dump_format: DumpFormat::PgCustom,
            database: Part {
                name: "database.dump".into(),
                size: 10,
                sha256: "ab".into(),
            },
            files: vec![Part {
                name: "files/a.txt".into(),
                size: 5,
                sha256: "cd".into(),
            }],
            created_at: "2025-01-01T00:00:00.000Z".into(),
            tenantry_version: "0.1.0".into(),
        };
        let text = serde_json::to_string(&m).unwrap();
        assert!(
            text.contains("\"schemaVersion\":1") && text.contains("\"dumpFormat\":\"pg_custom\"")
        );
        let back: Manifest = serde_json::from_str(&text).unwrap();
        assert_eq!(back.total_size(), 15);
        assert_eq!(back.parts().count(), 2);
    }
}
