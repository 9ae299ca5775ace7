//! Restores: into a new tenant, refusals (tampered archive, other engine), and the audit trail.

use crate::backup::{backup, code, seed_rows_and_files, state, tester, tref, FILES};
use crate::common::{secret, On, TestApp};
use reqwest::{Method, StatusCode};
use std::io::Read;
use std::path::Path;
use tenantry::backup::{BackupError, NewTenantFrom};
use tenantry::platform::{Actor, PlatformError};
use tenantry::tenant::DatabaseName;
use tenantry::tenant::TenantStatus;
use tenantry_testkit::unique_name;

/// Copies archive `src` to `dest`, flipping one bit of the part `part` (the manifest is kept).
fn tamper(src: &Path, dest: &Path, part: &str) {
    let input = zstd::Decoder::new(std::fs::File::open(src).unwrap()).unwrap();
    let mut archive = tar::Archive::new(input);
    let output = zstd::Encoder::new(std::fs::File::create(dest).unwrap(), 3).unwrap();
    let mut out = tar::Builder::new(output.auto_finish());
    let mut flipped = false;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if name == part {
            data[0] ^= 1;
            flipped = true;
        }
        let mut header = entry.header().clone();
        out.append_data(&mut header, &name, &data[..]).unwrap();
    }
    out.into_inner().unwrap();
    assert!(flipped, "{part} is in the archive");
}

/// NEWCO on `server`, in a database of its own (the PostgreSQL server is shared by every test).
fn into(server: Option<&str>) -> NewTenantFrom {
    NewTenantFrom {
        code: code("NEWCO"),
        server: server.map(str::to_owned),
        database: Some(DatabaseName::parse(&unique_name("newco")).unwrap()),
    }
}

#[tokio::test]
async fn restore_into_a_new_code_gives_a_second_tenant_with_the_same_rows_files_and_own_login() {
    let t = TestApp::spawn().await;
    let acme = t.tenant("ACME", On::Pg(0)).await;
    seed_rows_and_files(&t, "ACME").await;
    let report = backup(&t, "ACME").await;

    let restored = (t.platform())
        .restore_into(&tester(), &code("ACME"), &report.path, &into(None), &|_| {})
        .await
        .unwrap();
    let newco = restored.tenant;
    assert_eq!(newco.status, TenantStatus::Active);
    assert_eq!(newco.server_id, acme.server_id, "same server by default");
    assert_ne!((newco.id, &newco.database), (acme.id, &acme.database));
    assert_eq!(newco.schema_version, acme.schema_version);
    assert_eq!(state(&t, "NEWCO").await, state(&t, "ACME").await);

    let token = t.login("NEWCO").await;
    let (s, body) = t
        .call(Method::GET, "/api/customers", Some(&token), None)
        .await;
    assert_eq!((s, body["total"].as_i64()), (StatusCode::OK, Some(2)));
    let url = t.url(&format!("/api/files/{}", FILES[0].0));
    let r = t.client.get(url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), FILES[0].1);
    let acme_token = t.login("ACME").await;
    let (s, _) = t
        .call_with(
            Method::GET,
            "/api/customers",
            Some(&acme_token),
            None,
            &[("x-tenant", "NEWCO")],
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "ACME's token does not open NEWCO");
}

#[tokio::test]
async fn restore_into_from_a_shared_schema_backup_keeps_the_schema_in_a_new_database() {
    let t = TestApp::spawn().await;
    crate::backup::shared_tenants(&t, &["ACME"]).await;
    seed_rows_and_files(&t, "ACME").await;
    let report = backup(&t, "ACME").await;
    let acme = t.registry().tenant(&code("ACME")).await.unwrap();

    let newco = (t.platform())
        .restore_into(
            &tester(),
            &code("ACME"),
            &report.path,
            &into(Some("pg0")),
            &|_| {},
        )
        .await
        .unwrap()
        .tenant;
    assert_eq!(newco.placement, tenantry::tenant::Placement::Shared);
    assert_eq!(newco.schema.as_ref().map(|s| s.as_str()), Some("acme"));
    assert_ne!(newco.database, acme.database);
    assert_eq!(state(&t, "NEWCO").await, state(&t, "ACME").await);
}

#[tokio::test]
async fn restore_into_never_adopts_an_existing_database() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Pg(0)).await;
    let report = backup(&t, "ACME").await;
    let target = into(None);
    let db = target.database.clone().unwrap();
    tenantry_testkit::shared_pg(0)
        .psql("postgres", &format!("CREATE DATABASE {db}"))
        .unwrap();

    let err = (t.platform())
        .restore_into(&tester(), &code("ACME"), &report.path, &target, &|_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PlatformError::Backup(BackupError::DatabaseExists { .. })
        ),
        "{err}"
    );
    assert!(
        t.registry().tenant(&code("NEWCO")).await.is_err(),
        "no tenant was created"
    );
}

#[tokio::test]
async fn a_tampered_archive_is_refused_and_nothing_changes() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    seed_rows_and_files(&t, "ACME").await;
    let report = backup(&t, "ACME").await;
    // Changes after the backup, which a restore would undo.
    let token = t.login("ACME").await;
    t.seed(&token, "later").await;
    let before = state(&t, "ACME").await;
    let tampered = t.dir.path().join("tampered.tar.zst");
    tamper(&report.path, &tampered, "database.sqlite");

    let err = (t.platform())
        .restore(&tester(), &tref("ACME"), &tampered, true, &|_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PlatformError::Backup(BackupError::Tampered(m)) if m.contains("database.sqlite")),
        "{err}"
    );
    assert_eq!(state(&t, "ACME").await, before);
    let status = t.registry().tenant(&code("ACME")).await.unwrap().status;
    assert_eq!(status, TenantStatus::Active);
}

#[tokio::test]
async fn restore_refuses_a_backup_of_another_engine() {
    let lite = TestApp::spawn().await;
    lite.tenant("ACME", On::Sqlite).await;
    let report = backup(&lite, "ACME").await;
    let pg = TestApp::spawn().await;
    pg.tenant("ACME", On::Pg(0)).await;

    let err = (pg.platform())
        .restore(&tester(), &tref("ACME"), &report.path, true, &|_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PlatformError::Backup(BackupError::EngineMismatch { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("sqlite") && err.to_string().contains("postgres"));
}

#[tokio::test]
async fn backups_and_restores_are_audited_without_the_database_password() {
    let t = TestApp::spawn().await;
    let server = t.server(On::MariaDb).await;
    let mut new = TestApp::new_tenant("ACME", &server);
    let user = unique_name("u");
    let pw = "audit-secret-pw-7";
    crate::common::mariadb_user_for_database(new.database.as_ref().unwrap().as_str(), &user, pw);
    new.username = Some(user);
    new.password = Some(secret(pw));
    let acme = t.provision(new).await;
    let report = backup(&t, "ACME").await;
    let ops = Actor::Cli { user: "ops".into() };
    (t.platform())
        .restore(&ops, &tref("ACME"), &report.path, true, &|_| {})
        .await
        .unwrap();

    let (entries, _) = t.registry().list_audit(Some(acme.id), 1, 50).await.unwrap();
    let actions: Vec<_> = entries
        .iter()
        .map(|e| (e.action.as_str(), e.result.as_str()))
        .collect();
    assert_eq!(
        actions[..2],
        [("tenant.restore", "ok"), ("tenant.backup", "ok")]
    );
    assert_eq!(entries[0].actor, "cli:ops");
    assert_eq!(entries[0].detail["file"], report.file);
    for e in &entries {
        assert!(!e.detail.to_string().contains(pw), "{}", e.detail);
    }
}

#[tokio::test]
async fn a_user_the_restored_database_does_not_have_loses_access_at_once() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    let report = backup(&t, "ACME").await;
    // A user made after the backup, whose status this process then caches.
    let admin = t.login("ACME").await;
    let (_, token) = t.user_token("ACME", &admin, "late").await;
    let token = token.as_str();
    let customers = || t.call(Method::GET, "/api/customers", Some(token), None);
    assert_eq!(customers().await.0, StatusCode::OK);

    (t.platform())
        .restore(&tester(), &tref("ACME"), &report.path, true, &|_| {})
        .await
        .unwrap();
    // The restored `users` table has no such user: the status cached before is not trusted.
    let (s, body) = customers().await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        t.call(Method::GET, "/api/customers", Some(&admin), None)
            .await
            .0,
        StatusCode::OK
    );
}
