//! Owner users: operators of the platform, who log in to the admin API. Passwords are kept only as
//! argon2 hashes; policy (length, who may change what) lives in the platform, not here.

use super::servers::parse_uuid;
use super::{conflict, Registry, RegistryError, Result};
use crate::auth;
use crate::db;
use crate::hashing::HashPool;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    pub id: Uuid,
    pub email: String,
    pub name: String,
}

fn owner_from_row(row: &AnyRow) -> Result<Owner> {
    Ok(Owner {
        id: parse_uuid(row.try_get("id")?)?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
    })
}

impl Registry {
    pub async fn create_owner(&self, email: &str, name: &str, password: &str) -> Result<Owner> {
        self.insert_owner(email, name, password, false).await
    }

    /// Creates the first owner; `Conflict` when the registry has an owner already. One statement, so
    /// two concurrent `init`s cannot both succeed.
    pub async fn create_first_owner(
        &self,
        email: &str,
        name: &str,
        password: &str,
    ) -> Result<Owner> {
        self.insert_owner(email, name, password, true).await
    }

    async fn insert_owner(
        &self,
        email: &str,
        name: &str,
        password: &str,
        only_if_none: bool,
    ) -> Result<Owner> {
        let email = auth::parse_email(email)?;
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(
                crate::tenant::InvalidValue::new("name", "must be 1-200 characters").into(),
            );
        }
        let id = Uuid::new_v4();
        let guard = if only_if_none {
            " WHERE NOT EXISTS (SELECT 1 FROM owner_users)"
        } else {
            ""
        };
        let q = format!(
            "INSERT INTO owner_users (id, email, name, password_hash, created_at) \
             SELECT ?, ?, ?, ?, ?{guard}"
        );
        let done = sqlx::query(&self.sql(&q))
            .bind(id.to_string())
            .bind(&email)
            .bind(name)
            .bind(HashPool::shared().hash_waiting(password).await)
            .bind(db::now())
            .execute(self.pool())
            .await
            .map_err(|e| conflict(e, format!("owner {email}")))?;
        if done.rows_affected() == 0 {
            return Err(RegistryError::Conflict("an owner".into()));
        }
        Ok(Owner {
            id,
            email,
            name: name.to_owned(),
        })
    }

    /// Checks an owner's credentials; `None` for an unknown email or a wrong password alike.
    /// Hashing runs on the process's shared [`HashPool`], waiting for a slot as long as it takes;
    /// the platform's sign-in uses [`Registry::owner_for_login`] and its own bounded pool instead.
    pub async fn verify_owner(&self, email: &str, password: &str) -> Result<Option<Owner>> {
        let pw = secrecy::SecretString::from(password.to_owned());
        let pool = HashPool::shared();
        let Some((owner, hash)) = self.owner_for_login(email).await? else {
            let _ = pool.burn(&pw).await;
            return Ok(None);
        };
        Ok(pool
            .verify(&pw, hash)
            .await
            .unwrap_or(false)
            .then_some(owner))
    }

    /// The owner of `email` and their password hash, for a sign-in to check.
    pub async fn owner_for_login(&self, email: &str) -> Result<Option<(Owner, String)>> {
        let email = email.trim().to_ascii_lowercase();
        let row = sqlx::query(
            &self.sql("SELECT id, email, name, password_hash FROM owner_users WHERE email = ?"),
        )
        .bind(&email)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let hash: String = row.try_get("password_hash")?;
        Ok(Some((owner_from_row(&row)?, hash)))
    }

    pub async fn owner_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM owner_users")
            .fetch_one(self.pool())
            .await?)
    }

    /// Every owner, by email.
    pub async fn list_owners(&self) -> Result<Vec<Owner>> {
        let rows = sqlx::query("SELECT id, email, name FROM owner_users ORDER BY email")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(owner_from_row).collect()
    }

    pub async fn owner_by_email(&self, email: &str) -> Result<Owner> {
        let email = email.trim().to_ascii_lowercase();
        let row = sqlx::query(&self.sql("SELECT id, email, name FROM owner_users WHERE email = ?"))
            .bind(&email)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("owner {email}")))?;
        owner_from_row(&row)
    }

    /// Removes an owner unless it is the last one (checked in the same statement, so two
    /// concurrent removals cannot leave the registry without an owner). `Ok(false)`: it was the
    /// last owner and is still there.
    pub async fn remove_owner(&self, id: Uuid) -> Result<bool> {
        let q = "DELETE FROM owner_users WHERE id = ? AND (SELECT COUNT(*) FROM owner_users) > 1";
        let done = sqlx::query(&self.sql(q))
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn set_owner_password(&self, id: Uuid, password: &str) -> Result<()> {
        let done = sqlx::query(&self.sql("UPDATE owner_users SET password_hash = ? WHERE id = ?"))
            .bind(HashPool::shared().hash_waiting(password).await)
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(RegistryError::NotFound(format!("owner {id}")));
        }
        Ok(())
    }
}
