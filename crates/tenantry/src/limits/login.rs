//! Login throttling: every sign-in attempt (tenant users and owners, known names or not, right
//! password or not) takes one cell from the allowance of its account key (tenant + username, or
//! the owner e-mail) and one from its client address's (IPv6 addresses by /64, the block one
//! client usually holds). Past either allowance the attempt is refused before any password work:
//! [`Throttled`] (HTTP 429 `too_many_attempts` with `Retry-After`).

use super::KeyedLimiter;
use governor::Quota;
use serde::Deserialize;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// `[login]` in the server config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct LoginThrottleSettings {
    /// Attempts one account may make in a burst (at most 1,000,000). Default: 10.
    pub per_account_burst: u32,
    /// One more attempt per account is allowed every this long (at most 1 h). Default: 6 s.
    #[serde(with = "humantime_serde")]
    pub per_account_every: Duration,
    /// Attempts one client address may make in a burst. Default: 50.
    pub per_address_burst: u32,
    /// One more attempt per address is allowed every this long. Default: 500 ms.
    #[serde(with = "humantime_serde")]
    pub per_address_every: Duration,
    /// Accounts and addresses remembered (each); the least used are forgotten first. Default:
    /// 100,000 (a few MiB at most).
    pub max_keys: u64,
}

impl Default for LoginThrottleSettings {
    fn default() -> Self {
        Self {
            per_account_burst: 10,
            per_account_every: Duration::from_secs(6),
            per_address_burst: 50,
            per_address_every: Duration::from_millis(500),
            max_keys: 100_000,
        }
    }
}

/// An attempt refused by the throttle; `retry_after` is when the next one would be allowed.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("too many sign-in attempts; try again in {}s", super::retry_after_secs(*retry_after))]
pub struct Throttled {
    pub retry_after: Duration,
}

/// The key of an account: whose users it names (a tenant id, or `owner`) and the name.
type AccountKey = (String, String);

/// A cheap `Clone` handle on the login allowances of this process.
#[derive(Clone)]
pub struct LoginThrottle {
    accounts: KeyedLimiter<AccountKey>,
    addresses: KeyedLimiter<IpAddr>,
    account_quota: Quota,
    address_quota: Quota,
}

/// Largest burst and period honoured (their product must fit the limiter's nanosecond clock).
const MAX_BURST: u32 = 1_000_000;
const MAX_EVERY: Duration = Duration::from_secs(3_600);

fn quota(burst: u32, every: Duration) -> Quota {
    let every = every.clamp(Duration::from_nanos(1), MAX_EVERY);
    Quota::with_period(every)
        .expect("the period is positive")
        .allow_burst(NonZeroU32::new(burst.clamp(1, MAX_BURST)).expect("at least 1"))
}

/// The part of an address that names one client: all of IPv4, the /64 network of IPv6.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

impl LoginThrottle {
    pub fn new(s: &LoginThrottleSettings) -> Self {
        // A key is forgotten once its allowance would be full again (at least after a minute).
        let idle = |burst: u32, every: Duration| {
            let full = every.clamp(Duration::from_nanos(1), MAX_EVERY) * burst.clamp(1, MAX_BURST);
            full.clamp(Duration::from_secs(60), Duration::from_secs(24 * 3_600))
        };
        Self {
            accounts: KeyedLimiter::new(s.max_keys, idle(s.per_account_burst, s.per_account_every)),
            addresses: KeyedLimiter::new(
                s.max_keys,
                idle(s.per_address_burst, s.per_address_every),
            ),
            account_quota: quota(s.per_account_burst, s.per_account_every),
            address_quota: quota(s.per_address_burst, s.per_address_every),
        }
    }

    /// Takes one attempt of `realm` (a tenant id, or `owner`) + `name` and of `client`.
    pub fn attempt(
        &self,
        realm: &str,
        name: &str,
        client: Option<IpAddr>,
    ) -> Result<(), Throttled> {
        let refused = |retry_after| Throttled { retry_after };
        if let Some(ip) = client {
            self.addresses
                .check(&client_key(ip), self.address_quota)
                .map_err(refused)?;
        }
        let key = (realm.to_owned(), name.trim().to_lowercase());
        self.accounts
            .check(&key, self.account_quota)
            .map_err(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(account: u32, address: u32) -> LoginThrottle {
        LoginThrottle::new(&LoginThrottleSettings {
            per_account_burst: account,
            per_account_every: Duration::from_secs(60),
            per_address_burst: address,
            per_address_every: Duration::from_secs(60),
            max_keys: 1_000,
        })
    }

    #[test]
    fn an_account_is_throttled_after_its_burst_and_others_are_not() {
        let t = throttle(2, 100);
        assert!(t.attempt("T1", "alice", None).is_ok());
        assert!(t.attempt("T1", "Alice ", None).is_ok());
        let r = t.attempt("T1", "alice", None).unwrap_err();
        assert!(r.retry_after > Duration::from_secs(30));
        assert!(
            t.attempt("T2", "alice", None).is_ok(),
            "same name, other tenant"
        );
        assert!(t.attempt("T1", "bob", None).is_ok());
    }

    #[test]
    fn an_address_is_throttled_across_names() {
        let t = throttle(100, 3);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for name in ["a", "b", "c"] {
            assert!(t.attempt("T1", name, Some(ip)).is_ok());
        }
        assert!(t.attempt("T1", "d", Some(ip)).is_err());
        assert!(t
            .attempt("T1", "d", Some("10.0.0.2".parse().unwrap()))
            .is_ok());
    }

    #[test]
    fn huge_settings_are_clamped_instead_of_overflowing() {
        let t = LoginThrottle::new(&LoginThrottleSettings {
            per_account_burst: u32::MAX,
            per_account_every: Duration::from_secs(u64::MAX / 4),
            per_address_burst: u32::MAX,
            ..LoginThrottleSettings::default()
        });
        assert!(t
            .attempt("T", "a", Some("10.0.0.1".parse().unwrap()))
            .is_ok());
    }

    #[test]
    fn ipv6_addresses_of_one_network_share_an_allowance() {
        let t = throttle(100, 1);
        assert!(t
            .attempt("T", "a", Some("2001:db8::1".parse().unwrap()))
            .is_ok());
        assert!(t
            .attempt("T", "b", Some("2001:db8::2".parse().unwrap()))
            .is_err());
        assert!(t
            .attempt("T", "c", Some("2001:db9::1".parse().unwrap()))
            .is_ok());
    }
}
