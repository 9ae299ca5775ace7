//! The engines' own dump tools: finding them, and running them with the password passed through
//! the environment (`PGPASSWORD`) or a 0600 option file (MariaDB/MySQL), never on the command line.

use super::BackupError;
use crate::registry::DataSource;
use crate::tenant::TlsMode;
use secrecy::SecretString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::Command;

/// The tools a backup or restore may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tool {
    PgDump,
    PgRestore,
    MysqlDump,
    MysqlClient,
}

impl Tool {
    /// Names tried in order (MariaDB's first, then MySQL's).
    fn names(self) -> &'static [&'static str] {
        match self {
            Tool::PgDump => &["pg_dump"],
            Tool::PgRestore => &["pg_restore"],
            Tool::MysqlDump => &["mariadb-dump", "mysqldump"],
            Tool::MysqlClient => &["mariadb", "mysql"],
        }
    }

    fn package(self) -> &'static str {
        match self {
            Tool::PgDump | Tool::PgRestore => "the PostgreSQL client (postgresql-client)",
            Tool::MysqlDump | Tool::MysqlClient => "the MariaDB client (mariadb-client)",
        }
    }
}

/// Directories searched before `$PATH`: `$TENANTRY_PG_BIN`, then the highest version under
/// `/usr/lib/postgresql/*/bin` (a `pg_dump` must be at least as new as the server).
fn pg_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("TENANTRY_PG_BIN") {
        dirs.push(PathBuf::from(dir));
    }
    let mut versions: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version = name
                .split('.')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    dirs.extend(versions.into_iter().rev().map(|(_, bin)| bin));
    dirs
}

/// Finds `tool`'s binary, or says which one is missing.
pub(crate) fn locate(tool: Tool) -> Result<PathBuf, BackupError> {
    let mut dirs = match tool {
        Tool::PgDump | Tool::PgRestore => pg_dirs(),
        Tool::MysqlDump | Tool::MysqlClient => Vec::new(),
    };
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.extend(["/usr/bin", "/usr/local/bin"].map(PathBuf::from));
    locate_in(tool, &dirs)
}

fn locate_in(tool: Tool, dirs: &[PathBuf]) -> Result<PathBuf, BackupError> {
    for name in tool.names() {
        if let Some(found) = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()) {
            return Ok(found);
        }
    }
    Err(BackupError::ToolMissing {
        tool: tool.names().join(" or "),
        package: tool.package(),
    })
}

/// A command for a PostgreSQL tool, connected through `PG*` variables (password included).
pub(crate) fn pg_command(tool: Tool, source: &DataSource) -> Result<Command, BackupError> {
    let mut cmd = Command::new(locate(tool)?);
    let sslmode = match source.tls {
        TlsMode::Disable => "disable",
        TlsMode::Prefer => "prefer",
        TlsMode::Require => "require",
        TlsMode::Verify => "verify-full",
    };
    cmd.env("PGHOST", &source.host)
        .env("PGPORT", source.port.to_string())
        .env("PGSSLMODE", sslmode)
        .env("PGCONNECT_TIMEOUT", "10")
        .env("PGAPPNAME", "tenantry-backup");
    if source.tls == TlsMode::Verify {
        // verify-full against the system's roots, as the pools do (libpq 16+).
        cmd.env("PGSSLROOTCERT", "system");
    }
    if let Some(user) = &source.username {
        cmd.env("PGUSER", user);
    }
    match &source.password {
        Some(pw) => cmd.env("PGPASSWORD", crate::secrets::expose(pw)),
        None => cmd.env_remove("PGPASSWORD"),
    };
    Ok(cmd)
}

/// A MariaDB/MySQL option file (mode 0600, removed on drop) holding the login, so the password
/// never appears in a process listing.
pub(crate) struct OptionFile(tempfile::NamedTempFile);

impl OptionFile {
    pub(crate) fn new(
        user: Option<&str>,
        password: Option<&SecretString>,
    ) -> Result<Self, BackupError> {
        let io = |source| BackupError::Io {
            stage: "writing the database option file",
            source,
        };
        // NamedTempFile is created 0600.
        let mut file = tempfile::Builder::new()
            .prefix(".tenantry-my-")
            .tempfile()
            .map_err(io)?;
        let mut text = String::from("[client]\n");
        if let Some(user) = user {
            text.push_str(&format!("user=\"{}\"\n", option_escape(user)));
        }
        if let Some(pw) = password {
            text.push_str(&format!(
                "password=\"{}\"\n",
                option_escape(crate::secrets::expose(pw))
            ));
        }
        file.write_all(text.as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(Self(file))
    }

    pub(crate) fn path(&self) -> &Path {
        self.0.path()
    }
}

/// Escapes a value for a double-quoted option-file string.
fn option_escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A command for a MariaDB/MySQL tool reading its login from `options` (which must be the first
/// argument), connected over TCP.
pub(crate) fn mysql_command(
    tool: Tool,
    source: &DataSource,
    options: &OptionFile,
) -> Result<Command, BackupError> {
    let mut cmd = Command::new(locate(tool)?);
    cmd.arg(format!(
        "--defaults-extra-file={}",
        options.path().display()
    ))
    .arg("--protocol=TCP")
    .arg(format!("--host={}", source.host))
    .arg(format!("--port={}", source.port));
    if tool == Tool::MysqlClient {
        // The dump tool has no such option.
        cmd.arg("--connect-timeout=10");
    }
    match source.tls {
        TlsMode::Disable => {
            cmd.arg("--skip-ssl");
        }
        TlsMode::Require => {
            cmd.arg("--ssl");
        }
        TlsMode::Verify => {
            cmd.arg("--ssl").arg("--ssl-verify-server-cert");
        }
        TlsMode::Prefer => {}
    }
    Ok(cmd)
}

/// Runs `cmd` to completion (killed if the caller goes away); a non-zero exit is an error carrying
/// the tail of its stderr (which never holds the password: it was never an argument).
pub(crate) async fn run(mut cmd: Command, tool: &str) -> Result<(), BackupError> {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = cmd.output().await.map_err(|source| BackupError::Io {
        stage: "starting a dump tool",
        source,
    })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: String = {
        let text = stderr.trim();
        let start = text.len().saturating_sub(1_000);
        let start = (start..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text[start..].to_owned()
    };
    Err(BackupError::Tool {
        tool: tool.to_owned(),
        message: format!("{} ({})", tail, out.status),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_file_values_are_quoted_and_escaped() {
        assert_eq!(option_escape(r#"p"w\x"#), r#"p\"w\\x"#);
        let file = OptionFile::new(Some("u"), Some(&SecretString::from("a\"b"))).unwrap();
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert_eq!(text, "[client]\nuser=\"u\"\npassword=\"a\\\"b\"\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_missing_tool_is_named_in_the_error() {
        let empty = tempfile::tempdir().unwrap();
        let err = locate_in(Tool::MysqlDump, &[empty.path().to_owned()]).unwrap_err();
        assert!(
            err.to_string().contains("mariadb-dump or mysqldump"),
            "{err}"
        );
    }

    #[test]
    fn the_mariadb_name_is_preferred_over_the_mysql_one() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["mysqldump", "mariadb-dump"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let found = locate_in(Tool::MysqlDump, &[dir.path().to_owned()]).unwrap();
        assert_eq!(found, dir.path().join("mariadb-dump"));
    }
}
