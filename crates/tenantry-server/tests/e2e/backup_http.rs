//! The admin backup endpoints: streaming a fresh backup, storing one, listing them.

use crate::backup::{seed_rows_and_files, stored, FILES};
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
