//! The one place where platform errors become HTTP answers: status + stable `code` + message.
//! Internal causes (registry, keys, audit) are logged with their chain and answered as a bare 500.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tenantry::backup::BackupError;
use tenantry::jobs::JobKind;
use tenantry::platform::{CredentialError, PlatformError};
use tenantry::router::ApiError;
use tenantry::storage::StorageError;
use tenantry::tenant::InvalidValue;

/// What admin handlers return on failure; `?` works on platform errors, bad input and
/// [`ApiError`]s alike.
#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<InvalidValue> for HttpError {
    fn from(e: InvalidValue) -> Self {
        Self(ApiError::bad_request("invalid_input", e.to_string()))
    }
}

impl From<PlatformError> for HttpError {
    fn from(e: PlatformError) -> Self {
        Self(platform_error(e))
    }
}

/// Maps every [`PlatformError`] to its HTTP answer.
pub fn platform_error(e: PlatformError) -> ApiError {
    use PlatformError as E;
    let message = e.to_string();
    let answer = |status: StatusCode, code: &'static str| ApiError::new(status, code, &message);
    match e {
        E::NotFound { kind: "tenant", .. } => answer(StatusCode::NOT_FOUND, "tenant_not_found"),
        E::NotFound { .. } => answer(StatusCode::NOT_FOUND, "not_found"),
        E::Conflict { .. } => answer(StatusCode::CONFLICT, "conflict"),
        E::DatabaseInUse { .. } => answer(StatusCode::CONFLICT, "database_in_use"),
        E::UnknownServer { .. } => answer(StatusCode::BAD_REQUEST, "unknown_server"),
        E::NotExternal { .. } => answer(StatusCode::BAD_REQUEST, "not_external"),
        E::InUse { .. } => answer(StatusCode::CONFLICT, "in_use"),
        E::Invalid(_) => answer(StatusCode::BAD_REQUEST, "invalid_input"),
        E::WrongStatus { .. } => answer(StatusCode::CONFLICT, "invalid_status"),
        E::ConfirmationRequired { .. } => answer(StatusCode::BAD_REQUEST, "confirmation_required"),
        E::Provision { .. } => answer(StatusCode::BAD_GATEWAY, "provisioning_failed"),
        E::Delete {
            stage: "database", ..
        } => answer(StatusCode::BAD_GATEWAY, "drop_failed"),
        E::LastOwner { .. } => answer(StatusCode::CONFLICT, "last_owner"),
        E::AlreadyInitialised { .. } => answer(StatusCode::CONFLICT, "already_initialised"),
        E::WrongCredentials => ApiError::unauthorized(message),
        E::JobRunning {
            kind: JobKind::FleetMigrate,
            ..
        } => answer(StatusCode::CONFLICT, "migration_running"),
        E::JobRunning { .. } => answer(StatusCode::CONFLICT, "job_running"),
        E::Forbidden { .. } => answer(StatusCode::FORBIDDEN, "forbidden"),
        E::LastAdmin { .. } => answer(StatusCode::CONFLICT, "last_admin"),
        E::Credentials(c) => credential_error(c),
        E::Backup(b) => backup_error(b),
        E::Storage(s) => storage_error(s),
        E::Unavailable(p) => p.into(),
        E::TenantQuery(q) => q.into(),
        E::Registry(r) => r.into(),
        // Hostile load: the answer says when to come back.
        E::Busy(b) => {
            answer(StatusCode::SERVICE_UNAVAILABLE, "busy").with_retry_after(b.retry_after)
        }
        E::TooManyAttempts(t) => answer(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
            .with_retry_after(t.retry_after),
        other => ApiError::internal(&other),
    }
}

fn credential_error(e: CredentialError) -> ApiError {
    use CredentialError as E;
    match e {
        E::InvalidPassword(_) => ApiError::bad_request("invalid_input", e.to_string()),
        E::Alter { .. } => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "password_change_failed",
            e.to_string(),
        ),
        e if e.is_refusal() => ApiError::new(
            StatusCode::CONFLICT,
            "password_change_refused",
            e.to_string(),
        ),
        other => ApiError::internal(&other),
    }
}

/// Maps backup and restore errors; unexpected causes are logged, not shown.
fn backup_error(e: BackupError) -> ApiError {
    use BackupError as E;
    let message = e.to_string();
    let answer = |status: StatusCode, code: &'static str| ApiError::new(status, code, &message);
    match e {
        E::Registry(r) => platform_error(r.into()),
        E::NotFound(_) => answer(StatusCode::NOT_FOUND, "not_found"),
        E::WrongStatus { .. } => answer(StatusCode::CONFLICT, "invalid_status"),
        E::ConfirmationRequired { .. } => answer(StatusCode::BAD_REQUEST, "confirmation_required"),
        E::InvalidArchive(_) | E::Tampered(_) => answer(StatusCode::BAD_REQUEST, "invalid_archive"),
        E::OtherTenant { .. } | E::EngineMismatch { .. } | E::Incompatible(_) => {
            answer(StatusCode::CONFLICT, "incompatible_backup")
        }
        E::DatabaseExists { .. } => answer(StatusCode::CONFLICT, "database_in_use"),
        E::Tool { .. } | E::Database { .. } | E::Step { .. } => {
            tracing::warn!(error = %message, "backup failed");
            answer(StatusCode::BAD_GATEWAY, "backup_failed")
        }
        E::ToolMissing { .. } => answer(StatusCode::INTERNAL_SERVER_ERROR, "backup_tool_missing"),
        E::EngineUnsupported { .. } => answer(StatusCode::CONFLICT, "backup_unsupported"),
        E::Storage(s) => storage_error(s),
        other => ApiError::internal(&other),
    }
}

/// Maps file-store errors (from the platform or the files API); I/O causes are logged, not shown.
pub fn storage_error(e: StorageError) -> ApiError {
    match e {
        StorageError::InvalidPath(reason) => ApiError::bad_request("invalid_path", reason),
        StorageError::TooLarge { limit } => too_large(limit),
        StorageError::NotFound => ApiError::not_found("not_found", "no such file"),
        StorageError::Upload(_) => ApiError::bad_request("invalid_body", e.to_string()),
        other => ApiError::internal(&other),
    }
}

pub fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
        format!("files may be at most {limit} bytes"),
    )
}
