#![forbid(unsafe_code)]

use clap::Parser;
use tenantry_server::telemetry::logs::{self, LogFormat};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // A benchmark prints a table: one log line per request would bury it (and cost as much as the
    // request). `TENANTRY_LOG=info` puts request logging back into what is measured.
    if std::env::args().nth(1).as_deref() == Some("bench")
        && std::env::var_os("TENANTRY_LOG").is_none()
    {
        std::env::set_var("TENANTRY_LOG", "warn");
    }
    match LogFormat::from_env() {
        Ok(format) => logs::init(format),
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    }
    let cli = tenantry_server::cli::Cli::parse();
    match tenantry_server::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(tenantry_server::cli::exit_code(&e))
        }
    }
}
