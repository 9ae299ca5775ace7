//! `tenantry keys rotate`: a new master key, every stored secret re-encrypted under it.
//!
//! Order matters for safety: the key file is rewritten first (new key current, old keys kept), then
//! the registry is re-encrypted in one transaction. A crash in between leaves a registry that every
//! key in the file still opens. Running servers keep serving: the first ciphertext they meet under
//! the new key makes them re-read the key file (`Registry::set_key_source`), so no restart is needed.
//! Tokens are signed with a key derived from the current master key: users log in again.

use crate::config::Config;
use crate::startup::{self, App};
use anyhow::Context;
use clap::Subcommand;
use tenantry::secrets::{MasterKey, SecretBox};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make a new master key current and re-encrypt every stored secret under it.
    Rotate {
        /// Keep only the new key and the one it replaces in the key file (default: keep all).
        #[arg(long)]
        prune: bool,
    },
}

pub async fn run(config: &Config, cmd: KeysCommand) -> anyhow::Result<()> {
    let KeysCommand::Rotate { prune } = cmd;
    if std::env::var("TENANTRY_MASTER_KEY").is_ok() {
        anyhow::bail!(
            "keys rotate rewrites the key file; unset TENANTRY_MASTER_KEY and use TENANTRY_MASTER_KEY_FILE"
        );
    }
    let old = startup::load_master_key(config)?;
    // Open with the old keyring first: proves it matches the registry before anything changes.
    let app = App::open(config, old.clone()).await?;
    let mut keys = old.keys();
    if prune {
        keys.truncate(1);
    }
    let new_key = MasterKey::generate();
    keys.insert(0, new_key.clone());
    let path = config.master_key_file();
    MasterKey::write_keyring(&path, &keys)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let new = SecretBox::from_keyring(keys);
    let count = app
        .registry()
        .rotate_secrets(&new)
        .await
        .context("re-encrypting the registry")?;
    app.registry()
        .audit(
            "cli",
            "keys.rotate",
            None,
            serde_json::json!({"before": {"keyId": old.key_id()}, "after": {"keyId": new_key.id()}, "secrets": count}),
            "ok",
        )
        .await?;
    println!(
        "master key rotated: {} -> {} ({count} secret(s) re-encrypted; key file {} keeps the old key too)",
        old.key_id(),
        new_key.id(),
        path.display()
    );
    Ok(())
}
