//! Restoring a tenant backup: over the tenant it was taken of (confirmed, checksums verified
//! first), or into a new tenant built from it (`--into NEWCODE`).

use super::dump::{self, Target};
use super::manifest::{BackupKind, Manifest, TenantInfo};
use super::{archive, blocking, files, outcome, BackupError, Backups, Progress};
use crate::provision::ServerAdmin;
use crate::registry::{DataServer, NewTenant, PoolSettings, RegistryError, Tenant};
use crate::tenant::{DatabaseName, Engine, Placement, TenantCode, TenantStatus};
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
    #[tracing::instrument(skip(self, archive, progress), fields(archive = %archive.display()))]
    pub async fn restore(
        &self,
        code: &TenantCode,
        archive: &Path,
        confirm: bool,
        actor: &str,
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

        if tenant.status == TenantStatus::Active {
            self.registry
                .set_status(code, TenantStatus::Suspended, Some(RESTORING))
                .await?;
        }
        self.pools.evict(tenant.id);
        let mut touched = false;
        let done = self
            .load_everything(
                code,
                &manifest,
                staging.path(),
                Target::Replace,
                &mut touched,
                progress,
            )
            .await;
        self.pools.evict(tenant.id);
        match &done {
            Ok(()) if tenant.status == TenantStatus::Active => {
                self.registry
                    .set_status(code, TenantStatus::Active, None)
                    .await?
            }
            Err(e) if touched => {
                let reason = format!("restore failed, data may be incomplete ({e}); restore again");
                self.registry
                    .set_status(code, TenantStatus::Suspended, Some(&reason))
                    .await?
            }
            Err(_) if tenant.status == TenantStatus::Active => {
                self.registry
                    .set_status(code, TenantStatus::Active, None)
                    .await?
            }
            _ => {}
        }
        let (result, error) = outcome(&done);
        let detail = json!({"file": file_name(archive), "from": from(info, &manifest), "into": null,
                            "files": manifest.files.len(), "error": error});
        self.registry
            .audit(actor, "tenant.restore", Some(tenant.id), detail, result)
            .await?;
        done?;
        let tenant = self.registry.tenant(code).await?;
        Ok(RestoreReport { tenant, manifest })
    }

    /// Creates tenant `new_code` from `archive` (a backup of tenant `code`): a new database on
    /// `server` (name or id; default: the server of the backed-up tenant), the dump loaded, the
    /// files copied, the schema version recorded, then `active`. A shared-placement backup keeps
    /// its schema name, in the new database. On failure the new tenant is left `failed`.
    #[tracing::instrument(skip(self, archive, progress), fields(archive = %archive.display()))]
    pub async fn restore_into(
        &self,
        code: &TenantCode,
        archive: &Path,
        new_code: &TenantCode,
        server: Option<&str>,
        actor: &str,
        progress: Progress<'_>,
    ) -> Result<RestoreReport, BackupError> {
        let staging = self.store.staging()?;
        progress("verify archive");
        let manifest = unpack(archive, staging.path()).await?;
        let info = tenant_info(&manifest, code)?;
        let server = self.target_server(server, info).await?;
        if server.engine != manifest.engine {
            return Err(BackupError::EngineMismatch {
                target: format!("server {}", server.name),
                backup: manifest.engine,
                actual: server.engine,
            });
        }
        let admin = ServerAdmin {
            server: &server,
            password: self.registry.server_admin_password(server.id).await?,
        };
        let database = DatabaseName::for_tenant(new_code);
        let exists = admin.database_exists(&database).await;
        if exists.map_err(step("check database"))? {
            return Err(BackupError::DatabaseExists {
                database: database.to_string(),
                server: server.name.clone(),
            });
        }
        let new = new_tenant(
            new_code,
            info,
            &server,
            &database,
            admin.password.clone(),
            archive,
        )?;
        let tenant = self.registry.create_tenant(new).await?;
        let mut touched = false;
        let done: Result<(), BackupError> = async {
            progress("create database");
            admin
                .create_database(&database)
                .await
                .map_err(step("create database"))?;
            self.load_everything(
                new_code,
                &manifest,
                staging.path(),
                Target::Fresh,
                &mut touched,
                progress,
            )
            .await?;
            Ok(self
                .registry
                .set_status(new_code, TenantStatus::Active, None)
                .await?)
        }
        .await;
        if let Err(e) = &done {
            let reason = format!("restore failed: {e}");
            self.registry
                .set_status(new_code, TenantStatus::Failed, Some(&reason))
                .await?;
        }
        let (result, error) = outcome(&done);
        let detail = json!({"file": file_name(archive), "from": from(info, &manifest),
                            "into": new_code, "server": server.name, "error": error});
        self.registry
            .audit(actor, "tenant.restore", Some(tenant.id), detail, result)
            .await?;
        done?;
        let tenant = self.registry.tenant(new_code).await?;
        Ok(RestoreReport { tenant, manifest })
    }

    /// Loads the staged dump and files into tenant `code` and records the schema version.
    /// `touched` turns true once the tenant's data may have changed.
    async fn load_everything(
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

    async fn target_server(
        &self,
        named: Option<&str>,
        info: &TenantInfo,
    ) -> Result<DataServer, BackupError> {
        let found = match named {
            Some(name) => match uuid::Uuid::parse_str(name) {
                Ok(id) => self.registry.server(id).await,
                Err(_) => self.registry.server_by_name(name).await,
            },
            None => match self.registry.tenant_by_id(info.id).await {
                Ok(t) => self.registry.server(t.server_id).await,
                Err(RegistryError::NotFound(_)) => match self.registry.tenant(&info.code).await {
                    Ok(t) => self.registry.server(t.server_id).await,
                    Err(RegistryError::NotFound(_)) => {
                        return Err(BackupError::Incompatible(format!(
                            "tenant {} is not in this registry: name the server to restore on",
                            info.code
                        )))
                    }
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            },
        };
        Ok(found?)
    }
}

fn step<E: std::fmt::Display>(step: &'static str) -> impl FnOnce(E) -> BackupError {
    move |e| BackupError::Step {
        step,
        message: e.to_string(),
    }
}

async fn unpack(archive: &Path, staging: &Path) -> Result<Manifest, BackupError> {
    let (archive, staging) = (archive.to_owned(), staging.to_owned());
    blocking(move || archive::unpack_verified(&archive, &staging)).await
}

/// The manifest's tenant, which must be `code`.
fn tenant_info<'m>(
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
    if manifest.engine == Engine::Postgres && info.schema != tenant.schema {
        let describe = |s: &Option<String>| match s {
            Some(s) => format!("schema {s}"),
            None => "a whole database".to_owned(),
        };
        return Err(BackupError::Incompatible(format!(
            "the backup holds {} but tenant {} uses {}",
            describe(&info.schema),
            tenant.code,
            describe(&tenant.schema)
        )));
    }
    Ok(())
}

fn new_tenant(
    code: &TenantCode,
    info: &TenantInfo,
    server: &DataServer,
    database: &DatabaseName,
    password: Option<secrecy::SecretString>,
    archive: &Path,
) -> Result<NewTenant, BackupError> {
    let schema = match (server.engine, &info.schema) {
        (Engine::Postgres, Some(s)) => {
            Some(DatabaseName::parse(s).map_err(|e| BackupError::Incompatible(e.to_string()))?)
        }
        _ => None,
    };
    Ok(NewTenant {
        code: code.clone(),
        name: info.name.clone(),
        subdomain: None,
        domains: Vec::new(),
        placement: if schema.is_some() {
            Placement::Shared
        } else {
            Placement::Dedicated
        },
        server_id: server.id,
        database: Some(database.clone()),
        schema,
        username: server.admin_username.clone(),
        password,
        status: TenantStatus::Provisioning,
        region: None,
        pool: PoolSettings::default(),
        plan: "standard".into(),
        notes: Some(format!(
            "restored from {} of {}",
            file_name(archive),
            info.code
        )),
    })
}

fn file_name(archive: &Path) -> String {
    archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn from(info: &TenantInfo, manifest: &Manifest) -> serde_json::Value {
    json!({"code": info.code, "tenantId": info.id, "createdAt": manifest.created_at,
           "schemaVersion": info.schema_version})
}
