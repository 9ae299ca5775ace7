//! The operator CLI against a real registry (the demo's).

use std::process::{Command, Output};

fn tenantry(data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .args(args)
        .env("TENANTRY_DATA_DIR", data_dir)
        .env_remove("TENANTRY_MASTER_KEY")
        .env_remove("TENANTRY_REGISTRY_URL")
        .output()
        .unwrap()
}

#[tokio::test]
async fn cli_lists_suspends_and_reactivates_tenants_with_meaningful_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = tenantry_server::config::Config {
        data_dir: data.clone(),
        ..Default::default()
    };
    let app = tenantry_server::demo::prepare(&config).await.unwrap();
    app.registry().close().await;

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
