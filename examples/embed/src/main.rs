//! An axum service that embeds tenantry: tenantry's tenant layer resolves and checks every request's
//! tenant, `TenantUser` checks its token, and `TenantPg` hands the handler a `sqlx::PgConnection`
//! from that tenant's pool, so the handler writes typed PostgreSQL queries (`query_as` into
//! `FromRow` structs, `timestamptz` as `chrono::DateTime<Utc>`, `interval` arithmetic in SQL).
//!
//! It shares the registry and master key of a `tenantry serve`/`tenantry demo` process: tenants
//! are provisioned there, users sign in there (`POST /api/auth/login`), and the token works here.
//!
//! ```text
//! TENANTRY_DATA_DIR=./tenantry-data cargo run -p tenantry-example-embed
//! curl -H "Authorization: Bearer $TOKEN" localhost:3001/tickets/open
//! ```
#![forbid(unsafe_code)]

use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;
use tenantry::auth::TokenSigner;
use tenantry::pools::{PoolManager, PoolManagerSettings};
use tenantry::registry::{CacheSettings, Registry};
use tenantry::router::{tenant_layer, ApiError, TenantPg, TenantRouter, TenantUser};
use tenantry::secrets::{MasterKey, SecretBox};
use tenantry::users::UserStatusCache;

/// A ticket as this service shows it: PostgreSQL's own types, decoded by sqlx.
#[derive(Debug, sqlx::FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
struct Ticket {
    id: i64,
    title: String,
    status: String,
    priority: String,
    created_at: DateTime<Utc>,
    /// How long the ticket has been open, computed by PostgreSQL from `timestamptz`.
    age_hours: f64,
}

/// Tickets per status, with the oldest one's creation time.
#[derive(Debug, sqlx::FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusCount {
    status: String,
    tickets: i64,
    oldest: Option<DateTime<Utc>>,
}

/// Open tickets, oldest first: the caller's tenant's rows, and no other tenant's.
async fn open_tickets(_user: TenantUser, mut db: TenantPg) -> Result<Json<Vec<Ticket>>, ApiError> {
    let tickets = sqlx::query_as::<_, Ticket>(
        "SELECT id, title, status, priority, created_at, \
                EXTRACT(EPOCH FROM now() - created_at)::float8 / 3600 AS age_hours \
         FROM tickets WHERE status <> 'closed' ORDER BY created_at LIMIT 100",
    )
    .fetch_all(&mut *db)
    .await?;
    Ok(Json(tickets))
}

async fn summary(_user: TenantUser, mut db: TenantPg) -> Result<Json<Vec<StatusCount>>, ApiError> {
    let counts = sqlx::query_as::<_, StatusCount>(
        "SELECT status, COUNT(*) AS tickets, MIN(created_at) AS oldest \
         FROM tickets GROUP BY status ORDER BY status",
    )
    .fetch_all(&mut *db)
    .await?;
    Ok(Json(counts))
}

/// The service's routes behind tenantry's tenant layer.
fn app(tenants: TenantRouter) -> Router {
    Router::new()
        .route("/tickets/open", get(open_tickets))
        .route("/tickets/summary", get(summary))
        .route_layer(axum::middleware::from_fn_with_state(tenants, tenant_layer))
}

fn env_or(name: &str, default: impl FnOnce() -> String) -> String {
    std::env::var(name).unwrap_or_else(|_| default())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let data_dir = PathBuf::from(env_or("TENANTRY_DATA_DIR", || "./tenantry-data".into()));
    let registry_url = env_or("TENANTRY_REGISTRY_URL", || {
        format!("sqlite://{}/registry.db", data_dir.display())
    });
    let key_file = data_dir.join("master.key");
    let secrets = SecretBox::from_keyring(MasterKey::keyring_from_file(&key_file)?);
    let signer = TokenSigner::new(secrets.master_key(), Duration::from_secs(8 * 3600));
    let registry = Registry::open(&registry_url, secrets, CacheSettings::default()).await?;
    let tenants = TenantRouter {
        registry,
        pools: PoolManager::new(PoolManagerSettings::default()),
        signer,
        base_domain: None,
        users: UserStatusCache::new(Duration::from_secs(30)),
    };
    let addr = env_or("EXAMPLE_ADDR", || "127.0.0.1:3001".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("example service on http://{addr} (tenants from {registry_url})");
    axum::serve(listener, app(tenants)).await?;
    Ok(())
}
