//! The backup commands of the CLI, and registry backups (SQLite through the CLI, PostgreSQL
//! through the library).

use crate::common::{demo_data_dir, tenantry_cmd, On, TestApp};
use std::path::Path;
use std::process::Output;
use tenantry::platform::{Actor, Platform};
use tenantry::pools::PoolManagerSettings;
use tenantry::tenant::TenantStatus;
use tenantry_testkit::{shared_pg, unique_name};

fn tenantry(data_dir: &Path, args: &[&str]) -> Output {
    tenantry_cmd(data_dir).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn archives(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tar.zst"))
            .count()
    })
}

#[tokio::test]
async fn restore_over_a_tenant_without_confirmation_is_refused() {
    let (_dir, data, _) = demo_data_dir().await;
    let out = tenantry(&data, &["backup", "DEMO", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let file = report["path"].as_str().unwrap();

    let out = tenantry(&data, &["restore", "DEMO", file]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("--confirm"), "{}", text(&out));
    let out = tenantry(&data, &["audit", "--json"]);
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Like every platform operation, the refusal is audited: nothing was restored.
    assert_eq!(
        (&audit[0]["action"], &audit[0]["result"]),
        (&"tenant.restore".into(), &"refused".into()),
        "no restore was attempted"
    );
    assert_eq!(audit[1]["action"], "tenant.backup");
}

#[tokio::test]
async fn backup_all_with_one_broken_tenant_backs_up_the_rest_and_exits_1() {
    let (_dir, data, _) = demo_data_dir().await;
    let db = data.join("servers/ours/tenant_demo.db");
    assert!(db.is_file());
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }

    let out = tenantry(&data, &["backup", "--all", "--concurrency", "2", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let results: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let outcome: Vec<(&str, bool)> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["code"].as_str().unwrap(), r["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        outcome,
        [
            ("ACME", true),
            ("DCPSP", true),
            ("DEMO", false),
            ("GLOBALSEC", true),
            ("TECHSTART", true)
        ]
    );
    for code in ["ACME", "DCPSP", "GLOBALSEC", "TECHSTART"] {
        assert_eq!(archives(&data.join("backups").join(code)), 1, "{code}");
    }
    assert_eq!(archives(&data.join("backups/DEMO")), 0);
    assert!(
        text(&out).contains("tenant_demo.db does not exist"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn registry_restore_brings_back_the_registry_as_it_was_backed_up() {
    let (_dir, data, _) = demo_data_dir().await;
    let file = data.join("registry-backup.tar.zst");
    let out = tenantry(
        &data,
        &["registry", "backup", "--out", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = tenantry(
        &data,
        &["tenant", "suspend", "ACME", "--reason", "after backup"],
    );
    assert!(out.status.success(), "{}", text(&out));

    let out = tenantry(&data, &["registry", "restore", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "refused without --confirm");
    let out = tenantry(
        &data,
        &["registry", "restore", file.to_str().unwrap(), "--confirm"],
    );
    assert!(out.status.success(), "{}", text(&out));

    let out = tenantry(&data, &["tenant", "show", "ACME", "--json"]);
    let acme: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(acme["status"], "active");
    let out = tenantry(&data, &["audit", "--json"]);
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(audit[0]["action"], "registry.restore");
    let actions: Vec<_> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["action"])
        .collect();
    assert!(
        !actions.iter().any(|a| *a == "suspend"),
        "the suspension came after the backup: {actions:?}"
    );
}

#[tokio::test]
async fn postgres_registry_round_trips_through_backup_and_restore() {
    let pg = shared_pg(0);
    let db = unique_name("registry");
    pg.psql("postgres", &format!("CREATE DATABASE {db}"))
        .unwrap();
    let url = pg.url(&db);
    let t = TestApp::spawn_with(PoolManagerSettings::default(), Some(url.clone())).await;
    t.tenant("ACME", On::Sqlite).await;
    let file = t.dir.path().join("registry.tar.zst");
    let actor = Actor::Cli {
        user: "test".into(),
    };
    t.platform()
        .backup_registry(&actor, &url, &file)
        .await
        .unwrap();
    t.tenant("LATER", On::Sqlite).await;

    let secrets = t.registry().secrets();
    Platform::restore_registry(&actor, &url, &file, &secrets, true)
        .await
        .unwrap();
    t.registry().invalidate_all();
    let acme = t.registry().tenant(&"ACME".parse().unwrap()).await.unwrap();
    assert_eq!(acme.status, TenantStatus::Active);
    let later = t.registry().tenant(&"LATER".parse().unwrap()).await;
    assert!(later.is_err(), "LATER came after the backup");
}
