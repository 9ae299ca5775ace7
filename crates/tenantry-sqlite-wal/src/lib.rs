//! Persistent WAL for SQLite connections: the one call of tenantry that sqlx does not expose.
//!
//! A SQLite database in WAL mode has two companion files, `-wal` and `-shm`. SQLite creates them
//! when a connection first reads the database and, by default, deletes them when the last
//! connection closes. tenantry opens and closes tenant files all the time (a pool per tenant under
//! an LRU cap), so every cold tenant created two files and every evicted one deleted them: inode
//! allocation and directory updates on every open, which profiling showed to be the largest share
//! of a cold SQLite tenant's cost. With `SQLITE_FCNTL_PERSIST_WAL` set, SQLite checkpoints at close
//! as before but keeps the files (truncating the WAL to zero bytes when `journal_size_limit` is
//! set), so the next open reuses them.
//!
//! This is the workspace's only `unsafe` code (every other crate is `#![forbid(unsafe_code)]`):
//! one `sqlite3_file_control` call on a handle sqlx has locked for the caller.

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

use libsqlite3_sys::{sqlite3_file_control, SQLITE_FCNTL_PERSIST_WAL, SQLITE_OK};
use sqlx::sqlite::SqliteConnection;
use std::ffi::c_int;
use std::path::{Path, PathBuf};

/// The companion files of the SQLite database at `db` in WAL mode: `<db>-wal` and `<db>-shm`.
/// Copying, dropping or restoring a database file must treat them with it.
pub fn companion_files(db: &Path) -> [PathBuf; 2] {
    ["-wal", "-shm"].map(|suffix| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    })
}

/// Keeps the `-wal` and `-shm` files of the connection's main database when it closes.
pub async fn persist_wal(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    set_persist_wal(conn, 1).await.map(|_| ())
}

/// Whether the connection keeps its `-wal` and `-shm` files when it closes.
pub async fn is_persist_wal(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    // -1 queries the flag without changing it.
    set_persist_wal(conn, -1).await.map(|v| v == 1)
}

async fn set_persist_wal(conn: &mut SqliteConnection, value: c_int) -> Result<c_int, sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    let mut arg: c_int = value;
    // SAFETY: `db` is an open connection handle that `lock_handle` has locked for this thread
    // until `handle` drops, so no other thread uses it during the call. The schema name is a
    // NUL-terminated literal. SQLITE_FCNTL_PERSIST_WAL reads and writes exactly one `int` through
    // the argument pointer, which points at `arg`, alive for the whole call.
    let rc = unsafe {
        sqlite3_file_control(
            db,
            c"main".as_ptr(),
            SQLITE_FCNTL_PERSIST_WAL,
            (&mut arg as *mut c_int).cast(),
        )
    };
    if rc == SQLITE_OK {
        Ok(arg)
    } else {
        Err(sqlx::Error::Protocol(format!(
            "SQLite refused the persistent-WAL file control (code {rc})"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
    use sqlx::{ConnectOptions, Connection, Executor};

    async fn open(path: &Path) -> SqliteConnection {
        SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .pragma("journal_size_limit", "0")
            .connect()
            .await
            .expect("open")
    }

    fn companions(db: &Path) -> (bool, bool) {
        let [wal, shm] = companion_files(db);
        (wal.exists(), shm.exists())
    }

    #[tokio::test]
    async fn a_persistent_connection_keeps_its_wal_files_and_empties_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let mut conn = open(&db).await;
        assert!(!is_persist_wal(&mut conn).await.unwrap());
        persist_wal(&mut conn).await.unwrap();
        assert!(is_persist_wal(&mut conn).await.unwrap());
        conn.execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2)")
            .await
            .unwrap();
        conn.close().await.unwrap();
        assert_eq!(companions(&db), (true, true));
        let wal = std::fs::metadata(dir.path().join("t.db-wal"))
            .unwrap()
            .len();
        assert_eq!(wal, 0, "the WAL is checkpointed and truncated at close");
        // The rows were checkpointed into the database file and a new connection reads them.
        let mut again = open(&db).await;
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&mut again)
            .await
            .unwrap();
        assert_eq!(n, 2);
        again.close().await.unwrap();
    }

    /// The workspace's `.cargo/config.toml` passes `LIBSQLITE3_FLAGS` to libsqlite3-sys's build;
    /// this fails if that option is lost (a config moved, an env var overriding it).
    #[tokio::test]
    async fn the_bundled_sqlite_keeps_no_memory_statistics() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir.path().join("t.db")).await;
        let options: Vec<String> = sqlx::query_scalar("PRAGMA compile_options")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "compile options: {options:?}"
        );
        conn.close().await.unwrap();
    }

    #[tokio::test]
    async fn a_default_connection_deletes_its_wal_files() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let mut conn = open(&db).await;
        conn.execute("CREATE TABLE t (x INTEGER)").await.unwrap();
        conn.close().await.unwrap();
        assert_eq!(companions(&db), (false, false));
    }
}
