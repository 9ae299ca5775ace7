//! Onboarding probes of a "customer's" SQL Server database.

use super::common::{admin, admin_options, fresh_database, login_options, name, server, tsql};
use secrecy::{ExposeSecret, SecretString};
use tenantry::mssql::{connect, generate_login_password, migrate, onboard, MssqlTls};
use tenantry::onboard::{Check, CheckStatus};

fn get<'a>(checks: &'a [Check], name: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} check: {checks:?}"))
}

fn statuses(checks: &[Check]) -> Vec<(&str, CheckStatus)> {
    checks.iter().map(|c| (c.name, c.status)).collect()
}

#[tokio::test]
async fn a_wrong_password_and_a_missing_database_are_told_apart() {
    let db = fresh_database("onb_login").await;
    let mut wrong = admin_options(db.as_str());
    wrong.password = SecretString::from("N0tTheP4ssword".to_owned());
    let checks = onboard::check(&wrong, true).await;
    let login = get(&checks, "login");
    assert_eq!(login.status, CheckStatus::Failed);
    assert!(
        login.message.contains("wrong password"),
        "{}",
        login.message
    );
    assert!(
        !login.message.contains("N0tTheP4ssword"),
        "{}",
        login.message
    );
    assert_eq!(get(&checks, "read").status, CheckStatus::Skipped);

    // SQL Server answers 4060 for a missing database, Babelfish 911: both read as "cannot open".
    let missing = admin_options(name("onb_absent").as_str());
    let checks = onboard::check(&missing, true).await;
    let login = get(&checks, "login");
    assert_eq!(login.status, CheckStatus::Failed);
    assert!(
        login.message.contains("cannot open database"),
        "{}",
        login.message
    );
    assert!(
        !login.message.contains("wrong password"),
        "{}",
        login.message
    );
    assert!(login.message.contains("CREATE USER"), "{}", login.message);
    admin().drop_database(&db).await.unwrap();
}

#[tokio::test]
async fn a_tenant_owner_on_an_empty_database_passes_every_check() {
    let db = fresh_database("onb_owner").await;
    let login = name("onb_owner_login");
    let pw = generate_login_password();
    admin().create_tenant_login(&db, &login, &pw).await.unwrap();
    let opts = login_options(db.as_str(), login.as_str(), pw.expose_secret());
    let checks = onboard::check(&opts, true).await;
    use CheckStatus::Passed;
    let expected = [
        ("tls", Passed),
        ("login", Passed),
        ("read", Passed),
        ("write", Passed),
        ("ddl", Passed),
        ("schema", Passed),
    ];
    assert_eq!(statuses(&checks), expected, "{checks:?}");
    assert!(get(&checks, "schema").message.starts_with("empty database"));
    assert!(get(&checks, "login")
        .message
        .contains("database user 'dbo'"));
    admin().drop_database(&db).await.unwrap();
    admin().drop_login(&login).await.unwrap();
}

#[tokio::test]
async fn a_read_only_user_gets_the_grant_statements_for_writes_and_ddl() {
    let db = fresh_database("onb_ro").await;
    let mut c = connect(&admin_options(db.as_str())).await.unwrap();
    migrate::migrate(&mut c).await.unwrap();
    let _ = c.close().await;
    let ro = name("onb_reader");
    let pw = "Read0nlyPassw0rd";
    tsql(&db, &format!("CREATE LOGIN [{ro}] WITH PASSWORD = N'{pw}'"));
    tsql(
        &db,
        &format!(
            "CREATE USER [{ro}] FOR LOGIN [{ro}]\nGO\nGRANT SELECT ON SCHEMA::[dbo] TO [{ro}]"
        ),
    );

    let checks = onboard::check(&login_options(db.as_str(), ro.as_str(), pw), true).await;
    assert_eq!(
        get(&checks, "read").status,
        CheckStatus::Passed,
        "{checks:?}"
    );
    let write = get(&checks, "write");
    assert_eq!(write.status, CheckStatus::Failed);
    let grant = format!("GRANT INSERT, UPDATE, DELETE ON SCHEMA::[dbo] TO [{ro}];");
    assert!(write.message.contains(&grant), "{}", write.message);
    let ddl = get(&checks, "ddl");
    assert_eq!(ddl.status, CheckStatus::Failed);
    assert!(
        ddl.message
            .contains(&format!("GRANT CREATE TABLE TO [{ro}];")),
        "{}",
        ddl.message
    );
    let schema = get(&checks, "schema");
    assert_eq!(
        (schema.status, schema.message.as_str()),
        (CheckStatus::Passed, "current (version 2)")
    );
    // Nothing was written by the write probe.
    assert_eq!(
        tsql(&db, "SELECT COUNT(*) FROM _tenantry_migrations"),
        "2\n"
    );

    // Without DDL the same user is fine to read the schema, and DDL is not checked.
    let checks = onboard::check(&login_options(db.as_str(), ro.as_str(), pw), false).await;
    assert_eq!(get(&checks, "ddl").status, CheckStatus::Skipped);
    admin().drop_database(&db).await.unwrap();
    admin().drop_login(&ro).await.unwrap();
}

#[tokio::test]
async fn an_unverifiable_certificate_fails_the_tls_check_with_advice() {
    let mut opts = admin_options("master");
    opts.tls = MssqlTls::VERIFY;
    let checks = onboard::check(&opts, true).await;
    let tls = get(&checks, "tls");
    if server().trust_server_certificate() {
        // Babelfish's certificate is self-signed.
        assert_eq!(tls.status, CheckStatus::Failed, "{checks:?}");
        assert!(
            tls.message.contains("trust_server_certificate = true"),
            "{}",
            tls.message
        );
        assert!(
            !tls.message.contains("To connect anyway"),
            "{}",
            tls.message
        );
        assert_eq!(get(&checks, "login").status, CheckStatus::Skipped);
    } else {
        assert_eq!(tls.status, CheckStatus::Passed, "{checks:?}");
        assert!(
            tls.message.contains("certificate verified"),
            "{}",
            tls.message
        );
    }
}
