//! ticket-desk: an axum service that embeds tenantry.
//!
//! It runs next to a tenantry control plane and shares its data directory (registry and master
//! key), so a token from tenantry's `POST /api/auth/login?company=CODE` works here too. Its own
//! routes sit behind tenantry's tenant layer: every request is resolved to its tenant, checked
//! (status, token of *this* tenant) and handed a connection from that tenant's pool, as a plain
//! `sqlx::PgConnection` ([`TenantPg`]). The queries are `sqlx::query_as!`: checked at compile time
//! against the tenant schema (offline data in `.sqlx/`), with PostgreSQL's own types
//! (`timestamptz` as `chrono::DateTime<Utc>`, `FILTER`, `RETURNING`).
//!
//! Routes (all need a tenant user's token):
//! - `GET /desk/open-tickets?limit=N`: open tickets, most urgent first, with site and customer.
//! - `GET /desk/summary`: tickets per status and the oldest unclosed ticket's time.
//! - `POST /desk/tickets/{id}/close`: closes a ticket (404 unknown, 409 closed already).

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path as FsPath;
use std::time::Duration;
use tenantry::auth::TokenSigner;
use tenantry::platform::{Platform, PlatformSettings};
use tenantry::pools::{PoolManager, PoolManagerSettings};
use tenantry::registry::{CacheSettings, Registry};
use tenantry::router::{tenant_layer, ApiError, TenantPg, TenantRouter, TenantUser};
use tenantry::secrets::{MasterKey, SecretBox};
use tenantry::storage::Storage;

/// Opens the tenantry platform of `data_dir` (its `registry.db` and `master.key`, as
/// `tenantry serve` lays them out). `token_ttl` must match the control plane's for tokens issued
/// here; tokens issued there are checked by their own expiry.
pub async fn open(data_dir: &FsPath) -> anyhow::Result<Platform> {
    let keys = MasterKey::keyring_from_file(&data_dir.join("master.key"))?;
    let secrets = SecretBox::from_keyring(keys);
    let signer = TokenSigner::new(secrets.master_key(), Duration::from_secs(12 * 3600));
    let url = format!("sqlite://{}", data_dir.join("registry.db").display());
    let registry = Registry::open(&url, secrets, CacheSettings::default()).await?;
    let settings = PlatformSettings {
        data_dir: data_dir.to_owned(),
        ..PlatformSettings::default()
    };
    Ok(Platform::new(
        registry,
        PoolManager::new(PoolManagerSettings::default()),
        signer,
        Storage::new(data_dir.join("files"), 10 << 20),
        settings,
    ))
}

/// The service's routes behind tenantry's tenant layer.
pub fn router(platform: &Platform) -> Router {
    let tenants = TenantRouter {
        registry: platform.registry().clone(),
        pools: platform.pools().clone(),
        signer: platform.signer().clone(),
        base_domain: None,
        users: platform.user_status().clone(),
        limits: platform.tenant_limits().clone(),
    };
    Router::new()
        .route("/desk/open-tickets", get(open_tickets))
        .route("/desk/summary", get(summary))
        .route("/desk/tickets/{id}/close", post(close_ticket))
        .layer(middleware::from_fn_with_state(tenants, tenant_layer))
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OpenTicket {
    pub id: i64,
    pub title: String,
    pub priority: String,
    pub site: String,
    pub customer: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
pub struct Limit {
    limit: Option<i64>,
}

async fn open_tickets(
    _user: TenantUser,
    mut db: TenantPg,
    Query(q): Query<Limit>,
) -> Result<Json<Vec<OpenTicket>>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "limit must be between 1 and 500",
        ));
    }
    let rows = sqlx::query_as!(
        OpenTicket,
        r#"SELECT t.id, t.title, t.priority, s.name AS site, c.name AS customer, t.created_at
           FROM tickets t
           JOIN sites s ON s.id = t.site_id
           JOIN customers c ON c.id = s.customer_id
           WHERE t.status = 'open'
           ORDER BY CASE t.priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1
                                    WHEN 'normal' THEN 2 ELSE 3 END, t.created_at, t.id
           LIMIT $1"#,
        limit
    )
    .fetch_all(&mut *db)
    .await
    .map_err(database)?;
    Ok(Json(rows))
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub open: i64,
    pub in_progress: i64,
    pub closed: i64,
    pub oldest_unclosed: Option<DateTime<Utc>>,
}

async fn summary(_user: TenantUser, mut db: TenantPg) -> Result<Json<Summary>, ApiError> {
    let row = sqlx::query_as!(
        Summary,
        r#"SELECT count(*) FILTER (WHERE status = 'open') AS "open!",
                  count(*) FILTER (WHERE status = 'in_progress') AS "in_progress!",
                  count(*) FILTER (WHERE status = 'closed') AS "closed!",
                  min(created_at) FILTER (WHERE status <> 'closed') AS oldest_unclosed
           FROM tickets"#
    )
    .fetch_one(&mut *db)
    .await
    .map_err(database)?;
    Ok(Json(row))
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Closed {
    pub id: i64,
    pub closed_at: DateTime<Utc>,
}

async fn close_ticket(
    _user: TenantUser,
    mut db: TenantPg,
    Path(id): Path<i64>,
) -> Result<Json<Closed>, ApiError> {
    let closed = sqlx::query_as!(
        Closed,
        r#"UPDATE tickets SET status = 'closed', updated_at = now()
           WHERE id = $1 AND status <> 'closed'
           RETURNING id, updated_at AS closed_at"#,
        id
    )
    .fetch_optional(&mut *db)
    .await
    .map_err(database)?;
    if let Some(c) = closed {
        return Ok(Json(c));
    }
    let exists = sqlx::query_scalar!(r#"SELECT 1 AS "one!" FROM tickets WHERE id = $1"#, id)
        .fetch_optional(&mut *db)
        .await
        .map_err(database)?;
    Err(match exists {
        Some(_) => ApiError::new(
            StatusCode::CONFLICT,
            "already_closed",
            format!("ticket {id} is closed already"),
        ),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no ticket {id}"),
        ),
    })
}

/// A database error: logged in full, answered without its details.
fn database(e: sqlx::Error) -> ApiError {
    tracing::error!(error = %e, "ticket-desk query failed");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "database_error",
        "the tenant database could not answer",
    )
}
