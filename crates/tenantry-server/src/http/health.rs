//! Liveness and per-tenant health (owner only). Probes use short-lived connections of their own
//! (see `tenantry::health`): they never open, touch or evict a tenant's pool. Pool state comes from
//! the pool manager without I/O.

use super::openapi::OwnerErrors;
use super::OwnerAuth;
use crate::app::App;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tenantry::health::{self, Probe, PROBE_CONCURRENCY, PROBE_TIMEOUT};
use tenantry::pools::PoolState;
use tenantry::registry::{TenantConfig, TenantFilter};
use tenantry::router::ApiError;

#[utoipa::path(get, path = "/api/health", tag = "meta", responses((status = 200, body = serde_json::Value, description = "`{\"status\": \"ok\"}`")))]
pub async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `?page=&limit=&search=&status=`: probe one page of tenants (as `GET /api/admin/tenants` pages
/// them). Without any of them, every tenant that is not deleted is probed.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HealthQuery {
    page: Option<u32>,
    limit: Option<u32>,
    search: Option<String>,
    status: Option<String>,
}

#[utoipa::path(get, path = "/api/health/tenants", tag = "meta", security(("owner" = [])), params(HealthQuery),
    responses((status = 200, body = serde_json::Value, description = "probe results of a page of tenants"), OwnerErrors))]
pub async fn tenants(
    State(app): State<App>,
    _owner: OwnerAuth,
    Query(q): Query<HealthQuery>,
) -> Result<Json<Value>, ApiError> {
    let paged = q.page.is_some() || q.limit.is_some() || q.search.is_some() || q.status.is_some();
    let (configs, total) = if paged {
        page_of_configs(&app, q).await?
    } else {
        let all = app.registry().all_configs().await?;
        let n = all.len() as i64;
        (all, n)
    };
    let states = app.pools().pool_states();
    let probes = health::probe_all(configs, PROBE_CONCURRENCY, PROBE_TIMEOUT).await;
    let reports: Vec<Value> = probes
        .iter()
        .map(|(c, p)| row(&app, c, p, states.get(&c.tenant.id).copied()))
        .collect();
    let stats = app.pools().stats();
    Ok(Json(json!({
        "activePools": stats.pools,
        "cachedConfigs": app.registry().cached_configs(),
        "openCircuits": stats.open_circuits,
        "connections": {
            "open": stats.connections_open,
            "peak": stats.connections_peak,
            "budget": stats.max_total_connections,
        },
        "total": total,
        "tenants": reports,
    })))
}

async fn page_of_configs(app: &App, q: HealthQuery) -> Result<(Vec<TenantConfig>, i64), ApiError> {
    let (page, limit) = (q.page.unwrap_or(1), q.limit.unwrap_or(20));
    if page == 0 || !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_input",
            "page: must be at least 1; limit: must be from 1 to 100",
        ));
    }
    let status = q.status.as_deref().map(str::parse).transpose().map_err(
        |e: tenantry::tenant::InvalidValue| ApiError::bad_request("invalid_input", e.to_string()),
    )?;
    let filter = TenantFilter {
        search: q.search,
        status,
        page,
        limit,
    };
    let (tenants, total) = app.registry().list_tenants(&filter).await?;
    let mut configs = Vec::with_capacity(tenants.len());
    for t in tenants {
        if let Some(c) = app.registry().tenant_config(&t.code).await? {
            configs.push((*c).clone());
        }
    }
    Ok((configs, total))
}

/// Probes one tenant (for `GET /api/admin/tenants/{id}/health`).
pub(super) async fn probe_one(app: &App, config: TenantConfig) -> Value {
    let p = health::probe(&config.source, PROBE_TIMEOUT).await;
    let state = app.pools().pool_state(config.tenant.id);
    row(app, &config, &p, state)
}

fn row(app: &App, config: &TenantConfig, p: &Probe, pool: Option<PoolState>) -> Value {
    let t = &config.tenant;
    let s = &config.source;
    let region = t.region.as_deref().unwrap_or("unknown region");
    json!({
        "companyCode": t.code,
        "name": t.name,
        "connected": p.connected,
        "latencyMs": p.latency_ms,
        "error": p.error,
        "server": t.server_name,
        "serverHost": s.host,
        "serverPort": s.port,
        "serverLocation": format!("{region} ({})", t.hosting),
        "region": t.region,
        "circuitOpen": app.pools().circuit_open(s.server_id),
        "database": t.database,
        "engine": t.engine,
        "hosting": t.hosting,
        "placement": t.placement,
        "schemaVersion": t.schema_version,
        "status": t.status,
        "pool": pool,
    })
}
