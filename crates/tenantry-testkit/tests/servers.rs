//! Real tests: these start actual PostgreSQL and MariaDB servers.

use std::collections::HashSet;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tenantry_testkit::{
    closed_port, shared_mariadb, shared_pg, unique_name, MariaDbServer, PgServer,
};

fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_ok()
}

/// Polls `cond` for up to `timeout`.
fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn pg_server_lifecycle() {
    let t = Instant::now();
    let mut pg = PgServer::start().expect("start PostgreSQL");
    eprintln!("PgServer::start took {:?}", t.elapsed());

    let port = pg.port();
    let dir = pg.base_dir().to_path_buf();
    assert_eq!(pg.host(), "127.0.0.1");
    assert_ne!(port, 5432);
    assert!(dir.is_dir());
    assert!(port_open(port));
    assert_eq!(
        pg.admin_url(),
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    );
    assert_eq!(
        pg.url("x"),
        format!("postgres://postgres@127.0.0.1:{port}/x")
    );

    let db = unique_name("pg_life");
    pg.psql("postgres", &format!("CREATE DATABASE {db};"))
        .expect("create database");
    let out = pg
        .psql(
            &db,
            "CREATE TABLE t (id int PRIMARY KEY, name text);\n\
             INSERT INTO t VALUES (1, 'one'), (2, 'two');\n\
             SELECT id, name FROM t ORDER BY id;",
        )
        .expect("query");
    assert_eq!(out, "1|one\n2|two\n");
    let out = pg
        .psql(&db, "SELECT current_database(), current_user;")
        .unwrap();
    assert_eq!(out.trim(), format!("{db}|postgres"));

    let err = pg.psql(&db, "SELECT * FROM no_such_table;").unwrap_err();
    assert!(err.to_string().contains("no_such_table"), "{err}");

    pg.stop();
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(!port_open(port), "port {port} still open");
    pg.stop(); // idempotent
    drop(pg);
}

#[test]
fn pg_server_drop_cleans_up() {
    let pg = PgServer::start().expect("start PostgreSQL");
    let port = pg.port();
    let dir = pg.base_dir().to_path_buf();
    drop(pg);
    assert!(!dir.exists());
    assert!(!port_open(port));
}

#[test]
fn mariadb_server_lifecycle() {
    let t = Instant::now();
    let mut my = MariaDbServer::start().expect("start MariaDB");
    eprintln!("MariaDbServer::start took {:?}", t.elapsed());

    let port = my.port();
    let dir = my.base_dir().to_path_buf();
    assert_eq!(my.host(), "127.0.0.1");
    assert_ne!(port, 3306);
    assert!(dir.is_dir());
    assert!(port_open(port));
    assert_eq!(my.admin_url(), format!("mysql://root@127.0.0.1:{port}/"));
    assert_eq!(my.url("x"), format!("mysql://root@127.0.0.1:{port}/x"));

    // root logs in over TCP without a password and has full privileges.
    let who = my.sql("SELECT current_user(), @@port;").unwrap();
    assert!(who.starts_with("root@"), "{who}");
    assert!(who.trim_end().ends_with(&port.to_string()), "{who}");
    let grants = my.sql("SHOW GRANTS;").unwrap();
    assert!(grants.contains("ALL PRIVILEGES"), "{grants}");
    assert!(grants.contains("WITH GRANT OPTION"), "{grants}");
    let charset = my.sql("SELECT @@character_set_server;").unwrap();
    assert_eq!(charset.trim(), "utf8mb4");

    let db = unique_name("my_life");
    my.sql(&format!("CREATE DATABASE {db};")).unwrap();
    let out = my
        .sql(&format!(
            "CREATE TABLE {db}.t (id INT PRIMARY KEY, name TEXT);\n\
             INSERT INTO {db}.t VALUES (1, 'one'), (2, 'two');\n\
             SELECT id, name FROM {db}.t ORDER BY id;"
        ))
        .unwrap();
    assert_eq!(out, "1\tone\n2\ttwo\n");
    let out = my.sql_in(&db, "SELECT count(*) FROM t;").unwrap();
    assert_eq!(out.trim(), "2");

    // Creating users and logging in as them over TCP works (no --skip-grant-tables).
    my.sql(&format!(
        "CREATE USER 'app'@'%' IDENTIFIED BY 'pw'; GRANT SELECT ON {db}.* TO 'app'@'%';"
    ))
    .unwrap();

    let err = my
        .sql("SELECT * FROM no_such_db.no_such_table;")
        .unwrap_err();
    assert!(err.to_string().contains("no_such_db"), "{err}");

    my.stop();
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(!port_open(port), "port {port} still open");
    my.stop(); // idempotent
}

#[test]
fn mariadb_server_drop_cleans_up() {
    let my = MariaDbServer::start().expect("start MariaDB");
    let port = my.port();
    let dir = my.base_dir().to_path_buf();
    drop(my);
    assert!(!dir.exists());
    assert!(!port_open(port));
}

#[test]
fn shared_pg_servers_are_distinct_and_started_once() {
    let t = Instant::now();
    let handles: Vec<_> = [0usize, 1, 0, 1, 0]
        .into_iter()
        .map(|i| std::thread::spawn(move || (i, shared_pg(i).port())))
        .collect();
    let results: Vec<(usize, u16)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    eprintln!(
        "shared_pg(0) + shared_pg(1) in parallel took {:?}",
        t.elapsed()
    );
    let p0 = shared_pg(0).port();
    let p1 = shared_pg(1).port();
    assert_ne!(p0, p1);
    for (i, port) in results {
        assert_eq!(port, if i == 0 { p0 } else { p1 });
    }
    assert!(std::ptr::eq(shared_pg(0), shared_pg(0)));
    assert_eq!(shared_pg(0).psql("postgres", "SELECT 1;").unwrap(), "1\n");
    assert_eq!(shared_pg(1).psql("postgres", "SELECT 2;").unwrap(), "2\n");
}

#[test]
#[should_panic(expected = "only indices")]
fn shared_pg_rejects_large_index() {
    let _ = shared_pg(4);
}

#[test]
fn shared_mariadb_is_started_once() {
    let handles: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(|| shared_mariadb().port()))
        .collect();
    let ports: HashSet<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(ports.len(), 1);
    assert_eq!(shared_mariadb().sql("SELECT 1;").unwrap(), "1\n");
}

#[test]
fn unique_names_are_unique_and_valid() {
    let mut seen = HashSet::new();
    for prefix in [
        "db",
        "Tenant-DB",
        "x",
        "a_very_long_prefix_that_goes_on_and_on_forever",
    ] {
        for _ in 0..500 {
            let name = unique_name(prefix);
            assert!(name.len() <= 48, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{name}"
            );
            assert!(name.starts_with(|c: char| c.is_ascii_lowercase()), "{name}");
            assert!(seen.insert(name.clone()), "duplicate {name}");
        }
    }
    assert!(unique_name("db").starts_with(&format!("db_{}_", std::process::id())));
}

#[test]
fn closed_port_is_closed() {
    let port = closed_port();
    assert_ne!(port, 0);
    assert!(!port_open(port));
}

#[test]
fn watchdog_cleans_up_after_kill_9() {
    let report = std::env::temp_dir().join(format!("{}.txt", unique_name("watchdog_report")));
    let mut child = Command::new(env!("CARGO_BIN_EXE_testkit-watchdog-helper"))
        .arg(&report)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let ready = eventually(Duration::from_secs(120), || report.exists());
    if !ready {
        let _ = child.kill();
        let _ = child.wait();
        panic!("helper did not start its servers");
    }
    let text = std::fs::read_to_string(&report).unwrap();
    std::fs::remove_file(&report).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (pg_dir, pg_port) = (PathBuf::from(lines[0]), lines[1].parse::<u16>().unwrap());
    let (my_dir, my_port) = (PathBuf::from(lines[2]), lines[3].parse::<u16>().unwrap());
    let (bbf_dir, bbf_port) = (PathBuf::from(lines[4]), lines[5].parse::<u16>().unwrap());
    assert!(pg_dir.is_dir() && my_dir.is_dir() && bbf_dir.is_dir());
    assert!(port_open(pg_port) && port_open(my_port) && port_open(bbf_port));

    child.kill().unwrap(); // SIGKILL: no destructors, no cleanup in the helper itself
    child.wait().unwrap();

    let t = Instant::now();
    let cleaned = eventually(Duration::from_secs(60), || {
        !pg_dir.exists()
            && !my_dir.exists()
            && !bbf_dir.exists()
            && !port_open(pg_port)
            && !port_open(my_port)
            && !port_open(bbf_port)
    });
    eprintln!("watchdog cleanup after kill -9 took {:?}", t.elapsed());
    assert!(
        cleaned,
        "after kill -9: pg dir exists={} port open={}, mariadb dir exists={} port open={}, \
         babelfish dir exists={} port open={}",
        pg_dir.exists(),
        port_open(pg_port),
        my_dir.exists(),
        port_open(my_port),
        bbf_dir.exists(),
        port_open(bbf_port)
    );
}
