//! kill -9 of a provisioning process after each step: never an active tenant without its database,
//! never a database without a registry row, and `tenant provision --retry` always finishes the job.
//! On PostgreSQL and on SQL Server.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use tenantry::registry::{CacheSettings, Registry};
use tenantry::secrets::{MasterKey, SecretBox};
use tenantry::tenant::TenantStatus;
use tenantry_testkit::{shared_babelfish, shared_pg, unique_name};

fn tenantry(data: &Path) -> Command {
    crate::common::tenantry_cmd(data)
}

/// What the test needs to know about one engine's server.
struct Engine<'a> {
    /// `tenantry server add` arguments after `--name NAME`.
    server_args: Vec<String>,
    /// Environment of every `tenantry` run (e.g. the admin password variable).
    env: Vec<(&'a str, String)>,
    /// Whether database `name` exists on the server.
    exists: &'a dyn Fn(&str) -> bool,
    /// The usernames in the tenant database `name`, one a line.
    users: &'a dyn Fn(&str) -> String,
    /// The databases whose names start with `prefix`, one a line.
    databases_like: &'a dyn Fn(&str) -> String,
}

async fn open_registry(data: &Path, key: &MasterKey) -> Registry {
    let url = format!("sqlite://{}/registry.db", data.display());
    Registry::open(&url, SecretBox::new(key.clone()), CacheSettings::default())
        .await
        .unwrap()
}

/// Runs `tenantry` with the engine's environment; its output.
fn run(data: &Path, e: &Engine<'_>, args: &[&str]) -> std::process::Output {
    let mut cmd = tenantry(data);
    cmd.args(args).envs(e.env.iter().map(|(k, v)| (*k, v)));
    cmd.output().unwrap()
}

async fn killed_after_every_step_and_retried(server: &str, e: Engine<'_>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = MasterKey::create_file(&data.join("master.key")).unwrap();
    let mut add = vec!["server", "add", "--name", server];
    add.extend(e.server_args.iter().map(String::as_str));
    let out = run(&data, &e, &add);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prefix = unique_name("kill");

    for (i, step) in ["registry row", "create database", "migrate", "admin user"]
        .iter()
        .enumerate()
    {
        let code = format!("KILL{i}");
        let db = format!("{prefix}_{i}");
        let mut child = tenantry(&data)
            .args([
                "tenant", "add", &code, "--name", "Killed", "--server", server,
            ])
            .args(["--database", &db])
            .envs(e.env.iter().map(|(k, v)| (*k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let wanted = format!("step {step} done");
        let reached = lines.by_ref().map_while(Result::ok).any(|l| l == wanted);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert!(reached, "provisioning never reported {wanted:?}");

        let registry = open_registry(&data, &key).await;
        let tenant = registry
            .tenant(&code.parse().unwrap())
            .await
            .expect("the row comes before anything else");
        if tenant.status == TenantStatus::Active {
            assert!((e.exists)(&db), "active tenant {code} without its database");
            assert_eq!(
                tenant.schema_version,
                Some(tenantry::migrate::latest_version(tenant.engine))
            );
        } else {
            assert_eq!(
                tenant.status,
                TenantStatus::Provisioning,
                "killed after {step}"
            );
        }
        registry.close().await;

        let out = run(&data, &e, &["tenant", "provision", "--retry", &code]);
        assert!(
            out.status.success(),
            "retry after {step}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("tenant {code} is active")));
        assert_eq!((e.users)(&db).trim(), "admin");
    }

    // No database of this test exists without a registry row.
    let dbs = (e.databases_like)(&prefix);
    let registry = open_registry(&data, &key).await;
    let (tenants, _) = registry
        .list_tenants(&tenantry::registry::TenantFilter {
            page: 1,
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    for db in dbs.lines() {
        assert!(
            tenants.iter().any(|t| t.database.as_str() == db),
            "orphan database {db}"
        );
    }
    assert_eq!(tenants.len(), 4);
    assert!(tenants.iter().all(|t| t.status == TenantStatus::Active));
}

#[tokio::test]
async fn provisioning_killed_after_any_step_leaves_no_half_built_tenant_and_retry_finishes() {
    let pg = shared_pg(0);
    let psql = |db: &str, q: &str| pg.psql(db, q).unwrap();
    let exists = |db: &str| {
        let q = format!("SELECT count(*) FROM pg_database WHERE datname = '{db}'");
        psql("postgres", &q).trim() == "1"
    };
    let users = |db: &str| psql(db, "SELECT username FROM users");
    let like = |prefix: &str| {
        let q =
            format!("SELECT datname FROM pg_database WHERE datname LIKE '{prefix}%' ORDER BY 1");
        psql("postgres", &q)
    };
    let args = ["--engine", "postgres", "--host", "127.0.0.1", "--port"]
        .iter()
        .map(|s| s.to_string())
        .chain([pg.port().to_string()])
        .chain(["--admin-user", "postgres", "--tls", "disable"].map(String::from))
        .collect();
    let engine = Engine {
        server_args: args,
        env: Vec::new(),
        exists: &exists,
        users: &users,
        databases_like: &like,
    };
    killed_after_every_step_and_retried("pg0", engine).await;
}

#[tokio::test]
async fn sql_server_provisioning_killed_after_any_step_leaves_no_half_built_tenant_and_retry_finishes(
) {
    let s = shared_babelfish();
    let tsql = |db: &str, q: &str| s.tsql(db, q).unwrap();
    let exists = |db: &str| {
        let q = format!("SELECT COUNT(*) FROM sys.databases WHERE name = N'{db}'");
        tsql("master", &q).trim() == "1"
    };
    let users = |db: &str| tsql(db, "SELECT username FROM users");
    let like = |prefix: &str| {
        let q =
            format!("SELECT name FROM sys.databases WHERE name LIKE N'{prefix}%' ORDER BY name");
        tsql("master", &q)
    };
    let tls = crate::common::mssql_tls().to_string();
    let args = [
        "--engine",
        "mssql",
        "--host",
        s.host(),
        "--port",
        &s.port().to_string(),
        "--tls",
        &tls,
        "--admin-user",
        s.admin_user(),
        "--admin-password-env",
        "TENANTRY_TEST_SA_PASSWORD",
    ];
    let engine = Engine {
        server_args: args.iter().map(|a| a.to_string()).collect(),
        env: vec![("TENANTRY_TEST_SA_PASSWORD", s.admin_password().to_owned())],
        exists: &exists,
        users: &users,
        databases_like: &like,
    };
    killed_after_every_step_and_retried("sql0", engine).await;
}
