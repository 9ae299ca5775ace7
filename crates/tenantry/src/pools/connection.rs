//! A connection checked out of a tenant's pool.

use crate::tenant::Engine;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection};
use std::ops::{Deref, DerefMut};
use tokio::sync::OwnedSemaphorePermit;

/// Derefs to the `AnyConnection`; returns to its pool (and frees its share of the global budget)
/// on drop.
pub struct TenantConnection {
    conn: PoolConnection<Any>,
    engine: Engine,
    /// Held for as long as the connection is checked out.
    _permit: Option<OwnedSemaphorePermit>,
}

impl TenantConnection {
    pub(crate) fn new(
        conn: PoolConnection<Any>,
        engine: Engine,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Self {
        Self {
            conn,
            engine,
            _permit: permit,
        }
    }

    /// The engine behind this connection (for per-engine SQL).
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Rewrites `?` placeholders for this connection's engine.
    pub fn sql<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        crate::db::sql(self.engine, text)
    }
}

impl Deref for TenantConnection {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl DerefMut for TenantConnection {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}
