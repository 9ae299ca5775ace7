//! The Zipf-distributed load of `bench scale`, in two shapes:
//!
//! - **closed loop** (`pace: None`): `workers` connections each send the next request as soon as
//!   the previous one is answered. This finds the throughput; its latencies are mostly queueing
//!   (with 8 clients on 2 cores a request waits for the 7 ahead of it), so no goal is judged on it.
//! - **paced** (`pace: Some(rate)`): request `i` is due at `start + i / rate` and its latency is
//!   counted from when it was *due*, not from when a worker got to it, so a stalled server shows
//!   up as latency instead of silently lowering the offered load (no coordinated omission). This is
//!   the latency a tenant sees at that load; the goals are judged on it.

use super::fleet::{Fleet, ScaleTenant};
use super::load::Conn;
use rand::{Rng, SeedableRng};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tenantry::pools::PoolManager;

pub struct ZipfRun {
    /// Requests whose tenant had an open pool when they were sent, sorted.
    pub warm: Vec<Duration>,
    /// Requests whose tenant had no pool when they were sent (first request of a cold tenant).
    pub cold: Vec<Duration>,
    pub errors: usize,
    pub elapsed: Duration,
}

impl ZipfRun {
    pub fn per_second(&self) -> f64 {
        (self.warm.len() + self.cold.len()) as f64 / self.elapsed.as_secs_f64()
    }
}

/// Tenant ranks drawn from a Zipf distribution (rank `k` with weight `1 / k^s`), seeded.
pub fn sequence(n: usize, s: f64, len: usize, seed: u64) -> Vec<usize> {
    let mut cdf = Vec::with_capacity(n);
    let mut sum = 0.0;
    for k in 1..=n {
        sum += 1.0 / (k as f64).powf(s);
        cdf.push(sum);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..len)
        .map(|_| {
            let u = rng.gen::<f64>() * sum;
            cdf.partition_point(|&c| c < u).min(n - 1)
        })
        .collect()
}

/// Sends `sequence` (tenant ranks) over `workers` connections, closed-loop or paced.
/// Resolution of tokio's timer: a sleep ends on the next tick at or after its deadline.
const TIMER_TICK: Duration = Duration::from_millis(1);

pub async fn run(
    addr: SocketAddr,
    fleet: &Fleet,
    pools: &PoolManager,
    sequence: Vec<usize>,
    workers: usize,
    pace: Option<f64>,
) -> anyhow::Result<ZipfRun> {
    let sequence: Arc<[usize]> = sequence.into();
    let next = Arc::new(AtomicUsize::new(0));
    let tenants: Arc<[ScaleTenant]> = fleet.tenants.clone().into();
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers.max(1) {
        let shared = (
            sequence.clone(),
            next.clone(),
            tenants.clone(),
            pools.clone(),
        );
        set.spawn(worker(addr, shared, started, pace));
    }
    let mut run = ZipfRun {
        warm: Vec::new(),
        cold: Vec::new(),
        errors: 0,
        elapsed: Duration::ZERO,
    };
    while let Some(done) = set.join_next().await {
        let (w, c, e) = done??;
        run.warm.extend(w);
        run.cold.extend(c);
        run.errors += e;
    }
    run.elapsed = started.elapsed();
    run.warm.sort_unstable();
    run.cold.sort_unstable();
    Ok(run)
}

type Shared = (
    Arc<[usize]>,
    Arc<AtomicUsize>,
    Arc<[ScaleTenant]>,
    PoolManager,
);
type Latencies = (Vec<Duration>, Vec<Duration>, usize);

/// One connection taking the next request of the sequence until none is left. A request is
/// *cold* when its tenant had no pool when it was sent.
async fn worker(
    addr: SocketAddr,
    (sequence, next, tenants, pools): Shared,
    started: Instant,
    pace: Option<f64>,
) -> anyhow::Result<Latencies> {
    let mut conn = Conn::open(addr).await?;
    let (mut warm, mut cold, mut errors) = (Vec::new(), Vec::new(), 0);
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(&rank) = sequence.get(i) else { break };
        let t = &tenants[rank];
        // Latency counts from when the request was due (a worker behind schedule is not let
        // off), except the up to 1 ms by which tokio's millisecond timer wheel rounds a sleep up:
        // that is the load generator's, not the server's.
        let due = match pace {
            Some(rate) => {
                let due = started + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
                Instant::now().min(due + TIMER_TICK)
            }
            None => Instant::now(),
        };
        let was_cold = !pools.has_pool(t.id);
        match conn.get(&t.target.path, &t.target.token).await {
            Ok((s, _)) if s.is_success() => {
                if was_cold { &mut cold } else { &mut warm }.push(due.elapsed())
            }
            Ok((s, body)) => {
                if errors == 0 {
                    eprintln!("bench scale: {s}: {}", String::from_utf8_lossy(&body));
                }
                errors += 1;
            }
            Err(e) => {
                errors += 1;
                eprintln!("bench scale: {e}");
                conn = Conn::open(addr).await?;
            }
        }
    }
    Ok((warm, cold, errors))
}
