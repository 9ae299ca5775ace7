//! Test harness: a real tenantry server on 127.0.0.1:0 with its own registry, and helpers to put
//! tenants on the throwaway servers of `tenantry-testkit`.

use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};
use std::time::Duration;
use tenantry::auth::TokenSigner;
use tenantry::platform::{Platform, PlatformSettings};
use tenantry::pools::{PoolManager, PoolManagerSettings};
use tenantry::provision::Provisioner;
use tenantry::registry::{
    CacheSettings, DataServer, NewServer, NewTenant, PoolSettings, Registry, Tenant,
};
use tenantry::secrets::{MasterKey, SecretBox};
use tenantry::storage::Storage;
use tenantry::tenant::{
    DatabaseName, Engine, Hosting, Placement, ServerName, Subdomain, TenantCode, TenantStatus,
    TlsMode,
};
use tenantry_server::startup::{self, App};
use tenantry_testkit::{shared_babelfish, shared_mariadb, shared_pg, unique_name};

pub const PASSWORD: &str = "test-password";
/// Upload limit of the test app: small, so oversize uploads are cheap.
pub const FILE_LIMIT: u64 = 64 * 1024;

pub struct TestApp {
    pub addr: String,
    pub app: App,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    /// The HS256 secret tokens are signed with (to forge expired or altered ones in tests).
    pub jwt_secret: [u8; 32],
    /// The master key, to open a second handle on the same registry (another "process").
    pub master_key: MasterKey,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// Which server a tenant goes on.
#[derive(Clone, Copy, Debug)]
pub enum On {
    Sqlite,
    /// Throwaway PostgreSQL server `n` (0 = "ours", 1 = "a customer's").
    Pg(usize),
    MariaDb,
    /// The shared SQL Server fixture (Babelfish, or `$TENANTRY_TEST_MSSQL_URL`).
    Mssql,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(PoolManagerSettings::default(), None).await
    }

    /// `registry_url`: `None` for an SQLite registry in the temp dir.
    pub async fn spawn_with(pools: PoolManagerSettings, registry_url: Option<String>) -> Self {
        Self::spawn_configured(pools, registry_url, |app| app).await
    }

    /// Like [`TestApp::spawn_with`], with the app changed by `configure` before it serves.
    pub async fn spawn_configured(
        pools: PoolManagerSettings,
        registry_url: Option<String>,
        configure: impl FnOnce(App) -> App,
    ) -> Self {
        Self::spawn_tuned(pools, registry_url, |_| {}, configure).await
    }

    /// Like [`TestApp::spawn_configured`], with the platform's settings changed by `tune`.
    pub async fn spawn_tuned(
        pools: PoolManagerSettings,
        registry_url: Option<String>,
        tune: impl FnOnce(&mut PlatformSettings),
        configure: impl FnOnce(App) -> App,
    ) -> Self {
        Self::spawn_cached(
            pools,
            registry_url,
            CacheSettings::default(),
            tune,
            configure,
        )
        .await
    }

    /// Like [`TestApp::spawn_tuned`], with the registry's tenant cache set to `cache`.
    pub async fn spawn_cached(
        pools: PoolManagerSettings,
        registry_url: Option<String>,
        cache: CacheSettings,
        tune: impl FnOnce(&mut PlatformSettings),
        configure: impl FnOnce(App) -> App,
    ) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("TENANTRY_LOG")
                    .unwrap_or_else(|_| "warn".into()),
            )
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::generate();
        let signer = TokenSigner::new(&key, Duration::from_secs(3600));
        let jwt_secret = key.derive("jwt-hs256");
        let url = registry_url
            .unwrap_or_else(|| format!("sqlite://{}/registry.db", dir.path().display()));
        let registry = Registry::open(&url, SecretBox::new(key.clone()), cache)
            .await
            .unwrap();
        registry
            .create_owner("owner@test.local", "Owner", PASSWORD)
            .await
            .unwrap();
        let mut settings = PlatformSettings {
            data_dir: dir.path().to_owned(),
            ..PlatformSettings::default()
        };
        tune(&mut settings);
        let platform = Platform::new(
            registry,
            PoolManager::new(pools),
            signer,
            Storage::new(dir.path().join("files"), FILE_LIMIT),
            settings,
        );
        let app = configure(App::new(
            platform,
            Some(tenantry::tenant::HostName::parse("example.com").unwrap()),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(startup::run(listener, app.clone(), async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            app,
            client: reqwest::Client::new(),
            dir,
            jwt_secret,
            master_key: key,
            _shutdown: tx,
        }
    }

    pub fn registry(&self) -> &Registry {
        self.app.registry()
    }

    pub fn platform(&self) -> &Platform {
        self.app.platform()
    }

    /// Registers a data server for `on` (idempotent per app).
    pub async fn server(&self, on: On) -> DataServer {
        let (name, engine, host, port, hosting) = match on {
            On::Sqlite => {
                let d = self.dir.path().join("sqlite-server");
                (
                    "sqlite".to_owned(),
                    Engine::Sqlite,
                    d.display().to_string(),
                    None,
                    Hosting::Ours,
                )
            }
            On::Pg(n) => {
                let s = shared_pg(n);
                let hosting = if n == 0 {
                    Hosting::Ours
                } else {
                    Hosting::Customer
                };
                (
                    format!("pg{n}"),
                    Engine::Postgres,
                    s.host().to_owned(),
                    Some(s.port()),
                    hosting,
                )
            }
            On::MariaDb => {
                let s = shared_mariadb();
                (
                    "mariadb".to_owned(),
                    Engine::Mysql,
                    s.host().to_owned(),
                    Some(s.port()),
                    Hosting::Ours,
                )
            }
            On::Mssql => return self.mssql_server("mssql", Hosting::Ours).await,
        };
        let name = ServerName::parse(&name).unwrap();
        if let Ok(s) = self.registry().server_by_name(&name).await {
            return s;
        }
        let admin = match engine {
            Engine::Postgres => Some("postgres".to_owned()),
            Engine::Mysql => Some("root".to_owned()),
            Engine::Sqlite | Engine::Mssql => None,
        };
        self.registry()
            .add_server(NewServer {
                name,
                engine,
                host,
                port,
                hosting,
                region: Some("test".into()),
                tls: TlsMode::Disable,
                admin_username: admin,
                admin_password: None,
            })
            .await
            .unwrap()
    }

    /// Registers the SQL Server fixture as server `name` (idempotent per app), with its sysadmin
    /// login and the TLS mode it needs.
    pub async fn mssql_server(&self, name: &str, hosting: Hosting) -> DataServer {
        let name = ServerName::parse(name).unwrap();
        if let Ok(s) = self.registry().server_by_name(&name).await {
            return s;
        }
        let s = shared_babelfish();
        self.registry()
            .add_server(NewServer {
                name,
                engine: Engine::Mssql,
                host: s.host().to_owned(),
                port: Some(s.port()),
                hosting,
                region: Some("test".into()),
                tls: mssql_tls(),
                admin_username: Some(s.admin_user().to_owned()),
                admin_password: Some(secret(s.admin_password())),
            })
            .await
            .unwrap()
    }

    pub fn new_tenant(code: &str, server: &DataServer) -> NewTenant {
        let code = TenantCode::parse(code).unwrap();
        NewTenant {
            subdomain: Some(Subdomain::parse(code.as_str()).unwrap()),
            code,
            name: "Test Tenant".into(),
            domains: Vec::new(),
            placement: Placement::Dedicated,
            server_id: server.id,
            database: Some(DatabaseName::parse(&unique_name("t")).unwrap()),
            schema: None,
            username: server.admin_username.clone(),
            // SQL Server logins have passwords (the other fixtures trust local connections).
            password: (server.engine == Engine::Mssql)
                .then(|| secret(shared_babelfish().admin_password())),
            status: TenantStatus::Provisioning,
            region: None,
            pool: PoolSettings {
                acquire_timeout_ms: 2_000,
                ..PoolSettings::default()
            },
            plan: "standard".into(),
            notes: None,
        }
    }

    /// A second handle on the app's registry (its SQLite file, or `url`): what another process (the
    /// CLI, another server) has. Its cache (whose watcher is off) and counters are its own.
    pub async fn other_registry(&self, url: Option<&str>) -> Registry {
        let url = url.map_or_else(
            || format!("sqlite://{}/registry.db", self.dir.path().display()),
            str::to_owned,
        );
        let cache = CacheSettings {
            poll: Duration::ZERO,
            ..Default::default()
        };
        Registry::open(&url, SecretBox::new(self.master_key.clone()), cache)
            .await
            .unwrap()
    }

    /// A second platform on the same registry, as another process would be: its own registry
    /// handle ([`TestApp::other_registry`]), pool manager, user status cache and signer.
    pub async fn other_platform(&self) -> Platform {
        let signer = TokenSigner::new(&self.master_key, Duration::from_secs(60));
        let registry = self.other_registry(None).await;
        let dir = self.dir.path().join("other-process");
        Platform::new(
            registry,
            PoolManager::new(Default::default()),
            signer,
            Storage::new(dir.join("files"), 1024),
            PlatformSettings {
                data_dir: dir,
                ..PlatformSettings::default()
            },
        )
    }

    /// Provisions a tenant on `on` with admin user `admin` / [`PASSWORD`].
    pub async fn tenant(&self, code: &str, on: On) -> Tenant {
        let server = self.server(on).await;
        self.provision(Self::new_tenant(code, &server)).await
    }

    /// Registers an active tenant whose (empty) database exists but was never migrated: its schema
    /// is "behind" the binary.
    pub async fn unmigrated_tenant(&self, code: &str, on: On) -> Tenant {
        let server = self.server(on).await;
        let mut new = Self::new_tenant(code, &server);
        new.status = TenantStatus::Active;
        let db = new.database.clone().unwrap();
        tenantry::provision::ServerAdmin {
            server: &server,
            password: self
                .registry()
                .server_admin_password(server.id)
                .await
                .unwrap(),
        }
        .create_database(&db)
        .await
        .unwrap();
        self.registry().create_tenant(new).await.unwrap()
    }

    pub async fn provision(&self, new: NewTenant) -> Tenant {
        let p = Provisioner::new(self.registry().clone(), self.app.pools().clone())
            .migrate_external(true);
        p.provision(new, PASSWORD).await.unwrap()
    }

    /// Lifts tenant `code`'s rate limit, for tests whose load is past any plan's on purpose
    /// (isolation and fault tests measure other things than the limiter).
    pub async fn lift_rate_limit(&self, code: &str) {
        let unlimited = tenantry::limits::RateLimit {
            requests_per_second: 1_000_000,
            burst: 1_000_000,
        };
        let change = tenantry::registry::TenantUpdate {
            rate_limit: Some(Some(unlimited)),
            ..Default::default()
        };
        let code = TenantCode::parse(code).unwrap();
        self.registry().update_tenant(&code, change).await.unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request; returns status and JSON body (`Null` when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut rq = self.client.request(method, self.url(path));
        if let Some(t) = token {
            rq = rq.bearer_auth(t);
        }
        if let Some(b) = body {
            rq = rq.json(&b);
        }
        for (k, v) in headers {
            rq = rq.header(*k, *v);
        }
        let resp = rq.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    /// A new tenant user (role `user`) of tenant `code`, made through the API by its `admin`, and
    /// signed in: the user's id and token.
    pub async fn user_token(&self, code: &str, admin: &str, username: &str) -> (i64, String) {
        let password = "user-pw-1234.X";
        let body = json!({"username": username, "fullName": "Test User", "role": "user",
                          "password": password});
        let (s, user) = self
            .call(Method::POST, "/api/users", Some(admin), Some(body))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{user}");
        let body = json!({"username": username, "password": password});
        let path = format!("/api/auth/login?company={code}");
        let (s, login) = self.call(Method::POST, &path, None, Some(body)).await;
        assert_eq!(s, StatusCode::OK, "{login}");
        let token = login["token"].as_str().unwrap().to_owned();
        (user["id"].as_i64().unwrap(), token)
    }

    /// Logs in as `admin` of tenant `code` and returns the token.
    pub async fn login(&self, code: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/api/auth/login?company={code}"),
                None,
                Some(json!({"username": "admin", "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login to {code} failed: {body}");
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn owner_token(&self) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/admin/login",
                None,
                Some(json!({"email": "owner@test.local", "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// Polls `GET /api/admin/jobs/{id}` until the job has finished; its report.
    pub async fn job_done(&self, owner: &str, id: &str) -> Value {
        let started = std::time::Instant::now();
        loop {
            let path = format!("/api/admin/jobs/{id}");
            let (s, job) = self.call(Method::GET, &path, Some(owner), None).await;
            assert_eq!(s, StatusCode::OK, "{job}");
            if job["status"] != "running" {
                return job;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "job never finished: {job}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `POST /api/admin/tenants` with `body`; when admitted (202), follows the job to its end.
    pub async fn create_tenant(&self, owner: &str, body: Value) -> Created {
        let (status, answer) = self
            .call(Method::POST, "/api/admin/tenants", Some(owner), Some(body))
            .await;
        self.follow(owner, status, answer).await
    }

    /// Follows the job of a 202 answer (provisioning or retry) to its end.
    pub async fn follow(&self, owner: &str, status: StatusCode, answer: Value) -> Created {
        if status != StatusCode::ACCEPTED {
            return Created {
                status,
                answer,
                job: Value::Null,
                tenant: Value::Null,
            };
        }
        let job = self
            .job_done(owner, answer["job"].as_str().expect("a job id"))
            .await;
        let path = format!(
            "/api/admin/tenants/{}",
            answer["tenant"]["id"].as_str().unwrap()
        );
        let (_, tenant) = self.call(Method::GET, &path, Some(owner), None).await;
        Created {
            status,
            answer,
            job,
            tenant,
        }
    }

    /// Creates a customer, a site and a ticket named after `tag` through the API.
    pub async fn seed(&self, token: &str, tag: &str) -> (i64, i64, i64) {
        let (s, c) = self
            .call(
                Method::POST,
                "/api/customers",
                Some(token),
                Some(json!({"name": format!("{tag} customer")})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let (s, site) = self
            .call(
                Method::POST,
                "/api/sites",
                Some(token),
                Some(json!({"customerId": c["id"], "name": format!("{tag} site")})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{site}");
        let (s, t) = self
            .call(
                Method::POST,
                "/api/tickets",
                Some(token),
                Some(json!({"siteId": site["id"], "title": format!("{tag} ticket")})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{t}");
        (
            c["id"].as_i64().unwrap(),
            site["id"].as_i64().unwrap(),
            t["id"].as_i64().unwrap(),
        )
    }
}

/// A provisioning request's answer, and (when it was admitted) its finished job and the tenant as
/// the job left it.
#[derive(Debug)]
pub struct Created {
    pub status: StatusCode,
    /// The 202 body (`tenant`, `job`, `adminPassword`), or the error.
    pub answer: Value,
    pub job: Value,
    pub tenant: Value,
}

impl Created {
    /// The generated admin password (shown once, in the 202 answer).
    pub fn admin_password(&self) -> &str {
        self.answer["adminPassword"]
            .as_str()
            .expect("a generated admin password")
    }
}

pub fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

/// The `tenantry` binary pointed at `data_dir`, ignoring any key or registry of the environment.
pub fn tenantry_cmd(data_dir: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_tenantry"));
    c.env("TENANTRY_DATA_DIR", data_dir)
        .env_remove("TENANTRY_MASTER_KEY")
        .env_remove("TENANTRY_REGISTRY_URL");
    c
}

/// Starts `tenantry serve` from `cmd` (a [`tenantry_cmd`] with its environment and stderr set) on
/// a free port: the process and the address it said it listens on.
pub fn serve(mut cmd: std::process::Command) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("tenantry listening on http://")
        .unwrap_or_else(|| panic!("serve said {line:?}"))
        .to_owned();
    (child, addr)
}

/// One call to a server at `addr` (a spawned `tenantry serve`): status and JSON body (`Null` when
/// empty).
pub async fn call_at(
    addr: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut rq = reqwest::Client::new().request(method, format!("http://{addr}{path}"));
    if let Some(t) = token {
        rq = rq.bearer_auth(t);
    }
    if let Some(b) = body {
        rq = rq.json(&b);
    }
    let resp = rq.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The `tenantry` binary on `data_dir` as CLI user `user` (the audit log's `cli:{user}`).
pub fn as_user(data_dir: &std::path::Path, user: &str) -> std::process::Command {
    let mut c = tenantry_cmd(data_dir);
    c.env("USER", user);
    c
}

/// A command's stdout and stderr, for assertion messages and searches.
pub fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A data directory holding the demo's registry and tenants (registry closed again), and its config.
pub async fn demo_data_dir() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    tenantry_server::config::Config,
) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = tenantry_server::config::Config {
        data_dir: data.clone(),
        ..Default::default()
    };
    let app = tenantry_server::demo::prepare(&config).await.unwrap();
    app.registry().close().await;
    (dir, data, config)
}

/// Creates a password-authenticated user on the shared MariaDB that owns database `db` (both
/// `'user'@'%'` and `'user'@'localhost'`, since 127.0.0.1 resolves to localhost there). The
/// database itself is left to provisioning (MariaDB grants on a database before it exists), which
/// never adopts a database it did not create.
pub fn mariadb_user_for_database(db: &str, user: &str, password: &str) {
    tenantry_testkit::shared_mariadb()
        .sql(&format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'; \
             CREATE USER '{user}'@'localhost' IDENTIFIED BY '{password}'; \
             GRANT ALL ON `{db}`.* TO '{user}'@'%'; GRANT ALL ON `{db}`.* TO '{user}'@'localhost';"
        ))
        .unwrap();
}

/// The registry TLS mode of the SQL Server fixture: Babelfish encrypts with a self-signed
/// certificate (`require`: encrypt, trust the certificate); a real server from
/// `$TENANTRY_TEST_MSSQL_URL` gets what its URL says.
pub fn mssql_tls() -> TlsMode {
    let s = shared_babelfish();
    match (s.encrypt(), s.trust_server_certificate()) {
        (false, _) => TlsMode::Disable,
        (true, true) => TlsMode::Require,
        (true, false) => TlsMode::Verify,
    }
}

pub fn server_name(s: &str) -> ServerName {
    ServerName::parse(s).unwrap()
}
