//! The hand-written service `bench route` compares tenantry with: what a developer would write
//! without it. axum, one `sqlx::PgPool` per tenant in a `HashMap`, the same JWT check (signature,
//! expiry, tenant claim), the same statement and the same JSON as tenantry's `GET /api/tickets`.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Arc;
use tenantry::auth::{TokenKind, TokenSigner};
use uuid::Uuid;

/// The baseline's state: the token key and one pool per tenant id.
pub struct Baseline {
    pub signer: TokenSigner,
    pub pools: HashMap<Uuid, PgPool>,
}

#[derive(sqlx::FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
struct Ticket {
    id: i64,
    site_id: i64,
    title: String,
    description: Option<String>,
    status: String,
    priority: String,
    assigned_to: Option<i64>,
    #[serde(serialize_with = "api_time")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "api_time")]
    updated_at: DateTime<Utc>,
    #[serde(skip)]
    total: i64,
}

/// Timestamps as tenantry's API writes them (RFC 3339, UTC, milliseconds).
fn api_time<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&tenantry::db::timestamp(t))
}

/// The response, serialized straight from the typed rows (as a hand-written service would).
#[derive(Serialize)]
struct Page {
    data: Vec<Ticket>,
    page: u32,
    limit: u32,
    total: i64,
}

#[derive(Deserialize)]
struct Paging {
    page: Option<u32>,
    limit: Option<u32>,
}

const PAGE: &str = "SELECT id, site_id, title, description, status, priority, assigned_to, \
    created_at, updated_at, COUNT(*) OVER () AS total FROM tickets ORDER BY id LIMIT $1 OFFSET $2";

type Failure = (StatusCode, Json<Value>);

fn fail(status: StatusCode, code: &str) -> Failure {
    (status, Json(json!({ "error": code, "message": code })))
}

async fn tickets(
    State(b): State<Arc<Baseline>>,
    headers: HeaderMap,
    Query(p): Query<Paging>,
) -> Result<Json<Page>, Failure> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| fail(StatusCode::UNAUTHORIZED, "unauthorized"))?;
    let claims = b
        .signer
        .verify(token)
        .map_err(|_| fail(StatusCode::UNAUTHORIZED, "unauthorized"))?;
    let pool = claims
        .tid
        .filter(|_| claims.kind == TokenKind::Tenant)
        .and_then(|tid| b.pools.get(&tid))
        .ok_or_else(|| fail(StatusCode::NOT_FOUND, "tenant_not_found"))?;
    let (page, limit) = (
        p.page.unwrap_or(1).max(1),
        p.limit.unwrap_or(20).clamp(1, 100),
    );
    let offset = i64::from(page - 1) * i64::from(limit);
    let rows: Vec<Ticket> = sqlx::query_as(PAGE)
        .bind(i64::from(limit))
        .bind(offset)
        .fetch_all(pool)
        .await
        .map_err(|_| fail(StatusCode::INTERNAL_SERVER_ERROR, "internal_error"))?;
    let total = match rows.first() {
        Some(r) => r.total,
        // As tenantry does: an empty first page is an empty table.
        None if page == 1 => 0,
        None => sqlx::query_scalar("SELECT COUNT(*) FROM tickets")
            .fetch_one(pool)
            .await
            .map_err(|_| fail(StatusCode::INTERNAL_SERVER_ERROR, "internal_error"))?,
    };
    Ok(Json(Page {
        data: rows,
        page,
        limit,
        total,
    }))
}

pub fn router(baseline: Arc<Baseline>) -> Router {
    Router::new()
        .route("/api/tickets", get(tickets))
        .with_state(baseline)
}
