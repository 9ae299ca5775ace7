//! Owners: the platform's operators. The first one is created by `tenantry init` (or the demo);
//! more are added, re-keyed and removed here, never leaving the registry without an owner.

use super::{Actor, AuditAction, Platform, PlatformError};
use crate::auth::{Claims, TokenKind};
use crate::registry::{Owner, RegistryError};
use crate::secrets::expose;
use crate::tenant::InvalidValue;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::json;

/// Shortest owner password accepted.
pub const MIN_OWNER_PASSWORD_LEN: usize = 12;

/// A signed-in owner: a bearer token for the admin API.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnerSession {
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub owner: Owner,
}

/// The owner password policy: [`MIN_OWNER_PASSWORD_LEN`] to 1,024 characters. Front ends may
/// check it early (before a prompt's answer is used); the operations check it again.
pub fn check_owner_password(password: &SecretString) -> Result<(), PlatformError> {
    let n = expose(password).chars().count();
    if n < MIN_OWNER_PASSWORD_LEN {
        let why = format!("must be at least {MIN_OWNER_PASSWORD_LEN} characters");
        return Err(InvalidValue::new("password", why).into());
    }
    if n > 1024 {
        return Err(InvalidValue::new("password", "must be at most 1024 characters").into());
    }
    Ok(())
}

impl Platform {
    pub async fn list_owners(&self) -> Result<Vec<Owner>, PlatformError> {
        Ok(self.registry().list_owners().await?)
    }

    pub async fn owner_count(&self) -> Result<i64, PlatformError> {
        Ok(self.registry().owner_count().await?)
    }

    /// Adds an owner (password at least [`MIN_OWNER_PASSWORD_LEN`] characters).
    #[tracing::instrument(skip(self, password))]
    pub async fn add_owner(
        &self,
        actor: &Actor,
        email: &str,
        name: &str,
        password: &SecretString,
    ) -> Result<Owner, PlatformError> {
        let detail = json!({"after": {"email": email, "name": name}, "password": "***"});
        let done = async {
            check_owner_password(password)?;
            let created = self.registry().create_owner(email, name, expose(password));
            Ok(created.await?)
        }
        .await;
        self.audited(actor, AuditAction::OwnerAdd, None, detail, done)
            .await
    }

    /// Creates the first owner of a new registry. Once one exists it is refused with
    /// [`PlatformError::AlreadyInitialised`] and writes nothing at all, not even an audit row, so
    /// running `init` again is free of side effects.
    #[tracing::instrument(skip(self, password))]
    pub async fn init_owner(
        &self,
        actor: &Actor,
        email: &str,
        name: &str,
        password: &SecretString,
    ) -> Result<Owner, PlatformError> {
        let owners = self.registry().owner_count().await?;
        if owners > 0 {
            return Err(PlatformError::AlreadyInitialised { owners });
        }
        let detail =
            json!({"after": {"email": email, "name": name}, "password": "***", "first": true});
        let done = async {
            check_owner_password(password)?;
            let created = self
                .registry()
                .create_first_owner(email, name, expose(password))
                .await;
            match created {
                Err(RegistryError::Conflict(what)) if what == "an owner" => {
                    let owners = self.registry().owner_count().await?;
                    Err(PlatformError::AlreadyInitialised { owners })
                }
                other => Ok(other?),
            }
        }
        .await;
        self.audited(actor, AuditAction::OwnerAdd, None, detail, done)
            .await
    }

    /// The owner with this e-mail address.
    pub async fn owner(&self, email: &str) -> Result<Owner, PlatformError> {
        self.registry()
            .owner_by_email(email)
            .await
            .map_err(|e| match e {
                RegistryError::NotFound(_) => PlatformError::NotFound {
                    kind: "owner",
                    name: email.trim().to_ascii_lowercase(),
                },
                other => other.into(),
            })
    }

    /// Removes an owner; refused for the last one.
    #[tracing::instrument(skip(self))]
    pub async fn remove_owner(&self, actor: &Actor, email: &str) -> Result<Owner, PlatformError> {
        let detail = json!({"before": {"email": email}});
        let done = async {
            let owner = self.owner(email).await?;
            if !self.registry().remove_owner(owner.id).await? {
                return Err(PlatformError::LastOwner { email: owner.email });
            }
            Ok(owner)
        }
        .await;
        self.audited(actor, AuditAction::OwnerRemove, None, detail, done)
            .await
    }

    /// Sets an owner's password (at least [`MIN_OWNER_PASSWORD_LEN`] characters).
    #[tracing::instrument(skip(self, password))]
    pub async fn set_owner_password(
        &self,
        actor: &Actor,
        email: &str,
        password: &SecretString,
    ) -> Result<Owner, PlatformError> {
        let detail = json!({"owner": email, "password": "***"});
        let done = async {
            check_owner_password(password)?;
            let owner = self.owner(email).await?;
            let set = self
                .registry()
                .set_owner_password(owner.id, expose(password));
            set.await?;
            Ok(owner)
        }
        .await;
        self.audited(actor, AuditAction::OwnerSetPassword, None, detail, done)
            .await
    }

    /// Checks an owner's e-mail and password and issues an owner token. An unknown e-mail and a
    /// wrong password answer alike (same error, same time).
    pub async fn login_owner(
        &self,
        email: &str,
        password: &str,
    ) -> Result<OwnerSession, PlatformError> {
        self.login_owner_from(email, password, None).await
    }

    /// [`Platform::login_owner`] from `client`: the attempt first takes one of the account's and
    /// of the address's sign-in allowances, like a tenant user's; the password check runs on the
    /// bounded hashing pool.
    #[tracing::instrument(skip(self, password))]
    pub async fn login_owner_from(
        &self,
        email: &str,
        password: &str,
        client: Option<std::net::IpAddr>,
    ) -> Result<OwnerSession, PlatformError> {
        self.inner.logins.attempt("owner", email, client)?;
        let password = secrecy::SecretString::from(password.to_owned());
        let Some((owner, hash)) = self.registry().owner_for_login(email).await? else {
            self.hashes().burn(&password).await?;
            return Err(PlatformError::WrongCredentials);
        };
        if !self.hashes().verify(&password, hash).await? {
            return Err(PlatformError::WrongCredentials);
        }
        let (token, expires_at) = self.signer().issue(Claims {
            sub: owner.id.to_string(),
            kind: TokenKind::Owner,
            tid: None,
            tenant: None,
            name: owner.email.clone(),
            role: "owner".into(),
            pwv: None,
            iat: 0,
            exp: 0,
        });
        Ok(OwnerSession {
            token,
            expires_at,
            owner,
        })
    }
}
