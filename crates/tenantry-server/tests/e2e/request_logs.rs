//! Request ids and logs: an `x-request-id` on every response (a sane incoming one kept), and JSON
//! log lines that carry the request id and the tenant, and never a secret.

use crate::common::{On, TestApp, PASSWORD};
use crate::metrics::dead_tenant;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

#[tokio::test]
async fn every_response_carries_an_x_request_id() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    let cases = [
        (Method::GET, "/api/health", StatusCode::OK),
        (
            Method::GET,
            "/api/customers?company=ACME",
            StatusCode::UNAUTHORIZED,
        ),
        (
            Method::GET,
            "/api/customers?company=NOPE",
            StatusCode::NOT_FOUND,
        ),
        (Method::GET, "/no/such/route", StatusCode::NOT_FOUND),
        (
            Method::DELETE,
            "/api/health",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (Method::POST, "/api/admin/login", StatusCode::BAD_REQUEST),
    ];
    let mut ids = BTreeSet::new();
    for (method, path, status) in cases {
        let resp = t.client.request(method, t.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), status, "{path}");
        let id = resp
            .headers()
            .get("x-request-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let id = id.unwrap_or_else(|| panic!("{path}: no x-request-id"));
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{path}: {id}");
        ids.insert(id);
    }
    assert_eq!(ids.len(), 6, "one id per request");
}

#[tokio::test]
async fn a_sane_incoming_request_id_is_kept_and_any_other_replaced() {
    let t = TestApp::spawn().await;
    let echo = |sent: String| {
        let rq = t
            .client
            .get(t.url("/api/health"))
            .header("x-request-id", sent);
        async move {
            let resp = rq.send().await.unwrap();
            resp.headers()["x-request-id"].to_str().unwrap().to_owned()
        }
    };
    assert_eq!(echo("edge-7f3a:42".into()).await, "edge-7f3a:42");
    for insane in ["x".repeat(65), "a b".into(), "<script>".into()] {
        let answered = echo(insane.clone()).await;
        assert_ne!(answered, insane);
        assert!(uuid::Uuid::parse_str(&answered).is_ok(), "{answered}");
    }
}

/// Log lines written by the JSON layer, kept in memory.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

impl Captured {
    fn lines(&self) -> Vec<Value> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// Sends `request` through a fresh router of `t`'s app while JSON log lines are captured; returns
/// the response's request id and the captured lines.
async fn logged(
    t: &TestApp,
    request: axum::http::Request<axum::body::Body>,
) -> (String, Vec<Value>) {
    use tower::ServiceExt;
    use tracing_subscriber::layer::SubscriberExt;
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(tenantry_server::telemetry::logs::json_layer(
            captured.clone(),
        ));
    let _guard = tracing::subscriber::set_default(subscriber);
    let response = tenantry_server::http::router(t.app.clone())
        .oneshot(request)
        .await
        .unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    (id, captured.lines())
}

/// The `request` span of a log line, if it was logged inside one.
fn request_span(line: &Value) -> Option<&Value> {
    line["spans"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == "request")
}

#[tokio::test]
async fn json_log_lines_of_a_tenant_request_carry_its_request_id_and_tenant() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    let token = t.login("ACME").await;
    let request = axum::http::Request::get("/api/customers?company=ACME")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let (id, lines) = logged(&t, request).await;
    let finished = lines
        .iter()
        .find(|l| l["fields"]["message"] == "finished processing request")
        .unwrap_or_else(|| panic!("no response line: {lines:?}"));
    let span = request_span(finished).unwrap();
    assert_eq!(
        (&span["request_id"], &span["tenant"]),
        (&json!(id), &json!("ACME"))
    );
    assert_eq!(finished["fields"]["status"], 200);
    let all = serde_json::to_string(&lines).unwrap();
    assert!(!all.contains(&token), "a log line holds the bearer token");
}

#[tokio::test]
async fn every_log_line_of_a_request_carries_its_request_id_and_no_password() {
    let t = TestApp::spawn().await;
    let dead = dead_tenant(&t).await;
    let body = json!({"username": "admin", "password": PASSWORD}).to_string();
    let request = axum::http::Request::post(format!("/api/auth/login?company={dead}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body))
        .unwrap();
    let (id, lines) = logged(&t, request).await;
    let levels: BTreeSet<&str> = lines.iter().filter_map(|l| l["level"].as_str()).collect();
    assert!(levels.contains("WARN") && lines.len() >= 2, "{lines:?}");
    for line in &lines {
        let span = request_span(line).unwrap_or_else(|| panic!("outside the request: {line}"));
        assert_eq!(
            (&span["request_id"], &span["tenant"]),
            (&json!(id), &json!(dead))
        );
    }
    let all = serde_json::to_string(&lines).unwrap();
    assert!(!all.contains(PASSWORD), "a log line holds the password");
}

#[test]
fn an_unknown_log_format_is_bad_usage_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::common::tenantry_cmd(dir.path())
        .env("TENANTRY_LOG_FORMAT", "xml")
        .args(["owner", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", crate::common::text(&out));
    assert!(crate::common::text(&out).contains("TENANTRY_LOG_FORMAT: \"xml\""));
}
