//! Limits against hostile load: login throttling ([`LoginThrottle`]: per tenant + username and per
//! client address) and per-tenant request rates ([`TenantLimiter`], from the tenant's plan or its
//! own override).
//!
//! Both are GCRA limiters (`governor`), one per key, held in a bounded `moka` cache: random user
//! names or addresses cannot grow memory past `max_keys` entries, and the cache's frequency-based
//! admission keeps the keys that are actually hammered when a flood of one-off keys passes by.

mod login;
mod tenant;

pub use login::{LoginThrottle, LoginThrottleSettings, Throttled};
pub use tenant::{RateLimit, TenantLimiter};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

/// One GCRA limiter per key, at most `max_keys` keys; a key unused for `idle` is forgotten (its
/// limiter was full again long before).
#[derive(Clone)]
pub(crate) struct KeyedLimiter<K> {
    limiters: moka::sync::Cache<K, Arc<(Quota, DefaultDirectRateLimiter)>>,
    /// One clock for every limiter: building a clock probes the CPU (`cpuid`, a VM exit under a
    /// hypervisor), which a new key or a refused request would otherwise pay each time.
    clock: DefaultClock,
}

impl<K: Hash + Eq + Send + Sync + Clone + 'static> KeyedLimiter<K> {
    pub fn new(max_keys: u64, idle: Duration) -> Self {
        Self {
            limiters: moka::sync::Cache::builder()
                .max_capacity(max_keys)
                .time_to_idle(idle)
                .build(),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one cell of `key`'s allowance under `quota`; `Err(wait)` when there is none left.
    /// A new quota for a key (a changed plan) starts a new limiter at once.
    pub fn check(&self, key: &K, quota: Quota) -> Result<(), Duration> {
        let limiter = match self.limiters.get(key) {
            Some(l) if l.0 == quota => l,
            _ => {
                let fresh = Arc::new((
                    quota,
                    DefaultDirectRateLimiter::direct_with_clock(quota, self.clock.clone()),
                ));
                let entry = self.limiters.entry(key.clone()).or_insert(fresh.clone());
                if entry.value().0 == quota {
                    entry.into_value()
                } else {
                    self.limiters.insert(key.clone(), fresh.clone());
                    fresh
                }
            }
        };
        limiter.1.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.max(Duration::from_millis(1))
        })
    }

    /// Keys held now (after pending evictions ran).
    #[cfg(test)]
    pub fn len(&self) -> u64 {
        self.limiters.run_pending_tasks();
        self.limiters.entry_count()
    }
}

/// `Retry-After` seconds for a wait: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    #[test]
    fn a_key_gets_its_burst_then_waits() {
        let l = KeyedLimiter::new(10, Duration::from_secs(60));
        let q =
            Quota::per_minute(NonZeroU32::new(1).unwrap()).allow_burst(NonZeroU32::new(3).unwrap());
        for _ in 0..3 {
            assert!(l.check(&"a", q).is_ok());
        }
        let wait = l.check(&"a", q).unwrap_err();
        assert!(wait > Duration::from_secs(50), "{wait:?}");
        assert!(l.check(&"b", q).is_ok(), "other keys are not affected");
    }

    #[test]
    fn a_changed_quota_applies_at_once() {
        let l = KeyedLimiter::new(10, Duration::from_secs(60));
        let one = Quota::per_hour(NonZeroU32::new(1).unwrap());
        assert!(l.check(&1, one).is_ok());
        assert!(l.check(&1, one).is_err());
        let more = Quota::per_second(NonZeroU32::new(100).unwrap());
        assert!(l.check(&1, more).is_ok());
    }

    #[test]
    fn random_keys_stay_within_the_bound() {
        let l = KeyedLimiter::new(1_000, Duration::from_secs(60));
        let q = Quota::per_minute(NonZeroU32::new(5).unwrap());
        for i in 0..20_000u32 {
            let _ = l.check(&i, q);
        }
        assert!(l.len() <= 1_000, "{} keys", l.len());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2_001)), 3);
    }
}
