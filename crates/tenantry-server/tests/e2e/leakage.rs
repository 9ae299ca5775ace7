//! The isolation property, tried at random: thousands of interleaved requests against the real
//! server, for tenants on PostgreSQL (dedicated and shared-schema), MariaDB, SQLite and a
//! customer's PostgreSQL server, whose codes differ only by `-`/`_`; resolved by token, `X-Tenant`,
//! `?company=` and subdomain; with a tiny `max_pools` (pools evicted all the time, the schema
//! tenants taking over each other's evicted connections) and database
//! passwords changed through the admin API mid-run. Every row answered carries its own tenant's
//! marker, and mismatched sources are refused.
//!
//! The run prints its seed; `TENANTRY_PROPTEST_SEED=…` replays the same sequence of requests
//! (`TENANTRY_PROPTEST_CASES` changes how many, default 2,500).

use crate::common::{error_code, On, TestApp};
use futures::StreamExt;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use tenantry::pools::PoolManagerSettings;
use tenantry_testkit::{shared_pg, unique_name};

/// One tenant of the run: its code, subdomain, token, and whether its database login is its own
/// (so its password may be changed).
struct Subject {
    code: String,
    subdomain: String,
    id: String,
    token: String,
    own_login: bool,
}

/// The tenants, as provisioning requests (everything but code, name, subdomain and password).
fn placements(shared_db: &str, external_db: &str) -> Vec<(&'static str, Value, bool)> {
    let dedicated = |server: &str, own: bool| json!({"placement": "dedicated", "server": server, "separateDbUser": own});
    let shared = |schema: &str| json!({"placement": "shared", "server": "pg0", "database": shared_db, "schema": schema});
    vec![
        ("LK-1", dedicated("pg0", true), true),
        ("LK_1", dedicated("pg0", true), true),
        ("LS-1", shared("ls_a"), false),
        ("LS_1", shared("ls_b"), false),
        ("LM-1", dedicated("mariadb", true), true),
        ("LM_1", dedicated("mariadb", false), false),
        ("LQ-1", dedicated("sqlite", false), false),
        ("LQ_1", dedicated("sqlite", false), false),
        (
            "LX-1",
            json!({"placement": "external", "server": "pg1", "database": external_db,
                "username": "postgres", "migrate": true}),
            false,
        ),
    ]
}

async fn subjects(t: &TestApp, owner: &str) -> Vec<Subject> {
    for on in [On::Pg(0), On::Pg(1), On::MariaDb, On::Sqlite] {
        t.server(on).await;
    }
    let external_db = unique_name("cust");
    shared_pg(1)
        .psql("postgres", &format!("CREATE DATABASE {external_db}"))
        .unwrap();
    let mut out = Vec::new();
    for (i, (code, placement, own_login)) in placements(&unique_name("shared"), &external_db)
        .into_iter()
        .enumerate()
    {
        let subdomain = format!("leak{i}");
        let mut body = placement;
        body["code"] = json!(code);
        body["name"] = json!(format!("Tenant {code}"));
        body["subdomain"] = json!(subdomain);
        body["adminPassword"] = json!(crate::common::PASSWORD);
        let created = t.create_tenant(owner, body).await;
        assert_eq!(created.tenant["status"], "active", "{code}: {created:?}");
        // 8 clients at full speed are past a plan's rate limit: this test is about isolation.
        t.lift_rate_limit(code).await;
        let token = t.login(code).await;
        t.seed(&token, &marker(code)).await;
        t.seed(&token, &marker(code)).await;
        out.push(Subject {
            code: code.to_owned(),
            subdomain,
            id: created.tenant["id"].as_str().unwrap().to_owned(),
            token,
            own_login,
        });
    }
    out
}

/// What every row of tenant `code` starts with.
fn marker(code: &str) -> String {
    format!("{code}|")
}

/// One random request: who sends it, how the tenant is named, and a second tenant for mismatches.
#[derive(Debug, Clone, Copy)]
struct Case {
    who: usize,
    kind: u8,
    other: usize,
    id: u32,
}

/// Counts of what the run saw.
#[derive(Default)]
struct Tally {
    rows: AtomicU64,
    refused: AtomicU64,
    /// A new connection opened between a password change's server `ALTER` and its registry write
    /// is refused its login; the pool manager then re-reads the credentials and retries, so even
    /// then the request is served (no 503 is tolerated).
    password_changes: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_random_requests_see_only_their_own_tenants_rows() {
    let seed = std::env::var("TENANTRY_PROPTEST_SEED")
        .ok()
        .map(|s| s.parse::<u64>().expect("TENANTRY_PROPTEST_SEED is a u64"))
        .unwrap_or_else(rand::random);
    let cases_n: usize = std::env::var("TENANTRY_PROPTEST_CASES")
        .ok()
        .map(|s| s.parse().expect("TENANTRY_PROPTEST_CASES is a number"))
        .unwrap_or(2_500);
    eprintln!("leakage: seed {seed} (replay with TENANTRY_PROPTEST_SEED={seed}), {cases_n} cases");
    let pools = PoolManagerSettings {
        max_pools: 3,
        ..PoolManagerSettings::default()
    };
    let t = TestApp::spawn_with(pools, None).await;
    let owner = t.owner_token().await;
    let subjects = subjects(&t, &owner).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let cases: Vec<Case> = (0..cases_n)
        .map(|_| Case {
            who: rng.gen_range(0..subjects.len()),
            kind: rng.gen_range(0..12),
            other: rng.gen_range(0..subjects.len()),
            id: rng.gen_range(1..8),
        })
        .collect();
    let tally = Tally::default();
    let started = std::time::Instant::now();
    futures::stream::iter(cases.iter().enumerate())
        .for_each_concurrent(8, |(n, case)| {
            let (t, subjects, owner, tally) = (&t, &subjects, &owner, &tally);
            async move { run(t, subjects, owner, tally, n, *case).await }
        })
        .await;
    let stats = t.app.pools().stats();
    eprintln!(
        "leakage: {cases_n} requests in {:?}; {} rows checked, {} refusals, {} password changes, {} pool evictions, {} connections taken over ({} keeping statements)",
        started.elapsed(),
        tally.rows.load(Ordering::Relaxed),
        tally.refused.load(Ordering::Relaxed),
        tally.password_changes.load(Ordering::Relaxed),
        stats.evictions,
        stats.connections_taken_over,
        stats.takeovers_keeping_statements,
    );
    assert!(
        stats.evictions > 100,
        "max_pools 3 must evict: {}",
        stats.evictions
    );
    assert!(
        stats.connections_taken_over > 0,
        "the two schema tenants of one database must take over each other's evicted connections"
    );
    assert!(
        stats.takeovers_keeping_statements > 0,
        "same schema shape: taken-over connections keep their prepared statements, re-parsed \
         against the new tenant's schema (the rows checked above prove it is the new tenant's)"
    );
    assert!(tally.password_changes.load(Ordering::Relaxed) > 0);
    assert!(tally.rows.load(Ordering::Relaxed) > cases_n as u64);
}

/// Sends one case and checks its answer; panics (naming the seed's case) on any foreign row.
async fn run(t: &TestApp, subjects: &[Subject], owner: &str, tally: &Tally, n: usize, case: Case) {
    if n % 250 == 125 {
        // Mid-run, every 250 requests: a new database password for one of the tenants that have
        // their own login, while the others' requests keep flowing.
        let own: Vec<&Subject> = subjects.iter().filter(|s| s.own_login).collect();
        let s = own[(n / 250) % own.len()];
        let path = format!("/api/admin/tenants/{}/db-password", s.id);
        let (status, body) = t.call(Method::POST, &path, Some(owner), None).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "case {n}: password change of {}: {body}",
            s.code
        );
        tally.password_changes.fetch_add(1, Ordering::Relaxed);
    }
    if n % 100 == 50 {
        // The pool cache keeps frequent tenants (TinyLFU), so a seed may never evict the two
        // schema tenants (`LS-1`, `LS_1`, one database): every 100 requests both pools go, their
        // idle connections are parked, and the next of them to open a pool takes one over.
        for s in subjects.iter().filter(|s| s.code.starts_with("LS")) {
            t.app.pools().evict(s.id.parse().unwrap());
        }
    }
    let me = &subjects[case.who];
    let other = &subjects[case.other];
    let host = format!("{}.example.com", me.subdomain);
    let token = Some(me.token.as_str());
    let what = format!("case {n} {case:?} for {}", me.code);
    let list = |path: String, headers: Vec<(&'static str, String)>| async move {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        t.call_with(Method::GET, &path, token, None, &headers).await
    };
    let answer = match case.kind {
        0 => list("/api/customers?limit=100".into(), vec![]).await,
        1 => {
            list(
                "/api/customers?limit=100".into(),
                vec![("X-Tenant", me.code.clone())],
            )
            .await
        }
        2 => {
            list(
                format!("/api/customers?limit=100&company={}", me.code),
                vec![],
            )
            .await
        }
        3 => list("/api/customers?limit=100".into(), vec![("Host", host)]).await,
        4 => list("/api/tickets?limit=100".into(), vec![("Host", host)]).await,
        5 => list(format!("/api/customers/{}", case.id), vec![]).await,
        6 => {
            let body = json!({"name": format!("{}{n}", marker(&me.code))});
            let (s, row) = t
                .call(Method::POST, "/api/customers", token, Some(body))
                .await;
            assert_eq!(s, StatusCode::CREATED, "{what}: {row}");
            (StatusCode::OK, row)
        }
        7 | 8 if me.code != other.code => {
            let (path, headers) = if case.kind == 7 {
                (
                    "/api/customers".to_owned(),
                    vec![("X-Tenant", other.code.clone())],
                )
            } else {
                (format!("/api/customers?company={}", other.code), vec![])
            };
            let (s, body) = list(path, headers).await;
            assert_eq!(
                (s, error_code(&body)),
                (StatusCode::FORBIDDEN, "tenant_mismatch"),
                "{what}: {}'s token naming {}: {body}",
                me.code,
                other.code
            );
            tally.refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
        9 if me.code != other.code => {
            let other_host = format!("{}.example.com", other.subdomain);
            let (s, body) = list("/api/customers".into(), vec![("Host", other_host)]).await;
            assert_eq!(
                s,
                StatusCode::FORBIDDEN,
                "{what}: token on {}'s host: {body}",
                other.code
            );
            tally.refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
        _ => {
            list(
                "/api/sites?limit=100".into(),
                vec![("X-Tenant", me.code.clone())],
            )
            .await
        }
    };
    let (status, body) = answer;
    if case.kind == 5 && status == StatusCode::NOT_FOUND {
        return;
    }
    assert_eq!(status, StatusCode::OK, "{what}: {body}");
    let rows = match body.get("data") {
        Some(Value::Array(rows)) => rows.clone(),
        _ => vec![body],
    };
    assert!(!rows.is_empty() || case.kind == 5, "{what}: no rows");
    let mine = marker(&me.code);
    for row in &rows {
        let text = row["name"].as_str().or(row["title"].as_str()).unwrap_or("");
        assert!(
            text.starts_with(&mine),
            "{what}: FOREIGN ROW for {}: {row}",
            me.code
        );
        tally.rows.fetch_add(1, Ordering::Relaxed);
    }
}
