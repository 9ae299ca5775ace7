//! The README's screenshot: the tenants view of `tenantry demo`, taken through WebDriver.
//!
//! The PNG goes to `$TENANTRY_SCREENSHOT_DIR/tenants.png` when that is set (to refresh
//! `docs/screenshots/`), else to a temporary directory.

use crate::common::demo_data_dir;
use crate::webdriver::Browser;
use tenantry_server::demo::{demo_key, DEMO_PASSWORD, OWNER_EMAIL};
use tenantry_server::startup::{self, App};

const DEMO_CODES: [&str; 5] = ["ACME", "DCPSP", "DEMO", "GLOBALSEC", "TECHSTART"];

#[tokio::test]
async fn tenants_view_of_the_demo_is_captured_as_a_png() {
    let (_dir, _data, config) = demo_data_dir().await;
    let app = App::open(&config, demo_key(&config).unwrap())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(startup::run(listener, app, async move {
        let _ = stopped.await;
    }));

    let b = Browser::start_at(&addr).await;
    b.client.set_window_size(1440, 680).await.unwrap();
    b.sign_in_as(OWNER_EMAIL, DEMO_PASSWORD).await;
    b.wait_count("#tenants-table tbody tr[data-code]", DEMO_CODES.len())
        .await;
    for code in DEMO_CODES {
        let row = format!("#tenants-table tr[data-code={code}]");
        b.wait_contains(&format!("{row} .connected"), "yes").await;
        b.wait_text(&format!("{row} .latency"), |s| s.ends_with(" ms"))
            .await;
    }
    // Park the pointer on the heading, so no table row shows its hover colour.
    b.click("#view h1").await;
    let png = b.client.screenshot().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert!(
        width == 1440 && height > 400,
        "the whole viewport: {width}×{height}"
    );
    let out = std::env::var_os("TENANTRY_SCREENSHOT_DIR").map(std::path::PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let dir = out.unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tenants.png"), &png).unwrap();
    b.close().await;
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
