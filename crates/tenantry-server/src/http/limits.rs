//! Request bodies and error shapes at the edge: every extractor that buffers a body (JSON, bytes)
//! stops at the body limit (413 `payload_too_large`), and every error answer is JSON, including
//! the plain-text rejections of axum's own extractors (`Query`, `Path`) and its 405s.
//!
//! File uploads stream through their own limit (`max_file_bytes`) and are not bound by this one.

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tenantry::router::ApiError;

/// Largest request body (other than a file upload) by default: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Longest plain-text rejection turned into a JSON message (axum's are one line).
const MAX_REJECTION_TEXT: usize = 4 * 1024;

/// The body limit in force, for the 413 message (set as a request extension by [`limit`]).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// The 413 every buffering extractor answers when the body is over `limit` bytes.
pub fn payload_too_large(limit: Option<BodyLimit>) -> ApiError {
    let message = match limit {
        Some(BodyLimit(n)) => format!("the request body is larger than the limit of {n} bytes"),
        None => "the request body is too large".to_owned(),
    };
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
}

/// Applies the body limit and the JSON error shape to every route of `router`.
pub fn limit(
    router: axum::Router<crate::app::App>,
    max_body_bytes: usize,
) -> axum::Router<crate::app::App> {
    router
        .layer(axum::middleware::from_fn(json_errors))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::Extension(BodyLimit(max_body_bytes)))
}

/// Rewrites an error answer that is not JSON (an extractor's plain-text rejection, an empty 405)
/// into `{"error":{"code","message"}}`, keeping its status and its text as the message.
async fn json_errors(request: Request, next: Next) -> Response {
    let limit = request.extensions().get::<BodyLimit>().copied();
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return payload_too_large(limit).into_response();
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_REJECTION_TEXT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_client_error() => "invalid_input",
        _ => "internal_error",
    };
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let mut answer = ApiError::new(status, code, message).into_response();
    // Keep what the original answer said beyond its body (`Allow`, `Retry-After`, …).
    for (name, value) in parts.headers.iter() {
        if name != CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    answer
}

/// Maps a buffering extractor's rejection: over the limit → 413, anything else → 400 `invalid_body`
/// with axum's text (which names the field, the type or the syntax error and its position).
pub fn body_rejection(status: StatusCode, text: String, limit: Option<BodyLimit>) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        payload_too_large(limit)
    } else {
        ApiError::bad_request("invalid_body", text)
    }
}
