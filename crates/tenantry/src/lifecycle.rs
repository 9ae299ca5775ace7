//! Lifecycle actions on existing tenants: suspend and reactivate. Each one is audited, and takes
//! effect on the very next request served by this process (cache invalidated, pool closed).

use crate::pools::PoolManager;
use crate::registry::{Registry, RegistryError, Tenant};
use crate::tenant::{InvalidValue, TenantCode, TenantStatus};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("tenant {code} is {status}; {action} needs it {needs}")]
    WrongStatus {
        code: TenantCode,
        status: TenantStatus,
        action: &'static str,
        needs: &'static str,
    },
}

/// Suspends an active tenant: its next request answers 403 `tenant_suspended`.
#[tracing::instrument(skip(registry, pools))]
pub async fn suspend(
    registry: &Registry,
    pools: &PoolManager,
    code: &TenantCode,
    reason: &str,
    actor: &str,
) -> Result<Tenant, LifecycleError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.len() > 500 {
        return Err(RegistryError::Invalid(InvalidValue::new(
            "reason",
            "must be 1-500 characters",
        ))
        .into());
    }
    transition(
        registry,
        pools,
        code,
        actor,
        "suspend",
        TenantStatus::Active,
        TenantStatus::Suspended,
        Some(reason),
    )
    .await
}

/// Reactivates a suspended tenant.
#[tracing::instrument(skip(registry, pools))]
pub async fn reactivate(
    registry: &Registry,
    pools: &PoolManager,
    code: &TenantCode,
    actor: &str,
) -> Result<Tenant, LifecycleError> {
    transition(
        registry,
        pools,
        code,
        actor,
        "reactivate",
        TenantStatus::Suspended,
        TenantStatus::Active,
        None,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn transition(
    registry: &Registry,
    pools: &PoolManager,
    code: &TenantCode,
    actor: &str,
    action: &'static str,
    from: TenantStatus,
    to: TenantStatus,
    reason: Option<&str>,
) -> Result<Tenant, LifecycleError> {
    let before = registry.tenant(code).await?;
    if before.status != from {
        registry
            .audit(
                actor,
                action,
                Some(before.id),
                json!({"status": before.status, "refused": true}),
                "refused",
            )
            .await?;
        return Err(LifecycleError::WrongStatus {
            code: code.clone(),
            status: before.status,
            action,
            needs: from.as_str(),
        });
    }
    registry.set_status(code, to, reason).await?;
    pools.evict(before.id);
    registry
        .audit(
            actor,
            action,
            Some(before.id),
            json!({"before": {"status": from}, "after": {"status": to}, "reason": reason}),
            "ok",
        )
        .await?;
    Ok(registry.tenant(code).await?)
}
