//! Tenant logins: isolation, passwords, idempotence.

use super::common::{admin, fresh_database, login_options, name, tsql};
use secrecy::{ExposeSecret, SecretString};
use tenantry::mssql::{connect, generate_login_password, MssqlClient, MssqlError};
use tenantry::tenant::DatabaseName;

async fn run(client: &mut MssqlClient, sql: &str) -> Result<(), tiberius::error::Error> {
    client
        .simple_query(sql)
        .await?
        .into_results()
        .await
        .map(drop)
}

/// A database and its tenant login (with a generated password).
async fn tenant(prefix: &str) -> (DatabaseName, DatabaseName, SecretString) {
    let db = fresh_database(prefix).await;
    let login = name(&format!("{prefix}_login"));
    let password = generate_login_password();
    admin()
        .create_tenant_login(&db, &login, &password)
        .await
        .unwrap();
    (db, login, password)
}

async fn remove(db: &DatabaseName, login: &DatabaseName) {
    // SQL Server refuses to drop a login that owns a database: the database goes first.
    admin().drop_database(db).await.unwrap();
    admin().drop_login(login).await.unwrap();
}

#[tokio::test]
async fn a_tenant_login_reaches_its_own_database_and_is_refused_on_another_tenants() {
    let (db_a, login_a, pw_a) = tenant("iso_a").await;
    let (db_b, login_b, _) = tenant("iso_b").await;
    tsql(
        &db_b,
        "CREATE TABLE secrets (id INT)\nGO\nINSERT INTO secrets VALUES (7)",
    );
    let pw = pw_a.expose_secret();

    let mut own = connect(&login_options(db_a.as_str(), login_a.as_str(), pw))
        .await
        .unwrap();
    run(
        &mut own,
        "CREATE TABLE notes (id INT PRIMARY KEY, body NVARCHAR(50))",
    )
    .await
    .unwrap();
    run(&mut own, "INSERT INTO notes VALUES (1, N'mine')")
        .await
        .unwrap();
    run(&mut own, "SELECT body FROM notes").await.unwrap();

    // Logging in to the other tenant's database is refused (SQL Server: 4060 + 18456;
    // Babelfish: its generic error number with SQL Server's "Cannot open database" text).
    let err = connect(&login_options(db_b.as_str(), login_a.as_str(), pw))
        .await
        .expect_err("tenant A's login opened tenant B's database");
    assert!(matches!(err, MssqlError::Login { .. }), "{err:?}");
    assert!(
        err.server_message()
            .unwrap_or_default()
            .contains("Cannot open database"),
        "{err}"
    );
    // So is reaching into it by three-part name from its own session.
    let cross = format!("SELECT id FROM [{db_b}].dbo.secrets");
    assert_eq!(tsql(&db_a, &cross), "7\n", "the admin reads it");
    assert!(
        run(&mut own, &cross).await.is_err(),
        "tenant A read B's table"
    );
    let cross = format!("CREATE TABLE [{db_b}].dbo.intruder (id INT)");
    assert!(
        run(&mut own, &cross).await.is_err(),
        "tenant A created a table in B"
    );
    // And the login holds no server-wide power.
    assert!(run(&mut own, "CREATE DATABASE [intruder_db]")
        .await
        .is_err());
    assert!(run(
        &mut own,
        &format!("ALTER LOGIN [{login_b}] WITH PASSWORD = N'Hijack3dPw'")
    )
    .await
    .is_err());
    let _ = own.close().await;

    remove(&db_a, &login_a).await;
    remove(&db_b, &login_b).await;
}

#[tokio::test]
async fn creating_a_tenant_login_again_is_a_no_op_that_sets_the_password_again() {
    let (db, login, first) = tenant("relogin").await;
    let second = generate_login_password();
    admin()
        .create_tenant_login(&db, &login, &second)
        .await
        .unwrap();
    let old = login_options(db.as_str(), login.as_str(), first.expose_secret());
    assert_eq!(
        connect(&old).await.err().and_then(|e| e.server_code()),
        Some(18456)
    );
    let new = login_options(db.as_str(), login.as_str(), second.expose_secret());
    connect(&new).await.expect("the retry's password works");
    remove(&db, &login).await;
}

#[tokio::test]
async fn alter_login_refuses_the_old_password_and_accepts_the_new_one() {
    let (db, login, old) = tenant("alter_pw").await;
    let new = SecretString::from("N3w.Passw0rd-2026".to_owned());
    admin().set_login_password(&login, &new).await.unwrap();
    let with = |pw: &SecretString| login_options(db.as_str(), login.as_str(), pw.expose_secret());
    let err = connect(&with(&old))
        .await
        .expect_err("the old password still works");
    assert_eq!(err.server_code(), Some(18456));
    connect(&with(&new)).await.expect("the new password works");
    remove(&db, &login).await;
}

#[tokio::test]
async fn a_password_that_cannot_be_spliced_is_refused_before_anything_runs() {
    let db = fresh_database("bad_pw").await;
    let login = name("bad_pw_login");
    let quote = SecretString::from("x'; DROP LOGIN sa; --".to_owned());
    let err = admin()
        .create_tenant_login(&db, &login, &quote)
        .await
        .unwrap_err();
    assert!(matches!(err, MssqlError::InvalidPassword(_)), "{err:?}");
    assert!(!err.to_string().contains("DROP LOGIN"), "{err}");
    assert!(!admin().login_exists(&login).await.unwrap());
    let err = admin()
        .set_login_password(&login, &quote)
        .await
        .unwrap_err();
    assert!(matches!(err, MssqlError::InvalidPassword(_)), "{err:?}");
    admin().drop_database(&db).await.unwrap();
}

#[tokio::test]
async fn drop_login_ends_its_sessions_and_is_idempotent() {
    let (db, login, pw) = tenant("drop_login").await;
    admin().drop_database(&db).await.unwrap();
    let mut session = connect(&login_options("master", login.as_str(), pw.expose_secret()))
        .await
        .unwrap();
    run(&mut session, "SELECT 1").await.unwrap();
    admin().drop_login(&login).await.unwrap();
    admin().drop_login(&login).await.unwrap();
    assert!(!admin().login_exists(&login).await.unwrap());
    let again = login_options("master", login.as_str(), pw.expose_secret());
    assert_eq!(
        connect(&again).await.err().and_then(|e| e.server_code()),
        Some(18456)
    );
}
