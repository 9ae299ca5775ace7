//! First start of a production install: `tenantry init`, and `serve` refusing a registry nobody
//! could sign in to.

use crate::common::text;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};
use tenantry_server::config::Config;
use tenantry_server::startup::{self, App};

pub const OWNER_PASSWORD: &str = "correct horse battery";

/// `tenantry init` for `ops@example.com` on `data`, with `password` in `$OWNER_PW`.
pub fn init(data: &Path, password: &str) -> Output {
    crate::common::tenantry_cmd(data)
        .args(["init", "--owner-email", "ops@example.com"])
        .args(["--owner-name", "Ops", "--password-env", "OWNER_PW"])
        .env("OWNER_PW", password)
        .output()
        .unwrap()
}

/// The app on `data`'s registry, opened with its key file.
pub async fn open(data: &Path) -> App {
    let config = Config {
        data_dir: data.to_owned(),
        ..Config::default()
    };
    App::open(&config, startup::load_master_key(&config).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn init_creates_a_private_key_file_the_registry_and_an_owner_who_can_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = init(&data, OWNER_PASSWORD);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("master key created"), "{}", text(&out));
    assert!(
        !text(&out).contains(OWNER_PASSWORD),
        "the password is never echoed"
    );
    let key = data.join("master.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is private");
    }
    assert!(data.join("registry.db").is_file());
    let app = open(&data).await;
    let owners = app.platform().list_owners().await.unwrap();
    assert_eq!(owners.len(), 1);
    assert_eq!(
        (owners[0].email.as_str(), owners[0].name.as_str()),
        ("ops@example.com", "Ops")
    );
    let session = app
        .platform()
        .login_owner("ops@example.com", OWNER_PASSWORD)
        .await;
    assert!(
        session.is_ok(),
        "the first owner signs in with the password given to init"
    );
    app.registry().close().await;
}

#[tokio::test]
async fn init_on_an_initialised_registry_refuses_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(init(&data, OWNER_PASSWORD).status.success());
    let key_before = std::fs::read(data.join("master.key")).unwrap();
    let app = open(&data).await;
    let (_, audit_before) = app.platform().audit_log(None, 1, 100).await.unwrap();
    app.registry().close().await;

    let out = crate::common::tenantry_cmd(&data)
        .args(["init", "--owner-email", "other@example.com"])
        .args(["--owner-name", "Other", "--password-env", "OWNER_PW"])
        .env("OWNER_PW", "another long password")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("already has 1 owner"), "{}", text(&out));
    assert_eq!(std::fs::read(data.join("master.key")).unwrap(), key_before);
    let app = open(&data).await;
    let owners = app.platform().list_owners().await.unwrap();
    assert_eq!(owners.len(), 1, "no second owner");
    let (_, audit_after) = app.platform().audit_log(None, 1, 100).await.unwrap();
    assert_eq!(audit_after, audit_before, "not even an audit row");
    app.registry().close().await;
}

#[test]
fn init_refuses_a_password_shorter_than_12_characters_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = init(&data, "short-pw");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("at least 12 characters"),
        "{}",
        text(&out)
    );
    assert!(!data.join("master.key").exists());
    assert!(!data.join("registry.db").exists());
}

#[test]
fn serve_on_a_registry_without_an_owner_refuses_to_start_and_names_init() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    tenantry::secrets::MasterKey::create_file(&data.join("master.key")).unwrap();
    let mut child = crate::common::tenantry_cmd(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("serve started without an owner");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    assert_eq!(status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("tenantry init"), "{}", text(&out));
    assert!(!text(&out).contains("listening"), "{}", text(&out));
}
