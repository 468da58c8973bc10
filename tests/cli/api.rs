//! The library as a plugin author's Rust test uses it.

use std::time::Duration;

use cln_harness::{Harness, Outcome, Verdict};

use crate::fixture;

#[test]
fn a_plugin_test_in_a_few_lines() {
    let report =
        Harness::new(fixture("misbehave.py")).profile("v26.06").option("greeting=hi").quiet(Duration::from_millis(20)).run().unwrap();
    report.assert_no_failures();
    report.assert_check("notify/no-reply", Outcome::Pass);
    assert_eq!(report.verdict, Verdict::Accepted);
    let manifest = report.manifest.as_ref().unwrap();
    assert_eq!(manifest.rpcmethods[0].name, "hello");
}

#[test]
fn failures_are_data_not_errors() {
    let report = Harness::new("python3").arg(fixture("misbehave.py")).run().unwrap();
    assert!(!report.failed());
    let err = Harness::new("/no/such/plugin").run().unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
}

#[test]
#[should_panic(expected = "manifest/dynamic (kill): Killing plugin: getmanifest: invalid \"dynamic\" field yes")]
fn assert_no_failures_names_each_failure() {
    let report = Harness::new(fixture("misbehave.py")).env("CLN_HARNESS_DEFECT", "dynamic-string").run().unwrap();
    report.assert_no_failures();
}
