//! Extractors for handlers behind the tenant layer.

use super::{ApiError, Resolved};
use crate::auth::{Claims, TokenKind};
use crate::pools::TenantConnection;
use crate::registry::TenantConfig;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::sync::Arc;

fn resolved(parts: &Parts) -> Result<&Resolved, ApiError> {
    parts.extensions.get::<Resolved>().ok_or_else(|| {
        tracing::error!("tenant extractor used on a route without tenant_layer");
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error",
        )
    })
}

/// The resolved, active tenant of this request.
#[derive(Clone)]
pub struct Tenant(pub Arc<TenantConfig>);

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(Tenant(resolved(parts)?.config.clone()))
    }
}

/// A verified tenant-user token issued for this very tenant; 401 without one.
#[derive(Clone)]
pub struct TenantUser(pub Arc<Claims>);

impl<S: Send + Sync> FromRequestParts<S> for TenantUser {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let r = resolved(parts)?;
        match &r.claims {
            // The layer already refused tokens of other tenants.
            Some(c) if c.kind == TokenKind::Tenant && c.tid == Some(r.config.tenant.id) => {
                Ok(TenantUser(c.clone()))
            }
            Some(_) => Err(ApiError::unauthorized("a tenant user's token is required")),
            None => Err(ApiError::unauthorized("missing bearer token")),
        }
    }
}

/// A connection from this tenant's pool.
pub struct TenantDb(pub TenantConnection);

impl<S: Send + Sync> FromRequestParts<S> for TenantDb {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let r = resolved(parts)?;
        Ok(TenantDb(r.pools.acquire(&r.config).await?))
    }
}
