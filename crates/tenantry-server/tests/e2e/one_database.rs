//! One tenant per database (issue 6 item 1): codes that differ only by `-`/`_` get their own
//! databases and stay isolated; another tenant's database or schema, or one already on the
//! server, is refused with 409 `database_in_use` and nothing created or changed; schemas are
//! PostgreSQL's; a tombstone releases its database's name once the database is gone.

use crate::common::{error_code, On, TestApp};
use crate::provision::login_with;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tenantry_testkit::{shared_mariadb, shared_pg, unique_name};

/// A token of tenant `code`'s `admin`.
async fn token(t: &TestApp, code: &str, password: &str) -> String {
    let body = json!({"username": "admin", "password": password});
    let path = format!("/api/auth/login?company={code}");
    let (s, r) = t.call(Method::POST, &path, None, Some(body)).await;
    assert_eq!(s, StatusCode::OK, "login to {code}: {r}");
    r["token"].as_str().unwrap().to_owned()
}

/// The names of the customers the token's tenant sees.
async fn customers(t: &TestApp, token: &str) -> Vec<String> {
    let (s, body) = t
        .call(Method::GET, "/api/customers", Some(token), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let rows = body["data"].as_array().unwrap();
    rows.iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Whether database `db` exists on the server of `on`.
fn exists(on: On, db: &str) -> bool {
    let out = match on {
        On::MariaDb => shared_mariadb()
            .sql(&format!("SHOW DATABASES LIKE '{db}'"))
            .unwrap(),
        On::Pg(n) => shared_pg(n)
            .psql(
                "postgres",
                &format!("SELECT datname FROM pg_database WHERE datname = '{db}'"),
            )
            .unwrap(),
        On::Sqlite | On::Mssql => unreachable!("not used here"),
    };
    out.trim() == db
}

fn server_name(on: On) -> &'static str {
    match on {
        On::MariaDb => "mariadb",
        _ => "pg0",
    }
}

/// `AB-1` then `AB_1` (no database given) on `on`: two databases, each tenant sees only its own
/// rows and keeps its own admin password, and deleting one leaves the other working.
async fn dash_and_underscore_stay_apart(on: On) {
    let t = TestApp::spawn().await;
    t.server(on).await;
    let owner = t.owner_token().await;
    let server = server_name(on);
    let dash = t
        .create_tenant(
            &owner,
            json!({"code": "AB-1", "name": "Dash", "placement": "dedicated", "server": server}),
        )
        .await;
    let under = t
        .create_tenant(
            &owner,
            json!({"code": "AB_1", "name": "Under", "placement": "dedicated", "server": server}),
        )
        .await;
    for c in [&dash, &under] {
        assert_eq!(c.tenant["status"], "active", "{}", c.job);
    }
    let (db_dash, db_under) = (&dash.tenant["database"], &under.tenant["database"]);
    assert_eq!(db_dash, "tenantd_ab_d1");
    assert_eq!(db_under, "tenant_ab_1");

    let dash_token = token(&t, "AB-1", dash.admin_password()).await;
    let under_token = token(&t, "AB_1", under.admin_password()).await;
    t.seed(&dash_token, "dash").await;
    t.seed(&under_token, "under").await;
    assert_eq!(customers(&t, &dash_token).await, ["dash customer"]);
    assert_eq!(customers(&t, &under_token).await, ["under customer"]);
    assert_eq!(
        login_with(&t, "AB-1", dash.admin_password()).await,
        StatusCode::OK,
        "provisioning AB_1 left AB-1's admin password alone"
    );

    let path = format!(
        "/api/admin/tenants/{}",
        under.tenant["id"].as_str().unwrap()
    );
    let confirm = Some(json!({"confirm": "DELETE"}));
    let (s, body) = t.call(Method::DELETE, &path, Some(&owner), confirm).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(!exists(on, db_under.as_str().unwrap()));
    assert!(
        exists(on, db_dash.as_str().unwrap()),
        "AB-1's database stays"
    );
    let dash_token = token(&t, "AB-1", dash.admin_password()).await;
    assert_eq!(customers(&t, &dash_token).await, ["dash customer"]);
}

#[tokio::test]
async fn codes_differing_only_by_dash_or_underscore_get_separate_postgres_databases() {
    dash_and_underscore_stay_apart(On::Pg(0)).await;
}

#[tokio::test]
async fn codes_differing_only_by_dash_or_underscore_get_separate_mariadb_databases() {
    dash_and_underscore_stay_apart(On::MariaDb).await;
}

/// The registry's tenants (tombstones included) and audit rows, to prove nothing changed.
async fn registry_state(t: &TestApp) -> (Value, Vec<String>) {
    let owner = t.owner_token().await;
    let (_, tenants) = t
        .call(
            Method::GET,
            "/api/admin/tenants?limit=100",
            Some(&owner),
            None,
        )
        .await;
    let (entries, _) = t.registry().list_audit(None, 1, 500).await.unwrap();
    let audit = entries.iter().map(|e| e.action.clone()).collect();
    (tenants["data"].clone(), audit)
}

#[tokio::test]
async fn another_tenants_database_is_409_database_in_use_and_nothing_changes() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    for (on, first, second) in [(On::Pg(0), "PGA", "PGB"), (On::MariaDb, "MYA", "MYB")] {
        t.server(on).await;
        let db = unique_name("taken");
        let body = json!({"code": first, "name": "First", "placement": "dedicated", "server": server_name(on), "database": db});
        let a = t.create_tenant(&owner, body).await;
        assert_eq!(a.tenant["status"], "active", "{}", a.job);
        let a_token = token(&t, first, a.admin_password()).await;
        t.seed(&a_token, first).await;
        let (tenants, audit) = registry_state(&t).await;

        let body = json!({"code": second, "name": "Second", "placement": "dedicated", "server": server_name(on), "database": db});
        let b = t.create_tenant(&owner, body).await;
        assert_eq!(
            (b.status, error_code(&b.answer)),
            (StatusCode::CONFLICT, "database_in_use"),
            "{}",
            b.answer
        );
        let message = b.answer["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("database:"),
            "names the field: {message}"
        );
        assert!(message.contains(first), "names the holder: {message}");

        let (tenants_after, audit_after) = registry_state(&t).await;
        assert_eq!(tenants_after, tenants, "no registry row left behind");
        assert_eq!(audit_after[0], "tenant.provision", "the refusal is audited");
        assert_eq!(audit_after[1..], audit[..], "and nothing else happened");
        assert_eq!(
            login_with(&t, first, a.admin_password()).await,
            StatusCode::OK
        );
        let first_customer = format!("{first} customer");
        assert_eq!(customers(&t, &a_token).await, [first_customer]);
    }
}

#[tokio::test]
async fn a_database_already_on_the_server_is_not_adopted_and_nothing_is_registered() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    t.server(On::Pg(0)).await;
    let db = unique_name("foreign");
    let pg = shared_pg(0);
    pg.psql("postgres", &format!("CREATE DATABASE {db}"))
        .unwrap();
    pg.psql(
        &db,
        "CREATE TABLE precious (id int); INSERT INTO precious VALUES (7)",
    )
    .unwrap();
    let body = json!({"code": "ADOPT", "name": "Adopter", "placement": "dedicated", "server": "pg0", "database": db});
    let c = t.create_tenant(&owner, body).await;
    assert_eq!(
        (c.status, error_code(&c.answer)),
        (StatusCode::CONFLICT, "database_in_use"),
        "{}",
        c.answer
    );
    let message = c.answer["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("database:") && message.contains("already exists"),
        "{message}"
    );
    let (s, _) = t
        .call(Method::GET, "/api/admin/tenants/ADOPT", Some(&owner), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "no registry row");
    let tables = pg
        .psql(
            &db,
            "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'",
        )
        .unwrap();
    assert_eq!(tables.trim(), "precious", "the database was not touched");
}

#[tokio::test]
async fn another_tenants_schema_is_409_naming_the_schema_and_its_database_is_not_anyones_own() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    t.server(On::Pg(0)).await;
    let db = unique_name("shared");
    let body = json!({"code": "SHA", "name": "A", "placement": "shared", "server": "pg0", "database": db, "schema": "team"});
    let a = t.create_tenant(&owner, body).await;
    assert_eq!(a.tenant["status"], "active", "{}", a.job);

    let body = json!({"code": "SHB", "name": "B", "placement": "shared", "server": "pg0", "database": db, "schema": "team"});
    let b = t.create_tenant(&owner, body).await;
    assert_eq!(error_code(&b.answer), "database_in_use", "{}", b.answer);
    let message = b.answer["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("schema:") && message.contains("SHA"),
        "{message}"
    );

    let body = json!({"code": "WHOLE", "name": "W", "placement": "dedicated", "server": "pg0", "database": db});
    let w = t.create_tenant(&owner, body).await;
    assert_eq!(error_code(&w.answer), "database_in_use", "{}", w.answer);
    assert!(w.answer["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("database:"));

    let body = json!({"code": "SHC", "name": "C", "placement": "shared", "server": "pg0", "database": db, "schema": "other"});
    let c = t.create_tenant(&owner, body).await;
    assert_eq!(
        c.tenant["status"], "active",
        "a schema of its own is fine: {}",
        c.job
    );
}

#[tokio::test]
async fn shared_placement_without_a_postgres_schema_is_refused_and_registers_nothing() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    t.server(On::MariaDb).await;
    t.server(On::Sqlite).await;
    let db = unique_name("shared");
    for (server, schema) in [
        ("mariadb", None),
        ("mariadb", Some("team")),
        ("sqlite", None),
    ] {
        let mut body = json!({"code": "SHMY", "name": "S", "placement": "shared", "server": server, "database": db});
        if let Some(s) = schema {
            body["schema"] = json!(s);
        }
        let c = t.create_tenant(&owner, body).await;
        assert_eq!(
            (c.status, error_code(&c.answer)),
            (StatusCode::BAD_REQUEST, "invalid_input"),
            "{server} {schema:?}: {}",
            c.answer
        );
        let message = c.answer["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("schema:"), "{message}");
    }
    let (s, _) = t
        .call(Method::GET, "/api/admin/tenants/SHMY", Some(&owner), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(!exists(On::MariaDb, &db));
}

#[tokio::test]
async fn a_tombstone_whose_database_was_dropped_releases_its_name() {
    let t = TestApp::spawn().await;
    let owner = t.owner_token().await;
    t.server(On::Pg(0)).await;
    let db = unique_name("reused");
    let body = |code: &str| json!({"code": code, "name": "N", "placement": "dedicated", "server": "pg0", "database": db});
    let old = t.create_tenant(&owner, body("OLD")).await;
    assert_eq!(old.tenant["status"], "active", "{}", old.job);
    let path = format!("/api/admin/tenants/{}", old.tenant["id"].as_str().unwrap());
    let (s, _) = t
        .call(
            Method::DELETE,
            &path,
            Some(&owner),
            Some(json!({"confirm": "DELETE"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let new = t.create_tenant(&owner, body("NEW")).await;
    assert_eq!(new.status, StatusCode::ACCEPTED, "{}", new.answer);
    assert_eq!(new.tenant["status"], "active", "{}", new.job);
    assert_eq!(new.tenant["database"], db.as_str());
}

#[tokio::test]
async fn two_concurrent_claims_on_one_database_admit_exactly_one_on_a_postgres_registry() {
    let pg = shared_pg(0);
    let registry_db = unique_name("registry");
    pg.psql("postgres", &format!("CREATE DATABASE {registry_db}"))
        .unwrap();
    let pools = tenantry::pools::PoolManagerSettings::default();
    let t = TestApp::spawn_with(pools, Some(pg.url(&registry_db))).await;
    t.server(On::Pg(1)).await;
    let owner = t.owner_token().await;
    let db = unique_name("race");
    let body = |code: &str| json!({"code": code, "name": "R", "placement": "dedicated", "server": "pg1", "database": db});
    let (a, b) = tokio::join!(
        t.create_tenant(&owner, body("RACEA")),
        t.create_tenant(&owner, body("RACEB"))
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::ACCEPTED, StatusCode::CONFLICT],
        "{a:?} {b:?}"
    );
    let rows = pg
        .psql(
            &registry_db,
            &format!("SELECT count(*) FROM tenants WHERE database_name = '{db}'"),
        )
        .unwrap();
    assert_eq!(rows.trim(), "1");
}

/// The registry's own constraint, past every check of the code: a second row on a claimed
/// (server, database, schema) is refused; a released one (a tombstone whose database is gone)
/// is not.
async fn the_unique_index_holds(t: &TestApp) {
    let server = t.server(On::Sqlite).await;
    let a = t.tenant("IDXA", On::Sqlite).await;
    let insert = |code: &str| {
        format!(
            "INSERT INTO tenants (id, code, name, status, placement, engine, server_id, database_name, \
             hosting, created_at, updated_at) VALUES ('{}', '{code}', 'x', 'active', 'dedicated', 'sqlite', \
             '{}', '{}', 'ours', 'now', 'now')",
            uuid::Uuid::new_v4(),
            server.id,
            a.database
        )
    };
    let pool = t.registry().pool();
    let err = sqlx::query(&insert("IDXB"))
        .execute(pool)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, sqlx::Error::Database(d) if d.is_unique_violation()),
        "{err}"
    );
    let release = format!(
        "UPDATE tenants SET database_released_at = 'now' WHERE id = '{}'",
        a.id
    );
    sqlx::query(&release).execute(pool).await.unwrap();
    sqlx::query(&insert("IDXC")).execute(pool).await.unwrap();
}

#[tokio::test]
async fn the_sqlite_registry_refuses_a_second_row_on_a_claimed_database() {
    the_unique_index_holds(&TestApp::spawn().await).await;
}

#[tokio::test]
async fn the_postgres_registry_refuses_a_second_row_on_a_claimed_database() {
    let pg = shared_pg(0);
    let registry_db = unique_name("registry");
    pg.psql("postgres", &format!("CREATE DATABASE {registry_db}"))
        .unwrap();
    let pools = tenantry::pools::PoolManagerSettings::default();
    let t = TestApp::spawn_with(pools, Some(pg.url(&registry_db))).await;
    the_unique_index_holds(&t).await;
}

#[test]
fn the_cli_gives_dash_and_underscore_codes_their_own_databases_and_refuses_a_taken_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    tenantry::secrets::MasterKey::create_file(&data.join("master.key")).unwrap();
    let run = |args: &[&str]| {
        crate::common::tenantry_cmd(&data)
            .args(args)
            .output()
            .unwrap()
    };
    let port = shared_pg(0).port().to_string();
    let out = run(&[
        "server",
        "add",
        "--name",
        "pg0",
        "--engine",
        "postgres",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--admin-user",
        "postgres",
        "--tls",
        "disable",
    ]);
    assert!(out.status.success(), "{}", crate::common::text(&out));
    let mut databases = Vec::new();
    for code in ["CD-1", "CD_1"] {
        let out = run(&["tenant", "add", code, "--name", "Cli", "--server", "pg0"]);
        assert!(out.status.success(), "{}", crate::common::text(&out));
        let out = run(&["tenant", "show", code, "--json"]);
        let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(shown["status"], "active");
        databases.push(shown["database"].as_str().unwrap().to_owned());
    }
    assert_eq!(databases, ["tenantd_cd_d1", "tenant_cd_1"]);

    let out = run(&[
        "tenant",
        "add",
        "TAKEN",
        "--name",
        "T",
        "--server",
        "pg0",
        "--database",
        "tenantd_cd_d1",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", crate::common::text(&out));
    let said = crate::common::text(&out);
    assert!(
        said.contains("database: database tenantd_cd_d1 on server pg0 belongs to tenant CD-1"),
        "{said}"
    );
    let out = run(&["tenant", "list", "--json"]);
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["CD-1", "CD_1"], "nothing registered for TAKEN");
}
