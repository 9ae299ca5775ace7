//! Auditing inside each operation: a typed action, the actor, and the outcome (ok / failed /
//! refused), written whatever happened. Details are built by the operations from values that are
//! never secrets (passwords appear only as `"***"`).

use super::{Actor, Platform, PlatformError, TenantRef};
use crate::registry::Tenant;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// What was done; `as_str` is the stable string stored in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum AuditAction {
    #[serde(rename = "tenant.provision")]
    TenantProvision,
    #[serde(rename = "tenant.retry")]
    TenantRetry,
    /// A start-up found the tenant's provisioning interrupted: resumed, or marked failed.
    #[serde(rename = "tenant.recover")]
    TenantRecover,
    #[serde(rename = "tenant.suspend")]
    TenantSuspend,
    #[serde(rename = "tenant.reactivate")]
    TenantReactivate,
    #[serde(rename = "tenant.delete")]
    TenantDelete,
    #[serde(rename = "tenant.update")]
    TenantUpdate,
    #[serde(rename = "tenant.set_password")]
    TenantSetPassword,
    #[serde(rename = "server.add")]
    ServerAdd,
    #[serde(rename = "server.remove")]
    ServerRemove,
    #[serde(rename = "owner.add")]
    OwnerAdd,
    #[serde(rename = "owner.remove")]
    OwnerRemove,
    #[serde(rename = "owner.set_password")]
    OwnerSetPassword,
    #[serde(rename = "keys.rotate")]
    KeysRotate,
    #[serde(rename = "fleet.migrate")]
    FleetMigrate,
    #[serde(rename = "tenant.backup")]
    TenantBackup,
    #[serde(rename = "tenant.restore")]
    TenantRestore,
    #[serde(rename = "registry.backup")]
    RegistryBackup,
    #[serde(rename = "registry.restore")]
    RegistryRestore,
    #[serde(rename = "user.create")]
    UserCreate,
    #[serde(rename = "user.update")]
    UserUpdate,
    #[serde(rename = "user.disable")]
    UserDisable,
    #[serde(rename = "user.enable")]
    UserEnable,
    #[serde(rename = "user.reset_password")]
    UserResetPassword,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TenantProvision => "tenant.provision",
            Self::TenantRetry => "tenant.retry",
            Self::TenantRecover => "tenant.recover",
            Self::TenantSuspend => "tenant.suspend",
            Self::TenantReactivate => "tenant.reactivate",
            Self::TenantDelete => "tenant.delete",
            Self::TenantUpdate => "tenant.update",
            Self::TenantSetPassword => "tenant.set_password",
            Self::ServerAdd => "server.add",
            Self::ServerRemove => "server.remove",
            Self::OwnerAdd => "owner.add",
            Self::OwnerRemove => "owner.remove",
            Self::OwnerSetPassword => "owner.set_password",
            Self::KeysRotate => "keys.rotate",
            Self::FleetMigrate => "fleet.migrate",
            Self::TenantBackup => "tenant.backup",
            Self::TenantRestore => "tenant.restore",
            Self::RegistryBackup => "registry.backup",
            Self::RegistryRestore => "registry.restore",
            Self::UserCreate => "user.create",
            Self::UserUpdate => "user.update",
            Self::UserDisable => "user.disable",
            Self::UserEnable => "user.enable",
            Self::UserResetPassword => "user.reset_password",
        }
    }
}

/// How an operation ended, as the audit log's `result` column says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOutcome {
    Ok,
    /// Tried, and something failed.
    Failed,
    /// Declined before anything changed (bad input, wrong state, no confirmation).
    Refused,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Refused => "refused",
        }
    }

    fn of<T>(result: &Result<T, PlatformError>) -> Self {
        match result {
            Ok(_) => Self::Ok,
            Err(e) if e.is_refusal() => Self::Refused,
            Err(_) => Self::Failed,
        }
    }
}

impl Platform {
    /// The tenant an operation acts on. When it cannot be found, the refusal is audited (with the
    /// name asked for) before the error is returned.
    pub(crate) async fn target(
        &self,
        actor: &Actor,
        action: AuditAction,
        r: &TenantRef,
    ) -> Result<Tenant, PlatformError> {
        match self.tenant(r).await {
            Ok(t) => Ok(t),
            Err(e) => {
                let detail = serde_json::json!({"tenant": r.to_string()});
                self.audited(actor, action, None, detail, Err(e)).await
            }
        }
    }

    /// Writes the audit row of one operation and hands its result back. A failure adds its
    /// message as `detail.error`. When the operation succeeded but the row cannot be written, the
    /// caller gets [`PlatformError::Audit`]; when both failed, the operation's own error (the
    /// audit failure is logged).
    pub(crate) async fn audited<T>(
        &self,
        actor: &Actor,
        action: AuditAction,
        tenant_id: Option<Uuid>,
        mut detail: Value,
        result: Result<T, PlatformError>,
    ) -> Result<T, PlatformError> {
        let outcome = AuditOutcome::of(&result);
        self.inner
            .counters
            .operation(action.as_str(), outcome.as_str());
        if let (Err(e), Some(obj)) = (&result, detail.as_object_mut()) {
            obj.insert("error".into(), Value::String(e.to_string()));
        }
        let written = self
            .registry()
            .audit(
                &actor.to_string(),
                action.as_str(),
                tenant_id,
                detail,
                outcome.as_str(),
            )
            .await;
        match (result, written) {
            (result, Ok(())) => result,
            (Ok(_), Err(source)) => Err(PlatformError::Audit {
                action: action.as_str(),
                source,
            }),
            (Err(e), Err(audit)) => {
                tracing::error!(action = action.as_str(), error = %audit, "cannot write an audit row");
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialized_actions_are_their_stable_strings() {
        for a in [
            AuditAction::TenantProvision,
            AuditAction::TenantDelete,
            AuditAction::ServerAdd,
            AuditAction::OwnerSetPassword,
            AuditAction::KeysRotate,
            AuditAction::UserResetPassword,
        ] {
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
    }
}
