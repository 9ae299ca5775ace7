//! `tenantry init`: the first start of a production install. Creates the registry (SQLite in the
//! data directory, or `TENANTRY_REGISTRY_URL`), the master key file when no key is configured
//! (mode 0600), and the first owner. Everything typed is checked before anything is created; on
//! an initialised registry it says so and exits 1 without changing anything.

use super::secret;
use crate::app::App;
use crate::config::Config;
use crate::startup;
use anyhow::Context;
use tenantry::platform::{check_owner_password, Actor};
use tenantry::secrets::MasterKey;

#[derive(clap::Args)]
pub struct InitArgs {
    /// E-mail address of the first owner (their sign-in name).
    #[arg(long)]
    owner_email: String,
    /// The first owner's display name.
    #[arg(long)]
    owner_name: String,
    /// Name of an environment variable holding the owner's password (default: asked at the
    /// terminal, not echoed). At least 12 characters.
    #[arg(long)]
    password_env: Option<String>,
}

pub async fn run(config: &Config, args: InitArgs) -> anyhow::Result<()> {
    tenantry::auth::parse_email(&args.owner_email)?;
    anyhow::ensure!(
        !args.owner_name.trim().is_empty(),
        "--owner-name must not be empty"
    );
    let password = secret::new_password(args.password_env.as_deref(), "owner password")?;
    check_owner_password(&password)?;
    if config.registry_url.is_none() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    }
    let created_key = create_key_file_if_needed(config)?;
    let app = match App::open(config, startup::load_master_key(config)?).await {
        Ok(app) => app,
        Err(e) => {
            // A key we just made cannot belong to a registry that already existed: take it back.
            if let Some(path) = &created_key {
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
    };
    let actor = Actor::cli_from_env();
    let owner = app
        .platform()
        .init_owner(&actor, &args.owner_email, &args.owner_name, &password)
        .await?;
    if let Some(path) = created_key {
        println!(
            "master key created: {} (mode 0600). Back it up: without it the registry's secrets cannot be read.",
            path.display()
        );
    }
    match &config.registry_url {
        None => println!("registry created: {}", config.registry_url()),
        Some(_) => println!("registry ready (TENANTRY_REGISTRY_URL)"),
    }
    println!("owner {} ({}) created", owner.email, owner.name);
    println!("next: tenantry server add …, tenantry tenant add …, tenantry serve");
    Ok(())
}

/// Creates the key file unless a key is configured (`TENANTRY_MASTER_KEY`, or the file exists).
/// Returns its path when it was created.
fn create_key_file_if_needed(config: &Config) -> anyhow::Result<Option<std::path::PathBuf>> {
    let path = config.master_key_file();
    if std::env::var("TENANTRY_MASTER_KEY").is_ok() || path.exists() {
        return Ok(None);
    }
    MasterKey::create_file(&path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(Some(path))
}
