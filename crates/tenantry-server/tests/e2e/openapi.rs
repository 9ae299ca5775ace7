//! `GET /api/openapi.json` against the router that really serves: every mounted route and method
//! is documented and every documented one is mounted; documented bodies and statuses match real
//! answers.

use crate::common::{error_code, On, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

/// The paths the router mounts, read from its `Debug` output (axum lists each path of its route
/// table there; the fallback's own internal paths are left out). Catch-alls `{*x}` are written
/// `{x}`, as OpenAPI writes them.
fn mounted_paths(t: &TestApp) -> BTreeSet<String> {
    let router = tenantry_server::http::router(t.app.clone());
    let debug = format!("{router:?}");
    // The route table comes first; the fallback router's own paths after it.
    let debug = &debug[..debug.find("fallback_router").unwrap_or(debug.len())];
    let mut paths = BTreeSet::new();
    for section in debug.split("paths: {").skip(1) {
        // `RouteId(3): "/api/…", …}`: the quoted strings are the path templates.
        for quoted in section.split('"').skip(1).step_by(2) {
            if !quoted.starts_with('/') {
                break;
            }
            if !quoted.contains("__private__") {
                paths.insert(quoted.replace("{*", "{"));
            }
        }
    }
    assert!(
        paths.len() > 20,
        "could not read the route table from the router's Debug output (axum changed it?): {paths:?}"
    );
    paths
}

/// A concrete URL for a path template.
fn concrete(template: &str) -> String {
    template
        .replace("{tenant}", "NOPE")
        .replace("{job}", "00000000-0000-0000-0000-000000000000")
        .replace("{path}", "probe.txt")
        .replace("{id}", "1")
}

/// Every `(path, METHOD)` the router answers: a method is mounted on a path unless the router
/// answers 405 to it. Requests carry no token and no body, so nothing changes. They name an
/// active tenant, so that tenant routes get past the tenant layer to the method check.
async fn mounted(t: &TestApp) -> BTreeSet<(String, String)> {
    let owner = t.owner_token().await;
    let server = t.server(On::Sqlite).await;
    let body = json!({"code": "PROBE", "name": "Probe", "placement": "dedicated",
                      "server": server.name.as_str()});
    assert_eq!(
        t.create_tenant(&owner, body).await.status,
        StatusCode::ACCEPTED
    );
    let mut routes = BTreeSet::new();
    for path in mounted_paths(t) {
        for m in METHODS {
            let method = Method::from_bytes(m.as_bytes()).unwrap();
            let url = t.url(&concrete(&path));
            let resp = t
                .client
                .request(method, url)
                .header("x-tenant", "PROBE")
                .send();
            let status = resp.await.unwrap().status();
            if status != StatusCode::METHOD_NOT_ALLOWED {
                routes.insert((path.clone(), m.to_owned()));
            }
        }
    }
    routes
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(m.to_ascii_lowercase()).is_some() {
                routes.insert((path.clone(), m.to_owned()));
            }
        }
    }
    routes
}

async fn document(t: &TestApp) -> Value {
    let (status, doc) = t.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    doc
}

#[tokio::test]
async fn every_mounted_route_is_documented_and_every_documented_route_is_mounted() {
    let t = TestApp::spawn().await;
    let doc = document(&t).await;
    let mounted = mounted(&t).await;
    let documented = documented(&doc);
    let undocumented: Vec<_> = mounted.difference(&documented).collect();
    let unmounted: Vec<_> = documented.difference(&mounted).collect();
    assert!(
        undocumented.is_empty(),
        "mounted but missing from /api/openapi.json: {undocumented:?}"
    );
    assert!(
        unmounted.is_empty(),
        "documented but not mounted: {unmounted:?}"
    );
}

#[tokio::test]
async fn every_answer_has_a_description_every_operation_a_unique_id_and_admin_routes_the_owner_scheme(
) {
    let t = TestApp::spawn().await;
    let doc = document(&t).await;
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(
                ids.insert(id.to_owned()),
                "{method} {path}: operationId {id:?} again"
            );
            for (status, answer) in op["responses"].as_object().unwrap() {
                let text = answer["description"].as_str().unwrap_or_default();
                assert!(!text.is_empty(), "{method} {path} {status}: no description");
            }
            if path.starts_with("/api/admin/") && path != "/api/admin/login" {
                assert_eq!(op["security"], json!([{"owner": []}]), "{method} {path}");
            }
        }
    }
    let schemes = &doc["components"]["securitySchemes"];
    for scheme in ["owner", "tenant"] {
        assert_eq!(schemes[scheme]["scheme"], "bearer", "{schemes}");
        assert_eq!(schemes[scheme]["bearerFormat"], "JWT", "{schemes}");
    }
}

/// The property names of a schema (following a `$ref` into `components.schemas`).
fn properties(doc: &Value, schema: &Value) -> BTreeSet<String> {
    let schema = match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
        None => schema,
    };
    let props = schema["properties"].as_object();
    props.expect("an object schema").keys().cloned().collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().expect("an object").keys().cloned().collect()
}

/// The JSON schema documented for `status` of `method path`.
fn response_schema<'a>(doc: &'a Value, method: &str, path: &str, status: u16) -> &'a Value {
    let responses = &doc["paths"][path][method]["responses"];
    let answer = &responses[status.to_string()];
    assert!(
        answer.is_object(),
        "{method} {path}: {status} is not documented: {responses}"
    );
    &answer["content"]["application/json"]["schema"]
}

#[tokio::test]
async fn documented_errors_match_the_error_bodies_the_api_sends() {
    let t = TestApp::spawn().await;
    let doc = document(&t).await;
    let owner = t.owner_token().await;
    let error_body = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(keys(&error_body["properties"]), ["error".to_owned()].into());
    let detail = properties(&doc, &error_body["properties"]["error"]);

    let cases = [
        (
            "get",
            "/api/admin/tenants/{id}",
            "/api/admin/tenants/NOPE",
            Some(&owner),
            404,
            "tenant_not_found",
        ),
        (
            "get",
            "/api/admin/tenants",
            "/api/admin/tenants",
            None,
            401,
            "unauthorized",
        ),
        (
            "get",
            "/api/customers",
            "/api/customers",
            None,
            404,
            "tenant_not_found",
        ),
    ];
    for (method, template, path, token, status, code) in cases {
        let m = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
        let (got, body) = t.call(m, path, token.map(String::as_str), None).await;
        assert_eq!(got.as_u16(), status, "{path}: {body}");
        assert_eq!(error_code(&body), code, "{body}");
        let schema = response_schema(&doc, method, template, status);
        assert_eq!(
            properties(&doc, schema),
            keys(&body),
            "{method} {template} {status}"
        );
        assert_eq!(keys(&body["error"]), detail);
    }
}

#[tokio::test]
async fn documented_tenant_and_user_schemas_match_real_answers() {
    let t = TestApp::spawn().await;
    let doc = document(&t).await;
    let owner = t.owner_token().await;
    let server = t.server(On::Sqlite).await;
    let created = t
        .create_tenant(
            &owner,
            json!({"code": "OAPI", "name": "OpenAPI", "placement": "dedicated",
                   "server": server.name.as_str()}),
        )
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{:?}", created.answer);
    let accepted = response_schema(&doc, "post", "/api/admin/tenants", 202);
    assert_eq!(properties(&doc, accepted), keys(&created.answer));

    let tenant = response_schema(&doc, "get", "/api/admin/tenants/{id}", 200);
    assert_eq!(properties(&doc, tenant), keys(&created.tenant));

    let (status, user) = t
        .call(
            Method::POST,
            "/api/admin/tenants/OAPI/users",
            Some(&owner),
            Some(json!({"username": "ann", "fullName": "Ann", "password": "a-long-password-1"})),
        )
        .await;
    let schema = response_schema(&doc, "post", "/api/admin/tenants/{tenant}/users", 201);
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(properties(&doc, schema), keys(&user));
}

#[tokio::test]
async fn documented_resource_schemas_match_real_rows_and_required_fields() {
    let t = TestApp::spawn().await;
    let doc = document(&t).await;
    t.tenant("OAPI", On::Sqlite).await;
    let token = t.login("OAPI").await;
    let (customer, _, ticket) = t.seed(&token, "doc").await;
    for (template, id) in [
        ("/api/customers/{id}", customer),
        ("/api/tickets/{id}", ticket),
    ] {
        let path = template.replace("{id}", &id.to_string());
        let (s, row) = t.call(Method::GET, &path, Some(&token), None).await;
        assert_eq!(s, StatusCode::OK, "{row}");
        let schema = response_schema(&doc, "get", template, 200);
        assert_eq!(properties(&doc, schema), keys(&row), "{template}");
    }
    let ticket_schema = &doc["components"]["schemas"]["Ticket"]["properties"]["status"];
    let (_, row) = t
        .call(
            Method::GET,
            &format!("/api/tickets/{ticket}"),
            Some(&token),
            None,
        )
        .await;
    let statuses = ticket_schema["enum"].as_array().expect("an enum");
    assert!(statuses.contains(&row["status"]), "{ticket_schema} / {row}");

    let input = &doc["paths"]["/api/customers"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"];
    assert_eq!(input["$ref"], "#/components/schemas/CustomerInput");
    let required = &doc["components"]["schemas"]["CustomerInput"]["required"];
    assert_eq!(required, &json!(["name"]));
    let (s, body) = t
        .call(
            Method::POST,
            "/api/customers",
            Some(&token),
            Some(json!({"email": "a@b.c"})),
        )
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_input")
    );
    assert!(
        body["error"]["message"].as_str().unwrap().contains("name"),
        "{body}"
    );
}
