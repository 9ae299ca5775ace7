//! `tenantry migrate --all …` and `tenantry migrate status`.

use super::{table, Usage};
use crate::app::App;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use tenantry::fleet::{FleetOptions, Outcome};
use tenantry::platform::Actor;
use tenantry::tenant::TenantCode;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MigrateArgs {
    #[command(subcommand)]
    pub action: Option<MigrateAction>,
    /// Migrate every tenant (or those named with --only).
    #[arg(long)]
    pub all: bool,
    /// Tenants migrated at once on each data server (0: two per core, from 4 to 16).
    #[arg(long, default_value_t = 0)]
    pub concurrency: usize,
    /// Show what would be migrated; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only these tenant codes.
    #[arg(long, num_args = 1..)]
    pub only: Vec<TenantCode>,
    /// Open every tenant database and verify the checksums of applied migrations, even for tenants
    /// the registry records as current.
    #[arg(long)]
    pub verify: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum MigrateAction {
    /// Report drift: tenants behind or ahead of this binary's schema.
    Status {
        #[arg(long)]
        json: bool,
    },
}

/// Exit code 1 when any tenant failed (or, for `status`, is not current).
pub async fn run(app: &App, args: MigrateArgs) -> anyhow::Result<()> {
    let ok = migrate(app, args).await?;
    anyhow::ensure!(ok, "some tenants failed or are not current (see above)");
    Ok(())
}

async fn migrate(app: &App, args: MigrateArgs) -> anyhow::Result<bool> {
    if let Some(MigrateAction::Status { json }) = args.action {
        let drift = app.platform().drift().await?;
        if json {
            println!("{}", serde_json::to_string_pretty(&drift)?);
        } else {
            let rows: Vec<Vec<String>> = drift
                .iter()
                .map(|d| {
                    let v = d
                        .version
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "-".into());
                    vec![
                        d.code.to_string(),
                        d.engine.to_string(),
                        v,
                        d.latest.to_string(),
                        d.state.to_owned(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(&["CODE", "ENGINE", "VERSION", "BINARY", "STATE"], &rows)
            );
        }
        return Ok(drift.iter().all(|d| d.state == "current"));
    }
    if !args.all && args.only.is_empty() {
        return Err(Usage("say which tenants: --all or --only CODE…".into()).into());
    }
    let options = FleetOptions {
        concurrency: args.concurrency,
        dry_run: args.dry_run,
        only: args.only,
        verify: args.verify,
    };
    let total = app.platform().fleet_size(&options.only).await?;
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} migrating [{bar:30}] {pos}/{len} {msg} ({elapsed})",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    let actor = Actor::cli_from_env();
    let results = app
        .platform()
        .migrate_fleet(&actor, &options, |code, outcome| {
            bar.inc(1);
            bar.set_message(code.to_string());
            if bar.is_hidden() {
                eprintln!(
                    "[{}/{}] {code}: {}",
                    bar.position(),
                    total,
                    describe(outcome)
                );
            }
        })
        .await?;
    bar.finish_and_clear();
    if args.json {
        let out: Vec<_> = results
            .iter()
            .map(|(c, o)| serde_json::json!({"code": c, "result": o}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let rows: Vec<Vec<String>> = results
            .iter()
            .map(|(c, o)| vec![c.to_string(), describe(o)])
            .collect();
        print!("{}", table::render(&["CODE", "RESULT"], &rows));
        let count = |f: fn(&Outcome) -> bool| results.iter().filter(|(_, o)| f(o)).count();
        println!(
            "{} migrated, {} already current, {} would migrate, {} skipped (customer-managed schema), {} failed",
            count(|o| matches!(o, Outcome::Migrated { .. })),
            count(|o| matches!(o, Outcome::Current { .. })),
            count(|o| matches!(o, Outcome::WouldMigrate { .. })),
            count(|o| matches!(o, Outcome::Skipped { .. })),
            count(Outcome::is_failure),
        );
    }
    Ok(!results.iter().any(|(_, o)| o.is_failure()))
}

fn describe(o: &Outcome) -> String {
    let v = |v: &Option<i64>| v.map(|v| v.to_string()).unwrap_or_else(|| "none".into());
    match o {
        Outcome::Migrated { from, to } => format!("migrated {} -> {to}", v(from)),
        Outcome::Current { version } => format!("current at {version}"),
        Outcome::WouldMigrate { from, to } => format!("would migrate {} -> {to}", v(from)),
        Outcome::Skipped { reason } => format!("skipped: {reason}"),
        Outcome::Failed { reason } => format!("FAILED: {reason}"),
    }
}
