//! Running T-SQL for test setup over TDS (tiberius): there is no `sqlcmd` on these machines, and
//! a real SQL Server has no `psql` side door. Each call opens its own connection on a private
//! single-threaded runtime in a helper thread, so it works from plain and from async tests.

use chrono::NaiveDateTime;
use std::io;
use std::time::Duration;
use tiberius::{AuthMethod, Client, ColumnData, Config, EncryptionLevel, FromSql};
use tokio::net::TcpStream;
use tokio_util::compat::TokioAsyncWriteCompatExt;

/// Where and as whom.
pub(crate) struct Login<'a> {
    pub host: &'a str,
    pub port: u16,
    pub database: &'a str,
    pub user: &'a str,
    pub password: &'a str,
    pub encrypt: bool,
    pub trust_server_certificate: bool,
}

/// Budget of connecting and of the whole script.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `sql` (batches separated by `GO` lines) and returns every row of every result.
pub(crate) fn run(login: &Login<'_>, sql: &str) -> io::Result<String> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(async {
                    tokio::time::timeout(TIMEOUT, run_async(login, sql))
                        .await
                        .unwrap_or_else(|_| {
                            Err(io::Error::new(
                                io::ErrorKind::TimedOut,
                                format!(
                                    "T-SQL on {}:{} took over {TIMEOUT:?}",
                                    login.host, login.port
                                ),
                            ))
                        })
                })
            })
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("T-SQL helper thread panicked")))
    })
}

async fn run_async(login: &Login<'_>, sql: &str) -> io::Result<String> {
    let what = format!(
        "T-SQL on {}:{} db {}",
        login.host, login.port, login.database
    );
    let err = |e: tiberius::error::Error| io::Error::other(format!("{what}: {e}"));
    let mut config = Config::new();
    config.host(login.host);
    config.port(login.port);
    config.database(login.database);
    config.authentication(AuthMethod::sql_server(login.user, login.password));
    if login.encrypt {
        config.encryption(EncryptionLevel::Required);
    } else {
        config.encryption(EncryptionLevel::Off);
    }
    if login.trust_server_certificate || !login.encrypt {
        config.trust_cert();
    }
    let tcp = TcpStream::connect((login.host, login.port)).await?;
    tcp.set_nodelay(true)?;
    let mut client = Client::connect(config, tcp.compat_write())
        .await
        .map_err(err)?;
    let mut out = String::new();
    for batch in batches(sql) {
        let results = client
            .simple_query(batch)
            .await
            .map_err(err)?
            .into_results()
            .await
            .map_err(err)?;
        for row in results.iter().flatten() {
            let cells: Vec<String> = row.cells().map(|(_, d)| cell_text(d)).collect();
            out.push_str(&cells.join("|"));
            out.push('\n');
        }
    }
    let _ = client.close().await;
    Ok(out)
}

/// The batches of a script, split on lines reading `GO`.
fn batches(sql: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    for line in sql.lines() {
        if line.trim().eq_ignore_ascii_case("go") {
            out.push(String::new());
        } else if let Some(last) = out.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    out.retain(|b| !b.trim().is_empty());
    out
}

fn cell_text(d: &ColumnData<'static>) -> String {
    match d {
        ColumnData::U8(v) => opt(v),
        ColumnData::I16(v) => opt(v),
        ColumnData::I32(v) => opt(v),
        ColumnData::I64(v) => opt(v),
        ColumnData::F32(v) => opt(v),
        ColumnData::F64(v) => opt(v),
        ColumnData::Bit(v) => v
            .map(|b| if b { "1" } else { "0" }.to_owned())
            .unwrap_or_default(),
        ColumnData::String(v) => v.as_deref().unwrap_or_default().to_owned(),
        ColumnData::Guid(v) => opt(v),
        ColumnData::Numeric(v) => opt(v),
        ColumnData::DateTime(_)
        | ColumnData::SmallDateTime(_)
        | ColumnData::DateTime2(_)
        | ColumnData::DateTimeOffset(_) => NaiveDateTime::from_sql(d)
            .ok()
            .flatten()
            .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
            .unwrap_or_default(),
        other => format!("{other:?}"),
    }
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn go_lines_separate_batches() {
        let b = super::batches("CREATE SCHEMA s\nGO\nSELECT 1\n go \n\n");
        assert_eq!(
            b,
            vec!["CREATE SCHEMA s\n".to_owned(), "SELECT 1\n".to_owned()]
        );
    }
}
