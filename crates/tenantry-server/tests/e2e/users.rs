//! Tenant users: managed by the tenant's admins (`/api/users`) and by owners (admin API), signing
//! in with `?company=`, and tokens that stop working when their user is disabled or re-keyed.

use crate::common::{error_code, On, TestApp, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const USER_PASSWORD: &str = "dispatch-me-1";

/// Runs one scenario on a tenant of each engine: `scenario::on_sqlite`, `…::on_postgres`,
/// `…::on_mariadb`.
macro_rules! on_every_engine {
    ($scenario:ident) => {
        mod $scenario {
            use crate::common::On;
            #[tokio::test]
            async fn on_sqlite() {
                super::$scenario(On::Sqlite).await
            }
            #[tokio::test]
            async fn on_postgres() {
                super::$scenario(On::Pg(0)).await
            }
            #[tokio::test]
            async fn on_mariadb() {
                super::$scenario(On::MariaDb).await
            }
        }
    };
}

/// A served app with tenant `code` on `on`; returns the app and its admin's token.
async fn tenant_with_admin(code: &str, on: On) -> (TestApp, String) {
    let t = TestApp::spawn().await;
    t.tenant(code, on).await;
    let admin = t.login(code).await;
    (t, admin)
}

async fn create_user(t: &TestApp, admin: &str, username: &str, role: &str) -> Value {
    let body = json!({"username": username, "fullName": "Dana Dispatch", "role": role,
                      "password": USER_PASSWORD});
    let (s, user) = t
        .call(Method::POST, "/api/users", Some(admin), Some(body))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{user}");
    user
}

async fn login_as(t: &TestApp, code: &str, username: &str, password: &str) -> (StatusCode, Value) {
    let body = json!({"username": username, "password": password});
    let path = format!("/api/auth/login?company={code}");
    t.call(Method::POST, &path, None, Some(body)).await
}

async fn token_of(t: &TestApp, code: &str, username: &str, password: &str) -> String {
    let (s, body) = login_as(t, code, username, password).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn customers(t: &TestApp, token: &str) -> StatusCode {
    t.call(Method::GET, "/api/customers", Some(token), None)
        .await
        .0
}

async fn admin_creates_a_user_who_signs_in_with_company(on: On) {
    let (t, admin) = tenant_with_admin("ACME", on).await;
    let user = create_user(&t, &admin, "Dana.D", "dispatcher").await;
    assert_eq!(
        (&user["username"], &user["role"], &user["disabled"]),
        (&json!("dana.d"), &json!("dispatcher"), &json!(false))
    );
    let (s, body) = login_as(&t, "ACME", "dana.d", USER_PASSWORD).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["fullName"], "Dana Dispatch");
    let token = body["token"].as_str().unwrap();
    assert_eq!(customers(&t, token).await, StatusCode::OK);
    let (s, page) = t.call(Method::GET, "/api/users", Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 2);
    assert_eq!(page["data"][1]["username"], "dana.d");
    assert!(page["data"][1].get("passwordHash").is_none());
}
on_every_engine!(admin_creates_a_user_who_signs_in_with_company);

async fn non_admin_gets_403_on_user_management(on: On) {
    let (t, admin) = tenant_with_admin("ACME", on).await;
    let tech = create_user(&t, &admin, "tech", "technician").await;
    let token = token_of(&t, "ACME", "tech", USER_PASSWORD).await;
    let (s, body) = t.call(Method::GET, "/api/users", Some(&token), None).await;
    assert_eq!((s, error_code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    let path = format!("/api/users/{}/disable", tech["id"]);
    let (s, _) = t.call(Method::POST, &path, Some(&token), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}
on_every_engine!(non_admin_gets_403_on_user_management);

async fn disabled_user_token_fails_on_the_next_request_and_login_fails(on: On) {
    let (t, admin) = tenant_with_admin("ACME", on).await;
    let user = create_user(&t, &admin, "dana", "user").await;
    let token = token_of(&t, "ACME", "dana", USER_PASSWORD).await;
    assert_eq!(customers(&t, &token).await, StatusCode::OK, "warm cache");

    let path = format!("/api/users/{}/disable", user["id"]);
    let (s, body) = t.call(Method::POST, &path, Some(&admin), None).await;
    assert_eq!(
        (s, &body["disabled"]),
        (StatusCode::OK, &json!(true)),
        "{body}"
    );
    assert_eq!(customers(&t, &token).await, StatusCode::UNAUTHORIZED);
    let (s, _) = login_as(&t, "ACME", "dana", USER_PASSWORD).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let path = format!("/api/users/{}/enable", user["id"]);
    let (s, _) = t.call(Method::POST, &path, Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK);
    let again = token_of(&t, "ACME", "dana", USER_PASSWORD).await;
    assert_eq!(customers(&t, &again).await, StatusCode::OK);
}
on_every_engine!(disabled_user_token_fails_on_the_next_request_and_login_fails);

async fn password_reset_invalidates_the_old_password_and_old_tokens(on: On) {
    let (t, admin) = tenant_with_admin("ACME", on).await;
    let user = create_user(&t, &admin, "dana", "user").await;
    let old_token = token_of(&t, "ACME", "dana", USER_PASSWORD).await;
    assert_eq!(customers(&t, &old_token).await, StatusCode::OK);

    let path = format!("/api/users/{}/password", user["id"]);
    let body = json!({"password": "a-brand-new-one"});
    let (s, body) = t.call(Method::POST, &path, Some(&admin), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(customers(&t, &old_token).await, StatusCode::UNAUTHORIZED);
    let (s, _) = login_as(&t, "ACME", "dana", USER_PASSWORD).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "old password refused");
    let new_token = token_of(&t, "ACME", "dana", "a-brand-new-one").await;
    assert_eq!(customers(&t, &new_token).await, StatusCode::OK);
}
on_every_engine!(password_reset_invalidates_the_old_password_and_old_tokens);

async fn owner_manages_users_through_the_admin_api(on: On) {
    let t = TestApp::spawn().await;
    t.tenant("ACME", on).await;
    let owner = t.owner_token().await;
    let base = "/api/admin/tenants/ACME/users";
    let body = json!({"username": "olga", "fullName": "Olga Owner-Made", "role": "technician",
                      "password": USER_PASSWORD});
    let (s, user) = t.call(Method::POST, base, Some(&owner), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{user}");
    let token = token_of(&t, "ACME", "olga", USER_PASSWORD).await;

    let path = format!("{base}/{}", user["id"]);
    let change = json!({"fullName": "Olga O.", "role": "dispatcher"});
    let (s, body) = t.call(Method::PUT, &path, Some(&owner), Some(change)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["fullName"], &body["role"]),
        (&json!("Olga O."), &json!("dispatcher"))
    );
    let (s, _) = t
        .call(Method::POST, &format!("{path}/disable"), Some(&owner), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(customers(&t, &token).await, StatusCode::UNAUTHORIZED);
    let (s, page) = t.call(Method::GET, base, Some(&owner), None).await;
    assert_eq!((s, &page["total"]), (StatusCode::OK, &json!(2)), "{page}");

    let (rows, _) = t.platform().audit_log(None, 1, 3).await.unwrap();
    let seen: Vec<_> = rows
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str()))
        .collect();
    let owner_actor = "owner:owner@test.local";
    let expected = [
        ("user.disable", owner_actor),
        ("user.update", owner_actor),
        ("user.create", owner_actor),
    ];
    assert_eq!(seen, expected);
    assert!(
        !rows[2].detail.to_string().contains(USER_PASSWORD),
        "password masked"
    );
}
on_every_engine!(owner_manages_users_through_the_admin_api);

#[tokio::test]
async fn tenant_admin_operations_are_audited_as_the_tenant_user() {
    let (t, admin) = tenant_with_admin("ACME", On::Sqlite).await;
    let user = create_user(&t, &admin, "dana", "user").await;
    let path = format!("/api/users/{}/password", user["id"]);
    let body = json!({"password": "a-brand-new-one"});
    let (s, _) = t.call(Method::POST, &path, Some(&admin), Some(body)).await;
    assert_eq!(s, StatusCode::OK);
    let (rows, _) = t.platform().audit_log(None, 1, 2).await.unwrap();
    let seen: Vec<_> = rows
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str(), e.result.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("user.reset_password", "user:ACME/admin", "ok"),
            ("user.create", "user:ACME/admin", "ok")
        ]
    );
    assert_eq!(rows[0].detail["password"], "***");
    assert_eq!(rows[0].detail["username"], "dana");
}

#[tokio::test]
async fn duplicate_usernames_are_409_whatever_their_case() {
    let (t, admin) = tenant_with_admin("ACME", On::Sqlite).await;
    create_user(&t, &admin, "dana", "user").await;
    let body = json!({"username": "DANA", "fullName": "Other Dana", "password": USER_PASSWORD});
    let (s, body) = t
        .call(Method::POST, "/api/users", Some(&admin), Some(body))
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::CONFLICT, "conflict"),
        "{body}"
    );
    let (rows, _) = t.platform().audit_log(None, 1, 1).await.unwrap();
    assert_eq!(
        (rows[0].action.as_str(), rows[0].result.as_str()),
        ("user.create", "refused")
    );
}

#[tokio::test]
async fn bad_usernames_roles_and_passwords_are_400_naming_the_field() {
    let (t, admin) = tenant_with_admin("ACME", On::Sqlite).await;
    let cases = [
        (
            json!({"username": "no spaces", "fullName": "X", "password": USER_PASSWORD}),
            "username",
        ),
        (
            json!({"username": "ok", "fullName": "X", "role": "owner", "password": USER_PASSWORD}),
            "role",
        ),
        (
            json!({"username": "ok", "fullName": "X", "password": "short"}),
            "password",
        ),
        (
            json!({"username": "ok", "fullName": " ", "password": USER_PASSWORD}),
            "fullName",
        ),
    ];
    for (body, field) in cases {
        let (s, answer) = t
            .call(Method::POST, "/api/users", Some(&admin), Some(body))
            .await;
        assert_eq!(
            (s, error_code(&answer)),
            (StatusCode::BAD_REQUEST, "invalid_input")
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(field), "{field}: {message}");
    }
}

#[tokio::test]
async fn the_last_enabled_admin_cannot_be_disabled_or_demoted() {
    let (t, admin) = tenant_with_admin("ACME", On::Sqlite).await;
    let (s, page) = t.call(Method::GET, "/api/users", Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK);
    let id = &page["data"][0]["id"];
    let (s, body) = t
        .call(
            Method::POST,
            &format!("/api/users/{id}/disable"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::CONFLICT, "last_admin"),
        "{body}"
    );
    let demote = json!({"role": "user"});
    let (s, body) = t
        .call(
            Method::PUT,
            &format!("/api/users/{id}"),
            Some(&admin),
            Some(demote),
        )
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::CONFLICT, "last_admin"),
        "{body}"
    );
    assert_eq!(
        customers(&t, &admin).await,
        StatusCode::OK,
        "still an admin"
    );
}

#[tokio::test]
async fn a_demoted_admin_loses_user_management_on_the_next_request() {
    let (t, admin) = tenant_with_admin("ACME", On::Sqlite).await;
    let second = create_user(&t, &admin, "second", "admin").await;
    let token = token_of(&t, "ACME", "second", USER_PASSWORD).await;
    let (s, _) = t.call(Method::GET, "/api/users", Some(&token), None).await;
    assert_eq!(s, StatusCode::OK);
    let path = format!("/api/users/{}", second["id"]);
    let (s, _) = t
        .call(
            Method::PUT,
            &path,
            Some(&admin),
            Some(json!({"role": "user"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = t.call(Method::GET, "/api/users", Some(&token), None).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "the token still says admin; the row does not"
    );
}

#[tokio::test]
async fn users_of_another_tenant_are_unreachable() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    t.tenant("DEMO", On::Sqlite).await;
    let acme = t.login("ACME").await;
    let demo = t.login("DEMO").await;
    let theirs = create_user(&t, &demo, "only-demo", "user").await;
    let path = format!("/api/users/{}", theirs["id"]);
    let (s, body) = t.call(Method::GET, &path, Some(&acme), None).await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found"),
        "{body}"
    );
    let path = format!("/api/users/{}/disable?company=DEMO", theirs["id"]);
    let (s, body) = t.call(Method::POST, &path, Some(&acme), None).await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::FORBIDDEN, "tenant_mismatch")
    );
    assert_eq!(
        login_as(&t, "DEMO", "only-demo", USER_PASSWORD).await.0,
        StatusCode::OK,
        "untouched"
    );
}

#[tokio::test]
async fn owner_user_management_of_an_unknown_tenant_is_404_and_audited_as_refused() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    let body = json!({"username": "x1", "fullName": "X", "password": PASSWORD});
    let (s, answer) = t
        .call(
            Method::POST,
            "/api/admin/tenants/NOPE/users",
            Some(&owner),
            Some(body),
        )
        .await;
    assert_eq!(
        (s, error_code(&answer)),
        (StatusCode::NOT_FOUND, "tenant_not_found")
    );
    let (rows, _) = t.platform().audit_log(None, 1, 1).await.unwrap();
    assert_eq!(
        (rows[0].action.as_str(), rows[0].result.as_str()),
        ("user.create", "refused")
    );
}
