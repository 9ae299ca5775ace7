//! Observability: request metrics and the `/metrics` text (Prometheus, through the `metrics` and
//! `metrics-exporter-prometheus` crates), and logs ([`logs`]: text or JSON, a request id on
//! every line).
//!
//! Each [`App`](crate::app::App) has its own recorder (not the process-wide one), so tests that
//! build many apps in one process never see each other's numbers. Request metrics are recorded
//! by the HTTP layer as requests finish; everything else (pools, breakers, caches, operations) is
//! read from the platform when `/metrics` is scraped (see [`collect`]).
//!
//! Cardinality: `route` is the route template (`/api/tickets/{id}`), `method` one of the HTTP
//! methods or `other`, `status` the class (`2xx`), `tenant` one of the `top_tenants` busiest
//! tenants, `other`, or `none` (requests of no tenant). Series not updated for three tenant
//! windows leave the output (a tenant that lost its label, a route nobody called).

mod collect;
pub mod labels;
pub mod logs;

use axum::http::{Method, StatusCode};
use labels::TenantLabels;
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use metrics_util::MetricKindMask;
use secrecy::SecretString;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tenantry::secrets::expose;
use tenantry::tenant::TenantCode;

/// `[metrics]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct MetricsSettings {
    /// Tenants with a `tenant` label value of their own (the busiest); the rest are `other`.
    /// Default: 20.
    pub top_tenants: usize,
    /// How often the busiest tenants are ranked again. Default: 5 min.
    #[serde(with = "humantime_serde")]
    pub tenant_window: Duration,
    /// A bearer token Prometheus may scrape `/metrics` with (owner tokens work too, but expire).
    /// At least 16 characters. Default: none (owner tokens only). Env: `TENANTRY_METRICS_TOKEN`.
    pub token: Option<SecretString>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            top_tenants: 20,
            tenant_window: Duration::from_secs(300),
            token: None,
        }
    }
}

/// Shortest metrics token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("token: must be at least {MIN_TOKEN_LEN} characters")]
    ShortToken,
    #[error("tenant_window: must be at least one second")]
    ShortWindow,
}

/// Latency buckets (seconds) of `tenantry_http_request_duration_seconds`.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// One app's recorder, tenant labels and scrape token; a cheap `Clone`.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    tenants: TenantLabels,
    /// SHA-256 of the scrape token: compared digest to digest, so the comparison's timing says
    /// nothing about the token.
    token_digest: Option<[u8; 32]>,
}

impl Metrics {
    pub fn new(settings: &MetricsSettings) -> Result<Self, MetricsError> {
        let token_digest = match &settings.token {
            Some(t) if expose(t).chars().count() < MIN_TOKEN_LEN => {
                return Err(MetricsError::ShortToken)
            }
            Some(t) => Some(Sha256::digest(expose(t).as_bytes()).into()),
            None => None,
        };
        if settings.tenant_window < Duration::from_secs(1) {
            return Err(MetricsError::ShortWindow);
        }
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("tenantry_http_request_duration_seconds".into()),
                &LATENCY_BUCKETS,
            )
            .expect("the latency buckets are not empty")
            .idle_timeout(MetricKindMask::ALL, Some(settings.tenant_window * 3))
            .build_recorder();
        metrics::with_local_recorder(&recorder, collect::describe);
        Ok(Self {
            inner: Arc::new(Inner {
                handle: recorder.handle(),
                recorder,
                tenants: TenantLabels::new(settings.top_tenants, settings.tenant_window),
                token_digest,
            }),
        })
    }

    /// Whether `token` is the configured scrape token.
    pub fn token_matches(&self, token: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.inner.token_digest == Some(digest)
    }

    /// Records one finished request. `route` is the matched route template (`None`: no route).
    pub fn record_request(
        &self,
        method: &Method,
        route: Option<&str>,
        status: StatusCode,
        tenant: Option<&TenantCode>,
        elapsed: Duration,
    ) {
        let labels = [
            ("method", method_label(method).to_owned()),
            ("route", route.unwrap_or("unmatched").to_owned()),
            ("status", status_class(status).to_owned()),
            (
                "tenant",
                match tenant {
                    Some(code) => self.inner.tenants.label(code),
                    None => "none".to_owned(),
                },
            ),
        ];
        metrics::with_local_recorder(&self.inner.recorder, || {
            metrics::counter!("tenantry_http_requests_total", &labels).increment(1);
            metrics::histogram!("tenantry_http_request_duration_seconds", &labels)
                .record(elapsed.as_secs_f64());
        });
    }

    /// Reads the platform's gauges and counters, then renders every metric as Prometheus text.
    pub async fn render(
        &self,
        platform: &tenantry::platform::Platform,
    ) -> Result<String, tenantry::platform::PlatformError> {
        let sample = collect::Sample::take(platform).await?;
        metrics::with_local_recorder(&self.inner.recorder, || sample.record());
        Ok(self.inner.handle.render())
    }

    /// Drains recorded latencies into their buckets every few seconds, so memory stays bounded
    /// between scrapes. The task stops when the last handle is dropped.
    pub fn spawn_upkeep(&self) {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(inner) => inner.handle.run_upkeep(),
                    None => break,
                }
            }
        });
    }
}

/// Known methods by name; anything else (a client can send any token) is `other`.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 7] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
    ];
    KNOWN
        .iter()
        .find(|m| *m == method)
        .map_or("other", |m| m.as_str())
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_tokens_and_windows_are_refused() {
        let settings = |token: &str, secs| MetricsSettings {
            token: Some(token.to_owned().into()),
            tenant_window: Duration::from_secs(secs),
            ..MetricsSettings::default()
        };
        assert!(matches!(
            Metrics::new(&settings("short", 60)),
            Err(MetricsError::ShortToken)
        ));
        assert!(matches!(
            Metrics::new(&settings("sixteen-chars-ok", 0)),
            Err(MetricsError::ShortWindow)
        ));
        let m = Metrics::new(&settings("sixteen-chars-ok", 60)).unwrap();
        assert!(m.token_matches("sixteen-chars-ok"));
        assert!(!m.token_matches("sixteen-chars-no"));
    }

    #[test]
    fn unusual_methods_and_statuses_fall_into_fixed_labels() {
        let odd = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&odd), "other");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        assert_eq!(status_class(StatusCode::NOT_FOUND), "4xx");
        assert_eq!(status_class(StatusCode::from_u16(599).unwrap()), "5xx");
    }

    #[test]
    fn requests_are_counted_per_route_template_and_status_class() {
        let m = Metrics::new(&MetricsSettings::default()).unwrap();
        let acme = TenantCode::parse("ACME").unwrap();
        let route = Some("/api/tickets/{id}");
        for status in [StatusCode::OK, StatusCode::OK, StatusCode::NOT_FOUND] {
            m.record_request(
                &Method::GET,
                route,
                status,
                Some(&acme),
                Duration::from_millis(3),
            );
        }
        let text = m.inner.handle.render();
        let line = |status: &str| {
            format!(
                "tenantry_http_requests_total{{method=\"GET\",route=\"/api/tickets/{{id}}\",status=\"{status}\",tenant=\"ACME\"}}"
            )
        };
        assert!(text.contains(&format!("{} 2", line("2xx"))), "{text}");
        assert!(text.contains(&format!("{} 1", line("4xx"))), "{text}");
        assert!(
            text.contains("tenantry_http_request_duration_seconds_bucket{"),
            "{text}"
        );
    }
}
