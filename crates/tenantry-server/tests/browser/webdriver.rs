//! A real headless Chromium driven over WebDriver (Debian's `chromium` + `chromium-driver`), for the
//! owner dashboard's tests. Each [`Browser`] runs its own `chromedriver` on a free port, in its own
//! process group with a throwaway profile; dropping it ends that group. Browser tests take turns
//! ([`Browser::start`] holds a lock), so a 2-core machine is never asked to run several Chromiums.

use crate::common::{TestApp, PASSWORD};
use fantoccini::elements::Element;
use fantoccini::{ClientBuilder, Locator};
use serde_json::{json, Value};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest a test waits for the page to show something.
const WAIT: Duration = Duration::from_secs(30);
const CHROMEDRIVER: &str = "chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// One browser at a time on this machine.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub struct Browser {
    pub client: fantoccini::Client,
    /// The dashboard's origin, e.g. `http://127.0.0.1:41234`.
    pub base: String,
    driver: Child,
    _profile: tempfile::TempDir,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium for the dashboard of `app`.
    pub async fn start(app: &TestApp) -> Self {
        Self::start_at(&app.addr).await
    }

    /// Starts chromedriver and a headless Chromium for the server at `addr` (`host:port`).
    pub async fn start_at(addr: &str) -> Self {
        let turn = TURN.lock().await;
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver is not installed (Debian: apt-get install chromium-driver)");
        let profile = tempfile::tempdir().unwrap();
        let browser = Self {
            client: connect(port, &profile).await,
            base: format!("http://{addr}"),
            driver,
            _profile: profile,
            _turn: turn,
        };
        browser.client.set_window_size(1440, 900).await.unwrap();
        browser
    }

    /// Opens a dashboard path (e.g. `/owner`) and records CSP violations from then on.
    pub async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
        self.client
            .execute(
                "window.__csp = []; document.addEventListener('securitypolicyviolation', \
                 (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));",
                vec![],
            )
            .await
            .unwrap();
    }

    /// Opens `/owner` and signs in as the test owner; returns once the tenants table is shown.
    pub async fn sign_in(&self) {
        self.sign_in_as("owner@test.local", PASSWORD).await;
    }

    pub async fn sign_in_as(&self, email: &str, password: &str) {
        self.open("/owner").await;
        self.sign_in_here(email, password).await;
        self.wait_for("#tenants-table").await;
    }

    /// Fills and submits the sign-in form already on screen.
    pub async fn sign_in_here(&self, email: &str, password: &str) {
        self.type_into("#signin-email", email).await;
        self.type_into("#signin-password", password).await;
        self.click("#signin-submit").await;
    }

    /// Waits until an element matching `css` is displayed, and returns it.
    pub async fn wait_for(&self, css: &str) -> Element {
        let started = Instant::now();
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                if el.is_displayed().await.unwrap_or(false) {
                    return el;
                }
            }
            self.give_up_after(started, &format!("{css} to be displayed"))
                .await;
        }
    }

    /// Waits until no displayed element matches `css`.
    pub async fn wait_gone(&self, css: &str) {
        let started = Instant::now();
        while self.visible(css).await {
            self.give_up_after(started, &format!("{css} to disappear"))
                .await;
        }
    }

    /// Whether an element matching `css` is displayed now.
    pub async fn visible(&self, css: &str) -> bool {
        match self.client.find(Locator::Css(css)).await {
            Ok(el) => el.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Waits until the text of `css` satisfies `ok`; returns that text.
    pub async fn wait_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        let mut last = String::from("<no such element>");
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                last = el.text().await.unwrap_or_default();
                if ok(&last) {
                    return last;
                }
            }
            self.give_up_after(started, &format!("the text of {css} (last: {last:?})"))
                .await;
        }
    }

    /// Waits until `css` shows a text containing `needle`.
    pub async fn wait_contains(&self, css: &str, needle: &str) -> String {
        self.wait_text(css, |t| t.contains(needle)).await
    }

    /// Waits until exactly `n` elements match `css`.
    pub async fn wait_count(&self, css: &str, n: usize) {
        let started = Instant::now();
        loop {
            let found = self.count(css).await;
            if found == n {
                return;
            }
            self.give_up_after(started, &format!("{n} × {css} (found {found})"))
                .await;
        }
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map(|v| v.len())
            .unwrap_or(0)
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.unwrap();
    }

    /// Clears the input `css` and types `text` into it.
    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.wait_for(css).await;
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    pub async fn select(&self, css: &str, value: &str) {
        let el = self.wait_for(css).await;
        el.select_by_value(value).await.unwrap();
    }

    pub async fn is_enabled(&self, css: &str) -> bool {
        self.wait_for(css).await.is_enabled().await.unwrap()
    }

    /// Runs a script in the page and returns its value.
    pub async fn script(&self, js: &str, args: Vec<Value>) -> Value {
        self.client.execute(js, args).await.unwrap()
    }

    /// Sleeps a moment, or fails the test (with what the page shows) once [`WAIT`] has passed.
    async fn give_up_after(&self, started: Instant, what: &str) {
        if started.elapsed() > WAIT {
            let page = self.script("return document.body.innerText", vec![]).await;
            panic!("waited {WAIT:?} for {what}; the page shows:\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    /// Fails if the page reported a Content-Security-Policy violation since [`Browser::open`].
    pub async fn assert_no_csp_violation(&self) {
        let v = self.script("return window.__csp || []", vec![]).await;
        assert_eq!(v, json!([]), "CSP violations");
    }

    /// Ends the session (Chromium quits) after checking the page kept to its CSP.
    pub async fn close(self) {
        self.assert_no_csp_violation().await;
        self.client.clone().close().await.unwrap();
    }
}

async fn connect(port: u16, profile: &tempfile::TempDir) -> fantoccini::Client {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1440,900",
    ]
    .iter()
    .map(|a| a.to_string())
    .chain([format!("--user-data-dir={}", profile.path().display())])
    .collect::<Vec<_>>();
    let caps = json!({"goog:chromeOptions": {"binary": CHROMIUM, "args": args}});
    let caps = caps.as_object().unwrap().clone();
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => return c,
            Err(e) if started.elapsed() < WAIT => {
                tracing::debug!(error = %e, "chromedriver not ready yet");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no WebDriver session on {url}: {e}"),
        }
    }
}

impl Drop for Browser {
    /// Ends chromedriver's process group (the driver and any Chromium it left), by its id.
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.driver.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.wait();
    }
}
