//! Master-key rotation, in an order where an interruption at any point leaves every secret
//! readable with the key file on disk:
//!
//! 1. check that the key file's keys open every stored secret (nothing changed yet);
//! 2. write the key file with a new current key, every old key kept;
//! 3. re-encrypt every secret under the new key, in one transaction;
//! 4. verify: decrypt every secret with the new key alone;
//! 5. only then, when asked (`prune`), rewrite the key file with the new key only.
//!
//! A crash after 2 leaves secrets under old keys that the file still holds; a crash after 3 or 4
//! leaves them under the new key, also held. Running servers follow without a restart: the first
//! ciphertext under a key they do not hold makes them re-read the key file.

use super::{Actor, AuditAction, Platform, PlatformError};
use crate::registry::RegistryError;
use crate::secrets::{MasterKey, SecretBox, SecretError};
use serde::Serialize;
use serde_json::json;
use std::path::Path;

/// What a rotation did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rotation {
    pub old_key_id: String,
    pub new_key_id: String,
    /// Secrets re-encrypted under the new key.
    pub secrets: usize,
    /// Old keys removed from the key file (0 unless pruned).
    pub pruned_keys: usize,
    /// Keys the file holds now, current first.
    pub keys_in_file: usize,
}

fn keys_error(stage: &'static str) -> impl Fn(SecretError) -> PlatformError {
    move |source| PlatformError::Keys { stage, source }
}

fn registry_error(stage: &'static str) -> impl Fn(RegistryError) -> PlatformError {
    move |e| match e {
        RegistryError::Secret(source) => PlatformError::Keys { stage, source },
        other => other.into(),
    }
}

impl Platform {
    /// Makes a new master key current in `key_file` and re-encrypts every stored secret under it;
    /// with `prune`, old keys leave the file once every secret is verified under the new one.
    #[tracing::instrument(skip(self))]
    pub async fn rotate_keys(
        &self,
        actor: &Actor,
        key_file: &Path,
        prune: bool,
    ) -> Result<Rotation, PlatformError> {
        let mut detail = json!({"keyFile": key_file.display().to_string(), "prune": prune});
        let done = self.rotation_steps(key_file, prune).await;
        if let Ok(r) = &done {
            detail["before"] = json!({"keyId": r.old_key_id});
            detail["after"] = json!({"keyId": r.new_key_id});
            detail["secrets"] = json!(r.secrets);
            detail["prunedKeys"] = json!(r.pruned_keys);
        }
        self.audited(actor, AuditAction::KeysRotate, None, detail, done)
            .await
    }

    async fn rotation_steps(
        &self,
        key_file: &Path,
        prune: bool,
    ) -> Result<Rotation, PlatformError> {
        let old =
            MasterKey::keyring_from_file(key_file).map_err(keys_error("reading the key file"))?;
        let old_box = SecretBox::from_keyring(old.clone());
        self.registry()
            .verify_secrets(&old_box)
            .await
            .map_err(registry_error(
                "checking that the key file opens every secret",
            ))?;
        let new_key = MasterKey::generate();
        let mut ring = vec![new_key.clone()];
        ring.extend(old.iter().cloned());
        MasterKey::write_keyring(key_file, &ring).map_err(keys_error("writing the key file"))?;
        let secrets = self
            .registry()
            .rotate_secrets(&SecretBox::from_keyring(ring.clone()))
            .await
            .map_err(registry_error("re-encrypting the secrets"))?;
        self.registry()
            .verify_secrets(&SecretBox::new(new_key.clone()))
            .await
            .map_err(registry_error("verifying the secrets under the new key"))?;
        let mut keys_in_file = ring.len();
        if prune {
            MasterKey::write_keyring(key_file, std::slice::from_ref(&new_key))
                .map_err(keys_error("pruning the key file"))?;
            keys_in_file = 1;
        }
        tracing::info!(key_id = %new_key.id(), secrets, "master key rotated");
        Ok(Rotation {
            old_key_id: old_box.key_id().to_owned(),
            new_key_id: new_key.id().to_owned(),
            secrets,
            pruned_keys: ring.len() - keys_in_file,
            keys_in_file,
        })
    }
}
