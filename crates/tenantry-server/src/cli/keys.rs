//! `tenantry keys rotate`: a new master key, every stored secret re-encrypted under it, verified,
//! and only then (with `--prune`) the old keys dropped from the key file. The order and why it is
//! safe are in `tenantry::platform` (`keys.rs`). Tokens are signed with a key derived from the
//! current master key: users log in again.

use crate::config::Config;
use crate::startup::{self, App};
use clap::Subcommand;
use tenantry::platform::Actor;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make a new master key current and re-encrypt every stored secret under it.
    Rotate {
        /// Once every secret is verified under the new key, keep only that key in the key file
        /// (default: keep the old keys too, for servers not yet restarted).
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
    // Opening with the current keyring proves it matches the registry before anything changes.
    let app = App::open(config, startup::load_master_key(config)?).await?;
    let path = config.master_key_file();
    let r = app
        .platform()
        .rotate_keys(&Actor::cli_from_env(), &path, prune)
        .await?;
    let kept = if prune {
        "old keys pruned".to_owned()
    } else {
        format!("{} key(s) kept, old ones too", r.keys_in_file)
    };
    println!(
        "master key rotated: {} -> {} ({} secret(s) re-encrypted; key file {}: {kept})",
        r.old_key_id,
        r.new_key_id,
        r.secrets,
        path.display()
    );
    Ok(())
}
