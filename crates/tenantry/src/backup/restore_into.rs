//! Restoring a tenant backup as a new tenant (`--into NEWCODE`): a new database on the same (or a
//! named) server, built with the provisioning building blocks, `active` only once complete.

use super::dump::Target;
use super::manifest::TenantInfo;
use super::restore::{file_name, step, tenant_info, unpack};
use super::{BackupError, Backups, Progress, RestoreReport};
use crate::provision::ServerAdmin;
use crate::registry::{DataServer, NewTenant, PoolSettings, RegistryError};
use crate::tenant::{DatabaseName, Engine, Placement, TenantCode, TenantStatus};
use std::path::Path;

/// The new tenant of [`Backups::restore_into`].
#[derive(Debug, Clone)]
pub struct NewTenantFrom {
    pub code: TenantCode,
    /// Data server name or id. Default: the server of the backed-up tenant.
    pub server: Option<String>,
    /// Default: `tenant_{code}`. Must not exist yet.
    pub database: Option<DatabaseName>,
}

impl NewTenantFrom {
    /// The new tenant `code`, on the backed-up tenant's server, in database `tenant_{code}`.
    pub fn code(code: TenantCode) -> Self {
        Self {
            code,
            server: None,
            database: None,
        }
    }
}

impl Backups {
    /// Creates tenant `into.code` from `archive` (a backup of tenant `code`): a new database on
    /// `into.server` (default: the server of the backed-up tenant), the dump loaded, the
    /// files copied, the schema version recorded, then `active`. A shared-placement backup keeps
    /// its schema name, in the new database. On failure the new tenant is left `failed`.
    #[tracing::instrument(skip(self, archive, progress), fields(archive = %archive.display()))]
    pub async fn restore_into(
        &self,
        code: &TenantCode,
        archive: &Path,
        into: &NewTenantFrom,
        progress: Progress<'_>,
    ) -> Result<RestoreReport, BackupError> {
        let staging = self.store.staging()?;
        progress("verify archive");
        let manifest = unpack(archive, staging.path()).await?;
        let info = tenant_info(&manifest, code)?;
        let new_code = &into.code;
        let server = self.target_server(into.server.as_deref(), info).await?;
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
        let database = (into.database.clone())
            .unwrap_or_else(|| DatabaseName::for_tenant(new_code, uuid::Uuid::new_v4()));
        let schema = new_schema(&server, info)?;
        (self.registry)
            .check_database_free(server.id, server.name.as_str(), &database, schema.as_ref())
            .await?;
        let exists = admin.database_exists(&database).await;
        if exists.map_err(step("check database"))? {
            return Err(BackupError::DatabaseExists {
                database: database.to_string(),
                server: server.name.to_string(),
            });
        }
        let new = new_tenant(
            new_code,
            info,
            &server,
            (database.clone(), schema),
            &admin,
            archive,
        );
        self.registry.create_tenant(new).await?;
        self.build(
            &admin,
            &database,
            new_code,
            &manifest,
            staging.path(),
            progress,
        )
        .await?;
        let tenant = self.registry.tenant(new_code).await?;
        Ok(RestoreReport { tenant, manifest })
    }

    /// Creates the database, loads the staged data and activates the new tenant; on failure the
    /// tenant is marked `failed` with the reason.
    async fn build(
        &self,
        admin: &ServerAdmin<'_>,
        database: &DatabaseName,
        code: &TenantCode,
        manifest: &super::Manifest,
        staging: &Path,
        progress: Progress<'_>,
    ) -> Result<(), BackupError> {
        let done: Result<(), BackupError> = async {
            progress("create database");
            self.registry.set_database_claimed(code, true).await?;
            admin
                .create_database(database)
                .await
                .map_err(step("create database"))?;
            self.registry.set_database_created(code).await?;
            let mut touched = false;
            self.load_everything(
                code,
                manifest,
                staging,
                Target::Fresh,
                &mut touched,
                progress,
            )
            .await?;
            Ok(self
                .registry
                .set_status(code, TenantStatus::Active, None)
                .await?)
        }
        .await;
        if let Err(e) = &done {
            let reason = format!("restore failed: {e}");
            self.registry
                .set_status(code, TenantStatus::Failed, Some(&reason))
                .await?;
        }
        done
    }

    async fn target_server(
        &self,
        named: Option<&str>,
        info: &TenantInfo,
    ) -> Result<DataServer, BackupError> {
        let found = match named {
            Some(name) => match uuid::Uuid::parse_str(name) {
                Ok(id) => self.registry.server(id).await,
                Err(_) => match crate::tenant::ServerName::parse(name) {
                    Ok(name) => self.registry.server_by_name(&name).await,
                    Err(e) => Err(e.into()),
                },
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

/// A PostgreSQL shared-placement backup keeps its schema name (in the new database).
fn new_schema(server: &DataServer, info: &TenantInfo) -> Result<Option<DatabaseName>, BackupError> {
    match (server.engine, &info.schema) {
        (Engine::Postgres, Some(s)) => Ok(Some(
            DatabaseName::parse(s).map_err(|e| BackupError::Incompatible(e.to_string()))?,
        )),
        _ => Ok(None),
    }
}

fn new_tenant(
    code: &TenantCode,
    info: &TenantInfo,
    server: &DataServer,
    (database, schema): (DatabaseName, Option<DatabaseName>),
    admin: &ServerAdmin<'_>,
    archive: &Path,
) -> NewTenant {
    NewTenant {
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
        database: Some(database),
        schema,
        username: server.admin_username.clone(),
        // Like the tenants provisioning creates: the server's login.
        password: admin.password.clone(),
        status: TenantStatus::Provisioning,
        region: None,
        pool: PoolSettings::default(),
        plan: "standard".into(),
        notes: Some(format!(
            "restored from {} of {}",
            file_name(archive),
            info.code
        )),
    }
}
