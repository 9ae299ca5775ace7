//! The one error of the platform boundary. Each variant names what went wrong in words an operator
//! can act on; front ends map it to an HTTP status + stable code, or a CLI exit code, in one place
//! each. No variant carries a secret.

use super::credentials::CredentialError;
use crate::backup::BackupError;
use crate::hashing::HashBusy;
use crate::jobs::JobKind;
use crate::limits::Throttled;
use crate::pools::PoolError;
use crate::registry::RegistryError;
use crate::secrets::SecretError;
use crate::storage::StorageError;
use crate::tenant::{InvalidValue, Placement, TenantCode, TenantStatus};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// `kind` is `tenant`, `server`, `owner`, …; `name` what was asked for.
    #[error("{kind} {name} not found")]
    NotFound { kind: &'static str, name: String },
    #[error("{what} already exists")]
    Conflict { what: String },
    /// The database (or schema, as `field` says) belongs to another tenant, or exists on the
    /// server without having been created for this one: one tenant per database.
    #[error("{field}: {message}")]
    DatabaseInUse {
        field: &'static str,
        message: String,
    },
    /// A request names a data server that is not registered.
    #[error("server: no data server named {name:?} is registered")]
    UnknownServer { name: String },
    /// An onboarding check was asked for a tenant whose database is not the customer's.
    #[error(
        "tenant {code} is {placement}: onboarding checks are for external (customer-hosted) tenants"
    )]
    NotExternal {
        code: TenantCode,
        placement: Placement,
    },
    /// Something still uses it (a server holding tenants).
    #[error("{what} cannot be removed: {reason}")]
    InUse { what: String, reason: String },
    /// Bad input; the value names the field.
    #[error("{0}")]
    Invalid(#[from] InvalidValue),
    #[error("tenant {code} is {status}; {action} needs it {needs}")]
    WrongStatus {
        code: TenantCode,
        status: TenantStatus,
        action: &'static str,
        needs: &'static str,
    },
    #[error("deleting tenant {code} needs the confirmation \"DELETE\"")]
    ConfirmationRequired { code: TenantCode },
    /// Provisioning stopped at `step`; the tenant is `failed` and a retry finishes the job.
    #[error("step {step} failed: {message}")]
    Provision { step: &'static str, message: String },
    /// Deleting a tenant stopped at `stage` (`database`, `files`).
    #[error("cannot delete tenant {code}: {stage} failed: {message}")]
    Delete {
        code: TenantCode,
        stage: &'static str,
        message: String,
    },
    /// A tenant database password change was refused or failed (the variant says which stage).
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error("{email} is the last owner; add another owner before removing this one")]
    LastOwner { email: String },
    #[error("the registry already has {owners} owner(s); add more with `tenantry owner add`")]
    AlreadyInitialised { owners: i64 },
    #[error("wrong email or password")]
    WrongCredentials,
    /// The actor may not do this (a tenant user acting on another tenant).
    #[error("forbidden: {reason}")]
    Forbidden { reason: String },
    /// Demoting or disabling this user would leave the tenant without an enabled admin.
    #[error(
        "{username} is the last enabled admin of tenant {tenant}; make another user admin first"
    )]
    LastAdmin {
        tenant: TenantCode,
        username: String,
    },
    /// Key rotation stopped at `stage`; what was done before it is safe (see `keys.rs`).
    #[error("key rotation failed while {stage}: {source}")]
    Keys {
        stage: &'static str,
        #[source]
        source: SecretError,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The tenant's database cannot be reached right now.
    #[error(transparent)]
    Unavailable(#[from] PoolError),
    /// A query on the tenant's own database failed.
    #[error("query on the tenant database failed: {0}")]
    TenantQuery(#[source] sqlx::Error),
    /// A background job of this process still works on it (one at a time).
    #[error("{what} is still running (job {job})")]
    JobRunning {
        kind: JobKind,
        job: uuid::Uuid,
        what: String,
    },
    /// Work stopped before it finished (a restart, a lost task); `reason` says what to do.
    #[error("{what} was interrupted: {reason}")]
    Interrupted { what: String, reason: String },
    /// A backup or restore failed (the variant says which stage).
    #[error(transparent)]
    Backup(#[from] BackupError),
    /// The operation was done, but its audit row could not be written.
    #[error("{action} was done, but writing its audit row failed: {source}")]
    Audit {
        action: &'static str,
        #[source]
        source: RegistryError,
    },
    /// Password checks are at capacity for longer than the queue timeout: retry later.
    #[error(transparent)]
    Busy(#[from] HashBusy),
    /// Too many sign-in attempts for this account or from this address.
    #[error(transparent)]
    TooManyAttempts(#[from] Throttled),
    /// The registry itself failed (a query, a stored secret): an internal error.
    #[error(transparent)]
    Registry(RegistryError),
}

impl From<RegistryError> for PlatformError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::NotFound(what) => Self::NotFound {
                kind: "record",
                name: what,
            },
            RegistryError::Conflict(what) => Self::Conflict { what },
            RegistryError::DatabaseInUse { field, message } => {
                Self::DatabaseInUse { field, message }
            }
            RegistryError::Invalid(v) => Self::Invalid(v),
            other => Self::Registry(other),
        }
    }
}

impl PlatformError {
    /// Whether the platform declined before changing anything (bad input, wrong state, missing
    /// confirmation), as opposed to trying and failing. The audit log records `refused` for these.
    pub fn is_refusal(&self) -> bool {
        match self {
            Self::NotFound { .. }
            | Self::Conflict { .. }
            | Self::DatabaseInUse { .. }
            | Self::InUse { .. }
            | Self::UnknownServer { .. }
            | Self::NotExternal { .. }
            | Self::Invalid(_)
            | Self::WrongStatus { .. }
            | Self::ConfirmationRequired { .. }
            | Self::LastOwner { .. }
            | Self::AlreadyInitialised { .. }
            | Self::WrongCredentials
            | Self::Busy(_)
            | Self::TooManyAttempts(_)
            | Self::JobRunning { .. }
            | Self::Forbidden { .. }
            | Self::LastAdmin { .. } => true,
            Self::Credentials(c) => c.is_refusal(),
            Self::Backup(b) => b.is_refusal(),
            _ => false,
        }
    }

    pub(crate) fn tenant_not_found(name: impl std::fmt::Display) -> Self {
        Self::NotFound {
            kind: "tenant",
            name: name.to_string(),
        }
    }
}
