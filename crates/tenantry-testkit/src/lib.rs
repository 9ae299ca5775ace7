//! Throwaway PostgreSQL, MariaDB and Babelfish (SQL Server) servers for tenantry's integration
//! tests.
//!
//! Every server gets its own temporary directory under [`std::env::temp_dir`]
//! (`tenantry-test-{pg,mariadb,babelfish}-<pid>-<n>-<nanos>`) holding its data, socket and log files,
//! and listens on 127.0.0.1 on a free port. The machine's own servers (5432, 3306) are never
//! used.
//!
//! * [`PgServer::start`] / [`MariaDbServer::start`] start a private server that is stopped
//!   and removed when the value is dropped (or [`PgServer::stop`] is called).
//! * [`shared_pg`] / [`shared_mariadb`] return process-wide servers started lazily on first
//!   use. They are never dropped; instead a detached watchdog shell process (one per test
//!   process, started before the first server directory is created) stops every server left
//!   behind and removes its data once the test process has gone (normal exit, panic or
//!   `kill -9`). This also covers private servers whose `Drop` never ran.
//!
//! When running as root, PostgreSQL binaries run as user `postgres` (via `runuser`) and
//! MariaDB runs with `--user=mysql`; the temporary directories are chowned accordingly.
//!
//! SQL Server: [`BabelfishServer::start`] runs `babelfish.sh PG_PORT TDS_PORT DATADIR` (Babelfish
//! for PostgreSQL, a real TDS + T-SQL server; found via `$TENANTRY_BABELFISH_SH` or
//! `shared/babelfish/` in an ancestor directory of this crate). As root it unpacks into
//! `/opt/babelfish` and runs as `postgres`; unprivileged it unpacks into `~/.cache` and runs as
//! the current user (which needs an existing `postgres` OS user, as the script checks for one).
//! [`shared_babelfish`] hands out the server of `$TENANTRY_TEST_MSSQL_URL` instead when it is set
//! (`mssql://user:password@host:1433?encrypt=true&trust_server_certificate=true`).
//!
//! The PostgreSQL binaries are taken from `$TENANTRY_PG_BIN` if set, else the highest version
//! under `/usr/lib/postgresql/*/bin`, else `$PATH`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod babelfish;
mod babelfish_setup;
mod mariadb;
mod pg;
mod tsql;
mod util;
mod watchdog;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

pub use babelfish::BabelfishServer;
pub use mariadb::MariaDbServer;
pub use pg::PgServer;

/// Number of distinct shared PostgreSQL servers ([`shared_pg`] indices `0..SHARED_PG_COUNT`).
pub const SHARED_PG_COUNT: usize = 4;

static SHARED_PG: [OnceLock<PgServer>; SHARED_PG_COUNT] =
    [const { OnceLock::new() }; SHARED_PG_COUNT];
static SHARED_MARIADB: OnceLock<MariaDbServer> = OnceLock::new();
static SHARED_BABELFISH: OnceLock<BabelfishServer> = OnceLock::new();

/// A process-wide PostgreSQL server, started on first use.
///
/// Index 0 is conventionally "our server", 1 "a customer's server"; indices `0..=3` are
/// supported and each is a different server. Concurrent calls are safe: different indices
/// may start in parallel, each index is started only once.
///
/// The server lives until the test process exits; the process watchdog (a detached `sh -c`
/// polling `kill -0 <pid>` every second) then stops it and removes its data directory.
///
/// # Panics
///
/// If `index >= 4`, or if the server cannot be started (the message includes its log tail).
pub fn shared_pg(index: usize) -> &'static PgServer {
    let cell = SHARED_PG.get(index).unwrap_or_else(|| {
        panic!("tenantry-testkit: shared_pg({index}): only indices 0..{SHARED_PG_COUNT} exist")
    });
    cell.get_or_init(|| {
        PgServer::start().unwrap_or_else(|e| {
            panic!("tenantry-testkit: cannot start shared PostgreSQL server #{index}: {e}")
        })
    })
}

/// The process-wide MariaDB server, started on first use (see [`shared_pg`] for lifetime
/// and concurrency guarantees).
///
/// # Panics
///
/// If the server cannot be started (the message includes its log tail).
pub fn shared_mariadb() -> &'static MariaDbServer {
    SHARED_MARIADB.get_or_init(|| {
        MariaDbServer::start()
            .unwrap_or_else(|e| panic!("tenantry-testkit: cannot start shared MariaDB server: {e}"))
    })
}

/// Environment variable naming a real SQL Server for the tests instead of a local Babelfish.
pub const MSSQL_URL_ENV: &str = "TENANTRY_TEST_MSSQL_URL";

/// The process-wide SQL Server for tests: the server of `$TENANTRY_TEST_MSSQL_URL` when set (no
/// process is started), else a Babelfish started on first use (see [`shared_pg`] for lifetime
/// and concurrency guarantees).
///
/// # Panics
///
/// If the URL is malformed or the server cannot be started (the message includes its log tail).
pub fn shared_babelfish() -> &'static BabelfishServer {
    SHARED_BABELFISH.get_or_init(|| {
        let server = match std::env::var(MSSQL_URL_ENV) {
            Ok(url) if !url.trim().is_empty() => BabelfishServer::external(url.trim()),
            _ => BabelfishServer::start(),
        };
        server.unwrap_or_else(|e| panic!("tenantry-testkit: cannot start shared Babelfish: {e}"))
    })
}

/// Maximum length of names returned by [`unique_name`].
pub const UNIQUE_NAME_MAX_LEN: usize = 48;

/// A unique lower-case identifier usable as a database (or user/schema) name:
/// `{prefix}_{pid}_{counter}_{random}`, only `[a-z0-9_]`, starting with a letter, at most
/// 48 characters.
///
/// The prefix is lower-cased, characters outside `[a-z0-9_]` become `_`, it is shortened if
/// needed, and `t` is prepended if it would not start with a letter.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random = base36(util::random_u64() % 36u64.pow(6), 6);
    let suffix = format!("_{}_{n}_{random}", std::process::id());

    let mut prefix: String = prefix
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !prefix.starts_with(|c: char| c.is_ascii_lowercase()) {
        prefix.insert(0, 't');
    }
    prefix.truncate(UNIQUE_NAME_MAX_LEN.saturating_sub(suffix.len()).max(1));
    let mut name = prefix + &suffix;
    // Only reachable with absurd pids/counters; keep the documented bound regardless.
    name.truncate(UNIQUE_NAME_MAX_LEN);
    name
}

fn base36(mut v: u64, width: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(v % 36) as usize];
        v /= 36;
    }
    String::from_utf8(out).expect("ascii")
}

/// A TCP port on 127.0.0.1 where nothing listens (for "unreachable server" tests).
///
/// The port is obtained by binding port 0 and closing the socket again, so it is closed right
/// after the call (something else could in principle grab it later).
///
/// # Panics
///
/// If no port can be bound on 127.0.0.1.
pub fn closed_port() -> u16 {
    for _ in 0..20 {
        let port = util::free_port().expect("tenantry-testkit: cannot bind 127.0.0.1:0");
        if !util::port_is_open(port) {
            return port;
        }
    }
    panic!("tenantry-testkit: could not find a closed port on 127.0.0.1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base36_pads() {
        assert_eq!(base36(0, 6), "000000");
        assert_eq!(base36(35, 3), "00z");
        assert_eq!(base36(36, 3), "010");
    }

    #[test]
    fn unique_name_sanitizes() {
        let n = unique_name("My-DB.Name");
        assert!(n.starts_with("my_db_name_"), "{n}");
        let n = unique_name("9lives");
        assert!(n.starts_with("t9lives_"), "{n}");
        let n = unique_name("");
        assert!(n.starts_with("t_"), "{n}");
        let n = unique_name(&"x".repeat(200));
        assert!(n.len() <= UNIQUE_NAME_MAX_LEN, "{n}");
    }

    #[test]
    fn shell_quote_escapes() {
        assert_eq!(util::shell_quote("a'b"), r"'a'\''b'");
    }
}
