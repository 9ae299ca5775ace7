//! What the machine's cores did over a timed pass: how busy they were and how long the hypervisor
//! gave them to another guest (*steal*, from `/proc/stat`), and the longest a core kept waiting a
//! thread that asked to run every millisecond (a *stall*). A core the host stops stops every thread
//! on it, the database servers' included, and the requests waiting on them, so a pass with a long
//! stall shows a tail the software did not cause; the bench prints both beside the latencies so a
//! reader can tell the two apart.

use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Ticks per second of `/proc/stat` (`USER_HZ`, 100 on every Linux architecture tenantry builds
/// for).
const TICKS_PER_SECOND: f64 = 100.0;

/// The cores' time over one pass, all cores together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct HostCpu {
    /// Share of the cores' time spent running something (user, system, interrupts), 0 to 1.
    pub busy_share: f64,
    /// Time the hypervisor ran something else on this machine's virtual cores, milliseconds
    /// summed over the cores.
    pub steal_ms: f64,
    /// Longest a core kept a pinned watch thread, due every millisecond, waiting past its tick.
    /// Under the bench's own load on a 2-core VM it read 7–31 ms (a thread that wakes may wait for
    /// the running ones' time slices); far more means the core itself stopped.
    pub longest_stall_ms: f64,
}

impl HostCpu {
    /// `58% / 170 / 12.3` (busy share / steal ms / longest stall ms), for the tables.
    pub fn cell(&self) -> String {
        format!(
            "{:.0}% / {:.0} / {:.1}",
            self.busy_share * 100.0,
            self.steal_ms,
            self.longest_stall_ms
        )
    }
}

/// Cumulative tick counters, read at the start of a pass.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CpuTicks {
    busy: u64,
    idle: u64,
    steal: u64,
}

impl CpuTicks {
    /// The counters now; `None` where there is no `/proc/stat` (not Linux).
    fn now() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        Self::parse(stat.lines().next()?)
    }

    /// Parses the aggregate `cpu` line: user nice system idle iowait irq softirq steal ….
    fn parse(line: &str) -> Option<Self> {
        let mut fields = line.split_whitespace();
        if fields.next()? != "cpu" {
            return None;
        }
        let v: Vec<u64> = fields.map(|f| f.parse().ok()).collect::<Option<_>>()?;
        if v.len() < 4 {
            return None;
        }
        let at = |i: usize| v.get(i).copied().unwrap_or(0);
        Some(Self {
            busy: at(0) + at(1) + at(2) + at(5) + at(6),
            idle: at(3) + at(4),
            steal: at(7),
        })
    }

    /// What the cores did from `self` to `later`.
    fn until(self, later: Self) -> HostCpu {
        let busy = later.busy.saturating_sub(self.busy);
        let idle = later.idle.saturating_sub(self.idle);
        let steal = later.steal.saturating_sub(self.steal);
        let all = busy + idle + steal;
        HostCpu {
            busy_share: if all == 0 {
                0.0
            } else {
                busy as f64 / all as f64
            },
            steal_ms: steal as f64 * 1_000.0 / TICKS_PER_SECOND,
            longest_stall_ms: 0.0,
        }
    }
}

/// The cores' time over `pass` (zeros where it cannot be read).
pub async fn over<T>(pass: impl std::future::Future<Output = T>) -> (T, HostCpu) {
    let watch = StallWatch::start();
    let before = CpuTicks::now();
    let out = pass.await;
    let mut cpu = match (before, CpuTicks::now()) {
        (Some(b), Some(a)) => b.until(a),
        _ => HostCpu::default(),
    };
    cpu.longest_stall_ms = watch.stop().as_secs_f64() * 1_000.0;
    (out, cpu)
}

/// How often a watch thread asks to run.
const TICK: Duration = Duration::from_millis(1);

/// One thread per core, pinned to it (Linux; elsewhere unpinned), each sleeping [`TICK`] at a time
/// and keeping the longest it woke up late.
struct StallWatch {
    stop: Arc<AtomicBool>,
    /// Longest lateness seen, microseconds, over all the threads.
    worst_us: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl StallWatch {
    fn start() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let stop = Arc::new(AtomicBool::new(false));
        let worst_us = Arc::new(AtomicU64::new(0));
        let threads = (0..cores)
            .filter_map(|core| {
                let (stop, worst_us) = (stop.clone(), worst_us.clone());
                std::thread::Builder::new()
                    .name(format!("stall-watch-{core}"))
                    .stack_size(64 * 1024)
                    .spawn(move || {
                        pin_to(core);
                        while !stop.load(Ordering::Relaxed) {
                            let asked = Instant::now();
                            std::thread::sleep(TICK);
                            let late = asked.elapsed().saturating_sub(TICK);
                            worst_us.fetch_max(late.as_micros() as u64, Ordering::Relaxed);
                        }
                    })
                    .ok()
            })
            .collect();
        Self {
            stop,
            worst_us,
            threads,
        }
    }

    /// Stops the threads; the longest any of them woke up late.
    fn stop(self) -> Duration {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        Duration::from_micros(self.worst_us.load(Ordering::Relaxed))
    }
}

/// Keeps the calling thread on `core` (best effort: a core outside this process's set is refused,
/// and then the thread stays where the scheduler puts it).
#[cfg(target_os = "linux")]
fn pin_to(core: usize) {
    let mut set = rustix::thread::CpuSet::new();
    set.set(core);
    let _ = rustix::thread::sched_setaffinity(None, &set);
}

#[cfg(not(target_os = "linux"))]
fn pin_to(_core: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_busy_idle_and_steal_from_the_aggregate_line() {
        let t = CpuTicks::parse("cpu  57794 10 8721 52595 623 5 96 70 0 0").unwrap();
        assert_eq!(
            t,
            CpuTicks {
                busy: 57794 + 10 + 8721 + 5 + 96,
                idle: 52595 + 623,
                steal: 70
            }
        );
        // A per-core line or garbage is not the aggregate.
        assert!(CpuTicks::parse("cpu0 1 2 3 4 5 6 7 8").is_none());
        assert!(CpuTicks::parse("cpu 1 x 3 4").is_none());
        assert!(CpuTicks::parse("cpu 1 2").is_none());
    }

    #[test]
    fn a_pass_is_the_difference_of_two_readings() {
        let before = CpuTicks::parse("cpu 100 0 50 800 0 0 0 10").unwrap();
        let after = CpuTicks::parse("cpu 160 0 70 880 0 0 0 30").unwrap();
        let cpu = before.until(after);
        // 80 busy, 80 idle, 20 stolen ticks: 80 / 180 busy; 20 ticks = 200 ms.
        assert!((cpu.busy_share - 80.0 / 180.0).abs() < 1e-9, "{cpu:?}");
        assert_eq!(cpu.steal_ms, 200.0);
        assert_eq!(cpu.cell(), "44% / 200 / 0.0");
        // No time passed: nothing busy, nothing stolen.
        assert_eq!(before.until(before), HostCpu::default());
    }
}
