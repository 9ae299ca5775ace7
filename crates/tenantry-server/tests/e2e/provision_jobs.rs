//! Provisioning outlives the request (issue 6 item 9): 202 with the tenant, its step and a job;
//! a client that goes away stops nothing; a job is followed through `/api/admin/jobs/{id}`; a
//! restart resumes or fails unfinished provisionings visibly.

use crate::common::{call_at as call, error_code, tenantry_cmd, On, TestApp, PASSWORD};
use crate::first_start::{init, OWNER_PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};
use tenantry::registry::NewServer;
use tenantry::tenant::{Engine, Hosting, TenantCode, TenantStatus, TlsMode};
use tenantry_testkit::{shared_pg, unique_name};
use tokio::io::AsyncWriteExt;

/// A PostgreSQL "server" that accepts connections and never answers: provisioning an external
/// tenant on it hangs in its onboarding checks for seconds. Lives as long as the returned task.
async fn silent_port() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    (port, held)
}

#[tokio::test]
async fn provisioning_answers_202_with_the_tenant_its_step_and_a_job_that_ends_active() {
    let t = TestApp::spawn().await;
    t.server(On::Pg(0)).await;
    let owner = t.owner_token().await;
    let db = unique_name("jobs");
    let body = json!({"code": "ASYNC", "name": "Async", "placement": "dedicated", "server": "pg0", "database": db});
    let (s, answer) = t
        .call(Method::POST, "/api/admin/tenants", Some(&owner), Some(body))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["tenant"]["status"], "provisioning");
    assert_eq!(answer["tenant"]["provisioningStep"], "registry row");
    assert!(answer["adminPassword"]
        .as_str()
        .is_some_and(|p| p.len() >= 16));
    let job = answer["job"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(job).is_ok(), "{job}");

    let report = t.job_done(&owner, job).await;
    assert_eq!(report["status"], "succeeded", "{report}");
    assert_eq!(report["kind"], "provision");
    assert_eq!(report["tenant"]["code"], "ASYNC");
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for step in [
        "registry row",
        "create database",
        "migrate",
        "admin user",
        "storage directory",
    ] {
        assert!(steps.contains(&step), "{step} missing from {steps:?}");
    }
    let (_, tenant) = t
        .call(Method::GET, "/api/admin/tenants/ASYNC", Some(&owner), None)
        .await;
    assert_eq!(tenant["status"], "active");
    assert_eq!(tenant["provisioningStep"], Value::Null);
    let (_, audit) = t
        .call(
            Method::GET,
            "/api/admin/audit?tenant=ASYNC",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(audit["data"][0]["action"], "tenant.provision");
    assert_eq!(audit["data"][0]["result"], "ok");
}

#[tokio::test]
async fn a_client_that_disconnects_mid_request_does_not_stop_provisioning() {
    let t = TestApp::spawn().await;
    t.server(On::Pg(0)).await;
    let owner = t.owner_token().await;
    let db = unique_name("gone");
    let body = json!({"code": "GONE", "name": "Gone", "placement": "dedicated", "server": "pg0",
                      "database": db, "adminPassword": PASSWORD})
    .to_string();
    let request = format!(
        "POST /api/admin/tenants HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {owner}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        t.addr,
        body.len()
    );
    let mut client = tokio::net::TcpStream::connect(&t.addr).await.unwrap();
    client.write_all(request.as_bytes()).await.unwrap();
    let code = TenantCode::parse("GONE").unwrap();
    let started = Instant::now();
    while t.registry().tenant(&code).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never registered"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    drop(client); // gone before reading the answer, while the steps run

    let started = Instant::now();
    let tenant = loop {
        let tenant = t.registry().tenant(&code).await.unwrap();
        if tenant.status != TenantStatus::Provisioning {
            break tenant;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "stuck provisioning"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        tenant.status,
        TenantStatus::Active,
        "{:?}",
        tenant.status_reason
    );
    let token = t.login("GONE").await;
    assert!(!token.is_empty());
}

#[tokio::test]
async fn a_retry_while_the_tenants_job_runs_is_409_job_running() {
    let t = TestApp::spawn().await;
    let (port, _held) = silent_port().await;
    t.registry()
        .add_server(NewServer {
            name: "silent".parse().unwrap(),
            engine: Engine::Postgres,
            host: "127.0.0.1".into(),
            port: Some(port),
            hosting: Hosting::Customer,
            region: None,
            tls: TlsMode::Disable,
            admin_username: None,
            admin_password: None,
        })
        .await
        .unwrap();
    let owner = t.owner_token().await;
    let body = json!({"code": "SLOW", "name": "Slow", "placement": "external", "server": "silent",
                      "database": "app", "username": "app", "password": "pw"});
    let (s, answer) = t
        .call(Method::POST, "/api/admin/tenants", Some(&owner), Some(body))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{answer}");
    let (s, body) = t
        .call(
            Method::POST,
            "/api/admin/tenants/SLOW/retry",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::CONFLICT, "job_running"),
        "{body}"
    );
    let job = answer["job"].as_str().unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains(job));
}

#[tokio::test]
async fn job_endpoints_need_an_owner_token_and_an_unknown_job_is_404() {
    let t = TestApp::spawn().await;
    t.tenant("ACME", On::Sqlite).await;
    let tenant_token = t.login("ACME").await;
    for path in [
        "/api/admin/jobs",
        "/api/admin/jobs/00000000-0000-0000-0000-000000000000",
    ] {
        for token in [None, Some(tenant_token.as_str())] {
            let (s, body) = t.call(Method::GET, path, token, None).await;
            assert_eq!(
                (s, error_code(&body)),
                (StatusCode::UNAUTHORIZED, "unauthorized"),
                "{path}"
            );
        }
    }
    let owner = t.owner_token().await;
    let (s, body) = t
        .call(Method::GET, "/api/admin/jobs/not-a-job", Some(&owner), None)
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::NOT_FOUND, "job_not_found")
    );
    let (s, started) = t
        .call(Method::POST, "/api/admin/fleet/migrate", Some(&owner), None)
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let fleet = t.job_done(&owner, started["job"].as_str().unwrap()).await;
    assert_eq!(
        fleet["kind"], "fleet_migrate",
        "the fleet job is a platform job: {fleet}"
    );
    let (_, list) = t
        .call(Method::GET, "/api/admin/jobs", Some(&owner), None)
        .await;
    assert_eq!(list["data"][0]["id"], fleet["id"], "newest first");
}

/// `tenantry serve` on `data` (port 0): the process and its address; stderr goes to `log`.
fn serve(data: &Path, log: &Path) -> (Child, String) {
    let mut cmd = tenantry_cmd(data);
    cmd.stderr(std::fs::File::create(log).unwrap());
    crate::common::serve(cmd)
}

async fn owner_token(addr: &str) -> String {
    let body = json!({"email": "ops@example.com", "password": OWNER_PASSWORD});
    let (s, r) = call(addr, Method::POST, "/api/admin/login", None, Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    r["token"].as_str().unwrap().to_owned()
}

fn cli(data: &Path, args: &[&str]) -> String {
    let out = crate::common::tenantry_cmd(data)
        .args(args)
        .output()
        .unwrap();
    let text = crate::common::text(&out);
    assert!(out.status.success(), "{args:?}: {text}");
    text
}

/// Registers `pg0` (shared PostgreSQL 0) and `silent` (never answers) through the CLI.
fn add_servers(data: &Path, silent: u16) {
    let pg_port = shared_pg(0).port().to_string();
    let pg = [
        "--name",
        "pg0",
        "--port",
        &pg_port,
        "--admin-user",
        "postgres",
    ];
    let silent_port = silent.to_string();
    let quiet = [
        "--name",
        "silent",
        "--port",
        &silent_port,
        "--hosting",
        "customer",
    ];
    for args in [&pg[..], &quiet[..]] {
        let common = [
            "server",
            "add",
            "--engine",
            "postgres",
            "--host",
            "127.0.0.1",
            "--tls",
            "disable",
        ];
        cli(data, &[&common[..], args].concat());
    }
}

#[tokio::test]
async fn a_restart_resumes_provisioning_past_the_admin_user_and_fails_the_rest_visibly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(init(&data, OWNER_PASSWORD).status.success());
    let (silent, _held) = silent_port().await;
    add_servers(&data, silent);
    let db = unique_name("resume");
    let added = cli(
        &data,
        &[
            "tenant",
            "add",
            "RESUME",
            "--name",
            "Resume",
            "--server",
            "pg0",
            "--database",
            &db,
        ],
    );
    let password = added
        .lines()
        .find_map(|l| l.strip_prefix("admin user: admin / "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no admin password in {added}"))
        .to_owned();

    let (mut first, addr) = serve(&data, &dir.path().join("first.log"));
    let owner = owner_token(&addr).await;
    let body = json!({"code": "HANG", "name": "Hang", "placement": "external", "server": "silent",
                      "database": "app", "username": "app", "password": "pw"});
    let (s, answer) = call(
        &addr,
        Method::POST,
        "/api/admin/tenants",
        Some(&owner),
        Some(body),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{answer}");
    // What a crash right after RESUME's admin user step leaves behind.
    let app = crate::first_start::open(&data).await;
    let resume = TenantCode::parse("RESUME").unwrap();
    let registry = app.registry();
    registry
        .set_status(&resume, TenantStatus::Provisioning, None)
        .await
        .unwrap();
    registry
        .set_provisioning_step(&resume, Some("admin user"))
        .await
        .unwrap();
    let (_, hang) = call(
        &addr,
        Method::GET,
        "/api/admin/tenants/HANG",
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(
        hang["status"], "provisioning",
        "still in its onboarding checks: {hang}"
    );
    first.kill().unwrap(); // SIGKILL: the job dies with the process
    first.wait().unwrap();

    let log = dir.path().join("second.log");
    let (mut second, addr) = serve(&data, &log);
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(
        said.contains("tenant HANG: unfinished provisioning marked failed"),
        "{said}"
    );
    assert!(
        said.contains("tenant RESUME: unfinished provisioning resumed"),
        "{said}"
    );
    let owner = owner_token(&addr).await;
    let (_, hang) = call(
        &addr,
        Method::GET,
        "/api/admin/tenants/HANG",
        Some(&owner),
        None,
    )
    .await;
    assert_eq!(hang["status"], "failed");
    let reason = hang["statusReason"].as_str().unwrap();
    assert!(
        reason.contains("retry") && reason.contains("new admin password"),
        "{reason}"
    );
    let started = Instant::now();
    loop {
        let (_, t) = call(
            &addr,
            Method::GET,
            "/api/admin/tenants/RESUME",
            Some(&owner),
            None,
        )
        .await;
        if t["status"] == "active" {
            break;
        }
        assert_eq!(t["status"], "provisioning", "{t}");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never resumed: {t}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let login = json!({"username": "admin", "password": password});
    let (s, _) = call(
        &addr,
        Method::POST,
        "/api/auth/login?company=RESUME",
        None,
        Some(login),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "the resume kept the admin password");
    for (code, result) in [("RESUME", "ok"), ("HANG", "failed")] {
        let path = format!("/api/admin/audit?tenant={code}");
        let (_, audit) = call(&addr, Method::GET, &path, Some(&owner), None).await;
        let row = &audit["data"][0];
        assert_eq!(
            (row["action"].as_str(), row["result"].as_str()),
            (Some("tenant.recover"), Some(result)),
            "{audit}"
        );
        assert_eq!(row["actor"], "system");
    }
    second.kill().unwrap();
    second.wait().unwrap();
}
