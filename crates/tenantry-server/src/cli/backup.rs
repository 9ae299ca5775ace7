//! `tenantry backup CODE|--all`, `tenantry restore CODE FILE [--into NEWCODE]`,
//! `tenantry backups list CODE` and `tenantry registry backup|restore`: thin adapters over the
//! platform's backup operations, as the CLI actor (`cli:$USER`).

use super::table;
use crate::config::Config;
use crate::startup::{self, App};
use clap::{Args, Subcommand};
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Duration;
use tenantry::backup::registry_backup;
use tenantry::backup::{BackupError, BackupReport, FleetBackupOptions, NewTenantFrom};
use tenantry::platform::{Actor, FleetBackupResult, Platform, PlatformError, TenantRef};
use tenantry::tenant::{DatabaseName, TenantCode};

#[derive(Subcommand)]
pub enum BackupCommand {
    /// Back up one tenant (database dump, files, manifest in one archive) or every tenant (--all).
    Backup(BackupArgs),
    /// Restore a tenant from a backup: over itself (--confirm), or as a new tenant (--into NEWCODE).
    Restore(RestoreArgs),
    /// Stored backups.
    #[command(subcommand)]
    Backups(BackupsCommand),
    /// The registry (control plane) itself.
    #[command(subcommand)]
    Registry(RegistryCommand),
}

#[derive(Args)]
pub struct BackupArgs {
    /// The tenant to back up.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    code: Option<TenantCode>,
    /// Back up every active or suspended tenant.
    #[arg(long)]
    all: bool,
    /// Write the archive(s) here instead of {data_dir}/backups/{CODE}/.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Tenants backed up at once (--all).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// The tenant the backup was taken of.
    code: TenantCode,
    /// The backup archive (.tar.zst).
    file: PathBuf,
    /// Restore as a new tenant with this code, in a new database (nothing is overwritten).
    #[arg(long)]
    into: Option<TenantCode>,
    /// With --into: the data server (name or id). Default: the backed-up tenant's server.
    #[arg(long, requires = "into")]
    server: Option<String>,
    /// With --into: the new database's name (must not exist). Default: tenant_{newcode}.
    #[arg(long, requires = "into")]
    database: Option<DatabaseName>,
    /// Confirm that restoring over CODE replaces its database and files.
    #[arg(long)]
    confirm: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum BackupsCommand {
    /// The stored backups of one tenant, newest first.
    List {
        code: TenantCode,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum RegistryCommand {
    /// Back up the registry (default: {data_dir}/backups/_registry/registry-….tar.zst).
    Backup {
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Replace the registry with a backup. Stop every tenantry process using it first.
    Restore {
        file: PathBuf,
        /// Confirm that the registry is replaced.
        #[arg(long)]
        confirm: bool,
    },
}

pub async fn run(config: &Config, cmd: BackupCommand) -> anyhow::Result<()> {
    let actor = Actor::cli_from_env();
    if let BackupCommand::Registry(RegistryCommand::Restore { file, confirm }) = &cmd {
        // The registry stays closed here: it is about to be replaced.
        let secrets = startup::load_master_key(config)?;
        let url = config.registry_url();
        let m = Platform::restore_registry(&actor, &url, file, &secrets, *confirm).await?;
        println!(
            "registry restored from {} (taken {})",
            file.display(),
            m.created_at
        );
        return Ok(());
    }
    let app = App::open(config, startup::load_master_key(config)?).await?;
    let platform = app.platform();
    match cmd {
        BackupCommand::Backup(args) if args.all => backup_all(platform, &actor, args).await,
        BackupCommand::Backup(args) => backup_one(platform, &actor, args).await,
        BackupCommand::Restore(args) => restore(platform, &actor, args).await,
        BackupCommand::Backups(BackupsCommand::List { code, json }) => {
            list(platform, &code, json).await
        }
        BackupCommand::Registry(RegistryCommand::Backup { out, json }) => {
            let out = out.unwrap_or_else(|| {
                (platform.backup_store().registry_dir())
                    .join(registry_backup::registry_archive_name())
            });
            let url = config.registry_url();
            let r = platform.backup_registry(&actor, &url, &out).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "registry backed up to {} ({})",
                    r.path.display(),
                    HumanBytes(r.archive_size)
                );
            }
            Ok(())
        }
        BackupCommand::Registry(RegistryCommand::Restore { .. }) => unreachable!("handled above"),
    }
}

/// A spinner showing the stage in progress (hidden when stderr is not a terminal).
fn spinner(what: String) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix}: {msg} ({elapsed})")
            .expect("static template"),
    );
    bar.set_prefix(what);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

async fn backup_one(platform: &Platform, actor: &Actor, args: BackupArgs) -> anyhow::Result<()> {
    let code = args.code.expect("clap requires CODE without --all");
    let bar = spinner(format!("backing up {code}"));
    let r = TenantRef::Code(code.clone());
    let done = platform
        .backup(actor, &r, args.out.as_deref(), &|stage| {
            bar.set_message(stage)
        })
        .await;
    bar.finish_and_clear();
    let report = done?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("backed up {code} to {}", report.path.display());
        println!("  {}", describe(&report));
    }
    Ok(())
}

fn describe(r: &BackupReport) -> String {
    format!(
        "{} archive ({} of data), {} file(s), schema version {}, sha256 {}",
        HumanBytes(r.archive_size),
        HumanBytes(r.manifest.total_size()),
        r.manifest.files.len(),
        r.manifest
            .tenant
            .as_ref()
            .and_then(|t| t.schema_version)
            .map_or_else(|| "-".to_owned(), |v| v.to_string()),
        r.archive_sha256
    )
}

/// Exit code 1 when any tenant failed; the others are backed up all the same.
async fn backup_all(platform: &Platform, actor: &Actor, args: BackupArgs) -> anyhow::Result<()> {
    let options = FleetBackupOptions {
        concurrency: args.concurrency,
        out_dir: args.out,
        only: Vec::new(),
    };
    let total = platform.backup_fleet(&[]).await?.len();
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} backing up [{bar:30}] {pos}/{len} {msg} ({elapsed})",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    let results = platform
        .backup_all(actor, &options, |code, done| {
            bar.inc(1);
            bar.set_message(code.to_string());
            if bar.is_hidden() {
                let what = match done {
                    Ok(r) => format!("ok ({})", HumanBytes(r.archive_size)),
                    Err(e) => format!("FAILED: {e}"),
                };
                eprintln!("[{}/{total}] {code}: {what}", bar.position());
            }
        })
        .await?;
    bar.finish_and_clear();
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    print_fleet(&results, args.json)?;
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {} tenant backup(s) failed (see above)",
            results.len()
        );
    }
    Ok(())
}

fn print_fleet(results: &[FleetBackupResult], json: bool) -> anyhow::Result<()> {
    if json {
        let out: Vec<_> = results
            .iter()
            .map(|(code, r)| match r {
                Ok(r) => serde_json::json!({"code": code, "ok": true, "backup": r}),
                Err(e) => serde_json::json!({"code": code, "ok": false, "error": e.to_string()}),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|(code, r)| match r {
            Ok(r) => vec![code.to_string(), "ok".into(), r.path.display().to_string()],
            Err(e) => vec![code.to_string(), "FAILED".into(), e.to_string()],
        })
        .collect();
    print!(
        "{}",
        table::render(&["CODE", "RESULT", "ARCHIVE / ERROR"], &rows)
    );
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    println!("{} backed up, {failed} failed", results.len() - failed);
    Ok(())
}

async fn restore(platform: &Platform, actor: &Actor, args: RestoreArgs) -> anyhow::Result<()> {
    let code = &args.code;
    let bar = spinner(format!("restoring {code}"));
    let progress = |stage| bar.set_message(stage);
    let done = match &args.into {
        Some(new_code) => {
            let into = NewTenantFrom {
                code: new_code.clone(),
                server: args.server.clone(),
                database: args.database.clone(),
            };
            platform
                .restore_into(actor, code, &args.file, &into, &progress)
                .await
        }
        None => {
            let r = TenantRef::Code(code.clone());
            platform
                .restore(actor, &r, &args.file, args.confirm, &progress)
                .await
        }
    };
    bar.finish_and_clear();
    let report = done.map_err(explain)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let t = &report.tenant;
        println!(
            "tenant {} restored from {} (taken {}, {} file(s)); it is {}",
            t.code,
            args.file.display(),
            report.manifest.created_at,
            report.manifest.files.len(),
            t.status
        );
    }
    Ok(())
}

/// Adds what to do next to the errors an operator can act on.
fn explain(e: PlatformError) -> anyhow::Error {
    match e {
        PlatformError::Backup(e @ BackupError::ConfirmationRequired { .. }) => {
            anyhow::anyhow!("{e}; or restore it as a new tenant with --into NEWCODE")
        }
        other => other.into(),
    }
}

async fn list(platform: &Platform, code: &TenantCode, json: bool) -> anyhow::Result<()> {
    let list = platform
        .list_backups(&TenantRef::Code(code.clone()))
        .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|b| {
            vec![
                b.file.clone(),
                b.created_at.clone(),
                b.engine.to_string(),
                b.schema_version
                    .map_or_else(|| "-".to_owned(), |v| v.to_string()),
                b.files.to_string(),
                HumanBytes(b.archive_size).to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &["FILE", "CREATED", "ENGINE", "VERSION", "FILES", "SIZE"],
            &rows
        )
    );
    println!(
        "{} backup(s) in {}",
        list.len(),
        platform.backup_store().tenant_dir(code).display()
    );
    Ok(())
}
