//! The one JSON error shape of every HTTP answer: `{"error":{"code":…,"message":…}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An HTTP error with a stable `code` string. Messages never carry secrets; causes are logged
/// server-side only.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Sent as `Retry-After` (whole seconds, rounded up) on 429 and 503 answers that know when.
    pub retry_after: Option<std::time::Duration>,
    /// The tenant database's connection broke or stopped answering mid-request: the tenant layer
    /// tells the pool manager, whose breaker then checks that server (see [`DatabaseLost`]).
    lost_connection: bool,
}

/// Response extension set when a request lost its tenant database connection (I/O error, protocol
/// error, no answer in time): the tenant layer reports it to the server's circuit breaker.
#[derive(Debug, Clone, Copy)]
pub struct DatabaseLost;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            lost_connection: false,
        }
    }

    /// A 503 `tenant_database_unavailable` for a request whose tenant database connection broke
    /// or stopped answering; reported to the server's circuit breaker by the tenant layer.
    pub fn database_lost(message: impl Into<String>) -> Self {
        Self {
            lost_connection: true,
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "tenant_database_unavailable",
                message,
            )
        }
    }
    /// Adds a `Retry-After` of `wait` (rounded up to whole seconds, at least 1).
    pub fn with_retry_after(mut self, wait: std::time::Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    /// A 500 whose cause is logged with its whole chain and not shown to the client.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = cause.to_string();
        let mut source = cause.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        tracing::error!(error = %chain, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            let secs = crate::limits::retry_after_secs(wait).max(1);
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        if self.lost_connection {
            response.extensions_mut().insert(DatabaseLost);
        }
        response
    }
}

impl From<crate::registry::RegistryError> for ApiError {
    fn from(e: crate::registry::RegistryError) -> Self {
        use crate::registry::RegistryError as E;
        match e {
            E::Invalid(v) => Self::bad_request("invalid_input", v.to_string()),
            E::Conflict(what) => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{what} already exists"),
            ),
            E::NotFound(what) => Self::not_found("not_found", format!("{what} not found")),
            other => Self::internal(&other),
        }
    }
}

impl From<crate::pools::PoolError> for ApiError {
    fn from(e: crate::pools::PoolError) -> Self {
        match &e {
            // One line when the circuit opens (the probe's), not one per request refused.
            crate::pools::PoolError::CircuitOpen { .. } => {
                tracing::debug!(error = %e, "tenant database unavailable")
            }
            _ => tracing::warn!(error = %e, "tenant database unavailable"),
        }
        let message = match &e {
            crate::pools::PoolError::BudgetExhausted => {
                "the platform is at its connection limit; try again".to_owned()
            }
            _ => "the tenant's database is unavailable; try again later".to_owned(),
        };
        let answer = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "tenant_database_unavailable",
            message,
        );
        match e {
            crate::pools::PoolError::CircuitOpen { retry_in, .. } => {
                answer.with_retry_after(retry_in)
            }
            _ => answer,
        }
    }
}

impl From<sqlx::Error> for ApiError {
    /// A connection that broke or timed out mid-request is the database's fault, not ours: 503
    /// (and a signal for the breaker). Any other query error is a 500 with its cause logged.
    fn from(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match e {
            E::Io(_) | E::Protocol(_) | E::Tls(_) | E::PoolTimedOut | E::WorkerCrashed => {
                tracing::warn!(error = %e, "tenant database connection lost");
                Self::database_lost("the tenant's database is unavailable; try again later")
            }
            other => Self::internal(&other),
        }
    }
}
