//! `connect`: TLS modes, login errors, timeouts.

use super::common::{admin_options, server};
use secrecy::SecretString;
use std::time::{Duration, Instant};
use tenantry::mssql::{connect, MssqlError, MssqlTls};

async fn database_name(opts: &tenantry::mssql::ConnectOptions) -> String {
    let mut client = connect(opts).await.unwrap();
    let row = client
        .simple_query("SELECT DB_NAME()")
        .await
        .unwrap()
        .into_row()
        .await
        .unwrap()
        .unwrap();
    row.get::<&str, _>(0).unwrap().to_owned()
}

#[tokio::test]
async fn the_admin_logs_in_to_the_requested_database() {
    assert_eq!(database_name(&admin_options("master")).await, "master");
}

#[tokio::test]
async fn encrypt_false_still_logs_in() {
    // Login-only encryption (SQL Server's Encrypt=false) works against SQL Server and Babelfish.
    let mut opts = admin_options("master");
    opts.tls = MssqlTls::OFF;
    assert_eq!(database_name(&opts).await, "master");
}

#[tokio::test]
async fn verifying_the_certificate_is_the_default_and_refuses_a_self_signed_one() {
    let mut opts = admin_options("master");
    opts.tls = MssqlTls::default();
    let outcome = connect(&opts).await;
    if server().trust_server_certificate() {
        // Babelfish (and most on-premises servers) present a self-signed certificate.
        let err = outcome.expect_err("a self-signed certificate was accepted");
        assert!(matches!(err, MssqlError::Tls { .. }), "{err:?}");
    } else {
        // A server with a CA-signed certificate (e.g. Azure SQL) passes verification.
        outcome.expect("verified TLS to a server with a trusted certificate");
    }
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_18456_and_never_shown() {
    let mut opts = admin_options("master");
    opts.password = SecretString::from("Wr0ngPassw0rdXyz".to_owned());
    let err = connect(&opts).await.expect_err("wrong password accepted");
    assert!(matches!(err, MssqlError::Login { .. }), "{err:?}");
    assert_eq!(err.server_code(), Some(18456));
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("Wr0ngPassw0rdXyz"), "{shown}");
}

#[tokio::test]
async fn a_closed_port_fails_fast_with_a_tcp_error() {
    let mut opts = admin_options("master");
    opts.port = tenantry_testkit::closed_port();
    opts.host = "127.0.0.1".into();
    let started = Instant::now();
    let err = connect(&opts)
        .await
        .expect_err("connected to a closed port");
    assert!(matches!(err, MssqlError::Tcp { .. }), "{err:?}");
    assert!(started.elapsed() < opts.connect_timeout);
}

#[tokio::test]
async fn a_silent_server_times_out_after_the_connect_timeout() {
    // A listener that accepts and never answers: TDS prelogin waits forever without the timeout.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let mut opts = admin_options("master");
    (opts.host, opts.port) = ("127.0.0.1".into(), port);
    opts.connect_timeout = Duration::from_millis(500);
    let err = connect(&opts)
        .await
        .expect_err("a silent server logged us in");
    assert!(matches!(err, MssqlError::ConnectTimeout { .. }), "{err:?}");
    hold.abort();
}
