//! The T-SQL tenant migrator.

use super::common::{admin, admin_options, fresh_database, tsql};
use std::borrow::Cow;
use tenantry::mssql::migrate::{self, Migration, MIGRATIONS};
use tenantry::mssql::{connect, MssqlClient, MssqlError};
use tenantry::tenant::DatabaseName;

async fn client(db: &DatabaseName) -> MssqlClient {
    connect(&admin_options(db.as_str())).await.unwrap()
}

#[tokio::test]
async fn a_fresh_database_migrates_to_v2_and_a_rerun_is_a_no_op() {
    let db = fresh_database("mig_fresh").await;
    let mut c = client(&db).await;
    assert_eq!(migrate::applied_version(&mut c).await.unwrap(), None);
    let first = migrate::migrate(&mut c).await.unwrap();
    assert_eq!((first.applied, first.version), (vec![1, 2], 2));
    let again = migrate::migrate(&mut c).await.unwrap();
    assert_eq!((again.applied, again.version), (vec![], 2));
    assert_eq!(migrate::applied_version(&mut c).await.unwrap(), Some(2));
    assert_eq!(migrate::latest_version(), 2);
    let _ = c.close().await;

    let types = tsql(
        &db,
        "SELECT TABLE_NAME + '.' + COLUMN_NAME + ':' + DATA_TYPE FROM INFORMATION_SCHEMA.COLUMNS \
         WHERE COLUMN_NAME IN ('created_at', 'updated_at', 'disabled', 'name') ORDER BY 1",
    );
    assert!(types.contains("users.created_at:datetime2"), "{types}");
    assert!(types.contains("users.updated_at:datetime2"), "{types}");
    assert!(types.contains("users.disabled:bit"), "{types}");
    assert!(types.contains("customers.name:nvarchar"), "{types}");
    let recorded = tsql(
        &db,
        "SELECT version, description, success FROM _tenantry_migrations ORDER BY version",
    );
    assert_eq!(recorded, "1|field service|1\n2|users disabled|1\n");
    admin().drop_database(&db).await.unwrap();
}

#[tokio::test]
async fn v2_defaults_existing_and_new_users_to_enabled() {
    let db = fresh_database("mig_v2").await;
    let mut c = client(&db).await;
    migrate::run(&mut c, &MIGRATIONS[..1]).await.unwrap();
    tsql(
        &db,
        "INSERT INTO users (username, full_name, password_hash, created_at) \
         VALUES (N'before', N'Before', N'x', SYSUTCDATETIME())",
    );
    migrate::migrate(&mut c).await.unwrap();
    let _ = c.close().await;
    let rows = tsql(&db, "SELECT username, disabled, updated_at FROM users");
    assert_eq!(rows, "before|0|\n");
    admin().drop_database(&db).await.unwrap();
}

#[tokio::test]
async fn a_migration_changed_after_it_was_applied_is_refused() {
    let db = fresh_database("mig_sum").await;
    let mut c = client(&db).await;
    migrate::migrate(&mut c).await.unwrap();
    let mut changed = MIGRATIONS.to_vec();
    changed[0].sql = Cow::Owned(format!("{}\n-- edited", changed[0].sql));
    let err = migrate::run(&mut c, &changed).await.unwrap_err();
    assert!(
        matches!(err, MssqlError::ChecksumMismatch { version: 1 }),
        "{err:?}"
    );
    let _ = c.close().await;
    admin().drop_database(&db).await.unwrap();
}

#[tokio::test]
async fn a_database_ahead_of_the_binary_is_refused() {
    let db = fresh_database("mig_ahead").await;
    let mut c = client(&db).await;
    migrate::migrate(&mut c).await.unwrap();
    let err = migrate::run(&mut c, &MIGRATIONS[..1]).await.unwrap_err();
    assert!(
        matches!(err, MssqlError::UnknownVersion { version: 2 }),
        "{err:?}"
    );
    let _ = c.close().await;
    admin().drop_database(&db).await.unwrap();
}

#[tokio::test]
async fn a_failing_migration_leaves_nothing_behind() {
    let db = fresh_database("mig_fail").await;
    let mut c = client(&db).await;
    let mut set = MIGRATIONS.to_vec();
    set.push(Migration {
        version: 3,
        description: "broken".into(),
        sql: "CREATE TABLE half_done (id INT);\nINSERT INTO no_such_table VALUES (1);".into(),
    });
    let err = migrate::run(&mut c, &set).await.unwrap_err();
    assert!(
        matches!(err, MssqlError::Migration { version: 3, .. }),
        "{err:?}"
    );
    assert_eq!(migrate::applied_version(&mut c).await.unwrap(), Some(2));
    let _ = c.close().await;
    assert_eq!(
        tsql(
            &db,
            "SELECT COUNT(*) FROM sys.tables WHERE name = N'half_done'"
        ),
        "0\n"
    );
    admin().drop_database(&db).await.unwrap();
}

#[tokio::test]
async fn two_migrators_at_once_apply_each_version_once() {
    let db = fresh_database("mig_race").await;
    let (mut a, mut b) = (client(&db).await, client(&db).await);
    let (ra, rb) = tokio::join!(migrate::migrate(&mut a), migrate::migrate(&mut b));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let mut all = [ra.applied, rb.applied].concat();
    all.sort();
    assert_eq!(all, vec![1, 2]);
    let _ = (a.close().await, b.close().await);
    assert_eq!(
        tsql(&db, "SELECT COUNT(*) FROM _tenantry_migrations"),
        "2\n"
    );
    admin().drop_database(&db).await.unwrap();
}
