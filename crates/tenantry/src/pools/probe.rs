//! Background probes of a data server: one fresh connection with a short timeout, at most one in
//! flight per server. A probe is how an open circuit closes (no user request ever waits on a
//! server that may be hung), and how a request stuck past its acquire timeout tells a saturated
//! pool from a hung server.

use super::PoolManager;
use crate::db::{EngineConnection, Purpose};
use crate::registry::DataSource;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

impl PoolManager {
    /// Opens (and closes) one fresh connection to the data server in the background, at most one
    /// at a time per server. An answer closes the server's circuit; a failure or no answer within
    /// `timeout` opens it (or re-arms its cooldown, when it is open already).
    pub fn probe(&self, source: &DataSource, timeout: Duration) {
        if !self.inner.breakers.start_probe(source.server_id) {
            return;
        }
        let (inner, source) = (Arc::downgrade(&self.inner), source.clone());
        // The probe's log lines carry the request that started it (its request id and tenant),
        // so an operator can tell why a server was probed.
        let started_by = tracing::Span::current();
        let probe = async move {
            let answers = answers(&source, timeout).await;
            let Some(inner) = inner.upgrade() else {
                return;
            };
            let breakers = &inner.breakers;
            if answers {
                if breakers.is_open(source.server_id) {
                    tracing::info!(server = %source.server_key(), "data server answers again");
                }
                breakers.success(source.server_id);
            } else {
                tracing::warn!(server = %source.server_key(), "data server does not answer");
                breakers.trip(source.server_id, &source.server_key());
            }
            breakers.end_probe(source.server_id);
        };
        tokio::spawn(probe.instrument(started_by));
    }
}

/// Whether the server answers a fresh connection and one round trip within `timeout`. A refused
/// login is an answer: the server is up (the tenant's credentials are another matter).
async fn answers(source: &DataSource, timeout: Duration) -> bool {
    match EngineConnection::connect(source, Purpose::Probe, timeout).await {
        Ok(mut conn) => {
            let pinged = tokio::time::timeout(timeout, conn.ping()).await;
            let _ = tokio::time::timeout(timeout, conn.close()).await;
            matches!(pinged, Ok(Ok(())))
        }
        Err(e) => login_refused(&e),
    }
}

/// Whether the server answered a connection attempt with "invalid authorization": SQLSTATE class
/// 28 (PostgreSQL 28P01/28000; MySQL/MariaDB report 1045 as 28000) or SQL Server's 18456. The
/// server is up; the credentials are wrong (or just changed).
pub(crate) fn login_refused(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            let mysql_1045 = d
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .is_some_and(|m| m.number() == 1045);
            mysql_1045
                || d.code()
                    .is_some_and(|c| c.starts_with("28") || c == "18456")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_io_error_or_a_timeout_is_not_a_refused_login() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(!login_refused(&sqlx::Error::Io(io)));
        assert!(!login_refused(&sqlx::Error::PoolTimedOut));
    }

    fn mssql_error(number: u32) -> sqlx::Error {
        sqlx::Error::Database(Box::new(crate::db::mssql::MssqlDatabaseError {
            number: Some(number),
            message: String::new(),
        }))
    }

    #[test]
    fn sql_server_18456_is_a_refused_login_and_4060_is_not() {
        assert!(login_refused(&mssql_error(18456)));
        // 4060: the login worked but cannot open its database.
        assert!(!login_refused(&mssql_error(4060)));
    }
}
