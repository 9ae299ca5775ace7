//! Tenant users through the platform: list, create, update (name, role), disable / enable, reset
//! password, and signing in. Owners manage the users of any active tenant; a tenant user acting
//! (an admin, checked by the router's `TenantAdmin`) only those of their own tenant. Every
//! statement runs on a connection from the tenant's own pool, so no other tenant's users can be
//! reached. Changes are audited and drop the user's cached status, so a disabled user's tokens
//! (and, after a new password, older tokens) stop working on this process's next request.

use super::{Actor, AuditAction, Platform, PlatformError, TenantRef};
use crate::auth::{Claims, TokenKind};
use crate::db::EngineConnection;
use crate::registry::TenantConfig;
use crate::secrets::expose;
use crate::tenant::{InvalidValue, TenantCode, TenantStatus};
use crate::users::{statements, FullName, Role, User, Username};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{json, Value};
use std::net::IpAddr;
use std::sync::Arc;

/// Shortest tenant-user password accepted.
pub const MIN_USER_PASSWORD_LEN: usize = 10;

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub full_name: FullName,
    pub role: Role,
    pub password: SecretString,
}

/// What an update changes; `None` keeps the field.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub full_name: Option<FullName>,
    pub role: Option<Role>,
}

/// A signed-in tenant user: a bearer token bound to the tenant (and to the user's password).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSession {
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub user: User,
}

/// The tenant-user password policy: [`MIN_USER_PASSWORD_LEN`] to 1,024 characters.
pub fn check_user_password(password: &SecretString) -> Result<(), InvalidValue> {
    let n = expose(password).chars().count();
    if n < MIN_USER_PASSWORD_LEN {
        let why = format!("must be at least {MIN_USER_PASSWORD_LEN} characters");
        return Err(InvalidValue::new("password", why));
    }
    if n > 1024 {
        return Err(InvalidValue::new(
            "password",
            "must be at most 1024 characters",
        ));
    }
    Ok(())
}

fn query_failed(e: sqlx::Error) -> PlatformError {
    PlatformError::TenantQuery(e)
}

fn user_not_found(id: i64) -> PlatformError {
    PlatformError::NotFound {
        kind: "user",
        name: id.to_string(),
    }
}

impl Platform {
    /// One page of the tenant's users (by id) and the total; `limit` 1-100.
    pub async fn list_users(
        &self,
        actor: &Actor,
        r: &TenantRef,
        page: u32,
        limit: u32,
    ) -> Result<(Vec<User>, i64), PlatformError> {
        if page == 0 {
            return Err(InvalidValue::new("page", "must be at least 1").into());
        }
        if !(1..=100).contains(&limit) {
            return Err(InvalidValue::new("limit", "must be from 1 to 100").into());
        }
        let config = self.users_of(actor, r).await?;
        let mut conn = self.pools().acquire(&config).await?;
        let listed = statements::list(&mut conn, page, limit).await;
        listed.map_err(query_failed)
    }

    /// One user of the tenant.
    pub async fn user(&self, actor: &Actor, r: &TenantRef, id: i64) -> Result<User, PlatformError> {
        let config = self.users_of(actor, r).await?;
        let mut conn = self.pools().acquire(&config).await?;
        existing(&mut conn, id).await
    }

    /// Creates a user; a taken username is a `Conflict`.
    #[tracing::instrument(skip(self, new), fields(username = %new.username))]
    pub async fn create_user(
        &self,
        actor: &Actor,
        r: &TenantRef,
        new: NewUser,
    ) -> Result<User, PlatformError> {
        let detail = json!({
            "after": {"username": new.username.as_str(), "fullName": new.full_name.as_str(),
                      "role": new.role.as_str()},
            "password": "***",
        });
        self.user_op(
            actor,
            AuditAction::UserCreate,
            r,
            detail,
            async |_, conn, d| {
                check_user_password(&new.password)?;
                let hash = self.hashes().hash(&new.password).await?;
                let id = statements::insert(conn, &new.username, &new.full_name, new.role, hash)
                    .await
                    .map_err(|e| match &e {
                        sqlx::Error::Database(db) if db.is_unique_violation() => {
                            let what = format!("user {}", new.username);
                            PlatformError::Conflict { what }
                        }
                        _ => query_failed(e),
                    })?;
                d["userId"] = id.into();
                existing(conn, id).await
            },
        )
        .await
    }

    /// Changes a user's full name and/or role. The last enabled admin cannot be demoted.
    #[tracing::instrument(skip(self, change))]
    pub async fn update_user(
        &self,
        actor: &Actor,
        r: &TenantRef,
        id: i64,
        change: UserUpdate,
    ) -> Result<User, PlatformError> {
        let after = json!({"fullName": change.full_name.as_ref().map(FullName::as_str),
                           "role": change.role.map(Role::as_str)});
        let detail = json!({"userId": id, "after": after});
        self.user_op(
            actor,
            AuditAction::UserUpdate,
            r,
            detail,
            async |config, conn, d| {
                let user = existing(conn, id).await?;
                d["username"] = user.username.clone().into();
                if change.full_name.is_none() && change.role.is_none() {
                    let why = "nothing to change: give fullName and/or role";
                    return Err(InvalidValue::new("body", why).into());
                }
                if change.role.is_some_and(|r| r != Role::Admin) {
                    keep_an_admin(config, conn, &user).await?;
                }
                if let Some(name) = &change.full_name {
                    statements::set_full_name(conn, id, name)
                        .await
                        .map_err(query_failed)?;
                }
                if let Some(role) = change.role {
                    statements::set_role(conn, id, role)
                        .await
                        .map_err(query_failed)?;
                }
                self.user_status_changed(config, id).await;
                existing(conn, id).await
            },
        )
        .await
    }

    /// Disables (`true`) or enables a user. A disabled user cannot sign in, and their tokens stop
    /// working on this process's next request (elsewhere within the status cache's TTL). The last
    /// enabled admin cannot be disabled.
    #[tracing::instrument(skip(self))]
    pub async fn set_user_disabled(
        &self,
        actor: &Actor,
        r: &TenantRef,
        id: i64,
        disabled: bool,
    ) -> Result<User, PlatformError> {
        let action = match disabled {
            true => AuditAction::UserDisable,
            false => AuditAction::UserEnable,
        };
        let detail = json!({"userId": id});
        self.user_op(actor, action, r, detail, async |config, conn, d| {
            let user = existing(conn, id).await?;
            d["username"] = user.username.clone().into();
            if disabled {
                keep_an_admin(config, conn, &user).await?;
            }
            let set = statements::set_disabled(conn, id, disabled).await;
            set.map_err(query_failed)?;
            self.user_status_changed(config, id).await;
            existing(conn, id).await
        })
        .await
    }

    /// Gives a user a new password; their older tokens stop working (see [`Platform::user_status`]).
    #[tracing::instrument(skip(self, password))]
    pub async fn reset_user_password(
        &self,
        actor: &Actor,
        r: &TenantRef,
        id: i64,
        password: &SecretString,
    ) -> Result<User, PlatformError> {
        let detail = json!({"userId": id, "password": "***"});
        let action = AuditAction::UserResetPassword;
        self.user_op(actor, action, r, detail, async |config, conn, d| {
            let user = existing(conn, id).await?;
            d["username"] = user.username.clone().into();
            check_user_password(password)?;
            let hash = self.hashes().hash(password).await?;
            let set = statements::set_password_hash(conn, id, hash).await;
            set.map_err(query_failed)?;
            self.user_status_changed(config, id).await;
            existing(conn, id).await
        })
        .await
    }

    /// Checks a tenant user's name and password and issues a token bound to the tenant and to the
    /// user's current password; [`Platform::login_user_from`] without a client address.
    pub async fn login_user(
        &self,
        config: &TenantConfig,
        username: &str,
        password: &str,
    ) -> Result<UserSession, PlatformError> {
        self.login_user_from(config, username, password, None).await
    }

    /// Checks a tenant user's name and password and issues a token bound to the tenant and to the
    /// user's current password. An unknown name, a wrong password and a disabled user answer
    /// alike ([`PlatformError::WrongCredentials`], after the same work: an unknown name verifies
    /// against a dummy hash). Each attempt first takes one of the account's and of `client`'s
    /// sign-in allowances ([`PlatformError::TooManyAttempts`] past them); the password check
    /// runs on the bounded hashing pool ([`PlatformError::Busy`] when it stays full).
    #[tracing::instrument(skip(self, config, password), fields(tenant = %config.tenant.code))]
    pub async fn login_user_from(
        &self,
        config: &TenantConfig,
        username: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<UserSession, PlatformError> {
        let name = username.trim().to_ascii_lowercase();
        if name.is_empty() {
            return Err(InvalidValue::new("username", "must not be empty").into());
        }
        let realm = config.tenant.id.to_string();
        self.inner.logins.attempt(&realm, &name, client)?;
        let password = SecretString::from(password.to_owned());
        let mut conn = self.pools().acquire(config).await?;
        let found = statements::for_login(&mut conn, &name).await;
        // Release the connection before the (slow) password check: it is not needed any more.
        drop(conn);
        let Some((user, hash)) = found.map_err(query_failed)? else {
            self.hashes().burn(&password).await?;
            return Err(PlatformError::WrongCredentials);
        };
        if !self.hashes().verify(&password, hash.clone()).await? || user.disabled {
            return Err(PlatformError::WrongCredentials);
        }
        let (token, expires_at) = self.signer().issue(Claims {
            sub: user.id.to_string(),
            kind: TokenKind::Tenant,
            tid: Some(config.tenant.id),
            tenant: Some(config.tenant.code.to_string()),
            name: user.username.clone(),
            role: user.role.clone(),
            pwv: Some(crate::users::password_version(&hash)),
            iat: 0,
            exp: 0,
        });
        Ok(UserSession {
            token,
            expires_at,
            user,
        })
    }

    /// The tenant whose users `actor` may manage: an active tenant; a tenant user's own only.
    async fn users_of(
        &self,
        actor: &Actor,
        r: &TenantRef,
    ) -> Result<Arc<TenantConfig>, PlatformError> {
        let config = self.tenant_config(r).await?;
        let tenant = &config.tenant;
        if let Actor::TenantUser { tenant: own, .. } = actor {
            if *own != tenant.code {
                let reason =
                    format!("a user of tenant {own} cannot manage users of another tenant");
                return Err(PlatformError::Forbidden { reason });
            }
        }
        if tenant.status != TenantStatus::Active {
            return Err(PlatformError::WrongStatus {
                code: tenant.code.clone(),
                status: tenant.status,
                action: "managing users",
                needs: "active",
            });
        }
        Ok(config)
    }

    /// After a change to user `id`'s status, password or role (committed in the tenant's
    /// database): this process reads the status again at once, and other processes at their next
    /// change-stamp poll ([`Platform::users_changed`]).
    async fn user_status_changed(&self, config: &TenantConfig, id: i64) {
        self.user_status().invalidate(config.tenant.id, id);
        self.users_changed(&config.tenant.code).await;
    }

    /// Moves the tenant's users epoch after its `users` table changed (a user's status, or a
    /// restore), so every process stops trusting the statuses it cached. Should the registry
    /// refuse the move, the change stands (it is committed) and other processes see it within
    /// the status cache's TTL; the failure is logged.
    pub(super) async fn users_changed(&self, code: &TenantCode) {
        if let Err(e) = self.registry().bump_users_epoch(code).await {
            tracing::error!(tenant = %code, error = %e,
                "could not move the tenant's users epoch; other routers see the change within the user status TTL");
        }
    }

    /// Runs one audited user operation on a connection of the tenant's pool. `op` may add to the
    /// audit detail (e.g. the username once it is known).
    async fn user_op<T>(
        &self,
        actor: &Actor,
        action: AuditAction,
        r: &TenantRef,
        mut detail: Value,
        op: impl AsyncFnOnce(
            &TenantConfig,
            &mut EngineConnection,
            &mut Value,
        ) -> Result<T, PlatformError>,
    ) -> Result<T, PlatformError> {
        let config = match self.users_of(actor, r).await {
            Ok(c) => c,
            Err(e) => {
                detail["tenant"] = r.to_string().into();
                return self.audited(actor, action, None, detail, Err(e)).await;
            }
        };
        let done = match self.pools().acquire(&config).await {
            Ok(mut conn) => op(&config, &mut conn, &mut detail).await,
            Err(e) => Err(e.into()),
        };
        self.audited(actor, action, Some(config.tenant.id), detail, done)
            .await
    }
}

async fn existing(conn: &mut EngineConnection, id: i64) -> Result<User, PlatformError> {
    let found = statements::get(conn, id).await.map_err(query_failed)?;
    found.ok_or_else(|| user_not_found(id))
}

/// Refuses to demote or disable `user` when it is the tenant's last enabled admin.
async fn keep_an_admin(
    config: &TenantConfig,
    conn: &mut EngineConnection,
    user: &User,
) -> Result<(), PlatformError> {
    if user.role != Role::Admin.as_str() || user.disabled {
        return Ok(());
    }
    let others = statements::other_enabled_admins(conn, user.id).await;
    if others.map_err(query_failed)? == 0 {
        return Err(PlatformError::LastAdmin {
            tenant: config.tenant.code.clone(),
            username: user.username.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_passwords_need_ten_characters() {
        let pw = |s: &str| SecretString::from(s.to_owned());
        assert!(check_user_password(&pw("123456789")).is_err());
        assert!(check_user_password(&pw("1234567890")).is_ok());
        assert!(check_user_password(&pw(&"x".repeat(1025))).is_err());
    }
}
