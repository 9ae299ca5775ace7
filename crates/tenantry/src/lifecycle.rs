//! Lifecycle actions on existing tenants: suspend, reactivate, delete. Each one is audited, and takes
//! effect on the very next request served by this process (cache invalidated, pool closed).

use crate::pools::PoolManager;
use crate::provision::ServerAdmin;
use crate::registry::{Registry, RegistryError, Tenant};
use crate::tenant::{DatabaseName, InvalidValue, Placement, TenantCode, TenantStatus};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("deleting tenant {code} needs the confirmation \"DELETE\"")]
    ConfirmationRequired { code: TenantCode },
    #[error("cannot drop the database of tenant {code}: {message}")]
    Drop { code: TenantCode, message: String },
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

/// Deletes a tenant: drops its database (or schema) when it is ours, detaches it when it is the
/// customer's, and keeps a tombstone row. Needs `confirm == "DELETE"`.
#[tracing::instrument(skip(registry, pools))]
pub async fn delete(
    registry: &Registry,
    pools: &PoolManager,
    code: &TenantCode,
    confirm: Option<&str>,
    actor: &str,
) -> Result<Tenant, LifecycleError> {
    if confirm != Some("DELETE") {
        return Err(LifecycleError::ConfirmationRequired { code: code.clone() });
    }
    let before = registry.tenant(code).await?;
    if before.status == TenantStatus::Deleted {
        return Err(LifecycleError::WrongStatus {
            code: code.clone(),
            status: before.status,
            action: "delete",
            needs: "not deleted",
        });
    }
    pools.evict(before.id);
    let dropped = drop_data(registry, &before).await;
    let (result, detail) = match &dropped {
        Ok(action) => (
            "ok",
            json!({"before": {"status": before.status}, "after": {"status": "deleted"}, "data": action}),
        ),
        Err(e) => ("failed", json!({"error": e.to_string()})),
    };
    if dropped.is_ok() {
        registry.mark_deleted(code).await?;
    }
    registry
        .audit(actor, "delete", Some(before.id), detail, result)
        .await?;
    dropped?;
    Ok(registry.tenant(code).await?)
}

/// Drops our database or schema; leaves a customer's database alone. Returns what was done.
async fn drop_data(registry: &Registry, t: &Tenant) -> Result<&'static str, LifecycleError> {
    if t.placement == Placement::External {
        return Ok("detached");
    }
    let fail = |e: &dyn std::fmt::Display| LifecycleError::Drop {
        code: t.code.clone(),
        message: e.to_string(),
    };
    let server = registry.server(t.server_id).await?;
    let admin = ServerAdmin {
        server: &server,
        password: registry.server_admin_password(server.id).await?,
    };
    let database = DatabaseName::parse(&t.database).map_err(|e| fail(&e))?;
    match &t.schema {
        Some(schema) => {
            let schema = DatabaseName::parse(schema).map_err(|e| fail(&e))?;
            admin
                .drop_schema(&database, &schema)
                .await
                .map_err(|e| fail(&e))?;
            Ok("schema dropped")
        }
        None => {
            admin.drop_database(&database).await.map_err(|e| fail(&e))?;
            Ok("database dropped")
        }
    }
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
