//! One database manager per engine: create, drop and check tenant databases on a data server.
//! Names spliced into DDL come only from [`DatabaseName`]. SQL Server's is [`MssqlAdmin`]
//! (tiberius), reached through [`ServerAdmin::mssql`].

use crate::db::{self, Target};
use crate::mssql::{ConnectOptions, MssqlAdmin};
use crate::registry::DataServer;
use crate::tenant::{DatabaseName, Engine};
use secrecy::SecretString;
use sqlx::{AnyConnection, Connection, Executor};
use std::path::Path;

/// Admin access to one data server.
pub struct ServerAdmin<'a> {
    pub server: &'a DataServer,
    pub password: Option<SecretString>,
}

impl ServerAdmin<'_> {
    /// SQL Server's admin (the server's admin login, database `master`, the server's TLS mode).
    pub fn mssql(&self) -> MssqlAdmin {
        let s = self.server;
        let password = self
            .password
            .clone()
            .unwrap_or_else(|| SecretString::from(String::new()));
        let user = s.admin_username.clone().unwrap_or_default();
        let mut options = ConnectOptions::new(&s.host, "master", user, password);
        options.port = s.port;
        options.tls = db::mssql::tls_of(s.tls);
        MssqlAdmin::new(options)
    }

    async fn connect(&self, database: &str) -> Result<AnyConnection, sqlx::Error> {
        db::install_drivers();
        let s = self.server;
        let url = db::connect_url(&Target {
            engine: s.engine,
            host: &s.host,
            port: s.port,
            database,
            username: s.admin_username.as_deref(),
            password: self.password.as_ref(),
            tls: s.tls,
            create: true,
        })
        .map_err(|e| sqlx::Error::Configuration(e.to_string().into()))?;
        AnyConnection::connect(&url).await
    }

    /// An admin connection whose statements are not logged: for DDL that carries a password
    /// (DDL cannot bind parameters).
    async fn quiet_admin_connection(&self) -> Result<AnyConnection, sqlx::Error> {
        use sqlx::ConnectOptions;
        let s = self.server;
        let url = db::connect_url(&Target {
            engine: s.engine,
            host: &s.host,
            port: s.port,
            database: self.maintenance_db(),
            username: s.admin_username.as_deref(),
            password: self.password.as_ref(),
            tls: s.tls,
            create: false,
        })
        .map_err(|e| sqlx::Error::Configuration(e.to_string().into()))?;
        db::install_drivers();
        url.parse::<sqlx::any::AnyConnectOptions>()?
            .disable_statement_logging()
            .connect()
            .await
    }

    fn maintenance_db(&self) -> &'static str {
        match self.server.engine {
            Engine::Postgres => "postgres",
            _ => "",
        }
    }

    pub async fn database_exists(&self, name: &DatabaseName) -> Result<bool, sqlx::Error> {
        match self.server.engine {
            Engine::Sqlite => Ok(sqlite_path(self.server, name).exists()),
            Engine::Mssql => Ok(self.mssql().database_exists(name).await?),
            engine => {
                let q = match engine {
                    Engine::Postgres => "SELECT COUNT(*) FROM pg_database WHERE datname = $1",
                    _ => "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?",
                };
                let mut conn = self.connect(self.maintenance_db()).await?;
                let n: i64 = sqlx::query_scalar(q)
                    .bind(name.as_str())
                    .fetch_one(&mut conn)
                    .await?;
                Ok(n > 0)
            }
        }
    }

    /// Whether `schema` exists in `database` (PostgreSQL; `false` when the database does not).
    pub async fn schema_exists(
        &self,
        database: &DatabaseName,
        schema: &DatabaseName,
    ) -> Result<bool, sqlx::Error> {
        match self.server.engine {
            Engine::Postgres => {}
            Engine::Mssql => return Ok(self.mssql().schema_exists(database, schema).await?),
            _ => {
                let why = "schemas in a shared database are a PostgreSQL or SQL Server placement";
                return Err(sqlx::Error::Configuration(why.into()));
            }
        }
        if !self.database_exists(database).await? {
            return Ok(false);
        }
        let mut conn = self.connect(database.as_str()).await?;
        let q = "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = $1";
        let n: i64 = sqlx::query_scalar(q)
            .bind(schema.as_str())
            .fetch_one(&mut conn)
            .await?;
        Ok(n > 0)
    }

    /// Whether `database` (or only `schema` in it) holds no table, view or sequence: what a
    /// crash right after `CREATE DATABASE` leaves behind.
    pub async fn is_empty(
        &self,
        database: &DatabaseName,
        schema: Option<&DatabaseName>,
    ) -> Result<bool, sqlx::Error> {
        if self.server.engine == Engine::Mssql {
            return Ok(self.mssql().is_empty(database, schema).await?);
        }
        let mut conn = self.connect(database.as_str()).await?;
        let count = match (self.server.engine, schema) {
            (Engine::Postgres, Some(s)) => sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1",
            )
            .bind(s.as_str()),
            (Engine::Postgres, None) => sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
                 AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'",
            ),
            (Engine::Mysql, _) => sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ?",
            )
            .bind(database.as_str()),
            (Engine::Sqlite, _) => sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master"),
            (Engine::Mssql, _) => unreachable!("handled above"),
        };
        let n: i64 = count.fetch_one(&mut conn).await?;
        let _ = conn.close().await;
        Ok(n == 0)
    }

    /// Creates the database unless it exists (idempotent).
    pub async fn create_database(&self, name: &DatabaseName) -> Result<(), sqlx::Error> {
        match self.server.engine {
            Engine::Mssql => Ok(self.mssql().create_database(name).await?),
            Engine::Sqlite => {
                std::fs::create_dir_all(&self.server.host)?;
                let mut conn = self.connect(name.as_str()).await?;
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.close().await
            }
            Engine::Postgres => {
                if self.database_exists(name).await? {
                    return Ok(());
                }
                let mut conn = self.connect("postgres").await?;
                conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
                    .await?;
                conn.close().await
            }
            Engine::Mysql => {
                let mut conn = self.connect("").await?;
                conn.execute(
                    format!("CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
                        .as_str(),
                )
                .await?;
                conn.close().await
            }
        }
    }

    /// Creates a schema in a shared PostgreSQL database (the `shared` placement; SQL Server's
    /// tenants get theirs with [`MssqlAdmin::create_schema_tenant`]).
    pub async fn create_schema(
        &self,
        database: &DatabaseName,
        schema: &DatabaseName,
    ) -> Result<(), sqlx::Error> {
        if self.server.engine == Engine::Mssql {
            return Ok(self.mssql().create_schema(database, schema).await?);
        }
        let mut conn = self.connect(database.as_str()).await?;
        conn.execute(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"").as_str())
            .await?;
        conn.close().await
    }

    /// Drops a tenant's schema from a shared PostgreSQL database (idempotent).
    pub async fn drop_schema(
        &self,
        database: &DatabaseName,
        schema: &DatabaseName,
    ) -> Result<(), sqlx::Error> {
        if self.server.engine == Engine::Mssql {
            return Ok(self.mssql().drop_schema(database, schema).await?);
        }
        let mut conn = self.connect(database.as_str()).await?;
        conn.execute(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE").as_str())
            .await?;
        conn.close().await
    }

    /// Sets the password of database user `user` (PostgreSQL role; MySQL/MariaDB `'user'@'%'` and,
    /// when that account exists, `'user'@'localhost'`). DDL cannot bind parameters, so the password
    /// is spliced: the caller vets its characters, and this refuses any quote or backslash again.
    /// Statement logging is off on this connection so the password never reaches a log line.
    #[tracing::instrument(skip(self, password), fields(server = %self.server.name))]
    /// Creates (or, on a retry, re-passwords) a login that owns `database` and nothing else: the
    /// least-privilege user of a dedicated tenant (`separate_db_users`). Idempotent.
    pub async fn create_tenant_user(
        &self,
        database: &DatabaseName,
        user: &DatabaseName,
        password: &SecretString,
    ) -> Result<(), sqlx::Error> {
        let pw = crate::secrets::expose(password);
        if pw.is_empty() || !pw.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(sqlx::Error::Configuration(
                "generated passwords are alphanumeric".into(),
            ));
        }
        let s = self.server;
        if s.engine == Engine::Mssql {
            let admin = self.mssql();
            return Ok(admin.create_tenant_login(database, user, password).await?);
        }
        let mut conn = self.quiet_admin_connection().await?;
        let statements = match s.engine {
            Engine::Postgres => {
                let exists: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM pg_roles WHERE rolname = $1")
                        .bind(user.as_str())
                        .fetch_one(&mut conn)
                        .await?;
                let role = if exists > 0 { "ALTER" } else { "CREATE" };
                vec![
                    format!("{role} ROLE \"{user}\" LOGIN PASSWORD '{pw}'"),
                    format!("ALTER DATABASE \"{database}\" OWNER TO \"{user}\""),
                    format!("REVOKE ALL ON DATABASE \"{database}\" FROM PUBLIC"),
                ]
            }
            Engine::Mysql => ["%", "localhost"]
                .iter()
                .flat_map(|host| {
                    [
                        format!("CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY '{pw}'"),
                        format!("ALTER USER '{user}'@'{host}' IDENTIFIED BY '{pw}'"),
                        format!("GRANT ALL PRIVILEGES ON `{database}`.* TO '{user}'@'{host}'"),
                    ]
                })
                .collect(),
            Engine::Sqlite => {
                return Err(sqlx::Error::Configuration(
                    "SQLite has no database users".into(),
                ))
            }
            Engine::Mssql => unreachable!("handled above"),
        };
        for statement in statements {
            conn.execute(statement.as_str()).await?;
        }
        conn.close().await
    }

    pub async fn set_user_password(
        &self,
        user: &DatabaseName,
        password: &SecretString,
    ) -> Result<(), sqlx::Error> {
        let pw = crate::secrets::expose(password);
        if pw.is_empty() || pw.contains(['\'', '"', '\\', '`']) || !pw.is_ascii() {
            let why = "password contains characters that cannot be spliced into DDL";
            return Err(sqlx::Error::Configuration(why.into()));
        }
        let s = self.server;
        if s.engine == Engine::Sqlite {
            let why = "SQLite has no database users";
            return Err(sqlx::Error::Configuration(why.into()));
        }
        if s.engine == Engine::Mssql {
            return Ok(self.mssql().set_login_password(user, password).await?);
        }
        let mut conn = self.quiet_admin_connection().await?;
        match s.engine {
            Engine::Sqlite | Engine::Mssql => unreachable!("handled above"),
            Engine::Postgres => {
                conn.execute(format!("ALTER ROLE \"{user}\" WITH PASSWORD '{pw}'").as_str())
                    .await?;
            }
            Engine::Mysql => {
                let q = "SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = 'localhost'";
                let local: i64 = sqlx::query_scalar(q)
                    .bind(user.as_str())
                    .fetch_one(&mut conn)
                    .await?;
                let hosts: &[&str] = if local > 0 {
                    &["%", "localhost"]
                } else {
                    &["%"]
                };
                for host in hosts {
                    let ddl = format!("ALTER USER '{user}'@'{host}' IDENTIFIED BY '{pw}'");
                    conn.execute(ddl.as_str()).await?;
                }
            }
        }
        conn.close().await
    }

    /// Drops the database if it exists (idempotent).
    pub async fn drop_database(&self, name: &DatabaseName) -> Result<(), sqlx::Error> {
        match self.server.engine {
            Engine::Mssql => Ok(self.mssql().drop_database(name).await?),
            Engine::Sqlite => {
                let path = sqlite_path(self.server, name);
                let [wal, shm] = tenantry_sqlite_wal::companion_files(&path);
                for p in [path, wal, shm] {
                    match std::fs::remove_file(&p) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                        _ => {}
                    }
                }
                Ok(())
            }
            Engine::Postgres => {
                let mut conn = self.connect("postgres").await?;
                conn.execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                    .await?;
                conn.close().await
            }
            Engine::Mysql => {
                let mut conn = self.connect("").await?;
                conn.execute(format!("DROP DATABASE IF EXISTS `{name}`").as_str())
                    .await?;
                conn.close().await
            }
        }
    }
}

fn sqlite_path(server: &DataServer, name: &DatabaseName) -> std::path::PathBuf {
    Path::new(&server.host).join(format!("{name}.db"))
}
