//! The wording of onboarding results: one sentence per outcome that a customer's DBA can act on.
//! Pure functions of the data source and the server's error codes; never given the password.

use super::CheckStatus;
use crate::registry::DataSource;
use crate::tenant::Engine;

/// What a server's refusal means, from its error code (PostgreSQL SQLSTATE, MySQL error number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denial {
    /// Wrong password or unknown user (PostgreSQL 28P01/28000, MySQL 1045).
    Credentials,
    /// The database does not exist (PostgreSQL 3D000, MySQL 1049).
    NoDatabase,
    /// The user lacks a privilege (PostgreSQL 42501, MySQL 1044/1142/1227).
    Permission,
    /// The server only accepts reads (PostgreSQL 25006, MySQL 1290/1792/1836, SQLite 8).
    ReadOnly,
    /// Anything else: the server's own message is shown.
    Other,
}

pub(crate) fn classify(
    engine: Engine,
    sqlstate: Option<&str>,
    mysql_number: Option<u16>,
) -> Denial {
    if engine == Engine::Mysql {
        if let Some(n) = mysql_number {
            return match n {
                1045 => Denial::Credentials,
                1049 => Denial::NoDatabase,
                1044 | 1142 | 1143 | 1227 => Denial::Permission,
                1290 | 1792 | 1836 => Denial::ReadOnly,
                _ => Denial::Other,
            };
        }
    }
    match sqlstate {
        Some("28P01" | "28000") if engine != Engine::Sqlite => Denial::Credentials,
        Some("3D000") => Denial::NoDatabase,
        Some("42501") => Denial::Permission,
        Some("25006") => Denial::ReadOnly,
        Some("8") if engine == Engine::Sqlite => Denial::ReadOnly,
        _ => Denial::Other,
    }
}

pub(crate) fn user(src: &DataSource) -> &str {
    src.username.as_deref().unwrap_or("(default user)")
}

fn schema(src: &DataSource) -> &str {
    src.schema.as_deref().unwrap_or("public")
}

fn sqlite_file(src: &DataSource) -> String {
    std::path::Path::new(&src.host)
        .join(format!("{}.db", src.database))
        .display()
        .to_string()
}

pub(crate) fn dns_failed(host: &str, detail: &str) -> String {
    format!(
        "The host name '{host}' does not resolve ({detail}): check the spelling, or publish a DNS \
         record the platform can resolve (names in a private zone are not visible to us)."
    )
}

pub(crate) fn sqlite_dir_missing(dir: &str) -> String {
    format!("The directory '{dir}' does not exist on the platform host: create it or correct the server's path.")
}

pub(crate) fn sqlite_file_missing(src: &DataSource) -> String {
    format!(
        "The database file '{}' does not exist: copy the tenant's database there or correct the database name \
         (we never create external databases).",
        sqlite_file(src)
    )
}

pub(crate) fn tcp_refused(host: &str, port: u16, engine: Engine) -> String {
    let setting = match engine {
        Engine::Mysql => "bind-address",
        Engine::Mssql => "the TCP/IP protocol and its port in SQL Server Configuration Manager",
        _ => "listen_addresses",
    };
    format!(
        "Nothing accepts connections on {host}:{port} (connection refused): check that the {engine} server \
         is running and listening on this address and port ({setting})."
    )
}

pub(crate) fn tcp_timeout(host: &str, port: u16, secs: u64) -> String {
    format!(
        "No answer from {host}:{port} within {secs} s: a firewall or security group probably drops the \
         traffic; allow inbound TCP port {port} from the platform's addresses."
    )
}

pub(crate) fn tcp_other(host: &str, port: u16, detail: &str) -> String {
    format!("Cannot reach {host}:{port} ({detail}): check the network route and firewall between the platform and the server.")
}

pub(crate) fn tls_not_offered(host: &str, port: u16) -> String {
    format!(
        "The server at {host}:{port} does not offer TLS, and this server is registered with tls = require: \
         enable TLS on the server (PostgreSQL ssl = on, MySQL require_secure_transport/ssl certificates) \
         or register the server with a weaker tls setting."
    )
}

pub(crate) fn login_failed(src: &DataSource, denial: Denial, detail: &str) -> String {
    let (u, db) = (user(src), &src.database);
    match (denial, src.engine) {
        (Denial::Credentials, Engine::Postgres) => format!(
            "The server rejected user '{u}' (wrong password or unknown user): check the password you gave us, \
             that the role exists with LOGIN, and that pg_hba.conf lets it connect from the platform's address."
        ),
        (Denial::Credentials, _) => format!(
            "The server rejected user '{u}' (wrong password or unknown user): check the password you gave us \
             and that '{u}'@'%' (or the platform's address) exists on the server."
        ),
        (Denial::NoDatabase, _) => format!(
            "The database '{db}' does not exist on {}:{}: create it, or correct the database name \
             (we never create databases on customer-hosted servers).",
            src.host, src.port
        ),
        (Denial::Permission, Engine::Postgres) => format!(
            "User '{u}' may not connect to database '{db}': GRANT CONNECT ON DATABASE \"{db}\" TO \"{u}\"."
        ),
        (Denial::Permission, _) => format!(
            "User '{u}' has no access to database '{db}' (or it does not exist): create the database and \
             GRANT SELECT, INSERT, UPDATE, DELETE ON `{db}`.* TO '{u}'@'%'."
        ),
        _ => format!("Could not log in as '{u}' to database '{db}': {detail}."),
    }
}

pub(crate) fn read_failed(src: &DataSource, detail: &str) -> String {
    let (u, db) = (user(src), &src.database);
    let fix = match src.engine {
        Engine::Postgres => format!(
            "GRANT USAGE ON SCHEMA {s} TO \"{u}\"; GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO \"{u}\"",
            s = schema(src)
        ),
        Engine::Mysql => format!("GRANT SELECT ON `{db}`.* TO '{u}'@'%'"),
        Engine::Sqlite => format!("make '{}' readable by the platform", sqlite_file(src)),
        Engine::Mssql => format!("connected to database [{db}], run: ALTER ROLE db_datareader ADD MEMBER [{u}]"),
    };
    format!("User '{u}' cannot read database '{db}' ({detail}): {fix}.")
}

fn read_only(src: &DataSource, detail: &str) -> String {
    format!(
        "The database '{}' only accepts reads ({detail}): point the tenant at the primary server, \
         not a replica, and turn off read-only mode.",
        src.database
    )
}

pub(crate) fn write_failed(src: &DataSource, denial: Denial, detail: &str) -> String {
    if denial == Denial::ReadOnly {
        return read_only(src, detail);
    }
    let (u, db) = (user(src), &src.database);
    let fix = match src.engine {
        Engine::Postgres => format!(
            "GRANT TEMPORARY ON DATABASE \"{db}\" TO \"{u}\", and INSERT, UPDATE, DELETE on the tenant's tables"
        ),
        Engine::Mysql => format!(
            "GRANT CREATE TEMPORARY TABLES, INSERT, UPDATE, DELETE ON `{db}`.* TO '{u}'@'%'"
        ),
        Engine::Sqlite => format!("make '{}' and its directory writable by the platform", sqlite_file(src)),
        Engine::Mssql => format!("connected to database [{db}], run: ALTER ROLE db_datawriter ADD MEMBER [{u}]"),
    };
    format!("User '{u}' cannot create a temporary table and insert into it in database '{db}' ({detail}): {fix}.")
}

pub(crate) fn ddl_failed(src: &DataSource, denial: Denial, detail: &str) -> String {
    if denial == Denial::ReadOnly {
        return read_only(src, detail);
    }
    let (u, db) = (user(src), &src.database);
    let fix = match src.engine {
        Engine::Postgres => format!(
            "GRANT CREATE ON SCHEMA {} TO \"{u}\" (or make '{u}' the owner of the database)",
            schema(src)
        ),
        Engine::Mysql => {
            format!("GRANT CREATE, ALTER, DROP, INDEX, REFERENCES ON `{db}`.* TO '{u}'@'%'")
        }
        Engine::Sqlite => format!("make the directory '{}' writable by the platform", src.host),
        Engine::Mssql => {
            format!("connected to database [{db}], run: ALTER ROLE db_ddladmin ADD MEMBER [{u}]")
        }
    };
    format!(
        "User '{u}' cannot create and drop tables in database '{db}' ({detail}), which our migrations need: \
         {fix}; or apply the migrations yourself and onboard with DDL off."
    )
}

pub(crate) fn timed_out(what: &str, secs: u64) -> String {
    format!("The server did not answer the {what} within {secs} s: check the server's load and locks, then retry.")
}

/// The schema check's outcome from the applied version (`None`: never migrated).
pub(crate) fn schema_status(
    applied: Option<i64>,
    latest: i64,
    ddl_required: bool,
) -> (CheckStatus, String) {
    match applied.unwrap_or(0) {
        0 if ddl_required => (
            CheckStatus::Passed,
            "empty database (migrations will create the schema)".to_owned(),
        ),
        0 => (
            CheckStatus::Failed,
            format!("empty database: apply the tenant migrations up to version {latest} before going live, as DDL is off"),
        ),
        n if n < latest && ddl_required => (
            CheckStatus::Passed,
            format!("at version {n}, binary has {latest}: run migrations (the platform applies them when it brings the tenant live)"),
        ),
        n if n < latest => (
            CheckStatus::Failed,
            format!("at version {n}, binary has {latest}: run migrations up to version {latest} before going live, as DDL is off"),
        ),
        n if n > latest => (
            CheckStatus::Failed,
            format!("at version {n}, ahead of this binary (version {latest}): upgrade the platform before this tenant goes live"),
        ),
        n => (CheckStatus::Passed, format!("current (version {n})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::TlsMode;

    fn source(engine: Engine) -> DataSource {
        DataSource {
            engine,
            host: "db.customer.example".into(),
            port: engine.default_port(),
            database: "acme_prod".into(),
            schema: None,
            username: Some("acme_app".into()),
            password: None,
            tls: TlsMode::Require,
            server_id: uuid::Uuid::nil(),
            server_max_connections: None,
            fingerprint: 0,
        }
    }

    #[test]
    fn engine_codes_tell_a_bad_password_from_a_missing_database() {
        let pg = |code| classify(Engine::Postgres, Some(code), None);
        assert_eq!(pg("28P01"), Denial::Credentials);
        assert_eq!(pg("28000"), Denial::Credentials);
        assert_eq!(pg("3D000"), Denial::NoDatabase);
        assert_eq!(pg("42501"), Denial::Permission);
        assert_eq!(pg("25006"), Denial::ReadOnly);
        let my = |n| classify(Engine::Mysql, Some("28000"), Some(n));
        assert_eq!(my(1045), Denial::Credentials);
        assert_eq!(my(1049), Denial::NoDatabase);
        assert_eq!(my(1044), Denial::Permission);
        assert_eq!(my(1290), Denial::ReadOnly);
        assert_eq!(my(2000), Denial::Other);
    }

    #[test]
    fn a_rejected_login_names_the_user_and_a_missing_database_names_the_database() {
        let src = source(Engine::Postgres);
        let bad = login_failed(&src, Denial::Credentials, "");
        assert!(
            bad.contains("'acme_app'") && bad.contains("wrong password"),
            "{bad}"
        );
        assert!(bad.contains("pg_hba.conf"), "{bad}");
        let missing = login_failed(&src, Denial::NoDatabase, "");
        assert!(missing.contains("'acme_prod' does not exist"), "{missing}");
        assert!(missing.contains("db.customer.example:5432"), "{missing}");
    }

    #[test]
    fn privilege_failures_say_which_grant_to_run_on_each_engine() {
        let my = source(Engine::Mysql);
        let write = write_failed(&my, Denial::Permission, "denied");
        assert!(write.contains("GRANT CREATE TEMPORARY TABLES, INSERT, UPDATE, DELETE ON `acme_prod`.* TO 'acme_app'@'%'"), "{write}");
        let ddl = ddl_failed(&my, Denial::Permission, "denied");
        assert!(ddl.contains("GRANT CREATE, ALTER, DROP"), "{ddl}");
        let pg = source(Engine::Postgres);
        let ddl = ddl_failed(&pg, Denial::Permission, "denied");
        assert!(
            ddl.contains("GRANT CREATE ON SCHEMA public TO \"acme_app\""),
            "{ddl}"
        );
        let read = read_failed(&pg, "denied");
        assert!(read.contains("GRANT USAGE ON SCHEMA public"), "{read}");
        let replica = write_failed(&pg, Denial::ReadOnly, "read-only transaction");
        assert!(replica.contains("primary"), "{replica}");
    }

    #[test]
    fn network_failures_point_at_the_server_setting_or_the_firewall() {
        assert!(tcp_refused("h", 3306, Engine::Mysql).contains("bind-address"));
        assert!(tcp_refused("h", 5432, Engine::Postgres).contains("listen_addresses"));
        assert!(tcp_timeout("h", 5432, 3).contains("allow inbound TCP port 5432"));
        assert!(tls_not_offered("h", 5432).contains("does not offer TLS"));
        assert!(
            dns_failed("nope.invalid", "no such host").contains("'nope.invalid' does not resolve")
        );
    }

    #[test]
    fn schema_versions_read_as_empty_behind_ahead_or_current() {
        let s = |v, ddl| schema_status(v, 3, ddl);
        assert_eq!(
            s(None, true),
            (
                CheckStatus::Passed,
                "empty database (migrations will create the schema)".into()
            )
        );
        assert_eq!(s(None, false).0, CheckStatus::Failed);
        let (status, msg) = s(Some(1), true);
        assert_eq!(status, CheckStatus::Passed);
        assert!(
            msg.starts_with("at version 1, binary has 3: run migrations"),
            "{msg}"
        );
        assert_eq!(s(Some(1), false).0, CheckStatus::Failed);
        let (status, msg) = s(Some(4), true);
        assert_eq!(status, CheckStatus::Failed);
        assert!(msg.contains("ahead of this binary"), "{msg}");
        assert_eq!(
            s(Some(3), true),
            (CheckStatus::Passed, "current (version 3)".into())
        );
    }
}
