//! The connection budget: how many connections may be **open** (not merely checked out), in total
//! and per data server. Every open pooled connection holds a [`Permits`]; closing the connection
//! (dropping it) gives the permits back, so the count is exact, not sampled.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
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

/// How often a waiter looks again for idle connections to reclaim.
const RECLAIM_POLL: Duration = Duration::from_millis(20);
/// How long a waiter that reclaimed a connection waits for its permit before looking again.
const RECLAIM_WAIT: Duration = Duration::from_millis(500);

/// One permit of `sem`: at once, after reclaiming an idle connection, or by waiting in line.
async fn acquire(
    sem: Arc<Semaphore>,
    deadline: Instant,
    reclaim: impl Fn() -> bool,
) -> Option<OwnedSemaphorePermit> {
    loop {
        if let Ok(permit) = sem.clone().try_acquire_owned() {
            return Some(permit);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        // A reclaimed connection gives its permit back once it is closed; it goes to the first
        // waiter in line (maybe us). Wait in line for it rather than reclaiming more.
        if reclaim() {
            let wait = (deadline - now).min(RECLAIM_WAIT);
            if let Ok(Ok(permit)) = tokio::time::timeout(wait, sem.clone().acquire_owned()).await {
                return Some(permit);
            }
            continue;
        }
        let wait = (deadline - now).min(RECLAIM_POLL);
        if let Ok(Ok(permit)) = tokio::time::timeout(wait, sem.clone().acquire_owned()).await {
            return Some(permit);
        }
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

    /// Takes permits for one more connection to `server`: the server's, then the platform's.
    /// When a limit is full, `reclaim(scope)` is asked to close an idle connection of another
    /// tenant (`scope`: on this server only, or anywhere); otherwise this waits in line, fairly,
    /// until `deadline`. A permit handed over while waiting is kept, never dropped and re-raced.
    pub async fn take(
        &self,
        server: Uuid,
        cap: Option<u32>,
        deadline: Instant,
        reclaim: impl Fn(Option<Uuid>) -> bool,
    ) -> Result<Permits, Full> {
        let server_permit = match self.server_semaphore(server, cap) {
            Some(sem) => Some(
                acquire(sem, deadline, || reclaim(Some(server)))
                    .await
                    .ok_or(Full::Server)?,
            ),
            None => None,
        };
        let global_permit = match &self.global {
            Some(sem) => Some(
                acquire(sem.clone(), deadline, || reclaim(None))
                    .await
                    .ok_or(Full::Global)?,
            ),
            None => None,
        };
        Ok(self.issue(global_permit, server_permit))
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

    fn now() -> Instant {
        Instant::now()
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_millis(30)
    }

    #[tokio::test]
    async fn permits_count_open_connections_and_free_them_on_drop() {
        let b = Budget::new(Some(2));
        let s = Uuid::new_v4();
        let never = |_| false;
        let p1 = b.take(s, None, now(), never).await.unwrap();
        let p2 = b.take(s, None, now(), never).await.unwrap();
        assert_eq!(
            b.take(s, None, soon(), never).await.unwrap_err(),
            Full::Global
        );
        assert_eq!(b.counters.open.load(Ordering::Relaxed), 2);
        drop(p1);
        assert_eq!(b.counters.open.load(Ordering::Relaxed), 1);
        let _p3 = b.take(s, None, now(), never).await.unwrap();
        drop(p2);
        assert_eq!(b.counters.peak.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn a_server_cap_limits_only_that_server() {
        let b = Budget::new(None);
        let (a, other) = (Uuid::new_v4(), Uuid::new_v4());
        let never = |_| false;
        let _p = b.take(a, Some(1), now(), never).await.unwrap();
        assert_eq!(
            b.take(a, Some(1), soon(), never).await.unwrap_err(),
            Full::Server
        );
        assert!(b.take(other, Some(1), now(), never).await.is_ok());
        // A raised cap takes effect for new connections.
        assert!(b.take(a, Some(3), now(), never).await.is_ok());
    }

    #[tokio::test]
    async fn a_waiter_gets_the_permit_freed_while_it_waits() {
        let b = Arc::new(Budget::new(Some(1)));
        let s = Uuid::new_v4();
        let held = b.take(s, None, now(), |_| false).await.unwrap();
        let waiter = {
            let b = b.clone();
            tokio::spawn(async move {
                let deadline = Instant::now() + Duration::from_secs(5);
                b.take(s, None, deadline, |_| false).await.is_ok()
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(held);
        assert!(waiter.await.unwrap());
    }

    #[tokio::test]
    async fn reclaiming_an_idle_connection_makes_room() {
        let b = Budget::new(Some(1));
        let s = Uuid::new_v4();
        let idle = std::sync::Mutex::new(Some(b.take(s, None, now(), |_| false).await.unwrap()));
        let reclaim = |_| idle.lock().unwrap().take().is_some();
        assert!(b.take(s, None, soon(), reclaim).await.is_ok());
    }
}
