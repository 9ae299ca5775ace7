//! End-to-end tests through the real HTTP server, on real SQLite, PostgreSQL and MariaDB servers.

mod admin;
mod backup;
mod backup_cli;
mod backup_http;
mod backup_restore;
mod cli;
mod common;
mod credentials;
mod data_api;
mod files;
mod fleet;
mod isolation;
mod onboard;
mod pools;
mod provision;
mod provision_kill;
mod registry;
mod status;
