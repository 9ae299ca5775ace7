//! Spare connections: the idle PostgreSQL connections of an evicted shared-schema pool, kept for a
//! moment so the next cold tenant **of the same database and login** can take one over instead of
//! opening a new backend (on a small machine a new backend, and the exit of an evicted one, cost
//! the server several milliseconds of CPU each; with thousands of schema tenants and a few hundred
//! pools that churn is most of the server's work).
//!
//! Isolation rules, each enforced here or in [`EngineConnection::rebind`]:
//! - A spare is keyed by everything its login depends on (server, host, port, database, username,
//!   password, TLS mode). A tenant takes only a spare of its own key, so a taken-over connection
//!   has exactly the privileges a fresh connection of that tenant would have.
//! - Taking one over resets the session in one round trip (what `DISCARD ALL` does: temporary
//!   tables, `LISTEN`, advisory locks, `SET ROLE`, cursors, cached plans, every session setting)
//!   and then sets the new tenant's `search_path` and statement timeout, once, as the connection
//!   joins the new tenant's pool. A connection in a tenant's pool never changes schema while it is
//!   there. A spare inside a transaction block fails the reset; any failure closes the spare.
//! - The driver's prepared statements are kept only when the tenant before had the same schema
//!   shape (tenantry manages both schemas and applied the same migrations: see
//!   [`TenantManager::shape`](super::manager::TenantManager)). PostgreSQL re-parses a prepared
//!   statement against the new `search_path` on its next use, so it reads the new tenant's
//!   tables; what is saved is preparing every statement again (measured: 11% more requests/s,
//!   mean of four rounds, on a PostgreSQL-only fleet of schema tenants under pool churn).
//!   Otherwise they are dropped. A spare holding a statement made with SQL `PREPARE` is closed.
//! - A connection is taken over at most [`MAX_TAKEOVERS`] times, so its backend's catalog caches
//!   (which grow with every schema it has served) stay bounded.
//!
//! [`EngineConnection::rebind`]: crate::db::EngineConnection::rebind

use super::manager::PooledConnection;
use crate::registry::DataSource;
use crate::tenant::{Engine, TlsMode};
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Most times one connection is handed from an evicted pool to another tenant.
pub(crate) const MAX_TAKEOVERS: u32 = 50;

/// Identifies a login on a database: connections with equal keys are interchangeable once their
/// session is reset. Every part is compared exactly (no hash collision can hand a connection to
/// another server or database); the password only as a keyed hash, so no copy of it is kept here
/// (two passwords of one role on one database give the same privileges anyway).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SpareKey(Arc<Login>);

#[derive(Debug, PartialEq, Eq, Hash)]
struct Login {
    server_id: Uuid,
    host: String,
    port: u16,
    database: String,
    username: Option<String>,
    tls: TlsMode,
    password: u64,
}

impl SpareKey {
    /// The key of a source whose connections may be handed over: PostgreSQL schema tenants.
    pub fn of(source: &DataSource, hasher: &RandomState) -> Option<Self> {
        if source.engine != Engine::Postgres || source.schema.is_none() {
            return None;
        }
        let password = hasher.hash_one(source.password.as_ref().map(crate::secrets::expose));
        Some(Self(Arc::new(Login {
            server_id: source.server_id,
            host: source.host.clone(),
            port: source.port,
            database: source.database.clone(),
            username: source.username.clone(),
            tls: source.tls,
            password,
        })))
    }
}

struct Spare {
    conn: PooledConnection,
    server_id: Uuid,
    parked: Instant,
}

#[derive(Default)]
pub(crate) struct Spares {
    /// A std mutex: held for a push or pop only, never across an `.await`.
    by_key: Mutex<HashMap<SpareKey, VecDeque<Spare>>>,
    /// Spares parked now, all keys.
    count: AtomicU64,
    /// Connections taken over by another tenant's pool (successfully reset).
    pub taken_over: AtomicU64,
    /// Of those, the ones whose prepared statements were kept (same schema shape).
    pub kept_statements: AtomicU64,
    /// The key of the password's hash in [`SpareKey`].
    pub random: RandomState,
}

impl Spares {
    /// Keeps an evicted pool's idle connection for another tenant of `key`, unless `cap` spares
    /// are parked already or the connection has been handed over often enough (then it closes).
    pub fn park(&self, key: SpareKey, server_id: Uuid, conn: PooledConnection, cap: usize) {
        if conn.takeovers() >= MAX_TAKEOVERS || self.count.load(Ordering::Relaxed) as usize >= cap {
            return; // dropped: closed gracefully
        }
        let mut map = self.by_key.lock().expect("spares mutex poisoned");
        map.entry(key).or_default().push_back(Spare {
            conn,
            server_id,
            parked: Instant::now(),
        });
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The most recently parked spare of `key`, if any.
    pub fn take(&self, key: &SpareKey) -> Option<PooledConnection> {
        if self.count.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut map = self.by_key.lock().expect("spares mutex poisoned");
        let queue = map.get_mut(key)?;
        let spare = queue.pop_back()?;
        if queue.is_empty() {
            map.remove(key);
        }
        self.count.fetch_sub(1, Ordering::Relaxed);
        Some(spare.conn)
    }

    /// Closes the oldest spare (on `server` only, when given). Returns whether one was closed.
    pub fn reclaim(&self, server: Option<Uuid>) -> bool {
        if self.count.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let victim = {
            let mut map = self.by_key.lock().expect("spares mutex poisoned");
            let oldest = map
                .iter()
                .filter_map(|(k, q)| q.front().map(|s| (k, s)))
                .filter(|(_, s)| server.is_none_or(|id| id == s.server_id))
                .min_by_key(|(_, s)| s.parked)
                .map(|(k, _)| k.clone());
            let Some(key) = oldest else {
                return false;
            };
            let queue = map.get_mut(&key).expect("key just found");
            let spare = queue.pop_front();
            if queue.is_empty() {
                map.remove(&key);
            }
            spare
        };
        self.count.fetch_sub(1, Ordering::Relaxed);
        drop(victim); // closes outside the lock
        true
    }

    /// Closes spares parked longer than `max_idle`.
    pub fn expire(&self, max_idle: Duration) {
        if self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut expired = Vec::new();
        {
            let mut map = self.by_key.lock().expect("spares mutex poisoned");
            map.retain(|_, queue| {
                while queue
                    .front()
                    .is_some_and(|s| s.parked.elapsed() >= max_idle)
                {
                    expired.extend(queue.pop_front());
                }
                !queue.is_empty()
            });
        }
        self.count
            .fetch_sub(expired.len() as u64, Ordering::Relaxed);
    }

    /// Closes every spare (on shutdown).
    pub fn clear(&self) {
        let all: Vec<_> = {
            let mut map = self.by_key.lock().expect("spares mutex poisoned");
            map.drain().collect()
        };
        let n: usize = all.iter().map(|(_, q)| q.len()).sum();
        self.count.fetch_sub(n as u64, Ordering::Relaxed);
    }

    pub fn parked(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(schema: Option<&str>) -> DataSource {
        DataSource {
            engine: Engine::Postgres,
            host: "db1".into(),
            port: 5432,
            database: "shared1".into(),
            schema: schema.map(str::to_owned),
            username: Some("app".into()),
            password: Some(crate::secrets::generate_password()),
            tls: TlsMode::Prefer,
            server_id: Uuid::from_u128(7),
            server_max_connections: None,
            fingerprint: 1,
        }
    }

    #[test]
    fn only_postgres_schema_tenants_have_spares() {
        let r = RandomState::new();
        assert!(SpareKey::of(&source(Some("t1")), &r).is_some());
        assert!(
            SpareKey::of(&source(None), &r).is_none(),
            "a database of its own"
        );
        for engine in [Engine::Mysql, Engine::Sqlite, Engine::Mssql] {
            let mut s = source(Some("t1"));
            s.engine = engine;
            assert!(SpareKey::of(&s, &r).is_none(), "{engine:?}");
        }
    }

    #[test]
    fn the_key_is_the_login_and_database_not_the_schema() {
        let r = RandomState::new();
        let base = source(Some("t1"));
        let key = |s: &DataSource| SpareKey::of(s, &r).unwrap();
        let mut other_schema = base.clone();
        other_schema.schema = Some("t2".into());
        other_schema.fingerprint = 2;
        assert_eq!(key(&base), key(&other_schema));
        let changes: [fn(&mut DataSource); 7] = [
            |s| s.host = "db2".into(),
            |s| s.port = 5433,
            |s| s.database = "shared2".into(),
            |s| s.username = Some("other".into()),
            |s| s.password = Some(crate::secrets::generate_password()),
            |s| s.tls = TlsMode::Require,
            |s| s.server_id = Uuid::from_u128(8),
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut changed = base.clone();
            change(&mut changed);
            assert_ne!(key(&base), key(&changed), "change {i}");
        }
    }

    async fn sqlite() -> PooledConnection {
        handed_over(0).await
    }

    async fn handed_over(takeovers: u32) -> PooledConnection {
        use sqlx::Connection;
        let conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        PooledConnection::unbudgeted(crate::db::EngineConnection::Sqlite(conn), takeovers)
    }

    #[tokio::test]
    async fn spares_are_taken_by_key_and_reclaimed_oldest_first_within_their_cap() {
        let spares = Spares::default();
        let r = RandomState::new();
        let mut other = source(Some("t1"));
        other.database = "shared2".into();
        let (k1, k2) = (
            SpareKey::of(&source(Some("t1")), &r).unwrap(),
            SpareKey::of(&other, &r).unwrap(),
        );
        let (s1, s2) = (Uuid::from_u128(1), Uuid::from_u128(2));
        spares.park(k1.clone(), s1, sqlite().await, 3);
        spares.park(k2.clone(), s2, sqlite().await, 3);
        spares.park(k1.clone(), s1, sqlite().await, 3);
        spares.park(k1.clone(), s1, sqlite().await, 3); // over the cap: closed
        assert_eq!(spares.parked(), 3);
        let worn = handed_over(MAX_TAKEOVERS).await;
        spares.take(&k2).unwrap();
        spares.park(k2.clone(), s2, worn, 10); // handed over often enough: closed
        assert_eq!(spares.parked(), 2);
        assert!(spares.take(&k2).is_none(), "no spare of another key");
        // The oldest spare on server s1 goes first; none on a server that has none.
        assert!(!spares.reclaim(Some(s2)));
        assert!(spares.reclaim(Some(s1)));
        assert_eq!(spares.parked(), 1);
        assert!(spares.take(&k1).is_some());
        assert!(spares.take(&k1).is_none());
        assert_eq!(spares.parked(), 0);
        spares.park(k1.clone(), s1, sqlite().await, 3);
        spares.expire(Duration::from_secs(60));
        assert_eq!(spares.parked(), 1, "not idle long enough");
        spares.expire(Duration::ZERO);
        assert_eq!(spares.parked(), 0);
        assert!(spares.take(&k1).is_none());
    }
}
