//! Tenant writes: creation, updates, status changes, credentials. Every write drops the cached
//! config, so the router sees it on the next request.

use super::claims::in_use;
use super::tenants::{password_context, NewTenant, Tenant, TenantUpdate};
use super::{conflict, Registry, RegistryError, Result};
use crate::db;
use crate::tenant::{DatabaseName, InvalidValue, TenantCode, TenantStatus};
use secrecy::SecretString;
use uuid::Uuid;

impl Registry {
    #[tracing::instrument(skip_all, fields(code = %new.code))]
    pub async fn create_tenant(&self, new: NewTenant) -> Result<Tenant> {
        if new.name.trim().is_empty() {
            return Err(InvalidValue::new("name", "must not be empty").into());
        }
        let server = self.server(new.server_id).await?;
        let id = Uuid::new_v4();
        let now = db::now();
        let database = new
            .database
            .unwrap_or_else(|| DatabaseName::for_tenant(&new.code, id));
        let password = new.password.as_ref().map(|p| {
            self.secrets()
                .encrypt(crate::secrets::expose(p), &password_context(id))
        });
        let mut tx = self.pool().begin().await?;
        // Taken first, this write lock on the server row serializes tenant creation per server:
        // the claim check below and the insert see the same rows.
        sqlx::query(&self.sql("UPDATE data_servers SET updated_at = updated_at WHERE id = ?"))
            .bind(server.id.to_string())
            .execute(&mut *tx)
            .await?;
        let schema = new.schema.as_ref();
        if let Some((holder, holder_schema)) = self
            .claim_holder(&mut tx, server.id, &database, schema)
            .await?
        {
            let name = server.name.as_str();
            let hs = holder_schema.as_deref();
            return Err(in_use(name, &database, schema, &holder, hs));
        }
        sqlx::query(&self.sql(
            "INSERT INTO tenants (id, code, name, subdomain, status, placement, engine, server_id, \
             database_name, schema_name, username, password_enc, hosting, region, max_connections, \
             acquire_timeout_ms, statement_timeout_ms, plan, notes, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind(id.to_string())
        .bind(new.code.as_str())
        .bind(new.name.trim())
        .bind(new.subdomain.as_ref().map(|s| s.to_string()))
        .bind(new.status.as_str())
        .bind(new.placement.as_str())
        .bind(server.engine.as_str())
        .bind(server.id.to_string())
        .bind(database.as_str())
        .bind(new.schema.as_ref().map(|s| s.to_string()))
        .bind(new.username.clone())
        .bind(password)
        .bind(server.hosting.as_str())
        .bind(new.region.clone().or(server.region.clone()))
        .bind(i64::from(new.pool.max_connections))
        .bind(new.pool.acquire_timeout_ms as i64)
        .bind(new.pool.statement_timeout_ms as i64)
        .bind(&new.plan)
        .bind(new.notes.clone())
        .bind(&now)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.message().contains("tenants_one_per_database") => {
                in_use(server.name.as_str(), &database, schema, "another tenant", None)
            }
            _ => conflict(e, format!("tenant {} (code or subdomain)", new.code)),
        })?;
        for domain in &new.domains {
            sqlx::query(&self.sql(
                "INSERT INTO tenant_domains (domain, tenant_id, created_at) VALUES (?, ?, ?)",
            ))
            .bind(domain.as_str())
            .bind(id.to_string())
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict(e, format!("domain {domain}")))?;
        }
        tx.commit().await?;
        self.inner.cache.invalidate(&new.code);
        self.tenant_by_id(id).await
    }

    #[tracing::instrument(skip(self))]
    pub async fn set_status(
        &self,
        code: &TenantCode,
        status: TenantStatus,
        reason: Option<&str>,
    ) -> Result<()> {
        self.update_columns(
            code,
            "status = ?, status_reason = ?",
            vec![Some(status.as_str().to_owned()), reason.map(str::to_owned)],
        )
        .await
    }

    /// Stores a new database password for a tenant (encrypted); live pools follow on the next request.
    #[tracing::instrument(skip(self, password))]
    pub async fn set_tenant_password(
        &self,
        code: &TenantCode,
        password: &SecretString,
    ) -> Result<()> {
        let tenant = self.tenant(code).await?;
        let ct = self.secrets().encrypt(
            crate::secrets::expose(password),
            &password_context(tenant.id),
        );
        self.update_columns(code, "password_enc = ?", vec![Some(ct)])
            .await
    }

    /// Applies `change` (name, subdomain, domains, plan, region, notes, pool limits) in one
    /// transaction; the cached config is dropped, so pools follow on the next request.
    pub async fn update_tenant(&self, code: &TenantCode, change: TenantUpdate) -> Result<Tenant> {
        let t = self.tenant(code).await?;
        let name = change.name.unwrap_or(t.name);
        if name.trim().is_empty() || name.len() > 200 {
            return Err(InvalidValue::new("name", "must be 1-200 characters").into());
        }
        let subdomain = change.subdomain.unwrap_or(t.subdomain);
        let pool = change.pool.unwrap_or(t.pool);
        if pool.max_connections == 0 || pool.acquire_timeout_ms == 0 {
            return Err(InvalidValue::new(
                "pool",
                "maxConnections and acquireTimeoutMs must be positive",
            )
            .into());
        }
        if let Some(plan) = &change.plan {
            self.plan(plan).await?;
        }
        let limit = change.rate_limit.unwrap_or(t.rate_limit_override);
        if let Some(l) = &limit {
            l.check("rateLimit")?;
        }
        let now = db::now();
        let mut tx = self.pool().begin().await?;
        sqlx::query(&self.sql(
            "UPDATE tenants SET name = ?, subdomain = ?, plan = ?, region = ?, notes = ?, max_connections = ?, \
             acquire_timeout_ms = ?, statement_timeout_ms = ?, rate_limit_rps = ?, rate_limit_burst = ?, \
             updated_at = ? WHERE id = ?",
        ))
        .bind(name.trim())
        .bind(subdomain.as_ref().map(|s| s.to_string()))
        .bind(change.plan.unwrap_or(t.plan))
        .bind(change.region.unwrap_or(t.region))
        .bind(change.notes.unwrap_or(t.notes))
        .bind(i64::from(pool.max_connections))
        .bind(pool.acquire_timeout_ms as i64)
        .bind(pool.statement_timeout_ms as i64)
        .bind(limit.map(|l| i64::from(l.requests_per_second)))
        .bind(limit.map(|l| i64::from(l.burst)))
        .bind(&now)
        .bind(t.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict(e, "subdomain".to_owned()))?;
        if let Some(domains) = change.domains {
            sqlx::query(&self.sql("DELETE FROM tenant_domains WHERE tenant_id = ?"))
                .bind(t.id.to_string())
                .execute(&mut *tx)
                .await?;
            for d in domains {
                sqlx::query(&self.sql(
                    "INSERT INTO tenant_domains (domain, tenant_id, created_at) VALUES (?, ?, ?)",
                ))
                .bind(d.as_str())
                .bind(t.id.to_string())
                .bind(&now)
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict(e, format!("domain {d}")))?;
            }
        }
        tx.commit().await?;
        self.inner.cache.invalidate(code);
        self.tenant(code).await
    }

    /// Stores the database login of a tenant (password encrypted); pools follow on the next request.
    pub async fn set_tenant_credentials(
        &self,
        code: &TenantCode,
        username: &str,
        password: &SecretString,
    ) -> Result<()> {
        let tenant = self.tenant(code).await?;
        let ct = self.secrets().encrypt(
            crate::secrets::expose(password),
            &password_context(tenant.id),
        );
        self.update_columns(
            code,
            "username = ?, password_enc = ?",
            vec![Some(username.to_owned()), Some(ct)],
        )
        .await
    }

    /// Turns a tenant into a tombstone: status `deleted`, `deleted_at` set, credentials erased;
    /// `removed` (kept as the status reason) records what was removed with it. Called once its
    /// database is dropped or detached, so the tombstone gives up its claim on the database.
    pub async fn mark_deleted(&self, code: &TenantCode, removed: &str) -> Result<()> {
        let now = db::now();
        self.update_columns(
            code,
            "status = ?, status_reason = ?, password_enc = NULL, deleted_at = ?, \
             database_released_at = ?, provisioning_step = NULL",
            vec![
                Some(TenantStatus::Deleted.as_str().to_owned()),
                Some(removed.to_owned()),
                Some(now.clone()),
                Some(now),
            ],
        )
        .await
    }

    pub async fn set_schema_version(&self, code: &TenantCode, version: i64) -> Result<()> {
        self.set_schema_state(code, version, None).await
    }

    /// Mirrors a tenant's schema: its version and the fingerprint of the migrations applied.
    pub async fn set_schema_state(
        &self,
        code: &TenantCode,
        version: i64,
        checksum: Option<&str>,
    ) -> Result<()> {
        let q = "UPDATE tenants SET schema_version = ?, schema_checksum = ?, updated_at = ? WHERE code = ?";
        sqlx::query(&self.sql(q))
            .bind(version)
            .bind(checksum.map(str::to_owned))
            .bind(db::now())
            .bind(code.as_str())
            .execute(self.pool())
            .await?;
        self.inner.cache.invalidate(code);
        Ok(())
    }

    /// Moves the tenant's users epoch: every router, this one at once and the others at their
    /// next change-stamp poll, reads its users' statuses again (see
    /// [`crate::users::UserStatusCache`]).
    pub async fn bump_users_epoch(&self, code: &TenantCode) -> Result<()> {
        let q = "UPDATE tenants SET users_epoch = users_epoch + 1 WHERE code = ?";
        sqlx::query(&self.sql(q))
            .bind(code.as_str())
            .execute(self.pool())
            .await?;
        self.inner.cache.invalidate(code);
        Ok(())
    }

    /// Whether tenantry migrates this tenant's schema (customer-hosted tenants opt in).
    pub async fn set_schema_managed(&self, code: &TenantCode, managed: bool) -> Result<()> {
        let q = "UPDATE tenants SET schema_managed = ?, updated_at = ? WHERE code = ?";
        sqlx::query(&self.sql(q))
            .bind(i64::from(managed))
            .bind(db::now())
            .bind(code.as_str())
            .execute(self.pool())
            .await?;
        self.inner.cache.invalidate(code);
        Ok(())
    }

    /// Updates `assignments` (a `col = ?, …` list written in this module, never from input) with
    /// text values, bumps `updated_at`, and invalidates the cached config.
    pub(super) async fn update_columns(
        &self,
        code: &TenantCode,
        assignments: &str,
        values: Vec<Option<String>>,
    ) -> Result<()> {
        let q = format!("UPDATE tenants SET {assignments}, updated_at = ? WHERE code = ?");
        let q = self.sql(&q);
        let mut query = sqlx::query(&q);
        for v in values {
            query = query.bind(v);
        }
        let done = query
            .bind(db::now())
            .bind(code.as_str())
            .execute(self.pool())
            .await?;
        self.inner.cache.invalidate(code);
        if done.rows_affected() == 0 {
            return Err(RegistryError::NotFound(format!("tenant {code}")));
        }
        Ok(())
    }
}
