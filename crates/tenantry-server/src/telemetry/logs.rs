//! Logs through `tracing`: human-readable text by default, one JSON object a line when
//! `TENANTRY_LOG_FORMAT=json`. The filter comes from `TENANTRY_LOG` (default `info,sqlx=warn,tiberius=error`: tiberius logs every SQL Server login's TLS handshake at info).
//!
//! Every line logged while a request is handled carries its request span: `request_id` (also the
//! `x-request-id` response header), method, path and, on tenant requests, `tenant` (the code, as
//! the tenant layer resolved it). In JSON those are the `span` object and the `spans` list.

use std::str::FromStr;
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The log line format (`TENANTRY_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "TENANTRY_LOG_FORMAT: {other:?} is not a log format (text, json)"
            )),
        }
    }
}

impl LogFormat {
    /// From `TENANTRY_LOG_FORMAT`; unset is text.
    pub fn from_env() -> Result<Self, String> {
        std::env::var("TENANTRY_LOG_FORMAT").map_or(Ok(Self::Text), |v| v.parse())
    }
}

/// The JSON formatting layer: one object a line with `timestamp`, `level`, `fields`, `target`,
/// the current `span` and the list of `spans` (each with its fields, e.g. `request_id`).
pub fn json_layer<S, W>(writer: W) -> impl Layer<S> + Send + Sync
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_writer(writer)
}

/// Installs the process's subscriber (stderr), in `format`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("TENANTRY_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tiberius=error"));
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .init(),
        LogFormat::Json => registry.with(json_layer(std::io::stderr)).init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_formats_parse_and_unknown_ones_are_named() {
        assert_eq!("JSON".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert_eq!("".parse::<LogFormat>(), Ok(LogFormat::Text));
        let e = "xml".parse::<LogFormat>().unwrap_err();
        assert!(e.contains("\"xml\""), "{e}");
    }
}
