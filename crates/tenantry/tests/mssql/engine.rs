//! SQL Server behind the engine-neutral interface: `EngineConnection::Mssql` opened from a
//! registry data source, the library's `?` statements translated to T-SQL, typed values, the
//! statement timeout, and the default-schema guard of shared tenants.

use super::common::{fresh_database, server};
use chrono::{SubsecRound, TimeZone, Utc};
use secrecy::SecretString;
use std::time::{Duration, Instant};
use tenantry::db::{ColType, EngineConnection, Purpose, SqlValue};
use tenantry::registry::DataSource;
use tenantry::tenant::{DatabaseName, Engine, TlsMode};

/// The fixture's sysadmin on `database`, as the registry would describe it.
fn source(database: &DatabaseName) -> DataSource {
    let s = server();
    let tls = match (s.encrypt(), s.trust_server_certificate()) {
        (false, _) => TlsMode::Disable,
        (true, true) => TlsMode::Require,
        (true, false) => TlsMode::Verify,
    };
    DataSource {
        engine: Engine::Mssql,
        host: s.host().to_owned(),
        port: s.port(),
        database: database.to_string(),
        schema: None,
        username: Some(s.admin_user().to_owned()),
        password: Some(SecretString::from(s.admin_password().to_owned())),
        tls,
        server_id: uuid::Uuid::nil(),
        server_max_connections: None,
        fingerprint: 0,
    }
}

async fn open(source: &DataSource, statement_timeout_ms: u64) -> EngineConnection {
    let purpose = Purpose::Pool {
        statement_timeout_ms,
    };
    EngineConnection::connect(source, purpose, Duration::from_secs(10))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_librarys_statements_run_on_sql_server_with_typed_values_and_nulls() {
    let db = fresh_database("engine_values").await;
    let mut conn = open(&source(&db), 30_000).await;
    assert_eq!(conn.engine(), Engine::Mssql);
    conn.execute_raw(
        "CREATE TABLE notes (id BIGINT IDENTITY PRIMARY KEY, body NVARCHAR(100) NULL, \
         done BIT NOT NULL, due DATETIME2(3) NULL)",
    )
    .await
    .unwrap();
    let due = Utc.with_ymd_and_hms(2026, 11, 23, 17, 20, 12).unwrap()
        + chrono::Duration::microseconds(123_456);
    let insert = "INSERT INTO notes (body, done, due) VALUES (?, ?, ?)";
    let first = conn
        .insert_returning_id(
            insert,
            &[
                SqlValue::Text("Grüße".into()),
                SqlValue::Bool(true),
                SqlValue::Time(due),
            ],
        )
        .await
        .unwrap();
    // NULLs of any type are written as keywords (typed nulls clash in tiberius).
    let second = conn
        .insert_returning_id(
            insert,
            &[
                SqlValue::Null(ColType::Text),
                SqlValue::Bool(false),
                SqlValue::Null(ColType::Time),
            ],
        )
        .await
        .unwrap();
    assert_eq!((first, second), (1, 2));

    let cols = [ColType::Int, ColType::Text, ColType::Bool, ColType::Time];
    let page =
        "SELECT id, body, done, due FROM notes WHERE done IN (?, ?) ORDER BY id LIMIT ? OFFSET ?";
    let args = |limit, offset| {
        [
            SqlValue::Bool(true),
            SqlValue::Bool(false),
            SqlValue::Int(limit),
            SqlValue::Int(offset),
        ]
    };
    let rows = conn.fetch_all(page, &args(1, 0), &cols).await.unwrap();
    assert_eq!(
        rows,
        [vec![
            SqlValue::Int(1),
            SqlValue::Text("Grüße".into()),
            SqlValue::Bool(true),
            SqlValue::Time(due.trunc_subsecs(3)),
        ]]
    );
    let rows = conn.fetch_all(page, &args(5, 1), &cols).await.unwrap();
    assert_eq!(
        rows,
        [vec![
            SqlValue::Int(2),
            SqlValue::Null(ColType::Text),
            SqlValue::Bool(false),
            SqlValue::Null(ColType::Time),
        ]]
    );
    let updated = conn
        .execute(
            "UPDATE notes SET body = ? WHERE id = ?",
            &[SqlValue::Null(ColType::Text), SqlValue::Int(1)],
        )
        .await
        .unwrap();
    assert_eq!(updated, 1);
    let n = conn
        .fetch_i64("SELECT COUNT(*) FROM notes WHERE body IS NULL", &[])
        .await
        .unwrap();
    assert_eq!(n, 2);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn a_unique_violation_reads_as_one_with_sql_servers_error_number() {
    let db = fresh_database("engine_unique").await;
    let mut conn = open(&source(&db), 30_000).await;
    conn.execute_raw("CREATE TABLE u (name NVARCHAR(10) NOT NULL CONSTRAINT uq_u UNIQUE)")
        .await
        .unwrap();
    let insert = "INSERT INTO u (name) VALUES (?)";
    let args = [SqlValue::Text("a".into())];
    conn.execute(insert, &args).await.unwrap();
    let err = conn.execute(insert, &args).await.unwrap_err();
    let sqlx::Error::Database(db_err) = &err else {
        panic!("{err:?}")
    };
    // SQL Server: 2627 (unique constraint); Babelfish maps PostgreSQL's 23505 to 2627 too.
    assert!(db_err.is_unique_violation(), "{err}");
    assert!(
        !conn.is_broken(),
        "a server error leaves the connection usable"
    );
    assert_eq!(
        conn.fetch_i64("SELECT COUNT(*) FROM u", &[]).await.unwrap(),
        1
    );
}

#[tokio::test]
async fn a_statement_over_the_timeout_is_cancelled_within_its_budget() {
    let db = fresh_database("engine_timeout").await;
    let mut conn = open(&source(&db), 500).await;
    let spid = conn.fetch_i64("SELECT @@SPID", &[]).await.unwrap();
    // Billions of rows: never finishes on its own (Babelfish has no WAITFOR DELAY).
    let slow = "SELECT COUNT_BIG(*) FROM sys.all_objects a CROSS JOIN sys.all_objects b \
                CROSS JOIN sys.all_objects c";
    let started = Instant::now();
    let err = conn.fetch_i64(slow, &[]).await.unwrap_err();
    let budget = Duration::from_millis(500) + tenantry::db::mssql::CANCEL_TIMEOUT;
    assert!(
        started.elapsed() < budget + Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("statement timeout"), "{err}");
    if server().is_external() {
        // SQL Server stops the statement on the Attention and acknowledges it.
        assert!(!conn.is_broken(), "the cancellation was acknowledged");
        assert_eq!(conn.fetch_i64("SELECT 7", &[]).await.unwrap(), 7);
    } else {
        // Babelfish reads the Attention only after the statement: the connection is given up
        // (a pool closes it), and the statement is ended here by its session id.
        assert!(
            conn.is_broken(),
            "an unacknowledged cancel must not be reused"
        );
        super::common::tsql(&db, &format!("KILL {spid}"));
    }
}

#[tokio::test]
async fn a_shared_tenants_connection_whose_default_schema_is_not_its_own_is_refused() {
    let db = fresh_database("engine_schema").await;
    let mut src = source(&db);
    // The sysadmin is dbo everywhere, whose default schema is dbo: it must not serve a tenant
    // whose data lives in schema `tenant_x`.
    src.schema = Some("tenant_x".into());
    let purpose = Purpose::Pool {
        statement_timeout_ms: 1_000,
    };
    let err = EngineConnection::connect(&src, purpose, Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(matches!(err, sqlx::Error::Configuration(_)), "{err:?}");
    assert!(err.to_string().contains("DEFAULT_SCHEMA"), "{err}");
}

#[tokio::test]
async fn a_wrong_password_is_a_database_error_with_sql_servers_login_number() {
    let db = fresh_database("engine_login").await;
    let mut src = source(&db);
    src.password = Some(SecretString::from("Wr0ng-Passw0rd".to_owned()));
    let err = EngineConnection::connect(&src, Purpose::Probe, Duration::from_secs(10))
        .await
        .unwrap_err();
    let sqlx::Error::Database(db_err) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(db_err.code().as_deref(), Some("18456"), "{err}");
    assert!(!err.to_string().contains("Wr0ng-Passw0rd"), "{err}");
}
