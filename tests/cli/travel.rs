//! Fuzz files that travel: a saved schedule names its plugin so that replay
//! works from any directory and from a moved checkout; only failures that
//! reproduced on a fresh process are saved; replay explains a schedule that
//! no longer fails.

use crate::{fixture, harness, Run};

/// A raw plugin that dies once it has read more than 12 messages after
/// init: no single fuzz case (at most four messages and a probe) kills a
/// fresh process, but a process reused across cases dies.
fn wears_out(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("wears_out.py");
    std::fs::write(
        &p,
        r#"#!/usr/bin/env python3
import json, os, sys
count = 0
initialized = False
buf = b""
while True:
    chunk = os.read(0, 65536)
    if not chunk:
        sys.exit(0)
    buf += chunk
    while b"\n\n" in buf:
        raw, buf = buf.split(b"\n\n", 1)
        try:
            msg = json.loads(raw)
        except ValueError:
            continue
        if initialized:
            count += 1
            if count > 12:
                sys.exit(3)
        m = msg.get("method")
        if "id" not in msg:
            continue
        if m == "getmanifest":
            res = {"options": [], "rpcmethods": [{"name": "wearsout-ping", "usage": "", "description": "p"}], "subscriptions": ["connect"]}
        elif m == "init":
            initialized = True
            res = {}
        else:
            res = {"pong": True}
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": res}) + "\n\n")
        sys.stdout.flush()
"#,
    )
    .unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    p
}

#[test]
fn a_failure_that_needs_earlier_input_is_not_saved() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = wears_out(dir.path());
    let file = dir.path().join("r.jsonl");
    let run =
        Run::from(harness().args(["fuzz", "--seed", "7", "--cases", "40", "--regressions"]).arg(&file).arg(&plugin).output().unwrap());
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("not saved: on a fresh plugin process this schedule did not fail"), "{}", run.stdout);
    assert!(run.stdout.contains("--seed 7"), "{}", run.stdout);
    assert!(!file.exists(), "a schedule that did not reproduce was saved");
}

#[test]
fn a_saved_schedule_replays_from_anywhere() {
    // The plugin and the regression file live together, as in a plugin's
    // repository; fuzz runs from inside it with a relative plugin path.
    let repo = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("misbehave.py"), repo.path().join("plugin.py")).unwrap();
    let run = Run::from(
        harness()
            .current_dir(repo.path())
            .args(["fuzz", "--seed", "7", "--cases", "64", "--regressions", "regressions.jsonl", "--", "python3", "plugin.py"])
            .env("CLN_HARNESS_DEFECT", "split-fragile")
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let saved = std::fs::read_to_string(repo.path().join("regressions.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(saved.lines().next().unwrap()).unwrap();
    assert_eq!(line["plugin"], "python3");
    assert_eq!(line["args"], serde_json::json!(["./plugin.py"]), "relative to the regression file");

    // Moved elsewhere and replayed from yet another directory.
    let moved = tempfile::tempdir().unwrap();
    let dest = moved.path().join("checkout");
    std::fs::create_dir(&dest).unwrap();
    for f in ["plugin.py", "regressions.jsonl"] {
        std::fs::copy(repo.path().join(f), dest.join(f)).unwrap();
    }
    drop(repo);
    let elsewhere = tempfile::tempdir().unwrap();
    let again = Run::from(
        harness()
            .current_dir(elsewhere.path())
            .arg("replay")
            .arg(dest.join("regressions.jsonl"))
            .env("CLN_HARNESS_DEFECT", "split-fragile")
            .output()
            .unwrap(),
    );
    assert_eq!(again.code, 1, "{}\n{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("reproduced: "), "{}", again.stdout);
}

#[test]
fn replay_explains_a_schedule_that_no_longer_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("sample.py"), dir.path().join("sample.py")).unwrap();
    let connect = std::fs::read_to_string(crate::root().join("fixtures/notifications/v26.06/connect.json")).unwrap();
    let line = serde_json::json!({
        "plugin": "./sample.py", "args": [], "profile": "v26.06", "seed": 42, "reason": "the plugin exited",
        "messages": ["'connect' notification"], "writes": [{"text": format!("{}\n\n", connect.trim_end())}],
        "pause_ms": 0, "calls": [], "reproduced": true
    });
    let file = dir.path().join("r.jsonl");
    std::fs::write(&file, format!("{line}\n")).unwrap();
    let run = Run::from(harness().arg("replay").arg(&file).output().unwrap());
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("no longer fails: on a fresh process the plugin survived this schedule"), "{}", run.stdout);
    assert!(run.stdout.contains("cln-harness fuzz --seed 42 "), "{}", run.stdout);
    // A missing plugin is named with the file it came from.
    std::fs::remove_file(dir.path().join("sample.py")).unwrap();
    let run = Run::from(harness().arg("replay").arg(&file).output().unwrap());
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("schedule 1 of ") && run.stderr.contains("sample.py"), "{}", run.stderr);
}
