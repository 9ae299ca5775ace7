//! Throwaway MariaDB servers.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::util::{self, HOST};

/// How many times a start is retried on a different port when the port was taken meanwhile.
const PORT_ATTEMPTS: usize = 5;
/// How long to wait for a freshly started server to accept logins.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `stop` waits after SIGTERM before sending SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

const SBIN_DIRS: &[&str] = &["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"];

struct Tools {
    install_db: PathBuf,
    server: PathBuf,
    client: PathBuf,
}

fn tools() -> io::Result<&'static Tools> {
    static TOOLS: OnceLock<Option<Tools>> = OnceLock::new();
    TOOLS
        .get_or_init(|| {
            Some(Tools {
                install_db: util::find_executable(
                    &["mariadb-install-db", "mysql_install_db"],
                    SBIN_DIRS,
                )?,
                server: util::find_executable(&["mariadbd", "mysqld"], SBIN_DIRS)?,
                client: util::find_executable(&["mariadb", "mysql"], SBIN_DIRS)?,
            })
        })
        .as_ref()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "MariaDB binaries not found (need mariadb-install-db, mariadbd and mariadb \
                 in $PATH or /usr/sbin, /usr/bin)",
            )
        })
}

/// Options shared by `mariadb-install-db` (passed through to the bootstrap server) and
/// `mariadbd`: keep the server small and fast, and use utf8mb4 like distribution configs do.
const LIGHT_OPTIONS: &[&str] = &[
    "--innodb-buffer-pool-size=64M",
    "--innodb-log-file-size=16M",
    "--innodb-log-buffer-size=4M",
    // Native AIO contexts are a system-wide limited resource (fs.aio-max-nr); many parallel
    // servers could exhaust it.
    "--innodb-use-native-aio=0",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_general_ci",
];

/// File (in the server's directory) holding the pid of the `mariadbd` we spawned.
const CHILD_PID_FILE: &str = "testkit-child.pid";

/// Shell snippet for the process watchdog: stop the server whose directory is `"$d"`.
///
/// mariadbd removes its own pid file (`$d/pid`) on shutdown, which also ends the wait if the
/// exited server is left as an unreaped zombie.
pub(crate) fn watchdog_cleanup_snippet() -> String {
    format!(
        "spid=$(cat \"$d/{CHILD_PID_FILE}\" 2>/dev/null)\n\
         if [ -n \"$spid\" ]; then\n\
         kill -TERM \"$spid\" 2>/dev/null\n\
         i=0\n\
         while [ -f \"$d/pid\" ] && kill -0 \"$spid\" 2>/dev/null && [ $i -lt 60 ]; do \
         sleep 0.5; i=$((i+1)); done\n\
         [ -f \"$d/pid\" ] && kill -KILL \"$spid\" 2>/dev/null\n\
         fi"
    )
}

/// A throwaway MariaDB server listening on 127.0.0.1 on a free port, with its data in a
/// temporary directory. User `root` has no password and may log in over TCP from 127.0.0.1.
///
/// Dropping it stops the server and removes the directory.
#[derive(Debug)]
pub struct MariaDbServer {
    base: PathBuf,
    data: PathBuf,
    port: u16,
    child: Option<Child>,
    stopped: bool,
}

impl MariaDbServer {
    /// Starts a new throwaway server; blocks until root can log in over TCP.
    pub fn start() -> io::Result<MariaDbServer> {
        let tools = tools()?;
        let base = util::make_temp_dir("mariadb")?;
        let mut server = MariaDbServer {
            data: base.join("data"),
            base,
            port: 0,
            child: None,
            stopped: false,
        };
        // From here on, `server` being dropped (on error) kills whatever was started and
        // removes the dir; the process watchdog covers the test process dying mid-start.
        server.install(tools)?;
        server.launch(tools)?;
        Ok(server)
    }

    fn install_log(&self) -> PathBuf {
        self.base.join("install.log")
    }

    /// The server's log file (stdout/stderr of `mariadbd`, inside its temporary directory).
    pub fn log_path(&self) -> PathBuf {
        self.base.join("server.log")
    }

    fn socket(&self) -> PathBuf {
        self.base.join("sock")
    }

    fn pid_file(&self) -> PathBuf {
        self.base.join("pid")
    }

    /// Private tmpdir: sharing /tmp between concurrently bootstrapping servers made
    /// `mariadb-install-db` fail now and then ("Could not remove temporary table").
    fn tmp_dir(&self) -> PathBuf {
        self.base.join("tmp")
    }

    fn logs(&self) -> String {
        util::log_tails(&[&self.install_log(), &self.log_path()])
    }

    fn install(&mut self, tools: &Tools) -> io::Result<()> {
        std::fs::create_dir(self.tmp_dir())?;
        if util::is_root() {
            util::chown_recursive("mysql", &self.base)?;
        }
        let log = util::open_log(&self.install_log())?;
        let mut cmd = Command::new(&tools.install_db);
        cmd.arg("--no-defaults");
        if util::is_root() {
            cmd.arg("--user=mysql");
        }
        let status = cmd
            .arg(format!("--datadir={}", self.data.display()))
            .arg(format!("--tmpdir={}", self.tmp_dir().display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .args(LIGHT_OPTIONS)
            .current_dir(&self.base)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run mariadb-install-db: {e}")))?;
        if !status.success() {
            return Err(io::Error::other(format!(
                "mariadb-install-db failed ({status}) in {}{}",
                self.base.display(),
                self.logs()
            )));
        }
        Ok(())
    }

    fn launch(&mut self, tools: &Tools) -> io::Result<()> {
        for attempt in 1..=PORT_ATTEMPTS {
            self.port = util::free_port()?;
            let log_offset = util::file_len(&self.log_path());
            let log = util::open_log(&self.log_path())?;
            let mut cmd = Command::new(&tools.server);
            cmd.arg("--no-defaults");
            if util::is_root() {
                cmd.arg("--user=mysql");
            }
            cmd.arg(format!("--datadir={}", self.data.display()))
                .arg(format!("--tmpdir={}", self.tmp_dir().display()))
                .arg(format!("--port={}", self.port))
                .arg(format!("--bind-address={HOST}"))
                .arg(format!("--socket={}", self.socket().display()))
                .arg(format!("--pid-file={}", self.pid_file().display()))
                .args([
                    "--skip-log-bin",
                    "--max-connections=300",
                    "--innodb-flush-log-at-trx-commit=0",
                ])
                .args(LIGHT_OPTIONS)
                .current_dir(&self.base)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log);
            let child = cmd
                .spawn()
                .map_err(|e| io::Error::new(e.kind(), format!("cannot run mariadbd: {e}")))?;
            let pid = child.id();
            self.child = Some(child);
            std::fs::write(self.child_pid_file(), format!("{pid}\n"))?;
            match self.wait_ready(tools) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let exited_early = self.kill_child();
                    let new_log = util::read_from(&self.log_path(), log_offset);
                    let port_taken = new_log.contains("Address already in use")
                        || new_log.contains("Bind on TCP/IP port");
                    if !(exited_early && port_taken) || attempt == PORT_ATTEMPTS {
                        return Err(io::Error::new(
                            e.kind(),
                            format!(
                                "MariaDB failed to start on port {} in {}: {e}{}",
                                self.port,
                                self.base.display(),
                                self.logs()
                            ),
                        ));
                    }
                }
            }
        }
        unreachable!("loop returns on the last attempt")
    }

    /// Polls until the server accepts TCP connections and root can run `select 1` over TCP.
    /// If root can log in over the socket but not over TCP, grants `root@127.0.0.1`.
    fn wait_ready(&mut self, tools: &Tools) -> io::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut granted = false;
        let mut last_err = String::from("server did not open its port");
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    return Err(io::Error::other(format!(
                        "mariadbd exited early ({status})"
                    )));
                }
            }
            if util::port_is_open(self.port) {
                match self.client_tcp(tools, "select 1") {
                    Ok(_) => return Ok(()),
                    Err(e) => {
                        let msg = e.to_string();
                        let denied = msg.contains("Access denied")
                            || msg.contains("is not allowed to connect");
                        if denied && !granted {
                            granted = true;
                            self.grant_root_over_tcp(tools)?;
                            continue;
                        }
                        last_err = msg;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("not ready after {READY_TIMEOUT:?}: {last_err}"),
        ))
    }

    fn grant_root_over_tcp(&self, tools: &Tools) -> io::Result<String> {
        let sql = format!(
            "CREATE USER IF NOT EXISTS 'root'@'{HOST}' IDENTIFIED BY '';\n\
             GRANT ALL PRIVILEGES ON *.* TO 'root'@'{HOST}' WITH GRANT OPTION;\n\
             FLUSH PRIVILEGES;\n"
        );
        let mut cmd = Command::new(&tools.client);
        cmd.arg("--no-defaults")
            .arg(format!("--socket={}", self.socket().display()))
            .args(["--protocol=SOCKET", "-uroot", "--batch"]);
        util::run_with_input(cmd, &sql, "mariadb (socket) granting root@127.0.0.1")
    }

    fn client_tcp(&self, tools: &Tools, sql: &str) -> io::Result<String> {
        self.client_tcp_db(tools, None, sql)
    }

    fn client_tcp_db(&self, tools: &Tools, db: Option<&str>, sql: &str) -> io::Result<String> {
        let mut cmd = Command::new(&tools.client);
        cmd.arg("--no-defaults")
            .args(["--protocol=TCP", "-h", HOST, "-P", &self.port.to_string()])
            .args([
                "-uroot",
                "--batch",
                "--skip-column-names",
                "--connect-timeout=10",
            ]);
        if let Some(db) = db {
            cmd.arg(format!("--database={db}"));
        }
        util::run_with_input(cmd, sql, &format!("mariadb on port {}", self.port))
    }

    /// SIGTERM the server, wait (SIGKILL after a timeout). Returns true if it had already
    /// exited on its own before we signalled it.
    fn kill_child(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        util::kill("TERM", child.id());
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => return false,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return false;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// File in which we record the pid of the `mariadbd` we spawned (for the watchdog).
    fn child_pid_file(&self) -> PathBuf {
        self.base.join(CHILD_PID_FILE)
    }

    /// Always `"127.0.0.1"`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's temporary directory (data dir, socket and logs live inside).
    pub fn base_dir(&self) -> &Path {
        &self.base
    }

    /// `mysql://root@127.0.0.1:PORT/`
    pub fn admin_url(&self) -> String {
        format!("mysql://root@{HOST}:{}/", self.port)
    }

    /// `mysql://root@127.0.0.1:PORT/{db}`
    pub fn url(&self, db: &str) -> String {
        format!("mysql://root@{HOST}:{}/{db}", self.port)
    }

    /// Runs SQL through the `mariadb` client as root over TCP and returns its stdout.
    ///
    /// The SQL is fed on stdin (several statements are fine); output is batch mode without
    /// column names (`--batch --skip-column-names`): one row per line, tab-separated.
    /// Returns an error containing stderr if the client exits non-zero.
    pub fn sql(&self, sql: &str) -> io::Result<String> {
        self.client_tcp(tools()?, sql)
    }

    /// Like [`sql`](Self::sql) but with `db` as the default database.
    pub fn sql_in(&self, db: &str, sql: &str) -> io::Result<String> {
        self.client_tcp_db(tools()?, Some(db), sql)
    }

    /// Stops the server (SIGTERM via `kill`, then waits; SIGKILL after 30 s) and removes its
    /// directory. Idempotent.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        self.kill_child();
        util::remove_dir(&self.base);
    }
}

impl Drop for MariaDbServer {
    fn drop(&mut self) {
        self.stop();
    }
}
