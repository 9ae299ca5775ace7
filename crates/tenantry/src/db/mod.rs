//! Database access.
//!
//! - [`conn`]: typed tenant connections ([`EngineConnection`]) in each engine's own driver, opened
//!   from a data source with typed options (no password in any URL).
//! - [`value`]: the library's own statements, written once with `?` placeholders and typed values
//!   ([`SqlValue`]), run on any engine ([`tsql`] translates them for SQL Server).
//! - [`mssql`]: SQL Server connections (tiberius) with a client-enforced statement timeout.
//! - `size`: how much space a tenant's data takes (`EngineConnection::database_bytes`).
//! - Admin and onboarding connections (DDL on a data server) use sqlx's `Any` driver through
//!   [`connect_url`].
//!
//! [`sql`] rewrites `?` placeholders to `$1, $2, …` for PostgreSQL. Only placeholders are
//! rewritten: values are always bound, never spliced.

pub mod conn;
pub mod mssql;
mod size;
pub mod tsql;
pub mod value;

pub use conn::{EngineConnection, Purpose};
pub use mssql::MssqlConnection;
pub use value::{ColType, SqlValue, Values};

use crate::tenant::{Engine, TlsMode};
use secrecy::SecretString;
use std::borrow::Cow;
use std::path::Path;
use std::sync::Once;

/// Registers the PostgreSQL, MySQL and SQLite drivers with sqlx's `Any` driver (idempotent).
pub fn install_drivers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(sqlx::any::install_default_drivers);
}

/// Rewrites `?` placeholders to `$n` for PostgreSQL and `@Pn` for SQL Server; MySQL and SQLite
/// take the text as it is. Question marks inside single-quoted literals are left alone.
pub fn sql(engine: Engine, text: &str) -> Cow<'_, str> {
    if engine == Engine::Mssql {
        return tsql::numbered(text);
    }
    if engine != Engine::Postgres || !text.contains('?') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let (mut n, mut quoted) = (0, false);
    for c in text.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Everything needed to open a connection to one database.
#[derive(Clone)]
pub struct Target<'a> {
    pub engine: Engine,
    /// Host name, or for SQLite the server's directory.
    pub host: &'a str,
    pub port: u16,
    /// Database name; for SQLite the file `{database}.db` inside `host`.
    pub database: &'a str,
    pub username: Option<&'a str>,
    pub password: Option<&'a SecretString>,
    pub tls: TlsMode,
    /// SQLite only: create the file when missing.
    pub create: bool,
}

/// Builds a connection URL for the `Any` driver. User and password are percent-encoded by `url`.
/// The result contains the password: never log it. SQL Server has no `Any` driver: its URL
/// (`mssql://…?encrypt=…&trust_server_certificate=…`, the form `TENANTRY_TEST_MSSQL_URL` takes)
/// only describes the target.
pub fn connect_url(t: &Target<'_>) -> Result<String, url::ParseError> {
    match t.engine {
        Engine::Sqlite => {
            let path = Path::new(t.host).join(format!("{}.db", t.database));
            let mode = if t.create { "rwc" } else { "rw" };
            Ok(format!("sqlite://{}?mode={mode}", path.display()))
        }
        Engine::Postgres | Engine::Mysql | Engine::Mssql => {
            let scheme = match t.engine {
                Engine::Postgres => "postgres",
                Engine::Mssql => "mssql",
                _ => "mysql",
            };
            let mut url = url::Url::parse(&format!("{scheme}://placeholder/"))?;
            url.set_host(Some(t.host))?;
            url.set_port(Some(t.port))
                .map_err(|_| url::ParseError::InvalidPort)?;
            if let Some(user) = t.username {
                url.set_username(user)
                    .map_err(|_| url::ParseError::EmptyHost)?;
            }
            if let Some(pw) = t.password {
                url.set_password(Some(crate::secrets::expose(pw)))
                    .map_err(|_| url::ParseError::EmptyHost)?;
            }
            url.set_path(t.database);
            let mode = match (t.engine, t.tls) {
                (Engine::Postgres, TlsMode::Disable) => "sslmode=disable".to_owned(),
                (Engine::Postgres, TlsMode::Prefer) => "sslmode=prefer".to_owned(),
                (Engine::Postgres, TlsMode::Require) => "sslmode=require".to_owned(),
                (Engine::Postgres, TlsMode::Verify) => "sslmode=verify-full".to_owned(),
                (Engine::Mssql, tls) => {
                    let m = mssql::tls_of(tls);
                    format!(
                        "encrypt={}&trust_server_certificate={}",
                        m.encrypt, m.trust_server_certificate
                    )
                }
                (_, TlsMode::Disable) => "ssl-mode=DISABLED".to_owned(),
                (_, TlsMode::Prefer) => "ssl-mode=PREFERRED".to_owned(),
                (_, TlsMode::Require) => "ssl-mode=REQUIRED".to_owned(),
                (_, TlsMode::Verify) => "ssl-mode=VERIFY_IDENTITY".to_owned(),
            };
            url.set_query(Some(&mode));
            Ok(url.into())
        }
    }
}

/// Current time as RFC 3339 text (the registry's timestamp representation).
pub fn now() -> String {
    timestamp(&chrono::Utc::now())
}

/// A timestamp as the API shows it: RFC 3339, UTC, milliseconds (`2026-11-23T17:20:12.123Z`).
pub fn timestamp(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_numbered_on_postgres_only() {
        let q = "SELECT * FROM t WHERE a = ? AND b = '?' AND c = ?";
        assert_eq!(
            sql(Engine::Postgres, q),
            "SELECT * FROM t WHERE a = $1 AND b = '?' AND c = $2"
        );
        assert_eq!(sql(Engine::Mysql, q), q);
        assert_eq!(sql(Engine::Sqlite, q), q);
        assert_eq!(
            sql(Engine::Mssql, q),
            "SELECT * FROM t WHERE a = @P1 AND b = '?' AND c = @P2"
        );
    }

    #[test]
    fn url_percent_encodes_credentials() {
        let pw = SecretString::from("p@ss:w/rd?");
        let t = Target {
            engine: Engine::Postgres,
            host: "db.example.com",
            port: 5433,
            database: "tenant_acme",
            username: Some("u@x"),
            password: Some(&pw),
            tls: TlsMode::Require,
            create: false,
        };
        let url = connect_url(&t).unwrap();
        assert_eq!(
            url,
            "postgres://u%40x:p%40ss%3Aw%2Frd%3F@db.example.com:5433/tenant_acme?sslmode=require"
        );
    }

    #[test]
    fn sqlite_url_points_at_a_file_in_the_server_directory() {
        let t = Target {
            engine: Engine::Sqlite,
            host: "/data/ours",
            port: 0,
            database: "tenant_demo",
            username: None,
            password: None,
            tls: TlsMode::Disable,
            create: false,
        };
        assert_eq!(
            connect_url(&t).unwrap(),
            "sqlite:///data/ours/tenant_demo.db?mode=rw"
        );
    }
}
