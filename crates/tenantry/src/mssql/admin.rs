//! Server administration with an admin login: databases and schemas. Logins live in `login.rs`.
//!
//! Each operation opens its own connection (to `master`, or to the database it works in) and is
//! idempotent, so a provisioning retry can run it again.

use super::ident::quoted;
use super::{connect, ConnectOptions, MssqlClient, MssqlError};
use crate::tenant::DatabaseName;
use std::time::Duration;

/// How often `DROP DATABASE` is tried when sessions keep (re)appearing on the database.
const DROP_ATTEMPTS: usize = 5;

/// Admin access to one SQL Server: `options` hold the admin login and the database it opens for
/// server-level work (normally `master`).
#[derive(Debug, Clone)]
pub struct MssqlAdmin {
    pub options: ConnectOptions,
}

impl MssqlAdmin {
    pub fn new(options: ConnectOptions) -> Self {
        Self { options }
    }

    /// A connection to the admin database.
    pub async fn connect(&self) -> Result<MssqlClient, MssqlError> {
        connect(&self.options).await
    }

    /// A connection, as admin, to `database`.
    pub async fn connect_to(&self, database: &str) -> Result<MssqlClient, MssqlError> {
        connect(&self.options.with_database(database)).await
    }

    /// Whether database `name` exists on the server.
    pub async fn database_exists(&self, name: &DatabaseName) -> Result<bool, MssqlError> {
        let mut client = self.connect().await?;
        let n = count(
            &mut client,
            "database_exists",
            "SELECT COUNT(*) FROM sys.databases WHERE name = @P1",
            name.as_str(),
        )
        .await?;
        close(client).await;
        Ok(n > 0)
    }

    /// Whether `schema` exists in `database` (`false` when the database does not).
    pub async fn schema_exists(
        &self,
        database: &DatabaseName,
        schema: &DatabaseName,
    ) -> Result<bool, MssqlError> {
        if !self.database_exists(database).await? {
            return Ok(false);
        }
        let mut client = self.connect_to(database.as_str()).await?;
        let found = schema_exists(&mut client, schema).await;
        close(client).await;
        found
    }

    /// Whether `database` (or only `schema` in it) holds no user object: what a crash right after
    /// `CREATE DATABASE` leaves behind.
    pub async fn is_empty(
        &self,
        database: &DatabaseName,
        schema: Option<&DatabaseName>,
    ) -> Result<bool, MssqlError> {
        let mut client = self.connect_to(database.as_str()).await?;
        let in_schema = "SELECT COUNT(*) FROM sys.objects o JOIN sys.schemas s \
                         ON s.schema_id = o.schema_id WHERE o.is_ms_shipped = 0 AND s.name = @P1";
        // Every user object, whatever its schema (`@P1 = @P1` only gives the query its parameter).
        let anywhere = "SELECT COUNT(*) FROM sys.objects WHERE is_ms_shipped = 0 AND @P1 = @P1";
        let n = match schema {
            Some(s) => count(&mut client, "is_empty", in_schema, s.as_str()).await,
            None => count(&mut client, "is_empty", anywhere, "x").await,
        };
        close(client).await;
        Ok(n? == 0)
    }

    /// Creates database `name` unless it exists. A concurrent creator winning the race is fine
    /// (SQL Server 1801 "already exists" counts as success).
    #[tracing::instrument(skip(self), fields(server = %self.options.host))]
    pub async fn create_database(&self, name: &DatabaseName) -> Result<(), MssqlError> {
        let sql = format!(
            "IF DB_ID({lit}) IS NULL CREATE DATABASE {db}",
            lit = super::ident::nstring(name.as_str()),
            db = quoted(name)
        );
        let mut attempt = 0;
        loop {
            let mut client = self.connect().await?;
            let result = batch(&mut client, "create database", &sql).await;
            close(client).await;
            match result {
                Err(e) if e.server_code() == Some(1801) => return Ok(()),
                // Concurrent CREATE DATABASE statements can collide on the server's catalog
                // (SQL Server: deadlock victim 1205; Babelfish: "tuple concurrently updated").
                // The statement is idempotent, so it is simply run again.
                Err(e) => {
                    if !wait_to_retry(&e, &mut attempt).await {
                        return Err(e);
                    }
                }
                done => return done,
            }
        }
    }

    /// Drops database `name` if it exists, after ending every other session on it.
    ///
    /// SQL Server's usual `ALTER DATABASE … SET SINGLE_USER WITH ROLLBACK IMMEDIATE` is not
    /// available on Azure SQL Database (nor on Babelfish), so sessions are ended one by one with
    /// `KILL` (SQL Server, Azure SQL and Babelfish all have it) and the drop is retried while
    /// new sessions arrive. Close the tenant's pool first, or it reconnects in between.
    #[tracing::instrument(skip(self), fields(server = %self.options.host))]
    pub async fn drop_database(&self, name: &DatabaseName) -> Result<(), MssqlError> {
        let mut client = self.connect().await?;
        let result = drop_database_on(&mut client, name).await;
        close(client).await;
        result
    }

    /// Creates schema `schema` in `database` unless it exists (shared placement: one schema per
    /// tenant). `CREATE SCHEMA` must open its batch, so existence is checked first; a concurrent
    /// creator winning the race is fine (SQL Server 2714 "already an object named").
    #[tracing::instrument(skip(self), fields(server = %self.options.host))]
    pub async fn create_schema(
        &self,
        database: &DatabaseName,
        schema: &DatabaseName,
    ) -> Result<(), MssqlError> {
        let mut client = self.connect_to(database.as_str()).await?;
        let result = async {
            if schema_exists(&mut client, schema).await? {
                return Ok(());
            }
            let sql = format!("CREATE SCHEMA {}", quoted(schema));
            match batch(&mut client, "create schema", &sql).await {
                Err(e) if e.server_code() == Some(2714) => Ok(()),
                other => other,
            }
        }
        .await;
        close(client).await;
        result
    }

    /// Drops schema `schema` of `database` and everything in it (SQL Server has no `CASCADE`):
    /// its foreign keys, views, procedures, functions, synonyms, tables and sequences, then the
    /// schema. Idempotent.
    #[tracing::instrument(skip(self), fields(server = %self.options.host))]
    pub async fn drop_schema(
        &self,
        database: &DatabaseName,
        schema: &DatabaseName,
    ) -> Result<(), MssqlError> {
        let mut client = self.connect_to(database.as_str()).await?;
        let result = async {
            if !schema_exists(&mut client, schema).await? {
                return Ok(());
            }
            super::schema_drop::drop_contents(&mut client, schema).await?;
            batch(
                &mut client,
                "drop schema",
                &format!("DROP SCHEMA {}", quoted(schema)),
            )
            .await
        }
        .await;
        close(client).await;
        result
    }
}

async fn drop_database_on(client: &mut MssqlClient, name: &DatabaseName) -> Result<(), MssqlError> {
    let sql = format!(
        "IF DB_ID({lit}) IS NOT NULL DROP DATABASE {db}",
        lit = super::ident::nstring(name.as_str()),
        db = quoted(name)
    );
    let mut attempt = 1;
    loop {
        kill_sessions(client, "database_id = DB_ID(@P1)", name.as_str()).await?;
        match batch(client, "drop database", &sql).await {
            Ok(()) => return Ok(()),
            // 3702: "Cannot drop database because it is currently in use" (a session arrived
            // between the KILLs and the DROP; Babelfish reports it under its generic number).
            Err(_) if attempt < DROP_ATTEMPTS => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100 * attempt as u64)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Ends every session but ours matching `filter` (a `sys.dm_exec_sessions` condition on `@P1`).
/// A session that ends by itself meanwhile is not an error.
pub(super) async fn kill_sessions(
    client: &mut MssqlClient,
    filter: &str,
    value: &str,
) -> Result<(), MssqlError> {
    let sql = format!(
        "SELECT session_id FROM sys.dm_exec_sessions WHERE {filter} AND session_id <> @@SPID"
    );
    let rows = client
        .query(sql, &[&value])
        .await
        .map_err(MssqlError::query("list sessions"))?
        .into_first_result()
        .await
        .map_err(MssqlError::query("list sessions"))?;
    let ids: Vec<i32> = rows
        .iter()
        .filter_map(|r| {
            r.get::<i32, _>(0)
                .or_else(|| r.get::<i16, _>(0).map(i32::from))
        })
        .collect();
    for id in ids {
        // `KILL` takes no parameter; the id is an integer the server just gave us.
        let _ = batch(client, "kill session", &format!("KILL {id}")).await;
    }
    Ok(())
}

async fn schema_exists(
    client: &mut MssqlClient,
    schema: &DatabaseName,
) -> Result<bool, MssqlError> {
    let n = count(
        client,
        "schema_exists",
        "SELECT COUNT(*) FROM sys.schemas WHERE name = @P1",
        schema.as_str(),
    )
    .await?;
    Ok(n > 0)
}

/// Runs a T-SQL batch (no parameters) and drains its results.
pub(super) async fn batch(
    client: &mut MssqlClient,
    stage: &'static str,
    sql: &str,
) -> Result<(), MssqlError> {
    client
        .simple_query(sql)
        .await
        .map_err(MssqlError::query(stage))?
        .into_results()
        .await
        .map_err(MssqlError::query(stage))?;
    Ok(())
}

/// Runs `SELECT COUNT(*) … @P1` and returns the count.
pub(super) async fn count(
    client: &mut MssqlClient,
    stage: &'static str,
    sql: &'static str,
    value: &str,
) -> Result<i64, MssqlError> {
    let row = client
        .query(sql, &[&value])
        .await
        .map_err(MssqlError::query(stage))?
        .into_row()
        .await
        .map_err(MssqlError::query(stage))?;
    Ok(row
        .and_then(|r| r.get::<i32, _>(0))
        .map(i64::from)
        .unwrap_or(0))
}

/// Closes a connection politely; a failure to say goodbye changes nothing.
pub(super) async fn close(client: MssqlClient) {
    let _ = client.close().await;
}

/// A server error that says "try again": a deadlock victim, or a catalog row updated or deleted
/// concurrently (Babelfish: "tuple concurrently updated", "tuple concurrently deleted").
fn is_transient(e: &MssqlError) -> bool {
    e.server_code() == Some(1205)
        || e.server_message()
            .is_some_and(|m| m.contains("tuple concurrently"))
}

/// Retries of an idempotent statement that failed with a transient error.
const TRANSIENT_RETRIES: u64 = 5;

/// When `e` says "try again" and retries remain, waits a little longer each time (50 ms ×
/// attempt) and returns true; otherwise returns false at once.
pub(super) async fn wait_to_retry(e: &MssqlError, attempt: &mut u64) -> bool {
    if *attempt >= TRANSIENT_RETRIES || !is_transient(e) {
        return false;
    }
    *attempt += 1;
    tokio::time::sleep(Duration::from_millis(50 * *attempt)).await;
    true
}
