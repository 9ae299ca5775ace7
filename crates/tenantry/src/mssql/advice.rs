//! The wording of SQL Server onboarding results: what was found, and the T-SQL a customer's DBA
//! can run to fix it. Pure functions of names and SQL Server error numbers; never given a password.
//! Names in the T-SQL are bracket-quoted as `QUOTENAME` would (they are the customer's names).

use super::ident::bracket;

/// What a refusal means, from SQL Server's error number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// 18456: wrong password, unknown login, or SQL authentication off.
    Credentials,
    /// 18470: the login is disabled.
    LoginDisabled,
    /// 18487 / 18488: the password expired or must be changed.
    PasswordExpired,
    /// 4060: the database does not exist or the login has no user in it; 911: the database does
    /// not exist (Babelfish answers a login to a missing database with 911, SQL Server with 4060).
    NoDatabase,
    /// 916: the login has no user in the database.
    NoUser,
    /// 229 / 230 / 262 / 297 / 300 / 2760 / 1088: a permission is missing.
    Permission,
    /// 3906: the database is read-only (a readable secondary, or `READ_ONLY`).
    ReadOnly,
    /// Anything else (Babelfish reports most errors under its generic 33557097); the server's
    /// message is shown.
    Other,
}

pub fn classify(code: Option<u32>) -> Denial {
    match code {
        Some(18456) => Denial::Credentials,
        Some(18470) => Denial::LoginDisabled,
        Some(18487 | 18488) => Denial::PasswordExpired,
        Some(4060 | 911) => Denial::NoDatabase,
        Some(916) => Denial::NoUser,
        Some(229 | 230 | 262 | 297 | 300 | 1088 | 2760) => Denial::Permission,
        Some(3906) => Denial::ReadOnly,
        _ => Denial::Other,
    }
}

/// Who the probes ran as and where: the login, the database, and (once logged in) the database
/// user and its default schema, which are what `GRANT` statements name.
#[derive(Debug, Clone)]
pub struct Subject {
    pub host: String,
    pub port: u16,
    pub login: String,
    pub database: String,
    pub user: String,
    pub schema: String,
}

impl Subject {
    fn on_db(&self, statements: &str) -> String {
        format!(
            "connected to database {}, run: {statements}",
            bracket(&self.database)
        )
    }
}

pub fn login_failed(s: &Subject, denial: Denial, detail: &str) -> String {
    let (login, db) = (bracket(&s.login), bracket(&s.database));
    match denial {
        Denial::Credentials => format!(
            "The server rejected login '{}' (wrong password, unknown login, or SQL Server authentication \
             is off): check the password you gave us, that the login exists (CREATE LOGIN {login} WITH \
             PASSWORD = N'…';), and that the server allows SQL Server authentication (mixed mode).",
            s.login
        ),
        Denial::LoginDisabled => format!(
            "Login '{}' is disabled: ALTER LOGIN {login} ENABLE;",
            s.login
        ),
        Denial::PasswordExpired => format!(
            "The password of login '{}' has expired or must be changed: ALTER LOGIN {login} WITH \
             PASSWORD = N'…', CHECK_EXPIRATION = OFF; then give us the new password.",
            s.login
        ),
        Denial::NoDatabase => format!(
            "Login '{}' cannot open database '{}' on {}:{} ({detail}): the database does not exist, or \
             the login has no user in it. Create the database (we never create databases on \
             customer-hosted servers), or map the login: USE {db}; CREATE USER {login} FOR LOGIN {login};",
            s.login, s.database, s.host, s.port
        ),
        Denial::NoUser | Denial::Permission => format!(
            "Login '{}' has no user in database '{}' ({detail}): USE {db}; CREATE USER {login} FOR LOGIN {login};",
            s.login, s.database
        ),
        _ => format!(
            "Could not log in as '{}' to database '{}': {detail}.",
            s.login, s.database
        ),
    }
}

pub fn tls_failed(host: &str, port: u16, detail: &str) -> String {
    format!(
        "The TLS handshake with {host}:{port} failed ({detail}): give the server a certificate from a \
         CA we trust whose name matches '{host}' (SQL Server Configuration Manager, Protocols, \
         Certificate), or register the server with trust_server_certificate = true to accept its \
         self-signed certificate, or with encrypt = false."
    )
}

pub fn read_failed(s: &Subject, detail: &str) -> String {
    let (user, schema) = (bracket(&s.user), bracket(&s.schema));
    format!(
        "User '{}' cannot read in database '{}' ({detail}): {}",
        s.user,
        s.database,
        s.on_db(&format!(
            "GRANT SELECT ON SCHEMA::{schema} TO {user}; (or ALTER ROLE db_datareader ADD MEMBER {user};)"
        ))
    )
}

fn read_only(s: &Subject, detail: &str) -> String {
    format!(
        "The database '{}' only accepts reads ({detail}): point the tenant at the primary replica, not \
         a readable secondary, and make the database writable (ALTER DATABASE {} SET READ_WRITE;).",
        s.database,
        bracket(&s.database)
    )
}

pub fn write_failed(s: &Subject, denial: Denial, detail: &str) -> String {
    if denial == Denial::ReadOnly {
        return read_only(s, detail);
    }
    let (user, schema) = (bracket(&s.user), bracket(&s.schema));
    format!(
        "User '{}' cannot insert, update and delete in database '{}' ({detail}): {}",
        s.user,
        s.database,
        s.on_db(&format!(
            "GRANT INSERT, UPDATE, DELETE ON SCHEMA::{schema} TO {user}; \
             (or ALTER ROLE db_datawriter ADD MEMBER {user};)"
        ))
    )
}

pub fn ddl_failed(s: &Subject, denial: Denial, detail: &str) -> String {
    if denial == Denial::ReadOnly {
        return read_only(s, detail);
    }
    let (user, schema) = (bracket(&s.user), bracket(&s.schema));
    format!(
        "User '{}' cannot create and drop tables in database '{}' ({detail}), which our migrations \
         need: {}; or apply the migrations yourself and onboard with DDL off.",
        s.user,
        s.database,
        s.on_db(&format!(
            "GRANT CREATE TABLE TO {user}; GRANT ALTER, REFERENCES ON SCHEMA::{schema} TO {user}; \
             (or ALTER ROLE db_ddladmin ADD MEMBER {user};)"
        ))
    )
}

pub fn timed_out(what: &str, secs: u64) -> String {
    format!("The server did not answer the {what} within {secs} s: check the server's load and blocking sessions, then retry.")
}

pub fn connect_timed_out(host: &str, port: u16, secs: u64, encrypt: bool) -> String {
    let tls = if encrypt {
        " If the server does not support encryption, register it with encrypt = false."
    } else {
        ""
    };
    format!(
        "{host}:{port} accepted the TCP connection but TLS and login did not finish within {secs} s: \
         check that this port is SQL Server's (not another service) and the server's load.{tls}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        Subject {
            host: "sql.customer.example".into(),
            port: 1433,
            login: "acme_app".into(),
            database: "acme_prod".into(),
            user: "acme_app".into(),
            schema: "dbo".into(),
        }
    }

    #[test]
    fn error_numbers_tell_a_bad_password_from_a_missing_database() {
        assert_eq!(classify(Some(18456)), Denial::Credentials);
        assert_eq!(classify(Some(4060)), Denial::NoDatabase);
        assert_eq!(classify(Some(911)), Denial::NoDatabase);
        assert_eq!(classify(Some(916)), Denial::NoUser);
        assert_eq!(classify(Some(229)), Denial::Permission);
        assert_eq!(classify(Some(3906)), Denial::ReadOnly);
        assert_eq!(classify(Some(33557097)), Denial::Other);
        assert_eq!(classify(None), Denial::Other);
    }

    #[test]
    fn login_advice_names_the_login_and_the_t_sql_to_run() {
        let s = subject();
        let bad = login_failed(&s, Denial::Credentials, "");
        assert!(
            bad.contains("'acme_app'") && bad.contains("wrong password"),
            "{bad}"
        );
        let missing = login_failed(&s, Denial::NoDatabase, "Cannot open database");
        assert!(missing.contains("sql.customer.example:1433"), "{missing}");
        assert!(
            missing.contains("USE [acme_prod]; CREATE USER [acme_app] FOR LOGIN [acme_app];"),
            "{missing}"
        );
        let disabled = login_failed(&s, Denial::LoginDisabled, "");
        assert!(
            disabled.contains("ALTER LOGIN [acme_app] ENABLE;"),
            "{disabled}"
        );
    }

    #[test]
    fn privilege_advice_is_t_sql_on_the_users_schema() {
        let s = subject();
        let read = read_failed(&s, "denied");
        assert!(
            read.contains("GRANT SELECT ON SCHEMA::[dbo] TO [acme_app];"),
            "{read}"
        );
        let write = write_failed(&s, Denial::Permission, "denied");
        assert!(
            write.contains("GRANT INSERT, UPDATE, DELETE ON SCHEMA::[dbo] TO [acme_app];"),
            "{write}"
        );
        assert!(
            write.contains("ALTER ROLE db_datawriter ADD MEMBER [acme_app];"),
            "{write}"
        );
        let ddl = ddl_failed(&s, Denial::Permission, "denied");
        assert!(ddl.contains("GRANT CREATE TABLE TO [acme_app];"), "{ddl}");
        assert!(
            ddl.contains("ALTER ROLE db_ddladmin ADD MEMBER [acme_app];"),
            "{ddl}"
        );
        let replica = write_failed(&s, Denial::ReadOnly, "read-only");
        assert!(replica.contains("primary replica"), "{replica}");
    }

    #[test]
    fn customer_names_are_quoted_in_the_advice() {
        let mut s = subject();
        s.user = "odd]user".into();
        let read = read_failed(&s, "denied");
        assert!(read.contains("TO [odd]]user];"), "{read}");
    }
}
