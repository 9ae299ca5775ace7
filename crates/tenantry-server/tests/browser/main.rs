//! The owner dashboard (`/owner`) end to end in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`), against a real tenantry server with tenants on SQLite and PostgreSQL.
//!
//! A test binary of its own: cargo runs test binaries one after another, so the browser's CPU load
//! never slows the timing-sensitive tests of `e2e`.

mod backups;
#[allow(dead_code)]
#[path = "../e2e/common.rs"]
mod common;
mod screenshot;
mod sign_in;
mod tenants;
mod views;
mod webdriver;
