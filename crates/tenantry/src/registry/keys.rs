//! Key rotation inside the registry: re-encrypting every stored secret under a new key in one
//! transaction, and proving afterwards that a key alone opens every one of them.

use super::{servers, tenants, Registry, Result, KEY_CHECK_CONTEXT};
use crate::secrets::SecretBox;
use uuid::Uuid;

/// The context (associated data) of a row's ciphertext, from the row's id.
type ContextOf = fn(Uuid) -> String;

/// Every encrypted column: (table, column, context of a row's ciphertext).
const SECRET_COLUMNS: [(&str, &str, ContextOf); 2] = [
    ("tenants", "password_enc", tenants::password_context),
    (
        "data_servers",
        "admin_password_enc",
        servers::server_context,
    ),
];

impl Registry {
    /// Re-encrypts every stored secret under `new`'s current key, in one transaction, and moves the
    /// key check to it. `new` must also hold the keys the secrets are under now. Returns how many
    /// secrets were re-encrypted.
    pub async fn rotate_secrets(&self, new: &SecretBox) -> Result<usize> {
        let mut tx = self.pool().begin().await?;
        let mut count = 0;
        for (table, column, context_of) in SECRET_COLUMNS {
            let q = format!("SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL");
            let rows: Vec<(String, String)> = sqlx::query_as(&q).fetch_all(&mut *tx).await?;
            for (id, ct) in rows {
                let context = context_of(servers::parse_uuid(id.clone())?);
                let plain = new.decrypt(&ct, &context)?;
                let fresh = new.encrypt(crate::secrets::expose(&plain), &context);
                let q = format!("UPDATE {table} SET {column} = ? WHERE id = ?");
                sqlx::query(&self.sql(&q))
                    .bind(fresh)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                count += 1;
            }
        }
        sqlx::query(&self.sql("UPDATE registry_meta SET value = ? WHERE key = ?"))
            .bind(new.encrypt("tenantry", KEY_CHECK_CONTEXT))
            .bind("key_check")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        *self.inner.secrets.write().expect("secrets lock poisoned") = new.clone();
        self.invalidate_all();
        Ok(count)
    }

    /// Decrypts every stored secret (and the key check) with `secrets` alone, without the reload
    /// fallback: proves that a keyring of only these keys opens the whole registry. Returns how
    /// many secrets were checked; the first one that does not open is an error.
    pub async fn verify_secrets(&self, secrets: &SecretBox) -> Result<usize> {
        let mut count = 0;
        for (table, column, context_of) in SECRET_COLUMNS {
            let q = format!("SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL");
            let rows: Vec<(String, String)> = sqlx::query_as(&q).fetch_all(self.pool()).await?;
            for (id, ct) in rows {
                secrets.decrypt(&ct, &context_of(servers::parse_uuid(id)?))?;
                count += 1;
            }
        }
        let check: String =
            sqlx::query_scalar(&self.sql("SELECT value FROM registry_meta WHERE key = ?"))
                .bind("key_check")
                .fetch_one(self.pool())
                .await?;
        secrets.decrypt(&check, KEY_CHECK_CONTEXT)?;
        Ok(count)
    }
}
