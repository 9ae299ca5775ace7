//! Checks 3 to 6 over one connection: TLS, login, read, write, DDL and schema version.

use super::{advice, within, CheckStatus, OnboardTarget, Run, SQL_TIMEOUT};
use crate::registry::DataSource;
use crate::tenant::{Engine, TlsMode};
use advice::Denial;
use sqlx::{AnyConnection, Connection};
use std::time::Instant;

/// The server's error codes: SQLSTATE (or SQLite's code) and the MySQL error number.
fn denial(engine: Engine, e: &sqlx::Error) -> Denial {
    match e {
        sqlx::Error::Database(db) => {
            let number = db
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .map(|m| m.number());
            advice::classify(engine, db.code().as_deref(), number)
        }
        _ => Denial::Other,
    }
}

/// Checks 3 and 4: one connection with the tenant's credentials (TLS required when the server says
/// so). The TLS handshake comes before authentication, so one attempt answers both.
pub(super) async fn login(run: &mut Run, src: &DataSource) -> Option<AnyConnection> {
    if src.engine == Engine::Sqlite {
        if run.blocked("login", &["dns"]) {
            return None;
        }
    } else if run.blocked("tls", &["dns", "tcp"]) {
        run.blocked("login", &["tls"]);
        return None;
    }
    let tls_required = src.engine != Engine::Sqlite && src.tls == TlsMode::Require;
    if !tls_required && src.engine != Engine::Sqlite {
        run.skip("tls", &format!("not required (server tls = {})", src.tls));
    }
    crate::db::install_drivers();
    let started = Instant::now();
    let Ok(url) = crate::db::connect_url(&src.target()) else {
        let msg = format!("The host '{}' or user name is not valid in a connection URL: correct the server's registration.", src.host);
        run.fail("login", started, msg);
        return None;
    };
    let outcome = within(SQL_TIMEOUT, AnyConnection::connect(&url)).await;
    if tls_required {
        if let Some(Err(sqlx::Error::Tls(_))) = &outcome {
            run.fail("tls", started, advice::tls_not_offered(&src.host, src.port));
            run.blocked("login", &["tls"]);
            return None;
        }
        run.pass(
            "tls",
            started,
            "the server accepted a TLS connection".to_owned(),
        );
    }
    let (u, db) = (advice::user(src), &src.database);
    match outcome {
        Some(Ok(mut conn)) => {
            if let Err(e) = session_setup(src, &mut conn).await {
                run.fail(
                    "login",
                    started,
                    advice::login_failed(src, Denial::Other, &e),
                );
                return None;
            }
            run.pass(
                "login",
                started,
                format!("logged in as '{u}' to database '{db}'"),
            );
            Some(conn)
        }
        Some(Err(e)) => {
            let msg = advice::login_failed(src, denial(src.engine, &e), &e.to_string());
            run.fail("login", started, msg);
            None
        }
        None => {
            run.fail(
                "login",
                started,
                advice::timed_out("login", SQL_TIMEOUT.as_secs()),
            );
            None
        }
    }
}

/// The tenant's schema on a PostgreSQL server, as the pool manager sets it.
async fn session_setup(src: &DataSource, conn: &mut AnyConnection) -> Result<(), String> {
    let (Engine::Postgres, Some(schema)) = (src.engine, &src.schema) else {
        return Ok(());
    };
    let schema = crate::tenant::DatabaseName::parse(schema).map_err(|e| e.to_string())?;
    sqlx::query(&format!("SET search_path TO \"{schema}\""))
        .execute(conn)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Runs statements in order; the first error (or timeout) with its denial.
async fn probe(
    conn: &mut AnyConnection,
    engine: Engine,
    statements: &[&str],
) -> Result<(), (Denial, String)> {
    for sql in statements {
        match within(SQL_TIMEOUT, sqlx::query(sql).execute(&mut *conn)).await {
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err((denial(engine, &e), e.to_string())),
            None => {
                return Err((
                    Denial::Other,
                    format!("no answer within {} s", SQL_TIMEOUT.as_secs()),
                ))
            }
        }
    }
    Ok(())
}

/// Check 5a: the catalog, and `_sqlx_migrations` when it exists (the schema check reads it).
pub(super) async fn read(run: &mut Run, src: &DataSource, conn: &mut AnyConnection) {
    let started = Instant::now();
    let catalog = match src.engine {
        Engine::Postgres => "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'",
        Engine::Mysql => "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '_sqlx_migrations'",
        Engine::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        // Never reached: SQL Server is checked by `crate::mssql::onboard`.
        Engine::Mssql => "SELECT COUNT(*) FROM sys.tables WHERE name = '_tenantry_migrations'",
    };
    let found = within(
        SQL_TIMEOUT,
        sqlx::query_scalar::<_, i64>(catalog).fetch_one(&mut *conn),
    )
    .await;
    let result = match found {
        Some(Ok(0)) => Ok(()),
        Some(Ok(_)) => probe(conn, src.engine, &["SELECT COUNT(*) FROM _sqlx_migrations"]).await,
        Some(Err(e)) => Err((denial(src.engine, &e), e.to_string())),
        None => Err((
            Denial::Other,
            format!("no answer within {} s", SQL_TIMEOUT.as_secs()),
        )),
    };
    match result {
        Ok(()) => run.pass(
            "read",
            started,
            format!("user '{}' can read", advice::user(src)),
        ),
        Err((_, detail)) => run.fail("read", started, advice::read_failed(src, &detail)),
    }
}

/// Check 5b: a temporary table, and a row in it.
pub(super) async fn write(run: &mut Run, src: &DataSource, conn: &mut AnyConnection) {
    let started = Instant::now();
    let statements = [
        "CREATE TEMPORARY TABLE _tenantry_probe_tmp (id INTEGER)",
        "INSERT INTO _tenantry_probe_tmp (id) VALUES (1)",
    ];
    match probe(conn, src.engine, &statements).await {
        Ok(()) => {
            let drop = match src.engine {
                Engine::Mysql => "DROP TEMPORARY TABLE _tenantry_probe_tmp",
                _ => "DROP TABLE _tenantry_probe_tmp",
            };
            let _ = probe(conn, src.engine, &[drop]).await;
            run.pass(
                "write",
                started,
                "created a temporary table and inserted a row".to_owned(),
            );
        }
        Err((denial, detail)) => {
            run.fail("write", started, advice::write_failed(src, denial, &detail))
        }
    }
}

/// Check 5c: create and drop the regular table `_tenantry_probe`.
pub(super) async fn ddl(run: &mut Run, src: &DataSource, conn: &mut AnyConnection) {
    let started = Instant::now();
    // A leftover of an interrupted run; failing here is left to the CREATE below.
    let _ = probe(conn, src.engine, &["DROP TABLE IF EXISTS _tenantry_probe"]).await;
    let statements = [
        "CREATE TABLE _tenantry_probe (id INTEGER)",
        "DROP TABLE _tenantry_probe",
    ];
    match probe(conn, src.engine, &statements).await {
        Ok(()) => run.pass(
            "ddl",
            started,
            "created and dropped table _tenantry_probe".to_owned(),
        ),
        Err((denial, detail)) => run.fail("ddl", started, advice::ddl_failed(src, denial, &detail)),
    }
}

/// Check 6: the applied migration version against this binary's newest.
pub(super) async fn schema(run: &mut Run, target: OnboardTarget<'_>, conn: &mut AnyConnection) {
    let (src, started) = (target.source, Instant::now());
    let outcome = within(SQL_TIMEOUT, crate::migrate::applied_version_any(conn)).await;
    let (status, message) = match outcome {
        Some(Ok(v)) => advice::schema_status(
            v,
            crate::migrate::latest_version(src.engine),
            target.ddl_required,
        ),
        Some(Err(e)) => (
            CheckStatus::Failed,
            advice::read_failed(src, &e.to_string()),
        ),
        None => (
            CheckStatus::Failed,
            advice::timed_out("schema version query", SQL_TIMEOUT.as_secs()),
        ),
    };
    run.push("schema", started, status, message);
}
