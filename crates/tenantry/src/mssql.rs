//! SQL Server (and Azure SQL) building blocks over the `tiberius` TDS driver: connecting with SQL
//! Server's TLS modes, server administration (databases, schemas, least-privilege logins), the
//! tenant migrator, onboarding probes with T-SQL advice, and the data API's statements.
//!
//! These are self-contained: they take their own parameters ([`ConnectOptions`], [`DatabaseName`])
//! rather than registry types; `db::mssql` (pooled connections), `provision`, `migrate` and
//! `onboard` plug them into the engine-neutral platform.
//!
//! Everything is written for SQL Server; the test fixture is Babelfish for PostgreSQL (a real TDS
//! and T-SQL server). Where Babelfish behaves differently, the code does what SQL Server needs and
//! the comment (and the test) says so.
//!
//! - [`connect()`]: one authenticated connection (TLS: [`MssqlTls`], default encrypt + verify).
//! - [`MssqlAdmin`]: `CREATE`/`DROP DATABASE`, schemas, tenant logins, `ALTER LOGIN`, and a
//!   shared-placement tenant's login, user (`DEFAULT_SCHEMA`) and schema (`shared.rs`).
//! - [`migrate`]: embedded T-SQL tenant migrations recorded in `_tenantry_migrations`.
//! - [`onboard`]: TLS, login, read, write, DDL and schema checks of a customer's SQL Server, with
//!   [`advice`] in T-SQL.
//! - [`data`]: list (page and total in one statement), get, insert (`OUTPUT inserted.id`),
//!   update, delete; rows as JSON.
//!
//! [`DatabaseName`]: crate::tenant::DatabaseName

mod admin;
pub mod advice;
mod connect;
pub mod data;
mod error;
mod ident;
mod json;
mod login;
pub mod migrate;
pub mod onboard;
mod schema_drop;
mod shared;

pub use admin::MssqlAdmin;
pub use connect::{connect, ConnectOptions, MssqlClient, MssqlTls, DEFAULT_CONNECT_TIMEOUT};
pub use error::MssqlError;
pub use ident::{generate_login_password, LOGIN_PASSWORD_LEN};

/// The default TCP port of SQL Server.
pub const DEFAULT_PORT: u16 = 1433;
