//! `tenantry bench memory`: where a serving process's memory goes as it grows a PostgreSQL fleet.
//! The scenario of the report that found 2.6 GB: a server provisions `tenants` dedicated
//! PostgreSQL tenants (database, user, migrations, seed, admin user with its argon2 hash), each
//! tenant's admin signs in over HTTP and reads its tickets. Resident memory of this process (the
//! server; the client side is one socket) is sampled at each stage and after an idle pause.

use super::client::{rss_kib, Http, PASSWORD};
use super::{login_flood, progress_bar, provision_dedicated, yes_no, BenchServer, ScratchDir};
use crate::app::App;
use crate::cli::table;
use serde::Serialize;
use std::time::Duration;
use tenantry::tenant::TenantCode;

/// Resident memory of the process after provisioning and serving 100 tenants must stay below.
pub const RSS_TARGET_MIB: f64 = 150.0;

/// RSS at each stage, MiB.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryRun {
    pub tenants: usize,
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    pub label: &'static str,
    /// Whether the target applies (the stages after the tenants were served).
    pub judged: bool,
    pub rss_mib: f64,
}

fn stage(label: &'static str, judged: bool) -> Stage {
    let rss_mib = rss_kib() as f64 / 1024.0;
    eprintln!("bench memory: {label}: {rss_mib:.1} MiB");
    Stage {
        label,
        judged,
        rss_mib,
    }
}

/// Serves a scratch platform, provisions `tenants` PostgreSQL tenants on `server`, signs in to
/// each and reads its tickets; RSS at every stage.
pub async fn measure(server: &BenchServer, tenants: usize) -> anyhow::Result<MemoryRun> {
    anyhow::ensure!(tenants > 0, "--tenants must be at least 1");
    let scratch = ScratchDir::create("memory")?;
    let platform = login_flood::platform(&scratch, 0).await?;
    let data_server = server.register(platform.registry()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(crate::startup::run(
        listener,
        App::new(platform.clone(), None),
        async move {
            let _ = stopped.await;
        },
    ));
    let mut stages = vec![stage("serving, no tenants", false)];
    let bar = progress_bar(tenants, "provision");
    let mut codes = Vec::with_capacity(tenants);
    for i in 0..tenants {
        let code = TenantCode::parse(&format!("MEM{i:04}"))?;
        provision_dedicated(&platform, &code, data_server.id, PASSWORD).await?;
        codes.push(code);
        bar.inc(1);
    }
    bar.finish_and_clear();
    stages.push(stage("provisioned", false));
    let mut http = Http::new(addr);
    let bar = progress_bar(tenants, "serve");
    for code in &codes {
        let token = http.token(code.as_str()).await?;
        http.series(&token, 5).await?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    stages.push(stage("signed in and served", true));
    tokio::time::sleep(Duration::from_secs(3)).await;
    stages.push(stage("after 3 s idle", true));
    let _ = stop.send(());
    let _ = serving.await;
    platform.pools().close_all().await;
    Ok(MemoryRun { tenants, stages })
}

/// The table: one row per stage; the target applies to the serving stages.
pub fn render(r: &MemoryRun) -> String {
    let rows: Vec<Vec<String>> = r
        .stages
        .iter()
        .map(|s| {
            vec![
                s.label.to_owned(),
                r.tenants.to_string(),
                format!("{:.1}", s.rss_mib),
                if s.judged {
                    format!("< {RSS_TARGET_MIB:.0}")
                } else {
                    "-".into()
                },
                if s.judged {
                    yes_no(s.rss_mib < RSS_TARGET_MIB)
                } else {
                    "-".into()
                },
            ]
        })
        .collect();
    table::render(&["STAGE", "TENANTS", "RSS MIB", "TARGET", "MET"], &rows)
}
