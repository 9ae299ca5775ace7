//! kill -9 of a provisioning process after each step: never an active tenant without its database,
//! never a database without a registry row, and `tenant provision --retry` always finishes the job.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use tenantry::registry::{CacheSettings, Registry};
use tenantry::secrets::{MasterKey, SecretBox};
use tenantry::tenant::TenantStatus;
use tenantry_testkit::{shared_pg, unique_name};

fn tenantry(data: &std::path::Path) -> Command {
    crate::common::tenantry_cmd(data)
}

#[tokio::test]
async fn provisioning_killed_after_any_step_leaves_no_half_built_tenant_and_retry_finishes() {
    let pg = shared_pg(0);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = MasterKey::create_file(&data.join("master.key")).unwrap();
    let port = pg.port().to_string();
    let out = tenantry(&data)
        .args([
            "server",
            "add",
            "--name",
            "pg0",
            "--engine",
            "postgres",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
        ])
        .args(["--admin-user", "postgres", "--tls", "disable"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prefix = unique_name("kill");
    let registry_url = format!("sqlite://{}/registry.db", data.display());

    for (i, step) in ["registry row", "create database", "migrate", "admin user"]
        .iter()
        .enumerate()
    {
        let code = format!("KILL{i}");
        let db = format!("{prefix}_{i}");
        let mut child = tenantry(&data)
            .args([
                "tenant",
                "add",
                &code,
                "--name",
                "Killed",
                "--server",
                "pg0",
                "--database",
                &db,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let wanted = format!("step {step} done");
        let reached = lines.by_ref().map_while(Result::ok).any(|l| l == wanted);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert!(reached, "provisioning never reported {wanted:?}");

        let registry = Registry::open(
            &registry_url,
            SecretBox::new(key.clone()),
            CacheSettings::default(),
        )
        .await
        .unwrap();
        let tenant = registry
            .tenant(&code.parse().unwrap())
            .await
            .expect("the row comes before anything else");
        let exists = pg
            .psql(
                "postgres",
                &format!("SELECT count(*) FROM pg_database WHERE datname = '{db}'"),
            )
            .unwrap();
        if tenant.status == TenantStatus::Active {
            assert_eq!(
                exists.trim(),
                "1",
                "active tenant {code} without its database"
            );
            assert_eq!(
                tenant.schema_version,
                Some(tenantry::migrate::latest_version(tenant.engine))
            );
        } else {
            assert_eq!(
                tenant.status,
                TenantStatus::Provisioning,
                "killed after {step}"
            );
        }
        registry.close().await;

        let out = tenantry(&data)
            .args(["tenant", "provision", "--retry", &code])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "retry after {step}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("tenant {code} is active")));
        let users = pg.psql(&db, "SELECT username FROM users").unwrap();
        assert_eq!(users.trim(), "admin");
    }

    // No database of this test exists without a registry row.
    let dbs = pg
        .psql(
            "postgres",
            &format!("SELECT datname FROM pg_database WHERE datname LIKE '{prefix}%' ORDER BY 1"),
        )
        .unwrap();
    let registry = Registry::open(&registry_url, SecretBox::new(key), CacheSettings::default())
        .await
        .unwrap();
    let (tenants, _) = registry
        .list_tenants(&tenantry::registry::TenantFilter {
            page: 1,
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    for db in dbs.lines() {
        assert!(
            tenants.iter().any(|t| t.database.as_str() == db),
            "orphan database {db}"
        );
    }
    assert_eq!(tenants.len(), 4);
    assert!(tenants.iter().all(|t| t.status == TenantStatus::Active));
}
