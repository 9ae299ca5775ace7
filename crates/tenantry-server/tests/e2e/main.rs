//! End-to-end tests through the real HTTP server, on real SQLite, PostgreSQL and MariaDB servers.

mod admin;
mod cli;
mod common;
mod credentials;
mod dashboard;
mod data_api;
mod files;
mod fleet;
mod fleet_api;
mod isolation;
mod onboard;
mod pools;
mod provision;
mod provision_kill;
mod registry;
mod status;
