//! End-to-end tests through the real HTTP server, on real SQLite, PostgreSQL and MariaDB servers.

mod actors;
mod admin;
mod backup;
mod backup_cli;
mod backup_http;
mod backup_restore;
mod budget;
mod cli;
mod common;
mod credentials;
mod dashboard;
mod data_api;
mod files;
mod first_start;
mod fleet;
mod fleet_api;
mod isolation;
mod keys;
mod onboard;
mod owners;
mod pools;
mod provision;
mod provision_kill;
mod registry;
mod status;
mod typed;
