//! Hostile input at every edge: tenant codes, subdomains and `Host` headers, names that reach DDL,
//! JSON bodies (wrong types, oversize, deeply nested, invalid UTF-8), pagination extremes, forged
//! tokens and storage paths. Each is a clear 4xx with a JSON error, and afterwards the registry
//! and a tenant database hold exactly what they held before.

use crate::common::{error_code, On, TestApp};
use crate::files::raw;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::{Column, Row};
use tenantry_testkit::shared_pg;

/// Every row of every registry table but the audit log and the jobs (which record refusals),
/// column by column, as text: what "the registry is unchanged" compares.
async fn registry_dump(t: &TestApp) -> String {
    let pool = t.registry().pool();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' \
         AND name NOT LIKE 'sqlite%' AND name NOT IN ('audit_log', 'jobs') ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(tables.contains(&"tenants".to_owned()), "{tables:?}");
    let mut dump = String::new();
    for table in tables {
        let rows = sqlx::query(&format!("SELECT * FROM {table} ORDER BY 1"))
            .fetch_all(pool)
            .await
            .unwrap();
        for row in rows {
            dump.push_str(&table);
            for (i, col) in row.columns().iter().enumerate() {
                let v = row
                    .try_get::<Option<String>, _>(i)
                    .map(|v| format!("{v:?}"))
                    .or_else(|_| row.try_get::<Option<i64>, _>(i).map(|v| format!("{v:?}")))
                    .or_else(|_| row.try_get::<Option<f64>, _>(i).map(|v| format!("{v:?}")))
                    .unwrap_or_else(|_| "<blob>".into());
                dump.push_str(&format!(" {}={v}", col.name()));
            }
            dump.push('\n');
        }
    }
    dump
}

/// The tables of tenant database `db` on PostgreSQL server 0 and the rows of each.
fn tenant_db_dump(db: &str) -> String {
    shared_pg(0)
        .psql(
            db,
            "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables \
             WHERE table_schema = 'public'; \
             SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM sites), \
             (SELECT count(*) FROM tickets), (SELECT count(*) FROM users), \
             (SELECT string_agg(name, ',' ORDER BY id) FROM customers);",
        )
        .unwrap()
}

/// A server with tenant `ACME` on PostgreSQL (with one customer) and the owner's and ACME's tokens.
async fn world() -> (TestApp, String, String, String) {
    let t = TestApp::spawn().await;
    let acme = t.tenant("ACME", On::Pg(0)).await;
    t.tenant("ACME-2", On::Sqlite).await;
    let token = t.login("ACME").await;
    t.seed(&token, "acme").await;
    let owner = t.owner_token().await;
    let db = acme.database.to_string();
    (t, owner, token, db)
}

/// Asserts a 4xx whose body is `{"error":{"code","message"}}` with a non-empty message.
#[track_caller]
fn refused(what: &str, (status, body): &(StatusCode, Value)) {
    assert!(status.is_client_error(), "{what}: {status} {body}");
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(
        body["error"]["code"].is_string() && !message.is_empty(),
        "{what}: not a JSON error: {body}"
    );
}

#[tokio::test]
async fn hostile_tenant_codes_subdomains_and_hosts_are_refused_and_change_nothing() {
    let (t, _owner, token, db) = world().await;
    let (before, db_before) = (registry_dump(&t).await, tenant_db_dump(&db));
    let long = "A".repeat(5000);
    let codes = [
        "ACME'; DROP TABLE tenants;--",
        "ACME\"",
        "ACMÉ",
        "АСМЕ", // Cyrillic look-alikes
        "../ACME",
        "ACME%00",
        " ",
        &long,
        "ACME_2", // differs from ACME-2 only by `_`: another (unknown) tenant
    ];
    for code in codes {
        // A header can carry only visible ASCII; the others go through `?company=` only.
        if code.is_ascii() && code.trim() == code {
            let header = t
                .call_with(
                    Method::GET,
                    "/api/customers",
                    None,
                    None,
                    &[("X-Tenant", code)],
                )
                .await;
            refused(&format!("X-Tenant {code:?}"), &header);
        }
        let path = format!("/api/customers?company={}", urlencoding(code));
        refused(
            &format!("company {code:?}"),
            &t.call(Method::GET, &path, None, None).await,
        );
    }
    let hosts = [
        "acme'--.example.com",
        "a.b.acme.example.com",
        "xn--80ak6aa92e.example.com",
        "acme.example.com:99999",
        "ACME.EXAMPLE.COM.",
        "..",
        &format!("{}.example.com", "a".repeat(300)),
    ];
    for host in hosts {
        let answer = t
            .call_with(Method::GET, "/api/customers", None, None, &[("Host", host)])
            .await;
        refused(&format!("Host {host:?}"), &answer);
    }
    let (s, body) = t
        .call_with(
            Method::GET,
            "/api/customers",
            Some(&token),
            None,
            &[("Host", "acme-2.example.com")],
        )
        .await;
    assert_eq!(
        (s, error_code(&body)),
        (StatusCode::FORBIDDEN, "tenant_mismatch"),
        "ACME's token on ACME-2's subdomain: {body}"
    );
    assert_eq!(registry_dump(&t).await, before);
    assert_eq!(tenant_db_dump(&db), db_before);
}

/// Percent-encodes everything but ASCII letters and digits.
fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn random_hosts_cost_no_registry_query_each_and_a_new_subdomain_resolves_at_once() {
    let (t, owner, _token, _db) = world().await;
    let reads = || {
        let s = t.registry().cache_stats();
        s.config_misses + s.domain_misses
    };
    // Let the change watcher take in the setup's own writes (else it drops the index once more
    // within a poll), then warm the host index once.
    t.registry().sync_changes().await.unwrap();
    t.call_with(
        Method::GET,
        "/api/customers",
        None,
        None,
        &[("Host", "warm.example.com")],
    )
    .await;
    let start = reads();
    for i in 0..400 {
        let host = match i % 2 {
            0 => format!("r{i}x{}.example.com", rand::random::<u32>()),
            _ => format!("shop-{}.attacker{i}.test", rand::random::<u32>()),
        };
        let (s, body) = t
            .call_with(
                Method::GET,
                "/api/customers",
                None,
                None,
                &[("Host", &host)],
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{host}: {body}");
        assert_eq!(error_code(&body), "tenant_not_found", "{host}: {body}");
    }
    assert_eq!(reads(), start, "400 random hosts read the registry");

    let body = json!({"code": "NEWCO", "name": "New Co", "placement": "dedicated",
        "server": "sqlite", "subdomain": "newco", "domains": ["portal.newco.test"],
        "adminPassword": "newco-admin-pw-1"});
    let created = t.create_tenant(&owner, body).await;
    assert_eq!(created.tenant["status"], "active", "{created:?}");
    for host in ["newco.example.com", "portal.newco.test"] {
        let (s, b) = t
            .call_with(
                Method::POST,
                "/api/auth/login",
                None,
                Some(json!({"username": "admin", "password": "newco-admin-pw-1"})),
                &[("Host", host)],
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{host} must resolve at once: {b}");
    }
}

#[tokio::test]
async fn hostile_names_bound_for_ddl_are_refused_before_any_statement() {
    let (t, owner, _token, db) = world().await;
    let (before, db_before) = (registry_dump(&t).await, tenant_db_dump(&db));
    let tenant = |field: &str, value: Value| {
        let mut b = json!({"code": "EVIL", "name": "Evil", "placement": "dedicated",
            "server": "pg0", "adminPassword": "evil-admin-pw-1"});
        b[field] = value;
        b
    };
    let hostile = [
        "x\"; DROP DATABASE postgres; --",
        "x'; DROP TABLE customers; --",
        "tenant_ünïcode",
        "a;b",
        "../etc",
        "",
    ];
    let long = "d".repeat(200);
    let mut bodies = vec![
        tenant("code", json!("EV IL")),
        tenant("code", json!("evil;--")),
        tenant("code", json!("E".repeat(33))),
        tenant("subdomain", json!("ev_il")),
        tenant("subdomain", json!("-evil")),
        tenant("domains", json!(["evil.test/../x"])),
        tenant("database", json!(long)),
        tenant("database", json!(db)), // another tenant's database: 409
    ];
    for name in hostile {
        bodies.push(tenant("database", json!(name)));
        let mut shared = tenant("schema", json!(name));
        shared["placement"] = json!("shared");
        bodies.push(shared);
    }
    for body in bodies {
        let answer = t
            .call(
                Method::POST,
                "/api/admin/tenants",
                Some(&owner),
                Some(body.clone()),
            )
            .await;
        refused(&body.to_string(), &answer);
    }
    for name in hostile.iter().copied().chain(["a b", "x/y"]) {
        let body = json!({"name": name, "engine": "postgres", "host": "127.0.0.1",
            "hosting": "ours", "adminUsername": "postgres"});
        let answer = t
            .call(Method::POST, "/api/admin/servers", Some(&owner), Some(body))
            .await;
        refused(&format!("server {name:?}"), &answer);
    }
    let evil_host = json!({"name": "evil", "engine": "postgres", "host": "db;rm -rf /",
        "hosting": "ours", "adminUsername": "postgres'--"});
    let answer = t
        .call(
            Method::POST,
            "/api/admin/servers",
            Some(&owner),
            Some(evil_host),
        )
        .await;
    refused("server host", &answer);
    assert_eq!(registry_dump(&t).await, before);
    assert_eq!(tenant_db_dump(&db), db_before);
}

#[tokio::test]
async fn malformed_and_oversize_json_bodies_are_refused_by_name_and_size() {
    let (t, owner, token, db) = world().await;
    let (before, db_before) = (registry_dump(&t).await, tenant_db_dump(&db));
    let send = |path: &'static str, auth: String, body: Vec<u8>| {
        let rq = t
            .client
            .post(t.url(path))
            .bearer_auth(auth)
            .header("content-type", "application/json")
            .body(body);
        async move {
            let resp = rq.send().await.unwrap();
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("wrong type", br#"{"name": 5}"#.to_vec(), "name"),
        (
            "invalid UTF-8",
            b"{\"name\": \"\xff\xfe\"}".to_vec(),
            "unicode",
        ),
        ("deeply nested", nested.clone().into_bytes(), "recursion"),
        ("truncated", br#"{"name": "x"#.to_vec(), "EOF"),
    ];
    for (what, body, names) in cases {
        for (path, auth) in [("/api/customers", &token), ("/api/admin/tenants", &owner)] {
            let (s, b) = send(path, auth.clone(), body.clone()).await;
            refused(&format!("{what} to {path}"), &(s, b.clone()));
            assert_eq!(s, StatusCode::BAD_REQUEST, "{what} to {path}: {b}");
            let message = b["error"]["message"].as_str().unwrap().to_lowercase();
            if path == "/api/customers" {
                assert!(
                    message.contains(&names.to_lowercase()),
                    "{what} to {path}: {b}"
                );
            }
        }
    }
    let huge = vec![b' '; 20 * 1024 * 1024];
    for (path, auth) in [("/api/customers", &token), ("/api/admin/tenants", &owner)] {
        let mut body = br#"{"name": "big", "notes": ""#.to_vec();
        body.extend_from_slice(&huge);
        body.extend_from_slice(br#""}"#);
        let head = format!(
            "POST {path} HTTP/1.1\r\nAuthorization: Bearer {auth}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        let (s, b) = raw(&t, &head, &body).await;
        assert_eq!(
            (s, error_code(&b)),
            (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            "20 MB to {path}: {b}"
        );
        // Chunked, with no declared length: the limit holds while reading.
        let chunked = format!(
            "POST {path} HTTP/1.1\r\nAuthorization: Bearer {auth}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        );
        let mut chunks = Vec::new();
        for part in body.chunks(1 << 20) {
            chunks.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            chunks.extend_from_slice(part);
            chunks.extend_from_slice(b"\r\n");
        }
        chunks.extend_from_slice(b"0\r\n\r\n");
        let (s, b) = raw(&t, &chunked, &chunks).await;
        assert_eq!(
            (s, error_code(&b)),
            (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            "{b}"
        );
    }
    assert_eq!(registry_dump(&t).await, before);
    assert_eq!(tenant_db_dump(&db), db_before);
}

#[tokio::test]
async fn pagination_extremes_are_400_with_a_json_error() {
    let (t, owner, token, _db) = world().await;
    let paths = [
        "/api/customers",
        "/api/tickets",
        "/api/users",
        "/api/admin/tenants",
        "/api/admin/audit",
        "/api/health/tenants",
    ];
    let queries = [
        "page=-1",
        "page=0",
        "limit=0",
        "limit=-5",
        "limit=99999999999999999999",
        "page=abc",
        "limit=1e3",
        "page=%00",
    ];
    for path in paths {
        let auth = if path.contains("admin") || path.contains("health") {
            &owner
        } else {
            &token
        };
        for q in queries {
            let answer = t
                .call(Method::GET, &format!("{path}?{q}"), Some(auth), None)
                .await;
            refused(&format!("{path}?{q}"), &answer);
            assert_eq!(
                answer.0,
                StatusCode::BAD_REQUEST,
                "{path}?{q}: {}",
                answer.1
            );
        }
    }
    let (s, b) = t.call(Method::DELETE, "/api/health", None, None).await;
    assert_eq!(
        (s, error_code(&b)),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
}

#[tokio::test]
async fn forged_expired_and_foreign_tokens_are_refused() {
    use base64::Engine as _;
    let (t, _owner, token, db) = world().await;
    let other = t.login("ACME-2").await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    let none_header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none_header}.{}.", parts[1]);
    let other_key = {
        let key = jsonwebtoken::EncodingKey::from_secret(b"not the platform's key");
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap()
    };
    claims["role"] = json!("admin");
    claims["tenant"] = json!("ACME-2");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(claims.to_string()),
        parts[2]
    );
    let expired = {
        let mut c = t.app.signer().verify(&token).unwrap();
        c.exp = chrono::Utc::now().timestamp() - 3600;
        c.iat = c.exp - 60;
        let key = jsonwebtoken::EncodingKey::from_secret(&t.jwt_secret);
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &c, &key).unwrap()
    };
    let mut fresh = t.app.signer().verify(&token).unwrap();
    fresh.exp = chrono::Utc::now().timestamp() + 600;
    let real_key = jsonwebtoken::EncodingKey::from_secret(&t.jwt_secret);
    let control =
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &fresh, &real_key).unwrap();
    let (s, b) = t
        .call(Method::GET, "/api/customers", Some(&control), None)
        .await;
    assert_eq!(s, StatusCode::OK, "the forging itself works: {b}");
    for (what, bad) in [
        ("alg none", &alg_none),
        ("other key", &other_key),
        ("tampered", &tampered),
        ("expired", &expired),
        ("garbage", &"x.y.z".to_owned()),
    ] {
        let answer = t.call(Method::GET, "/api/customers", Some(bad), None).await;
        assert_eq!(answer.0, StatusCode::UNAUTHORIZED, "{what}: {}", answer.1);
        refused(what, &answer);
    }
    for (what, path, headers) in [
        (
            "ACME-2's token with ?company=ACME",
            "/api/customers?company=ACME",
            vec![],
        ),
        (
            "ACME-2's token with X-Tenant ACME",
            "/api/customers",
            vec![("X-Tenant", "ACME")],
        ),
    ] {
        let answer = t
            .call_with(Method::GET, path, Some(&other), None, &headers)
            .await;
        assert_eq!(
            (answer.0, error_code(&answer.1)),
            (StatusCode::FORBIDDEN, "tenant_mismatch"),
            "{what}"
        );
    }
    let before = tenant_db_dump(&db);
    let (s, _) = t
        .call(
            Method::POST,
            "/api/customers?company=ACME",
            Some(&tampered),
            Some(json!({"name": "forged"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(tenant_db_dump(&db), before);
}

#[tokio::test]
async fn hostile_storage_paths_are_refused_and_write_nothing_outside() {
    let (t, _owner, token, _db) = world().await;
    let auth = format!("Authorization: Bearer {token}\r\nContent-Length: 2\r\n");
    let before = dir_listing(t.dir.path());
    for target in [
        "/api/files/../../registry.db",
        "/api/files/%2e%2e/%2e%2e/registry.db",
        "/api/files/..%2F..%2Fregistry.db",
        "/api/files//etc/passwd",
        "/api/files/%2Fetc%2Fpasswd",
        "/api/files/a%5C..%5C..%5Cx",
        "/api/files/a%00b",
    ] {
        let (s, b) = raw(&t, &format!("PUT {target} HTTP/1.1\r\n{auth}"), b"no").await;
        assert!(
            s.is_client_error() && b["error"]["code"].is_string(),
            "{target}: {s} {b}"
        );
    }
    assert_eq!(
        dir_listing(t.dir.path()),
        before,
        "something was written outside"
    );
}

/// Every path under `dir`, sorted (the registry's WAL files excepted: they come and go).
fn dir_listing(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let name = p.strip_prefix(dir).unwrap().display().to_string();
            if p.is_dir() {
                stack.push(p);
            }
            if !name.starts_with("registry.db-") {
                out.push(name);
            }
        }
    }
    out.sort();
    out
}
