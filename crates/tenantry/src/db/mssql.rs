//! SQL Server tenant connections: a tiberius client opened from a [`DataSource`], with the
//! statement timeout the other engines get from their servers.
//!
//! **Statement timeout.** SQL Server has no per-session statement timeout (it is a client
//! setting in every Microsoft driver), so it is enforced here, as those drivers do: each of the
//! library's statements runs under a deadline; when it passes, a TDS Attention (`cancel_query`)
//! makes the server stop the statement and roll back its work, and the caller gets an error. If
//! the cancellation is not acknowledged within [`CANCEL_TIMEOUT`], the connection is marked
//! broken and the pool closes it (the server ends a session whose socket is gone). Babelfish
//! reads an Attention only once the running statement has finished, so there the connection is
//! given up rather than cancelled (and the statement runs on server-side). Lock waits are
//! also bounded server-side: `SET LOCK_TIMEOUT` is the pool's statement timeout (a migration's
//! lock timeout for migration connections), so a blocked statement fails with error 1222.
//!
//! **Shared placement.** A tenant in a shared database connects with its own login, whose
//! database user has the tenant's schema as `DEFAULT_SCHEMA` (SQL Server has no `search_path`);
//! unqualified names resolve there. A connection whose default schema is not the tenant's (a
//! misconfigured login would read another schema, e.g. `dbo`) is refused at connect time.
//!
//! Errors are mapped to `sqlx::Error`, the error type of [`super::EngineConnection`]: server
//! errors become `Database` errors carrying SQL Server's error number as their code (2627/2601 are
//! unique violations, 547 foreign-key violations, 515 not-null violations).

use super::Purpose;
use crate::mssql::{self, ConnectOptions, MssqlClient, MssqlError, MssqlTls};
use crate::registry::DataSource;
use crate::tenant::TlsMode;
use futures::future::BoxFuture;
use secrecy::SecretString;
use sqlx::error::{DatabaseError, ErrorKind};
use std::borrow::Cow;
use std::time::Duration;
use tiberius::Row;

/// How long a timed-out statement's cancellation may take before the connection is given up.
pub const CANCEL_TIMEOUT: Duration = Duration::from_secs(2);

/// A pooled connection to a SQL Server tenant database.
pub struct MssqlConnection {
    client: MssqlClient,
    /// Deadline of each of the library's statements (`None`: unlimited, for migrations).
    statement_timeout: Option<Duration>,
    /// Set while a statement runs; still set when its future was dropped midway, or when its
    /// cancellation failed. Such a connection is never handed out again.
    in_flight: bool,
}

impl std::fmt::Debug for MssqlConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MssqlConnection")
            .field("statement_timeout", &self.statement_timeout)
            .field("in_flight", &self.in_flight)
            .finish_non_exhaustive()
    }
}

/// SQL Server's TLS settings for a registry TLS mode (table at [`TlsMode`]).
pub fn tls_of(mode: TlsMode) -> MssqlTls {
    match mode {
        TlsMode::Verify => MssqlTls::VERIFY,
        TlsMode::Require => MssqlTls::TRUST,
        TlsMode::Prefer | TlsMode::Disable => MssqlTls::OFF,
    }
}

/// Connection options for `source` (its login, database and TLS mode).
pub fn options(source: &DataSource, timeout: Duration) -> ConnectOptions {
    let password = source
        .password
        .clone()
        .unwrap_or_else(|| SecretString::from(String::new()));
    let user = source.username.clone().unwrap_or_default();
    let mut opts = ConnectOptions::new(&source.host, &source.database, user, password);
    opts.port = source.port;
    opts.tls = tls_of(source.tls);
    opts.connect_timeout = timeout;
    opts
}

impl MssqlConnection {
    /// Opens a connection and applies the session settings of `purpose` (one round trip).
    pub(crate) async fn connect(
        source: &DataSource,
        purpose: Purpose,
        timeout: Duration,
    ) -> Result<Self, sqlx::Error> {
        if source.username.as_deref().unwrap_or("").is_empty() {
            let why = "a SQL Server tenant needs a login (username)";
            return Err(sqlx::Error::Configuration(why.into()));
        }
        let client = mssql::connect(&options(source, timeout)).await?;
        let (statement_timeout, lock_timeout_ms) = match purpose {
            Purpose::Migration { lock_timeout_ms } => (None, lock_timeout_ms),
            other => {
                let ms = other.statement_timeout_ms().unwrap_or(0);
                let limit = (ms > 0).then(|| Duration::from_millis(ms));
                (limit, ms)
            }
        };
        let mut conn = Self {
            client,
            statement_timeout,
            in_flight: false,
        };
        // 0 would mean "never wait" in T-SQL; no limit is -1.
        let lock = if lock_timeout_ms == 0 {
            -1
        } else {
            lock_timeout_ms.min(i32::MAX as u64) as i64
        };
        let setup = format!("SET LOCK_TIMEOUT {lock}; SELECT SCHEMA_NAME()");
        let rows = conn.rows(setup, Vec::new(), true).await?;
        let schema = rows.first().and_then(|r| r.get::<&str, _>(0)).unwrap_or("");
        if let Some(expected) = &source.schema {
            if !schema.eq_ignore_ascii_case(expected) {
                let _ = conn.close().await;
                let why = format!(
                    "login {:?} has default schema {schema:?} in database {:?}, not the tenant's \
                     schema {expected:?}: give its user DEFAULT_SCHEMA = [{expected}]",
                    source.username.as_deref().unwrap_or(""),
                    source.database
                );
                return Err(sqlx::Error::Configuration(why.into()));
            }
        }
        Ok(conn)
    }

    /// The driver's own client, for application code. The library's statement timeout does not
    /// apply to statements run on it directly (`SET LOCK_TIMEOUT` does).
    pub fn client(&mut self) -> &mut MssqlClient {
        &mut self.client
    }

    /// Whether a statement was cut off (dropped or not cancelled in time): never reuse it.
    pub fn is_broken(&self) -> bool {
        self.in_flight
    }

    pub(crate) async fn close(self) -> Result<(), sqlx::Error> {
        self.client.close().await.map_err(from_tiberius)
    }

    /// One round trip (under the probe's deadline when no statement timeout is set).
    pub(crate) async fn ping(&mut self) -> Result<(), sqlx::Error> {
        self.batch("SELECT 1".to_owned()).await
    }

    /// Runs raw T-SQL (one batch, no parameters) and drains its results.
    pub(crate) async fn batch(&mut self, sql: String) -> Result<(), sqlx::Error> {
        self.timed(move |c| {
            Box::pin(async move { c.simple_query(sql).await?.into_results().await.map(drop) })
        })
        .await
    }

    /// Rows of the first result of `sql` with `args` bound in order (`simple`: no parameters,
    /// several statements allowed).
    pub(crate) async fn rows(
        &mut self,
        sql: String,
        args: Vec<Bound>,
        simple: bool,
    ) -> Result<Vec<Row>, sqlx::Error> {
        self.timed(move |c| {
            Box::pin(async move {
                let stream = if simple {
                    c.simple_query(sql).await?
                } else {
                    query(sql, args).query(c).await?
                };
                stream.into_first_result().await
            })
        })
        .await
    }

    /// Runs `sql` with `args` bound; the number of rows it affected.
    pub(crate) async fn execute(
        &mut self,
        sql: String,
        args: Vec<Bound>,
    ) -> Result<u64, sqlx::Error> {
        self.timed(move |c| Box::pin(async move { Ok(query(sql, args).execute(c).await?.total()) }))
            .await
    }

    /// Runs `work` under the statement timeout, cancelling the statement when it passes.
    async fn timed<T: Send>(
        &mut self,
        work: impl for<'c> FnOnce(&'c mut MssqlClient) -> BoxFuture<'c, tiberius::Result<T>>,
    ) -> Result<T, sqlx::Error> {
        self.in_flight = true;
        let outcome = match self.statement_timeout {
            None => Some(work(&mut self.client).await),
            Some(limit) => tokio::time::timeout(limit, work(&mut self.client))
                .await
                .ok(),
        };
        match outcome {
            Some(Ok(value)) => {
                self.in_flight = false;
                Ok(value)
            }
            Some(Err(e)) => {
                // A server error leaves the stream usable (tiberius drains it on the next
                // request); anything else (I/O, protocol) leaves the connection broken.
                if matches!(e, tiberius::error::Error::Server(_)) {
                    self.in_flight = false;
                }
                Err(from_tiberius(e))
            }
            None => {
                let limit = self.statement_timeout.unwrap_or_default();
                let cancel = tokio::time::timeout(CANCEL_TIMEOUT, self.client.cancel_query());
                if let Ok(Ok(())) = cancel.await {
                    self.in_flight = false;
                }
                Err(sqlx::Error::Database(Box::new(MssqlDatabaseError {
                    number: None,
                    message: format!(
                        "statement cancelled: it ran longer than the statement timeout ({} ms)",
                        limit.as_millis()
                    ),
                })))
            }
        }
    }
}

/// An owned argument for tiberius (nulls never get here: see [`super::tsql`]).
#[derive(Debug, Clone)]
pub(crate) enum Bound {
    Int(i64),
    Text(String),
    Bool(bool),
    /// UTC, bound as `DATETIME2`.
    Time(chrono::NaiveDateTime),
}

fn query(sql: String, args: Vec<Bound>) -> tiberius::Query<'static> {
    let mut q = tiberius::Query::new(sql);
    for a in args {
        match a {
            Bound::Int(v) => q.bind(v),
            Bound::Text(v) => q.bind(v),
            Bound::Bool(v) => q.bind(v),
            Bound::Time(v) => q.bind(v),
        }
    }
    q
}

/// A server error, as sqlx's `Database` error: SQL Server's error number is the code.
#[derive(Debug)]
pub struct MssqlDatabaseError {
    /// SQL Server's error number (`None`: raised by the client, e.g. a statement timeout).
    pub number: Option<u32>,
    pub message: String,
}

impl std::fmt::Display for MssqlDatabaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.number {
            Some(n) => write!(f, "{} (SQL Server error {n})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for MssqlDatabaseError {}

impl DatabaseError for MssqlDatabaseError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        self.number.map(|n| Cow::Owned(n.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.number {
            Some(2627 | 2601) => ErrorKind::UniqueViolation,
            Some(547) => ErrorKind::ForeignKeyViolation,
            Some(515) => ErrorKind::NotNullViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// A tiberius error as sqlx's: server errors keep their number; I/O and TLS keep their kind.
pub fn from_tiberius(e: tiberius::error::Error) -> sqlx::Error {
    use tiberius::error::Error as T;
    match e {
        T::Server(token) => sqlx::Error::Database(Box::new(MssqlDatabaseError {
            number: Some(token.code()),
            message: token.message().to_owned(),
        })),
        T::Io { kind, message } => sqlx::Error::Io(std::io::Error::new(kind, message)),
        T::Tls(message) => sqlx::Error::Tls(message.into()),
        e @ (T::Conversion(_) | T::Utf8 | T::Utf16 | T::ParseInt(_)) => {
            sqlx::Error::Decode(Box::new(e))
        }
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

impl From<MssqlError> for sqlx::Error {
    fn from(e: MssqlError) -> Self {
        match e {
            MssqlError::Tcp { source, .. } => sqlx::Error::Io(source),
            MssqlError::ConnectTimeout { .. } => sqlx::Error::PoolTimedOut,
            e @ MssqlError::Tls { .. } => sqlx::Error::Tls(Box::new(e)),
            MssqlError::Login { source, .. }
            | MssqlError::Query { source, .. }
            | MssqlError::Migration { source, .. } => from_tiberius(*source),
            e @ MssqlError::Decode { .. } => sqlx::Error::Decode(Box::new(e)),
            other => sqlx::Error::Configuration(Box::new(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_tls_modes_map_to_sql_servers_encrypt_and_trust_settings() {
        assert_eq!(tls_of(TlsMode::Verify), MssqlTls::VERIFY);
        assert_eq!(tls_of(TlsMode::Require), MssqlTls::TRUST);
        assert_eq!(tls_of(TlsMode::Prefer), MssqlTls::OFF);
        assert_eq!(tls_of(TlsMode::Disable), MssqlTls::OFF);
    }

    #[test]
    fn server_errors_keep_their_number_and_constraint_kind() {
        let e = MssqlDatabaseError {
            number: Some(2627),
            message: "Violation of UNIQUE KEY constraint".into(),
        };
        assert!(e.is_unique_violation());
        assert_eq!(e.code().as_deref(), Some("2627"));
        assert!(e.to_string().contains("SQL Server error 2627"));
        let fk = MssqlDatabaseError {
            number: Some(547),
            message: String::new(),
        };
        assert!(fk.is_foreign_key_violation());
    }
}
