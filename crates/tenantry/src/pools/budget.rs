//! The connection budget: how many connections may be **open** (not merely checked out), in total
//! and per data server. Every open pooled connection holds a [`Permits`]; closing the connection
//! (dropping it) gives the permits back, so the count is exact, not sampled.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

/// Counters shared by the budget and every permit.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Connections open now.
    pub open: AtomicUsize,
    /// Most connections open at once since start.
    pub peak: AtomicUsize,
    /// Connections ever opened / closed.
    pub opened: AtomicU64,
    pub closed: AtomicU64,
    /// Idle connections of other tenants closed to make room under the budget.
    pub reclaimed: AtomicU64,
}

/// A server's semaphore and the cap it was created with (a changed cap replaces it).
struct ServerSlot {
    cap: u32,
    semaphore: Arc<Semaphore>,
}

pub(crate) struct Budget {
    /// `None`: no platform-wide limit.
    global: Option<Arc<Semaphore>>,
    /// Per data server, created on first use from the server row's `max_connections`.
    /// A std mutex: held for a map lookup only, never across an `.await`.
    servers: Mutex<HashMap<Uuid, ServerSlot>>,
    pub counters: Arc<Counters>,
}

/// What one open connection holds; dropping it frees its share of the budget.
#[derive(Debug)]
pub(crate) struct Permits {
    _global: Option<OwnedSemaphorePermit>,
    _server: Option<OwnedSemaphorePermit>,
    counters: Arc<Counters>,
}

impl Drop for Permits {
    fn drop(&mut self) {
        self.counters.open.fetch_sub(1, Ordering::Relaxed);
        self.counters.closed.fetch_add(1, Ordering::Relaxed);
    }
}

/// Which limit is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    Global,
    Server,
}

impl Budget {
    pub fn new(max_total: Option<usize>) -> Self {
        Self {
            global: max_total.map(|n| Arc::new(Semaphore::new(n))),
            servers: Mutex::new(HashMap::new()),
            counters: Arc::new(Counters::default()),
        }
    }

    fn server_semaphore(&self, server: Uuid, cap: Option<u32>) -> Option<Arc<Semaphore>> {
        let cap = cap?;
        let mut map = self.servers.lock().expect("budget mutex poisoned");
        let slot = map.entry(server).or_insert_with(|| ServerSlot {
            cap,
            semaphore: Arc::new(Semaphore::new(cap as usize)),
        });
        if slot.cap != cap {
            // The cap changed: connections open under the old one drain as they close.
            *slot = ServerSlot {
                cap,
                semaphore: Arc::new(Semaphore::new(cap as usize)),
            };
        }
        Some(slot.semaphore.clone())
    }

    /// Takes permits for one more connection to `server`, or says which limit is full.
    pub fn try_take(&self, server: Uuid, cap: Option<u32>) -> Result<Permits, Full> {
        let server_permit = match self.server_semaphore(server, cap) {
            Some(sem) => Some(sem.try_acquire_owned().map_err(|_| Full::Server)?),
            None => None,
        };
        let global_permit = match &self.global {
            Some(sem) => Some(sem.clone().try_acquire_owned().map_err(|_| Full::Global)?),
            None => None,
        };
        Ok(self.issue(global_permit, server_permit))
    }

    /// Waits (up to `wait`) until the limit that was full may have room again.
    pub async fn wait_for_room(
        &self,
        full: Full,
        server: Uuid,
        cap: Option<u32>,
        wait: std::time::Duration,
    ) {
        let sem = match full {
            Full::Global => self.global.clone(),
            Full::Server => self.server_semaphore(server, cap),
        };
        if let Some(sem) = sem {
            // Acquire-and-release: we only wait for a permit to exist, then race for it again.
            let _ = tokio::time::timeout(wait, sem.acquire_owned()).await;
        }
    }

    fn issue(
        &self,
        global: Option<OwnedSemaphorePermit>,
        server: Option<OwnedSemaphorePermit>,
    ) -> Permits {
        let c = &self.counters;
        let open = c.open.fetch_add(1, Ordering::Relaxed) + 1;
        c.opened.fetch_add(1, Ordering::Relaxed);
        c.peak.fetch_max(open, Ordering::Relaxed);
        Permits {
            _global: global,
            _server: server,
            counters: c.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_count_open_connections_and_free_them_on_drop() {
        let b = Budget::new(Some(2));
        let s = Uuid::new_v4();
        let p1 = b.try_take(s, None).unwrap();
        let p2 = b.try_take(s, None).unwrap();
        assert_eq!(b.try_take(s, None).unwrap_err(), Full::Global);
        assert_eq!(b.counters.open.load(Ordering::Relaxed), 2);
        drop(p1);
        assert_eq!(b.counters.open.load(Ordering::Relaxed), 1);
        let _p3 = b.try_take(s, None).unwrap();
        drop(p2);
        assert_eq!(b.counters.peak.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_server_cap_limits_only_that_server() {
        let b = Budget::new(None);
        let (a, other) = (Uuid::new_v4(), Uuid::new_v4());
        let _p = b.try_take(a, Some(1)).unwrap();
        assert_eq!(b.try_take(a, Some(1)).unwrap_err(), Full::Server);
        assert!(b.try_take(other, Some(1)).is_ok());
        // A raised cap takes effect for new connections.
        assert!(b.try_take(a, Some(3)).is_ok());
    }
}
