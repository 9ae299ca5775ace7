//! The database size in a tenant's stats, on every engine that reports one (SQL Server's is in
//! `mssql_lifecycle`).

use crate::common::{On, TestApp};
use reqwest::{Method, StatusCode};
use tenantry::tenant::{DatabaseName, Placement};
use tenantry_testkit::unique_name;

async fn database_bytes(t: &TestApp, owner: &str, code: &str) -> i64 {
    let path = format!("/api/admin/tenants/{code}/stats");
    let (s, stats) = t.call(Method::GET, &path, Some(owner), None).await;
    assert_eq!(s, StatusCode::OK, "{stats}");
    stats["databaseBytes"]
        .as_i64()
        .unwrap_or_else(|| panic!("{code}: no size in {stats}"))
}

#[tokio::test]
async fn stats_report_the_size_of_the_database_or_of_a_shared_tenants_schema() {
    let t = TestApp::spawn().await;
    for (code, on) in [
        ("PGSIZE", On::Pg(0)),
        ("MARIASIZE", On::MariaDb),
        ("LITESIZE", On::Sqlite),
    ] {
        t.tenant(code, on).await;
    }
    let server = t.server(On::Pg(0)).await;
    let mut shared = TestApp::new_tenant("PGSHSIZE", &server);
    shared.placement = Placement::Shared;
    shared.schema = Some(DatabaseName::parse(&unique_name("s")).unwrap());
    t.provision(shared).await;
    let owner = t.owner_token().await;
    let whole = database_bytes(&t, &owner, "PGSIZE").await;
    let schema = database_bytes(&t, &owner, "PGSHSIZE").await;
    // A PostgreSQL database carries its catalog (several MB); one schema's tables far less.
    assert!(whole > 1_000_000, "{whole}");
    assert!(schema > 0 && schema < whole, "{schema} of {whole}");
    assert!(database_bytes(&t, &owner, "MARIASIZE").await > 0);
    assert!(database_bytes(&t, &owner, "LITESIZE").await > 0);
}
