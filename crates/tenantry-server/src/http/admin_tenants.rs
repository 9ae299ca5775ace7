//! Admin plane (owner token): tenants and the audit log. Each handler parses its input, calls one
//! platform operation as the signed-in owner, and renders the answer.

use super::openapi::{OwnerErrors, Page, TenantErrors, TenantId};
use super::{HttpError, JsonBody, OptionalJson, OwnerAuth};
use crate::app::App;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tenantry::limits::RateLimit;
use tenantry::platform::{TenantRef, TenantStats};
use tenantry::registry::{PoolSettings, Tenant, TenantFilter, TenantUpdate};
use tenantry::router::ApiError;
use tenantry::tenant::{HostName, InvalidValue, Subdomain};

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
        .route("/api/admin/plans", get(plans))
}

/// `GET /api/admin/plans`: the plans tenants may be on, with their request limits.
#[utoipa::path(get, path = "/api/admin/plans", tag = "tenants", security(("owner" = [])),
    responses((status = 200, body = Value,
        description = "`data`: plans (`name`, `rateLimit` {`rps`, `burst`})"), OwnerErrors))]
async fn plans(State(app): State<App>, _o: OwnerAuth) -> Result<Json<Value>, HttpError> {
    Ok(Json(json!({"data": app.platform().plans().await?})))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    page: Option<u32>,
    limit: Option<u32>,
    search: Option<String>,
    status: Option<String>,
}

pub(super) fn paging(page: Option<u32>, limit: Option<u32>) -> Result<(u32, u32), InvalidValue> {
    let page = page.unwrap_or(1);
    let limit = limit.unwrap_or(20);
    if page == 0 {
        return Err(InvalidValue::new("page", "must be at least 1"));
    }
    if !(1..=100).contains(&limit) {
        return Err(InvalidValue::new("limit", "must be from 1 to 100"));
    }
    Ok((page, limit))
}

#[utoipa::path(get, path = "/api/admin/tenants", tag = "tenants", security(("owner" = [])), params(ListQuery),
    responses((status = 200, body = Page, description = "`data`: tenants"), OwnerErrors))]
async fn list(
    State(app): State<App>,
    _o: OwnerAuth,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, HttpError> {
    let (page, limit) = paging(q.page, q.limit)?;
    let status = q.status.as_deref().map(str::parse).transpose()?;
    let filter = TenantFilter {
        search: q.search,
        status,
        page,
        limit,
    };
    let (data, total) = app.platform().list_tenants(&filter).await?;
    Ok(Json(
        json!({"data": data, "page": page, "limit": limit, "total": total}),
    ))
}

#[utoipa::path(get, path = "/api/admin/tenants/{id}", tag = "tenants", security(("owner" = [])), params(TenantId),
    responses((status = 200, body = Tenant), TenantErrors))]
async fn show(
    State(app): State<App>,
    _o: OwnerAuth,
    Path(id): Path<String>,
) -> Result<Json<Tenant>, HttpError> {
    Ok(Json(app.platform().tenant(&id.parse()?).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SuspendBody {
    reason: String,
}

#[utoipa::path(post, path = "/api/admin/tenants/{id}/suspend", tag = "tenants", security(("owner" = [])), params(TenantId),
    request_body = SuspendBody, responses((status = 200, body = Tenant), TenantErrors))]
async fn suspend(
    State(app): State<App>,
    owner: OwnerAuth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SuspendBody>,
) -> Result<Json<Tenant>, HttpError> {
    let r: TenantRef = id.parse()?;
    let done = app.platform().suspend(owner.actor(), &r, &body.reason);
    Ok(Json(done.await?))
}

#[utoipa::path(post, path = "/api/admin/tenants/{id}/reactivate", tag = "tenants", security(("owner" = [])), params(TenantId),
    responses((status = 200, body = Tenant), TenantErrors))]
async fn reactivate(
    State(app): State<App>,
    owner: OwnerAuth,
    Path(id): Path<String>,
) -> Result<Json<Tenant>, HttpError> {
    let r: TenantRef = id.parse()?;
    Ok(Json(app.platform().reactivate(owner.actor(), &r).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    tenant: Option<String>,
    page: Option<u32>,
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/admin/audit", tag = "tenants", security(("owner" = [])), params(AuditQuery),
    responses((status = 200, body = Page, description = "`data`: audit rows, newest first"), OwnerErrors))]
async fn audit(
    State(app): State<App>,
    _o: OwnerAuth,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Value>, HttpError> {
    let (page, limit) = paging(q.page, q.limit)?;
    let tenant: Option<TenantRef> = q.tenant.as_deref().map(str::parse).transpose()?;
    let (data, total) = app
        .platform()
        .audit_log(tenant.as_ref(), page, limit)
        .await?;
    Ok(Json(
        json!({"data": data, "page": page, "limit": limit, "total": total}),
    ))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct DeleteBody {
    confirm: Option<String>,
}

#[utoipa::path(delete, path = "/api/admin/tenants/{id}", tag = "tenants", security(("owner" = [])), params(TenantId),
    request_body(content = Option<DeleteBody>, description = "`confirm`: the tenant's code, when the tenant holds data"),
    responses((status = 200, body = Tenant), TenantErrors))]
async fn delete(
    State(app): State<App>,
    owner: OwnerAuth,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<DeleteBody>,
) -> Result<Json<Tenant>, HttpError> {
    let r: TenantRef = id.parse()?;
    let done = app
        .platform()
        .delete(owner.actor(), &r, body.confirm.as_deref());
    Ok(Json(done.await?))
}

#[utoipa::path(get, path = "/api/admin/tenants/{id}/stats", tag = "tenants", security(("owner" = [])), params(TenantId),
    responses((status = 200, body = TenantStats), TenantErrors))]
async fn stats(
    State(app): State<App>,
    _o: OwnerAuth,
    Path(id): Path<String>,
) -> Result<Json<TenantStats>, HttpError> {
    Ok(Json(app.platform().tenant_stats(&id.parse()?).await?))
}

#[utoipa::path(get, path = "/api/admin/tenants/{id}/health", tag = "tenants", security(("owner" = [])), params(TenantId),
    responses((status = 200, body = serde_json::Value, description = "probe result and pool state"), TenantErrors))]
async fn health(
    State(app): State<App>,
    _o: OwnerAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, HttpError> {
    let config = app.platform().tenant_config(&id.parse()?).await?;
    Ok(Json(
        super::health::probe_one(&app, (*config).clone()).await,
    ))
}

/// `PUT /api/admin/tenants/{id}`: name, subdomain, domains, plan, region, notes, pool limits,
/// rate limit (an override of the plan's; applies from the next request). A
/// field that is absent stays; `null` clears the optional ones.
#[utoipa::path(put, path = "/api/admin/tenants/{id}", tag = "tenants", security(("owner" = [])), params(TenantId),
    request_body(content = serde_json::Value, description = "Any of name, subdomain, domains, plan, region, notes, pool; absent stays, `null` clears"),
    responses((status = 200, body = Tenant), TenantErrors))]
async fn update(
    State(app): State<App>,
    owner: OwnerAuth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Tenant>, HttpError> {
    let r: TenantRef = id.parse()?;
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request("invalid_body", "body must be a JSON object"))?;
    let change = parse_update(obj)?;
    Ok(Json(
        app.platform().update(owner.actor(), &r, change).await?,
    ))
}

/// The fields `PUT` may change.
const UPDATABLE: [&str; 8] = [
    "name",
    "subdomain",
    "domains",
    "plan",
    "region",
    "notes",
    "pool",
    "rateLimit",
];

fn parse_update(obj: &Map<String, Value>) -> Result<TenantUpdate, HttpError> {
    if let Some(k) = obj.keys().find(|k| !UPDATABLE.contains(&k.as_str())) {
        let why = format!(
            "{k}: cannot be changed here (fields: {})",
            UPDATABLE.join(", ")
        );
        return Err(ApiError::bad_request("invalid_input", why).into());
    }
    let text = |k: &'static str| -> Result<Option<Option<String>>, InvalidValue> {
        match obj.get(k) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
            Some(_) => Err(InvalidValue::new(k, "must be a string or null")),
        }
    };
    let domains = match obj.get("domains") {
        None => None,
        Some(v) => Some(
            serde_json::from_value::<Vec<String>>(v.clone())
                .map_err(|_| InvalidValue::new("domains", "must be a list of host names"))?
                .iter()
                .map(|d| HostName::parse(d))
                .collect::<Result<_, _>>()
                .map_err(|e| InvalidValue::new("domains", e.reason))?,
        ),
    };
    Ok(TenantUpdate {
        name: text("name")?.map(|v| v.unwrap_or_default()),
        subdomain: text("subdomain")?
            .map(|v| v.map(|s| Subdomain::parse(&s)).transpose())
            .transpose()?,
        domains,
        plan: text("plan")?.map(|v| v.unwrap_or_else(|| "standard".into())),
        region: text("region")?,
        notes: text("notes")?,
        pool: obj
            .get("pool")
            .map(|v| serde_json::from_value::<PoolSettings>(v.clone()))
            .transpose()
            .map_err(|e| InvalidValue::new("pool", e.to_string()))?,
        // `{"requestsPerSecond": n, "burst": n}` overrides the plan's limits; `null` removes it.
        rate_limit: obj
            .get("rateLimit")
            .map(|v| serde_json::from_value::<Option<RateLimit>>(v.clone()))
            .transpose()
            .map_err(|e| InvalidValue::new("rateLimit", e.to_string()))?,
    })
}
