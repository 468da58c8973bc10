//! `cln-harness fuzz` and `replay`: from a fixed seed the fuzzer finds each
//! fragile reader within a bounded number of cases and shrinks it to the
//! minimal schedule; the saved schedule replays deterministically.

use crate::{fixture, harness, Run};

fn fuzz(defect: &str, extra: &[&str], file: &std::path::Path) -> Run {
    Run::from(
        harness()
            .args(["fuzz", "--seed", "7", "--cases", "64", "--regressions"])
            .arg(file)
            .args(extra)
            .arg(fixture("misbehave.py"))
            .env("CLN_HARNESS_DEFECT", defect)
            .output()
            .unwrap(),
    )
}

fn minimal(run: &Run) -> &str {
    run.stdout
        .lines()
        .find(|l| l.starts_with("minimal failing schedule:"))
        .unwrap_or_else(|| panic!("no failure found:\n{}\n{}", run.stdout, run.stderr))
}

#[test]
fn finds_and_shrinks_each_fragile_reader() {
    let dir = tempfile::tempdir().unwrap();
    for (defect, extra, want, message) in [
        ("split-fragile", &[][..], "1 message(s), 2 write(s)", "'connect' notification"),
        ("coalesce-fragile", &[][..], "2 message(s), 1 write(s)", "'connect' notification"),
        ("huge-fragile", &[][..], "1 message(s), 1 write(s)", "'connect' notification grown to 2.5 MiB"),
        ("die-on-invalid-json", &["--strict"][..], "1 message(s), 1 write(s)", "a frame that is not JSON"),
    ] {
        let file = dir.path().join(format!("{defect}.jsonl"));
        let run = fuzz(defect, extra, &file);
        assert_eq!(run.code, 1, "{defect}: {}\n{}", run.stdout, run.stderr);
        // Whether a pause survives shrinking depends on the machine's load:
        // the messages and writes are what is minimal.
        assert!(minimal(&run).starts_with(&format!("minimal failing schedule: {want}, ")), "{defect}: {}", run.stdout);
        assert!(run.stdout.contains(&format!("  message 1: {message}\n")), "{defect}: {}", run.stdout);
        let cases: u64 = run.stdout.lines().find_map(|l| l.split(" cases in ").next()?.parse().ok()).unwrap();
        assert!(cases <= 64, "{defect}: found within the budget");

        // The saved schedule fails again, deterministically.
        let again = Run::from(harness().arg("replay").arg(&file).env("CLN_HARNESS_DEFECT", defect).output().unwrap());
        assert_eq!(again.code, 1, "{defect}: {}", again.stdout);
        assert!(again.stdout.contains("reproduced: "), "{}", again.stdout);
        // Fixed, it no longer fails.
        let fixed = Run::from(harness().arg("replay").arg(&file).env("CLN_HARNESS_DEFECT", "").output().unwrap());
        assert_eq!(fixed.code, 0, "{defect}: {}", fixed.stdout);
        assert!(fixed.stdout.contains("no longer fails"));
    }
}

#[test]
fn a_correct_plugin_survives_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let run = fuzz("", &["--strict"], &dir.path().join("r.jsonl"));
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("64 cases in") && run.stdout.contains("no failure"), "{}", run.stdout);
    assert!(!dir.path().join("r.jsonl").exists());
}

#[test]
fn replay_of_a_missing_file_is_a_usage_error() {
    let run = Run::from(harness().args(["replay", "/no/such/file.jsonl"]).output().unwrap());
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("/no/such/file.jsonl"), "{}", run.stderr);
}
