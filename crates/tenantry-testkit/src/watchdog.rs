//! The per-process watchdog.
//!
//! Statics are never dropped and a test binary may die from `kill -9`, so servers cannot rely
//! on `Drop` alone. Before the first temporary directory is created, we start one detached
//! `sh -c` process (own process group, no inherited stdio, so it neither receives the
//! terminal's Ctrl-C nor keeps the test harness's pipes open) that polls `kill -0 <our pid>`
//! every second. When this process is gone, it stops every server still living in a
//! `tenantry-test-{pg,mariadb,babelfish}-<our pid>-*` directory and removes the directories.
//!
//! Because it is started before any directory exists, a process that dies in the middle of
//! starting a server is covered too. Servers stopped normally have already removed their
//! directories, so the watchdog has nothing to do for them.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use crate::util;
use crate::{babelfish_setup, mariadb, pg};

/// The watchdog process; kept (never waited for) so it is not reported as leaked.
static WATCHDOG: Mutex<Option<Child>> = Mutex::new(None);

/// The watchdog's shell script.
fn script() -> String {
    let root = util::shell_quote_path(util::temp_root());
    let pg_glob = format!("\"$root\"/{}*", util::dir_prefix("pg"));
    let my_glob = format!("\"$root\"/{}*", util::dir_prefix("mariadb"));
    let bbf_glob = format!("\"$root\"/{}*", util::dir_prefix("babelfish"));
    format!(
        "pid={pid}\n\
         root={root}\n\
         while kill -0 \"$pid\" 2>/dev/null; do sleep 1; done\n\
         for d in {pg_glob}; do\n\
         [ -d \"$d\" ] || continue\n\
         ( {pg_cleanup}\n\
         rm -rf \"$d\" ) &\n\
         done\n\
         for d in {my_glob}; do\n\
         [ -d \"$d\" ] || continue\n\
         ( {my_cleanup}\n\
         rm -rf \"$d\" ) &\n\
         done\n\
         for d in {bbf_glob}; do\n\
         [ -d \"$d\" ] || continue\n\
         ( {bbf_cleanup}\n\
         rm -rf \"$d\" ) &\n\
         done\n\
         wait\n",
        pid = std::process::id(),
        pg_cleanup = pg::watchdog_cleanup_snippet(),
        my_cleanup = mariadb::watchdog_cleanup_snippet(),
        bbf_cleanup = babelfish_setup::watchdog_cleanup_snippet(),
    )
}

/// Starts the watchdog unless it is already running.
pub(crate) fn ensure_started() -> io::Result<()> {
    let mut guard = WATCHDOG.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() {
        let child = Command::new("sh")
            .arg("-c")
            .arg(script())
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot spawn watchdog: {e}")))?;
        *guard = Some(child);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn script_is_valid_shell() {
        let status = std::process::Command::new("sh")
            .args(["-n", "-c", &super::script()])
            .status()
            .unwrap();
        assert!(status.success(), "{}", super::script());
    }
}
