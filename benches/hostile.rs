//! Memory benchmark: the harness's own peak resident set (`VmHWM`, which it
//! writes at exit under `CLN_HARNESS_SELF_STATS`) while hostile plugins
//! flood it.
//!
//! ```sh
//! cargo bench --bench hostile                  # the goals below, 3 runs each
//! BENCH_ITERS=5 cargo bench --bench hostile
//! ```
//!
//! Cases, all from `fixtures/plugins/hostile/hostile.py`:
//!
//! - **flood**: 200 MiB of valid `log` notifications after init
//!   (`--handshake-only`). Goals: peak RSS at most 64 MiB, and at least
//!   50 MB/s consumed (wall time end to end, start-up included).
//! - **endless-string**: a getmanifest answer whose string never closes,
//!   under `--max-pending-mib 64`. Goal: at most the cap + 64 MiB.
//! - **endless-array**: the same with `[1,{},1,{},…`, whose tokens count
//!   against the cap. Goal: at most the cap + 64 MiB.
//!
//! Each run also prints its wall time and the verdict, and the benchmark
//! fails if a goal is missed. The Python plugin runs under
//! `$CLN_HARNESS_PYTHON`, else `python3`. Without `--bench` (e.g. `cargo
//! test --benches`) each case runs once at a small size, as a smoke test.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Case {
    name: &'static str,
    attack: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    goal_mib: u64,
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let iters: usize = if bench { std::env::var("BENCH_ITERS").ok().and_then(|n| n.parse().ok()).unwrap_or(3) } else { 1 };
    let (flood_mb, cap_mib) = if bench { (200, 64) } else { (8, 8) };
    let cases = [
        Case {
            name: "flood",
            attack: "flood",
            args: vec!["--handshake-only".into(), "--timeout".into(), "300".into()],
            env: vec![("HOSTILE_MB", flood_mb.to_string())],
            goal_mib: 64,
        },
        Case {
            name: "endless-string",
            attack: "endless-string",
            args: vec!["--max-pending-mib".into(), cap_mib.to_string(), "--timeout".into(), "300".into()],
            env: vec![],
            goal_mib: cap_mib + 64,
        },
        Case {
            name: "endless-array",
            attack: "endless-array",
            args: vec!["--max-pending-mib".into(), cap_mib.to_string(), "--timeout".into(), "300".into()],
            env: vec![],
            goal_mib: cap_mib + 64,
        },
    ];
    let python = std::env::var("CLN_HARNESS_PYTHON").unwrap_or_else(|_| "python3".into());
    let plugin = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/plugins/hostile/hostile.py");
    println!("{:<16} {:>6} {:>12} {:>10} {:>10}  verdict", "case", "run", "VmHWM MiB", "goal MiB", "wall s");
    let mut missed = Vec::new();
    for case in &cases {
        for i in 0..iters {
            let stats_dir = tempfile::tempdir().expect("a temporary directory");
            let stats = stats_dir.path().join("stats");
            let started = Instant::now();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_cln-harness"));
            cmd.arg("run")
                .args(&case.args)
                .args(["--format", "json", "--"])
                .arg(&python)
                .arg(&plugin)
                .env("CLN_HARNESS_HOSTILE", case.attack)
                .env("CLN_HARNESS_SELF_STATS", &stats)
                .stdin(Stdio::null())
                .stderr(Stdio::inherit());
            for (k, v) in &case.env {
                cmd.env(k, v);
            }
            let out = cmd.output().expect("cln-harness runs");
            let wall = started.elapsed();
            let hwm_kib: u64 = std::fs::read_to_string(&stats)
                .ok()
                .and_then(|s| s.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
                .unwrap_or_else(|| panic!("{}: no VmHWM written; exit {:?}", case.name, out.status));
            let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            let verdict = report["runs"][0]["verdict"]["verdict"].as_str().unwrap_or("?").to_owned();
            let mib = hwm_kib as f64 / 1024.0;
            println!("{:<16} {:>6} {:>12.1} {:>10} {:>10.2}  {verdict}", case.name, i + 1, mib, case.goal_mib, secs(wall));
            if case.name == "flood" {
                // Start-up and the end of the run included: a lower bound.
                let rate = flood_mb as f64 / secs(wall);
                println!("{:<16} {:>6} {rate:>12.1} MB/s of log notifications consumed (goal 50; wall time includes start-up)", "", "");
                if bench && rate < 50.0 {
                    println!("{:<16} {:>6} GOAL MISSED", "", "");
                }
            }
            if mib > case.goal_mib as f64 {
                missed.push(format!("{} run {}: {mib:.1} MiB > {} MiB", case.name, i + 1, case.goal_mib));
            }
        }
    }
    assert!(missed.is_empty(), "memory goals missed: {missed:?}");
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
