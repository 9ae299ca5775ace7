//! `keys rotate --prune`: old keys leave the key file only after every secret is re-encrypted and
//! verified under the new key, so no secret is ever left under a key the file no longer holds.

use crate::common::text;
use std::path::Path;
use tenantry::secrets::{expose, MasterKey};
use tenantry_server::config::Config;
use tenantry_server::startup::{self, App};

/// The demo's data dir plus a server whose admin password is a stored secret.
async fn data_dir_with_a_secret() -> (tempfile::TempDir, std::path::PathBuf, Config) {
    let (dir, data, config) = crate::common::demo_data_dir().await;
    let out = crate::common::tenantry_cmd(&data)
        .args(["server", "add", "--name", "pg", "--engine", "postgres"])
        .args(["--host", "db.example.com", "--admin-user", "postgres"])
        .args(["--admin-password-env", "PGPW"])
        .env("PGPW", "server-secret")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    (dir, data, config)
}

fn key_ids(path: &Path) -> Vec<String> {
    MasterKey::keyring_from_file(path)
        .unwrap()
        .iter()
        .map(|k| k.id().to_owned())
        .collect()
}

/// Opens the registry with the key file as it is now and reads every secret.
async fn every_secret_reads(config: &Config) {
    let app = App::open(config, startup::load_master_key(config).unwrap())
        .await
        .expect("the key file opens the registry");
    let name = crate::common::server_name("pg");
    let server = app.registry().server_by_name(&name).await.unwrap();
    let pw = app.registry().server_admin_password(server.id).await;
    assert_eq!(expose(&pw.unwrap().unwrap()), "server-secret");
    for c in app.registry().all_configs().await.unwrap() {
        let mut conn = app.pools().acquire(&c).await.unwrap();
        conn.execute_raw("SELECT 1").await.unwrap();
    }
    app.pools().close_all().await;
    app.registry().close().await;
}

#[tokio::test]
async fn prune_after_an_interrupted_rotation_leaves_every_secret_readable() {
    let (_dir, data, config) = data_dir_with_a_secret().await;
    let key_file = data.join("master.key");
    // An earlier rotation wrote the key file (new key first, old key kept) and was killed before
    // it re-encrypted anything: every secret is still under the old key.
    let old = MasterKey::keyring_from_file(&key_file).unwrap().remove(0);
    let interrupted = MasterKey::generate();
    MasterKey::write_keyring(&key_file, &[interrupted.clone(), old.clone()]).unwrap();

    let out = crate::common::tenantry_cmd(&data)
        .args(["keys", "rotate", "--prune"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let ids = key_ids(&key_file);
    assert_eq!(ids.len(), 1, "only the new current key is left: {ids:?}");
    assert!(!ids.contains(&old.id().to_owned()) && !ids.contains(&interrupted.id().to_owned()));
    every_secret_reads(&config).await;
}

#[tokio::test]
async fn prune_after_a_successful_rotation_leaves_only_the_current_key() {
    let (_dir, data, config) = data_dir_with_a_secret().await;
    let key_file = data.join("master.key");
    let rotate = |args: &[&str]| {
        crate::common::tenantry_cmd(&data)
            .args(["keys", "rotate"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = rotate(&[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        key_ids(&key_file).len(),
        2,
        "without --prune the old key stays"
    );
    let out = rotate(&["--prune"]);
    assert!(out.status.success(), "{}", text(&out));
    let ids = key_ids(&key_file);
    assert_eq!(ids.len(), 1);
    every_secret_reads(&config).await;
    let app = App::open(&config, startup::load_master_key(&config).unwrap())
        .await
        .unwrap();
    assert_eq!(
        app.registry().secrets().key_id(),
        ids[0],
        "the file's key is current"
    );
    let (rows, _) = app.platform().audit_log(None, 1, 1).await.unwrap();
    assert_eq!(
        (rows[0].action.as_str(), rows[0].result.as_str()),
        ("keys.rotate", "ok")
    );
    assert_eq!(rows[0].detail["prunedKeys"], 2);
    assert_eq!(rows[0].detail["after"]["keyId"], ids[0]);
    app.registry().close().await;
}
