//! One operation, two front ends: the CLI and the admin API both reach the platform, and each
//! audit row names who asked.

use crate::common::{as_user, text};
use serde_json::json;
use tenantry_server::startup::{self, App};

/// Serves `app` on a free port until the returned sender is dropped; returns the base URL.
async fn serve(app: App) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(startup::run(listener, app, async move {
        let _ = rx.await;
    }));
    (url, tx)
}

#[tokio::test]
async fn a_suspension_by_the_cli_and_one_by_the_admin_api_are_audited_with_their_actors() {
    let (_dir, data, config) = crate::common::demo_data_dir().await;
    let out = as_user(&data, "ops-bob")
        .args(["tenant", "suspend", "ACME", "--reason", "unpaid"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));

    let app = App::open(&config, startup::load_master_key(&config).unwrap())
        .await
        .unwrap();
    let (url, _stop) = serve(app.clone()).await;
    let client = reqwest::Client::new();
    let login = json!({"email": tenantry_server::demo::OWNER_EMAIL, "password": tenantry_server::demo::DEMO_PASSWORD});
    let session: serde_json::Value = client
        .post(format!("{url}/api/admin/login"))
        .json(&login)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["token"].as_str().unwrap();
    let resp = client
        .post(format!("{url}/api/admin/tenants/DEMO/suspend"))
        .bearer_auth(token)
        .json(&json!({"reason": "audit"}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());

    let (rows, _) = app.platform().audit_log(None, 1, 2).await.unwrap();
    let seen: Vec<_> = rows
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str(), e.result.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("tenant.suspend", "owner:owner@tenantry.local", "ok"),
            ("tenant.suspend", "cli:ops-bob", "ok"),
        ]
    );
    let demo = app
        .registry()
        .tenant(&"DEMO".parse().unwrap())
        .await
        .unwrap();
    let acme = app
        .registry()
        .tenant(&"ACME".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(rows[0].tenant_id, Some(demo.id.to_string()));
    assert_eq!(rows[1].tenant_id, Some(acme.id.to_string()));
    assert_eq!(rows[1].detail["reason"], "unpaid");
}
