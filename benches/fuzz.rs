//! Fuzzing throughput: cases per second of `cln-harness fuzz` against the
//! raw Python fixture and the cln-plugin (Rust) fixture, with the same seed
//! and case budget, so the two numbers compare the plugins' framing cost,
//! not the machine's mood. Run: `cargo bench --bench fuzz`.

use std::path::PathBuf;
use std::time::Duration;

use cln_harness::fuzz::{fuzz, FuzzOptions};
use cln_harness::Harness;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Rust fixture: from `CLN_HARNESS_CLN_PLUGIN`, or the path
/// `ci/test.sh` builds it to.
fn rust_fixture() -> Option<PathBuf> {
    let p = std::env::var_os("CLN_HARNESS_CLN_PLUGIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/fixtures/release/cln-plugin-fixture"));
    p.is_file().then_some(p)
}

fn main() {
    let cases: u32 = std::env::var("BENCH_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let mut targets: Vec<(&str, Harness)> =
        vec![("raw Python (misbehave.py)", Harness::new("python3").arg(root().join("fixtures/plugins/misbehave.py")))];
    match rust_fixture() {
        Some(p) => targets.push(("cln-plugin (Rust)", Harness::new(p))),
        None => eprintln!("skipping the Rust fixture: build it with ci/test.sh, or set CLN_HARNESS_CLN_PLUGIN"),
    }
    println!("{:<28} {:>8} {:>10} {:>10} {:>9}", "plugin", "cases", "seconds", "cases/s", "restarts");
    for (name, h) in targets {
        let h = h.timeout(Duration::from_secs(5));
        let opts = FuzzOptions { cases, seed: 7, duration: None, strict: false };
        match fuzz(&h, &opts, &mut ()) {
            Ok(o) => {
                let secs = o.elapsed.as_secs_f64();
                println!("{name:<28} {:>8} {secs:>10.2} {:>10.1} {:>9}", o.cases_run, o.cases_run as f64 / secs, o.restarts);
                if let Some(f) = o.failure {
                    println!("  (found a failure: {})", f.reason);
                }
            }
            Err(e) => println!("{name:<28} error: {e}"),
        }
    }
}
