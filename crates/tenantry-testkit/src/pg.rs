//! Throwaway PostgreSQL servers.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::util::{self, HOST};

/// How many times a start is retried on a different port when the port was taken meanwhile.
const PORT_ATTEMPTS: usize = 5;

/// Directory holding the PostgreSQL server binaries: `$TENANTRY_PG_BIN` if set, else the
/// highest version under `/usr/lib/postgresql/*/bin`, else `None` (use `$PATH`).
fn pg_bin_dir() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("TENANTRY_PG_BIN") {
            return Some(PathBuf::from(dir));
        }
        let mut best: Option<(Vec<u64>, PathBuf)> = None;
        for entry in fs::read_dir("/usr/lib/postgresql").ok()?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(version) = name
                .split('.')
                .map(str::parse::<u64>)
                .collect::<Result<Vec<u64>, _>>()
            else {
                continue;
            };
            let bin = entry.path().join("bin");
            if !bin.join("initdb").is_file() {
                continue;
            }
            if best.as_ref().is_none_or(|(v, _)| version > *v) {
                best = Some((version, bin));
            }
        }
        best.map(|(_, bin)| bin)
    })
    .as_deref()
}

/// Shell snippet for the process watchdog: stop the server whose directory is `"$d"`.
pub(crate) fn watchdog_cleanup_snippet() -> String {
    format!(
        "{pg_ctl} -D \"$d/data\" -m immediate -w -t 30 stop >/dev/null 2>&1 || \
         {{ [ -f \"$d/data/postmaster.pid\" ] && \
         kill -KILL \"$(head -n 1 \"$d/data/postmaster.pid\")\" 2>/dev/null; }}",
        pg_ctl = as_postgres_shell("pg_ctl"),
    )
}

/// Path of a PostgreSQL tool (`initdb`, `pg_ctl`, `psql`, …).
fn pg_tool(name: &str) -> PathBuf {
    match pg_bin_dir() {
        Some(dir) => dir.join(name),
        None => PathBuf::from(name),
    }
}

/// The command prefix running a server-side tool as user `postgres` when we are root.
fn as_postgres(tool: &str) -> Command {
    if util::is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(pg_tool(tool));
        cmd
    } else {
        Command::new(pg_tool(tool))
    }
}

/// Same as [`as_postgres`] but as a shell snippet (for the watchdog script).
fn as_postgres_shell(tool: &str) -> String {
    let tool = util::shell_quote_path(&pg_tool(tool));
    if util::is_root() {
        format!("runuser -u postgres -- {tool}")
    } else {
        tool
    }
}

/// A throwaway PostgreSQL server (superuser `postgres`, trust authentication) listening on
/// 127.0.0.1 on a free port, with its data in a temporary directory.
///
/// Dropping it stops the server and removes the directory.
#[derive(Debug)]
pub struct PgServer {
    base: PathBuf,
    data: PathBuf,
    port: u16,
    stopped: bool,
}

impl PgServer {
    /// Starts a new throwaway server; blocks until it accepts connections.
    pub fn start() -> io::Result<PgServer> {
        let base = util::make_temp_dir("pg")?;
        let mut server = PgServer {
            data: base.join("data"),
            base,
            port: 0,
            stopped: false,
        };
        // From here on, `server` being dropped (on error) stops whatever was started and
        // removes the dir; the process watchdog covers the test process dying mid-start.
        server.init()?;
        server.launch()?;
        Ok(server)
    }

    fn initdb_log(&self) -> PathBuf {
        self.base.join("initdb.log")
    }

    /// The server's log file (inside its temporary directory).
    pub fn log_path(&self) -> PathBuf {
        self.base.join("server.log")
    }

    fn pg_ctl_log(&self) -> PathBuf {
        self.base.join("pg_ctl.log")
    }

    fn logs(&self) -> String {
        util::log_tails(&[&self.initdb_log(), &self.pg_ctl_log(), &self.log_path()])
    }

    fn init(&mut self) -> io::Result<()> {
        if util::is_root() {
            util::chown_recursive("postgres", &self.base)?;
        }
        let log = util::open_log(&self.initdb_log())?;
        let status = as_postgres("initdb")
            .arg("-D")
            .arg(&self.data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ])
            .current_dir(&self.base)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run initdb: {e}")))?;
        if !status.success() {
            return Err(io::Error::other(format!(
                "initdb failed ({status}) in {}{}",
                self.base.display(),
                self.logs()
            )));
        }
        Ok(())
    }

    fn launch(&mut self) -> io::Result<()> {
        self.launch_on(None)
    }

    /// Starts the postmaster on `port`, or on a free port (retrying when it was taken meanwhile).
    fn launch_on(&mut self, port: Option<u16>) -> io::Result<()> {
        let attempts = if port.is_some() { 1 } else { PORT_ATTEMPTS };
        for attempt in 1..=attempts {
            self.port = match port {
                Some(p) => p,
                None => util::free_port()?,
            };
            let log_offset = util::file_len(&self.log_path());
            let options = format!(
                "-p {port} -k {sock} -c listen_addresses={HOST} -c fsync=off \
                 -c full_page_writes=off -c synchronous_commit=off -c max_connections=300",
                port = self.port,
                sock = util::shell_quote_path(&self.base),
            );
            let pg_ctl_log = util::open_log(&self.pg_ctl_log())?;
            let status = as_postgres("pg_ctl")
                .arg("-D")
                .arg(&self.data)
                .arg("-l")
                .arg(self.log_path())
                .arg("-o")
                .arg(options)
                .args(["-w", "-t", "60", "start"])
                .current_dir(&self.base)
                .stdin(Stdio::null())
                .stdout(pg_ctl_log.try_clone()?)
                .stderr(pg_ctl_log)
                .status()
                .map_err(|e| io::Error::new(e.kind(), format!("cannot run pg_ctl: {e}")))?;
            if status.success() {
                if util::port_is_open(self.port) {
                    return Ok(());
                }
                return Err(io::Error::other(format!(
                    "pg_ctl reported success but nothing listens on {HOST}:{}{}",
                    self.port,
                    self.logs()
                )));
            }
            let new_log = util::read_from(&self.log_path(), log_offset);
            let port_taken = new_log.contains("could not bind")
                || new_log.contains("Address already in use")
                || new_log.contains("could not create any TCP/IP sockets");
            if !port_taken || attempt == attempts {
                // Make sure a slow-starting postmaster does not linger.
                self.pg_ctl_stop();
                return Err(io::Error::other(format!(
                    "PostgreSQL failed to start on port {} ({status}) in {}{}",
                    self.port,
                    self.base.display(),
                    self.logs()
                )));
            }
        }
        unreachable!("loop returns on the last attempt")
    }

    /// The postmaster's pid, from `postmaster.pid` (`None` when the server is not running).
    pub fn pid(&self) -> Option<u32> {
        self.postmaster_pid()
    }

    /// Freezes the server (SIGSTOP to the postmaster and every backend): the kernel still accepts
    /// TCP connections, but nothing answers, as with a hung machine. [`PgServer::resume`] undoes it.
    pub fn pause(&self) {
        self.signal_all("STOP");
    }

    /// Lets a [paused](PgServer::pause) server run again (SIGCONT).
    pub fn resume(&self) {
        self.signal_all("CONT");
    }

    /// Kills the server without warning (SIGKILL to the postmaster and every backend), as with a
    /// crashed machine; the data directory stays, for [`PgServer::restart`].
    pub fn kill(&self) {
        let pids = self.server_pids();
        for pid in &pids {
            util::kill("KILL", *pid);
        }
        for pid in pids {
            for _ in 0..100 {
                if !util::process_running(pid) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Starts the server again on its data directory and port (after [`PgServer::kill`]); blocks
    /// until it accepts connections (crash recovery included).
    pub fn restart(&mut self) -> io::Result<()> {
        // A killed postmaster can linger as a zombie until its parent (init) reaps it, and
        // PostgreSQL refuses to start while the pid in its lock files (the data directory's
        // and the socket's) exists at all. The process is dead (not running): they are stale.
        if let Some(pid) = self.postmaster_pid() {
            if !util::process_running(pid) {
                let socket_lock = format!(".s.PGSQL.{}.lock", self.port);
                let _ = fs::remove_file(self.data.join("postmaster.pid"));
                let _ = fs::remove_file(self.base.join(socket_lock));
            }
        }
        self.launch_on(Some(self.port))
    }

    /// The postmaster and its children (backends and auxiliary processes).
    fn server_pids(&self) -> Vec<u32> {
        let Some(postmaster) = self.postmaster_pid() else {
            return Vec::new();
        };
        let mut pids = vec![postmaster];
        pids.extend(util::children_of(postmaster));
        pids
    }

    fn signal_all(&self, signal: &str) {
        for pid in self.server_pids() {
            util::kill(signal, pid);
        }
    }

    /// The postmaster's pid, from `postmaster.pid`.
    fn postmaster_pid(&self) -> Option<u32> {
        let text = fs::read_to_string(self.data.join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// `pg_ctl stop -m immediate`, falling back to SIGKILL of the postmaster.
    fn pg_ctl_stop(&self) {
        let pid = self.postmaster_pid();
        let ok = as_postgres("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "-t", "30", "stop"])
            .current_dir(&self.base)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            if let Some(pid) = pid {
                if util::process_alive(pid) {
                    util::kill("KILL", pid);
                    for _ in 0..100 {
                        if !util::process_alive(pid) {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
        }
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

    /// `postgres://postgres@127.0.0.1:PORT/postgres`
    pub fn admin_url(&self) -> String {
        self.url("postgres")
    }

    /// `postgres://postgres@127.0.0.1:PORT/{db}`
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@{HOST}:{}/{db}", self.port)
    }

    /// Runs SQL through `psql` as the superuser (for test setup) and returns its stdout.
    ///
    /// The SQL is fed on stdin (so statements such as `CREATE DATABASE` may be combined with
    /// others), with `ON_ERROR_STOP=1`; output is unaligned and tuples-only (`psql -XqAt`),
    /// i.e. one row per line, columns separated by `|`. Returns an error containing stderr if
    /// psql exits non-zero.
    pub fn psql(&self, db: &str, sql: &str) -> io::Result<String> {
        let mut cmd = Command::new(pg_tool("psql"));
        cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", HOST, "-p", &self.port.to_string(), "-U", "postgres"])
            .args(["-d", db, "-f", "-"])
            .env("PGCONNECT_TIMEOUT", "10")
            .env_remove("PGOPTIONS")
            .env_remove("PGSERVICE")
            .env_remove("PGSSLMODE")
            .env_remove("PGPASSWORD");
        util::run_with_input(cmd, sql, &format!("psql on port {} db {db}", self.port))
    }

    /// Stops the server (`pg_ctl stop -m immediate`) and removes its directory. Idempotent.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if self.data.join("postmaster.pid").exists() {
            // A paused server must run to be stopped.
            self.resume();
            self.pg_ctl_stop();
        }
        util::remove_dir(&self.base);
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}
