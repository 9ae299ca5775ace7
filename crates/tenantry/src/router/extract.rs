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

/// A connection from this tenant's pool, of the tenant's engine (see [`TenantConnection`]).
pub struct TenantDb(pub TenantConnection);

impl<S: Send + Sync> FromRequestParts<S> for TenantDb {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let r = resolved(parts)?;
        Ok(TenantDb(r.pools.acquire(&r.config).await?))
    }
}

/// A PostgreSQL connection from this tenant's pool: for handlers written against PostgreSQL's own
/// types (`query!`, `jsonb`, `COPY`, `LISTEN`). A tenant on another engine is a configuration
/// error of the deployment, answered 500 `tenant_engine_unsupported` (and logged).
pub struct TenantPg(TenantConnection);

impl TenantPg {
    /// The tenant's connection, for engine-neutral helpers.
    pub fn into_inner(self) -> TenantConnection {
        self.0
    }
}

impl std::ops::Deref for TenantPg {
    type Target = sqlx::PgConnection;
    fn deref(&self) -> &sqlx::PgConnection {
        match &*self.0 {
            crate::db::EngineConnection::Postgres(c) => c,
            _ => unreachable!("TenantPg holds PostgreSQL connections only"),
        }
    }
}

impl std::ops::DerefMut for TenantPg {
    fn deref_mut(&mut self) -> &mut sqlx::PgConnection {
        self.0
            .as_postgres()
            .expect("TenantPg holds PostgreSQL connections only")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TenantPg {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let r = resolved(parts)?;
        let engine = r.config.source.engine;
        if engine != crate::tenant::Engine::Postgres {
            let code = &r.config.tenant.code;
            tracing::error!(tenant = %code, %engine, "PostgreSQL-only route reached a tenant on another engine");
            return Err(ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "tenant_engine_unsupported",
                format!("this route needs a PostgreSQL tenant; tenant {code} runs on {engine}"),
            ));
        }
        Ok(TenantPg(r.pools.acquire(&r.config).await?))
    }
}
