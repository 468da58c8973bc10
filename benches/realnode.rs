//! Side by side: the same plugin judged by cln-harness and started by a
//! real lightningd.
//!
//! ```sh
//! cargo bench --bench realnode                 # 5 iterations per mode and release
//! BENCH_ITERS=11 cargo bench --bench realnode
//! ```
//!
//! The plugin is the bundled `fixtures/plugins/sample.py`, which logs
//! `node <id>` while handling `init`. Releases: every build under
//! `$CLN_HARNESS_LIGHTNINGD_BUILDS` (default `target/lightningd/`, as
//! `ci/test.sh` unpacks them) that has a harness profile; none, and the
//! benchmark says so and stops.
//!
//! Four modes, interleaved (noise on a shared machine comes in bursts; run
//! in blocks, a burst would land on one mode only):
//!
//! - **harness init**: `Harness::handshake_only(true).settle(0)`, spawn to
//!   the plugin's exit after its `init` answer was judged.
//! - **node init**: lightningd spawned with the harness's backend and the
//!   plugin, until the plugin's `node <id>` line (written while it handles
//!   `init`) is in the node's log; then the node is killed. The log is
//!   polled every 5 ms, so this is up to 5 ms late.
//! - **harness full**: the default run (notifications with their quiet
//!   windows, framing and robust checks, shutdown).
//! - **node full**: lightningd spawned with the plugin; when ready it
//!   connects to a peer node (started once, before timing) and disconnects,
//!   then `stop`, until lightningd has exited.
//!
//! Printed: the median (and min–max) of each mode, and the node/harness
//! ratio of the medians. Every wait has a deadline.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cln_harness::lightningd::{Build, Node, NodeOptions, Started};
use cln_harness::Harness;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let iters: usize = if bench { std::env::var("BENCH_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(5) } else { 1 };
    let dir = std::env::var_os("CLN_HARNESS_LIGHTNINGD_BUILDS").map(PathBuf::from).unwrap_or_else(|| root().join("target/lightningd"));
    let mut builds: Vec<Build> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("lightningd/lightningd"))
        .filter(|p| p.is_file())
        .filter_map(|p| Build::at(&p).ok())
        .filter(|b| b.profile().is_some())
        .collect();
    builds.sort_by(|a, b| b.version.cmp(&a.version));
    if builds.is_empty() {
        println!("no lightningd build with a profile under {}: run ci/unpack-lightningd.sh", dir.display());
        return;
    }
    let plugin = root().join("fixtures/plugins/sample.py");
    let work = tempfile::tempdir().expect("a temporary directory");
    let backend = cln_harness::backend::write_wrapper(work.path(), &PathBuf::from(env!("CARGO_BIN_EXE_cln-harness"))).expect("backend script");

    for b in &builds {
        let profile = b.profile().unwrap();
        let mut peer = Node::start(b, &backend, &NodeOptions::default()).expect("peer starts");
        assert!(matches!(peer.wait_ready(Instant::now() + Duration::from_secs(60)), Started::Ready), "peer ready");
        let peer_id = peer.id(Instant::now() + Duration::from_secs(10)).expect("peer id");
        let (mut hi, mut ni, mut hf, mut nf) = (vec![], vec![], vec![], vec![]);
        for _ in 0..iters {
            let t = Instant::now();
            let r = Harness::new(&plugin).profile(&profile).settle(Duration::ZERO).handshake_only(true).run().expect("harness runs");
            assert!(!r.failed(), "{:?}", r.failures());
            hi.push(t.elapsed().as_secs_f64() * 1e3);

            let opts = NodeOptions { plugins: vec![plugin.clone()], ..Default::default() };
            let t = Instant::now();
            let mut node = Node::start(b, &backend, &opts).expect("node starts");
            let deadline = Instant::now() + Duration::from_secs(60);
            while !node.log().contains("plugin-sample.py: node ") {
                assert!(Instant::now() < deadline && node.exited().is_none(), "{}: the plugin never logged its init:\n{}", b.version, node.log());
                std::thread::sleep(Duration::from_millis(5));
            }
            ni.push(t.elapsed().as_secs_f64() * 1e3);
            drop(node);

            let t = Instant::now();
            let r = Harness::new(&plugin).profile(&profile).run().expect("harness runs");
            assert!(!r.failed(), "{:?}", r.failures());
            hf.push(t.elapsed().as_secs_f64() * 1e3);

            let t = Instant::now();
            let mut node = Node::start(b, &backend, &opts).expect("node starts");
            assert!(matches!(node.wait_ready(Instant::now() + Duration::from_secs(60)), Started::Ready), "node ready");
            let d = || Instant::now() + Duration::from_secs(10);
            node.rpc("connect", serde_json::json!({"id": peer_id, "host": "127.0.0.1", "port": peer.port}), d()).expect("connect");
            node.rpc("disconnect", serde_json::json!({"id": peer_id, "force": true}), d()).expect("disconnect");
            let status = node.stop(Instant::now() + Duration::from_secs(40));
            assert!(status.is_some_and(|s| s.success()), "{}: stop: {status:?}", b.version);
            nf.push(t.elapsed().as_secs_f64() * 1e3);
        }
        peer.stop(Instant::now() + Duration::from_secs(40));
        let line = |name: &str, v: &mut Vec<f64>| {
            let m = median(v);
            println!("  {name:<14} median {m:>8.1} ms  (min {:.1}, max {:.1}, n={})", v[0], v[v.len() - 1], v.len());
            m
        };
        println!("{} (profile {profile}), plugin fixtures/plugins/sample.py:", b.version);
        let a = line("harness init", &mut hi);
        let c = line("node init", &mut ni);
        let e = line("harness full", &mut hf);
        let f = line("node full", &mut nf);
        println!("  node/harness: init {:.1}x, full cycle {:.2}x", c / a, f / e);
    }
}
