//! Per-tenant files through `/api/files`: round trip, isolation, traversal, links, size limit, and
//! removal when the tenant is deleted.

use crate::common::{error_code, On, TestApp, FILE_LIMIT};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `head` + `body` over plain TCP, byte for byte, so no client library normalises `..` or
/// `%2e%2e` away: the server receives exactly this request target. Returns status and JSON body.
pub async fn raw(t: &TestApp, head: &str, body: &[u8]) -> (StatusCode, Value) {
    let mut stream = tokio::net::TcpStream::connect(&t.addr).await.unwrap();
    let request = format!("{head}Host: {}\r\nConnection: close\r\n\r\n", t.addr);
    // The server may answer (and close) before it has read the body: write errors are expected.
    let _ = stream.write_all(request.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    let status: u16 = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let json = serde_json::from_str(body).unwrap_or(Value::String(body.to_owned()));
    (StatusCode::from_u16(status).unwrap(), json)
}

async fn put(t: &TestApp, token: &str, path: &str, bytes: Vec<u8>) -> reqwest::Response {
    let url = t.url(&format!("/api/files/{path}"));
    let rq = t.client.put(url).bearer_auth(token).body(bytes);
    rq.send().await.unwrap()
}

async fn acme(t: &TestApp) -> String {
    t.tenant("ACME", On::Sqlite).await;
    t.login("ACME").await
}

#[tokio::test]
async fn file_round_trips_through_upload_download_and_delete() {
    let t = TestApp::spawn().await;
    let token = acme(&t).await;
    let r = put(&t, &token, "reports/2024/q1.bin", vec![0, 1, 2, 255]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"path": "reports/2024/q1.bin", "size": 4})
    );

    let url = t.url("/api/files/reports/2024/q1.bin");
    let r = t.client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(r.bytes().await.unwrap().as_ref(), [0, 1, 2, 255]);

    let r = put(&t, &token, "reports/2024/q1.bin", b"v2".to_vec()).await;
    assert_eq!(r.status(), StatusCode::OK, "replacing answers 200");
    let (s, list) = t.call(Method::GET, "/api/files", Some(&token), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        list["data"],
        serde_json::json!([{"path": "reports/2024/q1.bin", "size": 2}])
    );

    let path = "/api/files/reports/2024/q1.bin";
    let (s, _) = t.call(Method::DELETE, path, Some(&token), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, body) = t.call(Method::GET, path, Some(&token), None).await;
    assert_eq!((s, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, body) = t.call(Method::DELETE, path, Some(&token), None).await;
    assert_eq!((s, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn tenant_b_cannot_read_tenant_a_file_at_the_same_path() {
    let t = TestApp::spawn().await;
    let a = acme(&t).await;
    t.tenant("DEMO", On::Sqlite).await;
    let b = t.login("DEMO").await;
    assert_eq!(put(&t, &a, "secret.txt", b"A".to_vec()).await.status(), 201);

    let (s, body) = t
        .call(Method::GET, "/api/files/secret.txt", Some(&b), None)
        .await;
    assert_eq!((s, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (_, list) = t.call(Method::GET, "/api/files", Some(&b), None).await;
    assert_eq!(list["data"], serde_json::json!([]));
    // B writing the same path leaves A's file alone.
    assert_eq!(put(&t, &b, "secret.txt", b"B".to_vec()).await.status(), 201);
    let r = t
        .client
        .get(t.url("/api/files/secret.txt"))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"A");
}

#[tokio::test]
async fn traversal_attempts_are_refused_with_invalid_path() {
    let t = TestApp::spawn().await;
    let token = acme(&t).await;
    let auth = format!("Authorization: Bearer {token}\r\n");
    // The raw client really sends what it is given: a harmless path goes through.
    let (s, _) = raw(
        &t,
        &format!("PUT /api/files/ok.txt HTTP/1.1\r\n{auth}Content-Length: 1\r\n"),
        b"x",
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    for target in [
        "/api/files/..%2f..%2fetc%2fpasswd",
        "/api/files/%2e%2e/x",
        "/api/files/%2E%2E%2Fx",
        "/api/files/a/../../x",
        "/api/files/../x",
        "/api/files/a/./x",
        "/api/files//etc/passwd",
        "/api/files/%2fetc%2fpasswd",
        "/api/files/a%5c..%5c..%5cx",
        "/api/files/a%00b",
        "/api/files/a\\..\\..\\x",
        "/api/files/%252e%252e/x",
    ] {
        for method in ["GET", "PUT", "DELETE"] {
            let head = format!("{method} {target} HTTP/1.1\r\n{auth}Content-Length: 3\r\n");
            let (s, body) = raw(&t, &head, b"pwn").await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{method} {target}: {body}");
            assert_eq!(
                error_code(&body),
                "invalid_path",
                "{method} {target}: {body}"
            );
        }
    }
    let (_, list) = t.call(Method::GET, "/api/files", Some(&token), None).await;
    assert_eq!(
        list["data"],
        serde_json::json!([{"path": "ok.txt", "size": 1}])
    );
    assert!(!t.dir.path().join("x").exists() && !t.dir.path().join("files/x").exists());
}

#[cfg(unix)]
#[tokio::test]
async fn symlink_planted_in_the_tenant_directory_pointing_outside_is_refused() {
    let t = TestApp::spawn().await;
    let tenant = t.tenant("ACME", On::Sqlite).await;
    let token = t.login("ACME").await;
    let outside = t.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("passwd"), "root:x:0:0").unwrap();
    let home = t.app.storage().tenant_dir(tenant.id);
    std::fs::create_dir_all(&home).unwrap();
    std::os::unix::fs::symlink(&outside, home.join("etc")).unwrap();
    std::os::unix::fs::symlink(outside.join("passwd"), home.join("passwd")).unwrap();

    for path in ["/api/files/etc/passwd", "/api/files/passwd"] {
        for method in [Method::GET, Method::DELETE] {
            let (s, body) = t.call(method.clone(), path, Some(&token), None).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{method} {path}: {body}");
            assert_eq!(error_code(&body), "invalid_path");
        }
    }
    for path in ["etc/new", "passwd"] {
        let r = put(&t, &token, path, b"pwned".to_vec()).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "PUT {path}");
    }
    assert!(!outside.join("new").exists());
    assert_eq!(
        std::fs::read_to_string(outside.join("passwd")).unwrap(),
        "root:x:0:0"
    );
}

#[tokio::test]
async fn oversize_upload_is_refused_with_413_and_nothing_is_stored() {
    let t = TestApp::spawn().await;
    let token = acme(&t).await;
    let r = put(&t, &token, "big.bin", vec![7; FILE_LIMIT as usize + 1]).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = r.json().await.unwrap();
    assert_eq!(error_code(&body), "file_too_large");

    let (s, _) = t
        .call(Method::GET, "/api/files/big.bin", Some(&token), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = t.call(Method::GET, "/api/files", Some(&token), None).await;
    assert_eq!(list["data"], serde_json::json!([]));
}

#[tokio::test]
async fn oversize_chunked_upload_without_a_length_is_refused_while_streaming() {
    let t = TestApp::spawn().await;
    let tenant = t.tenant("ACME", On::Sqlite).await;
    let token = t.login("ACME").await;
    let chunk = vec![b'z'; FILE_LIMIT as usize / 2 + 1];
    let mut body = Vec::new();
    for _ in 0..2 {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(&chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "PUT /api/files/big.bin HTTP/1.1\r\nAuthorization: Bearer {token}\r\n\
         Transfer-Encoding: chunked\r\n"
    );
    let (s, body) = raw(&t, &head, &body).await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "file_too_large")
    );
    let left: Vec<_> = std::fs::read_dir(t.app.storage().tenant_dir(tenant.id))
        .unwrap()
        .collect();
    assert!(
        left.is_empty(),
        "no temporary file is left behind: {left:?}"
    );
}

#[tokio::test]
async fn file_routes_without_a_token_answer_401() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    for (method, path) in [
        (Method::GET, "/api/files?company=ACME"),
        (Method::GET, "/api/files/a.txt?company=ACME"),
        (Method::PUT, "/api/files/a.txt?company=ACME"),
        (Method::DELETE, "/api/files/a.txt?company=ACME"),
    ] {
        let (s, body) = t.call(method.clone(), path, None, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
        assert_eq!(error_code(&body), "unauthorized");
    }
}

#[tokio::test]
async fn deleting_a_tenant_removes_its_files_and_the_audit_row_says_so() {
    let t = TestApp::spawn().await;
    let token = acme(&t).await;
    let tenant = t.tenant("KEEP", On::Sqlite).await;
    let keep = t.login("KEEP").await;
    assert!(put(&t, &token, "a.txt", b"hello".to_vec())
        .await
        .status()
        .is_success());
    assert!(put(&t, &token, "docs/b.bin", vec![7; 300])
        .await
        .status()
        .is_success());
    assert!(put(&t, &keep, "a.txt", b"mine".to_vec())
        .await
        .status()
        .is_success());
    let acme = t.registry().tenant(&"ACME".parse().unwrap()).await.unwrap();
    let home = t.app.storage().tenant_dir(acme.id);
    assert!(home.join("docs/b.bin").is_file());

    let owner = t.owner_token().await;
    let body = Some(serde_json::json!({"confirm": "DELETE"}));
    let (s, resp) = t
        .call(
            Method::DELETE,
            "/api/admin/tenants/ACME",
            Some(&owner),
            body,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{resp}");
    assert!(!home.exists(), "the tenant's directory must be gone");
    assert!(
        t.app
            .storage()
            .tenant_dir(tenant.id)
            .join("a.txt")
            .is_file(),
        "another tenant's files stay"
    );
    assert!(
        resp["statusReason"]
            .as_str()
            .unwrap()
            .contains("2 file(s), 305 byte(s) removed"),
        "the tombstone says what was removed: {resp}"
    );
    let (_, audit) = t
        .call(
            Method::GET,
            "/api/admin/audit?tenant=ACME",
            Some(&owner),
            None,
        )
        .await;
    let row = &audit["data"][0];
    assert_eq!(
        (row["action"].as_str(), row["result"].as_str()),
        (Some("tenant.delete"), Some("ok"))
    );
    assert_eq!(
        row["detail"]["files"],
        serde_json::json!({"removed": 2, "bytes": 305})
    );
    assert_eq!(row["detail"]["data"], "database dropped");
}
