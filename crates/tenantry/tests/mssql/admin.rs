//! Databases and schemas.

use super::common::{admin, admin_options, fresh_database, name, tsql};
use tenantry::mssql::connect;

#[tokio::test]
async fn create_database_and_drop_database_are_idempotent() {
    let admin = admin();
    let db = name("mssql_idem");
    assert!(!admin.database_exists(&db).await.unwrap());
    admin.create_database(&db).await.unwrap();
    admin.create_database(&db).await.unwrap();
    assert!(admin.database_exists(&db).await.unwrap());
    admin.drop_database(&db).await.unwrap();
    admin.drop_database(&db).await.unwrap();
    assert!(!admin.database_exists(&db).await.unwrap());
}

#[tokio::test]
async fn drop_database_ends_the_sessions_still_open_on_it() {
    let admin = admin();
    let db = fresh_database("mssql_busy").await;
    let mut open = connect(&admin_options(db.as_str())).await.unwrap();
    open.simple_query("SELECT 1")
        .await
        .unwrap()
        .into_results()
        .await
        .unwrap();
    admin.drop_database(&db).await.unwrap();
    assert!(!admin.database_exists(&db).await.unwrap());
    // The killed session is gone for good.
    let after = open.simple_query("SELECT 1").await;
    let after = match after {
        Ok(stream) => stream.into_results().await.map(drop),
        Err(e) => Err(e),
    };
    assert!(after.is_err(), "the session survived DROP DATABASE");
}

#[tokio::test]
async fn schemas_are_created_once_and_dropped_with_everything_inside() {
    let admin = admin();
    let db = fresh_database("mssql_shared").await;
    let schema = name("tenant_s");
    admin.create_schema(&db, &schema).await.unwrap();
    admin.create_schema(&db, &schema).await.unwrap();
    let s = schema.as_str();
    tsql(
        &db,
        &format!(
            "CREATE TABLE [{s}].parent (id BIGINT IDENTITY(1,1) PRIMARY KEY)\n\
             GO\n\
             CREATE TABLE [{s}].child (id BIGINT IDENTITY(1,1) PRIMARY KEY, \
             parent_id BIGINT NOT NULL REFERENCES [{s}].parent(id))\n\
             GO\n\
             CREATE VIEW [{s}].parents AS SELECT id FROM [{s}].parent\n\
             GO\n\
             INSERT INTO [{s}].parent DEFAULT VALUES"
        ),
    );
    let count = |sql: &str| tsql(&db, sql).trim().to_owned();
    let schemas = format!("SELECT COUNT(*) FROM sys.schemas WHERE name = N'{s}'");
    assert_eq!(count(&schemas), "1");

    admin.drop_schema(&db, &schema).await.unwrap();
    admin.drop_schema(&db, &schema).await.unwrap();
    assert_eq!(count(&schemas), "0");
    admin.drop_database(&db).await.unwrap();
}
