//! The module's error enum: each variant names the stage that failed. None carries a password:
//! connection errors hold host, port, database and user only, and DDL that splices a password
//! reports its stage, never its text.

use std::time::Duration;

/// What went wrong talking to SQL Server, by stage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MssqlError {
    /// The TCP connection failed (refused, unreachable, DNS).
    #[error("cannot reach SQL Server at {host}:{port}: {source}")]
    Tcp {
        host: String,
        port: u16,
        #[source]
        source: std::io::Error,
    },
    /// TCP connect, TLS handshake and login together took longer than the connect timeout.
    #[error("no connection to SQL Server at {host}:{port} within {after:?}")]
    ConnectTimeout {
        host: String,
        port: u16,
        after: Duration,
    },
    /// The TLS handshake failed (no TLS offered, untrusted certificate, wrong host name).
    #[error("TLS with SQL Server at {host}:{port} failed: {source}")]
    Tls {
        host: String,
        port: u16,
        #[source]
        source: Box<tiberius::error::Error>,
    },
    /// The server refused the login (see [`MssqlError::server_code`]: 18456 bad login or
    /// password, 4060 cannot open the database).
    #[error("login as {user:?} to database {database:?} on {host}:{port} failed: {source}")]
    Login {
        host: String,
        port: u16,
        database: String,
        user: String,
        #[source]
        source: Box<tiberius::error::Error>,
    },
    /// A statement failed; `stage` says which operation ran it.
    #[error("{stage} failed: {source}")]
    Query {
        stage: &'static str,
        #[source]
        source: Box<tiberius::error::Error>,
    },
    /// A password that cannot be spliced into `CREATE LOGIN` / `ALTER LOGIN`.
    #[error("invalid password: {0}")]
    InvalidPassword(&'static str),
    /// An identifier (table or column of a data-API table description) that is not safe to use.
    #[error("invalid identifier {0:?}: only a-z, 0-9 and '_' (not starting with a digit)")]
    InvalidIdentifier(String),
    /// A value read from the server has no JSON form here (or does not fit the expected type).
    #[error("column {column:?}: {reason}")]
    Decode { column: String, reason: String },
    /// An update that sets no column.
    #[error("an update must set at least one column")]
    EmptyUpdate,
    /// Applying one migration failed; it was rolled back, nothing of it remains.
    #[error("migration {version} ({description}) failed and was rolled back: {source}")]
    Migration {
        version: i64,
        description: String,
        #[source]
        source: Box<tiberius::error::Error>,
    },
    /// An applied migration's text differs from the one embedded in this binary.
    #[error(
        "migration {version} was applied with different contents (checksum mismatch): \
         a migration must never change once released; add a new version instead"
    )]
    ChecksumMismatch { version: i64 },
    /// The database records a migration this binary does not have (it is ahead of the binary).
    #[error("the database has migration {version} applied, which this binary does not know: upgrade the platform")]
    UnknownVersion { version: i64 },
}

impl MssqlError {
    /// SQL Server's error number when the server reported the failure (e.g. 18456, 4060, 229).
    pub fn server_code(&self) -> Option<u32> {
        match self {
            MssqlError::Login { source, .. }
            | MssqlError::Query { source, .. }
            | MssqlError::Migration { source, .. }
            | MssqlError::Tls { source, .. } => source.code(),
            _ => None,
        }
    }

    /// The server's own message, when the server reported the failure.
    pub fn server_message(&self) -> Option<&str> {
        match self {
            MssqlError::Login { source, .. }
            | MssqlError::Query { source, .. }
            | MssqlError::Migration { source, .. } => match source.as_ref() {
                tiberius::error::Error::Server(e) => Some(e.message()),
                _ => None,
            },
            _ => None,
        }
    }

    /// A `stage` closure for `map_err`: `.map_err(MssqlError::query("create database"))`.
    pub(crate) fn query(stage: &'static str) -> impl FnOnce(tiberius::error::Error) -> Self {
        move |source| MssqlError::Query {
            stage,
            source: Box::new(source),
        }
    }
}
