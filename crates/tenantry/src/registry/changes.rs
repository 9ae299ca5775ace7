//! Following registry changes made by any process, without re-reading configs on a timer.
//!
//! Registry migration 0005 keeps a one-row change stamp that triggers bump, in the writer's own
//! transaction, on every write to the tables a tenant config or the name index is built from
//! (tenants, tenant_domains, data_servers, plans), and marks which tenant changed
//! (`tenant_stamps`). Whoever wrote (this server, the CLI, another router instance), the stamp
//! moves. Reading it is one tiny query:
//!
//! - the [`ChangeWatcher`] reads it every `[cache] poll` (default 1 s) and, when it moved, drops
//!   exactly what changed: the changed tenants' configs, the name index when names changed, or
//!   everything when a data server or plan changed. Requests then never re-read a config just
//!   because time passed: a warm request costs no registry query;
//! - a request naming a code missing from the name index reads it too, so a tenant just created
//!   by another process is served on the first request after its creation. These reads are shared
//!   and spaced (at most one per `unknown_check_interval`, default 100 ms, single-flight under one
//!   lock), so a flood of random codes costs a bounded number of queries per second and no memory
//!   per code; under such a flood a new tenant is found within that interval instead.
//!
//! Both share one lock and one "stamps seen" state, so a check is never repeated by the other.
//! Queries the watcher sends are counted apart from [`Registry::queries`] (request-path queries).

use super::{Inner, Registry, Result};
use crate::tenant::TenantCode;
use sqlx::AnyPool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// The counters of the `registry_stamp` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Stamps {
    /// Any change.
    stamp: i64,
    /// Codes, subdomains or custom domains changed.
    names: i64,
    /// A data server or plan changed.
    shared: i64,
}

/// What the last check saw, and when it started. Behind a tokio lock held across one check's
/// queries: that lock is what makes checks single-flight.
struct Seen {
    stamps: Stamps,
    checked_at: Option<Instant>,
}

/// Per-registry state of change following.
pub(super) struct ChangeTracker {
    seen: tokio::sync::Mutex<Seen>,
    unknown_check_interval: Duration,
    /// Statements the watcher sent (not counted in [`Registry::queries`]); relaxed: a counter.
    background_queries: AtomicU64,
    /// The running watcher, if any; dropping the tracker (the last registry handle) stops it.
    watcher: std::sync::OnceLock<ChangeWatcher>,
}

impl ChangeTracker {
    pub fn new(unknown_check_interval: Duration) -> Self {
        Self {
            seen: tokio::sync::Mutex::new(Seen {
                stamps: Stamps::default(),
                checked_at: None,
            }),
            unknown_check_interval,
            background_queries: AtomicU64::new(0),
            watcher: std::sync::OnceLock::new(),
        }
    }
}

/// Who asks for a check: decides which query counter it goes to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Caller {
    Watcher,
    Request,
}

impl Registry {
    fn change_pool(&self, caller: Caller) -> &AnyPool {
        match caller {
            Caller::Request => self.pool(),
            Caller::Watcher => {
                let n = &self.inner.changes.background_queries;
                n.fetch_add(1, Ordering::Relaxed);
                &self.inner.pool
            }
        }
    }

    async fn read_stamps(&self, caller: Caller) -> Result<Stamps> {
        let (stamp, names, shared): (i64, i64, i64) =
            sqlx::query_as("SELECT stamp, names, shared FROM registry_stamp WHERE id = 1")
                .fetch_one(self.change_pool(caller))
                .await?;
        Ok(Stamps {
            stamp,
            names,
            shared,
        })
    }

    /// Takes the current stamps as seen, before anything is cached (so every later change moves
    /// them past what was seen), and starts the watcher when `poll` is not zero.
    pub(super) async fn start_following(&self, poll: Duration) -> Result<()> {
        self.inner.changes.seen.lock().await.stamps = self.read_stamps(Caller::Watcher).await?;
        if !poll.is_zero() {
            let watcher = ChangeWatcher::spawn(Arc::downgrade(&self.inner), poll);
            let _ = self.inner.changes.watcher.set(watcher);
        }
        Ok(())
    }

    /// Reads the change stamp now and drops whatever changed since the last read. The watcher
    /// does this every `poll`; call it to see another process's change at once.
    pub async fn sync_changes(&self) -> Result<()> {
        let mut seen = self.inner.changes.seen.lock().await;
        self.check(&mut seen, Caller::Request).await.map(|_| ())
    }

    /// For a code missing from the name index: reads the stamp unless a check started within
    /// `unknown_check_interval` (waiting for one in flight). `true` when the cache changed, so
    /// the caller should look again.
    pub(super) async fn check_for_unknown(&self) -> Result<bool> {
        let changes = &self.inner.changes;
        let mut seen = changes.seen.lock().await;
        if let Some(at) = seen.checked_at {
            if at.elapsed() < changes.unknown_check_interval {
                return Ok(false);
            }
        }
        self.inner.cache.count_unknown_check();
        self.check(&mut seen, Caller::Request).await
    }

    /// One check: the stamp, then (only when it moved) which tenants changed. `true` when
    /// something was dropped from the cache.
    async fn check(&self, seen: &mut Seen, caller: Caller) -> Result<bool> {
        // Set first: a failing registry must not turn every unknown code into a query.
        seen.checked_at = Some(Instant::now());
        let now = self.read_stamps(caller).await?;
        if now == seen.stamps {
            return Ok(false);
        }
        let cache = &self.inner.cache;
        // A stamp that went back is a restored registry: nothing seen before can be trusted.
        if now.shared != seen.stamps.shared || now.stamp < seen.stamps.stamp {
            cache.clear();
        } else {
            // Rows past the stamp seen committed before `now` was read, so all are visible here.
            let changed: Vec<(String, Option<String>)> = sqlx::query_as(&self.sql(
                "SELECT s.tenant_id, t.code FROM tenant_stamps s \
                 LEFT JOIN tenants t ON t.id = s.tenant_id WHERE s.stamp > ?",
            ))
            .bind(seen.stamps.stamp)
            .fetch_all(self.change_pool(caller))
            .await?;
            // Codes never change (an update cannot set one), so the current code is the key.
            // A tenant row that is gone entirely leaves no code to drop: drop everything.
            let codes: Option<Vec<TenantCode>> = changed
                .iter()
                .map(|(_, code)| code.as_deref().and_then(|c| TenantCode::parse(c).ok()))
                .collect();
            match codes {
                Some(codes) => codes.iter().for_each(|c| cache.forget_config(c)),
                None => cache.clear(),
            }
            if now.names != seen.stamps.names {
                cache.forget_hosts();
            }
        }
        tracing::debug!(stamp = now.stamp, "registry changed; tenant cache updated");
        seen.stamps = now;
        Ok(true)
    }

    /// The change watcher of this registry (`None` when `[cache] poll` is zero).
    pub fn watcher(&self) -> Option<ChangeWatcher> {
        self.inner.changes.watcher.get().cloned()
    }

    /// Registry statements the change watcher sent since open (apart from [`Registry::queries`]).
    pub fn background_queries(&self) -> u64 {
        let n = &self.inner.changes.background_queries;
        n.load(Ordering::Relaxed)
    }
}

/// A cheap `Clone` handle on the background task that polls the change stamp. The task stops
/// when [`ChangeWatcher::stop`] is called, when the last handle is dropped, or when the registry
/// itself is gone (it holds the registry only weakly, so it never keeps it open).
#[derive(Clone)]
pub struct ChangeWatcher {
    guard: Arc<StopGuard>,
}

/// Signals the task to stop when dropped (mini-redis's `DbDropGuard`).
struct StopGuard {
    stop: tokio::sync::watch::Sender<bool>,
}

impl Drop for StopGuard {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl ChangeWatcher {
    fn spawn(registry: Weak<Inner>, poll: Duration) -> Self {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(watch(registry, poll, stopped));
        Self {
            guard: Arc::new(StopGuard { stop }),
        }
    }

    /// Stops the task (it finishes a check in progress first).
    pub fn stop(&self) {
        let _ = self.guard.stop.send(true);
    }

    /// Whether the task was told to stop.
    pub fn is_stopped(&self) -> bool {
        *self.guard.stop.borrow()
    }
}

/// The watcher's loop: one check per `poll`. A failed check (registry unreachable) is logged and
/// the cache kept: serving the last known configs beats failing every tenant.
async fn watch(
    registry: Weak<Inner>,
    poll: Duration,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(poll);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            _ = ticker.tick() => {}
        }
        if *stopped.borrow() {
            break;
        }
        let Some(inner) = registry.upgrade() else {
            break;
        };
        let registry = Registry { inner };
        let mut seen = registry.inner.changes.seen.lock().await;
        if let Err(e) = registry.check(&mut seen, Caller::Watcher).await {
            tracing::warn!(error = %e, "cannot read the registry's change stamp; keeping the tenant cache");
        }
    }
}
