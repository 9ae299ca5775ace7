//! `tenantry bench login-flood`: hostile load against a real server (HTTP on 127.0.0.1, SQLite
//! tenants and registry in a scratch directory), measured side by side with a quiet tenant:
//!
//! 1. **Login flood**: `logins` wrong-password sign-ins to tenant `VICTIM` (`concurrency` at
//!    once, the throttle raised so every one is hashed: the worst case, an attacker with many
//!    addresses). Resident memory before, at the peak (sampled every 10 ms) and after; tenant
//!    `OTHER`'s `GET /api/tickets` p50/p99 before vs during.
//! 2. **Rate-limit flood**: tenant `NOISY` (rate limit 50/s, burst 100) sends `flood_rps`
//!    requests a second (10× its limit by default) from `concurrency` clients, in `flood_secs`
//!    rounds of one quiet second then one flooded second (so both halves see the same background
//!    load of a shared machine); `OTHER`'s p50/p99 in the quiet vs the flooded seconds (`OTHER`
//!    has an override far above what one sequential client reaches). The flood is paced: an unpaced one would measure this process's load
//!    generator saturating the CPU it shares with the server, not the server's isolation.
//!
//! RSS is this process's: the server and its load generator share it (the client side is a few
//! sockets). Latencies are sequential requests on one kept-alive connection per client.

use super::client::{rss_kib, Http, PASSWORD};
use super::{ms, percentile, provision_dedicated, set_rate_limit, yes_no};
use super::{BenchServer, ScratchDir, UNLIMITED};
use crate::app::App;
use crate::cli::table;
use serde::Serialize;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tenantry::auth::TokenSigner;
use tenantry::hashing::HashPoolSettings;
use tenantry::limits::LoginThrottleSettings;
use tenantry::platform::TenantRef;
use tenantry::platform::{Platform, PlatformSettings};
use tenantry::pools::{PoolManager, PoolManagerSettings};
use tenantry::registry::{CacheSettings, Registry};
use tenantry::secrets::{MasterKey, SecretBox};
use tenantry::storage::Storage;
use tenantry::tenant::TenantCode;

/// RSS after the flood may exceed the baseline by at most this much.
pub const RSS_TARGET_MIB: f64 = 20.0;
/// Another tenant's p99 during a rate-limit flood, relative to before.
pub const P99_RATIO_TARGET: f64 = 1.2;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub logins: usize,
    pub concurrency: usize,
    /// Rounds of the rate-limit flood (one quiet second, one flooded second each).
    pub flood_secs: u64,
    /// Requests per second NOISY sends during the rate-limit flood.
    pub flood_rps: u64,
    /// Hashes at once (0: the platform's default).
    pub hash_threads: usize,
    /// Requests of the quiet tenant per latency sample (before and during).
    pub samples: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            logins: 1_000,
            concurrency: 16,
            flood_secs: 8,
            flood_rps: 500,
            hash_threads: 0,
            samples: 1_000,
        }
    }
}

/// p50 and p99 of one series, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub samples: usize,
}

impl Latency {
    fn of(mut d: Vec<Duration>) -> Self {
        d.sort();
        let m = |p| percentile(&d, p).as_secs_f64() * 1_000.0;
        Self {
            p50_ms: m(0.50),
            p99_ms: m(0.99),
            samples: d.len(),
        }
    }
}

/// The measurements of one run (`--json` prints this).
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub logins: usize,
    pub concurrency: usize,
    pub hash_pool: usize,
    pub login_answers: Answers,
    pub login_seconds: f64,
    pub rss_before_mib: f64,
    pub rss_peak_mib: f64,
    pub rss_after_mib: f64,
    pub other_before_login_flood: Latency,
    pub other_during_login_flood: Latency,
    pub flood_rps: u64,
    pub flood_requests: u64,
    pub flood_limited: u64,
    pub other_before_rate_flood: Latency,
    pub other_during_rate_flood: Latency,
}

/// Counts of answers by kind.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Answers {
    pub unauthorized: u64,
    pub busy: u64,
    pub throttled: u64,
    pub other: u64,
}

/// Runs both floods on a scratch platform with SQLite tenants in `scratch`.
pub async fn measure(opts: &Options) -> anyhow::Result<Run> {
    anyhow::ensure!(
        opts.logins > 0 && opts.concurrency > 0,
        "--logins and --concurrency must be positive"
    );
    let scratch = ScratchDir::create("login-flood")?;
    let platform = platform(&scratch, opts.hash_threads).await?;
    let server = BenchServer::sqlite(scratch.path())
        .register(platform.registry())
        .await?;
    for code in ["VICTIM", "OTHER", "NOISY"] {
        provision_dedicated(&platform, &TenantCode::parse(code)?, server.id, PASSWORD).await?;
    }
    // NOISY floods past 50/s; OTHER, measured with back-to-back requests, must never be limited.
    set_rate_limit(
        &platform,
        TenantRef::Code(TenantCode::parse("NOISY")?),
        50,
        100,
    )
    .await?;
    set_rate_limit(
        &platform,
        TenantRef::Code(TenantCode::parse("OTHER")?),
        UNLIMITED,
        UNLIMITED,
    )
    .await?;
    let hash_pool = platform.hashes().settings().concurrency();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = App::new(platform.clone(), None);
    let serving = tokio::spawn(crate::startup::run(listener, app, async move {
        let _ = stopped.await;
    }));
    let mut http = Http::new(addr);
    let other = http.token("OTHER").await?;
    let noisy = http.token("NOISY").await?;
    http.series(&other, 20).await?; // warm the pools and caches

    // 1. Login flood.
    let other_before_login_flood = Latency::of(http.series(&other, opts.samples).await?);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_kib();
    let peak = Arc::new(AtomicU64::new(rss_before));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let started = Instant::now();
    let flood = tokio::spawn(login_flood(http.clone(), opts.logins, opts.concurrency));
    let mut during = Vec::new();
    while !flood.is_finished() {
        during.extend(http.series(&other, 10).await?);
    }
    let login_answers = flood.await??;
    let login_seconds = started.elapsed().as_secs_f64();
    sampling.store(false, Ordering::Relaxed);
    sampler.await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after = rss_kib();
    let other_during_login_flood = Latency::of(during);

    // 2. Rate-limit flood, in rounds: one second quiet, one second flooded, `flood_secs`
    //    times, so "before" and "during" see the same background load of a shared machine.
    let counts = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    let (mut quiet, mut flooded) = (Vec::new(), Vec::new());
    for _ in 0..opts.flood_secs.max(1) {
        let until = Instant::now() + Duration::from_secs(1);
        while Instant::now() < until {
            quiet.extend(http.series(&other, 10).await?);
        }
        let until = Instant::now() + Duration::from_secs(1);
        let flooders = rate_flood(&http, &noisy, opts, until, &counts);
        while Instant::now() < until {
            flooded.extend(http.series(&other, 10).await?);
        }
        for f in flooders {
            f.await??;
        }
    }
    let _ = stop.send(());
    let _ = serving.await;
    Ok(Run {
        logins: opts.logins,
        concurrency: opts.concurrency,
        hash_pool,
        login_answers,
        login_seconds,
        rss_before_mib: rss_before as f64 / 1024.0,
        rss_peak_mib: peak.load(Ordering::Relaxed) as f64 / 1024.0,
        rss_after_mib: rss_after as f64 / 1024.0,
        other_before_login_flood,
        other_during_login_flood,
        flood_rps: opts.flood_rps,
        flood_requests: counts.0.load(Ordering::Relaxed),
        flood_limited: counts.1.load(Ordering::Relaxed),
        other_before_rate_flood: Latency::of(quiet),
        other_during_rate_flood: Latency::of(flooded),
    })
}

/// `opts.concurrency` clients sending NOISY's requests at `opts.flood_rps` in all until `until`,
/// counting requests and 429s.
fn rate_flood(
    http: &Http,
    noisy: &str,
    opts: &Options,
    until: Instant,
    counts: &Arc<(AtomicU64, AtomicU64)>,
) -> Vec<tokio::task::JoinHandle<anyhow::Result<()>>> {
    let start = tokio::time::Instant::now();
    (0..opts.concurrency)
        .map(|k| {
            let (mut http, token, counts) = (http.clone(), noisy.to_owned(), counts.clone());
            let (concurrency, rps) = (opts.concurrency, opts.flood_rps.max(1));
            tokio::spawn(async move {
                let pause = Duration::from_secs_f64(concurrency as f64 / rps as f64);
                // Client k starts k/concurrency of a period late: together an even stream of
                // `rps`, not `concurrency` requests at once `rps / concurrency` times a second.
                let offset = pause.mul_f64(k as f64 / concurrency as f64);
                let mut tick = tokio::time::interval_at(start + offset, pause);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                while Instant::now() < until {
                    tick.tick().await;
                    let (status, _) = http
                        .request("GET", "/api/tickets", Some(&token), None)
                        .await?;
                    counts.0.fetch_add(1, Ordering::Relaxed);
                    if status == 429 {
                        counts.1.fetch_add(1, Ordering::Relaxed);
                    }
                }
                anyhow::Ok(())
            })
        })
        .collect()
}

/// A platform on a fresh SQLite registry whose sign-in throttle lets every flood attempt through
/// to the hashing pool (default pool settings: as many hashes at once as cores).
pub(super) async fn platform(
    scratch: &ScratchDir,
    hash_threads: usize,
) -> anyhow::Result<Platform> {
    let url = format!("sqlite://{}/registry.db", scratch.path().display());
    let key = MasterKey::generate();
    let signer = TokenSigner::new(&key, Duration::from_secs(3600));
    let registry = Registry::open(&url, SecretBox::new(key), CacheSettings::default()).await?;
    let open = LoginThrottleSettings {
        per_account_burst: u32::MAX,
        per_address_burst: u32::MAX,
        ..LoginThrottleSettings::default()
    };
    let settings = PlatformSettings {
        data_dir: scratch.path().to_owned(),
        login: open,
        hashing: HashPoolSettings {
            max_concurrent: hash_threads,
            ..HashPoolSettings::default()
        },
        ..PlatformSettings::default()
    };
    let storage = Storage::new(
        scratch.path().join("files"),
        tenantry::storage::DEFAULT_MAX_FILE_BYTES,
    );
    let pools = PoolManager::new(PoolManagerSettings::default());
    Ok(Platform::new(registry, pools, signer, storage, settings))
}

async fn login_flood(http: Http, logins: usize, concurrency: usize) -> anyhow::Result<Answers> {
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (mut http, next) = (http.clone(), next.clone());
            tokio::spawn(async move {
                let mut a = Answers::default();
                while next.fetch_add(1, Ordering::Relaxed) < logins as u64 {
                    let body = json!({"username": "admin", "password": "not the password"});
                    let (status, _) = http
                        .request("POST", "/api/auth/login?company=VICTIM", None, Some(body))
                        .await?;
                    match status {
                        401 => a.unauthorized += 1,
                        503 => a.busy += 1,
                        429 => a.throttled += 1,
                        _ => a.other += 1,
                    }
                }
                anyhow::Ok(a)
            })
        })
        .collect();
    let mut total = Answers::default();
    for w in workers {
        let a = w.await??;
        total.unauthorized += a.unauthorized;
        total.busy += a.busy;
        total.throttled += a.throttled;
        total.other += a.other;
    }
    Ok(total)
}

fn ratio(during: f64, before: f64) -> f64 {
    if before > 0.0 {
        during / before
    } else {
        f64::INFINITY
    }
}

/// The table of a run.
pub fn render(r: &Run) -> String {
    let f1 = |v: f64| format!("{v:.1}");
    let growth = r.rss_after_mib - r.rss_before_mib;
    let lat = |l: &Latency| {
        format!(
            "{} / {}",
            ms(Duration::from_secs_f64(l.p50_ms / 1e3)),
            ms(Duration::from_secs_f64(l.p99_ms / 1e3))
        )
    };
    let login_ratio = ratio(
        r.other_during_login_flood.p99_ms,
        r.other_before_login_flood.p99_ms,
    );
    let rate_ratio = ratio(
        r.other_during_rate_flood.p99_ms,
        r.other_before_rate_flood.p99_ms,
    );
    let a = &r.login_answers;
    let rows = vec![
        vec![
            "login flood".into(),
            format!(
                "{} logins, {} at once, hash pool {}",
                r.logins, r.concurrency, r.hash_pool
            ),
            format!(
                "401 {} / 503 {} / 429 {} / other {} in {:.1} s",
                a.unauthorized, a.busy, a.throttled, a.other, r.login_seconds
            ),
            "-".into(),
            "-".into(),
        ],
        vec![
            "RSS MiB".into(),
            "before / peak / after".into(),
            format!(
                "{} / {} / {} (after - before = {})",
                f1(r.rss_before_mib),
                f1(r.rss_peak_mib),
                f1(r.rss_after_mib),
                f1(growth)
            ),
            format!("after <= before + {RSS_TARGET_MIB} MiB"),
            yes_no(growth <= RSS_TARGET_MIB),
        ],
        vec![
            "OTHER p50 / p99 ms".into(),
            "before / during login flood".into(),
            format!(
                "{}  ->  {} (p99 x{:.2})",
                lat(&r.other_before_login_flood),
                lat(&r.other_during_login_flood),
                login_ratio
            ),
            "-".into(),
            "-".into(),
        ],
        vec![
            "rate-limit flood".into(),
            format!("NOISY (50/s, burst 100) sends {}/s", r.flood_rps),
            format!(
                "{} requests, {} answered 429",
                r.flood_requests, r.flood_limited
            ),
            "-".into(),
            "-".into(),
        ],
        vec![
            "OTHER p50 / p99 ms".into(),
            "before / during rate flood".into(),
            format!(
                "{}  ->  {} (p99 x{:.2})",
                lat(&r.other_before_rate_flood),
                lat(&r.other_during_rate_flood),
                rate_ratio
            ),
            format!("p99 <= {P99_RATIO_TARGET}x before"),
            yes_no(rate_ratio <= P99_RATIO_TARGET),
        ],
    ];
    table::render(&["MEASURE", "SETUP", "RESULT", "TARGET", "MET"], &rows)
}
