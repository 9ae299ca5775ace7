//! `tenantry owner …`: the operators who sign in to the admin API.

use super::{secret, table};
use crate::app::App;
use clap::Subcommand;
use tenantry::platform::Actor;

#[derive(Subcommand)]
pub enum OwnerCommand {
    /// Add an owner.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Name of an environment variable holding the password (default: asked, not echoed).
        #[arg(long)]
        password_env: Option<String>,
    },
    /// List owners.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove an owner (never the last one).
    Remove { email: String },
    /// Set an owner's password.
    SetPassword {
        email: String,
        /// Name of an environment variable holding the password (default: asked, not echoed).
        #[arg(long)]
        password_env: Option<String>,
    },
}

pub async fn run(app: &App, cmd: OwnerCommand) -> anyhow::Result<()> {
    let platform = app.platform();
    let actor = Actor::cli_from_env();
    match cmd {
        OwnerCommand::Add {
            email,
            name,
            password_env,
        } => {
            let password = secret::new_password(password_env.as_deref(), "owner password")?;
            let o = platform.add_owner(&actor, &email, &name, &password).await?;
            println!("owner {} ({}) added", o.email, o.name);
        }
        OwnerCommand::List { json } => {
            let owners = platform.list_owners().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&owners)?);
            } else {
                let rows: Vec<Vec<String>> = owners
                    .iter()
                    .map(|o| vec![o.email.clone(), o.name.clone(), o.id.to_string()])
                    .collect();
                print!("{}", table::render(&["EMAIL", "NAME", "ID"], &rows));
            }
        }
        OwnerCommand::Remove { email } => {
            let o = platform.remove_owner(&actor, &email).await?;
            println!("owner {} removed", o.email);
        }
        OwnerCommand::SetPassword {
            email,
            password_env,
        } => {
            let password = secret::new_password(password_env.as_deref(), "new password")?;
            let o = platform
                .set_owner_password(&actor, &email, &password)
                .await?;
            println!("password of owner {} changed", o.email);
        }
    }
    Ok(())
}
