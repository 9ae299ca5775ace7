//! A connection checked out of a tenant's pool.

use super::manager::TenantManager;
use crate::db::EngineConnection;
use crate::tenant::Engine;
use deadpool::managed::{Object, Pool};
use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use std::ops::{Deref, DerefMut};

/// Derefs to the tenant's typed [`EngineConnection`]; returns to its pool on drop (or is closed,
/// if [poisoned](TenantConnection::poison)).
///
/// ```ignore
/// async fn handler(TenantDb(mut db): TenantDb) -> Result<Json<Vec<Ticket>>, ApiError> {
///     let pg = db.as_postgres().ok_or(...)?;           // &mut sqlx::PgConnection
///     let rows = sqlx::query_as!(Ticket, "SELECT …").fetch_all(pg).await?;
///     …
/// }
/// ```
pub struct TenantConnection {
    /// `None` only during drop.
    obj: Option<Object<TenantManager>>,
    poisoned: bool,
    /// The pool, held while the connection is out when its idle connections would be parked on
    /// eviction (a PostgreSQL schema tenant's): the pool object `obj` refers to weakly is gone
    /// once the cache drops an evicted pool.
    home: Option<Pool<TenantManager>>,
}

impl TenantConnection {
    pub(crate) fn new(obj: Object<TenantManager>, home: Option<Pool<TenantManager>>) -> Self {
        Self {
            obj: Some(obj),
            poisoned: false,
            home,
        }
    }

    fn conn(&self) -> &EngineConnection {
        self.obj
            .as_ref()
            .expect("connection present until drop")
            .conn()
    }

    fn conn_mut(&mut self) -> &mut EngineConnection {
        self.obj
            .as_mut()
            .expect("connection present until drop")
            .conn_mut()
    }

    /// The engine behind this connection (for per-engine SQL).
    pub fn engine(&self) -> Engine {
        self.conn().engine()
    }

    /// Rewrites `?` placeholders for this connection's engine.
    pub fn sql<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        crate::db::sql(self.engine(), text)
    }

    pub fn as_postgres(&mut self) -> Option<&mut PgConnection> {
        self.conn_mut().as_postgres()
    }

    pub fn as_mysql(&mut self) -> Option<&mut MySqlConnection> {
        self.conn_mut().as_mysql()
    }

    pub fn as_sqlite(&mut self) -> Option<&mut SqliteConnection> {
        self.conn_mut().as_sqlite()
    }

    /// The SQL Server client (tiberius) of a SQL Server tenant; parameters are `@P1, @P2, …`.
    pub fn as_mssql(&mut self) -> Option<&mut crate::mssql::MssqlClient> {
        self.conn_mut().as_mssql()
    }

    /// Marks the connection unusable (a query was cut off, an I/O error, a request timed out): it
    /// is closed instead of being returned to the pool.
    pub fn poison(&mut self) {
        self.poisoned = true;
    }

    /// Poisons the connection when `err` says it may be broken; returns `err`.
    pub fn check(&mut self, err: sqlx::Error) -> sqlx::Error {
        if matches!(
            err,
            sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_)
        ) {
            self.poison();
        }
        err
    }
}

impl Drop for TenantConnection {
    fn drop(&mut self) {
        let Some(obj) = self.obj.take() else {
            return;
        };
        if self.poisoned {
            // Detached from the pool and dropped: its budget permits are freed with it.
            drop(Object::take(obj));
        } else if let Some(pool) = self.home.take().filter(|p| p.is_closed()) {
            // Its pool was evicted while it was out (the cache may turn a new tenant's pool away
            // at once): kept for another tenant of its database as the pool's idle ones were,
            // instead of closing a healthy backend that the next cold tenant would reopen.
            pool.manager().park_returned(Object::take(obj));
        }
    }
}

impl Deref for TenantConnection {
    type Target = EngineConnection;
    fn deref(&self) -> &EngineConnection {
        self.conn()
    }
}

impl DerefMut for TenantConnection {
    fn deref_mut(&mut self) -> &mut EngineConnection {
        self.conn_mut()
    }
}
