//! `tenantry owner add|list|remove|set-password` on a registry made by `tenantry init`.

use crate::common::{as_user, text};
use crate::first_start::{init, open, OWNER_PASSWORD};
use std::path::Path;
use std::process::Output;

/// A data directory initialised with owner `ops@example.com`.
fn initialised() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = init(&data, OWNER_PASSWORD);
    assert!(out.status.success(), "{}", text(&out));
    (dir, data)
}

fn owner(data: &Path, args: &[&str], password: Option<&str>) -> Output {
    let mut c = as_user(data, "ops-ann");
    c.arg("owner").args(args);
    if let Some(pw) = password {
        c.args(["--password-env", "PW"]).env("PW", pw);
    }
    c.output().unwrap()
}

fn listed_emails(data: &Path) -> Vec<String> {
    let out = owner(data, &["list", "--json"], None);
    assert!(out.status.success(), "{}", text(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|o| o["email"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_owner_added_at_the_cli_is_listed_can_sign_in_and_is_audited() {
    let (_dir, data) = initialised();
    let args = ["add", "--email", "Second@Example.com", "--name", "Second"];
    let out = owner(&data, &args, Some("second owner pw"));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        listed_emails(&data),
        ["ops@example.com", "second@example.com"]
    );
    let app = open(&data).await;
    let login = app
        .platform()
        .login_owner("second@example.com", "second owner pw");
    assert!(login.await.is_ok());
    let (audit, _) = app.platform().audit_log(None, 1, 1).await.unwrap();
    assert_eq!(
        (audit[0].action.as_str(), audit[0].result.as_str()),
        ("owner.add", "ok")
    );
    assert_eq!(audit[0].actor, "cli:ops-ann");
    assert_eq!(audit[0].detail["password"], "***");
    assert!(!audit[0].detail.to_string().contains("second owner pw"));
    app.registry().close().await;
}

#[tokio::test]
async fn owner_add_refuses_a_short_password() {
    let (_dir, data) = initialised();
    let args = ["add", "--email", "short@example.com", "--name", "Short"];
    let out = owner(&data, &args, Some("tooshort"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("at least 12 characters"),
        "{}",
        text(&out)
    );
    assert_eq!(listed_emails(&data), ["ops@example.com"]);
}

#[tokio::test]
async fn owner_set_password_replaces_the_old_password() {
    let (_dir, data) = initialised();
    let args = ["set-password", "ops@example.com"];
    let out = owner(&data, &args, Some("a brand new passphrase"));
    assert!(out.status.success(), "{}", text(&out));
    let app = open(&data).await;
    let p = app.platform();
    assert!(p
        .login_owner("ops@example.com", OWNER_PASSWORD)
        .await
        .is_err());
    assert!(p
        .login_owner("ops@example.com", "a brand new passphrase")
        .await
        .is_ok());
    app.registry().close().await;
}

#[tokio::test]
async fn the_last_owner_cannot_be_removed_but_one_of_two_can() {
    let (_dir, data) = initialised();
    let out = owner(&data, &["remove", "ops@example.com"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("last owner"), "{}", text(&out));
    assert_eq!(listed_emails(&data), ["ops@example.com"]);

    let args = ["add", "--email", "b@example.com", "--name", "B"];
    assert!(owner(&data, &args, Some("second owner pw"))
        .status
        .success());
    let out = owner(&data, &["remove", "ops@example.com"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(listed_emails(&data), ["b@example.com"]);
    let app = open(&data).await;
    let (audit, _) = app.platform().audit_log(None, 1, 3).await.unwrap();
    let rows: Vec<_> = audit
        .iter()
        .map(|e| (e.action.as_str(), e.result.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("owner.remove", "ok"),
            ("owner.add", "ok"),
            ("owner.remove", "refused")
        ]
    );
    app.registry().close().await;
}
