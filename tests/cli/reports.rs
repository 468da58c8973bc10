//! Report sinks and the CI gate: JSON (validated against its schema), JUnit
//! (parsed back), GitHub annotations, baselines.

use crate::{fixture, harness, root, Run};

fn run_with(defect: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = harness();
    c.args(["run", "-v"]).args(args).arg(fixture("misbehave.py")).env("CLN_HARNESS_DEFECT", defect).env_remove("GITHUB_ACTIONS");
    for (k, v) in env {
        c.env(k, v);
    }
    Run::from(c.output().unwrap())
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("fixtures/schemas/report.schema.json")).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

#[test]
fn json_report_matches_its_schema_for_every_kind_of_run() {
    let validator = schema();
    for (defect, args) in [
        ("", vec![]),
        ("reply-null-id", vec![]),
        ("option-taken", vec![]),
        ("manifest-disable", vec![]),
        ("", vec!["--cln-version", "all"]),
    ] {
        let mut a = vec!["--format", "json"];
        a.extend(args.iter().copied());
        let run = run_with(defect, &a, &[]);
        let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{defect}: {e}\n{}", run.stdout));
        let errors: Vec<String> = validator.iter_errors(&v).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{defect}: {errors:#?}");
        assert_eq!(v["runs"][0]["failed"], run.code == 1, "{defect}");
    }
}

#[test]
fn json_report_names_the_failure_in_lightningds_words() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    let run = run_with("dynamic-string", &["--json", path.to_str().unwrap()], &[]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("FAIL manifest/dynamic"), "human output stays on stdout");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let run0 = &v["runs"][0];
    assert_eq!(
        run0["verdict"],
        serde_json::json!({"verdict": "killed", "check": "manifest/dynamic", "reason": "getmanifest: invalid \"dynamic\" field yes"})
    );
    let check = run0["checks"].as_array().unwrap().iter().find(|c| c["id"] == "manifest/dynamic").unwrap();
    assert_eq!(check["outcome"], "fail");
    assert_eq!(check["tier"], "kill");
    assert_eq!(check["message"], "Killing plugin: getmanifest: invalid \"dynamic\" field yes");
}

#[test]
fn junit_report_parses_back_with_failures_and_skips() {
    let run = run_with("dynamic-string", &["--format", "junit", "--cln-version", "all"], &[]);
    assert_eq!(run.code, 1);
    let report = quick_junit::Report::deserialize_from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{}", run.stdout));
    assert_eq!(report.test_suites.len(), cln_harness::Profile::names().len(), "one suite per profile");
    for suite in &report.test_suites {
        assert_eq!(suite.failures, 1, "{}", suite.name.as_str());
        let case = suite.test_cases.iter().find(|c| c.name.as_str() == "manifest/dynamic").unwrap();
        assert!(matches!(case.status, quick_junit::TestCaseStatus::NonSuccess { .. }));
        assert!(suite.test_cases.iter().any(|c| matches!(c.status, quick_junit::TestCaseStatus::Skipped { .. })));
    }
}

#[test]
fn github_annotations_only_in_github_actions() {
    let run = run_with("unknown-topic", &[], &[("GITHUB_ACTIONS", "true")]);
    assert!(
        run.stdout
            .contains("::warning title=cln-harness manifest/topics (v26.06)::topic 'connnect' is not a known notification topic%0Afix: "),
        "{}",
        run.stdout
    );
    let run = run_with("dynamic-string", &["--format", "json"], &[("GITHUB_ACTIONS", "true")]);
    assert!(
        run.stderr
            .contains("::error title=cln-harness manifest/dynamic (v26.06)::Killing plugin: getmanifest: invalid \"dynamic\" field yes"),
        "{}",
        run.stderr
    );
    serde_json::from_str::<serde_json::Value>(&run.stdout).expect("stdout stays pure JSON");
    let run = run_with("dynamic-string", &[], &[]);
    assert!(!run.stdout.contains("::error"));
}

#[test]
fn baseline_accepts_known_failures_and_catches_new_and_stale_ones() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("baseline.toml");
    let bs = b.to_str().unwrap();
    // Record today's failure.
    let run = run_with("reply-null-id", &["--write-baseline", bs], &[]);
    assert_eq!(run.code, 1);
    let text = std::fs::read_to_string(&b).unwrap();
    assert!(text.contains("check = \"notify/no-reply\""), "{text}");
    // The same failure is now known: the gate passes.
    let run = run_with("reply-null-id", &["--baseline", bs], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("baseline: 1 known failure(s), 0 new, 0 stale"), "{}", run.stderr);
    // A different failure is new.
    let run = run_with("reply-no-id-to-notification", &["--baseline", bs], &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("  new:   notify/no-reply (v26.06): Killing plugin: Malformed"), "{}", run.stderr);
    // The bug is fixed: the entry is stale and must go.
    let run = run_with("", &["--baseline", bs], &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("  stale: notify/no-reply (v26.06): listed as failing, now passes (remove it from the baseline)"),
        "{}",
        run.stderr
    );
}

#[test]
fn baseline_with_unknown_check_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("baseline.toml");
    std::fs::write(&b, "[[known]]\ncheck = \"notify/no-replies\"\n").unwrap();
    let run = run_with("", &["--baseline", b.to_str().unwrap()], &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown check id 'notify/no-replies'"), "{}", run.stderr);
}
