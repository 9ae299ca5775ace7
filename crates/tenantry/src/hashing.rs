//! Password hashing off the async runtime, bounded: at most `max_concurrent` argon2 hashes run at
//! once (each needs 19 MiB and tens of milliseconds of one core), on tokio's blocking pool, never
//! on a runtime worker. Callers beyond that wait in a queue — at most `max_queued` of them, each at
//! most `queue_timeout` — and are otherwise told [`HashBusy`] (HTTP 503 `busy` with
//! `Retry-After`). A login flood therefore costs a bounded amount of memory (`max_concurrent` ×
//! 19 MiB at the peak) and leaves the runtime free to serve other tenants.
//!
//! Parameters are argon2id m=19456 KiB, t=2, p=1 (OWASP's first recommendation; the `argon2`
//! crate's defaults), see [`crate::auth`]. The README's "Login floods" section has the
//! measurements behind the pool size and the allocator.

use crate::auth;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Settings of a [`HashPool`] (`[hashing]` in the server config).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct HashPoolSettings {
    /// Hashes running at once. Default: 0, meaning one less than the number of CPU cores (at
    /// least 1), so a login flood leaves a core to the runtime that serves other tenants (the
    /// README's `bench login-flood` rows show why).
    pub max_concurrent: usize,
    /// Callers allowed to wait for a slot; one more is answered busy at once. Default: 256.
    pub max_queued: usize,
    /// How long a caller waits for a slot before it is answered busy. Default: 5 s.
    #[serde(with = "humantime_serde")]
    pub queue_timeout: Duration,
}

impl Default for HashPoolSettings {
    fn default() -> Self {
        Self {
            max_concurrent: 0,
            max_queued: 256,
            queue_timeout: Duration::from_secs(5),
        }
    }
}

impl HashPoolSettings {
    /// `max_concurrent`, with 0 resolved to cores − 1 (at least 1).
    pub fn concurrency(&self) -> usize {
        match self.max_concurrent {
            0 => {
                std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
            }
            n => n,
        }
    }
}

/// Every slot was taken for the whole queue timeout (or the queue was full): try again later.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("password checks are busy; try again in {}s", retry_after.as_secs().max(1))]
pub struct HashBusy {
    /// What the answer's `Retry-After` says.
    pub retry_after: Duration,
}

/// A cheap `Clone` handle on one bounded hashing pool.
#[derive(Clone)]
pub struct HashPool {
    inner: Arc<Inner>,
}

struct Inner {
    /// One permit per hash that may run; a waiter holds none until it gets one.
    permits: Semaphore,
    /// Callers waiting for a permit now (bounded by `max_queued`, so a flood cannot park an
    /// unbounded number of request futures here).
    waiting: AtomicUsize,
    settings: HashPoolSettings,
}

/// Decrements the waiting count however the wait ends (permit, timeout, or a dropped request).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HashPool {
    pub fn new(settings: HashPoolSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                permits: Semaphore::new(settings.concurrency()),
                waiting: AtomicUsize::new(0),
                settings,
            }),
        }
    }

    /// The process-wide pool with default settings, for hashing outside a platform (the registry's
    /// owner passwords, provisioning's admin user).
    pub fn shared() -> &'static HashPool {
        static SHARED: OnceLock<HashPool> = OnceLock::new();
        SHARED.get_or_init(|| HashPool::new(HashPoolSettings::default()))
    }

    pub fn settings(&self) -> &HashPoolSettings {
        &self.inner.settings
    }

    /// Runs `work` on the blocking pool once a slot is free (see the module docs).
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashBusy> {
        let settings = &self.inner.settings;
        let busy = HashBusy {
            retry_after: settings.queue_timeout.max(Duration::from_secs(1)),
        };
        let permit = match self.inner.permits.try_acquire() {
            Ok(p) => p,
            Err(_) => {
                if self.inner.waiting.fetch_add(1, Ordering::AcqRel) >= settings.max_queued {
                    self.inner.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(busy);
                }
                let _waiting = Waiting(&self.inner.waiting);
                let acquire = self.inner.permits.acquire();
                match tokio::time::timeout(settings.queue_timeout, acquire).await {
                    Ok(p) => p.expect("the hashing semaphore is never closed"),
                    Err(_) => return Err(busy),
                }
            }
        };
        let done = tokio::task::spawn_blocking(work).await;
        drop(permit);
        Ok(done.expect("password hashing does not panic"))
    }

    /// A new hash of `password`, waiting for a slot however long it takes (bounded concurrency
    /// still): for rare, authenticated operations (an owner's password, a new tenant's admin).
    pub async fn hash_waiting(&self, password: &str) -> String {
        let password = SecretString::from(password.to_owned());
        let permit = self.inner.permits.acquire().await;
        let _permit = permit.expect("the hashing semaphore is never closed");
        let done =
            tokio::task::spawn_blocking(move || auth::hash_password(password.expose_secret()));
        done.await.expect("password hashing does not panic")
    }

    /// A new argon2id hash of `password`.
    pub async fn hash(&self, password: &SecretString) -> Result<String, HashBusy> {
        let password = password.clone();
        self.run(move || auth::hash_password(password.expose_secret()))
            .await
    }

    /// Whether `password` matches `hash`.
    pub async fn verify(&self, password: &SecretString, hash: String) -> Result<bool, HashBusy> {
        let password = password.clone();
        self.run(move || auth::verify_password(password.expose_secret(), &hash))
            .await
    }

    /// Spends the time (and slot) of one verification; for unknown users, so they answer alike.
    pub async fn burn(&self, password: &SecretString) -> Result<(), HashBusy> {
        let password = password.clone();
        self.run(move || auth::burn_verify_time(password.expose_secret()))
            .await
    }

    /// Hashes now running or waiting (for tests and metrics).
    pub fn in_use(&self) -> usize {
        self.inner.settings.concurrency() - self.inner.permits.available_permits()
            + self.inner.waiting.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(n: usize, queued: usize, timeout_ms: u64) -> HashPool {
        HashPool::new(HashPoolSettings {
            max_concurrent: n,
            max_queued: queued,
            queue_timeout: Duration::from_millis(timeout_ms),
        })
    }

    #[tokio::test]
    async fn a_caller_waiting_longer_than_the_queue_timeout_is_told_busy() {
        let p = pool(1, 8, 50);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let held = p.clone();
        let first = tokio::spawn(async move { held.run(move || rx.recv().ok()).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = p.run(|| ()).await;
        assert!(second.is_err(), "the only slot is taken: busy");
        tx.send(()).unwrap();
        assert!(first.await.unwrap().is_ok());
        assert!(p.run(|| ()).await.is_ok(), "free again");
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_without_waiting() {
        let p = pool(1, 0, 60_000);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let held = p.clone();
        let first = tokio::spawn(async move { held.run(move || rx.recv().ok()).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let started = std::time::Instant::now();
        assert!(p.run(|| ()).await.is_err());
        assert!(started.elapsed() < Duration::from_secs(5), "no wait");
        tx.send(()).unwrap();
        first.await.unwrap().unwrap();
        assert_eq!(p.in_use(), 0);
    }

    #[tokio::test]
    async fn hashes_made_by_the_pool_verify() {
        let p = pool(2, 8, 5_000);
        let pw = SecretString::from("correct horse battery".to_owned());
        let h = p.hash(&pw).await.unwrap();
        assert!(p.verify(&pw, h.clone()).await.unwrap());
        let wrong = SecretString::from("wrong horse battery".to_owned());
        assert!(!p.verify(&wrong, h).await.unwrap());
    }
}
