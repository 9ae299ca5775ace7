//! Counts of what the platform did since start, for metrics: every audited operation by action
//! and outcome (provisioning among them), and every tenant a fleet migration visited by outcome.
//! Counted where the audit row is written, so no operation can be missed.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// The platform's counters. Std mutexes: held for one map update, never across an `.await`;
/// operations are rare next to requests, so contention is not a concern.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// (action, outcome) → operations.
    operations: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Migration outcome (`migrated`, `current`, `skipped`, `failed`) → tenants.
    migrations: Mutex<BTreeMap<&'static str, u64>>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// `(action, outcome, count)`, e.g. `("tenant.provision", "ok", 3)`.
    pub operations: Vec<(&'static str, &'static str, u64)>,
    /// `(outcome, count)` of tenants visited by fleet migrations.
    pub migrations: Vec<(&'static str, u64)>,
}

impl Counters {
    pub fn operation(&self, action: &'static str, outcome: &'static str) {
        let mut map = self.operations.lock().expect("counter mutex poisoned");
        *map.entry((action, outcome)).or_default() += 1;
    }

    pub fn migration(&self, outcome: &'static str, n: u64) {
        if n == 0 {
            return;
        }
        let mut map = self.migrations.lock().expect("counter mutex poisoned");
        *map.entry(outcome).or_default() += n;
    }

    pub fn snapshot(&self) -> CounterSnapshot {
        let ops = self.operations.lock().expect("counter mutex poisoned");
        let migrations = self.migrations.lock().expect("counter mutex poisoned");
        CounterSnapshot {
            operations: ops.iter().map(|(&(a, o), &n)| (a, o, n)).collect(),
            migrations: migrations.iter().map(|(&o, &n)| (o, n)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_counted_by_action_and_outcome() {
        let c = Counters::default();
        c.operation("tenant.provision", "ok");
        c.operation("tenant.provision", "ok");
        c.operation("tenant.provision", "failed");
        c.migration("migrated", 2);
        c.migration("failed", 0);
        let s = c.snapshot();
        assert_eq!(
            s.operations,
            vec![
                ("tenant.provision", "failed", 1),
                ("tenant.provision", "ok", 2)
            ]
        );
        assert_eq!(s.migrations, vec![("migrated", 2)]);
    }
}
