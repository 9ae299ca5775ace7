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
            ("tenant.reactivate", "ok"),
            ("tenant.suspend", "refused"),
            ("tenant.suspend", "ok"),
            ("tenant.suspend", "refused"),
        ],
        "every outcome is audited, the empty reason too"
    );
    assert_eq!(body["data"][2]["actor"], "owner:owner@test.local");
    assert_eq!(body["data"][2]["detail"]["reason"], "unpaid invoice");
}

#[tokio::test]
async fn server_registration_validates_the_host_and_never_returns_the_password() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    let body = |host: &str| json!({"name": "eu-1", "engine": "postgres", "host": host, "port": 5432, "hosting": "ours", "adminUsername": "postgres", "adminPassword": "hunter2-secret"});
    let (s, resp) = t
        .call(
            Method::POST,
            "/api/admin/servers",
            Some(&owner),
            Some(body("db host;drop")),
        )
        .await;
    assert_eq!(
        (s, error_code(&resp)),
        (StatusCode::BAD_REQUEST, "invalid_input")
    );
    assert!(
        resp["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("host"),
        "{resp}"
    );
    let mut bad_engine = body("db.example.com");
    bad_engine["engine"] = json!("oracle");
    let (s, _) = t
        .call(
            Method::POST,
            "/api/admin/servers",
            Some(&owner),
            Some(bad_engine),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, resp) = t
        .call(
            Method::POST,
            "/api/admin/servers",
            Some(&owner),
            Some(body("DB.Example.com")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{resp}");
    assert_eq!(resp["host"], "db.example.com");
    assert_eq!(resp["hasAdminPassword"], true);
    let (_, list) = t
        .call(Method::GET, "/api/admin/servers", Some(&owner), None)
        .await;
    let (_, audit) = t
        .call(Method::GET, "/api/admin/audit", Some(&owner), None)
        .await;
    for text in [resp.to_string(), list.to_string(), audit.to_string()] {
        assert!(!text.contains("hunter2"), "password leaked: {text}");
    }
    let (s, _) = t
        .call(
            Method::POST,
            "/api/admin/servers",
            Some(&owner),
            Some(body("db.example.com")),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "names are unique");
}

#[tokio::test]
async fn delete_needs_confirmation_then_drops_our_database_and_keeps_a_tombstone() {
    let t = TestApp::spawn().await;
    let tenant = t.tenant("GONE", On::Pg(0)).await;
    let owner = t.owner_token().await;
    let pg = tenantry_testkit::shared_pg(0);
    let exists = || {
        pg.psql(
            "postgres",
            &format!(
                "SELECT count(*) FROM pg_database WHERE datname = '{}'",
                tenant.database
            ),
        )
        .unwrap()
    };
    assert_eq!(exists().trim(), "1");
    let path = format!("/api/admin/tenants/{}", tenant.id);
    for body in [None, Some(json!({"confirm": "yes"}))] {
        let (s, resp) = t.call(Method::DELETE, &path, Some(&owner), body).await;
        assert_eq!(
            (s, error_code(&resp)),
            (StatusCode::BAD_REQUEST, "confirmation_required")
        );
    }
    assert_eq!(exists().trim(), "1", "nothing dropped without confirmation");
    let (s, resp) = t
        .call(
            Method::DELETE,
            &path,
            Some(&owner),
            Some(json!({"confirm": "DELETE"})),
        )
        .await;
    assert_eq!(
        (s, resp["status"].as_str()),
        (StatusCode::OK, Some("deleted")),
        "{resp}"
    );
    assert_eq!(exists().trim(), "0");
    let (s, body) = t
        .call(Method::GET, "/api/customers?company=GONE", None, None)
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::NOT_FOUND, "tenant_not_found")
    );
    let (_, list) = t
        .call(Method::GET, "/api/admin/tenants", Some(&owner), None)
        .await;
    assert_eq!(list["total"], 0, "tombstones are not listed by default");
    let (_, list) = t
        .call(
            Method::GET,
            "/api/admin/tenants?status=deleted",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(list["data"][0]["code"], "GONE");
}

#[tokio::test]
async fn deleting_an_external_tenant_detaches_but_keeps_the_customers_database() {
    let t = TestApp::spawn().await;
    let server = t.server(On::Pg(1)).await;
    let mut new = TestApp::new_tenant("BYOD", &server);
    new.placement = tenantry::tenant::Placement::External;
    let db = new.database.clone().unwrap();
    tenantry_testkit::shared_pg(1)
        .psql("postgres", &format!("CREATE DATABASE {db}"))
        .unwrap();
    let tenant = t.provision(new).await;
    let owner = t.owner_token().await;
    let path = format!("/api/admin/tenants/{}", tenant.id);
    let (s, _) = t
        .call(
            Method::DELETE,
            &path,
            Some(&owner),
            Some(json!({"confirm": "DELETE"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let n = tenantry_testkit::shared_pg(1)
        .psql(
            "postgres",
            &format!("SELECT count(*) FROM pg_database WHERE datname = '{db}'"),
        )
        .unwrap();
    assert_eq!(n.trim(), "1", "the customer's database must survive");
    let (_, audit) = t
        .call(
            Method::GET,
            &format!("/api/admin/audit?tenant={}", tenant.id),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(audit["data"][0]["detail"]["data"], "detached");
}

#[tokio::test]
async fn stats_and_health_report_one_tenant() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::MariaDb).await;
    let token = t.login("ACME").await;
    t.seed(&token, "acme").await;
    let resp = t
        .client
        .put(t.url("/api/files/docs/a.txt"))
        .bearer_auth(&token)
        .body("hello")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let owner = t.owner_token().await;
    let (s, body) = t
        .call(
            Method::GET,
            "/api/admin/tenants/ACME/stats",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        body["rows"],
        json!({"users": 1, "customers": 1, "sites": 1, "tickets": 1})
    );
    assert_eq!(
        (body["files"].as_u64(), body["storageBytes"].as_u64()),
        (Some(1), Some(5))
    );
    assert_eq!(body["schemaVersion"], body["latestVersion"]);
    assert_eq!(body["pool"]["open"], true);
    let (s, body) = t
        .call(
            Method::GET,
            "/api/admin/tenants/ACME/health",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        (s, body["connected"].as_bool(), body["engine"].as_str()),
        (StatusCode::OK, Some(true), Some("mysql"))
    );
    let (s, _) = t
        .call(
            Method::GET,
            "/api/admin/tenants/ACME/stats",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "tenant tokens do not open the admin plane"
    );
}

#[tokio::test]
async fn tenant_update_changes_domains_and_limits_and_takes_effect_at_once() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    t.tenant("DEMO", On::Sqlite).await;
    let token = t.login("ACME").await;
    let owner = t.owner_token().await;
    let body = json!({"name": "Acme Renamed", "domains": ["portal.acme.test"], "pool": {"maxConnections": 2}, "notes": null});
    let (s, resp) = t
        .call(
            Method::PUT,
            "/api/admin/tenants/ACME",
            Some(&owner),
            Some(body),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{resp}");
    assert_eq!(resp["name"], "Acme Renamed");
    assert_eq!(resp["pool"]["maxConnections"], 2);
    assert_eq!(resp["domains"], json!(["portal.acme.test"]));
    let (s, _) = t
        .call_with(
            Method::GET,
            "/api/customers",
            Some(&token),
            None,
            &[("host", "portal.acme.test")],
        )
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "the new custom domain resolves on the next request"
    );

    for (body, field) in [
        (json!({"code": "NEW"}), "code"),
        (json!({"subdomain": "not a label"}), "subdomain"),
        (json!({"domains": ["bad host!"]}), "domains"),
        (json!({"pool": {"maxConnections": 0}}), "pool"),
    ] {
        let (s, resp) = t
            .call(
                Method::PUT,
                "/api/admin/tenants/ACME",
                Some(&owner),
                Some(body),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{resp}");
        assert!(
            resp["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{resp}"
        );
    }
    let (s, _) = t
        .call(
            Method::PUT,
            "/api/admin/tenants/DEMO",
            Some(&owner),
            Some(json!({"subdomain": "acme"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, audit) = t
        .call(
            Method::GET,
            "/api/admin/audit?tenant=ACME",
            Some(&owner),
            None,
        )
        .await;
    let rows = audit["data"].as_array().unwrap();
    let done: Vec<_> = rows.iter().filter(|e| e["result"] == "ok").collect();
    assert_eq!(done.len(), 1, "one update went through: {audit}");
    assert_eq!(done[0]["action"], "tenant.update");
    assert_eq!(done[0]["detail"]["before"]["name"], "Test Tenant");
    assert_eq!(done[0]["detail"]["after"]["name"], "Acme Renamed");
    assert_eq!(
        rows[0]["result"], "refused",
        "the refused pool change is audited too"
    );
}
