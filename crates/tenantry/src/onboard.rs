//! Onboarding checks for customer-hosted ("bring your own database") tenants: before a tenant on a
//! customer's server goes live, check in order DNS, TCP, TLS, login, read, write, DDL and schema
//! version, and report every failure with a sentence the customer's DBA can act on. A check whose
//! prerequisite failed is reported as skipped, saying which one.
//!
//! DNS and TCP are checked here for every engine; the TLS, login, read, write, DDL and schema
//! checks of a SQL Server are [`crate::mssql::onboard`]'s (T-SQL advice, SQL Server error numbers).

pub(crate) mod advice;
mod net;
mod probes;

use crate::registry::DataSource;
use crate::tenant::Engine;
use serde::Serialize;
use sqlx::Connection;
use std::future::Future;
use std::time::{Duration, Instant};

/// Budget of the DNS lookup and of the TCP connect (each).
const NET_TIMEOUT: Duration = Duration::from_secs(3);
/// Budget of the login and of each probe statement.
const SQL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Passed,
    Failed,
    Skipped,
}

/// One check's outcome.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// `dns`, `tcp`, `tls`, `login`, `read`, `write`, `ddl` or `schema`.
    pub name: &'static str,
    pub status: CheckStatus,
    /// What was found, and for a failure what to do about it. Never contains the password.
    pub message: String,
    pub elapsed_ms: f64,
}

/// Every check, in the order they ran.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub checks: Vec<Check>,
}

impl CheckReport {
    /// True when no check failed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.status != CheckStatus::Failed)
    }

    /// The check called `name`.
    pub fn get(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// Names of the failed checks, in order.
    pub fn failed(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| c.status == CheckStatus::Failed)
            .map(|c| c.name)
            .collect()
    }
}

/// What to check: a tenant's data source, and whether our migrations will run DDL on it.
#[derive(Debug, Clone, Copy)]
pub struct OnboardTarget<'a> {
    pub source: &'a DataSource,
    pub ddl_required: bool,
}

/// Runs every check against `target.source`. Never fails: problems are failed checks.
#[tracing::instrument(skip_all, fields(host = %target.source.host, database = %target.source.database))]
pub async fn check(target: OnboardTarget<'_>) -> CheckReport {
    let src = target.source;
    let mut run = Run::new(src);
    let addrs = net::dns(&mut run, src).await;
    if src.engine == Engine::Sqlite {
        let why = "not applicable: SQLite has no network server";
        run.skip("tcp", why);
        run.skip("tls", why);
    } else if !run.blocked("tcp", &["dns"]) {
        net::tcp(&mut run, src, &addrs).await;
    }
    if src.engine == Engine::Mssql {
        return sql_server(run, target).await;
    }
    let Some(mut conn) = probes::login(&mut run, src).await else {
        for name in ["read", "write", "ddl", "schema"] {
            run.blocked(name, &["login"]);
        }
        return run.report;
    };
    probes::read(&mut run, src, &mut conn).await;
    probes::write(&mut run, src, &mut conn).await;
    if target.ddl_required {
        probes::ddl(&mut run, src, &mut conn).await;
    } else {
        let why = "not required: the customer applies migrations (DDL off)";
        run.skip("ddl", why);
    }
    if !run.blocked("schema", &["read"]) {
        probes::schema(&mut run, target, &mut conn).await;
    }
    let _ = conn.close().await;
    run.report
}

/// The SQL Server checks after DNS and TCP; skipped (saying which check failed) when those failed.
async fn sql_server(mut run: Run, target: OnboardTarget<'_>) -> CheckReport {
    const LATER: [&str; 6] = ["tls", "login", "read", "write", "ddl", "schema"];
    if run.blocked("tls", &["dns", "tcp"]) {
        for name in &LATER[1..] {
            run.blocked(name, &["tls"]);
        }
        return run.report;
    }
    let opts = crate::db::mssql::options(target.source, SQL_TIMEOUT);
    let checks = crate::mssql::onboard::check(&opts, target.ddl_required).await;
    for c in checks {
        run.push_check(c);
    }
    run.report
}

/// Collects checks, times them, and turns the dependents of a failure into skips.
struct Run {
    report: CheckReport,
    /// Checks that failed or were skipped because of a failure, with the failed check's name.
    broken: Vec<(&'static str, &'static str)>,
    /// The password, scrubbed from every message as a last line of defence.
    password: Option<String>,
}

impl Run {
    fn new(src: &DataSource) -> Self {
        let password = src
            .password
            .as_ref()
            .map(|p| crate::secrets::expose(p).to_owned())
            .filter(|p| p.len() >= 4);
        Self {
            report: CheckReport::default(),
            broken: Vec::new(),
            password,
        }
    }

    fn push(&mut self, name: &'static str, started: Instant, status: CheckStatus, message: String) {
        self.push_check(Check {
            name,
            status,
            message,
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        });
    }

    fn push_check(&mut self, mut check: Check) {
        if let Some(pw) = &self.password {
            check.message = check.message.replace(pw.as_str(), "********");
        }
        if check.status == CheckStatus::Failed {
            self.broken.push((check.name, check.name));
        }
        self.report.checks.push(check);
    }

    fn pass(&mut self, name: &'static str, started: Instant, message: String) {
        self.push(name, started, CheckStatus::Passed, message);
    }

    fn fail(&mut self, name: &'static str, started: Instant, message: String) {
        self.push(name, started, CheckStatus::Failed, message);
    }

    /// A skip that blocks nothing (the check does not apply).
    fn skip(&mut self, name: &'static str, why: &str) {
        self.push(
            name,
            Instant::now(),
            CheckStatus::Skipped,
            format!("Skipped: {why}."),
        );
    }

    /// Records `name` as skipped, and returns true, when one of `deps` is broken.
    fn blocked(&mut self, name: &'static str, deps: &[&str]) -> bool {
        let Some(&(_, root)) = self.broken.iter().find(|(n, _)| deps.contains(n)) else {
            return false;
        };
        self.skip(name, &format!("the {root} check failed"));
        self.broken.push((name, root));
        true
    }
}

async fn within<T>(limit: Duration, fut: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout(limit, fut).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(dir: &std::path::Path, database: &str) -> DataSource {
        DataSource {
            password: Some(secrecy::SecretString::from("s3cret-pw".to_owned())),
            ..DataSource::sqlite_for_test(dir, database)
        }
    }

    fn statuses(report: &CheckReport) -> Vec<(&str, CheckStatus)> {
        report.checks.iter().map(|c| (c.name, c.status)).collect()
    }

    #[tokio::test]
    async fn a_missing_sqlite_file_fails_the_first_check_and_skips_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let src = sqlite(dir.path(), "absent");
        let report = check(OnboardTarget {
            source: &src,
            ddl_required: true,
        })
        .await;
        assert_eq!(report.failed(), ["dns"]);
        assert!(!report.ok());
        let msg = &report.get("dns").unwrap().message;
        assert!(
            msg.contains("absent.db") && msg.contains("does not exist"),
            "{msg}"
        );
        let schema = report.get("schema").unwrap();
        assert_eq!(schema.status, CheckStatus::Skipped);
        assert!(
            schema.message.contains("dns check failed"),
            "{}",
            schema.message
        );
        assert_eq!(report.checks.len(), 8);
    }

    #[tokio::test]
    async fn an_empty_sqlite_database_passes_every_check() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::File::create(dir.path().join("fresh.db")).unwrap();
        let src = sqlite(dir.path(), "fresh");
        let report = check(OnboardTarget {
            source: &src,
            ddl_required: true,
        })
        .await;
        assert!(report.ok(), "{report:?}");
        use CheckStatus::*;
        let expected = [
            ("dns", Passed),
            ("tcp", Skipped),
            ("tls", Skipped),
            ("login", Passed),
            ("read", Passed),
            ("write", Passed),
            ("ddl", Passed),
            ("schema", Passed),
        ];
        assert_eq!(statuses(&report), expected);
        assert!(report
            .get("schema")
            .unwrap()
            .message
            .starts_with("empty database"));
        let json = serde_json::to_string(&report).unwrap();
        assert!(
            json.contains("\"elapsedMs\"") && !json.contains("s3cret-pw"),
            "{json}"
        );
    }
}
