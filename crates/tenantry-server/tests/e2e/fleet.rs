//! Fleet migrations over real databases: failure isolation, resume, checksum refusal, drift.

use crate::common::{On, TestApp};
use std::sync::atomic::{AtomicUsize, Ordering};
use tenantry::fleet::{self, FleetOptions, Outcome};
use tenantry::registry::Tenant;
use tenantry::tenant::Engine;

/// The binary's newest tenant schema version (every tenant here is SQLite).
fn latest() -> i64 {
    tenantry::migrate::latest_version(Engine::Sqlite)
}

async fn sqlite_exec(t: &TestApp, tenant: &Tenant, sql: &str) {
    let config = t
        .registry()
        .tenant_config(&tenant.code)
        .await
        .unwrap()
        .unwrap();
    let mut conn = t.app.pools().acquire(&config).await.unwrap();
    conn.execute_raw(sql).await.unwrap();
}

#[tokio::test]
async fn fleet_of_fifty_with_one_broken_tenant_migrates_the_rest_and_a_rerun_resumes() {
    let t = TestApp::spawn().await;
    let mut tenants = Vec::new();
    for i in 0..44 {
        tenants.push(t.unmigrated_tenant(&format!("S{i:02}"), On::Sqlite).await);
    }
    for i in 0..4 {
        tenants.push(t.unmigrated_tenant(&format!("P{i}"), On::Pg(i % 2)).await);
    }
    tenants.push(t.unmigrated_tenant("M0", On::MariaDb).await);
    let broken = t.unmigrated_tenant("BROKEN", On::Sqlite).await;
    // A table in the way: the first migration cannot create `users`.
    sqlite_exec(&t, &broken, "CREATE TABLE users (x INTEGER)").await;

    let seen = AtomicUsize::new(0);
    let options = FleetOptions {
        concurrency: 4,
        ..FleetOptions::default()
    };
    let results = fleet::migrate_fleet(t.registry(), t.app.pools(), &options, |_, _| {
        seen.fetch_add(1, Ordering::SeqCst);
    })
    .await
    .unwrap();
    assert_eq!(
        seen.load(Ordering::SeqCst),
        50,
        "progress reported once per tenant"
    );
    for (code, outcome) in &results {
        if code.as_str() == "BROKEN" {
            assert!(outcome.is_failure(), "{outcome:?}");
        } else {
            assert_eq!(
                *outcome,
                Outcome::Migrated {
                    from: None,
                    to: latest()
                },
                "{code}"
            );
        }
    }
    let drift = fleet::drift(t.registry()).await.unwrap();
    let behind: Vec<_> = drift
        .iter()
        .filter(|d| d.state != "current")
        .map(|d| d.code.as_str())
        .collect();
    assert_eq!(behind, ["BROKEN"]);

    sqlite_exec(&t, &broken, "DROP TABLE users").await;
    let again = fleet::migrate_fleet(t.registry(), t.app.pools(), &options, |_, _| {})
        .await
        .unwrap();
    let migrated: Vec<_> = again
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Migrated { .. }))
        .map(|(c, _)| c.as_str())
        .collect();
    assert_eq!(
        migrated,
        ["BROKEN"],
        "the re-run only migrates what was left"
    );
    assert_eq!(
        again
            .iter()
            .filter(|(_, o)| *o == Outcome::Current { version: latest() })
            .count(),
        49
    );
    assert!(fleet::drift(t.registry())
        .await
        .unwrap()
        .iter()
        .all(|d| d.state == "current"));
}

#[tokio::test]
async fn changed_checksum_of_an_applied_migration_is_refused_when_verified() {
    let t = TestApp::spawn().await;
    let tenant = t.tenant("TAMPER", On::Sqlite).await;
    let results = fleet::migrate_fleet(
        t.registry(),
        t.app.pools(),
        &FleetOptions::default(),
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(results[0].1, Outcome::Current { version: latest() });
    sqlite_exec(&t, &tenant, "UPDATE _sqlx_migrations SET checksum = X'00'").await;
    // Without --verify the registry's mirror vouches for the tenant: no connection is opened.
    let fast = fleet::migrate_fleet(
        t.registry(),
        t.app.pools(),
        &FleetOptions::default(),
        |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(fast[0].1, Outcome::Current { version: latest() });
    let verify = FleetOptions {
        verify: true,
        ..FleetOptions::default()
    };
    let results = fleet::migrate_fleet(t.registry(), t.app.pools(), &verify, |_, _| {})
        .await
        .unwrap();
    match &results[0].1 {
        Outcome::Failed { reason } => assert!(reason.contains("modified"), "{reason}"),
        other => panic!("tampered migration accepted: {other:?}"),
    }
}

#[tokio::test]
async fn dry_run_changes_nothing_and_only_limits_the_fleet() {
    let t = TestApp::spawn().await;
    t.unmigrated_tenant("AAA", On::Sqlite).await;
    t.unmigrated_tenant("BBB", On::Sqlite).await;
    let dry = FleetOptions {
        dry_run: true,
        ..FleetOptions::default()
    };
    let results = fleet::migrate_fleet(t.registry(), t.app.pools(), &dry, |_, _| {})
        .await
        .unwrap();
    assert!(results.iter().all(|(_, o)| *o
        == Outcome::WouldMigrate {
            from: None,
            to: latest()
        }));
    let only = FleetOptions {
        only: vec!["BBB".parse().unwrap()],
        ..FleetOptions::default()
    };
    let results = fleet::migrate_fleet(t.registry(), t.app.pools(), &only, |_, _| {})
        .await
        .unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].0.as_str(), "BBB");
    let drift = fleet::drift(t.registry()).await.unwrap();
    let states: Vec<_> = drift.iter().map(|d| (d.code.as_str(), d.state)).collect();
    assert_eq!(states, [("AAA", "behind"), ("BBB", "current")]);
}
