//! Judging from evidence: a check whose evidence never came is "not
//! judged", never passed; a plugin that stops answering is one finding; the
//! robust cases' fresh processes run side by side under one deadline.

use super::*;

/// A run with `-v` (every check's line) and a transcript; returns the run
/// and the transcript's frames as (at_ms, direction, text).
fn run_with_transcript(plugin: &str, extra: &[&str]) -> (Run, Vec<(f64, String, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t.jsonl");
    let out = harness()
        .timeout(std::time::Duration::from_secs(120))
        .args(["run", "-v", "--transcript"])
        .arg(&t)
        .args(extra)
        .arg(fixture(plugin))
        .output()
        .expect("cln-harness runs");
    let frames = std::fs::read_to_string(&t)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            (v["at_ms"].as_f64().unwrap_or(0.0), v["dir"].as_str().unwrap_or("").to_owned(), v["text"].as_str().unwrap_or("").to_owned())
        })
        .collect();
    (Run::from(out), frames)
}

/// The `SKIP id not judged: …` line of a check, as its message.
fn not_judged(run: &Run, id: &str) -> Option<String> {
    run.stdout.lines().find_map(|l| {
        let rest = l.strip_prefix("SKIP ")?.trim_start();
        let msg = rest.strip_prefix(id)?.trim_start();
        msg.strip_prefix("not judged: ").map(str::to_owned)
    })
}

#[test]
fn a_plugin_that_stops_reading_is_not_judged_never_survived() {
    let (run, _) = run_with_transcript("deaf.py", &["--timeout", "3"]);
    for id in ["notify/alive", "notify/no-reply", "frame/split", "frame/huge", "robust/invalid-json", "robust/unknown-method"] {
        assert_eq!(run.check(id), None, "{id} must not pass, fail or warn:\n{}", run.stdout);
        let why = not_judged(&run, id).unwrap_or_else(|| panic!("{id} not judged:\n{}", run.stdout));
        assert!(why.contains("the plugin had read ") && why.contains(" bytes sent since it was last idle"), "{id}: {why}");
        assert!(why.contains("(it stopped reading its stdin)"), "{id}: {why}");
    }
    // After init it read nothing: the notifications were never read.
    let why = not_judged(&run, "notify/alive").unwrap();
    assert!(why.contains("the plugin had read 0 of the "), "{why}");
    // What it did show is judged: it outlives its closed stdin.
    assert_eq!(run.check("shutdown/eof").map(|c| c.0), Some("FAIL".into()), "{}", run.stdout);
    assert_eq!(run.check("lifecycle/alive").map(|c| c.0), Some("PASS".into()), "{}", run.stdout);
}

#[test]
fn a_plugin_that_reads_everything_survives_by_evidence() {
    // The control: the same checks pass on a plugin that reads and idles.
    let (run, _) = run_with_transcript("sample.py", &["--timeout", "10"]);
    for id in ["notify/alive", "notify/no-reply", "frame/split", "frame/huge", "robust/invalid-json"] {
        assert_eq!(run.check(id).map(|c| c.0), Some("PASS".into()), "{id}:\n{}", run.stdout);
        assert_eq!(not_judged(&run, id), None);
    }
}

#[test]
fn a_silent_plugin_is_one_finding_and_the_rest_is_not_judged() {
    let (run, frames) = run_with_transcript("silent.py", &["--timeout", "5", "--call", "hello={}", "--probe", "hello"]);
    let findings: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("FAIL ") || l.starts_with("WARN ")).collect();
    assert_eq!(findings.len(), 1, "one finding:\n{}", run.stdout);
    let (outcome, message) = run.check("hook/timeout").expect("hook/timeout");
    assert_eq!(outcome, "FAIL");
    assert!(
        message.contains("the 'peer_connected' request (id \"cln:peer_connected#")
            && message.contains("ms into the run, was never answered (waited 5.0 s)"),
        "{message}"
    );
    // What depends on an answer is not judged, naming the same request.
    for id in ["method/answer", "frame/split", "frame/coalesced", "robust/unknown-method", "robust/invalid-json", "hook/alive"] {
        let why = not_judged(&run, id).unwrap_or_else(|| panic!("{id} not judged:\n{}", run.stdout));
        assert!(why.contains("the plugin stopped answering after init: the 'peer_connected' request"), "{id}: {why}");
    }
    // Evidence that needs no answer still judges: it read everything.
    assert_eq!(run.check("notify/alive").map(|c| c.0), Some("PASS".into()), "{}", run.stdout);
    // One timeout in all: once silent, later questions are not waited for.
    // The calls after the hook went out together, not a timeout apart.
    let hello: Vec<f64> = frames.iter().filter(|f| f.1 == "to_plugin" && f.2.contains("\"method\" : \"hello\"")).map(|f| f.0).collect();
    assert!(hello.len() >= 2, "{hello:?}");
    assert!(hello[1] - hello[0] < 4000.0, "the second call waited for the first: {hello:?}");
}

#[test]
fn robust_cases_run_side_by_side_under_one_deadline() {
    // Every case of deaf.py waits out the 2 s question deadline: in
    // sequence the fresh processes would start at least 2 s apart each.
    let (run, frames) = run_with_transcript("deaf.py", &["--timeout", "3"]);
    let starts: Vec<f64> =
        frames.iter().filter(|f| f.1 == "to_plugin" && f.2.contains("\"method\":\"getmanifest\"")).map(|f| f.0).collect();
    // The judged process, then one per robust case.
    assert_eq!(starts.len(), 8, "{starts:?}\n{}", run.stdout);
    // In sequence each would start 2 s after the one before; side by side
    // the first workers start together.
    let closest = starts[1..].windows(2).map(|w| w[1] - w[0]).fold(f64::MAX, f64::min);
    assert!(closest < 1000.0, "the fresh processes started one after another: {starts:?}");
    // Each case names its own input.
    let why = not_judged(&run, "robust/utf8").unwrap();
    assert!(why.starts_with("after invalid UTF-8 in a string: "), "{why}");
}
