//! Throwaway SQL Server-compatible servers: Babelfish for PostgreSQL (TDS + T-SQL), started with
//! the `babelfish.sh` script that ships beside its binaries, or a real SQL Server named by
//! `$TENANTRY_TEST_MSSQL_URL`.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::babelfish_setup::{pg_ctl_shell, prefix, run_as, script};
use crate::tsql;
use crate::util::{self, HOST};

/// How many times a start is retried on other ports when a port was taken meanwhile.
const PORT_ATTEMPTS: usize = 3;
/// The T-SQL sysadmin `babelfish.sh` creates.
const BBF_USER: &str = "babelfish_user";
const BBF_PASSWORD: &str = "12345678";

#[derive(Debug)]
enum Kind {
    /// A Babelfish we started; its data lives in `base/data`.
    Local {
        base: PathBuf,
        pg_port: u16,
        stopped: bool,
    },
    /// A server from `$TENANTRY_TEST_MSSQL_URL`; never started or stopped by us.
    External,
}

/// A SQL Server-compatible server for tests: a throwaway Babelfish listening on 127.0.0.1 (TDS
/// on [`port`](Self::port), TLS with a self-signed certificate), or the SQL Server named by
/// `$TENANTRY_TEST_MSSQL_URL` (see [`crate::shared_babelfish`]).
///
/// Dropping a local one stops it and removes its directory.
#[derive(Debug)]
pub struct BabelfishServer {
    kind: Kind,
    host: String,
    port: u16,
    user: String,
    password: String,
    encrypt: bool,
    trust_server_certificate: bool,
}

impl BabelfishServer {
    /// Starts a new throwaway Babelfish on free ports; blocks until the sysadmin can log in over
    /// TDS. The first start on a machine unpacks the server (root: into `/opt/babelfish`).
    pub fn start() -> io::Result<BabelfishServer> {
        let script = script()?;
        let base = util::make_temp_dir("babelfish")?;
        let mut server = BabelfishServer {
            kind: Kind::Local {
                base,
                pg_port: 0,
                stopped: false,
            },
            host: HOST.to_owned(),
            port: 0,
            user: BBF_USER.to_owned(),
            password: BBF_PASSWORD.to_owned(),
            encrypt: true,
            trust_server_certificate: true,
        };
        // From here on, `server` being dropped (on error) stops whatever was started and removes
        // the dir; the process watchdog covers the test process dying mid-start.
        server.launch(&script)?;
        Ok(server)
    }

    /// The server named by `url` (`mssql://user:password@host:port?encrypt=…&trust_server_certificate=…`;
    /// `encrypt` defaults to true and `trust_server_certificate` to false, as in SQL Server).
    pub fn external(url: &str) -> io::Result<BabelfishServer> {
        let bad = |why: &str| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("TENANTRY_TEST_MSSQL_URL: {why}"),
            )
        };
        let u = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if !matches!(u.scheme(), "mssql" | "sqlserver") {
            return Err(bad("the scheme must be mssql://"));
        }
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let flag = |name: &str, default: bool| {
            u.query_pairs()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "1"))
                .unwrap_or(default)
        };
        Ok(BabelfishServer {
            kind: Kind::External,
            host: u.host_str().ok_or_else(|| bad("no host"))?.to_owned(),
            port: u.port().unwrap_or(1433),
            user: decode(u.username()),
            password: decode(u.password().unwrap_or_default()),
            encrypt: flag("encrypt", true),
            trust_server_certificate: flag("trust_server_certificate", false),
        })
    }

    fn launch(&mut self, script: &Path) -> io::Result<()> {
        for attempt in 1..=PORT_ATTEMPTS {
            let (pg_port, tds_port) = (util::free_port()?, util::free_port()?);
            if pg_port == tds_port {
                continue;
            }
            self.port = tds_port;
            if let Kind::Local { pg_port: p, .. } = &mut self.kind {
                *p = pg_port;
            }
            let started = self.run_script(script, pg_port, tds_port, attempt > 1);
            let ready = started.and_then(|()| self.wait_ready());
            match ready {
                Ok(()) => return Ok(()),
                Err(e) => {
                    self.pg_ctl_stop();
                    let log = util::read_from(&self.data_dir().join("server.log"), 0);
                    let port_taken =
                        log.contains("could not bind") || log.contains("Address already in use");
                    if !port_taken || attempt == PORT_ATTEMPTS {
                        return Err(io::Error::new(
                            e.kind(),
                            format!(
                                "Babelfish failed to start (PG {pg_port}, TDS {tds_port}): {e}{}",
                                self.logs()
                            ),
                        ));
                    }
                }
            }
        }
        Err(io::Error::other("Babelfish: no two distinct free ports"))
    }

    fn run_script(
        &self,
        script: &Path,
        pg_port: u16,
        tds_port: u16,
        reset: bool,
    ) -> io::Result<()> {
        // Two first starts must not unpack into the same prefix at once.
        static UNPACK: Mutex<()> = Mutex::new(());
        let _guard = if prefix().join("bin/postgres").is_file() {
            None
        } else {
            Some(UNPACK.lock().unwrap_or_else(|e| e.into_inner()))
        };
        let log = util::open_log(&self.start_log())?;
        let status = Command::new("bash")
            .arg(script)
            .arg(pg_port.to_string())
            .arg(tds_port.to_string())
            .arg(self.data_dir())
            .env("PREFIX", prefix())
            .env("RUNAS", run_as())
            .env("RESET", if reset { "1" } else { "0" })
            .current_dir(self.base_dir().unwrap_or(Path::new("/")))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run babelfish.sh: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!("babelfish.sh failed ({status})")))
        }
    }

    /// The script reports success after waiting a while for the TDS port whether or not it
    /// opened; a T-SQL login proves the server is ours and ready.
    fn wait_ready(&self) -> io::Result<()> {
        let mut last = io::Error::other("TDS port never opened");
        for _ in 0..100 {
            if util::port_is_open(self.port) {
                match self.tsql("master", "SELECT 1") {
                    Ok(_) => return Ok(()),
                    Err(e) => last = e,
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(last)
    }

    fn start_log(&self) -> PathBuf {
        self.base_dir()
            .unwrap_or(Path::new("/tmp"))
            .join("start.log")
    }

    fn data_dir(&self) -> PathBuf {
        self.base_dir()
            .unwrap_or(Path::new("/nonexistent"))
            .join("data")
    }

    fn logs(&self) -> String {
        util::log_tails(&[&self.start_log(), &self.data_dir().join("server.log")])
    }

    /// `pg_ctl stop -m immediate`, falling back to SIGKILL of the postmaster.
    fn pg_ctl_stop(&self) {
        let pid_file = self.data_dir().join("postmaster.pid");
        let Ok(text) = std::fs::read_to_string(&pid_file) else {
            return;
        };
        let snippet = format!(
            "{} -D {} -m immediate -w -t 30 stop",
            pg_ctl_shell(),
            util::shell_quote_path(&self.data_dir())
        );
        let ok = Command::new("sh")
            .args(["-c", &snippet])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let pid = text
            .lines()
            .next()
            .and_then(|l| l.trim().parse::<u32>().ok());
        if let (false, Some(pid)) = (ok, pid) {
            util::kill("KILL", pid);
            for _ in 0..100 {
                if !util::process_alive(pid) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// `127.0.0.1` for a local Babelfish, else the URL's host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TDS (SQL Server protocol) port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The sysadmin login (`babelfish_user` locally).
    pub fn admin_user(&self) -> &str {
        &self.user
    }

    /// The sysadmin's password (`12345678` locally).
    pub fn admin_password(&self) -> &str {
        &self.password
    }

    /// Whether clients should encrypt (a local Babelfish: yes, with a self-signed certificate).
    pub fn encrypt(&self) -> bool {
        self.encrypt
    }

    /// Whether clients must accept an unverifiable certificate (a local Babelfish: yes).
    pub fn trust_server_certificate(&self) -> bool {
        self.trust_server_certificate
    }

    /// True for the server of `$TENANTRY_TEST_MSSQL_URL`.
    pub fn is_external(&self) -> bool {
        matches!(self.kind, Kind::External)
    }

    /// The temporary directory of a local server (data, logs); `None` for an external one.
    pub fn base_dir(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Local { base, .. } => Some(base),
            Kind::External => None,
        }
    }

    /// The PostgreSQL port of a local Babelfish (`None` for an external server).
    pub fn pg_port(&self) -> Option<u16> {
        match self.kind {
            Kind::Local { pg_port, .. } => Some(pg_port),
            Kind::External => None,
        }
    }

    /// Runs T-SQL as the sysadmin in database `db` and returns the rows of every result: one
    /// line per row, columns separated by `|`, `NULL` as an empty field. Batches are separated
    /// by lines reading `GO`. An error carries the server's message and error number.
    pub fn tsql(&self, db: &str, sql: &str) -> io::Result<String> {
        tsql::run(
            &tsql::Login {
                host: &self.host,
                port: self.port,
                database: db,
                user: &self.user,
                password: &self.password,
                encrypt: self.encrypt,
                trust_server_certificate: self.trust_server_certificate,
            },
            sql,
        )
    }

    /// Stops a local server (`pg_ctl stop -m immediate`) and removes its directory; nothing for
    /// an external one. Idempotent.
    pub fn stop(&mut self) {
        let Kind::Local { stopped, .. } = &mut self.kind else {
            return;
        };
        if *stopped {
            return;
        }
        *stopped = true;
        self.pg_ctl_stop();
        if let Some(base) = self.base_dir() {
            util::remove_dir(base);
        }
    }
}

impl Drop for BabelfishServer {
    fn drop(&mut self) {
        self.stop();
    }
}
