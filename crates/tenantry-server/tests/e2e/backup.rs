//! Backup round trips per engine: seed rows and files, back up, destroy, restore, and find every
//! table and every file exactly as before. Also the helpers the other backup tests share.

use crate::common::{secret, On, TestApp};
use sqlx::Row;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tenantry::backup::{BackupReport, RestoreReport};
use tenantry::platform::{Actor, TenantRef};
use tenantry::storage::StoragePath;
use tenantry::tenant::{DatabaseName, Engine, Placement, TenantCode};
use tenantry_testkit::unique_name;

/// Every file a seeded tenant holds: nested, binary, empty.
pub const FILES: [(&str, &[u8]); 3] = [
    ("docs/readme.txt", b"hello from the tenant\n"),
    ("reports/2024/q1.bin", &[0, 1, 2, 127, 128, 254, 255]),
    ("empty.txt", b""),
];

/// Everything a tenant holds: each table's rows (as text, sorted) and each file's bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct TenantState {
    pub tables: BTreeMap<String, Vec<String>>,
    pub files: BTreeMap<String, Vec<u8>>,
}

pub fn code(c: &str) -> TenantCode {
    TenantCode::parse(c).unwrap()
}

/// Who the backup tests act as (the audit log's `cli:test`).
pub fn tester() -> Actor {
    Actor::Cli {
        user: "test".into(),
    }
}

pub fn tref(c: &str) -> TenantRef {
    TenantRef::Code(code(c))
}

/// Backs tenant `c` up through the platform into its folder of the test app's backup store.
pub async fn backup(t: &TestApp, c: &str) -> BackupReport {
    t.platform()
        .backup(&tester(), &tref(c), None, &|_| {})
        .await
        .unwrap()
}

/// Restores tenant `c` over itself from `archive` (confirmed).
pub async fn restore(t: &TestApp, c: &str, archive: &std::path::Path) -> RestoreReport {
    t.platform()
        .restore(&tester(), &tref(c), archive, true, &|_| {})
        .await
        .unwrap()
}

/// Seeds two customers (with site and ticket each) through the API and uploads [`FILES`].
pub async fn seed_rows_and_files(t: &TestApp, c: &str) {
    let token = t.login(c).await;
    t.seed(&token, "first").await;
    t.seed(&token, "second").await;
    for (path, bytes) in FILES {
        let url = t.url(&format!("/api/files/{path}"));
        let r = t.client.put(url).bearer_auth(&token).body(bytes.to_vec());
        assert!(
            r.send().await.unwrap().status().is_success(),
            "upload {path}"
        );
    }
}

/// SQL listing the tenant's tables (in its own schema on PostgreSQL).
fn tables_sql(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => {
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        }
        Engine::Mysql => {
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'"
        }
        Engine::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        Engine::Mssql => "SELECT name FROM sys.tables",
    }
}

/// Column `i` as text (MariaDB may type long text as a blob).
fn text(row: &sqlx::any::AnyRow, i: usize) -> Option<String> {
    row.try_get::<Option<String>, _>(i).unwrap_or_else(|_| {
        let bytes: Option<Vec<u8>> = row.get(i);
        bytes.map(|b| String::from_utf8(b).unwrap())
    })
}

/// Texts of the first column of `q`'s rows.
async fn texts(conn: &mut sqlx::AnyConnection, q: &str, bind: Option<&str>) -> Vec<String> {
    let mut query = sqlx::query(q);
    if let Some(b) = bind {
        query = query.bind(b.to_owned());
    }
    let rows = query.fetch_all(&mut *conn).await.unwrap();
    rows.iter().map(|r| text(r, 0).unwrap()).collect()
}

/// Every row of `table` as one text each: JSON on PostgreSQL, hex of each column elsewhere (so
/// every column type, timestamps and blobs included, compares exactly).
async fn rows(conn: &mut sqlx::AnyConnection, engine: Engine, table: &str) -> Vec<String> {
    let q = match engine {
        Engine::Postgres => format!("SELECT row_to_json(x)::text FROM \"{table}\" x"),
        _ => {
            let cols_q = match engine {
                Engine::Mysql => {
                    "SELECT CAST(column_name AS CHAR) FROM information_schema.columns \
                    WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position"
                }
                _ => "SELECT name FROM pragma_table_info(?) ORDER BY cid",
            };
            let cols = texts(conn, cols_q, Some(table)).await;
            let hexed: Vec<String> = cols.iter().map(|c| format!("HEX({c})")).collect();
            format!("SELECT {} FROM {table}", hexed.join(", "))
        }
    };
    let mut out: Vec<String> = sqlx::query(&q)
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (0..row.len())
                .map(|i| format!("{:?}", text(row, i)))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    out.sort();
    out
}

/// A direct `Any` connection to the tenant's database (in its schema), outside its pool.
async fn any_conn(config: &tenantry::registry::TenantConfig) -> sqlx::AnyConnection {
    use sqlx::Connection;
    tenantry::db::install_drivers();
    let url = tenantry::db::connect_url(&config.source.target()).unwrap();
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    if let Some(schema) = &config.source.schema {
        sqlx::query(&format!("SET search_path TO \"{schema}\""))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn
}

/// Reads every table and every file of tenant `c`.
pub async fn state(t: &TestApp, c: &str) -> TenantState {
    let config = t.registry().tenant_config(&code(c)).await.unwrap().unwrap();
    let mut conn = any_conn(&config).await;
    let engine = config.source.engine;
    let names = texts(&mut conn, tables_sql(engine), None).await;
    let mut tables = BTreeMap::new();
    for name in names {
        let r = rows(&mut conn, engine, &name).await;
        tables.insert(name, r);
    }
    let id = config.tenant.id;
    let mut files = BTreeMap::new();
    for f in t.app.storage().list(id).await.unwrap() {
        let bytes = t.app.storage().get(id, &f.path).await.unwrap();
        files.insert(f.path.to_string(), bytes);
    }
    TenantState { tables, files }
}

/// Drops every table of tenant `c` (children first) and deletes every file.
pub async fn destroy(t: &TestApp, c: &str) {
    let before = state(t, c).await;
    let config = t.registry().tenant_config(&code(c)).await.unwrap().unwrap();
    for path in before.files.keys() {
        let path = StoragePath::parse(path).unwrap();
        t.app
            .storage()
            .delete(config.tenant.id, &path)
            .await
            .unwrap();
    }
    let mut conn = any_conn(&config).await;
    let order = ["tickets", "sites", "customers", "users"];
    let mut names: Vec<&String> = before.tables.keys().collect();
    names.sort_by_key(|n| order.iter().position(|o| o == n).unwrap_or(order.len()));
    for name in names {
        let q = match config.source.engine {
            Engine::Postgres => format!("DROP TABLE \"{name}\""),
            _ => format!("DROP TABLE {name}"),
        };
        sqlx::query(&q).execute(&mut conn).await.unwrap();
    }
    let after = state(t, c).await;
    assert!(
        after.tables.is_empty() && after.files.is_empty(),
        "{after:?}"
    );
}

/// Seeds, backs up, destroys, restores and compares.
async fn round_trip(t: &TestApp, c: &str) {
    seed_rows_and_files(t, c).await;
    let before = state(t, c).await;
    assert_eq!(before.tables["customers"].len(), 2, "{before:?}");
    assert_eq!(before.files.len(), FILES.len());
    let report = backup(t, c).await;
    destroy(t, c).await;
    restore(t, c, &report.path).await;
    assert_eq!(state(t, c).await, before);
}

#[tokio::test]
async fn sqlite_tenant_round_trips_through_backup_destroy_and_restore() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    round_trip(&t, "ACME").await;
}

#[tokio::test]
async fn postgres_dedicated_tenant_round_trips_through_backup_destroy_and_restore() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Pg(0)).await;
    round_trip(&t, "ACME").await;
}

/// Provisions `codes` as shared-placement tenants (schema = lower-case code) in one new database.
pub async fn shared_tenants(t: &TestApp, codes: &[&str]) {
    let server = t.server(On::Pg(0)).await;
    let shared = DatabaseName::parse(&unique_name("shared")).unwrap();
    for c in codes {
        let mut new = TestApp::new_tenant(c, &server);
        new.placement = Placement::Shared;
        new.database = Some(shared.clone());
        new.schema = Some(DatabaseName::parse(&c.to_ascii_lowercase()).unwrap());
        t.provision(new).await;
    }
}

#[tokio::test]
async fn postgres_shared_schema_tenant_round_trips_through_backup_destroy_and_restore() {
    let t = TestApp::spawn().await;
    shared_tenants(&t, &["ACME", "NEIGHBOUR"]).await;
    round_trip(&t, "ACME").await;
}

#[tokio::test]
async fn restoring_a_shared_schema_tenant_leaves_its_neighbour_alone() {
    let t = TestApp::spawn().await;
    shared_tenants(&t, &["ACME", "NEIGHBOUR"]).await;
    seed_rows_and_files(&t, "NEIGHBOUR").await;
    let report = backup(&t, "ACME").await;
    let token = t.login("NEIGHBOUR").await;
    t.seed(&token, "after the backup").await;
    let neighbour = state(&t, "NEIGHBOUR").await;
    restore(&t, "ACME", &report.path).await;
    assert_eq!(state(&t, "NEIGHBOUR").await, neighbour);
}

#[tokio::test]
async fn mariadb_tenant_with_a_password_round_trips_through_backup_destroy_and_restore() {
    let t = TestApp::spawn().await;
    let server = t.server(On::MariaDb).await;
    let mut new = TestApp::new_tenant("ACME", &server);
    let user = unique_name("u");
    let db = new.database.clone().unwrap();
    crate::common::mariadb_user_for_database(db.as_str(), &user, "backup-pw-1");
    new.username = Some(user);
    new.password = Some(secret("backup-pw-1"));
    t.provision(new).await;
    round_trip(&t, "ACME").await;
}

/// The archive files stored for tenant `c` in the test app's backup folder.
pub fn stored(t: &TestApp, c: &str) -> Vec<PathBuf> {
    let dir = t.platform().backup_store().tenant_dir(&code(c));
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}
