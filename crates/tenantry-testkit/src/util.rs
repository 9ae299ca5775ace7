//! Small process/filesystem helpers shared by the server implementations.

use std::collections::hash_map::RandomState;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The loopback address every throwaway server listens on.
pub(crate) const HOST: &str = "127.0.0.1";

/// Ports of the machine's own database servers; never hand these out.
const RESERVED_PORTS: [u16; 2] = [5432, 3306];

/// Number of lines of a log included in error messages.
pub(crate) const LOG_TAIL_LINES: usize = 40;

/// Whether the current process runs with effective uid 0.
pub(crate) fn is_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        if let Ok(status) = fs::read_to_string("/proc/self/status") {
            for line in status.lines() {
                if let Some(rest) = line.strip_prefix("Uid:") {
                    // Fields: real, effective, saved, filesystem.
                    let mut ids = rest.split_whitespace();
                    let _real = ids.next();
                    if let Some(effective) = ids.next() {
                        return effective == "0";
                    }
                }
            }
        }
        Command::new("id")
            .arg("-u")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false)
    })
}

/// Nanoseconds since the epoch (truncated); only used for uniqueness.
pub(crate) fn nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// A random-ish 64-bit value (std's hasher keys are randomly seeded).
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(nanos());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    h.finish()
}

/// The directory holding all temporary server directories (`std::env::temp_dir()` at first
/// use; fixed afterwards so the watchdog looks in the right place).
pub(crate) fn temp_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(std::env::temp_dir)
}

/// Name prefix of this process's temporary directories of `kind` (`pg`, `mariadb`).
pub(crate) fn dir_prefix(kind: &str) -> String {
    format!("tenantry-test-{kind}-{}-", std::process::id())
}

/// Creates a fresh, empty directory `<tmp>/tenantry-test-<kind>-<pid>-<n>-<nanos>`.
///
/// The process watchdog is started first, so no directory can outlive the process.
pub(crate) fn make_temp_dir(kind: &str) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    crate::watchdog::ensure_started()?;
    let tmp = temp_root();
    let prefix = dir_prefix(kind);
    let mut last_err = None;
    for _ in 0..100 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = tmp.join(format!("{prefix}{n}-{}", nanos()));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot create temp dir {}: {e}", dir.display()),
                ))
            }
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("cannot create a unique temp dir")))
}

/// A port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, drop the socket).
pub(crate) fn free_port() -> io::Result<u16> {
    for _ in 0..50 {
        let listener = TcpListener::bind((HOST, 0))?;
        let port = listener.local_addr()?.port();
        drop(listener);
        if !RESERVED_PORTS.contains(&port) {
            return Ok(port);
        }
    }
    Err(io::Error::other("could not find a free TCP port"))
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub(crate) fn port_is_open(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// Opens (creating if needed) a log file in append mode.
pub(crate) fn open_log(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Current length of a file (0 if it does not exist).
pub(crate) fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Contents of `path` from byte `offset` on (lossy UTF-8; empty if unreadable).
pub(crate) fn read_from(path: &Path, offset: u64) -> String {
    let mut buf = Vec::new();
    if let Ok(mut f) = File::open(path) {
        if f.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = f.read_to_end(&mut buf);
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// The last `n` lines of a file, or a note that it could not be read.
pub(crate) fn tail_file(path: &Path, n: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(n);
            lines[start..].join("\n")
        }
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}

/// Formats the tails of several logs for an error message (missing/empty logs are skipped).
pub(crate) fn log_tails(paths: &[&Path]) -> String {
    let mut out = String::new();
    for path in paths {
        if file_len(path) == 0 {
            continue;
        }
        out.push_str(&format!(
            "\n--- last {LOG_TAIL_LINES} lines of {} ---\n{}",
            path.display(),
            tail_file(path, LOG_TAIL_LINES)
        ));
    }
    if out.is_empty() {
        out.push_str("\n(no log output)");
    }
    out
}

/// `chown -R user:user path`.
pub(crate) fn chown_recursive(user: &str, path: &Path) -> io::Result<()> {
    let status = Command::new("chown")
        .arg("-R")
        .arg(format!("{user}:{user}"))
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run chown: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "chown -R {user}:{user} {} failed ({status})",
            path.display()
        )))
    }
}

/// Sends `signal` (e.g. "TERM", "KILL") to `pid` with the `kill` command; true on success.
pub(crate) fn kill(signal: &str, pid: u32) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The pids of the direct children of `parent` (from `/proc/*/stat`).
pub(crate) fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
            fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    let rest = &stat[stat.rfind(')')? + 1..];
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

/// Whether process `pid` exists and is not a zombie waiting to be reaped.
pub(crate) fn process_running(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let rest = &stat[stat.rfind(')')? + 1..];
            rest.split_whitespace().next().map(|state| state != "Z")
        })
        .unwrap_or(false)
}

/// Whether process `pid` exists (`kill -0`).
pub(crate) fn process_alive(pid: u32) -> bool {
    kill("0", pid)
}

/// Removes a directory tree, retrying briefly (a dying server may still create files).
pub(crate) fn remove_dir(path: &Path) {
    for _ in 0..20 {
        match fs::remove_dir_all(path) {
            Ok(()) => return,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Quotes `s` for a POSIX shell.
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Quotes a path for a POSIX shell.
pub(crate) fn shell_quote_path(p: &Path) -> String {
    shell_quote(&p.to_string_lossy())
}

/// Runs `cmd` with `input` on stdin and returns its output; an error (with stderr) if it cannot
/// be started or exits non-zero. `what` names the command in error messages.
pub(crate) fn run_with_input(mut cmd: Command, input: &str, what: &str) -> io::Result<String> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run {what}: {e}")))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_owned();
    // Write from a separate thread so large outputs cannot dead-lock against large inputs.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let output: Output = child.wait_with_output()?;
    let _ = writer.join();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(io::Error::other(format!(
            "{what} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end(),
            if stdout.trim().is_empty() {
                String::new()
            } else {
                format!("\nstdout: {}", stdout.trim_end())
            }
        )))
    }
}

/// Looks for an executable named one of `names` in `$PATH`, then in `extra_dirs`.
pub(crate) fn find_executable(names: &[&str], extra_dirs: &[&str]) -> Option<PathBuf> {
    let path_dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for name in names {
        let candidates = path_dirs
            .iter()
            .cloned()
            .chain(extra_dirs.iter().map(PathBuf::from));
        for dir in candidates {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}
