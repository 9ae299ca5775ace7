//! `cargo run -p ticket-desk`: serves ticket-desk on `DESK_ADDR` (default `127.0.0.1:4000`) over the
//! tenantry data directory `TENANTRY_DATA_DIR` (default `./tenantry-data`, the one `tenantry demo`
//! and `tenantry serve` use).

use std::path::PathBuf;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let data_dir = std::env::var_os("TENANTRY_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("./tenantry-data"));
    let addr = std::env::var("DESK_ADDR").unwrap_or_else(|_| "127.0.0.1:4000".to_owned());
    let platform = ticket_desk::open(&data_dir).await?;
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "ticket-desk on http://{addr} (tenants of {})",
        data_dir.display()
    );
    axum::serve(listener, ticket_desk::router(&platform))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    platform.pools().close_all().await;
    Ok(())
}
