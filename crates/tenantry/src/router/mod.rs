//! The request path as an axum layer: **resolve → check status → authorize → acquire → handle**.
//!
//! Install [`tenant_layer`] on the tenant data routes; handlers then take [`Tenant`] (the resolved
//! tenant and its token, if any), [`TenantUser`] (a verified token of *this* tenant) and
//! [`TenantDb`] (a connection from this tenant's pool, and from no other); [`TenantAdmin`] is a
//! `TenantUser` whose current role is `admin`.
//!
//! A tenant user's token counts while the user exists, is enabled and keeps the password the token
//! was issued under; `TenantUser` checks that against the platform's status cache
//! ([`crate::users::UserStatusCache`]), so a warm request does no extra query.
//!
//! For logs and metrics, the layer records the tenant's code into the current span's `tenant`
//! field (the HTTP server's request span declares it) and puts a [`RequestTenant`] into the
//! response's extensions.
//!
//! A tenant request that outlives the pool manager's `request_timeout` (a hung database server
//! answers nothing, and a server-side statement timeout cannot fire) is answered 503
//! `tenant_database_unavailable`; that, and a request whose connection broke ([`DatabaseLost`]),
//! is reported to the data server's circuit breaker, so the server's tenants soon fail fast.

mod error;
mod extract;

pub use error::{ApiError, DatabaseLost};
pub use extract::{Tenant, TenantAdmin, TenantDb, TenantPg, TenantUser};

use crate::auth::{Claims, TokenKind, TokenSigner};
use crate::limits::TenantLimiter;
use crate::pools::PoolManager;
use crate::registry::{Registry, TenantConfig};
use crate::resolve::{self, Explicit, ResolveError};
use crate::tenant::{HostName, TenantCode, TenantStatus};
use crate::users::UserStatusCache;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;

/// The services the tenant layer needs; a cheap `Clone`.
#[derive(Clone)]
pub struct TenantRouter {
    pub registry: Registry,
    pub pools: PoolManager,
    pub signer: TokenSigner,
    /// `example.com` makes `acme.example.com` resolve to the tenant whose subdomain is `acme`.
    pub base_domain: Option<HostName>,
    /// Tenant users' statuses (the platform's cache, which its user operations invalidate).
    pub users: UserStatusCache,
    /// Per-tenant request allowances (the platform's [`crate::platform::Platform::tenant_limits`]).
    pub limits: TenantLimiter,
}

/// In a response's extensions: the tenant the request was resolved to (for metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTenant(pub TenantCode);

/// What the layer stores in the request for the extractors.
#[derive(Clone)]
pub(crate) struct Resolved {
    pub config: Arc<TenantConfig>,
    pub claims: Option<Arc<Claims>>,
    pub pools: PoolManager,
    pub users: UserStatusCache,
}

/// Verifies the bearer token, if any. A present but invalid token is a 401, never ignored.
pub fn bearer_claims(
    signer: &TokenSigner,
    parts: &axum::http::request::Parts,
) -> Result<Option<Claims>, ApiError> {
    let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(|| ApiError::unauthorized("Authorization must be 'Bearer <token>'"))?;
    signer
        .verify(token.trim())
        .map(Some)
        .map_err(|_| ApiError::unauthorized("invalid or expired token"))
}

/// The middleware function; use with `axum::middleware::from_fn_with_state(router, tenant_layer)`.
pub async fn tenant_layer(
    State(tr): State<TenantRouter>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    match resolve_request(&tr, &parts).await {
        Ok(resolved) => {
            let code = resolved.config.tenant.code.clone();
            tracing::Span::current().record("tenant", code.as_str());
            let source = resolved.config.source.clone();
            let resolved_acquire_ms = resolved.config.tenant.pool.acquire_timeout_ms;
            parts.extensions.insert(resolved);
            let deadline = tr.pools.settings().request_timeout;
            let probe_after = Duration::from_millis(resolved_acquire_ms);
            let run = next.run(Request::from_parts(parts, body));
            let mut response = match watch(run, deadline, probe_after, &tr.pools, &source).await {
                Some(response) => response,
                None => ApiError::database_lost(format!(
                    "the tenant's database did not answer within {deadline:?}"
                ))
                .into_response(),
            };
            if response.extensions().get::<DatabaseLost>().is_some() {
                tr.pools
                    .report_failure(source.server_id, &source.server_key());
            }
            response.extensions_mut().insert(RequestTenant(code));
            response
        }
        Err(e) => e.into_response(),
    }
}

/// Runs a tenant request for at most `deadline` (`None` past it). A request still running after
/// `probe_after` (the tenant's acquire timeout) has the server probed in the background with a
/// fresh connection, so a hung server's circuit opens without waiting for the deadline.
async fn watch(
    run: impl std::future::Future<Output = Response>,
    deadline: Duration,
    probe_after: Duration,
    pools: &PoolManager,
    source: &crate::registry::DataSource,
) -> Option<Response> {
    let started = tokio::time::Instant::now();
    tokio::pin!(run);
    if probe_after < deadline {
        match tokio::time::timeout(probe_after, &mut run).await {
            Ok(response) => return Some(response),
            Err(_) => pools.probe(source, probe_after),
        }
    }
    tokio::time::timeout_at(started + deadline, run).await.ok()
}

#[tracing::instrument(name = "resolve", skip_all)]
async fn resolve_request(
    tr: &TenantRouter,
    parts: &axum::http::request::Parts,
) -> Result<Resolved, ApiError> {
    let claims = bearer_claims(&tr.signer, parts)?;
    let tenant_claim = claims
        .as_ref()
        .filter(|c| c.kind == TokenKind::Tenant)
        .and_then(|c| c.tenant.as_deref());
    let company = resolve::company_param(parts.uri.query());
    let explicit = Explicit {
        token: tenant_claim,
        header: parts.headers.get("x-tenant").and_then(|h| h.to_str().ok()),
        query: company.as_deref(),
    };
    let host = resolve::host_code(&tr.registry, parts, tr.base_domain.as_ref())
        .await
        .map_err(resolve_error)?;
    let Some((code, _source)) = resolve::decide(&explicit, host).map_err(resolve_error)? else {
        return Err(ApiError::not_found(
            "tenant_not_found",
            "the request names no tenant (use a subdomain, X-Tenant header or ?company=CODE)",
        ));
    };
    let config = tr.registry.tenant_config(&code).await?.ok_or_else(|| {
        ApiError::not_found("tenant_not_found", format!("tenant {code} does not exist"))
    })?;
    check_status(&config)?;
    check_rate(&tr.limits, &config)?;
    if let Some(c) = claims.as_ref().filter(|c| c.kind == TokenKind::Tenant) {
        if c.tid != Some(config.tenant.id) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "tenant_mismatch",
                format!("the token was not issued for tenant {code}"),
            ));
        }
    }
    Ok(Resolved {
        config,
        claims: claims.map(Arc::new),
        pools: tr.pools.clone(),
        users: tr.users.clone(),
    })
}

fn resolve_error(e: ResolveError) -> ApiError {
    match e {
        ResolveError::InvalidCode(v) => ApiError::bad_request("invalid_tenant_code", v.to_string()),
        ResolveError::Mismatch { .. } => {
            ApiError::new(StatusCode::FORBIDDEN, "tenant_mismatch", e.to_string())
        }
        ResolveError::Registry(r) => r.into(),
    }
}

/// Takes one request of the tenant's allowance; 429 `rate_limited` with `Retry-After` past it.
/// Only this tenant's allowance is touched, so its flood costs other tenants nothing here.
pub fn check_rate(limits: &TenantLimiter, config: &TenantConfig) -> Result<(), ApiError> {
    let t = &config.tenant;
    limits.check(t.id, t.rate_limit).map_err(|wait| {
        let limit = t.rate_limit;
        let message = format!(
            "tenant {} is over its rate limit ({} requests/s, burst {}); retry later",
            t.code, limit.requests_per_second, limit.burst
        );
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message).with_retry_after(wait)
    })
}

/// Maps a tenant's status to the answer of `DESIGN.md`: only `active` passes.
pub fn check_status(config: &TenantConfig) -> Result<(), ApiError> {
    let code = &config.tenant.code;
    match config.tenant.status {
        TenantStatus::Active => Ok(()),
        TenantStatus::Suspended => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "tenant_suspended",
            format!("tenant {code} is suspended"),
        )),
        TenantStatus::Provisioning => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "tenant_not_ready",
            format!("tenant {code} is still being provisioned"),
        )),
        TenantStatus::Failed | TenantStatus::Deleted => Err(ApiError::not_found(
            "tenant_not_found",
            format!("tenant {code} does not exist"),
        )),
    }
}
