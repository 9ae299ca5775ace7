//! SQL Server building blocks against a real TDS server: the testkit's Babelfish (or the SQL
//! Server of `$TENANTRY_TEST_MSSQL_URL`). Where Babelfish and SQL Server differ, the test says so.

mod admin;
mod common;
mod connect;
mod data;
mod engine;
mod logins;
mod migrate;
mod onboard;
