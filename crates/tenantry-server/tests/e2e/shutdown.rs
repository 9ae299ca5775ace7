//! Graceful shutdown of the real binary: SIGTERM drains requests in flight, the process exits 0,
//! and a restart on the same (SQLite, WAL) registry serves at once with nothing lost.

use crate::common::{call_at as call, tenantry_cmd};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use tenantry_server::demo::DEMO_PASSWORD;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `tenantry serve` on `data` (port 0): the process and its address.
fn serve(data: &Path) -> (Child, String) {
    let mut cmd = tenantry_cmd(data);
    cmd.stderr(Stdio::null());
    crate::common::serve(cmd)
}

async fn login(addr: &str) -> String {
    let body = json!({"username": "admin", "password": DEMO_PASSWORD});
    let (s, b) = call(
        addr,
        Method::POST,
        "/api/auth/login?company=ACME",
        None,
        Some(body),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["token"].as_str().unwrap().to_owned()
}

/// Waits for `child` to exit (at most `within`); its exit status.
async fn exit_of(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            started.elapsed() < within,
            "the server did not exit within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_exits_0_and_a_restart_serves_what_was_written() {
    let (_dir, data, _config) = crate::common::demo_data_dir().await;
    let (mut child, addr) = serve(&data);
    let token = login(&addr).await;
    let (s, created) = call(
        &addr,
        Method::POST,
        "/api/customers",
        Some(&token),
        Some(json!({"name": "Written just before shutdown"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");

    // A slow upload: headers and half of the body now, the rest after SIGTERM.
    let content = "x".repeat(2_000);
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PUT /api/files/inflight.txt HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n{}",
        content.len(),
        &content[..1_000]
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert!(signal("TERM", child.id()), "cannot signal the server");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the server exited with a request in flight"
    );
    slow.write_all(&content.as_bytes()[1_000..]).await.unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "the request in flight was not completed: {answer:?}"
    );
    let status = exit_of(&mut child, Duration::from_secs(20)).await;
    assert!(status.success(), "exit status {status}");

    // A restart on the same registry serves at once, with the customer and the file.
    let (mut child, addr) = serve(&data);
    let token = login(&addr).await;
    let path = format!("/api/customers/{}", created["id"]);
    let (s, customer) = call(&addr, Method::GET, &path, Some(&token), None).await;
    assert_eq!(s, StatusCode::OK, "{customer}");
    assert_eq!(customer["name"], "Written just before shutdown");
    let file = reqwest::Client::new()
        .get(format!("http://{addr}/api/files/inflight.txt"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(file.text().await.unwrap(), content);
    assert!(signal("INT", child.id()));
    let status = exit_of(&mut child, Duration::from_secs(20)).await;
    assert!(status.success(), "Ctrl-C exit status {status}");
}

/// Sends `signal` to our own child process `pid` with `kill`.
fn signal(signal: &str, pid: u32) -> bool {
    std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .is_ok_and(|s| s.success())
}
