//! End-to-end tests through the real HTTP server, on real SQLite, PostgreSQL and MariaDB servers.

mod admin;
mod browser;
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
mod owner_ui;
mod owner_ui_screenshot;
mod owner_ui_views;
mod pools;
mod provision;
mod provision_kill;
mod registry;
mod status;
