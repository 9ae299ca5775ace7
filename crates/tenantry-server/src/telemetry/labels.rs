//! The `tenant` label of request metrics, with bounded cardinality: the `top` busiest tenants get
//! their own value, every other tenant is `other`.
//!
//! Requests are counted per tenant over a window. When a window ends, the tenants with the most
//! requests in it (ties by code) hold the labels for the next window; while fewer than `top`
//! tenants hold one (at start), the first tenants seen get one. So at most `top` tenant values are
//! written per window. A tenant that loses its label stops updating its series, which then leave
//! the exporter after its idle timeout (see `telemetry::Metrics`).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tenantry::tenant::TenantCode;

/// The label value of every tenant without a label of its own.
pub const OTHER: &str = "other";

pub struct TenantLabels {
    top: usize,
    window: Duration,
    /// A std mutex: held for one hash-map update per request, never across an `.await`.
    state: Mutex<State>,
}

struct State {
    labelled: HashSet<TenantCode>,
    /// Requests per tenant in the current window (only tenants that exist: the tenant layer
    /// names a tenant only once the registry found it, so this is bounded by the registry).
    counts: HashMap<TenantCode, u64>,
    window_start: Instant,
}

impl TenantLabels {
    pub fn new(top: usize, window: Duration) -> Self {
        Self {
            top,
            window,
            state: Mutex::new(State {
                labelled: HashSet::new(),
                counts: HashMap::new(),
                window_start: Instant::now(),
            }),
        }
    }

    /// Counts one request of `code` and answers its label value.
    pub fn label(&self, code: &TenantCode) -> String {
        self.label_at(code, Instant::now())
    }

    fn label_at(&self, code: &TenantCode, now: Instant) -> String {
        let mut s = self.state.lock().expect("tenant label mutex poisoned");
        if now.duration_since(s.window_start) >= self.window {
            s.rerank(self.top, now);
        }
        match s.counts.get_mut(code) {
            Some(n) => *n += 1,
            None => {
                s.counts.insert(code.clone(), 1);
            }
        }
        if s.labelled.contains(code) {
            return code.to_string();
        }
        if s.labelled.len() < self.top {
            s.labelled.insert(code.clone());
            return code.to_string();
        }
        OTHER.to_owned()
    }
}

impl State {
    /// The busiest `top` tenants of the window ending now hold the labels next; when fewer than
    /// `top` had traffic, earlier holders keep theirs.
    fn rerank(&mut self, top: usize, now: Instant) {
        let mut busiest: Vec<(&TenantCode, u64)> =
            self.counts.iter().map(|(c, n)| (c, *n)).collect();
        busiest.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let mut next: HashSet<TenantCode> = busiest
            .iter()
            .take(top)
            .map(|(c, _)| (*c).clone())
            .collect();
        let mut keep: Vec<&TenantCode> = self
            .labelled
            .iter()
            .filter(|c| !next.contains(*c))
            .collect();
        keep.sort();
        let room = top.saturating_sub(next.len());
        next.extend(keep.into_iter().take(room).cloned());
        self.labelled = next;
        self.counts.clear();
        self.window_start = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> TenantCode {
        TenantCode::parse(s).unwrap()
    }

    #[test]
    fn first_tenants_get_labels_until_the_top_is_full() {
        let l = TenantLabels::new(2, Duration::from_secs(60));
        assert_eq!(l.label(&code("AA")), "AA");
        assert_eq!(l.label(&code("BB")), "BB");
        assert_eq!(l.label(&code("CC")), OTHER);
        assert_eq!(l.label(&code("AA")), "AA");
    }

    #[test]
    fn busiest_tenants_of_a_window_hold_the_labels_of_the_next() {
        let l = TenantLabels::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        for (c, n) in [("AA", 1), ("BB", 1), ("CC", 5), ("DD", 3)] {
            for _ in 0..n {
                l.label_at(&code(c), t0);
            }
        }
        let later = t0 + Duration::from_secs(61);
        assert_eq!(
            l.label_at(&code("AA"), later),
            OTHER,
            "quiet tenant lost its label"
        );
        assert_eq!(l.label_at(&code("CC"), later), "CC");
        assert_eq!(l.label_at(&code("DD"), later), "DD");
        assert_eq!(l.label_at(&code("BB"), later), OTHER);
    }

    #[test]
    fn holders_keep_their_labels_when_few_tenants_had_traffic() {
        let l = TenantLabels::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        l.label_at(&code("AA"), t0);
        l.label_at(&code("BB"), t0);
        // Next window: only BB is busy; the one after: AA keeps its label (room was left).
        let t1 = t0 + Duration::from_secs(61);
        assert_eq!(l.label_at(&code("BB"), t1), "BB");
        let t2 = t1 + Duration::from_secs(61);
        assert_eq!(l.label_at(&code("AA"), t2), "AA");
        assert_eq!(l.label_at(&code("CC"), t2), OTHER);
    }

    #[test]
    fn top_of_zero_labels_nobody() {
        let l = TenantLabels::new(0, Duration::from_secs(60));
        assert_eq!(l.label(&code("AA")), OTHER);
    }
}
