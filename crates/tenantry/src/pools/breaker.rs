//! A circuit breaker per data server: after `threshold` consecutive connection failures the server's
//! circuit is **open** and requests for its tenants fail fast instead of queueing, until a
//! background probe (a fresh connection with a short timeout, at most one per server at a time)
//! finds the server answering again; that closes the circuit.
//!
//! No user request is ever the probe: while the circuit is open every request is refused at once,
//! and every `cooldown` the first request to arrive has a probe started in the background (and is
//! refused like the others). A failed probe re-arms the cooldown.

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
    /// `Some` while the circuit is open: when the next background probe may start.
    next_probe: Option<Instant>,
}

/// Why a request may not go to its data server now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    /// When a retry may find the circuit closed (for `Retry-After`).
    pub retry_in: Duration,
    /// Whether the caller should start a background probe now (the cooldown has passed).
    pub probe_due: bool,
}

#[derive(Debug)]
pub struct Breakers {
    threshold: u32,
    cooldown: Duration,
    /// A std mutex: held only for a map lookup, never across an `.await`.
    servers: Mutex<HashMap<Uuid, State>>,
    /// Entries in `servers`: the hot path (no failures anywhere) skips the lock entirely.
    tracked: AtomicUsize,
    /// Servers with a background probe in flight (at most one each). Only touched when a server
    /// is suspect or open, never on the hot path.
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

    /// `Err` while the server's circuit is open: the request must fail fast. Once per cooldown
    /// the answer says a probe is due (and the cooldown is re-armed, so only one caller hears it).
    pub fn check(&self, server: Uuid) -> Result<(), Open> {
        if self.tracked.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        let mut map = self.servers.lock().expect("breaker mutex poisoned");
        let Some(next) = map.get_mut(&server).and_then(|s| s.next_probe.as_mut()) else {
            return Ok(());
        };
        let now = Instant::now();
        if now < *next {
            return Err(Open {
                retry_in: *next - now,
                probe_due: false,
            });
        }
        *next = now + self.cooldown;
        Err(Open {
            retry_in: self.cooldown,
            probe_due: true,
        })
    }

    /// A connection to the server worked: its circuit closes and its failures are forgotten.
    pub fn success(&self, server: Uuid) {
        if self.tracked.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut map = self.servers.lock().expect("breaker mutex poisoned");
        if map.remove(&server).is_some() {
            self.tracked.store(map.len(), Ordering::Release);
        }
    }

    /// One more consecutive failure; the `threshold`th opens the circuit. Failures while it is
    /// already open do not push the next probe further out.
    pub fn failure(&self, server: Uuid, label: &str) {
        let mut map = self.servers.lock().expect("breaker mutex poisoned");
        let state = tracked_state(&mut map, server, label);
        state.failures = state.failures.saturating_add(1);
        if state.failures >= self.threshold && state.next_probe.is_none() {
            tracing::warn!(server = %label, "circuit open: requests for its tenants fail fast");
            state.next_probe = Some(Instant::now() + self.cooldown);
        }
        self.tracked.store(map.len(), Ordering::Release);
    }

    /// Opens the server's circuit at once, or re-arms its cooldown (a probe found it not
    /// answering).
    pub fn trip(&self, server: Uuid, label: &str) {
        let mut map = self.servers.lock().expect("breaker mutex poisoned");
        let state = tracked_state(&mut map, server, label);
        state.failures = state.failures.max(self.threshold);
        state.next_probe = Some(Instant::now() + self.cooldown);
        self.tracked.store(map.len(), Ordering::Release);
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
        map.get(&server).is_some_and(|s| s.next_probe.is_some())
    }

    /// Servers whose circuit is open now (their labels).
    pub fn open_servers(&self) -> Vec<String> {
        let map = self.servers.lock().expect("breaker mutex poisoned");
        map.values()
            .filter(|s| s.next_probe.is_some())
            .map(|s| s.label.clone())
            .collect()
    }
}

/// The server's state, starting one with no failures when it has none yet.
fn tracked_state<'a>(
    map: &'a mut HashMap<Uuid, State>,
    server: Uuid,
    label: &str,
) -> &'a mut State {
    map.entry(server).or_insert_with(|| State {
        label: label.to_owned(),
        failures: 0,
        next_probe: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (Uuid, Uuid) {
        (Uuid::from_u128(1), Uuid::from_u128(2))
    }

    fn refused(b: &Breakers, server: Uuid) -> Open {
        b.check(server).expect_err("the circuit is open")
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
    fn an_open_circuit_refuses_with_the_time_left_until_its_probe() {
        let (a, _) = ids();
        let b = Breakers::new(1, Duration::from_secs(60));
        b.failure(a, "a:1");
        let open = refused(&b, a);
        assert!(!open.probe_due);
        assert!(
            open.retry_in > Duration::from_secs(59) && open.retry_in <= Duration::from_secs(60)
        );
    }

    #[test]
    fn after_the_cooldown_requests_are_still_refused_and_exactly_one_hears_a_probe_is_due() {
        let (a, _) = ids();
        let b = Breakers::new(1, Duration::from_millis(30));
        b.failure(a, "a:1");
        assert!(!refused(&b, a).probe_due);
        std::thread::sleep(Duration::from_millis(40));
        assert!(
            refused(&b, a).probe_due,
            "the first caller after the cooldown"
        );
        for _ in 0..5 {
            assert!(!refused(&b, a).probe_due, "later callers just fail fast");
        }
        assert!(b.is_open(a), "open until a probe succeeds");
    }

    #[test]
    fn a_successful_probe_closes_the_circuit() {
        let (a, _) = ids();
        let b = Breakers::new(1, Duration::ZERO);
        b.failure(a, "a:1");
        assert!(refused(&b, a).probe_due);
        b.success(a);
        assert!(b.check(a).is_ok());
        assert!(!b.is_open(a) && !b.is_suspect(a));
        assert!(b.open_servers().is_empty());
    }

    #[test]
    fn a_failed_probe_rearms_the_cooldown() {
        let (a, _) = ids();
        let b = Breakers::new(1, Duration::from_millis(30));
        b.failure(a, "a:1");
        std::thread::sleep(Duration::from_millis(40));
        assert!(refused(&b, a).probe_due);
        b.trip(a, "a:1");
        assert!(
            !refused(&b, a).probe_due,
            "no second probe before the next cooldown"
        );
        std::thread::sleep(Duration::from_millis(40));
        assert!(refused(&b, a).probe_due);
    }

    #[test]
    fn failures_while_open_do_not_postpone_the_probe() {
        let (a, _) = ids();
        let b = Breakers::new(1, Duration::from_millis(30));
        b.failure(a, "a:1");
        std::thread::sleep(Duration::from_millis(20));
        b.failure(a, "a:1");
        std::thread::sleep(Duration::from_millis(20));
        assert!(refused(&b, a).probe_due);
    }

    #[test]
    fn a_trip_opens_a_closed_circuit_at_once() {
        let (a, other) = ids();
        let b = Breakers::new(3, Duration::from_secs(60));
        b.trip(a, "a:1");
        assert!(b.is_open(a) && b.check(a).is_err());
        assert!(b.check(other).is_ok());
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
    fn only_one_probe_per_server_is_in_flight() {
        let (a, other) = ids();
        let b = Breakers::new(1, Duration::ZERO);
        assert!(b.start_probe(a));
        assert!(!b.start_probe(a));
        assert!(b.start_probe(other));
        b.end_probe(a);
        assert!(b.start_probe(a));
    }
}
