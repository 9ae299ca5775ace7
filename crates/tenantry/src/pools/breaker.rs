//! A circuit breaker per data server: after `threshold` consecutive connection failures the server is
//! "open" for `cooldown`, and requests for its tenants fail fast instead of queueing. After the
//! cooldown one request is let through as a probe; its success closes the circuit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
}

#[derive(Debug)]
pub struct Breakers {
    threshold: u32,
    cooldown: Duration,
    /// A std mutex: held only for a map lookup, never across an `.await`.
    servers: Mutex<HashMap<String, State>>,
}

impl Breakers {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            servers: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(remaining)` while the server's circuit is open. Once the cooldown has passed, lets one
    /// caller through and re-arms the cooldown for the others, so only one probe is in flight.
    pub fn check(&self, server: &str) -> Result<(), Duration> {
        let mut map = self.servers.lock().expect("breaker mutex poisoned");
        let Some(state) = map.get_mut(server) else {
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

    pub fn success(&self, server: &str) {
        let mut map = self.servers.lock().expect("breaker mutex poisoned");
        map.remove(server);
    }

    pub fn failure(&self, server: &str) {
        let mut map = self.servers.lock().expect("breaker mutex poisoned");
        let state = map.entry(server.to_owned()).or_default();
        state.failures += 1;
        if state.failures >= self.threshold {
            state.open_until = Some(Instant::now() + self.cooldown);
        }
    }

    /// Servers whose circuit is open now.
    pub fn open_servers(&self) -> Vec<String> {
        let now = Instant::now();
        let map = self.servers.lock().expect("breaker mutex poisoned");
        map.iter()
            .filter(|(_, s)| s.open_until.is_some_and(|u| u > now))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circuit_opens_after_threshold_failures_and_only_for_that_server() {
        let b = Breakers::new(2, Duration::from_secs(60));
        b.failure("a:1");
        assert!(b.check("a:1").is_ok());
        b.failure("a:1");
        assert!(b.check("a:1").is_err());
        assert!(b.check("b:1").is_ok());
        assert_eq!(b.open_servers(), vec!["a:1".to_owned()]);
    }

    #[test]
    fn success_closes_the_circuit() {
        let b = Breakers::new(1, Duration::from_millis(0));
        b.failure("a:1");
        // cooldown of zero: the next check is the probe
        assert!(b.check("a:1").is_ok());
        b.success("a:1");
        assert!(b.check("a:1").is_ok());
        assert!(b.open_servers().is_empty());
    }

    #[test]
    fn after_cooldown_only_one_probe_goes_through() {
        let b = Breakers::new(1, Duration::from_millis(30));
        b.failure("a:1");
        assert!(b.check("a:1").is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.check("a:1").is_ok(), "probe let through");
        assert!(b.check("a:1").is_err(), "second caller still fails fast");
    }
}
