//! Tenant users: the people of one tenant. They live in the tenant's own database (`users`), so
//! every statement here runs on a connection of that tenant and can reach no other tenant's users.
//!
//! - Input types parsed once at the edge: [`Username`], [`FullName`], [`Role`].
//! - [`statements`]: the engine-neutral SQL (list, read, insert, update, disable, password).
//! - [`status`]: the per-(tenant, user) cache of what decides whether a token still counts
//!   (disabled flag, current role, a fingerprint of the password hash).
//!
//! The operations themselves (audited, authorized) are `Platform` methods (`platform/users.rs`).

pub mod statements;
pub mod status;

pub use status::{password_version, UserStatus, UserStatusCache};

use crate::tenant::InvalidValue;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fmt;

/// A tenant user as the API shows it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: i64,
    pub username: String,
    pub full_name: String,
    /// One of [`Role`]'s names (a row written outside tenantry may hold another word).
    pub role: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A login name: 2-64 characters of `a-z 0-9 . _ @ -`, starting with a letter or digit. Input is
/// trimmed and lower-cased first, so `Ann.Smith` and `ann.smith` are the same user on every
/// engine (MariaDB compares case-insensitively, PostgreSQL does not).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let name = raw.trim().to_ascii_lowercase();
        let bad = |why: &str| InvalidValue::new("username", format!("{raw:?} {why}"));
        if !(2..=64).contains(&name.len()) {
            return Err(bad("must be 2-64 characters"));
        }
        if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(bad("must start with a letter or digit"));
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._@-".contains(c);
        if !name.chars().all(allowed) {
            return Err(bad("may only contain a-z, 0-9 and . _ @ -"));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user's full name: 1-200 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullName(String);

impl FullName {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let name = raw.trim();
        let n = name.chars().count();
        if !(1..=200).contains(&n) {
            return Err(InvalidValue::new("fullName", "must be 1-200 characters"));
        }
        if name.chars().any(char::is_control) {
            let why = "must not contain control characters";
            return Err(InvalidValue::new("fullName", why));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a user may do in the sample application. Only `admin` manages users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Dispatcher,
    Technician,
    User,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Dispatcher, Role::Technician, Role::User];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Dispatcher => "dispatcher",
            Role::Technician => "technician",
            Role::User => "user",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = InvalidValue;
    fn from_str(raw: &str) -> Result<Self, InvalidValue> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == raw.trim())
            .ok_or_else(|| {
                let why = format!("{raw:?} is not one of admin, dispatcher, technician, user");
                InvalidValue::new("role", why)
            })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lower_cased_and_checked() {
        assert_eq!(
            Username::parse(" Ann.Smith ").unwrap().as_str(),
            "ann.smith"
        );
        assert_eq!(Username::parse("a@b-c_d").unwrap().as_str(), "a@b-c_d");
        for bad in [
            "",
            "a",
            "-ann",
            "ann smith",
            "ann;drop",
            "änn",
            &"x".repeat(65),
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn full_names_are_trimmed_and_bounded() {
        assert_eq!(
            FullName::parse("  Ann Smith ").unwrap().as_str(),
            "Ann Smith"
        );
        assert!(FullName::parse("   ").is_err());
        assert!(FullName::parse("a\u{0}b").is_err());
        assert!(FullName::parse(&"x".repeat(201)).is_err());
    }

    #[test]
    fn roles_come_from_a_fixed_set() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        let e = "owner".parse::<Role>().unwrap_err();
        assert_eq!(e.field, "role");
    }
}
