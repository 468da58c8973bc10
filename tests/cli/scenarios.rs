//! Scenarios (`--scenario FILE`): steps that hold, and each kind of step
//! failing.

use crate::{fixture, harness, root, Run};

fn scenario(file: &std::path::Path, extra: &[&str]) -> Run {
    Run::from(harness().args(["run", "-v"]).arg("--scenario").arg(file).args(extra).arg(fixture("misbehave.py")).output().unwrap())
}

fn write(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let p = dir.path().join("s.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn forwarded_calls_are_answered_as_expected() {
    let run = scenario(&root().join("fixtures/scenarios/hello.toml"), &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.check("scenario/steps").unwrap().0, "PASS");
}

#[test]
fn a_notification_the_plugin_did_not_subscribe_to_is_never_sent() {
    let run = scenario(&root().join("fixtures/scenarios/tutorial.toml"), &[]);
    let (o, m) = run.check("scenario/steps").unwrap();
    assert_eq!(o, "FAIL");
    assert!(m.contains("step 6 (notify invoice_creation): the plugin does not subscribe to 'invoice_creation'"), "{m}");
    assert_eq!(run.code, 1);
}

#[test]
fn each_kind_of_step_can_fail() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        r#"
[[step]]
notify = "connect"
[[step]]
expect_log = "^never logged$"
within_ms = 200
[[step]]
expect_rpc = "listfunds"
within_ms = 200
[[step]]
call = "hello"
params = ["x"]
expect_result = { greeting = "bonjour x" }
[[step]]
call = "hello"
expect_error = true
"#,
    );
    let run = scenario(&p, &[]);
    let (o, m) = run.check("scenario/steps").unwrap();
    assert_eq!(o, "FAIL");
    assert!(m.contains("step 2 (expect_log /^never logged$/): no matching log line within 200 ms"), "{m}");
    assert!(m.contains("step 3 (expect_rpc listfunds): the plugin did not call it within 200 ms"), "{m}");
    assert!(m.contains(r#"step 4 (call hello): result {"greeting":"hello x"} does not contain {"greeting":"bonjour x"}"#), "{m}");
    assert!(m.contains("step 5 (call hello): expected an error"), "{m}");
}

#[test]
fn log_expectations_consume_lines_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "[[step]]\nnotify = \"connect\"\n[[step]]\nexpect_log = \"^connect 022d\"\n[[step]]\nexpect_log = \"^connect 022d\"\nwithin_ms = 200\n",
    );
    let run = scenario(&p, &[]);
    let (o, m) = run.check("scenario/steps").unwrap();
    assert_eq!(o, "FAIL", "one connect, one line: the second expectation fails");
    assert!(m.contains("step 3"), "{m}");
}

#[test]
fn a_bad_scenario_file_is_a_usage_error_saying_where() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "[[step]]\nnotify = \"connect\"\ncall = \"hello\"\n");
    let run = scenario(&p, &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("s.toml: step 1: give exactly one of notify, expect_log, expect_rpc, call, wait_ms, hook, setconfig"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_schema_names_every_field_the_parser_takes() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("fixtures/scenarios/scenario.schema.json")).unwrap()).unwrap();
    let step = &schema["properties"]["step"]["items"]["properties"];
    for field in [
        "notify",
        "params",
        "expect_log",
        "level",
        "expect_rpc",
        "call",
        "expect_result",
        "expect_error",
        "wait_ms",
        "within_ms",
        "hook",
        "variant",
        "expect_decision",
        "setconfig",
        "val",
        "expect_message",
    ] {
        assert!(step.get(field).is_some(), "schema lacks {field}");
        let text = format!("[[step]]\n{field} = 1\n");
        let err = cln_harness::Scenario::parse(&text).err().unwrap_or_default();
        assert!(!err.contains("unknown field"), "parser lacks {field}: {err}");
    }
}
