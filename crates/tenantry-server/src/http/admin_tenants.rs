//! Admin plane (owner token): tenants, servers and the audit log.

use super::{JsonBody, OptionalJson, OwnerAuth};
use crate::startup::App;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tenantry::lifecycle::{self, LifecycleError};
use tenantry::registry::{PoolSettings, Tenant, TenantFilter, TenantUpdate};
use tenantry::router::ApiError;
use tenantry::tenant::{HostName, Subdomain};
use uuid::Uuid;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/admin/tenants", get(list))
        .route(
            "/api/admin/tenants/{id}",
            get(show).put(update).delete(delete),
        )
        .route("/api/admin/tenants/{id}/suspend", post(suspend))
        .route("/api/admin/tenants/{id}/reactivate", post(reactivate))
        .route("/api/admin/tenants/{id}/stats", get(stats))
        .route("/api/admin/tenants/{id}/health", get(health))
        .route("/api/admin/audit", get(audit))
}

#[derive(Deserialize)]
pub struct ListQuery {
    page: Option<u32>,
    limit: Option<u32>,
    search: Option<String>,
    status: Option<String>,
}

fn paging(page: Option<u32>, limit: Option<u32>) -> Result<(u32, u32), ApiError> {
    let page = page.unwrap_or(1);
    let limit = limit.unwrap_or(20);
    if page == 0 {
        return Err(ApiError::bad_request(
            "invalid_input",
            "page: must be at least 1",
        ));
    }
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_input",
            "limit: must be from 1 to 100",
        ));
    }
    Ok((page, limit))
}

async fn list(
    State(app): State<App>,
    _o: OwnerAuth,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let (page, limit) = paging(q.page, q.limit)?;
    let status = q.status.as_deref().map(str::parse).transpose().map_err(
        |e: tenantry::tenant::InvalidValue| ApiError::bad_request("invalid_input", e.to_string()),
    )?;
    let filter = TenantFilter {
        search: q.search,
        status,
        page,
        limit,
    };
    let (data, total) = app.registry().list_tenants(&filter).await?;
    Ok(Json(
        json!({"data": data, "page": page, "limit": limit, "total": total}),
    ))
}

/// Finds a tenant by UUID or by code.
pub(super) async fn find(app: &App, id: &str) -> Result<Tenant, ApiError> {
    let found = match Uuid::parse_str(id) {
        Ok(uuid) => app.registry().tenant_by_id(uuid).await,
        Err(_) => {
            let code = id.parse().map_err(|e: tenantry::tenant::InvalidValue| {
                ApiError::bad_request("invalid_input", e.to_string())
            })?;
            app.registry().tenant(&code).await
        }
    };
    found.map_err(|e| match e {
        tenantry::registry::RegistryError::NotFound(_) => {
            ApiError::not_found("tenant_not_found", format!("tenant {id} does not exist"))
        }
        other => other.into(),
    })
}

async fn show(
    State(app): State<App>,
    _o: OwnerAuth,
    Path(id): Path<String>,
) -> Result<Json<Tenant>, ApiError> {
    Ok(Json(find(&app, &id).await?))
}

#[derive(Deserialize)]
pub struct SuspendBody {
    reason: String,
}

fn lifecycle_error(e: LifecycleError) -> ApiError {
    match e {
        LifecycleError::Registry(r) => r.into(),
        e @ LifecycleError::WrongStatus { .. } => {
            ApiError::new(StatusCode::CONFLICT, "invalid_status", e.to_string())
        }
        e @ LifecycleError::ConfirmationRequired { .. } => {
            ApiError::bad_request("confirmation_required", e.to_string())
        }
        e @ LifecycleError::Drop { .. } => {
            ApiError::new(StatusCode::BAD_GATEWAY, "drop_failed", e.to_string())
        }
        other => ApiError::internal(&other),
    }
}

async fn suspend(
    State(app): State<App>,
    OwnerAuth(owner): OwnerAuth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SuspendBody>,
) -> Result<Json<Tenant>, ApiError> {
    let t = find(&app, &id).await?;
    let done = lifecycle::suspend(
        app.registry(),
        app.pools(),
        &t.code,
        &body.reason,
        &owner.name,
    )
    .await;
    Ok(Json(done.map_err(lifecycle_error)?))
}

async fn reactivate(
    State(app): State<App>,
    OwnerAuth(owner): OwnerAuth,
    Path(id): Path<String>,
) -> Result<Json<Tenant>, ApiError> {
    let t = find(&app, &id).await?;
    let done = lifecycle::reactivate(app.registry(), app.pools(), &t.code, &owner.name).await;
    Ok(Json(done.map_err(lifecycle_error)?))
}

#[derive(Deserialize)]
pub struct AuditQuery {
    tenant: Option<String>,
    page: Option<u32>,
    limit: Option<u32>,
}

async fn audit(
    State(app): State<App>,
    _o: OwnerAuth,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let (page, limit) = paging(q.page, q.limit)?;
    let tenant_id = match q.tenant.as_deref() {
        Some(t) => Some(find(&app, t).await?.id),
        None => None,
    };
    let (data, total) = app.registry().list_audit(tenant_id, page, limit).await?;
    Ok(Json(
        json!({"data": data, "page": page, "limit": limit, "total": total}),
    ))
}

#[derive(Deserialize, Default)]
pub struct DeleteBody {
    confirm: Option<String>,
}

async fn delete(
    State(app): State<App>,
    OwnerAuth(owner): OwnerAuth,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<DeleteBody>,
) -> Result<Json<Tenant>, ApiError> {
    let t = find(&app, &id).await?;
    let done = lifecycle::delete(
        app.registry(),
        app.pools(),
        &t.code,
        body.confirm.as_deref(),
        &owner.name,
    )
    .await;
    Ok(Json(done.map_err(lifecycle_error)?))
}

/// A tenant's full config (with its data source), by id or code.
async fn find_config(
    app: &App,
    id: &str,
) -> Result<std::sync::Arc<tenantry::registry::TenantConfig>, ApiError> {
    let t = find(app, id).await?;
    app.registry().tenant_config(&t.code).await?.ok_or_else(|| {
        ApiError::not_found("tenant_not_found", format!("tenant {id} does not exist"))
    })
}

/// The tables of the sample schema whose rows `stats` counts.
const COUNTED_TABLES: [&str; 4] = ["users", "customers", "sites", "tickets"];

async fn stats(
    State(app): State<App>,
    _o: OwnerAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let config = find_config(&app, &id).await?;
    let t = &config.tenant;
    let mut rows = serde_json::Map::new();
    if t.status != tenantry::tenant::TenantStatus::Deleted {
        let mut conn = app.pools().acquire(&config).await?;
        for table in COUNTED_TABLES {
            let q = format!("SELECT COUNT(*) FROM {table}");
            let n = conn.fetch_i64(&q, &[]).await?;
            rows.insert(table.into(), n.into());
        }
    }
    let files = app.storage.list(t.id).await.unwrap_or_default();
    let storage_bytes: u64 = files.iter().map(|f| f.size).sum();
    Ok(Json(json!({
        "code": t.code,
        "rows": rows,
        "files": files.len(),
        "storageBytes": storage_bytes,
        "schemaVersion": t.schema_version,
        "latestVersion": tenantry::migrate::latest_version(t.engine),
        "pool": {
            "open": app.pools().has_pool(t.id),
            "maxConnections": t.pool.max_connections,
            "connections": app.pools().pool_state(t.id),
        },
    })))
}

async fn health(
    State(app): State<App>,
    _o: OwnerAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let config = find_config(&app, &id).await?;
    Ok(Json(
        super::health::probe_one(&app, (*config).clone()).await,
    ))
}

/// `PUT /api/admin/tenants/{id}`: name, subdomain, domains, plan, region, notes, pool limits. A
/// field that is absent stays; `null` clears the optional ones.
async fn update(
    State(app): State<App>,
    OwnerAuth(owner): OwnerAuth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Tenant>, ApiError> {
    let t = find(&app, &id).await?;
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request("invalid_body", "body must be a JSON object"))?;
    const FIELDS: [&str; 7] = [
        "name",
        "subdomain",
        "domains",
        "plan",
        "region",
        "notes",
        "pool",
    ];
    if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ApiError::bad_request(
            "invalid_input",
            format!(
                "{k}: cannot be changed here (fields: {})",
                FIELDS.join(", ")
            ),
        ));
    }
    let bad = |field: &str, why: String| {
        ApiError::bad_request("invalid_input", format!("{field}: {why}"))
    };
    let text = |k: &str| -> Result<Option<Option<String>>, ApiError> {
        match obj.get(k) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
            Some(_) => Err(bad(k, "must be a string or null".into())),
        }
    };
    let change = TenantUpdate {
        name: text("name")?.map(|v| v.unwrap_or_default()),
        subdomain: text("subdomain")?
            .map(|v| v.map(|s| Subdomain::parse(&s)).transpose())
            .transpose()
            .map_err(|e| bad("subdomain", e.reason))?,
        domains: match obj.get("domains") {
            None => None,
            Some(v) => Some(
                serde_json::from_value::<Vec<String>>(v.clone())
                    .map_err(|_| bad("domains", "must be a list of host names".into()))?
                    .iter()
                    .map(|d| HostName::parse(d))
                    .collect::<Result<_, _>>()
                    .map_err(|e| bad("domains", e.reason))?,
            ),
        },
        plan: text("plan")?.map(|v| v.unwrap_or_else(|| "standard".into())),
        region: text("region")?,
        notes: text("notes")?,
        pool: obj
            .get("pool")
            .map(|v| serde_json::from_value::<PoolSettings>(v.clone()))
            .transpose()
            .map_err(|e| bad("pool", e.to_string()))?,
    };
    let after = app.registry().update_tenant(&t.code, change).await?;
    let detail = json!({"before": {"name": t.name, "plan": t.plan, "subdomain": t.subdomain, "domains": t.domains, "pool": t.pool},
                        "after": {"name": after.name, "plan": after.plan, "subdomain": after.subdomain, "domains": after.domains, "pool": after.pool}});
    app.registry()
        .audit(&owner.name, "tenant.update", Some(t.id), detail, "ok")
        .await?;
    Ok(Json(after))
}
