//! ticket-desk end to end on a throwaway PostgreSQL server: tenants provisioned through the tenantry
//! library, the service's typed queries answering each tenant from its own database only.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use chrono::Utc;
use http_body_util::BodyExt;
use secrecy::SecretString;
use serde_json::Value;
use std::path::Path;
use tenantry::platform::{Actor, Platform, ProvisionRequest, ServerRef};
use tenantry::registry::NewServer;
use tenantry::secrets::MasterKey;
use tenantry::tenant::{Engine, Hosting, Placement, ServerName, TenantCode, TlsMode};
use tenantry_testkit::shared_pg;
use ticket_desk::{Closed, OpenTicket, Summary};

const PASSWORD: &str = "desk-admin-password-1";

async fn add_server(p: &Platform, name: &str, engine: Engine, host: String, port: Option<u16>) {
    let new = NewServer {
        name: ServerName::parse(name).unwrap(),
        engine,
        host,
        port,
        hosting: Hosting::Ours,
        region: None,
        tls: TlsMode::Disable,
        admin_username: (engine == Engine::Postgres).then(|| "postgres".to_owned()),
        admin_password: None,
    };
    p.add_server(&Actor::System, new).await.unwrap();
}

async fn provision(p: &Platform, code: &str, server: &str) {
    let mut req = ProvisionRequest::new(
        TenantCode::parse(code).unwrap(),
        format!("{code} Ltd"),
        Placement::Dedicated,
    );
    req.server = Some(ServerRef::parse(server).unwrap());
    req.admin_password = Some(SecretString::from(PASSWORD));
    let started = p.provision(&Actor::System, req).await.unwrap();
    started.wait(|_| {}).await.unwrap();
}

/// Inserts one customer and site and a ticket per `(title, priority, status)` into `code`'s database.
async fn seed(p: &Platform, code: &str, tickets: &[(&str, &str, &str)]) {
    let code = TenantCode::parse(code).unwrap();
    let config = p.registry().tenant_config(&code).await.unwrap().unwrap();
    let mut conn = p.pools().acquire(&config).await.unwrap();
    let pg = conn.as_postgres().unwrap();
    let customer = format!("{code} customer");
    let site: i64 = sqlx::query_scalar(
        "WITH c AS (INSERT INTO customers (name) VALUES ($1) RETURNING id) \
         INSERT INTO sites (customer_id, name) SELECT id, $1 || ' site' FROM c RETURNING id",
    )
    .bind(&customer)
    .fetch_one(&mut *pg)
    .await
    .unwrap();
    for (title, priority, status) in tickets {
        sqlx::query(
            "INSERT INTO tickets (site_id, title, priority, status) VALUES ($1, $2, $3, $4)",
        )
        .bind(site)
        .bind(*title)
        .bind(*priority)
        .bind(*status)
        .execute(&mut *pg)
        .await
        .unwrap();
    }
}

async fn token(p: &Platform, code: &str) -> String {
    let code = TenantCode::parse(code).unwrap();
    let config = p.registry().tenant_config(&code).await.unwrap().unwrap();
    p.login_user(&config, "admin", PASSWORD)
        .await
        .unwrap()
        .token
}

async fn call(app: &Router, method: &str, uri: &str, token: &str) -> (StatusCode, Value) {
    use tower::ServiceExt;
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A data directory laid out as `tenantry serve` leaves it (master key, registry).
async fn platform(dir: &Path) -> Platform {
    MasterKey::create_file(&dir.join("master.key")).unwrap();
    ticket_desk::open(dir).await.unwrap()
}

#[tokio::test]
async fn each_tenant_sees_its_own_open_tickets_most_urgent_first_with_typed_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let p = platform(dir.path()).await;
    let pg = shared_pg(0);
    add_server(
        &p,
        "pg",
        Engine::Postgres,
        pg.host().to_owned(),
        Some(pg.port()),
    )
    .await;
    // Codes that differ only by `-`/`_` get databases of their own.
    provision(&p, "DESK-1", "pg").await;
    provision(&p, "DESK_1", "pg").await;
    seed(
        &p,
        "DESK-1",
        &[
            ("dash low", "low", "open"),
            ("dash urgent", "urgent", "open"),
            ("dash closed", "high", "closed"),
            ("dash busy", "normal", "in_progress"),
        ],
    )
    .await;
    seed(&p, "DESK_1", &[("under normal", "normal", "open")]).await;
    let app = ticket_desk::router(&p);
    let (dash, under) = (token(&p, "DESK-1").await, token(&p, "DESK_1").await);

    let (s, body) = call(&app, "GET", "/desk/open-tickets", &dash).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let rows: Vec<OpenTicket> = serde_json::from_value(body).unwrap();
    let titles: Vec<&str> = rows.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(titles, ["dash urgent", "dash low"]);
    assert!(rows.iter().all(|t| t.customer == "DESK-1 customer"));
    assert!(rows.iter().all(|t| t.site == "DESK-1 customer site"));
    let age = Utc::now() - rows[0].created_at;
    assert!(
        age.num_seconds().abs() < 300,
        "created_at {}",
        rows[0].created_at
    );

    let (s, body) = call(&app, "GET", "/desk/open-tickets", &under).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let rows: Vec<OpenTicket> = serde_json::from_value(body).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].title, "under normal");

    let (s, body) = call(&app, "GET", "/desk/summary", &dash).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let summary: Summary = serde_json::from_value(body).unwrap();
    assert_eq!(
        (summary.open, summary.in_progress, summary.closed),
        (2, 1, 1)
    );
    assert!(summary.oldest_unclosed.is_some());

    let (s, body) = call(&app, "GET", "/desk/open-tickets?limit=0", &dash).await;
    assert_eq!(
        (s, &body["error"]["code"]),
        (StatusCode::BAD_REQUEST, &"invalid_input".into())
    );
}

#[tokio::test]
async fn closing_a_ticket_returns_its_time_and_is_refused_twice_or_for_an_unknown_id() {
    let dir = tempfile::tempdir().unwrap();
    let p = platform(dir.path()).await;
    let pg = shared_pg(0);
    add_server(
        &p,
        "pg",
        Engine::Postgres,
        pg.host().to_owned(),
        Some(pg.port()),
    )
    .await;
    provision(&p, "DESKCLOSE", "pg").await;
    seed(&p, "DESKCLOSE", &[("leaking tap", "high", "open")]).await;
    let app = ticket_desk::router(&p);
    let t = token(&p, "DESKCLOSE").await;
    let (s, body) = call(&app, "GET", "/desk/open-tickets", &t).await;
    let id = body[0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{s} {body}"));

    let (s, body) = call(&app, "POST", &format!("/desk/tickets/{id}/close"), &t).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let closed: Closed = serde_json::from_value(body).unwrap();
    assert_eq!(closed.id, id);
    assert!((Utc::now() - closed.closed_at).num_seconds().abs() < 300);
    let (s, body) = call(&app, "GET", "/desk/open-tickets", &t).await;
    assert_eq!((s, body), (StatusCode::OK, Value::Array(vec![])));

    let (s, body) = call(&app, "POST", &format!("/desk/tickets/{id}/close"), &t).await;
    assert_eq!(
        (s, &body["error"]["code"]),
        (StatusCode::CONFLICT, &"already_closed".into())
    );
    let (s, body) = call(&app, "POST", "/desk/tickets/999999/close", &t).await;
    assert_eq!(
        (s, &body["error"]["code"]),
        (StatusCode::NOT_FOUND, &"not_found".into())
    );
}

#[tokio::test]
async fn a_request_needs_a_token_of_its_own_tenant_and_a_postgres_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let p = platform(dir.path()).await;
    let pg = shared_pg(0);
    add_server(
        &p,
        "pg",
        Engine::Postgres,
        pg.host().to_owned(),
        Some(pg.port()),
    )
    .await;
    let files = dir.path().join("sqlite-tenants");
    add_server(
        &p,
        "lite",
        Engine::Sqlite,
        files.display().to_string(),
        None,
    )
    .await;
    provision(&p, "DESKPG", "pg").await;
    provision(&p, "DESKLITE", "lite").await;
    let app = ticket_desk::router(&p);
    let (pg_token, lite_token) = (token(&p, "DESKPG").await, token(&p, "DESKLITE").await);

    // Another tenant named explicitly with this tenant's token: refused by tenantry's layer.
    let (s, _) = call(&app, "GET", "/desk/summary?company=DESKLITE", &pg_token).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, body) = call(&app, "GET", "/desk/summary", "not-a-token").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    // A SQLite tenant on a PostgreSQL-only route: a clear configuration error, no query run.
    let (s, body) = call(&app, "GET", "/desk/summary", &lite_token).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["error"]["code"], "tenant_engine_unsupported");
}
