//! Who performs an operation. Every platform operation takes one, and its audit row names it.

use crate::tenant::TenantCode;
use std::fmt;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Actor {
    /// An owner signed in to the admin API (or the dashboard).
    Owner { id: Uuid, email: String },
    /// An operator at the `tenantry` command line; `user` is the OS user name.
    Cli { user: String },
    /// tenantry itself (the demo, start-up jobs).
    System,
    /// A user of one tenant (tenant self-service).
    TenantUser {
        tenant: TenantCode,
        username: String,
    },
}

impl Actor {
    /// The CLI actor of this process: `$USER`, else `$LOGNAME`, else `unknown`.
    pub fn cli_from_env() -> Self {
        let user = ["USER", "LOGNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
            .unwrap_or_else(|| "unknown".to_owned());
        Self::Cli { user }
    }
}

/// How the audit log writes the actor: `owner:{email}`, `cli:{user}`, `system`,
/// `user:{tenant}/{username}`.
impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Owner { email, .. } => write!(f, "owner:{email}"),
            Self::Cli { user } => write!(f, "cli:{user}"),
            Self::System => f.write_str("system"),
            Self::TenantUser { tenant, username } => write!(f, "user:{tenant}/{username}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_are_written_with_their_kind() {
        let owner = Actor::Owner {
            id: Uuid::nil(),
            email: "o@x.test".into(),
        };
        assert_eq!(owner.to_string(), "owner:o@x.test");
        assert_eq!(Actor::Cli { user: "ann".into() }.to_string(), "cli:ann");
        assert_eq!(Actor::System.to_string(), "system");
    }
}
