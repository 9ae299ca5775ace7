//! Onboarding checks of customer-hosted ("bring your own database") tenant databases, before or
//! after the tenant is registered. Read-only: nothing is created, so nothing is audited.

use super::{Platform, PlatformError, ServerRef, TenantRef};
use crate::onboard::{self, CheckReport, OnboardTarget};
use crate::registry::DataSource;
use crate::tenant::{DatabaseName, Placement};
use secrecy::SecretString;

/// A database the customer gives us, not registered yet.
#[derive(Debug, Clone)]
pub struct OnboardCandidate {
    pub server: ServerRef,
    pub database: DatabaseName,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// Whether our migrations will run DDL there.
    pub ddl_required: bool,
}

impl Platform {
    /// Checks a customer's database before it becomes a tenant.
    #[tracing::instrument(skip_all, fields(server = %c.server, database = %c.database))]
    pub async fn onboard_check(&self, c: OnboardCandidate) -> Result<CheckReport, PlatformError> {
        let server = self.server(&c.server).await.map_err(|e| match e {
            PlatformError::NotFound { .. } => PlatformError::UnknownServer {
                name: c.server.to_string(),
            },
            other => other,
        })?;
        let source = DataSource {
            engine: server.engine,
            host: server.host,
            port: server.port,
            database: c.database.to_string(),
            schema: None,
            username: c.username.filter(|u| !u.is_empty()),
            password: c.password,
            tls: server.tls,
            server_id: server.id,
            server_max_connections: server.max_connections,
            fingerprint: 0,
        };
        Ok(onboard::check(OnboardTarget {
            source: &source,
            ddl_required: c.ddl_required,
        })
        .await)
    }

    /// Checks the database of a registered external tenant.
    #[tracing::instrument(skip(self))]
    pub async fn onboard_check_tenant(
        &self,
        r: &TenantRef,
        ddl_required: bool,
    ) -> Result<CheckReport, PlatformError> {
        let config = self.tenant_config(r).await?;
        let t = &config.tenant;
        if t.placement != Placement::External {
            return Err(PlatformError::NotExternal {
                code: t.code.clone(),
                placement: t.placement,
            });
        }
        Ok(onboard::check(OnboardTarget {
            source: &config.source,
            ddl_required,
        })
        .await)
    }
}
