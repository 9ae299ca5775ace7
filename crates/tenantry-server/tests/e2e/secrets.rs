//! Secrets hygiene: a representative flow on a real `tenantry serve` (SQLite registry, debug logs)
//! — server registration with an admin password, provisioning on PostgreSQL and MariaDB with
//! generated and given passwords, database password changes, onboarding a customer's database,
//! the users API, and failures with wrong passwords — then every log line, every API answer and
//! the registry's file bytes are searched for the plaintext of every password used: zero hits.
//! (A generated password is answered once, by design; only that one answer may hold it.)

use crate::common::{mariadb_user_for_database, tenantry_cmd};
use crate::first_start::{init, open, OWNER_PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Child;
use tenantry::tenant::TenantCode;
use tenantry_testkit::{shared_mariadb, shared_pg, unique_name};

/// `tenantry serve` on `data` at debug level (every library log line), stderr into `log`.
fn serve(data: &Path, log: &Path) -> (Child, String) {
    let mut cmd = tenantry_cmd(data);
    cmd.env("TENANTRY_LOG", "debug")
        .env("TENANTRY_LOG_FORMAT", "json")
        .stderr(std::fs::File::create(log).unwrap());
    crate::common::serve(cmd)
}

/// Sends requests to the spawned server and keeps every answer's text.
struct Recorder {
    addr: String,
    client: reqwest::Client,
    answers: Vec<String>,
    /// Answers that show a generated password once, with that password.
    shown_once: Vec<(String, String)>,
}

impl Recorder {
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value) {
        let mut rq = self
            .client
            .request(method, format!("http://{}{path}", self.addr));
        if let Some(t) = token {
            rq = rq.bearer_auth(t);
        }
        if !body.is_null() {
            rq = rq.json(&body);
        }
        let resp = rq.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        let generated = ["adminPassword", "password"]
            .iter()
            .find_map(|k| json[k].as_str().map(str::to_owned));
        match generated {
            Some(pw) => self.shown_once.push((text, pw)),
            None => self.answers.push(text),
        }
        (status, json)
    }

    /// Provisions through the admin API and waits for the job; the tenant as it ended.
    async fn provision(&mut self, owner: &str, body: Value) -> Value {
        let (s, started) = self
            .call(Method::POST, "/api/admin/tenants", Some(owner), body)
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{started}");
        let id = started["tenant"]["id"].as_str().unwrap().to_owned();
        for _ in 0..600 {
            let (_, t) = self
                .call(
                    Method::GET,
                    &format!("/api/admin/tenants/{id}"),
                    Some(owner),
                    Value::Null,
                )
                .await;
            if t["status"] != "provisioning" {
                assert_eq!(t["status"], "active", "{t}");
                return t;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("provisioning never finished");
    }

    async fn login(&mut self, code: &str, user: &str, password: &str) -> (StatusCode, String) {
        let body = json!({"username": user, "password": password});
        let (s, r) = self
            .call(
                Method::POST,
                &format!("/api/auth/login?company={code}"),
                None,
                body,
            )
            .await;
        (s, r["token"].as_str().unwrap_or("").to_owned())
    }
}

#[tokio::test]
async fn no_password_of_the_flow_appears_in_logs_answers_or_the_registry_file() {
    let dir = tempfile::tempdir().unwrap();
    let (data, log) = (dir.path().join("data"), dir.path().join("serve.log"));
    assert!(init(&data, OWNER_PASSWORD).status.success());
    let (mut child, addr) = serve(&data, &log);
    let mut r = Recorder {
        addr,
        client: reqwest::Client::new(),
        answers: vec![],
        shown_once: vec![],
    };
    let mut secrets: Vec<String> = vec![OWNER_PASSWORD.to_owned()];
    let mut pw = |name: &str| {
        let p = format!("Sx{name}-{}", rand::random::<u32>());
        secrets.push(p.clone());
        p
    };
    let (server_admin, admin_given, user_pw, user_pw2, db_given, customer_pw, wrong) = (
        pw("srvadm"),
        pw("admin"),
        pw("user1"),
        pw("user2"),
        pw("dbgiven"),
        pw("cust"),
        pw("wrong"),
    );

    let (s, o) = r
        .call(
            Method::POST,
            "/api/admin/login",
            None,
            json!({"email": "ops@example.com", "password": wrong}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{o}");
    let (_, o) = r
        .call(
            Method::POST,
            "/api/admin/login",
            None,
            json!({"email": "ops@example.com", "password": OWNER_PASSWORD}),
        )
        .await;
    let owner = o["token"].as_str().unwrap().to_owned();
    let pg = shared_pg(0);
    let servers = [
        json!({"name": "pg0", "engine": "postgres", "host": pg.host(), "port": pg.port(), "hosting": "ours",
            "tls": "disable", "adminUsername": "postgres", "adminPassword": server_admin}),
        json!({"name": "maria", "engine": "mysql", "host": shared_mariadb().host(), "port": shared_mariadb().port(),
            "hosting": "ours", "tls": "disable", "adminUsername": "root"}),
    ];
    for body in servers {
        let (s, b) = r
            .call(Method::POST, "/api/admin/servers", Some(&owner), body)
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let base = |code: &str, server: &str| json!({"code": code, "name": code, "placement": "dedicated", "server": server, "separateDbUser": true});
    let mut given = base("SECPG", "pg0");
    given["adminPassword"] = json!(admin_given);
    r.provision(&owner, given).await;
    r.provision(&owner, base("SECGEN", "pg0")).await;
    let mut maria = base("SECMY", "maria");
    maria["adminPassword"] = json!(admin_given);
    r.provision(&owner, maria).await;

    for (code, body) in [
        ("SECPG", Value::Null),
        ("SECMY", json!({"password": db_given})),
        ("SECGEN", json!({"password": db_given})),
    ] {
        let (s, b) = r
            .call(
                Method::POST,
                &format!("/api/admin/tenants/{code}/db-password"),
                Some(&owner),
                body,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{code}: {b}");
    }

    let (cust_db, cust_user) = (unique_name("cust"), unique_name("cu"));
    mariadb_user_for_database(&cust_db, &cust_user, &customer_pw);
    shared_mariadb()
        .sql(&format!("CREATE DATABASE {cust_db}"))
        .unwrap();
    let check = |password: &str| json!({"server": "maria", "database": cust_db, "username": cust_user, "password": password});
    let (s, report) = r
        .call(
            Method::POST,
            "/api/admin/onboard/check",
            Some(&owner),
            check(&wrong),
        )
        .await;
    assert_eq!(
        (s, &report["ok"]),
        (StatusCode::OK, &json!(false)),
        "{report}"
    );
    let (s, report) = r
        .call(
            Method::POST,
            "/api/admin/onboard/check",
            Some(&owner),
            check(&customer_pw),
        )
        .await;
    assert_eq!(
        (s, &report["ok"]),
        (StatusCode::OK, &json!(true)),
        "{report}"
    );
    let mut ext = check(&customer_pw);
    ext.as_object_mut().unwrap().extend([
        ("code".into(), json!("SECEXT")),
        ("name".into(), json!("Ext")),
        ("placement".into(), json!("external")),
        ("migrate".into(), json!(true)),
        ("adminPassword".into(), json!(admin_given)),
    ]);
    r.provision(&owner, ext).await;

    let (s, _) = r.login("SECPG", "admin", &wrong).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, admin) = r.login("SECPG", "admin", &admin_given).await;
    assert_eq!(s, StatusCode::OK);
    let body =
        json!({"username": "dana", "fullName": "Dana", "role": "dispatcher", "password": user_pw});
    let (s, u) = r.call(Method::POST, "/api/users", Some(&admin), body).await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    let uid = u["id"].as_i64().unwrap();
    let (s, b) = r
        .call(
            Method::POST,
            &format!("/api/users/{uid}/password"),
            Some(&admin),
            json!({"password": user_pw2}),
        )
        .await;
    assert!(s.is_success(), "{b}");
    assert_eq!(
        r.login("SECPG", "dana", &user_pw).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(r.login("SECPG", "dana", &user_pw2).await.0, StatusCode::OK);
    let (s, b) = r
        .call(
            Method::POST,
            "/api/users",
            Some(&admin),
            json!({"username": "x", "password": "short"}),
        )
        .await;
    assert!(s.is_client_error(), "{b}");
    for (_, code) in [("", "SECPG"), ("", "SECMY"), ("", "SECEXT")] {
        let (_, tok) = r.login(code, "admin", &admin_given).await;
        let (s, b) = r
            .call(Method::GET, "/api/customers", Some(&tok), Value::Null)
            .await;
        assert_eq!(s, StatusCode::OK, "{code}: {b}");
    }

    child.kill().unwrap();
    child.wait().unwrap();
    for (text, pw) in &r.shown_once {
        secrets.push(pw.clone());
        assert!(text.contains(pw.as_str()));
    }
    // The generated database passwords (never shown), read back through the key file.
    let app = open(&data).await;
    for code in ["SECPG", "SECGEN", "SECMY"] {
        let config = app
            .registry()
            .tenant_config(&TenantCode::parse(code).unwrap())
            .await
            .unwrap()
            .unwrap();
        let p = config
            .source
            .password
            .as_ref()
            .map(|p| tenantry::secrets::expose(p).to_owned());
        secrets.push(p.unwrap_or_else(|| panic!("{code} has its own login and password")));
    }
    app.registry().close().await;

    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(
        logs.lines().count() > 50,
        "debug logs were captured: {}",
        logs.lines().count()
    );
    let mut registry = Vec::new();
    for f in std::fs::read_dir(&data).unwrap() {
        let p = f.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("registry.db")
        {
            registry.extend(std::fs::read(&p).unwrap());
        }
    }
    let answers = r.answers.join("\n");
    let mut hits = Vec::new();
    for secret in &secrets {
        for (place, text) in [
            ("log", logs.as_bytes()),
            ("answer", answers.as_bytes()),
            ("registry", &registry[..]),
        ] {
            if text.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                hits.push(format!("{secret} in {place}"));
            }
        }
        for (text, pw) in &r.shown_once {
            if pw != secret && text.contains(secret.as_str()) {
                hits.push(format!("{secret} in a shown-once answer"));
            }
        }
    }
    assert!(hits.is_empty(), "plaintext passwords found: {hits:?}");
}
