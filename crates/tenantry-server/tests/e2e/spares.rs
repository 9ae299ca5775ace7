//! Spare connections: an evicted PostgreSQL schema tenant's idle connection is taken over by the
//! next tenant of the same database and login, and arrives with nothing of its past: not the
//! schema, temporary tables, SQL `PREPARE`s, `LISTEN`, advisory locks, role or settings. The
//! driver's prepared statements stay when both tenants have the same schema shape, and then read
//! the new tenant's tables.

use crate::common::{On, TestApp};
use sqlx::Row;
use tenantry::pools::{PoolManagerSettings, TenantConnection};
use tenantry::registry::Tenant;
use tenantry::registry::TenantConfig;
use tenantry::tenant::{DatabaseName, Placement, TenantCode};
use tenantry_testkit::unique_name;

/// Two schema tenants in one new shared database, with different statement timeouts, whose codes
/// (`{prefix}-A`, `{prefix}_A`) differ only by `-`/`_`.
async fn neighbours(t: &TestApp, prefix: &str) -> (Tenant, Tenant) {
    let server = t.server(On::Pg(0)).await;
    let shared = DatabaseName::parse(&unique_name("spares")).unwrap();
    let mut out = Vec::new();
    for (sep, timeout_ms) in [('-', 11_000), ('_', 22_000)] {
        let code = format!("{prefix}{sep}A");
        let mut new = TestApp::new_tenant(&code.replace('_', "-"), &server);
        new.code = TenantCode::parse(&code).unwrap();
        new.subdomain = None;
        new.placement = Placement::Shared;
        new.database = Some(shared.clone());
        let schema = code
            .replace('-', "d")
            .replace('_', "u")
            .to_ascii_lowercase();
        new.schema = Some(DatabaseName::parse(&schema).unwrap());
        new.pool.statement_timeout_ms = timeout_ms;
        out.push(t.provision(new).await);
    }
    let b = out.pop().unwrap();
    (out.pop().unwrap(), b)
}

async fn config(t: &TestApp, tenant: &Tenant) -> std::sync::Arc<TenantConfig> {
    t.registry()
        .tenant_config(&tenant.code)
        .await
        .unwrap()
        .unwrap()
}

async fn text(conn: &mut TenantConnection, sql: &str) -> String {
    let pg = conn.as_postgres().unwrap();
    sqlx::query(sql).fetch_one(pg).await.unwrap().get(0)
}

async fn pid(conn: &mut TenantConnection) -> i32 {
    let pg = conn.as_postgres().unwrap();
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(pg)
        .await
        .unwrap()
}

/// Runs each of `dirty` (as its own message, failing or not) on a connection of `tenant`, returns
/// it to its pool and evicts the pool (parking its idle connection, when spares are on); returns
/// the connection's backend pid.
async fn use_and_evict(t: &TestApp, tenant: &Tenant, dirty: &[&str]) -> i32 {
    let pools = t.app.pools();
    let mut conn = pools.acquire(&*config(t, tenant).await).await.unwrap();
    let pid = pid(&mut conn).await;
    for sql in dirty {
        let _ = conn.execute_raw(sql).await;
    }
    drop(conn);
    pools.evict(tenant.id);
    pid
}

fn one_pool() -> PoolManagerSettings {
    PoolManagerSettings {
        max_pools: 1,
        ..PoolManagerSettings::default()
    }
}

/// An app that keeps one pool open, and two schema neighbours (see [`neighbours`]).
async fn one_pool_neighbours() -> (TestApp, Tenant, Tenant) {
    let t = TestApp::spawn_with(one_pool(), None).await;
    let (a, b) = neighbours(&t, "SP").await;
    (t, a, b)
}

#[tokio::test]
async fn a_taken_over_connection_keeps_nothing_of_the_tenant_before() {
    let (t, a, b) = one_pool_neighbours().await;
    let pools = t.app.pools();
    let (ca, cb) = (config(&t, &a).await, config(&t, &b).await);

    let mut conn = pools.acquire(&ca).await.unwrap();
    let a_pid = pid(&mut conn).await;
    assert_eq!(text(&mut conn, "SHOW search_path").await, "spda");
    let default_work_mem = text(&mut conn, "SHOW work_mem").await;
    // Everything a tenant's code could leave behind on its session.
    conn.execute_raw(
        "INSERT INTO customers (name) VALUES ('only in A');
         CREATE TEMP TABLE dirt (x int); INSERT INTO dirt VALUES (1);
         LISTEN a_channel;
         SELECT pg_advisory_lock(4242);
         SET work_mem = '7MB';
         SET ROLE pg_read_all_data",
    )
    .await
    .unwrap();
    // A statement the driver prepares and caches, run by A and then by B.
    let names = "SELECT coalesce(string_agg(name, ',' ORDER BY id), '') FROM customers";
    assert!(text(&mut conn, names).await.contains("only in A"));
    drop(conn);
    pools.evict(a.id);
    assert_eq!(
        pools.stats().spare_connections,
        1,
        "the idle connection is parked"
    );

    let mut conn = pools.acquire(&cb).await.unwrap();
    assert_eq!(pid(&mut conn).await, a_pid, "the same backend, taken over");
    let stats = pools.stats();
    assert_eq!(stats.connections_taken_over, 1);
    assert_eq!(stats.takeovers_keeping_statements, 1, "same schema shape");
    assert_eq!(stats.spare_connections, 0);
    // A's cached statement is still prepared on the server, and now reads B's table.
    assert_eq!(kept_statement_count(&mut conn, names).await, 1);
    let b_names = text(&mut conn, names).await;
    assert!(!b_names.contains("only in A"), "B read A's rows: {b_names}");
    assert_eq!(text(&mut conn, "SHOW search_path").await, "spua");
    assert_eq!(text(&mut conn, "SHOW statement_timeout").await, "22s");
    let pg = conn.as_postgres().unwrap();
    let customers: i64 =
        sqlx::query_scalar("SELECT count(*) FROM customers WHERE name = 'only in A'")
            .fetch_one(&mut *pg)
            .await
            .unwrap();
    assert_eq!(customers, 0, "B's customers table is B's own");
    let leftovers: (bool, i64, i64, i64, String, bool) = sqlx::query_as(
        "SELECT to_regclass('pg_temp.dirt') IS NULL,
                (SELECT count(*) FROM pg_prepared_statements WHERE from_sql),
                (SELECT count(*) FROM pg_listening_channels()),
                (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),
                current_setting('work_mem'),
                current_user = session_user",
    )
    .fetch_one(&mut *pg)
    .await
    .unwrap();
    assert_eq!(
        leftovers,
        (true, 0, 0, 0, default_work_mem, true),
        "(no temp table, SQL PREPARE, channels, advisory locks, work_mem, role)"
    );
    // Resetting the session lands in no tenant's schema, not in A's.
    conn.execute_raw("RESET search_path").await.unwrap();
    let path = text(&mut conn, "SHOW search_path").await;
    assert!(!path.contains("spda") && !path.contains("spua"), "{path}");
    let err = conn
        .execute_raw("SELECT count(*) FROM customers")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    conn.poison(); // its search_path was changed by hand: not for the pool
}

/// How many driver-prepared statements (not SQL `PREPARE`s) of `sql` the session holds; asked
/// over the simple protocol, so asking prepares nothing.
async fn kept_statement_count(conn: &mut TenantConnection, sql: &str) -> i64 {
    let pg = conn.as_postgres().unwrap();
    let ask = format!(
        "SELECT count(*) FROM pg_prepared_statements WHERE NOT from_sql AND statement = '{}'",
        sql.replace('\'', "''")
    );
    sqlx::raw_sql(&ask).fetch_one(pg).await.unwrap().get(0)
}

/// A spare left in a state a reset must not paper over is closed, and B gets a new backend.
async fn dirty_spare_is_closed(dirty: &[&str]) {
    let (t, a, b) = one_pool_neighbours().await;
    let pools = t.app.pools();
    let a_pid = use_and_evict(&t, &a, dirty).await;
    assert_eq!(pools.stats().spare_connections, 1);

    let mut conn = pools.acquire(&*config(&t, &b).await).await.unwrap();
    assert_ne!(
        pid(&mut conn).await,
        a_pid,
        "a new backend, not the dirty one"
    );
    assert_eq!(pools.stats().connections_taken_over, 0);
    assert_eq!(text(&mut conn, "SHOW search_path").await, "spua");
}

#[tokio::test]
async fn a_spare_left_inside_a_transaction_is_closed_not_handed_over() {
    dirty_spare_is_closed(&["BEGIN; INSERT INTO customers (name) VALUES ('uncommitted A')"]).await;
    // A transaction block that failed refuses the reset too.
    dirty_spare_is_closed(&["BEGIN", "SELECT 1/0"]).await;
}

#[tokio::test]
async fn a_spare_holding_a_sql_prepare_is_closed_not_handed_over() {
    // The reset keeps the driver's statements, so one made with SQL PREPARE (whose name B's code
    // could meet) closes the spare instead.
    dirty_spare_is_closed(&["PREPARE leftover AS SELECT name FROM customers"]).await;
}

#[tokio::test]
async fn a_tenant_of_another_schema_shape_gets_no_prepared_statement_of_the_one_before() {
    let (t, a, b) = one_pool_neighbours().await;
    let pools = t.app.pools();
    // B's schema is at another migration (as during a fleet migration): the same SQL text may
    // mean other columns there.
    t.registry()
        .set_schema_state(&b.code, 1, Some("another-shape"))
        .await
        .unwrap();
    let names = "SELECT coalesce(string_agg(name, ',' ORDER BY id), '') FROM customers";
    let mut conn = pools.acquire(&*config(&t, &a).await).await.unwrap();
    let a_pid = pid(&mut conn).await;
    text(&mut conn, names).await;
    assert_eq!(kept_statement_count(&mut conn, names).await, 1);
    drop(conn);
    pools.evict(a.id);

    let mut conn = pools.acquire(&*config(&t, &b).await).await.unwrap();
    assert_eq!(pid(&mut conn).await, a_pid, "taken over");
    let stats = pools.stats();
    assert_eq!(
        (
            stats.connections_taken_over,
            stats.takeovers_keeping_statements
        ),
        (1, 0)
    );
    assert_eq!(kept_statement_count(&mut conn, names).await, 0, "dropped");
    assert_eq!(text(&mut conn, "SHOW search_path").await, "spua");
}

/// The number of columns of `SELECT * FROM customers`' first row, by a driver-cached statement.
async fn columns(conn: &mut TenantConnection) -> Result<usize, sqlx::Error> {
    let pg = conn.as_postgres().unwrap();
    let row = sqlx::query("SELECT * FROM customers").fetch_one(pg).await?;
    Ok(row.len())
}

#[tokio::test]
async fn a_migrated_tenant_gets_a_new_pool_without_the_statements_of_its_schema_before() {
    let (t, a, _) = one_pool_neighbours().await;
    let pools = t.app.pools();
    let before = config(&t, &a).await;
    assert!(before.tenant.schema_managed && before.tenant.schema_checksum.is_some());
    let mut conn = pools.acquire(&before).await.unwrap();
    conn.execute_raw("INSERT INTO customers (name) VALUES ('x')")
        .await
        .unwrap();
    let old_width = columns(&mut conn).await.unwrap();
    // A migration changes the table under the statement the driver cached (here by hand, on the
    // same session)...
    conn.execute_raw("ALTER TABLE customers ADD COLUMN migrated_in int")
        .await
        .unwrap();
    let err = columns(&mut conn).await.unwrap_err();
    assert!(
        err.to_string().contains("must not change result type"),
        "{err}"
    );
    drop(conn);
    // ...and, as a fleet migration does, the registry's mirror records the new shape.
    t.registry()
        .set_schema_state(
            &a.code,
            before.tenant.schema_version.unwrap() + 1,
            Some("migrated"),
        )
        .await
        .unwrap();
    let opened = pools.stats().pools_opened;

    let mut conn = pools.acquire(&*config(&t, &a).await).await.unwrap();
    assert_eq!(pools.stats().pools_opened, opened + 1, "a new pool");
    let width = columns(&mut conn)
        .await
        .expect("no statement of the schema before");
    assert_eq!(width, old_width + 1);
    // Once built, the pool is reused while the shape stays.
    drop(conn);
    pools.acquire(&*config(&t, &a).await).await.unwrap();
    assert_eq!(pools.stats().pools_opened, opened + 1);
}

#[tokio::test]
async fn spares_stay_with_their_database_and_are_off_when_set_to_zero() {
    // Tenants in different databases never share a connection.
    let t = TestApp::spawn_with(one_pool(), None).await;
    let (a, _) = neighbours(&t, "SP").await;
    let (_, far) = neighbours(&t, "FAR").await;
    let pools = t.app.pools();
    let a_pid = use_and_evict(&t, &a, &[]).await;
    let mut conn = pools.acquire(&*config(&t, &far).await).await.unwrap();
    assert_ne!(pid(&mut conn).await, a_pid);
    assert_eq!(pools.stats().connections_taken_over, 0);
    drop(conn);

    // `spare_connections: 0`: an evicted pool's connections close.
    let off = PoolManagerSettings {
        spare_connections: 0,
        ..one_pool()
    };
    let t = TestApp::spawn_with(off, None).await;
    let (a, b) = neighbours(&t, "SP").await;
    let pools = t.app.pools();
    let a_pid = use_and_evict(&t, &a, &[]).await;
    assert_eq!(pools.stats().spare_connections, 0);
    let mut conn = pools.acquire(&*config(&t, &b).await).await.unwrap();
    assert_ne!(pid(&mut conn).await, a_pid);
}

#[tokio::test]
async fn a_connection_out_when_its_pool_is_evicted_is_parked_on_return_unless_poisoned() {
    let (t, a, b) = one_pool_neighbours().await;
    let pools = t.app.pools();
    let (ca, cb) = (config(&t, &a).await, config(&t, &b).await);

    // A's pool is evicted while its only connection serves a request.
    let mut conn = pools.acquire(&ca).await.unwrap();
    let a_pid = pid(&mut conn).await;
    pools.evict(a.id);
    assert_eq!(pools.stats().spare_connections, 0, "still out");
    drop(conn);
    assert_eq!(
        pools.stats().spare_connections,
        1,
        "parked on return, not closed"
    );
    let mut conn = pools.acquire(&cb).await.unwrap();
    assert_eq!(pid(&mut conn).await, a_pid, "B took A's backend over");
    assert_eq!(pools.stats().connections_taken_over, 1);
    assert_eq!(text(&mut conn, "SHOW search_path").await, "spua");

    // A poisoned connection that comes back to an evicted pool is closed.
    pools.evict(b.id);
    conn.poison();
    drop(conn);
    assert_eq!(pools.stats().spare_connections, 0, "poisoned: closed");
    let mut conn = pools.acquire(&ca).await.unwrap();
    assert_ne!(pid(&mut conn).await, a_pid, "a new backend");
    assert_eq!(pools.stats().connections_taken_over, 1);
}
