//! Owner users: operators of the platform, who log in to the admin API.

use super::servers::parse_uuid;
use super::{conflict, Registry, Result};
use crate::{auth, db};
use serde::Serialize;
use sqlx::Row;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    pub id: Uuid,
    pub email: String,
    pub name: String,
}

impl Registry {
    pub async fn create_owner(&self, email: &str, name: &str, password: &str) -> Result<Owner> {
        let email = auth::parse_email(email)?;
        let id = Uuid::new_v4();
        sqlx::query(&self.sql(
            "INSERT INTO owner_users (id, email, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
        ))
        .bind(id.to_string())
        .bind(&email)
        .bind(name)
        .bind(auth::hash_password(password))
        .bind(db::now())
        .execute(self.pool())
        .await
        .map_err(|e| conflict(e, format!("owner {email}")))?;
        Ok(Owner {
            id,
            email,
            name: name.to_owned(),
        })
    }

    /// Checks an owner's credentials; `None` for an unknown email or a wrong password alike.
    pub async fn verify_owner(&self, email: &str, password: &str) -> Result<Option<Owner>> {
        let email = email.trim().to_ascii_lowercase();
        let row = sqlx::query(
            &self.sql("SELECT id, email, name, password_hash FROM owner_users WHERE email = ?"),
        )
        .bind(&email)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            auth::burn_verify_time(password);
            return Ok(None);
        };
        let hash: String = row.try_get("password_hash")?;
        if !auth::verify_password(password, &hash) {
            return Ok(None);
        }
        Ok(Some(Owner {
            id: parse_uuid(row.try_get("id")?)?,
            email: row.try_get("email")?,
            name: row.try_get("name")?,
        }))
    }

    pub async fn owner_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM owner_users")
            .fetch_one(self.pool())
            .await?)
    }
}
