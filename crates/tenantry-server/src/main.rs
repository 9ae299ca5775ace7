#![forbid(unsafe_code)]

use clap::Parser;
use tenantry_server::telemetry::logs::{self, LogFormat};

#[tokio::main]
async fn main() -> std::process::ExitCode {
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
