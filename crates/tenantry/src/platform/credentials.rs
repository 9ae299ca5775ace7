//! Changing a tenant's database password: on its data server first (`ALTER ROLE` / `ALTER USER`),
//! then in the registry (encrypted), then in the audit log. The registry write drops the cached
//! config, so the pool manager sees a new fingerprint and rebuilds the tenant's pool on its next
//! request. A connection opened with the old password meanwhile (between the server's `ALTER` and
//! the registry write, or in another process whose cache has not seen the change) is refused its
//! login; the pool manager then re-reads the credentials from the registry and retries once
//! (`pools/reload.rs`). No password ever appears in an error, a log line or the audit detail.

use super::{Actor, AuditAction, Platform, PlatformError, TenantRef};
use crate::provision::ServerAdmin;
use crate::registry::{Registry, RegistryError, Tenant};
use crate::secrets::{expose, generate_password};
use crate::tenant::TenantStatus;
use crate::tenant::{DatabaseName, Engine, Hosting, InvalidValue, Placement, TenantCode};
use secrecy::SecretString;
use serde_json::json;

/// Characters a password set on the server may contain: the DDL splices it (it cannot bind
/// parameters), so no quote, backslash or whitespace.
const ALLOWED_SPECIALS: &str = "._~!@#%^*+=-";

/// Which stage of a password change failed. Never carries the password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    #[error("cannot look up tenant {code}: {source}")]
    Lookup {
        code: TenantCode,
        #[source]
        source: RegistryError,
    },
    #[error("tenant {code} is an SQLite tenant: SQLite databases have no users or passwords")]
    NoPasswords { code: TenantCode },
    #[error(
        "tenant {code} is external: its database user belongs to the customer, so we do not change \
         it; have the customer's DBA change the password, then store it with \
         `tenantry tenant set-password {code} --password-env VAR --store-only`"
    )]
    External { code: TenantCode },
    #[error("tenant {code} is deleted")]
    Deleted { code: TenantCode },
    #[error("tenant {code} has no database user, so it has no password to change")]
    NoUsername { code: TenantCode },
    #[error("database user of tenant {code} cannot be used in DDL: {source}")]
    InvalidUser {
        code: TenantCode,
        #[source]
        source: InvalidValue,
    },
    #[error(
        "tenant {code} connects as {user:?}, which is {why}; changing its password would break \
         them: give the tenant its own database user first"
    )]
    SharedUser {
        code: TenantCode,
        user: String,
        why: String,
    },
    #[error(
        "data server {server} has no admin credentials, so tenantry cannot change passwords on it"
    )]
    NoAdminCredentials { server: String },
    #[error("invalid new password: {0}")]
    InvalidPassword(&'static str),
    #[error("changing the password on data server {server} failed (nothing was changed in the registry): {source}")]
    Alter {
        server: String,
        #[source]
        source: sqlx::Error,
    },
    #[error(
        "data server has the new password of tenant {code}, but storing it in the registry failed \
         (run set-password again): {source}"
    )]
    Store {
        code: TenantCode,
        #[source]
        source: RegistryError,
    },
}

impl CredentialError {
    /// Refused before anything changed (as opposed to a server or registry failure).
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            Self::Lookup { .. } | Self::Alter { .. } | Self::Store { .. }
        )
    }
}

/// Checks that `password` may be spliced into `ALTER ROLE` / `ALTER USER`: 8-128 characters of
/// `A-Z a-z 0-9 . _ ~ ! @ # % ^ * + = -`.
pub fn check_password(password: &SecretString) -> Result<(), CredentialError> {
    let pw = expose(password);
    if !(8..=128).contains(&pw.len()) {
        return Err(CredentialError::InvalidPassword("must be 8-128 characters"));
    }
    let ok = pw
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ALLOWED_SPECIALS.contains(c));
    if !ok {
        return Err(CredentialError::InvalidPassword(
            "may only contain A-Z a-z 0-9 and . _ ~ ! @ # % ^ * + = -",
        ));
    }
    Ok(())
}

impl Platform {
    /// Changes the password of the tenant's database user on its data server, then stores it
    /// (encrypted) in the registry; audited. `new: None` generates one. Returns the password now
    /// in effect (so a generated one can be shown once).
    #[tracing::instrument(skip(self, new))]
    pub async fn set_password(
        &self,
        actor: &Actor,
        r: &TenantRef,
        new: Option<SecretString>,
    ) -> Result<SecretString, PlatformError> {
        self.password_change(actor, r, false, async |tenant: &Tenant| {
            Ok(set_password(self.registry(), tenant, new).await?)
        })
        .await
    }

    /// Stores a password already changed elsewhere (an external tenant's, changed by the
    /// customer's DBA) without touching the server: registry (encrypted) + audit.
    #[tracing::instrument(skip(self, new))]
    pub async fn store_password(
        &self,
        actor: &Actor,
        r: &TenantRef,
        new: SecretString,
    ) -> Result<(), PlatformError> {
        self.password_change(actor, r, true, async |tenant: &Tenant| {
            Ok(store_password(self.registry(), tenant, new).await?)
        })
        .await
    }

    async fn password_change<T>(
        &self,
        actor: &Actor,
        r: &TenantRef,
        store_only: bool,
        change: impl AsyncFnOnce(&Tenant) -> Result<T, PlatformError>,
    ) -> Result<T, PlatformError> {
        let action = AuditAction::TenantSetPassword;
        let detail = json!({"tenant": r.to_string(), "password": "***", "storeOnly": store_only});
        let tenant = self.target(actor, action, r).await?;
        let done = change(&tenant).await;
        self.audited(actor, action, Some(tenant.id), detail, done)
            .await
    }
}

/// Server `ALTER`, then the registry. Returns the password now in effect.
async fn set_password(
    registry: &Registry,
    tenant: &Tenant,
    new: Option<SecretString>,
) -> Result<SecretString, CredentialError> {
    let code = &tenant.code;
    usable(tenant)?;
    if tenant.placement == Placement::External || tenant.hosting == Hosting::Customer {
        return Err(CredentialError::External { code: code.clone() });
    }
    let user = username(tenant)?;
    // SQL Server's password policy wants three character classes in a generated one.
    let password = new.unwrap_or_else(|| match tenant.engine {
        Engine::Mssql => crate::mssql::generate_login_password(),
        _ => generate_password(),
    });
    check_password(&password)?;
    refuse_shared_user(registry, tenant, &user).await?;
    let lookup = |source| CredentialError::Lookup {
        code: code.clone(),
        source,
    };
    let server = registry.server(tenant.server_id).await.map_err(lookup)?;
    if server.admin_username.is_none() {
        return Err(CredentialError::NoAdminCredentials {
            server: server.name.to_string(),
        });
    }
    let admin = ServerAdmin {
        server: &server,
        password: registry
            .server_admin_password(server.id)
            .await
            .map_err(lookup)?,
    };
    admin
        .set_user_password(&user, &password)
        .await
        .map_err(|source| CredentialError::Alter {
            server: server.name.to_string(),
            source,
        })?;
    record(registry, tenant, &password).await?;
    tracing::info!(tenant = %code, "tenant database password changed");
    Ok(password)
}

/// The registry only (the server was changed by someone else).
async fn store_password(
    registry: &Registry,
    tenant: &Tenant,
    new: SecretString,
) -> Result<(), CredentialError> {
    let code = &tenant.code;
    usable(tenant)?;
    if tenant.username.as_deref().unwrap_or("").is_empty() {
        return Err(CredentialError::NoUsername { code: code.clone() });
    }
    if expose(&new).is_empty() || expose(&new).len() > 1024 {
        return Err(CredentialError::InvalidPassword(
            "must be 1-1024 characters",
        ));
    }
    record(registry, tenant, &new).await?;
    tracing::info!(tenant = %code, "tenant database password stored");
    Ok(())
}

/// Refuses a tenant that cannot have a password at all (SQLite, deleted).
fn usable(tenant: &Tenant) -> Result<(), CredentialError> {
    let code = tenant.code.clone();
    if tenant.engine == Engine::Sqlite {
        return Err(CredentialError::NoPasswords { code });
    }
    if tenant.status == TenantStatus::Deleted {
        return Err(CredentialError::Deleted { code });
    }
    Ok(())
}

fn username(tenant: &Tenant) -> Result<DatabaseName, CredentialError> {
    let code = tenant.code.clone();
    match tenant.username.as_deref() {
        None | Some("") => Err(CredentialError::NoUsername { code }),
        Some(u) => {
            DatabaseName::parse(u).map_err(|source| CredentialError::InvalidUser { code, source })
        }
    }
}

/// Refuses a user that is the server's admin or that other live tenants on the server share.
async fn refuse_shared_user(
    registry: &Registry,
    tenant: &Tenant,
    user: &DatabaseName,
) -> Result<(), CredentialError> {
    let code = tenant.code.clone();
    let lookup = |source: RegistryError| CredentialError::Lookup {
        code: code.clone(),
        source,
    };
    let server = registry.server(tenant.server_id).await.map_err(lookup)?;
    let shared = |why: String| CredentialError::SharedUser {
        code: code.clone(),
        user: user.to_string(),
        why,
    };
    if server.admin_username.as_deref() == Some(user.as_str()) {
        return Err(shared(format!(
            "the admin user of data server {}",
            server.name
        )));
    }
    let q = "SELECT code FROM tenants WHERE server_id = ? AND username = ? AND id <> ? \
             AND status <> 'deleted' ORDER BY code";
    let others: Vec<String> = sqlx::query_scalar(&registry.sql(q))
        .bind(tenant.server_id.to_string())
        .bind(user.as_str())
        .bind(tenant.id.to_string())
        .fetch_all(registry.pool())
        .await
        .map_err(|e| lookup(e.into()))?;
    if !others.is_empty() {
        return Err(shared(format!(
            "shared with tenant(s) {}",
            others.join(", ")
        )));
    }
    Ok(())
}

/// The registry write; it drops the cached config, so pools rebuild on the next request.
async fn record(
    registry: &Registry,
    tenant: &Tenant,
    password: &SecretString,
) -> Result<(), CredentialError> {
    registry
        .set_tenant_password(&tenant.code, password)
        .await
        .map_err(|source| CredentialError::Store {
            code: tenant.code.clone(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_24_alphanumerics_and_pass_the_check() {
        let p = generate_password();
        assert_eq!(expose(&p).len(), crate::secrets::GENERATED_PASSWORD_LEN);
        assert!(expose(&p).chars().all(|c| c.is_ascii_alphanumeric()));
        check_password(&p).unwrap();
        assert_ne!(expose(&p), expose(&generate_password()));
    }

    #[test]
    fn passwords_with_quotes_or_spaces_are_refused_without_echoing_them() {
        for bad in [
            "it's-a-secret",
            "dq\"uote123",
            "back\\slash1",
            "with space1",
            "short",
            "ünïcode123",
        ] {
            let err = check_password(&SecretString::from(bad.to_owned())).unwrap_err();
            assert!(matches!(err, CredentialError::InvalidPassword(_)), "{bad}");
            assert!(!err.to_string().contains(bad), "{err}");
        }
        check_password(&SecretString::from("Ab1._~!@#%^*+=-".to_owned())).unwrap();
    }
}
