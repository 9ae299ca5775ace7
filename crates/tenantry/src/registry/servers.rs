//! Data servers: where tenant databases live.

use super::{conflict, Registry, RegistryError, Result};
use crate::db;
use crate::tenant::{Engine, HostName, Hosting, InvalidValue, ServerName, TlsMode};
use secrecy::SecretString;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

/// A registered data server. The admin password stays encrypted in the registry; it is read with
/// [`Registry::server_admin_password`] only when provisioning needs it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataServer {
    pub id: Uuid,
    pub name: ServerName,
    pub engine: Engine,
    /// Host name or IP; for SQLite, the directory that holds the tenant files.
    pub host: String,
    pub port: u16,
    pub hosting: Hosting,
    pub region: Option<String>,
    pub tls: TlsMode,
    pub admin_username: Option<String>,
    pub has_admin_password: bool,
    /// Most connections tenantry keeps open to this server (`None`: no cap). Keep it under the
    /// server's own `max_connections`, leaving room for its administrators.
    pub max_connections: Option<u32>,
    pub created_at: String,
}

/// Input for [`Registry::add_server`].
#[derive(Debug, Clone)]
pub struct NewServer {
    pub name: ServerName,
    pub engine: Engine,
    pub host: String,
    /// Defaults to the engine's port.
    pub port: Option<u16>,
    pub hosting: Hosting,
    pub region: Option<String>,
    pub tls: TlsMode,
    pub admin_username: Option<String>,
    pub admin_password: Option<SecretString>,
}

impl NewServer {
    /// Checks the host and returns it normalized (the name is a [`ServerName`] already).
    fn validate(&self) -> Result<String, InvalidValue> {
        match self.engine {
            Engine::Sqlite => {
                if self.host.trim().is_empty() {
                    return Err(InvalidValue::new("host", "SQLite servers need a directory"));
                }
                Ok(self.host.trim().to_owned())
            }
            _ => Ok(HostName::parse(&self.host)?.to_string()),
        }
    }
}

impl DataServer {
    /// `host:port` (or the SQLite directory): the key of this server's circuit breaker in the pool
    /// manager, the same as [`super::DataSource::server_key`] of its tenants.
    pub fn server_key(&self) -> String {
        match self.engine {
            Engine::Sqlite => self.host.clone(),
            _ => format!("{}:{}", self.host, self.port),
        }
    }
}

fn server_from_row(row: &AnyRow) -> Result<DataServer> {
    Ok(DataServer {
        id: parse_uuid(row.try_get("id")?)?,
        name: ServerName::parse(&row.try_get::<String, _>("name")?)?,
        engine: row.try_get::<String, _>("engine")?.parse()?,
        host: row.try_get("host")?,
        port: row.try_get::<i64, _>("port")? as u16,
        hosting: row.try_get::<String, _>("hosting")?.parse()?,
        region: row.try_get("region")?,
        tls: row.try_get::<String, _>("tls_mode")?.parse()?,
        admin_username: row.try_get("admin_username")?,
        has_admin_password: row
            .try_get::<Option<String>, _>("admin_password_enc")?
            .is_some(),
        created_at: row.try_get("created_at")?,
        max_connections: row
            .try_get::<Option<i64>, _>("max_connections")?
            .map(|n| n.clamp(1, u32::MAX as i64) as u32),
    })
}

pub(crate) fn parse_uuid(text: String) -> Result<Uuid> {
    Uuid::parse_str(&text)
        .map_err(|_| RegistryError::Invalid(InvalidValue::new("id", "not a UUID")))
}

const SERVER_COLUMNS: &str = "id, name, engine, host, port, hosting, region, tls_mode, admin_username, admin_password_enc, created_at, max_connections";

impl Registry {
    #[tracing::instrument(skip_all, fields(name = %new.name))]
    pub async fn add_server(&self, new: NewServer) -> Result<DataServer> {
        let host = new.validate()?;
        let id = Uuid::new_v4();
        let now = db::now();
        let port = new.port.unwrap_or(new.engine.default_port());
        let password = new.admin_password.as_ref().map(|p| {
            self.secrets()
                .encrypt(crate::secrets::expose(p), &server_context(id))
        });
        sqlx::query(&self.sql(
            "INSERT INTO data_servers (id, name, engine, host, port, hosting, region, tls_mode, \
             admin_username, admin_password_enc, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(id.to_string())
        .bind(new.name.as_str())
        .bind(new.engine.as_str())
        .bind(&host)
        .bind(i64::from(port))
        .bind(new.hosting.as_str())
        .bind(new.region.clone())
        .bind(new.tls.as_str())
        .bind(new.admin_username.clone())
        .bind(password)
        .bind(&now)
        .bind(&now)
        .execute(self.pool())
        .await
        .map_err(|e| conflict(e, format!("server {}", new.name)))?;
        self.server(id).await
    }

    pub async fn server(&self, id: Uuid) -> Result<DataServer> {
        let q = format!("SELECT {SERVER_COLUMNS} FROM data_servers WHERE id = ?");
        let row = sqlx::query(&self.sql(&q))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("server {id}")))?;
        server_from_row(&row)
    }

    pub async fn server_by_name(&self, name: &ServerName) -> Result<DataServer> {
        let q = format!("SELECT {SERVER_COLUMNS} FROM data_servers WHERE name = ?");
        let row = sqlx::query(&self.sql(&q))
            .bind(name.as_str())
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("server {name}")))?;
        server_from_row(&row)
    }

    pub async fn list_servers(&self) -> Result<Vec<DataServer>> {
        let q = format!("SELECT {SERVER_COLUMNS} FROM data_servers ORDER BY name");
        let rows = sqlx::query(&q).fetch_all(self.pool()).await?;
        rows.iter().map(server_from_row).collect()
    }

    /// Tenants (tombstones excluded) per server id; servers without tenants are absent.
    pub async fn tenant_counts_by_server(&self) -> Result<std::collections::HashMap<Uuid, i64>> {
        let rows = sqlx::query(
            "SELECT server_id, COUNT(*) AS n FROM tenants WHERE status <> 'deleted' GROUP BY server_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((parse_uuid(r.try_get("server_id")?)?, r.try_get("n")?)))
            .collect()
    }

    /// Decrypts a server's admin password, for provisioning on it.
    pub async fn server_admin_password(&self, id: Uuid) -> Result<Option<SecretString>> {
        let ct: Option<String> = sqlx::query_scalar(
            &self.sql("SELECT admin_password_enc FROM data_servers WHERE id = ?"),
        )
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?
        .flatten();
        Ok(match ct {
            Some(ct) => Some(self.decrypt(&ct, &server_context(id))?),
            None => None,
        })
    }

    /// Our server (of `engine`, when given) holding the fewest tenants: where a new tenant goes when
    /// none is named.
    pub async fn least_loaded_server(&self, engine: Option<Engine>) -> Result<DataServer> {
        let cols: Vec<String> = SERVER_COLUMNS
            .split(", ")
            .map(|c| format!("s.{c}"))
            .collect();
        let filter = if engine.is_some() {
            " AND s.engine = ?"
        } else {
            ""
        };
        let q = format!(
            "SELECT {cols} FROM data_servers s LEFT JOIN tenants t ON t.server_id = s.id AND t.status <> 'deleted' \
             WHERE s.hosting = 'ours'{filter} GROUP BY {cols} ORDER BY COUNT(t.id), s.name LIMIT 1",
            cols = cols.join(", ")
        );
        let q = self.sql(&q);
        let mut query = sqlx::query(&q);
        if let Some(e) = engine {
            query = query.bind(e.as_str());
        }
        let row = query
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| RegistryError::NotFound("a server of ours for this engine".into()))?;
        server_from_row(&row)
    }

    /// Removes a server that holds no tenant (tombstones included: they record where data lived).
    pub async fn remove_server(&self, id: Uuid) -> Result<()> {
        let used: i64 =
            sqlx::query_scalar(&self.sql("SELECT COUNT(*) FROM tenants WHERE server_id = ?"))
                .bind(id.to_string())
                .fetch_one(self.pool())
                .await?;
        if used > 0 {
            return Err(RegistryError::Conflict(format!(
                "tenants on server {id} ({used})"
            )));
        }
        let done = sqlx::query(&self.sql("DELETE FROM data_servers WHERE id = ?"))
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(RegistryError::NotFound(format!("server {id}")));
        }
        Ok(())
    }

    /// Moves a server to a new address (e.g. a fail-over); its tenants' pools follow on their next
    /// request.
    pub async fn set_server_address(&self, id: Uuid, host: &str, port: u16) -> Result<()> {
        let server = self.server(id).await?;
        let host = match server.engine {
            Engine::Sqlite => host.to_owned(),
            _ => HostName::parse(host)?.to_string(),
        };
        sqlx::query(
            &self.sql("UPDATE data_servers SET host = ?, port = ?, updated_at = ? WHERE id = ?"),
        )
        .bind(host)
        .bind(i64::from(port))
        .bind(db::now())
        .bind(id.to_string())
        .execute(self.pool())
        .await?;
        self.invalidate_all();
        Ok(())
    }
    /// Sets (or with `None` removes) the cap on connections tenantry keeps open to a server.
    /// Pools follow on their next new connection.
    pub async fn set_server_max_connections(&self, id: Uuid, max: Option<u32>) -> Result<()> {
        if max == Some(0) {
            return Err(InvalidValue::new("maxConnections", "must be positive").into());
        }
        let done = sqlx::query(
            &self.sql("UPDATE data_servers SET max_connections = ?, updated_at = ? WHERE id = ?"),
        )
        .bind(max.map(i64::from))
        .bind(db::now())
        .bind(id.to_string())
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(RegistryError::NotFound(format!("server {id}")));
        }
        self.invalidate_all();
        Ok(())
    }
}

pub(crate) fn server_context(id: Uuid) -> String {
    format!("server:{id}:admin_password")
}
