//! Onboarding probes for a customer's SQL Server: the TLS, login, read, write, DDL and schema
//! checks of [`crate::onboard`] (DNS and TCP are engine-neutral and stay there). Each failure says
//! what to do in T-SQL a DBA can run ([`super::advice`]).
//!
//! - login failures are told apart by SQL Server error numbers (18456 bad login or password, 4060
//!   cannot open the database, 18470 disabled, …; Babelfish says 911 for a missing database);
//! - read: `_tenantry_migrations` when it exists, else the catalog;
//! - write: on a migrated database, `INSERT`, `UPDATE` and `DELETE` of no rows on
//!   `_tenantry_migrations` in a rolled-back transaction (the server checks the permissions all
//!   the same); on an empty one, a `#temp` table (the DDL check then decides);
//! - DDL: create and drop `_tenantry_probe`;
//! - schema: the applied version against this binary's newest.

use super::admin::close;
use super::advice::{self, Denial, Subject};
use super::{connect, migrate, ConnectOptions, MssqlClient, MssqlError};
use crate::onboard::{Check, CheckStatus};
use secrecy::ExposeSecret;
use std::future::Future;
use std::time::{Duration, Instant};

/// Budget of each probe statement.
const SQL_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the TLS, login, read, write, DDL (when `ddl_required`) and schema checks against
/// `opts`, in that order. Never fails: problems are failed checks, and a check whose prerequisite
/// failed is skipped saying which one. No message contains the password.
#[tracing::instrument(skip_all, fields(host = %opts.host, database = %opts.database))]
pub async fn check(opts: &ConnectOptions, ddl_required: bool) -> Vec<Check> {
    let mut run = Run::new(opts);
    let Some((mut client, subject)) = login(&mut run, opts).await else {
        for name in ["read", "write", "ddl", "schema"] {
            run.skip(name, "the login check failed");
        }
        return run.checks;
    };
    let migrated = read(&mut run, &mut client, &subject).await;
    if run.failed("read") {
        run.skip("write", "the read check failed");
    } else {
        write(&mut run, &mut client, &subject, migrated == Some(true)).await;
    }
    if !ddl_required {
        run.skip(
            "ddl",
            "not required: the customer applies migrations (DDL off)",
        );
    } else {
        ddl(&mut run, &mut client, &subject).await;
    }
    if run.failed("read") {
        run.skip("schema", "the read check failed");
    } else {
        schema(&mut run, &mut client, ddl_required).await;
    }
    close(client).await;
    run.checks
}

struct Run {
    checks: Vec<Check>,
    /// Scrubbed from every message as a last line of defence.
    password: String,
}

impl Run {
    fn new(opts: &ConnectOptions) -> Self {
        Self {
            checks: Vec::new(),
            password: opts.password.expose_secret().to_owned(),
        }
    }

    fn push(&mut self, name: &'static str, started: Instant, status: CheckStatus, message: String) {
        let message = if self.password.len() >= 4 {
            message.replace(&self.password, "********")
        } else {
            message
        };
        self.checks.push(Check {
            name,
            status,
            message,
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        });
    }

    fn pass(&mut self, name: &'static str, started: Instant, message: String) {
        self.push(name, started, CheckStatus::Passed, message);
    }

    fn fail(&mut self, name: &'static str, started: Instant, message: String) {
        self.push(name, started, CheckStatus::Failed, message);
    }

    fn skip(&mut self, name: &'static str, why: &str) {
        let message = format!("Skipped: {why}.");
        self.push(name, Instant::now(), CheckStatus::Skipped, message);
    }

    fn failed(&self, name: &str) -> bool {
        self.checks
            .iter()
            .any(|c| c.name == name && c.status == CheckStatus::Failed)
    }
}

/// The server's message (or the driver's, shortened to its first sentence) and error number.
fn detail(e: &MssqlError) -> (Denial, String) {
    let text = match e {
        MssqlError::Tls { source, .. } => {
            let s = source.to_string();
            s.split(". To connect anyway")
                .next()
                .unwrap_or(&s)
                .to_owned()
        }
        _ => e
            .server_message()
            .map(str::to_owned)
            .unwrap_or_else(|| e.to_string()),
    };
    (advice::classify(e.server_code()), text)
}

/// Checks `tls` and `login`; on success, who we are in the database.
async fn login(run: &mut Run, opts: &ConnectOptions) -> Option<(MssqlClient, Subject)> {
    let started = Instant::now();
    let mut subject = Subject {
        host: opts.host.clone(),
        port: opts.port,
        login: opts.user.clone(),
        database: opts.database.clone(),
        user: opts.user.clone(),
        schema: "dbo".to_owned(),
    };
    let mut client = match connect(opts).await {
        Ok(client) => client,
        Err(e) => {
            refused(run, opts, &subject, e, started);
            return None;
        }
    };
    tls_passed(run, opts, started);
    match whoami(&mut client).await {
        Ok((user, schema)) => {
            (subject.user, subject.schema) = (user, schema);
            let msg = format!(
                "logged in as '{}' to database '{}' (database user '{}', default schema '{}')",
                subject.login, subject.database, subject.user, subject.schema
            );
            run.pass("login", started, msg);
            Some((client, subject))
        }
        Err(e) => {
            let (denial, text) = detail(&e);
            let msg = advice::login_failed(&subject, denial, &text);
            run.fail("login", started, msg);
            close(client).await;
            None
        }
    }
}

/// The TLS handshake (which precedes the login in TDS) went through, or was not asked for.
fn tls_passed(run: &mut Run, opts: &ConnectOptions, started: Instant) {
    if !opts.tls.encrypt {
        run.skip("tls", "not required (encrypt = false)");
        return;
    }
    let how = if opts.tls.trust_server_certificate {
        "certificate not verified: trust_server_certificate = true"
    } else {
        "certificate verified"
    };
    run.pass("tls", started, format!("the session is encrypted ({how})"));
}

/// Records why the connection was refused, on the `tls` or the `login` check.
fn refused(
    run: &mut Run,
    opts: &ConnectOptions,
    subject: &Subject,
    e: MssqlError,
    started: Instant,
) {
    let (host, port) = (opts.host.as_str(), opts.port);
    match e {
        MssqlError::Tls { .. } => {
            let msg = advice::tls_failed(host, port, &detail(&e).1);
            run.fail("tls", started, msg);
            run.skip("login", "the tls check failed");
        }
        MssqlError::ConnectTimeout { after, .. } => {
            run.skip("tls", "no answer from the server");
            let msg = advice::connect_timed_out(host, port, after.as_secs(), opts.tls.encrypt);
            run.fail("login", started, msg);
        }
        MssqlError::Tcp { .. } => {
            run.skip("tls", "no connection");
            let msg = format!("{e}: check the network route and firewall.");
            run.fail("login", started, msg);
        }
        _ => {
            tls_passed(run, opts, started);
            let (denial, text) = detail(&e);
            run.fail(
                "login",
                started,
                advice::login_failed(subject, denial, &text),
            );
        }
    }
}

/// `USER_NAME()` and `SCHEMA_NAME()` of the session.
async fn whoami(client: &mut MssqlClient) -> Result<(String, String), MssqlError> {
    let row = within(SQL_TIMEOUT, async {
        client
            .simple_query("SELECT USER_NAME(), SCHEMA_NAME()")
            .await?
            .into_row()
            .await
    })
    .await
    .map_err(MssqlError::query("read session user"))?;
    let get = |i| {
        row.as_ref()
            .and_then(|r| r.get::<&str, _>(i))
            .unwrap_or("dbo")
            .to_owned()
    };
    Ok((get(0), get(1)))
}

/// Check `read`; returns whether the database has `_tenantry_migrations` (`None`: read failed).
async fn read(run: &mut Run, client: &mut MssqlClient, s: &Subject) -> Option<bool> {
    let started = Instant::now();
    let outcome = within(SQL_TIMEOUT, async {
        let migrated = scalar(
            client,
            "SELECT CASE WHEN OBJECT_ID(N'_tenantry_migrations', N'U') IS NULL THEN 0 ELSE 1 END",
        )
        .await?
            == 1;
        let probe = if migrated {
            "SELECT COUNT(*) FROM _tenantry_migrations"
        } else {
            "SELECT COUNT(*) FROM sys.tables"
        };
        scalar(client, probe).await?;
        Ok(migrated)
    })
    .await
    .map_err(MssqlError::query("read"));
    match outcome {
        Ok(migrated) => {
            run.pass("read", started, format!("user '{}' can read", s.user));
            Some(migrated)
        }
        Err(e) => {
            run.fail("read", started, advice::read_failed(s, &detail(&e).1));
            None
        }
    }
}

/// Check `write` (see the module comment for what it writes).
async fn write(run: &mut Run, client: &mut MssqlClient, s: &Subject, migrated: bool) {
    let started = Instant::now();
    let statements: &[&str] = if migrated {
        &[
            "BEGIN TRANSACTION",
            "INSERT INTO _tenantry_migrations (version, description, checksum, installed_on, success) \
             SELECT version, description, checksum, installed_on, success FROM _tenantry_migrations WHERE 1 = 0",
            "UPDATE _tenantry_migrations SET success = success WHERE 1 = 0",
            "DELETE FROM _tenantry_migrations WHERE 1 = 0",
        ]
    } else {
        &[
            "CREATE TABLE #tenantry_probe (id INT)",
            "INSERT INTO #tenantry_probe (id) VALUES (1)",
            "DROP TABLE #tenantry_probe",
        ]
    };
    let result = statements_in_order(client, statements).await;
    if migrated {
        let _ = statements_in_order(client, &["IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION"]).await;
    }
    match result {
        Ok(()) if migrated => run.pass(
            "write",
            started,
            format!("user '{}' may insert, update and delete in _tenantry_migrations (nothing was changed)", s.user),
        ),
        Ok(()) => run.pass("write", started, "created a temporary table and inserted a row".to_owned()),
        Err(e) => {
            let (denial, text) = detail(&e);
            run.fail("write", started, advice::write_failed(s, denial, &text));
        }
    }
}

/// Check `ddl`: create and drop the regular table `_tenantry_probe`.
async fn ddl(run: &mut Run, client: &mut MssqlClient, s: &Subject) {
    let started = Instant::now();
    // A leftover of an interrupted run; failing here is left to the CREATE below.
    let leftover = "IF OBJECT_ID(N'_tenantry_probe', N'U') IS NOT NULL DROP TABLE _tenantry_probe";
    let _ = statements_in_order(client, &[leftover]).await;
    let statements = [
        "CREATE TABLE _tenantry_probe (id INT)",
        "DROP TABLE _tenantry_probe",
    ];
    match statements_in_order(client, &statements).await {
        Ok(()) => run.pass(
            "ddl",
            started,
            "created and dropped table _tenantry_probe".to_owned(),
        ),
        Err(e) => {
            let (denial, text) = detail(&e);
            run.fail("ddl", started, advice::ddl_failed(s, denial, &text));
        }
    }
}

/// Check `schema`: the applied migration version against this binary's newest.
async fn schema(run: &mut Run, client: &mut MssqlClient, ddl_required: bool) {
    let started = Instant::now();
    let outcome = tokio::time::timeout(SQL_TIMEOUT, migrate::applied_version(client)).await;
    let (status, message) = match outcome {
        Ok(Ok(v)) => {
            crate::onboard::advice::schema_status(v, migrate::latest_version(), ddl_required)
        }
        Ok(Err(e)) => (
            CheckStatus::Failed,
            format!("Cannot read the schema version: {}.", detail(&e).1),
        ),
        Err(_) => (
            CheckStatus::Failed,
            advice::timed_out("schema version query", SQL_TIMEOUT.as_secs()),
        ),
    };
    run.push("schema", started, status, message);
}

/// Runs statements in order, each within [`SQL_TIMEOUT`]; the first error.
async fn statements_in_order(
    client: &mut MssqlClient,
    statements: &[&str],
) -> Result<(), MssqlError> {
    for sql in statements {
        within(SQL_TIMEOUT, async {
            client.simple_query(*sql).await?.into_results().await
        })
        .await
        .map_err(MssqlError::query("probe"))?;
    }
    Ok(())
}

async fn scalar(client: &mut MssqlClient, sql: &str) -> Result<i32, tiberius::error::Error> {
    let row = client.simple_query(sql).await?.into_row().await?;
    Ok(row.and_then(|r| r.get::<i32, _>(0)).unwrap_or(0))
}

/// `fut` within `limit`; a timeout becomes an I/O error of kind `TimedOut`.
async fn within<T>(
    limit: Duration,
    fut: impl Future<Output = Result<T, tiberius::error::Error>>,
) -> Result<T, tiberius::error::Error> {
    tokio::time::timeout(limit, fut).await.unwrap_or_else(|_| {
        Err(tiberius::error::Error::Io {
            kind: std::io::ErrorKind::TimedOut,
            message: format!("no answer within {} s", limit.as_secs()),
        })
    })
}
