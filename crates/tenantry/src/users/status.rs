//! Whether a tenant user's token still counts, without a query on most requests.
//!
//! A token names its user and carries a fingerprint of the user's password hash (`pwv`). A token
//! counts while the user exists, is not disabled, and still has the password the token was issued
//! under. The router checks that against a small per-(tenant, user) cache:
//!
//! - in this process, disabling, enabling or re-keying a user invalidates its entry, so the next
//!   request reads the row again and a disabled user's token fails **at once**;
//! - each entry is kept under the tenant's *users epoch* (a registry column that the same changes
//!   move, see [`Registry::bump_users_epoch`](crate::registry::Registry::bump_users_epoch)). The
//!   move bumps the registry's change stamp, so other processes (several router instances on one
//!   registry) drop the tenant's config at their next poll (`[cache] poll`, default 1 s), read the
//!   new epoch with it, and no longer trust any status cached under the old one. That poll is the
//!   bound on how long a disabled user's token may still be accepted there;
//! - the TTL (default 5 min) only bounds changes made to a tenant's `users` table behind
//!   tenantry's back (by hand, or by an embedding application's own SQL). Without the epoch it
//!   had to be short, and then nearly every first request of a tenant seldom visited paid for a
//!   status query in its database (on PostgreSQL, the catalog lookups of a table and two indexes
//!   a backend had not seen).

use moka::sync::Cache;
use sha2::{Digest, Sha256};
use std::time::Duration;
use uuid::Uuid;

/// What the router needs to know about a user to accept a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserStatus {
    pub disabled: bool,
    /// The user's role now (a token's `role` claim may be older).
    pub role: String,
    /// [`password_version`] of the user's password hash now.
    pub password_version: String,
}

/// A fingerprint of a password hash (16 hex digits of its SHA-256). A token carries it, so a new
/// password (a new hash, with a new salt) makes every older token invalid. It reveals nothing
/// about the password: the hash is salted and this is a truncated digest of it.
pub fn password_version(hash: &str) -> String {
    let digest = Sha256::digest(hash.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Most entries kept: one per recently active user, across every tenant.
const MAX_ENTRIES: u64 = 100_000;

/// The per-(tenant id, user id) status cache; a cheap `Clone` (shared by the router and the
/// platform, which invalidates entries when it changes a user).
#[derive(Clone)]
pub struct UserStatusCache {
    /// (tenant id, user id) -> (the tenant's users epoch when read, status).
    entries: Cache<(Uuid, i64), (i64, UserStatus)>,
    ttl: Duration,
}

impl UserStatusCache {
    /// `ttl`: how long a status is trusted before it is read again (the staleness bound for other
    /// processes). `Duration::ZERO` reads it on every request.
    pub fn new(ttl: Duration) -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .time_to_live(ttl.max(Duration::from_nanos(1)))
                .build(),
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The user's status, if cached under the tenant's current users `epoch`.
    pub fn get(&self, tenant: Uuid, user: i64, epoch: i64) -> Option<UserStatus> {
        if self.ttl.is_zero() {
            return None;
        }
        let (seen, status) = self.entries.get(&(tenant, user))?;
        (seen == epoch).then_some(status)
    }

    /// Caches a status read from the tenant's database while its users epoch was `epoch` (the
    /// epoch of the config read *before* the status, so a change racing the read leaves an entry
    /// under the old epoch, which the next config no longer trusts).
    pub fn put(&self, tenant: Uuid, user: i64, epoch: i64, status: UserStatus) {
        if !self.ttl.is_zero() {
            self.entries.insert((tenant, user), (epoch, status));
        }
    }

    /// Forgets one user's status: the next request of that user reads it again.
    pub fn invalidate(&self, tenant: Uuid, user: i64) {
        self.entries.invalidate(&(tenant, user));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> UserStatus {
        UserStatus {
            disabled: false,
            role: "admin".into(),
            password_version: password_version("h"),
        }
    }

    #[test]
    fn password_version_changes_with_the_hash_and_is_short() {
        let a = password_version("$argon2id$v=19$...$salt-a");
        let b = password_version("$argon2id$v=19$...$salt-b");
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        assert_eq!(a, password_version("$argon2id$v=19$...$salt-a"));
    }

    #[test]
    fn invalidated_status_is_read_again() {
        let c = UserStatusCache::new(Duration::from_secs(60));
        let t = Uuid::new_v4();
        c.put(t, 1, 0, status());
        assert_eq!(c.get(t, 1, 0), Some(status()));
        assert_eq!(c.get(Uuid::new_v4(), 1, 0), None, "keyed by tenant too");
        c.invalidate(t, 1);
        assert_eq!(c.get(t, 1, 0), None);
    }

    #[test]
    fn a_status_cached_under_another_users_epoch_is_read_again() {
        let c = UserStatusCache::new(Duration::from_secs(60));
        let t = Uuid::new_v4();
        c.put(t, 1, 7, status());
        assert_eq!(c.get(t, 1, 8), None, "the epoch moved: read it again");
        assert_eq!(c.get(t, 1, 7), Some(status()));
        c.put(t, 1, 8, status());
        assert_eq!(
            c.get(t, 1, 7),
            None,
            "an entry is trusted under its own epoch only"
        );
    }

    #[test]
    fn zero_ttl_caches_nothing() {
        let c = UserStatusCache::new(Duration::ZERO);
        let t = Uuid::new_v4();
        c.put(t, 1, 0, status());
        assert_eq!(c.get(t, 1, 0), None);
    }
}
