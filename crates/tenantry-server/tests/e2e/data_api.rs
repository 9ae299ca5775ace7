//! The same field-service scenario on each engine.

use crate::common::{error_code, On, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn scenario(on: On) {
    let t = TestApp::spawn().await;
    t.tenant("ACME", on).await;
    let token = t.login("ACME").await;
    let tok = Some(token.as_str());

    // an empty table: an empty first page, total 0
    let (s, page) = t.call(Method::GET, "/api/tickets", tok, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (
            page["data"].as_array().map(Vec::len),
            page["total"].as_i64()
        ),
        (Some(0), Some(0))
    );

    // create, read back
    let (c, _, ticket) = t.seed(&token, "first").await;
    let (s, body) = t
        .call(Method::GET, &format!("/api/customers/{c}"), tok, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["name"], "first customer");
    let (s, body) = t
        .call(Method::GET, &format!("/api/tickets/{ticket}"), tok, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (body["status"].as_str(), body["priority"].as_str()),
        (Some("open"), Some("normal"))
    );

    // pagination
    for i in 0..4 {
        let (s, _) = t
            .call(
                Method::POST,
                "/api/customers",
                tok,
                Some(json!({"name": format!("c{i}")})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (s, page) = t
        .call(Method::GET, "/api/customers?page=2&limit=2", tok, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["total"], 5);
    assert_eq!(
        (page["page"].as_i64(), page["limit"].as_i64()),
        (Some(2), Some(2))
    );
    let names: Vec<_> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["c1", "c2"]);
    // a page past the end has no rows but still the total
    let (s, past) = t
        .call(Method::GET, "/api/customers?page=9&limit=2", tok, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (
            past["data"].as_array().map(Vec::len),
            past["total"].as_i64()
        ),
        (Some(0), Some(5))
    );
    let (s, body) = t
        .call(Method::GET, "/api/customers?limit=1000", tok, None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("limit"));

    // update merges fields; validation names the field
    let (s, body) = t
        .call(
            Method::PUT,
            &format!("/api/tickets/{ticket}"),
            tok,
            Some(json!({"status": "closed"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["title"].as_str()),
        (Some("closed"), Some("first ticket"))
    );
    let (s, body) = t
        .call(
            Method::PUT,
            &format!("/api/tickets/{ticket}"),
            tok,
            Some(json!({"status": "lost"})),
        )
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_input")
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("status"));
    let (s, body) = t
        .call(
            Method::POST,
            "/api/sites",
            tok,
            Some(json!({"name": "x", "customerId": 999999})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("customerId"));
    let (s, body) = t
        .call(
            Method::POST,
            "/api/customers",
            tok,
            Some(json!({"email": "a@b.c"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["message"], "name: is required");

    // delete: referenced rows are refused, then the chain deletes
    let (s, body) = t
        .call(Method::DELETE, &format!("/api/customers/{c}"), tok, None)
        .await;
    assert_eq!((s, error_code(&body)), (StatusCode::CONFLICT, "in_use"));
    let (s, _) = t
        .call(Method::DELETE, &format!("/api/tickets/{ticket}"), tok, None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, body) = t
        .call(Method::GET, &format!("/api/tickets/{ticket}"), tok, None)
        .await;
    assert_eq!((s, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));

    let (s, body) = t.call(Method::GET, "/api/customers/abc", tok, None).await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_input")
    );
    let (s, body) = t
        .call(
            Method::POST,
            "/api/customers",
            tok,
            Some(json!(["not", "an", "object"])),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");

    // no token, bad token, bad login
    let (s, body) = t
        .call(Method::GET, "/api/customers?company=ACME", None, None)
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let (s, _) = t
        .call(
            Method::GET,
            "/api/customers?company=ACME",
            Some("garbage"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = t
        .call(
            Method::POST,
            "/api/auth/login?company=ACME",
            None,
            Some(json!({"username": "admin", "password": "nope"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn data_api_scenario_passes_on_sqlite() {
    scenario(On::Sqlite).await;
}

#[tokio::test]
async fn data_api_scenario_passes_on_postgres() {
    scenario(On::Pg(0)).await;
}

#[tokio::test]
async fn data_api_scenario_passes_on_mariadb() {
    scenario(On::MariaDb).await;
}
