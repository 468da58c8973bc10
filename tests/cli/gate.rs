//! `ci/gate.sh`, the script the GitHub Action and the GitLab job run.

use crate::{fixture, root, Run};

fn gate(defect: &str, args: &str, summary: Option<&std::path::Path>) -> (Run, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = std::process::Command::new("bash");
    c.arg(root().join("ci/gate.sh"))
        .current_dir(dir.path())
        .env("CLN_HARNESS_BIN", assert_cmd::cargo::cargo_bin("cln-harness"))
        .env("CLN_HARNESS_PLUGIN", serde_json::json!(["python3", fixture("misbehave.py")]).to_string())
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
    let profiles = cln_harness::Profile::names().len();
    assert_eq!(quick_junit::Report::deserialize_from_str(&junit).unwrap().test_suites.len(), profiles);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("cln-harness-reports/cln-harness.json")).unwrap()).unwrap();
    assert_eq!(json["runs"].as_array().unwrap().len(), profiles);

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

/// A directory whose name holds a space, with a copy of the sample plugin.
fn spaced_plugin() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::Builder::new().prefix("gate plugin ").tempdir().unwrap();
    let plugin = dir.path().join("my plugin.py");
    std::fs::copy(fixture("sample.py"), &plugin).unwrap();
    (dir, plugin)
}

fn gate_cmd(dir: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new("bash");
    c.arg(root().join("ci/gate.sh"))
        .current_dir(dir)
        .env("CLN_HARNESS_BIN", assert_cmd::cargo::cargo_bin("cln-harness"))
        .env("NO_COLOR", "1")
        .env_remove("CLN_HARNESS_PLUGIN")
        .env_remove("CLN_HARNESS_ARGS")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    c
}

#[test]
fn gate_never_splits_the_plugin_command() {
    let (dir, plugin) = spaced_plugin();
    // As a JSON array (the Action's input), and as arguments (the GitLab job).
    let json = serde_json::json!(["python3", plugin]).to_string();
    let run = Run::from(
        gate_cmd(dir.path()).env("CLN_HARNESS_PLUGIN", &json).env("CLN_HARNESS_ARGS", r#"["--handshake-only"]"#).output().unwrap(),
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("my plugin.py"), "{}", run.stdout);
    let run = Run::from(gate_cmd(dir.path()).env("CLN_HARNESS_ARGS", "--handshake-only").arg("python3").arg(&plugin).output().unwrap());
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // One path with a space is one path.
    std::fs::set_permissions(&plugin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let run =
        Run::from(gate_cmd(dir.path()).env("CLN_HARNESS_PLUGIN", &plugin).env("CLN_HARNESS_ARGS", "--handshake-only").output().unwrap());
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

#[test]
fn gate_refuses_a_plugin_array_that_is_not_one() {
    let dir = tempfile::tempdir().unwrap();
    let run = Run::from(gate_cmd(dir.path()).env("CLN_HARNESS_PLUGIN", r#"["python3", 5]"#).output().unwrap());
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("CLN_HARNESS_PLUGIN is not a JSON array of strings"), "{}", run.stderr);
    let run = Run::from(gate_cmd(dir.path()).output().unwrap());
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no plugin"), "{}", run.stderr);
}

fn install(dir: &std::path::Path, from: &str) -> Run {
    let out = std::process::Command::new("bash")
        .arg(root().join("ci/install.sh"))
        .env("CLN_HARNESS_INSTALL_DIR", dir)
        .env("CLN_HARNESS_INSTALL_FROM", from)
        .env_remove("CLN_HARNESS_VERSION")
        .env_remove("GITHUB_OUTPUT")
        .output()
        .unwrap();
    Run::from(out)
}

#[test]
fn install_takes_a_cached_binary_of_the_right_version_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("bin")).unwrap();
    let bin = dir.path().join("bin/cln-harness");
    // Nothing cached: the cache alone cannot install it.
    let run = install(dir.path(), "cache");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("could not install cln-harness 0.1.0"), "{}", run.stderr);
    // A cached binary of this version is used as it is.
    std::os::unix::fs::symlink(assert_cmd::cargo::cargo_bin("cln-harness"), &bin).unwrap();
    let run = install(dir.path(), "cache");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), bin.display().to_string());
    // Another version is not.
    std::fs::remove_file(&bin).unwrap();
    std::fs::write(&bin, "#!/bin/sh\necho cln-harness 0.0.9\n").unwrap();
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    assert_eq!(install(dir.path(), "cache").code, 1);
    assert_eq!(install(dir.path(), "nowhere").code, 2);
}

#[test]
fn ci_files_can_be_copied_unchanged() {
    let action = std::fs::read_to_string(root().join("ci/action.yml")).unwrap();
    // One artifact per matrix job: upload-artifact refuses a second one of the same name.
    assert!(action.contains("strategy.job-index"), "artifact names are unique per matrix job");
    // The binary comes from the cache, else a wheel, else cargo.
    assert!(action.contains("actions/cache@") && action.contains("install.sh"));
    for file in ["ci/action.yml", "ci/examples/github-workflow.yml", "ci/examples/gitlab-ci.yml"] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        let undefined_repo = text
            .match_indices("CLN_HARNESS_REPO")
            .any(|(i, m)| text[i + m.len()..].chars().next().is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_')));
        assert!(!text.contains("OWNER/") && !undefined_repo, "{file} points at a placeholder");
    }
    // The GitLab job uses only variables it defines, or GitLab's own.
    let gitlab = std::fs::read_to_string(root().join("ci/examples/gitlab-ci.yml")).unwrap();
    for used in gitlab.split('$').skip(1) {
        let name: String = used.trim_start_matches('{').chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        assert!(name.starts_with("CI_") || gitlab.contains(&format!("{name}:")), "gitlab-ci.yml uses ${name} without defining it");
    }
    // The version the Action and the GitLab job install by default is this one.
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        action.contains(&format!("else {version}")) && action.contains(&format!(":-{version}}}")),
        "ci/action.yml defaults to {version}"
    );
    assert!(gitlab.contains(&format!("CLN_HARNESS_VERSION: \"{version}\"")), "gitlab-ci.yml installs {version}");
}
