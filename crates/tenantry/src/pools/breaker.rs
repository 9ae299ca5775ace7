//! A circuit breaker per data server: after `threshold` consecutive connection failures the server is
//! "open" for `cooldown`, and requests for its tenants fail fast instead of queueing. After the
//! cooldown one request is let through as a probe; its success closes the circuit.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

#[derive(Debug)]
struct State {
    /// `host:port` (or the SQLite directory), for operators.
    label: String,
    failures: u32,
    open_until: Option<Instant>,
}

#[derive(Debug)]
pub struct Breakers {
    threshold: u32,
    cooldown: Duration,
    /// A std mutex: held only for a map lookup, never across an `.await`.
    servers: Mutex<HashMap<Uuid, State>>,
    /// Entries in `servers`: the hot path (no failures anywhere) skips the lock entirely.
    tracked: AtomicUsize,
    /// Servers with a background probe in flight (at most one each). Only touched after an
    /// acquire timeout, never on the hot path.
    probing: Mutex<HashSet<Uuid>>,
}

impl Breakers {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            servers: Mutex::new(HashMap::new()),
            tracked: AtomicUsize::new(0),
            probing: Mutex::new(HashSet::new()),
        }
    }

    /// Claims the server's probe slot; false when a probe is already in flight.
    pub(crate) fn start_probe(&self, server: Uuid) -> bool {
        self.probing
            .lock()
            .expect("breaker mutex poisoned")
            .insert(server)
    }

    pub(crate) fn end_probe(&self, server: Uuid) {
        self.probing
            .lock()
            .expect("breaker mutex poisoned")
            .remove(&server);
    }

    /// `Err(remaining)` while the server's circuit is open. Once the cooldown has passed, lets one
    /// caller through and re-arms the cooldown for the others, so only one probe is in flight.
    pub fn check(&self, server: Uuid) -> Result<(), Duration> {
        if self.tracked.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        let mut map = self.servers.lock().expect("breaker mutex poisoned");
        let Some(state) = map.get_mut(&server) else {
            return Ok(());
        };
        match state.open_until {
            Some(until) => {
                let now = Instant::now();
                if now < until {
                    Err(until - now)
                } else {
                    state.open_until = Some(now + self.cooldown);
                    Ok(())
                }
            }
            None => Ok(()),
        }
    }

    pub fn success(&self, server: Uuid) {
        if self.tracked.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut map = self.servers.lock().expect("breaker mutex poisoned");
        if map.remove(&server).is_some() {
            self.tracked.store(map.len(), Ordering::Release);
        }
    }

    pub fn failure(&self, server: Uuid, label: &str) {
        let mut map = self.servers.lock().expect("breaker mutex poisoned");
        let state = map.entry(server).or_insert_with(|| State {
            label: label.to_owned(),
            failures: 0,
            open_until: None,
        });
        state.failures += 1;
        if state.failures >= self.threshold {
            state.open_until = Some(Instant::now() + self.cooldown);
        }
        self.tracked.store(map.len(), Ordering::Release);
    }

    /// Opens the server's circuit at once (a probe found it not answering).
    pub fn trip(&self, server: Uuid, label: &str) {
        for _ in 0..self.threshold {
            self.failure(server, label);
        }
    }

    /// Whether the server had a failure since its last success: its idle connections are checked
    /// before use and a timed-out wait counts as a failure.
    pub fn is_suspect(&self, server: Uuid) -> bool {
        if self.tracked.load(Ordering::Acquire) == 0 {
            return false;
        }
        let map = self.servers.lock().expect("breaker mutex poisoned");
        map.contains_key(&server)
    }

    /// Whether the server's circuit is open now.
    pub fn is_open(&self, server: Uuid) -> bool {
        let map = self.servers.lock().expect("breaker mutex poisoned");
        map.get(&server)
            .and_then(|s| s.open_until)
            .is_some_and(|u| u > Instant::now())
    }

    /// Servers whose circuit is open now (their labels).
    pub fn open_servers(&self) -> Vec<String> {
        let now = Instant::now();
        let map = self.servers.lock().expect("breaker mutex poisoned");
        map.values()
            .filter(|s| s.open_until.is_some_and(|u| u > now))
            .map(|s| s.label.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (Uuid, Uuid) {
        (Uuid::from_u128(1), Uuid::from_u128(2))
    }

    #[test]
    fn circuit_opens_after_threshold_failures_and_only_for_that_server() {
        let (a, other) = ids();
        let b = Breakers::new(2, Duration::from_secs(60));
        b.failure(a, "a:1");
        assert!(b.check(a).is_ok());
        b.failure(a, "a:1");
        assert!(b.check(a).is_err());
        assert!(b.is_open(a));
        assert!(b.check(other).is_ok());
        assert_eq!(b.open_servers(), vec!["a:1".to_owned()]);
    }

    #[test]
    fn success_closes_the_circuit() {
        let (a, _) = ids();
        let b = Breakers::new(1, Duration::from_millis(0));
        b.failure(a, "a:1");
        // cooldown of zero: the next check is the probe
        assert!(b.check(a).is_ok());
        b.success(a);
        assert!(b.check(a).is_ok());
        assert!(b.open_servers().is_empty());
    }

    #[test]
    fn a_failure_makes_the_server_suspect_until_a_success() {
        let (a, other) = ids();
        let b = Breakers::new(3, Duration::from_secs(60));
        assert!(!b.is_suspect(a));
        b.failure(a, "a:1");
        assert!(b.is_suspect(a) && !b.is_open(a));
        assert!(!b.is_suspect(other));
        b.success(a);
        assert!(!b.is_suspect(a));
    }

    #[test]
    fn after_cooldown_only_one_probe_goes_through() {
        let (a, _) = ids();
        let b = Breakers::new(1, Duration::from_millis(30));
        b.failure(a, "a:1");
        assert!(b.check(a).is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.check(a).is_ok(), "probe let through");
        assert!(b.check(a).is_err(), "second caller still fails fast");
    }
}
