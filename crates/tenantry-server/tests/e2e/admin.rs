//! Admin plane: tenant listing, suspension through the API, audit rows.

use crate::common::{error_code, On, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn admin_lists_and_searches_tenants_and_needs_an_owner_token() {
    let t = TestApp::spawn().await;
    for code in ["ACME", "ACMEX", "DEMO"] {
        t.tenant(code, On::Sqlite).await;
    }
    let (s, _) = t.call(Method::GET, "/api/admin/tenants", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let owner = t.owner_token().await;
    let (s, body) = t
        .call(
            Method::GET,
            "/api/admin/tenants?search=acm&limit=1",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 2);
    assert_eq!(body["data"][0]["code"], "ACME");
    assert!(body["data"][0].get("passwordEnc").is_none() && !body.to_string().contains("v1:"));
    let (s, body) = t
        .call(
            Method::GET,
            "/api/admin/tenants?status=weird",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_input")
    );
    let (s, body) = t
        .call(Method::GET, "/api/admin/tenants/DEMO", Some(&owner), None)
        .await;
    assert_eq!((s, body["code"].as_str()), (StatusCode::OK, Some("DEMO")));
    let (s, body) = t
        .call(Method::GET, "/api/admin/tenants/NOPE", Some(&owner), None)
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::NOT_FOUND, "tenant_not_found")
    );
}

#[tokio::test]
async fn suspension_through_the_api_closes_the_pool_and_is_audited() {
    let t = TestApp::spawn().await;
    let tenant = t.tenant("ACME", On::Pg(0)).await;
    let token = t.login("ACME").await;
    let owner = t.owner_token().await;
    assert!(t.app.pools().has_pool(tenant.id));
    let path = format!("/api/admin/tenants/{}/suspend", tenant.id);

    let (s, body) = t
        .call(
            Method::POST,
            &path,
            Some(&owner),
            Some(json!({"reason": ""})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let (s, body) = t
        .call(
            Method::POST,
            &path,
            Some(&owner),
            Some(json!({"reason": "unpaid invoice"})),
        )
        .await;
    assert_eq!(
        (s, body["status"].as_str()),
        (StatusCode::OK, Some("suspended")),
        "{body}"
    );
    assert!(
        !t.app.pools().has_pool(tenant.id),
        "pool must be closed on suspension"
    );
    let (s, body) = t
        .call(Method::GET, "/api/customers", Some(&token), None)
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::FORBIDDEN, "tenant_suspended")
    );
    let (s, body) = t
        .call(
            Method::POST,
            &path,
            Some(&owner),
            Some(json!({"reason": "again"})),
        )
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::CONFLICT, "invalid_status")
    );

    let (s, _) = t
        .call(
            Method::POST,
            "/api/admin/tenants/ACME/reactivate",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = t
        .call(Method::GET, "/api/customers", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::OK);

    let (s, body) = t
        .call(
            Method::GET,
            "/api/admin/audit?tenant=ACME",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let actions: Vec<_> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("reactivate", "ok"),
            ("suspend", "refused"),
            ("suspend", "ok")
        ]
    );
    assert_eq!(body["data"][2]["actor"], "owner@test.local");
    assert_eq!(body["data"][2]["detail"]["reason"], "unpaid invoice");
}
