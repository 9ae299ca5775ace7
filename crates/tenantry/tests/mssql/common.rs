//! Connection options and names for the shared SQL Server fixture.

use secrecy::SecretString;
use tenantry::mssql::{ConnectOptions, MssqlAdmin, MssqlTls};
use tenantry::tenant::DatabaseName;
use tenantry_testkit::{shared_babelfish, unique_name, BabelfishServer};

pub fn server() -> &'static BabelfishServer {
    shared_babelfish()
}

/// The TLS mode the fixture wants (Babelfish: encrypt, self-signed certificate).
pub fn tls() -> MssqlTls {
    let s = server();
    MssqlTls {
        encrypt: s.encrypt(),
        trust_server_certificate: s.trust_server_certificate(),
    }
}

/// The sysadmin's options for `database`.
pub fn admin_options(database: &str) -> ConnectOptions {
    let s = server();
    let mut opts = ConnectOptions::new(
        s.host(),
        database,
        s.admin_user(),
        SecretString::from(s.admin_password().to_owned()),
    );
    opts.port = s.port();
    opts.tls = tls();
    opts
}

pub fn admin() -> MssqlAdmin {
    MssqlAdmin::new(admin_options("master"))
}

/// Options for `login` with `password` on `database`.
pub fn login_options(database: &str, login: &str, password: &str) -> ConnectOptions {
    admin_options(database).with_login(login, SecretString::from(password.to_owned()))
}

/// A unique database/schema/login name.
pub fn name(prefix: &str) -> DatabaseName {
    DatabaseName::parse(&unique_name(prefix)).unwrap()
}

/// A fresh, empty database.
pub async fn fresh_database(prefix: &str) -> DatabaseName {
    let db = name(prefix);
    admin().create_database(&db).await.unwrap();
    db
}

/// Runs T-SQL as the sysadmin (test setup and inspection).
pub fn tsql(database: &DatabaseName, sql: &str) -> String {
    server()
        .tsql(database.as_str(), sql)
        .unwrap_or_else(|e| panic!("{e}"))
}
