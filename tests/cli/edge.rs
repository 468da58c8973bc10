//! Errors at the edge: every usage error is found before the run starts,
//! exits 2 with one clear line (and a JSON error object under
//! `--format json`), and leaves no half-printed report or empty report file.

use crate::{fixture, harness, root, Run};

fn run(args: &[&str], plugin: &std::path::Path) -> Run {
    Run::from(harness().arg("run").args(args).arg(plugin).env_remove("GITHUB_ACTIONS").output().unwrap())
}

fn one_error_line(run: &Run) -> String {
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {}", run.stderr);
    assert!(lines[0].starts_with("error: "), "{}", run.stderr);
    lines[0].to_owned()
}

#[test]
fn a_bad_option_value_stops_before_anything_is_printed_or_written() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("reports/junit.xml");
    let r = run(&["-o", "retries=many", "--junit", junit.to_str().unwrap()], &fixture("misbehave.py"));
    assert_eq!(r.code, 2);
    assert_eq!(r.stdout, "", "no half-printed report");
    assert!(one_error_line(&r).contains("--retries=many: 'many' is not a number"), "{}", r.stderr);
    assert!(!junit.exists(), "no JUnit file saying zero tests");
}

#[test]
fn a_usage_error_under_format_json_is_a_json_error_object() {
    let r = run(&["--format", "json", "-o", "retries=many"], &fixture("misbehave.py"));
    assert_eq!(r.code, 2);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("a JSON document on stdout");
    assert_eq!(doc["runs"], serde_json::json!([]));
    assert!(doc["error"]["message"].as_str().unwrap().contains("'many' is not a number"), "{doc}");
    let text = std::fs::read_to_string(root().join("fixtures/schemas/report.schema.json")).unwrap();
    let schema = jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap();
    assert!(schema.is_valid(&doc), "the error document matches the report schema");
    // Also for errors found without the plugin's help.
    let r = run(&["--format", "json", "--cln-version", "v99.1"], &fixture("misbehave.py"));
    assert_eq!(r.code, 2);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(doc["error"]["message"].as_str().unwrap().contains("unknown profile 'v99.1'"), "{doc}");
}

#[test]
fn v23_02_words_a_bad_option_value_as_v23_02_did() {
    let r = run(&["--cln-version", "v23.02", "-o", "retries=many"], &fixture("misbehave.py"));
    assert_eq!(r.code, 2);
    assert!(one_error_line(&r).contains("--retries=many: many does not parse as type int"), "{}", r.stderr);
    // Under `all`, each profile's words: v26.06 is checked first.
    let r = run(&["--cln-version", "all", "-o", "retries=many"], &fixture("misbehave.py"));
    assert_eq!(r.code, 2);
    assert_eq!(r.stdout, "");
}

#[test]
fn a_directory_is_not_told_to_chmod() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(&[], dir.path());
    assert_eq!(r.code, 2);
    let line = one_error_line(&r);
    assert!(line.contains("is a directory: name the plugin file in it"), "{line}");
    assert!(!line.contains("chmod"), "{line}");
    assert_eq!(r.stdout, "");
}

#[test]
fn a_too_long_lightning_dir_is_named_not_sun_len() {
    let base = tempfile::tempdir().unwrap();
    let long = base.path().join("d".repeat(120));
    let r = run(&["--lightning-dir", long.to_str().unwrap()], &fixture("sample.py"));
    assert_eq!(r.code, 2);
    let line = one_error_line(&r);
    assert!(line.contains("is too long") && line.contains("pass a shorter --lightning-dir"), "{line}");
    assert!(!line.contains("SUN_LEN"), "{line}");
    assert_eq!(r.stdout, "");
}

#[test]
fn report_directories_are_created() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("reports/nested/cln-harness.json");
    let junit = dir.path().join("other/junit.xml");
    let r = run(&["--handshake-only", "--json", json.to_str().unwrap(), "--junit", junit.to_str().unwrap()], &fixture("sample.py"));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(json.is_file() && junit.is_file());
}

/// A plugin that answers getmanifest, and leaves a file behind if it is
/// ever sent init.
fn init_marker_plugin(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("marker.py");
    let marker = dir.join("init-received");
    std::fs::write(
        &p,
        format!(
            r#"#!/usr/bin/env python3
import json, sys
for line in sys.stdin:
    if not line.strip():
        continue
    msg = json.loads(line)
    if msg.get("method") == "getmanifest":
        out = {{"options": [], "rpcmethods": [], "dynamic": True}}
    elif msg.get("method") == "init":
        open({marker:?}, "w").close()
        out = {{}}
    else:
        continue
    sys.stdout.write(json.dumps({{"jsonrpc": "2.0", "id": msg["id"], "result": out}}) + "\n\n")
    sys.stdout.flush()
"#,
            marker = marker.display().to_string()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    p
}

#[test]
fn snapshot_stops_after_getmanifest() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = init_marker_plugin(dir.path());
    let snaps = dir.path().join("snaps");
    let r = Run::from(harness().arg("snapshot").arg(&plugin).arg("--snapshot-dir").arg(&snaps).output().unwrap());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(snaps.join("marker.py.snap").is_file() || std::fs::read_dir(&snaps).unwrap().count() == 1);
    assert!(!dir.path().join("init-received").exists(), "snapshot sent init");
    // The same plugin is sent init by a run: the marker can appear.
    let r = run(&["--handshake-only"], &plugin);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(dir.path().join("init-received").exists());
}

#[test]
fn version_names_the_profiles() {
    let r = Run::from(harness().arg("--version").output().unwrap());
    assert_eq!(r.code, 0);
    let mut lines = r.stdout.lines();
    assert_eq!(lines.next(), Some(format!("cln-harness {}", env!("CARGO_PKG_VERSION")).as_str()));
    let profiles = lines.next().unwrap();
    for p in cln_harness::Profile::names() {
        assert!(profiles.contains(&p), "{p} missing from {profiles}");
    }
    assert!(
        profiles.contains(&format!("{} (lightningd ", cln_harness::Profile::DEFAULT)) && profiles.contains("the default"),
        "{profiles}"
    );
}

#[test]
fn pyln_client_exits_fold_into_one_line_and_strict_still_fails_them() {
    let python = std::env::var_os("CLN_HARNESS_PYTHON").expect("CLN_HARNESS_PYTHON: a python with pyln-client (ci/test.sh sets it)");
    let plugin = fixture("tutorial_pyln.py");
    let r = Run::from(harness().args(["run", "--"]).arg(&python).arg(&plugin).output().unwrap());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("WARN robust/*") && r.stdout.contains("pyln-client exits on input lightningd never sends (7 checks"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("WARN robust/unknown-method"), "{}", r.stdout);
    // The JSON report names the library on each check.
    let r = Run::from(harness().args(["run", "--format", "json", "--"]).arg(&python).arg(&plugin).output().unwrap());
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let unknown = doc["runs"][0]["checks"].as_array().unwrap().iter().find(|c| c["id"] == "robust/unknown-method").unwrap().clone();
    assert_eq!((unknown["outcome"].as_str(), unknown["library"].as_str()), (Some("warn"), Some("pyln-client")), "{unknown}");
    // --strict fails them, each in full.
    let r = Run::from(harness().args(["run", "--strict", "--"]).arg(&python).arg(&plugin).output().unwrap());
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("FAIL robust/unknown-method"), "{}", r.stdout);
    // The raw plugin's own exits are not the library's.
    let r = run(&[], &fixture("tutorial_raw.py"));
    assert!(r.stdout.contains("WARN robust/unknown-method") && !r.stdout.contains("exits on input lightningd never sends"), "{}", r.stdout);
}

#[test]
fn quiet_prints_the_verdict_line_alone() {
    let r = run(&["-q", "--handshake-only"], &fixture("sample.py"));
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, "v26.06: lightningd would accept this plugin\n");
}

/// A run refused once its report files were opened (here the JUnit path is
/// a directory) leaves each path as it was: no empty JSON file, and an
/// earlier report not truncated.
#[test]
fn a_run_refused_after_its_files_are_opened_leaves_them_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("reports/cln-harness.json");
    let junit_dir = dir.path().join("a-directory");
    std::fs::create_dir(&junit_dir).unwrap();
    let args = ["--json", json.to_str().unwrap(), "--junit", junit_dir.to_str().unwrap()];
    let r = run(&args, &fixture("sample.py"));
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(one_error_line(&r).contains("a-directory"), "{}", r.stderr);
    assert!(!json.exists(), "an empty JSON report was left behind");
    std::fs::write(&json, "{\"earlier\": true}\n").unwrap();
    let r = run(&args, &fixture("sample.py"));
    assert_eq!(r.code, 2);
    assert_eq!(std::fs::read_to_string(&json).unwrap(), "{\"earlier\": true}\n", "the earlier report was cut");
    // A run that takes place replaces it whole.
    let r = run(&["--handshake-only", "--json", json.to_str().unwrap()], &fixture("sample.py"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["runs"].as_array().map(Vec::len), Some(1), "{doc}");
}

/// Runs the harness with stdout a pipe closed after its first line, as
/// `cln-harness run … | head -1` does: the exit code, and stderr.
fn with_stdout_closed_early(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    use std::io::{BufRead, Read};
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cln-harness"))
        .args(args)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(!first.is_empty(), "no first line");
    // The reader is dropped here: the pipe is closed.
    let mut stderr = String::new();
    let mut err = child.stderr.take().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the harness hung after its stdout was closed");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    err.read_to_string(&mut stderr).unwrap();
    (status.code().unwrap_or(-1), stderr)
}

/// A closed stdout is the reader's choice: the harness neither panics nor
/// turns it into its own error, and exits with the verdict's code.
#[test]
fn a_closed_stdout_keeps_the_verdicts_exit_code() {
    let plugin = fixture("misbehave.py");
    let plugin = plugin.to_str().unwrap();
    for (args, env, code) in [
        (vec!["run", plugin], vec![], 0),
        (vec!["run", "--timeout", "10", plugin], vec![("CLN_HARNESS_DEFECT", "crash-on-connect")], 1),
        (vec!["run", "--format", "json", plugin], vec![], 0),
        // Several releases: the compatibility matrix is printed at the end.
        (vec!["run", "--cln-version", "v26.04..", plugin], vec![], 0),
        (vec!["list"], vec![], 0),
    ] {
        let (got, stderr) = with_stdout_closed_early(&args, &env);
        assert_eq!(got, code, "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("error:"), "{args:?}: {stderr}");
    }
}

/// Several releases with one --lightning-dir run one after the other there:
/// each needs its lightning-rpc to itself.
#[test]
fn several_releases_share_a_lightning_dir_in_turn() {
    let dir = tempfile::tempdir().unwrap();
    let ld = dir.path().join("ld");
    std::fs::create_dir(&ld).unwrap();
    let json = dir.path().join("r.json");
    let r = run(
        &["--handshake-only", "--cln-version", "v26.04..", "--lightning-dir", ld.to_str().unwrap(), "--json", json.to_str().unwrap()],
        &fixture("sample.py"),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["runs"].as_array().map(Vec::len), Some(2), "{doc}");
    assert!(doc.get("error").is_none(), "{doc}");
}

/// A stdout that cannot take the output (a full disk) is the harness's
/// failure, unlike a reader that went away.
#[test]
fn a_stdout_that_cannot_be_written_is_exit_2() {
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("cln-harness")).arg("list").stdout(full).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: cannot write to stdout: No space left on device"), "{out:?}");
}
