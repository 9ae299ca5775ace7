//! The admin backup endpoints: streaming a fresh backup, storing one, listing them.

use crate::backup::{seed_rows_and_files, state, stored, FILES};
use crate::common::{error_code, On, TestApp};
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn streaming_endpoint_returns_a_valid_archive_and_keeps_no_copy() {
    let t = TestApp::spawn().await;
    let acme = t.tenant("ACME", On::Sqlite).await;
    seed_rows_and_files(&t, "ACME").await;
    let owner = t.owner_token().await;

    let url = t.url(&format!("/api/admin/tenants/{}/backup", acme.id));
    let r = t.client.get(url).bearer_auth(&owner).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"ACME-")
            && disposition.ends_with(".tar.zst\""),
        "{disposition}"
    );
    let length: usize = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = r.bytes().await.unwrap();
    assert_eq!(bytes.len(), length);
    let file = t.dir.path().join("download.tar.zst");
    std::fs::write(&file, &bytes).unwrap();

    let manifest = tenantry::backup::verify(&file).await.unwrap();
    assert_eq!(manifest.tenant.as_ref().unwrap().id, acme.id);
    let mut names: Vec<_> = manifest.files.iter().map(|f| f.name.clone()).collect();
    names.sort();
    let mut expected: Vec<_> = FILES.iter().map(|(p, _)| format!("files/{p}")).collect();
    expected.sort();
    assert_eq!(names, expected);
    assert!(stored(&t, "ACME").is_empty(), "a download is not stored");
}

#[tokio::test]
async fn a_stored_backup_answers_its_manifest_and_shows_in_the_listing() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    seed_rows_and_files(&t, "ACME").await;
    let owner = t.owner_token().await;

    let (s, created) = t
        .call(
            Method::POST,
            "/api/admin/tenants/ACME/backups",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(created["manifest"]["tenant"]["code"], "ACME");
    assert_eq!(
        created["manifest"]["files"].as_array().unwrap().len(),
        FILES.len()
    );
    let (s, list) = t
        .call(
            Method::GET,
            "/api/admin/tenants/ACME/backups",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["file"], created["file"]);
    assert_eq!(data[0]["files"], FILES.len());
    assert_eq!(stored(&t, "ACME").len(), 1);
}

#[tokio::test]
async fn backup_endpoints_need_an_owner_token_and_an_existing_tenant() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    let tenant_token = t.login("ACME").await;
    let (s, _) = t
        .call(
            Method::GET,
            "/api/admin/tenants/ACME/backup",
            Some(&tenant_token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let owner = t.owner_token().await;
    let (s, body) = t
        .call(
            Method::POST,
            "/api/admin/tenants/NOPE/backups",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::NOT_FOUND, "tenant_not_found")
    );
}

/// Stores a backup of `code` through the API; its file name.
async fn store_backup(t: &TestApp, owner: &str, code: &str) -> String {
    let path = format!("/api/admin/tenants/{code}/backups");
    let (s, created) = t.call(Method::POST, &path, Some(owner), None).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    created["file"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_listed_backup_restores_over_http_as_a_new_tenant_with_its_rows_and_files() {
    let t = TestApp::spawn().await;
    let acme = t.tenant("ACME", On::Pg(0)).await;
    seed_rows_and_files(&t, "ACME").await;
    let owner = t.owner_token().await;
    let file = store_backup(&t, &owner, "ACME").await;

    let path = format!("/api/admin/tenants/{}/backups/{file}/restore", acme.id);
    let body = serde_json::json!({"into": "newco"});
    let (s, started) = t.call(Method::POST, &path, Some(&owner), Some(body)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{started}");
    assert_eq!(started["into"], "NEWCO");
    let job = t.job_done(&owner, started["job"].as_str().unwrap()).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["kind"], "restore_into");
    assert_eq!(job["items"][0]["tenant"]["code"], "NEWCO");
    assert_eq!(job["items"][0]["tenant"]["status"], "active");

    assert_eq!(state(&t, "NEWCO").await, state(&t, "ACME").await);
    let token = t.login("NEWCO").await;
    let (s, customers) = t
        .call(Method::GET, "/api/customers", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(customers["total"], 2, "{customers}");
    for (name, bytes) in FILES {
        let url = t.url(&format!("/api/files/{name}"));
        let r = t.client.get(url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.bytes().await.unwrap().as_ref(), bytes, "{name}");
    }
    let (_, audit) = t
        .call(
            Method::GET,
            "/api/admin/audit?tenant=NEWCO",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(audit["data"][0]["action"], "tenant.restore", "{audit}");
}

#[tokio::test]
async fn a_restore_under_a_taken_code_or_of_a_missing_backup_is_refused_before_any_job() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    t.tenant("TAKEN", On::Sqlite).await;
    let owner = t.owner_token().await;
    let file = store_backup(&t, &owner, "ACME").await;
    let restore = |file: String, into: &'static str| {
        let path = format!("/api/admin/tenants/ACME/backups/{file}/restore");
        let body = serde_json::json!({ "into": into });
        let t = &t;
        let owner = owner.clone();
        async move { t.call(Method::POST, &path, Some(&owner), Some(body)).await }
    };

    let (s, body) = restore(file.clone(), "TAKEN").await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::CONFLICT, "conflict"),
        "{body}"
    );
    let (s, body) = restore("nope.tar.zst".into(), "NEWCO").await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found"),
        "{body}"
    );
    let (s, body) = restore(file, "not a code!").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("code"),
        "{body}"
    );
    let (_, jobs) = t
        .call(Method::GET, "/api/admin/jobs", Some(&owner), None)
        .await;
    let kinds: Vec<_> = jobs["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| &j["kind"])
        .collect();
    assert!(!kinds.iter().any(|k| *k == "restore_into"), "{jobs}");
    assert!(t
        .registry()
        .tenant(&crate::backup::code("NEWCO"))
        .await
        .is_err());
}
