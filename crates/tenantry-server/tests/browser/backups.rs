//! Backups in the owner dashboard, in a real headless Chromium: store a backup of a tenant and
//! restore it as a new tenant, then find its rows and files there.

use crate::common::{On, TestApp};
use crate::webdriver::Browser;
use reqwest::{Method, StatusCode};
use tenantry::tenant::{TenantCode, TenantStatus};

#[tokio::test]
async fn owner_stores_a_backup_and_restores_it_as_a_new_tenant_with_its_rows_and_files() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Pg(0)).await;
    let token = t.login("ACME").await;
    t.seed(&token, "kept").await;
    let url = t.url("/api/files/notes/plan.txt");
    let put = t.client.put(url).bearer_auth(&token).body("the plan");
    assert_eq!(put.send().await.unwrap().status(), StatusCode::CREATED);

    let b = Browser::start(&t).await;
    b.sign_in().await;
    b.open("/owner#/tenants/ACME").await;
    b.click("#tenant-backups [data-action=store-backup]").await;
    b.wait_for("#backups-table tr[data-file]").await;
    b.click("#backups-table [data-action=restore-into]").await;
    b.type_into("#restore-into input[name=into]", "acme2").await;
    b.click("#restore-into [data-role=submit]").await;
    b.wait_contains(".crumbs", "ACME2").await;
    b.wait_contains("#tenant-stats", "Rows in customers\n1")
        .await;
    b.close().await;

    let code = TenantCode::parse("ACME2").unwrap();
    let restored = t.registry().tenant(&code).await.unwrap();
    assert_eq!(restored.status, TenantStatus::Active);
    let token = t.login("ACME2").await;
    let (s, tickets) = t
        .call(Method::GET, "/api/tickets", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(tickets["data"][0]["title"], "kept ticket", "{tickets}");
    let url = t.url("/api/files/notes/plan.txt");
    let r = t.client.get(url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "the plan");
}
