//! Dumping one tenant database to a file and loading it back, per engine:
//! PostgreSQL `pg_dump -Fc` / `pg_restore` (only the tenant's schema for `shared` placement),
//! MariaDB/MySQL `mariadb-dump` / `mariadb`, SQLite an online `VACUUM INTO` copy / a file swap.

use super::tools::{self, OptionFile, Tool};
use super::BackupError;
use crate::db;
use crate::registry::DataSource;
use crate::tenant::{DatabaseName, Engine};
use sqlx::{AnyConnection, Connection, Executor};
use std::path::{Path, PathBuf};

fn db_err(stage: &'static str) -> impl FnOnce(sqlx::Error) -> BackupError {
    move |source| BackupError::Database { stage, source }
}

/// A libpq conninfo naming only the database (host, user and password come from `PG*`): a
/// database name is never mistaken for options, whatever it holds.
fn pg_dbname(database: &str) -> String {
    let quoted = database.replace('\\', "\\\\").replace('\'', "\\'");
    format!("--dbname=dbname='{quoted}'")
}

/// The tenant's schema, checked before it is used as a `pg_dump` pattern.
fn pg_schema(source: &DataSource) -> Result<Option<DatabaseName>, BackupError> {
    source
        .schema
        .as_deref()
        .map(DatabaseName::parse)
        .transpose()
        .map_err(|e| BackupError::Incompatible(e.to_string()))
}

/// A MariaDB database name as a positional argument: one starting with `-` would read as an option.
fn mysql_database(source: &DataSource) -> Result<&str, BackupError> {
    if source.database.is_empty() || source.database.starts_with('-') {
        let why = format!(
            "database name {:?} cannot be passed to the dump tools",
            source.database
        );
        return Err(BackupError::Incompatible(why));
    }
    Ok(&source.database)
}

/// The file of an SQLite tenant: `{server directory}/{database}.db`.
pub(crate) fn sqlite_file(source: &DataSource) -> PathBuf {
    Path::new(&source.host).join(format!("{}.db", source.database))
}

/// Writes the database of `source` to `out`, in the format of its engine.
#[tracing::instrument(skip_all, fields(engine = %source.engine, database = %source.database))]
pub(crate) async fn dump(source: &DataSource, out: &Path) -> Result<(), BackupError> {
    match source.engine {
        Engine::Postgres => {
            let mut cmd = tools::pg_command(Tool::PgDump, source)?;
            cmd.arg("--format=custom")
                .arg(format!("--file={}", out.display()));
            if let Some(schema) = pg_schema(source)? {
                cmd.arg(format!("--schema=\"{schema}\""));
            }
            cmd.arg(pg_dbname(&source.database));
            tools::run(cmd, "pg_dump").await
        }
        Engine::Mysql => {
            let options = OptionFile::new(source.username.as_deref(), source.password.as_ref())?;
            let mut cmd = tools::mysql_command(Tool::MysqlDump, source, &options)?;
            cmd.args(["--single-transaction", "--routines", "--triggers"])
                .args(["--no-tablespaces", "--hex-blob"])
                .arg(format!("--result-file={}", out.display()))
                .arg(mysql_database(source)?);
            tools::run(cmd, "mariadb-dump").await
        }
        Engine::Sqlite => vacuum_into(&sqlite_file(source), out).await,
        engine @ Engine::Mssql => Err(BackupError::EngineUnsupported { engine }),
    }
}

/// An online, consistent copy of an SQLite database (readers and writers carry on meanwhile).
pub(crate) async fn vacuum_into(database: &Path, out: &Path) -> Result<(), BackupError> {
    if !database.is_file() {
        let why = format!("the SQLite database {} does not exist", database.display());
        return Err(BackupError::Io {
            stage: "opening the SQLite database",
            source: std::io::Error::new(std::io::ErrorKind::NotFound, why),
        });
    }
    db::install_drivers();
    let url = format!("sqlite://{}?mode=rw", database.display());
    let mut conn = AnyConnection::connect(&url)
        .await
        .map_err(db_err("opening the SQLite database"))?;
    conn.execute("PRAGMA busy_timeout = 5000")
        .await
        .map_err(db_err("copying the SQLite database"))?;
    sqlx::query("VACUUM INTO ?")
        .bind(out.display().to_string())
        .execute(&mut conn)
        .await
        .map_err(db_err("copying the SQLite database"))?;
    conn.close()
        .await
        .map_err(db_err("closing the SQLite database"))
}

/// How [`load`] treats what is already in the target database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A database created for this restore: load into it as it is.
    Fresh,
    /// The tenant's own database: replace the objects the dump holds.
    Replace,
}

/// Loads the dump at `dump` into the database of `source`.
#[tracing::instrument(skip_all, fields(engine = %source.engine, database = %source.database))]
pub(crate) async fn load(
    source: &DataSource,
    dump: &Path,
    target: Target,
) -> Result<(), BackupError> {
    match source.engine {
        Engine::Postgres => {
            let mut cmd = tools::pg_command(Tool::PgRestore, source)?;
            // One transaction: a failed restore changes nothing.
            cmd.args(["--no-owner", "--no-privileges", "--single-transaction"]);
            if target == Target::Replace {
                cmd.args(["--clean", "--if-exists"]);
            }
            cmd.arg(pg_dbname(&source.database)).arg(dump);
            tools::run(cmd, "pg_restore").await
        }
        Engine::Mysql => {
            let options = OptionFile::new(source.username.as_deref(), source.password.as_ref())?;
            let mut cmd = tools::mysql_command(Tool::MysqlClient, source, &options)?;
            let input = std::fs::File::open(dump).map_err(|source| BackupError::Io {
                stage: "reading the dump",
                source,
            })?;
            cmd.args(["--batch", "--binary-mode"])
                .arg(format!("--database={}", mysql_database(source)?))
                .stdin(input);
            tools::run(cmd, "mariadb").await
        }
        Engine::Sqlite => place_sqlite(&sqlite_file(source), dump).await,
        engine @ Engine::Mssql => Err(BackupError::EngineUnsupported { engine }),
    }
}

/// Puts the SQLite copy `staged` in place of `target`: WAL mode as provisioning sets it, copied
/// next to the target, old `-wal`/`-shm` removed (they belong to the old file), then renamed over
/// it. The tenant's pool must be closed.
pub(crate) async fn place_sqlite(target: &Path, staged: &Path) -> Result<(), BackupError> {
    db::install_drivers();
    let url = format!("sqlite://{}?mode=rw", staged.display());
    let mut conn = AnyConnection::connect(&url)
        .await
        .map_err(db_err("opening the restored SQLite copy"))?;
    conn.execute("PRAGMA journal_mode = WAL")
        .await
        .map_err(db_err("preparing the restored SQLite copy"))?;
    conn.close()
        .await
        .map_err(db_err("closing the restored SQLite copy"))?;
    let (target, staged) = (target.to_owned(), staged.to_owned());
    super::blocking(move || {
        let io = |stage| move |source| BackupError::Io { stage, source };
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("tenant.db");
        let tmp = target.with_file_name(format!(".{name}.restore-{}", uuid::Uuid::new_v4()));
        std::fs::copy(&staged, &tmp).map_err(io("copying the SQLite database into place"))?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io("syncing the SQLite database"))?;
        for side in tenantry_sqlite_wal::companion_files(&target) {
            match std::fs::remove_file(side) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(io("removing the old SQLite journal")(e));
                }
                _ => {}
            }
        }
        std::fs::rename(&tmp, &target).map_err(io("moving the SQLite database into place"))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_name_never_reaches_libpq_as_options() {
        assert_eq!(pg_dbname("tenant_acme"), "--dbname=dbname='tenant_acme'");
        assert_eq!(
            pg_dbname("x' host='evil"),
            r"--dbname=dbname='x\' host=\'evil'"
        );
    }
}
