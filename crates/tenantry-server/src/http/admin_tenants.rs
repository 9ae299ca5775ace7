//! Admin plane (owner token): tenants, servers and the audit log.

use super::{JsonBody, OwnerAuth};
use crate::startup::App;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tenantry::lifecycle::{self, LifecycleError};
use tenantry::registry::{Tenant, TenantFilter};
use tenantry::router::ApiError;
use uuid::Uuid;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/admin/tenants", get(list))
        .route("/api/admin/tenants/{id}", get(show))
        .route("/api/admin/tenants/{id}/suspend", post(suspend))
        .route("/api/admin/tenants/{id}/reactivate", post(reactivate))
        .route("/api/admin/servers", get(servers))
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
async fn find(app: &App, id: &str) -> Result<Tenant, ApiError> {
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

async fn servers(State(app): State<App>, _o: OwnerAuth) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({"data": app.registry().list_servers().await?})))
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
