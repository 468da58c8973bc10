//! Manifest snapshots: written by `snapshot`, compared by `run --snapshot`,
//! accepted by `--update-snapshots`.

use crate::{fixture, harness, root, Run};

fn run(defect: &str, args: &[&str]) -> Run {
    Run::from(harness().args(["run", "-v"]).args(args).arg(fixture("misbehave.py")).env("CLN_HARNESS_DEFECT", defect).output().unwrap())
}

#[test]
fn unchanged_surface_passes_and_a_changed_one_fails_with_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    let out = Run::from(harness().args(["snapshot", "--snapshot-dir"]).arg(dir.path()).arg(fixture("misbehave.py")).output().unwrap());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let snap = dir.path().join("misbehave.snap");
    let s = snap.to_str().unwrap();
    assert_eq!(run("", &["--snapshot", s]).check("snapshot/surface").unwrap().0, "PASS");

    let changed = run("subscribe-shutdown", &["--snapshot", s]);
    assert_eq!(changed.code, 1);
    assert!(changed.stdout.contains("+    \"shutdown\""), "{}", changed.stdout);

    let updated = run("subscribe-shutdown", &["--snapshot", s, "--update-snapshots"]);
    assert_eq!(updated.code, 0, "{}", updated.stdout);
    assert_eq!(updated.check("snapshot/surface").unwrap().0, "WARN");
    assert_eq!(run("subscribe-shutdown", &["--snapshot", s]).check("snapshot/surface").unwrap().0, "PASS");
}

#[test]
fn committed_snapshot_of_the_sample_plugin_is_current() {
    let snap = root().join("snapshots/misbehave.snap");
    let r = run("", &["--snapshot", snap.to_str().unwrap()]);
    assert_eq!(r.check("snapshot/surface").unwrap().0, "PASS", "{}", r.stdout);
}
