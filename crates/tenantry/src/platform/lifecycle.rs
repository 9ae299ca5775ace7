//! Lifecycle actions on existing tenants: suspend, reactivate, update, delete. Each takes effect on
//! the very next request served by this process (cache invalidated, pool closed).

use super::{Actor, AuditAction, Platform, PlatformError, TenantRef};
use crate::provision::ServerAdmin;
use crate::registry::{DataServer, Tenant, TenantUpdate};
use crate::storage::Removed;
use crate::tenant::{DatabaseName, Engine, InvalidValue, Placement, TenantStatus};
use serde_json::{json, Value};

/// The confirmation word a delete needs.
pub const DELETE_CONFIRMATION: &str = "DELETE";

impl Platform {
    /// Suspends an active tenant: its next request answers 403 `tenant_suspended`.
    #[tracing::instrument(skip(self))]
    pub async fn suspend(
        &self,
        actor: &Actor,
        tenant: &TenantRef,
        reason: &str,
    ) -> Result<Tenant, PlatformError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.len() > 500 {
            let invalid = InvalidValue::new("reason", "must be 1-500 characters");
            let detail = json!({"tenant": tenant.to_string()});
            let id = self.tenant(tenant).await.ok().map(|t| t.id);
            return self
                .audited(
                    actor,
                    AuditAction::TenantSuspend,
                    id,
                    detail,
                    Err(invalid.into()),
                )
                .await;
        }
        self.transition(
            actor,
            tenant,
            AuditAction::TenantSuspend,
            (TenantStatus::Active, TenantStatus::Suspended),
            Some(reason),
        )
        .await
    }

    /// Reactivates a suspended tenant.
    #[tracing::instrument(skip(self))]
    pub async fn reactivate(
        &self,
        actor: &Actor,
        tenant: &TenantRef,
    ) -> Result<Tenant, PlatformError> {
        self.transition(
            actor,
            tenant,
            AuditAction::TenantReactivate,
            (TenantStatus::Suspended, TenantStatus::Active),
            None,
        )
        .await
    }

    async fn transition(
        &self,
        actor: &Actor,
        r: &TenantRef,
        action: AuditAction,
        (from, to): (TenantStatus, TenantStatus),
        reason: Option<&str>,
    ) -> Result<Tenant, PlatformError> {
        let before = self.target(actor, action, r).await?;
        let done = async {
            if before.status != from {
                return Err(PlatformError::WrongStatus {
                    code: before.code.clone(),
                    status: before.status,
                    action: action.as_str().trim_start_matches("tenant."),
                    needs: from.as_str(),
                });
            }
            self.registry().set_status(&before.code, to, reason).await?;
            self.pools().evict(before.id);
            Ok(self.registry().tenant(&before.code).await?)
        }
        .await;
        let detail = match &done {
            Ok(_) => json!({"before": {"status": from}, "after": {"status": to}, "reason": reason}),
            Err(_) => json!({"status": before.status, "reason": reason}),
        };
        self.audited(actor, action, Some(before.id), detail, done)
            .await
    }

    /// Changes name, subdomain, domains, plan, region, notes, pool limits or the rate-limit
    /// override; the cached config is dropped, so routing, pools and rate limits follow on the
    /// next request.
    #[tracing::instrument(skip(self, change))]
    pub async fn update(
        &self,
        actor: &Actor,
        r: &TenantRef,
        change: TenantUpdate,
    ) -> Result<Tenant, PlatformError> {
        let before = self.target(actor, AuditAction::TenantUpdate, r).await?;
        let done = self.registry().update_tenant(&before.code, change).await;
        let done = done.map_err(PlatformError::from);
        let mut detail = json!({"before": summary(&before)});
        if let Ok(after) = &done {
            detail["after"] = summary(after);
        }
        self.audited(
            actor,
            AuditAction::TenantUpdate,
            Some(before.id),
            detail,
            done,
        )
        .await
    }

    /// Deletes a tenant: drops its database (or schema) when it is ours, detaches it when it is the
    /// customer's, then removes its files, and keeps a tombstone whose status reason (and audit
    /// row) says what was removed. Needs `confirm == "DELETE"`.
    #[tracing::instrument(skip(self))]
    pub async fn delete(
        &self,
        actor: &Actor,
        r: &TenantRef,
        confirm: Option<&str>,
    ) -> Result<Tenant, PlatformError> {
        let action = AuditAction::TenantDelete;
        let before = self.target(actor, action, r).await?;
        let mut detail = json!({"before": {"status": before.status}});
        let done = self.delete_steps(&before, confirm, &mut detail).await;
        self.audited(actor, action, Some(before.id), detail, done)
            .await
    }

    async fn delete_steps(
        &self,
        t: &Tenant,
        confirm: Option<&str>,
        detail: &mut Value,
    ) -> Result<Tenant, PlatformError> {
        if confirm != Some(DELETE_CONFIRMATION) {
            return Err(PlatformError::ConfirmationRequired {
                code: t.code.clone(),
            });
        }
        if t.status == TenantStatus::Deleted {
            return Err(PlatformError::WrongStatus {
                code: t.code.clone(),
                status: t.status,
                action: "delete",
                needs: "not deleted",
            });
        }
        self.pools().evict(t.id);
        let data = self.drop_data(t).await?;
        detail["data"] = json!(data);
        let fail = |e: &dyn std::fmt::Display| PlatformError::Delete {
            code: t.code.clone(),
            stage: "files",
            message: e.to_string(),
        };
        // After the database step, so a failed drop leaves the tenant whole (files included).
        let removed: Removed = self
            .storage()
            .remove_tenant_dir(t.id)
            .await
            .map_err(|e| fail(&e))?;
        detail["files"] = json!({"removed": removed.files, "bytes": removed.bytes});
        let summary = format!(
            "{data}; {} file(s), {} byte(s) removed",
            removed.files, removed.bytes
        );
        self.registry().mark_deleted(&t.code, &summary).await?;
        detail["after"] = json!({"status": TenantStatus::Deleted});
        Ok(self.registry().tenant(&t.code).await?)
    }

    /// Drops our database or schema; leaves a customer's database alone, and one this tenant's
    /// provisioning never claimed (it may be another's). Says what was done.
    async fn drop_data(&self, t: &Tenant) -> Result<&'static str, PlatformError> {
        if t.placement == Placement::External {
            return Ok("detached");
        }
        let claim = self.registry().database_claim(&t.code).await?;
        if !claim.claimed || claim.released {
            return Ok("detached (its database was not created for it, so it was left alone)");
        }
        let fail = |e: &dyn std::fmt::Display| PlatformError::Delete {
            code: t.code.clone(),
            stage: "database",
            message: e.to_string(),
        };
        let server = self.registry().server(t.server_id).await?;
        let admin = ServerAdmin {
            server: &server,
            password: self.registry().server_admin_password(server.id).await?,
        };
        match &t.schema {
            Some(schema) if server.engine == Engine::Mssql => {
                // The schema, then the tenant's own user and login (see `mssql::shared`).
                let login = self.own_login(t, &server).await?;
                let login = login.ok_or_else(|| fail(&"the tenant has no login of its own"))?;
                let dropped = admin
                    .mssql()
                    .drop_schema_tenant(&t.database, schema, &login)
                    .await;
                dropped.map_err(|e| fail(&e))?;
                Ok("schema dropped")
            }
            Some(schema) => {
                let dropped = admin.drop_schema(&t.database, schema).await;
                dropped.map_err(|e| fail(&e))?;
                Ok("schema dropped")
            }
            None => {
                admin
                    .drop_database(&t.database)
                    .await
                    .map_err(|e| fail(&e))?;
                // SQL Server keeps logins at server level: the tenant's own login (owner of the
                // database just dropped, and of nothing else) goes too.
                if server.engine == Engine::Mssql {
                    if let Some(login) = self.own_login(t, &server).await? {
                        let dropped = admin.mssql().drop_login(&login).await;
                        dropped.map_err(|e| fail(&e))?;
                    }
                }
                Ok("database dropped")
            }
        }
    }
}

impl Platform {
    /// The tenant's own database login: one provisioning generated for it (`u_…`), not the
    /// server's admin login, and used by no other tenant on the server (tombstones aside).
    async fn own_login(
        &self,
        t: &Tenant,
        server: &DataServer,
    ) -> Result<Option<DatabaseName>, PlatformError> {
        let Some(user) = t.username.as_deref() else {
            return Ok(None);
        };
        if !user.starts_with("u_") || server.admin_username.as_deref() == Some(user) {
            return Ok(None);
        }
        let registry = self.registry();
        let q = "SELECT COUNT(*) FROM tenants WHERE server_id = ? AND username = ? AND id <> ? \
                 AND status <> 'deleted'";
        let others: i64 = sqlx::query_scalar(&registry.sql(q))
            .bind(t.server_id.to_string())
            .bind(user)
            .bind(t.id.to_string())
            .fetch_one(registry.pool())
            .await
            .map_err(crate::registry::RegistryError::from)?;
        Ok((others == 0)
            .then(|| DatabaseName::parse(user).ok())
            .flatten())
    }
}

/// The audited fields of an update (no secrets among them).
fn summary(t: &Tenant) -> Value {
    json!({"name": t.name, "plan": t.plan, "subdomain": t.subdomain, "domains": t.domains,
           "region": t.region, "pool": t.pool, "rateLimit": t.rate_limit_override})
}
