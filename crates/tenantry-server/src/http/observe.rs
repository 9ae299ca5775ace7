//! The observability layers of every route, and `GET /metrics`.
//!
//! Outermost first: a sane incoming `x-request-id` is kept (else a UUID is made) and echoed on the
//! response; the request span (`request_id`, method, path, `tenant` filled by the tenant layer)
//! wraps everything logged while the request runs; the request is counted and timed by route
//! template, status class and tenant.
//!
//! `/metrics` answers to the configured metrics token (`[metrics] token`,
//! `TENANTRY_METRICS_TOKEN`, for Prometheus' `authorization`) or an owner token; 401 otherwise.

use super::openapi::ErrorBody;
use super::HttpError;
use crate::app::App;
use crate::telemetry::Metrics;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Response};
use axum::middleware::Next;
use axum::response::IntoResponse;
use std::time::{Duration, Instant};
use tenantry::auth::TokenKind;
use tenantry::router::{ApiError, RequestTenant};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

const REQUEST_ID: &str = "x-request-id";

/// Longest incoming request id kept.
const MAX_REQUEST_ID: usize = 64;

/// Wraps every route of `router` (and its fallback) in this module's layers, outermost first.
pub fn observe(router: axum::Router<App>, metrics: Metrics) -> axum::Router<App> {
    let trace = TraceLayer::new_for_http()
        .make_span_with(request_span)
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    router.layer(
        tower::ServiceBuilder::new()
            .layer(axum::middleware::map_request(drop_insane_request_id))
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(trace)
            .layer(axum::middleware::from_fn_with_state(metrics, track)),
    )
}

/// An incoming id is kept when it is 1-64 characters of `A-Z a-z 0-9 . _ : -` (what proxies and
/// tracers send); anything else is dropped, and a fresh id is made.
fn sane_request_id(value: &HeaderValue) -> bool {
    let b = value.as_bytes();
    (1..=MAX_REQUEST_ID).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._:-".contains(c))
}

async fn drop_insane_request_id(mut request: Request) -> Request {
    let headers = request.headers_mut();
    let values = headers.get_all(REQUEST_ID).iter();
    let keep = values.count() == 1 && headers.get(REQUEST_ID).is_some_and(sane_request_id);
    if !keep {
        headers.remove(REQUEST_ID);
    }
    request
}

fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
        tenant = tracing::field::Empty,
    )
}

/// Counts and times one request by route template, status class and tenant.
async fn track(State(metrics): State<Metrics>, request: Request, next: Next) -> impl IntoResponse {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let tenant = response.extensions().get::<RequestTenant>().map(|t| &t.0);
    let elapsed: Duration = started.elapsed();
    let route = route.as_ref().map(MatchedPath::as_str);
    metrics.record_request(&method, route, response.status(), tenant, elapsed);
    response
}

/// `GET /metrics`: Prometheus text.
#[utoipa::path(get, path = "/metrics", tag = "meta", security(("owner" = [])),
    responses((status = 200, content_type = "text/plain", description = "Prometheus text"), (status = 401, body = ErrorBody)))]
pub async fn scrape(
    State(app): State<App>,
    parts: Parts,
) -> Result<Response<axum::body::Body>, HttpError> {
    authorize(&app, &parts)?;
    let text = app.metrics().render(app.platform()).await?;
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    Ok(([(CONTENT_TYPE, content_type)], text).into_response())
}

fn authorize(app: &App, parts: &Parts) -> Result<(), ApiError> {
    let bearer = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if bearer.is_some_and(|t| app.metrics().token_matches(t)) {
        return Ok(());
    }
    match tenantry::router::bearer_claims(app.signer(), parts)? {
        Some(c) if c.kind == TokenKind::Owner => Ok(()),
        Some(_) => Err(ApiError::unauthorized(
            "/metrics needs the metrics token or an owner token",
        )),
        None => Err(ApiError::unauthorized("missing bearer token")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_kept_only_when_short_and_plain() {
        let ok = |s: &str| sane_request_id(&HeaderValue::from_str(s).unwrap());
        assert!(ok("5f0c6a1e-9a1b-4c55-8f3e-0d1c2b3a4f5e"));
        assert!(ok("req:42.a_b"));
        assert!(!ok(""));
        assert!(!ok(&"a".repeat(65)));
        assert!(!ok("id with spaces"));
        assert!(!ok("<script>"));
    }
}
