//! End-to-end tests through the real HTTP server, on real SQLite, PostgreSQL and MariaDB servers.

mod admin;
mod cli;
mod common;
mod data_api;
mod isolation;
mod pools;
mod registry;
mod status;
