//! The operator CLI against a real registry (the demo's).

use std::process::Output;

fn tenantry(data_dir: &std::path::Path, args: &[&str]) -> Output {
    crate::common::tenantry_cmd(data_dir)
        .env("USER", "ops-ann")
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn cli_lists_suspends_and_reactivates_tenants_with_meaningful_exit_codes() {
    let (_dir, data, _) = crate::common::demo_data_dir().await;

    let out = tenantry(&data, &["tenant", "list", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["ACME", "DCPSP", "DEMO", "GLOBALSEC", "TECHSTART"]);

    let out = tenantry(&data, &["tenant", "suspend", "ACME", "--reason", "unpaid"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "tenant ACME is suspended"
    );
    let out = tenantry(&data, &["tenant", "list", "--status", "suspended"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("CODE") && text.contains("ACME") && !text.contains("DEMO"),
        "{text}"
    );
    let out = tenantry(&data, &["tenant", "suspend", "ACME", "--reason", "again"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("suspend needs it active"));
    assert!(tenantry(&data, &["tenant", "reactivate", "ACME"])
        .status
        .success());

    let out = tenantry(&data, &["tenant", "show", "NOPE"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tenant NOPE not found"));
    let out = tenantry(&data, &["tenant", "show", "bad code"]);
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}

#[tokio::test]
async fn cli_adds_a_server_provisions_a_tenant_deletes_it_and_shows_the_audit() {
    let (_dir, data, _) = crate::common::demo_data_dir().await;
    let text = |o: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };

    let out = tenantry(
        &data,
        &[
            "server",
            "add",
            "--name",
            "bad",
            "--engine",
            "postgres",
            "--host",
            "no such host!",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("host"), "{}", text(&out));
    let lite = data.parent().unwrap().join("lite");
    let out = tenantry(
        &data,
        &[
            "server",
            "add",
            "--name",
            "lite",
            "--engine",
            "sqlite",
            "--host",
            lite.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));

    let out = tenantry(
        &data,
        &[
            "tenant", "add", "NEWCO", "--name", "New Co", "--server", "lite",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("admin user: admin / "),
        "{}",
        text(&out)
    );
    assert!(lite.join("tenant_newco.db").exists());

    let out = tenantry(&data, &["tenant", "delete", "NEWCO"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("confirmation"));
    assert!(
        lite.join("tenant_newco.db").exists(),
        "nothing dropped without confirmation"
    );
    let out = tenantry(&data, &["tenant", "delete", "NEWCO", "--confirm", "DELETE"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!lite.join("tenant_newco.db").exists());

    let out = tenantry(&data, &["server", "remove", "lite"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a server holding a tombstone is kept"
    );

    let out = tenantry(&data, &["audit", "--json"]);
    let entries: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let actions: Vec<_> = entries
        .as_array()
        .unwrap()
        .iter()
        .take(6)
        .map(|e| (e["action"].as_str().unwrap(), e["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("server.remove", "refused"),
            ("tenant.delete", "ok"),
            ("tenant.delete", "refused"),
            ("tenant.provision", "ok"),
            ("server.add", "ok"),
            ("server.add", "refused"),
        ],
        "every command is audited, refusals too"
    );
    let entries = entries.as_array().unwrap();
    assert!(entries[0..6].iter().all(|e| e["actor"] == "cli:ops-ann"));
    assert_eq!(entries[1]["detail"]["files"]["removed"], 0);
}

#[tokio::test]
async fn keys_rotate_re_encrypts_every_secret_and_keeps_every_tenant_reachable() {
    let (_dir, data, config) = crate::common::demo_data_dir().await;
    let out = crate::common::tenantry_cmd(&data)
        .args([
            "server",
            "add",
            "--name",
            "pg",
            "--engine",
            "postgres",
            "--host",
            "db.example.com",
        ])
        .args(["--admin-user", "postgres", "--admin-password-env", "PGPW"])
        .env("PGPW", "server-secret")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key_file = data.join("master.key");
    let old_ring = std::fs::read_to_string(&key_file).unwrap();

    let out = tenantry(&data, &["keys", "rotate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("(1 secret(s) re-encrypted"));
    let ring = std::fs::read_to_string(&key_file).unwrap();
    let lines: Vec<_> = ring.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[1],
        old_ring.trim(),
        "the old key is kept for servers not yet restarted"
    );

    // The registry opens with the new keyring, every secret is under the new key, every tenant answers.
    let secrets = tenantry_server::startup::load_master_key(&config).unwrap();
    let app = tenantry_server::startup::App::open(&config, secrets.clone())
        .await
        .unwrap();
    let server = app
        .registry()
        .server_by_name(&crate::common::server_name("pg"))
        .await
        .unwrap();
    let stored: String =
        sqlx::query_scalar("SELECT admin_password_enc FROM data_servers WHERE name = 'pg'")
            .fetch_one(app.registry().pool())
            .await
            .unwrap();
    assert_eq!(
        tenantry::secrets::SecretBox::key_id_of(&stored),
        Some(secrets.key_id())
    );
    let pw = app
        .registry()
        .server_admin_password(server.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tenantry::secrets::expose(&pw), "server-secret");
    for config in app.registry().all_configs().await.unwrap() {
        let mut conn = app.pools().acquire(&config).await.unwrap();
        conn.execute_raw("SELECT 1").await.unwrap();
    }
    app.registry().close().await;

    // The old key alone no longer opens the registry.
    std::fs::write(&key_file, old_ring).unwrap();
    let out = tenantry(&data, &["tenant", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match the registry"));
}

#[tokio::test]
async fn a_running_server_follows_a_rotation_made_by_another_process() {
    let (_dir, data, config) = crate::common::demo_data_dir().await;
    let out = crate::common::tenantry_cmd(&data)
        .args([
            "server",
            "add",
            "--name",
            "pg",
            "--engine",
            "postgres",
            "--host",
            "db.example.com",
        ])
        .args(["--admin-user", "postgres", "--admin-password-env", "PGPW"])
        .env("PGPW", "server-secret")
        .output()
        .unwrap();
    assert!(out.status.success());

    // The "running server": opened with the old keyring only.
    let running = tenantry_server::startup::App::open(
        &config,
        tenantry_server::startup::load_master_key(&config).unwrap(),
    )
    .await
    .unwrap();
    let old_id = running.registry().secrets().key_id().to_owned();
    assert!(tenantry(&data, &["keys", "rotate"]).status.success());

    // A cold read of a secret now under the new key reloads the keyring instead of failing.
    running.registry().invalidate_all();
    let server = running
        .registry()
        .server_by_name(&crate::common::server_name("pg"))
        .await
        .unwrap();
    let pw = running
        .registry()
        .server_admin_password(server.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tenantry::secrets::expose(&pw), "server-secret");
    assert_ne!(
        running.registry().secrets().key_id(),
        old_id,
        "the new key is current in the running process"
    );
    for c in running.registry().all_configs().await.unwrap() {
        let mut conn = running.pools().acquire(&c).await.unwrap();
        conn.execute_raw("SELECT 1").await.unwrap();
    }
}
