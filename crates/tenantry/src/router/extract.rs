//! Extractors for handlers behind the tenant layer.

use super::{ApiError, Resolved};
use crate::auth::{Claims, TokenKind};
use crate::platform::{Actor, TenantRef};
use crate::pools::TenantConnection;
use crate::registry::TenantConfig;
use crate::users::{statements, Role, UserStatus};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
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

/// A verified tenant-user token issued for this very tenant, whose user still exists, is enabled
/// and has the password the token was issued under; 401 otherwise.
#[derive(Clone)]
pub struct TenantUser(pub Arc<Claims>);

/// The status a request's token was checked against (so `TenantAdmin` after `TenantUser` does not
/// check twice).
#[derive(Clone)]
struct Checked(UserStatus);

/// The connection a status check took from the pool on a cache miss: the handler's `TenantDb`
/// takes it instead of checking out a second one (and if no extractor does, it goes back to the
/// pool when the request's parts are dropped, before the handler runs).
#[derive(Clone)]
struct Spare(Arc<std::sync::Mutex<Option<TenantConnection>>>);

/// The spare connection of this request, if the status check left one.
fn take_spare(parts: &mut Parts) -> Option<TenantConnection> {
    let spare = parts.extensions.remove::<Spare>()?;
    let taken = spare.0.lock().ok()?.take();
    taken
}

impl<S: Send + Sync> FromRequestParts<S> for TenantUser {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let r = resolved(parts)?;
        let claims = match &r.claims {
            // The layer already refused tokens of other tenants.
            Some(c) if c.kind == TokenKind::Tenant && c.tid == Some(r.config.tenant.id) => {
                c.clone()
            }
            Some(_) => return Err(ApiError::unauthorized("a tenant user's token is required")),
            None => return Err(ApiError::unauthorized("missing bearer token")),
        };
        if parts.extensions.get::<Checked>().is_none() {
            let (status, spare) = current_status(r, &claims).await?;
            parts.extensions.insert(Checked(status));
            if let Some(conn) = spare {
                parts
                    .extensions
                    .insert(Spare(Arc::new(std::sync::Mutex::new(Some(conn)))));
            }
        }
        Ok(TenantUser(claims))
    }
}

/// The user's status now: from the cache when warm, else read from the tenant database (and
/// cached; the connection used is handed back for the handler). A token of a user who is gone,
/// disabled, or has a new password is refused.
async fn current_status(
    r: &Resolved,
    claims: &Claims,
) -> Result<(UserStatus, Option<TenantConnection>), ApiError> {
    let stale = || ApiError::unauthorized("this token is no longer valid; sign in again");
    let user: i64 = claims.sub.parse().map_err(|_| stale())?;
    let (tenant, epoch) = (r.config.tenant.id, r.config.tenant.users_epoch);
    let (status, conn) = match r.users.get(tenant, user, epoch) {
        Some(s) => (s, None),
        None => {
            let mut conn = r.pools.acquire(&r.config).await?;
            let found = statements::status(&mut conn, user).await?;
            let s = found.ok_or_else(stale)?;
            r.users.put(tenant, user, epoch, s.clone());
            (s, Some(conn))
        }
    };
    let same_password = claims.pwv.as_deref() == Some(status.password_version.as_str());
    if status.disabled || !same_password {
        return Err(stale());
    }
    Ok((status, conn))
}

/// A [`TenantUser`] whose role is `admin` now (the role read with the status, not the token's
/// claim, so a demotion takes effect as a disabling does); 403 `forbidden` for other users.
#[derive(Clone)]
pub struct TenantAdmin {
    pub claims: Arc<Claims>,
    pub tenant: Arc<TenantConfig>,
}

impl TenantAdmin {
    /// The admin as the actor of platform operations.
    pub fn actor(&self) -> Actor {
        Actor::TenantUser {
            tenant: self.tenant.tenant.code.clone(),
            username: self.claims.name.clone(),
        }
    }

    /// The admin's own tenant: the only one whose users they manage.
    pub fn tenant_ref(&self) -> TenantRef {
        TenantRef::Id(self.tenant.tenant.id)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TenantAdmin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let TenantUser(claims) = TenantUser::from_request_parts(parts, state).await?;
        let admin = parts
            .extensions
            .get::<Checked>()
            .is_some_and(|c| c.0.role == Role::Admin.as_str());
        if !admin {
            let why = "this needs a tenant user with the admin role";
            return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", why));
        }
        let tenant = resolved(parts)?.config.clone();
        Ok(TenantAdmin { claims, tenant })
    }
}

/// A connection from this tenant's pool, of the tenant's engine (see [`TenantConnection`]).
pub struct TenantDb(pub TenantConnection);

impl<S: Send + Sync> FromRequestParts<S> for TenantDb {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        if let Some(conn) = take_spare(parts) {
            return Ok(TenantDb(conn));
        }
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
        if let Some(conn) = take_spare(parts) {
            return Ok(TenantPg(conn));
        }
        let r = resolved(parts)?;
        Ok(TenantPg(r.pools.acquire(&r.config).await?))
    }
}
