//! Helper process for the `watchdog_cleans_up_after_kill_9` test: starts servers (shared
//! PostgreSQL and MariaDB, a private Babelfish), writes
//! their dirs and ports to the file named by its first argument, then sleeps until killed.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::time::Duration;
use tenantry_testkit::{shared_mariadb, shared_pg, BabelfishServer};

fn main() {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: testkit-watchdog-helper REPORT_FILE"),
    );
    let pg = shared_pg(2);
    let my = shared_mariadb();
    // A private Babelfish (never dropped: the process is killed), local even when
    // TENANTRY_TEST_MSSQL_URL names an external server.
    let bbf = BabelfishServer::start().expect("start Babelfish");
    let report = format!(
        "{}\n{}\n{}\n{}\n{}\n{}\n",
        pg.base_dir().display(),
        pg.port(),
        my.base_dir().display(),
        my.port(),
        bbf.base_dir().expect("local").display(),
        bbf.port()
    );
    let tmp = PathBuf::from(format!("{}.tmp", out.display()));
    std::fs::write(&tmp, report).unwrap();
    std::fs::rename(&tmp, &out).unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}
