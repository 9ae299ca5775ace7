//! Where the Babelfish script and binaries are, and as whom the server runs.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::util;

/// Where `babelfish.sh` unpacks the server when run as root (its default).
const ROOT_PREFIX: &str = "/opt/babelfish";

/// `$TENANTRY_BABELFISH_SH`, else `shared/babelfish/babelfish.sh` in the nearest ancestor of this
/// crate that has one (`/work/shared/…` for a checkout at `/work/main`).
pub(crate) fn script() -> io::Result<PathBuf> {
    if let Some(path) = std::env::var_os("TENANTRY_BABELFISH_SH") {
        return Ok(PathBuf::from(path));
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join("shared/babelfish/babelfish.sh"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "babelfish.sh not found: set TENANTRY_BABELFISH_SH to its path, or \
                 TENANTRY_TEST_MSSQL_URL to a SQL Server (mssql://user:password@host:port?\
                 encrypt=true&trust_server_certificate=true)",
            )
        })
}

/// Install prefix: `/opt/babelfish` for root (or when it is already unpacked there), else a
/// per-user cache directory the script can unpack into without root.
pub(crate) fn prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        if util::is_root() || Path::new(ROOT_PREFIX).join("bin/postgres").is_file() {
            return PathBuf::from(ROOT_PREFIX);
        }
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        cache.join("tenantry-babelfish")
    })
}

/// The OS user the server runs as: `postgres` for root (via `runuser`), else ourselves.
pub(crate) fn run_as() -> String {
    if util::is_root() {
        return "postgres".to_owned();
    }
    std::env::var("USER").unwrap_or_else(|_| {
        let out = Command::new("id").arg("-un").output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    })
}

pub(crate) fn pg_ctl_shell() -> String {
    let tool = util::shell_quote_path(&prefix().join("bin/pg_ctl"));
    if util::is_root() {
        format!("runuser -u postgres -- {tool}")
    } else {
        tool
    }
}

/// Shell snippet for the process watchdog: stop the Babelfish server whose directory is `"$d"`.
pub(crate) fn watchdog_cleanup_snippet() -> String {
    format!(
        "{pg_ctl} -D \"$d/data\" -m immediate -w -t 30 stop >/dev/null 2>&1 || \
         {{ [ -f \"$d/data/postmaster.pid\" ] && \
         kill -KILL \"$(head -n 1 \"$d/data/postmaster.pid\")\" 2>/dev/null; }}",
        pg_ctl = pg_ctl_shell(),
    )
}
