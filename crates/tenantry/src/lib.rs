//! tenantry: a database-per-tenant platform.
//!
//! Map of the modules and what flows between them:
//!
//! - [`tenant`]: vocabulary types (`TenantCode`, `Subdomain`, `DatabaseName`, …), parsed once at the edge.
//! - [`secrets`]: the secret box (AES-256-GCM) that encrypts every stored credential.
//! - [`registry`]: the control-plane database (SQLite or PostgreSQL): tenants, domains, data servers,
//!   owners; a cached `tenant_config(code)` is the router's only registry read.
//! - [`pools`]: the pool manager: one pool per tenant (LRU cap, idle close, breaker per server,
//!   a budget on open connections).
//! - [`resolve`]: finds the tenant code of a request (JWT claim, header, query, domain, subdomain).
//! - [`router`]: axum middleware + extractors: resolve → check status → authorize → acquire.
//! - [`auth`]: argon2 passwords and tenant-bound JWTs; [`hashing`]: the bounded pool every password
//!   hash runs on (off the async runtime, 503 `busy` past its queue).
//! - [`limits`]: login throttling (per account, per client address) and per-tenant request rates
//!   (from the tenant's plan or override), in bounded caches.
//! - [`migrate`]: embedded per-engine tenant migrations; [`fleet`]: migrating every tenant, drift.
//! - [`health`]: probes of tenant databases on short-lived connections (pools untouched).
//! - [`jobs`]: background jobs (provisioning, fleet migrations) that outlive their request: steps,
//!   progress, outcome; a board of recent jobs owned by the platform.
//! - [`platform`]: the facade: every operation (provision, suspend, delete, set password, servers,
//!   owners, keys, fleet, stats) once, with a typed actor, audited inside; front ends call only it.
//! - [`mssql`]: SQL Server building blocks (tiberius): connect, server admin (databases, schemas,
//!   logins), T-SQL migrations, onboarding probes, data-API statements.
//! - [`onboard`]: pre-flight checks (DNS … schema version) of a customer-hosted tenant database.
//! - [`provision`]: creating tenant databases and bringing tenants to `active`.
//! - [`db`]: typed tenant connections (each engine's own driver; SQL Server's with a client-side
//!   statement timeout) and engine-neutral statements (translated to T-SQL for SQL Server).
//! - [`backup`]: per-tenant backups (database dump + files + manifest in one archive) and restores,
//!   fleet backups, and backups of the registry itself.
//! - [`storage`]: per-tenant file storage under `{root}/{tenant id}`, traversal-proof, atomic writes.
//! - [`users`]: tenant users (in each tenant's own database): names, roles, statements, and the
//!   status cache the router checks tenant tokens against.
//!
//! Operation flow: a front end calls a `platform` method with an `Actor`; the platform uses
//! `registry`, `provision`, `pools` and `storage`, and writes the audit row.
//!
//! Request flow: `router` asks `resolve` for a code, `registry` for the (cached) config, checks the
//! status, verifies the token against the tenant id, and hands the handler a connection from `pools`.
#![forbid(unsafe_code)]

pub mod auth;
pub mod backup;
pub mod db;
pub mod fleet;
pub mod hashing;
pub mod health;
pub mod jobs;
pub mod limits;
pub mod migrate;
pub mod mssql;
pub mod onboard;
pub mod platform;
pub mod pools;
pub mod provision;
pub mod registry;
pub mod resolve;
pub mod router;
pub mod secrets;
pub mod storage;
pub mod tenant;
pub mod users;
