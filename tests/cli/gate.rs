//! `ci/gate.sh`, the script the GitHub Action and the GitLab job run.

use crate::{fixture, root, Run};

fn gate(defect: &str, args: &str, summary: Option<&std::path::Path>) -> (Run, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = std::process::Command::new("bash");
    c.arg(root().join("ci/gate.sh"))
        .current_dir(dir.path())
        .env("CLN_HARNESS_BIN", assert_cmd::cargo::cargo_bin("cln-harness"))
        .env("CLN_HARNESS_PLUGIN", format!("python3 {}", fixture("misbehave.py").display()))
        .env("CLN_HARNESS_ARGS", args)
        .env("CLN_HARNESS_DEFECT", defect)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    if let Some(s) = summary {
        c.env("GITHUB_STEP_SUMMARY", s);
    }
    (Run::from(c.output().unwrap()), dir)
}

#[test]
fn gate_passes_exit_codes_through_and_writes_both_reports() {
    let (ok, dir) = gate("", "--cln-version all", None);
    assert_eq!(ok.code, 0, "{}\n{}", ok.stdout, ok.stderr);
    let junit = std::fs::read_to_string(dir.path().join("cln-harness-reports/cln-harness.junit.xml")).unwrap();
    assert_eq!(quick_junit::Report::deserialize_from_str(&junit).unwrap().test_suites.len(), 2);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("cln-harness-reports/cln-harness.json")).unwrap()).unwrap();
    assert_eq!(json["runs"].as_array().unwrap().len(), 2);

    let (bad, _dir) = gate("dynamic-string", "", None);
    assert_eq!(bad.code, 1);
    let (usage, _dir) = gate("", "--no-such-flag", None);
    assert_eq!(usage.code, 2);
}

#[test]
fn gate_writes_a_step_summary() {
    let out = tempfile::NamedTempFile::new().unwrap();
    let (run, _dir) = gate("dynamic-string", "", Some(out.path()));
    assert_eq!(run.code, 1);
    let summary = std::fs::read_to_string(out.path()).unwrap();
    assert!(summary.starts_with("### cln-harness: failed: a check failed"), "{summary}");
}
