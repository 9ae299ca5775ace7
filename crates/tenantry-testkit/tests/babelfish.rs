//! Real tests of the SQL Server fixture: these start actual Babelfish servers.

use std::collections::HashSet;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use tenantry_testkit::{shared_babelfish, unique_name, BabelfishServer};

fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_ok()
}

#[test]
fn a_babelfish_server_runs_t_sql_and_is_removed_on_stop() {
    let t = Instant::now();
    let mut server = BabelfishServer::start().expect("start Babelfish");
    eprintln!("BabelfishServer::start took {:?}", t.elapsed());

    let (port, pg_port) = (server.port(), server.pg_port().unwrap());
    let dir = server.base_dir().unwrap().to_path_buf();
    assert_eq!(server.host(), "127.0.0.1");
    assert!(!server.is_external());
    assert!(dir.is_dir() && port_open(port) && port_open(pg_port));
    assert_eq!(
        (server.admin_user(), server.admin_password()),
        ("babelfish_user", "12345678")
    );
    assert!(server.encrypt() && server.trust_server_certificate());

    let version = server.tsql("master", "SELECT @@VERSION").unwrap();
    assert!(version.contains("Babelfish"), "{version}");
    let db = unique_name("bbf_life");
    server
        .tsql("master", &format!("CREATE DATABASE [{db}]"))
        .unwrap();
    let out = server
        .tsql(
            &db,
            "CREATE TABLE t (id BIGINT IDENTITY(1,1) PRIMARY KEY, name NVARCHAR(20) NULL)\n\
             GO\n\
             INSERT INTO t (name) VALUES (N'one'), (NULL)\n\
             SELECT id, name, DB_NAME() FROM t ORDER BY id",
        )
        .unwrap();
    assert_eq!(out, format!("1|one|{db}\n2||{db}\n"));
    let err = server.tsql(&db, "SELECT * FROM no_such_table").unwrap_err();
    assert!(err.to_string().contains("no_such_table"), "{err}");

    server.stop();
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(!port_open(port) && !port_open(pg_port), "ports still open");
    server.stop(); // idempotent
}

#[test]
fn dropping_a_babelfish_server_stops_it_and_removes_its_directory() {
    let server = BabelfishServer::start().expect("start Babelfish");
    let port = server.port();
    let dir = server.base_dir().unwrap().to_path_buf();
    drop(server);
    assert!(!dir.exists());
    assert!(!port_open(port));
}

#[test]
fn the_shared_babelfish_is_started_once() {
    let handles: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(|| shared_babelfish().port()))
        .collect();
    let ports: HashSet<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(ports.len(), 1);
    assert_eq!(
        shared_babelfish().tsql("master", "SELECT 1").unwrap(),
        "1\n"
    );
}

#[test]
fn an_external_server_url_is_used_as_is_without_starting_anything() {
    let shared = shared_babelfish();
    let url = format!(
        "mssql://{}:{}@{}:{}?encrypt={}&trust_server_certificate={}",
        shared.admin_user(),
        shared.admin_password(),
        shared.host(),
        shared.port(),
        shared.encrypt(),
        shared.trust_server_certificate()
    );
    let mut external = BabelfishServer::external(&url).unwrap();
    assert!(external.is_external());
    assert_eq!(external.base_dir(), None);
    assert_eq!(external.port(), shared.port());
    assert_eq!(external.tsql("master", "SELECT 42").unwrap(), "42\n");
    external.stop(); // stops nothing: the server still answers
    assert_eq!(shared.tsql("master", "SELECT 1").unwrap(), "1\n");
}

#[test]
fn an_external_url_decodes_credentials_and_defaults_to_encrypt_and_verify() {
    let server = BabelfishServer::external("mssql://sa:P%40ss%3Aw0rd@db.example.com").unwrap();
    assert_eq!((server.host(), server.port()), ("db.example.com", 1433));
    assert_eq!(
        (server.admin_user(), server.admin_password()),
        ("sa", "P@ss:w0rd")
    );
    assert!(server.encrypt());
    assert!(!server.trust_server_certificate());
    let off = BabelfishServer::external("mssql://sa:x@h:14330?encrypt=false").unwrap();
    assert_eq!(off.port(), 14330);
    assert!(!off.encrypt());
    let err = BabelfishServer::external("postgres://sa:x@h").unwrap_err();
    assert!(err.to_string().contains("mssql://"), "{err}");
}
