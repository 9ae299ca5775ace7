//! `tenantry bench …` runs end to end at tiny scale (no timing assertions: benchmarks report,
//! tests don't time).

use std::process::Command;

/// Runs the binary with `args`; asserts it exits 0 and returns its stdout.
fn tenantry(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .args(args)
        .env_remove("TENANTRY_CONFIG")
        .env("TENANTRY_LOG", "warn")
        .output()
        .expect("cannot run the tenantry binary");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "tenantry {args:?} failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Lines of `table` whose first column is `first`.
fn rows_starting_with<'a>(table: &'a str, first: &str) -> Vec<&'a str> {
    table
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(first))
        .collect()
}

#[test]
fn provision_bench_prints_one_row_per_engine() {
    let out = tenantry(&[
        "bench",
        "provision",
        "--tenants",
        "2",
        "--engines",
        "sqlite,postgres",
    ]);
    for header in [
        "ENGINE", "TENANTS", "P50 MS", "P95 MS", "MAX MS", "TOTAL S", "TARGET",
    ] {
        assert!(out.contains(header), "no {header:?} header in:\n{out}");
    }
    for engine in ["sqlite", "postgres"] {
        let rows = rows_starting_with(&out, engine);
        assert_eq!(rows.len(), 1, "want one {engine} row in:\n{out}");
        assert_eq!(rows[0].split_whitespace().nth(1), Some("2"), "{out}");
    }
}

#[test]
fn migrate_bench_prints_a_first_and_a_noop_row() {
    let out = tenantry(&["bench", "migrate", "--tenants", "5", "--concurrency", "2"]);
    for header in [
        "RUN",
        "TENANTS",
        "CONCURRENCY",
        "TOTAL S",
        "TENANTS/S",
        "TARGET",
    ] {
        assert!(out.contains(header), "no {header:?} header in:\n{out}");
    }
    for run in ["first", "no-op"] {
        let rows = rows_starting_with(&out, run);
        assert_eq!(rows.len(), 1, "want one {run} row in:\n{out}");
        let cells: Vec<&str> = rows[0].split_whitespace().collect();
        assert_eq!(cells.get(1..3), Some(&["5", "2"][..]), "{out}");
    }
}
