//! Hooks, forwarded calls, `check` and `setconfig` (docs/protocol.md §9,
//! §10) proven against the hooks fixtures: each defect breaks one rule, and
//! the check for it fails with lightningd's words under every release where
//! the hook exists; without a defect every check passes.

use crate::{fixture, harness, Run};

const CALL: &str = r#"hooks-echo={"message":"hi","count":2}"#;

/// Runs hooks.py with a defect, limited to `hook` when given.
fn hooks(defect: &str, hook: &str, profile: &str, extra: &[&str]) -> Run {
    let timeout: &[&str] = if extra.contains(&"--timeout") { &[] } else { &["--timeout", "2"] };
    let out = harness()
        .args(["run", "-v", "--cln-version", profile])
        .args(timeout)
        .args(extra)
        .arg(fixture("hooks.py"))
        .env("CLN_HARNESS_DEFECT", defect)
        .env("CLN_HARNESS_HOOK", hook)
        .output()
        .expect("cln-harness runs");
    Run::from(out)
}

fn outcome(run: &Run, id: &str) -> (String, String) {
    run.check(id).unwrap_or_else(|| panic!("no line for {id} in:\n{}\n{}", run.stdout, run.stderr))
}

fn fails_with(run: &Run, id: &str, words: &str) {
    let (got, message) = outcome(run, id);
    assert_eq!(got, "FAIL", "{id}: {message}\n{}", run.stdout);
    assert!(message.contains(words), "{id}: {message:?} does not contain {words:?}");
}

/// The hooks a profile has, from its hooks.txt.
fn profile_hooks(profile: &str) -> Vec<String> {
    cln_harness::Profile::load(profile).unwrap().hooks.into_iter().collect()
}

#[test]
fn a_correct_plugin_passes_every_hook_call_and_setconfig_check() {
    for profile in ["v26.06", "v23.02"] {
        let run = hooks("", "", profile, &["--call", CALL]);
        assert_eq!(run.code, 0, "{profile}\n{}\n{}", run.stdout, run.stderr);
        assert!(run.summary().contains(" 0 failed, 0 warned, 0 skipped"), "{profile}: {}", run.stdout);
        for id in ["hook/answer", "hook/decision", "hook/alive", "hook/timeout", "hook/handler-errors", "hook/latency", "method/answer"] {
            assert_eq!(outcome(&run, id).0, "PASS", "{profile} {id}");
        }
        // Every registered hook, with every variant and a future field.
        let (_, alive) = outcome(&run, "hook/alive");
        let n = profile_hooks(profile).len();
        assert!(alive.contains(&format!("to {n} hooks")), "{profile}: {alive}");
        // check exists since v24.05, setconfig since v23.08 (§10.2, §10.3).
        assert_eq!(run.check("check/answer").is_some(), profile == "v26.06", "{profile}");
        assert_eq!(run.check("setconfig/answer").is_some(), profile == "v26.06", "{profile}");
    }
}

// §9.1: an error answer to any hook stops lightningd; db_write has its own
// words and names the plugin by its path.
#[test]
fn r_error_answer_is_fatal_for_every_hook_in_each_release_words() {
    for profile in ["v26.06", "v23.02"] {
        for hook in profile_hooks(profile) {
            let run = hooks("hook-error", &hook, profile, &[]);
            let words = match (hook.as_str(), profile) {
                ("db_write", _) => "returned an invalid response to the db_write hook: {".to_owned(),
                (_, "v26.06") => format!("Plugin hooks.py for {hook} returned non-result response {{"),
                _ => format!("Plugin for {hook} returned non-result response {{"),
            };
            fails_with(&run, "hook/answer", &words);
            assert!(run.stdout.contains("this plugin would stop lightningd itself (hook/answer)"), "{profile} {hook}\n{}", run.stdout);
            assert_eq!(run.code, 1);
        }
    }
}

// §9.1: -4 means "the plugin died" since v23.11; v23.02 stops on it.
#[test]
fn r_terminated_code_is_a_death_in_v26_and_fatal_in_v23() {
    let run = hooks("hook-terminated", "peer_connected", "v26.06", &[]);
    fails_with(&run, "hook/decision", "error code -4 while alive");
    assert_eq!(outcome(&run, "hook/answer").0, "PASS");
    let run = hooks("hook-terminated", "peer_connected", "v23.02", &[]);
    fails_with(&run, "hook/answer", "Plugin for peer_connected returned non-result response");
}

// §9.2: a bare "result":"continue" is no object; each hook reads it its way.
#[test]
fn r_bare_result_per_hook() {
    for profile in ["v26.06", "v23.02"] {
        let run = hooks("hook-bare-result", "peer_connected", profile, &[]);
        fails_with(&run, "hook/answer", "Plugin returned an invalid response to the peer_connected hook: ");
        let run = hooks("hook-bare-result", "custommsg", profile, &[]);
        fails_with(&run, "hook/answer", "Plugin returned an invalid response to the custommsg hook: ");
        let run = hooks("hook-bare-result", "htlc_accepted", profile, &[]);
        fails_with(&run, "hook/answer", "Plugin return value does not contain 'result' key continue");
        // Never fatal: commitment_revocation reads nothing, rpc_command only logs.
        let run = hooks("hook-bare-result", "commitment_revocation", profile, &[]);
        assert_eq!(outcome(&run, "hook/answer").0, "PASS", "{}", run.stdout);
        let run = hooks("hook-bare-result", "rpc_command", profile, &[]);
        fails_with(&run, "hook/decision", "Bad response to 'rpc_command' hook.");
        assert_eq!(outcome(&run, "hook/answer").0, "PASS", "{}", run.stdout);
    }
    let run = hooks("hook-bare-result", "recover", "v26.06", &[]);
    fails_with(&run, "hook/answer", "Plugin returned an invalid response to the recover hook: ");
    // v23.02 (deprecated APIs on) read a missing failure_message as a reject.
    let run = hooks("hook-bare-result", "invoice_payment", "v26.06", &[]);
    fails_with(&run, "hook/answer", "Missing failure_message in invoice_payment hook result: ");
    let run = hooks("hook-bare-result", "invoice_payment", "v23.02", &[]);
    fails_with(&run, "hook/decision", "Plugin did not return object with 'result' or 'failure_message' fields.");
}

// §9.2: decisions a hook does not know.
#[test]
fn r_unknown_decision_per_hook() {
    for (hook, tier_check, words) in [
        ("htlc_accepted", "hook/answer", "Plugin responded with an unknown result to the htlc_accepted hook: maybe"),
        ("openchannel", "hook/answer", "Plugin returned an invalid result for the openchannel hook: maybe"),
        ("openchannel2", "hook/answer", "Plugin returned an invalid response to the openchannel2 hook: {\"result\":\"maybe\"}"),
        ("rbf_channel", "hook/answer", "Plugin returned invalid response to rbf_channel hook: "),
        ("invoice_payment", "hook/answer", "Invalid invoice_payment hook result: "),
        ("rpc_command", "hook/decision", "Bad response to 'rpc_command' hook. 'result' should only be 'continue'."),
        ("openchannel2_sign", "hook/decision", "Client error. Unable to continue"),
    ] {
        for profile in ["v26.06", "v23.02"] {
            let run = hooks("hook-bad-result", hook, profile, &[]);
            fails_with(&run, tier_check, words);
        }
    }
}

// §9.2 db_write: anything but continue stops lightningd.
#[test]
fn r_db_write_failure_is_fatal() {
    for profile in ["v26.06", "v23.02"] {
        let run = hooks("hook-db-write-fail", "", profile, &[]);
        fails_with(&run, "hook/answer", "returned failed db_write: {");
        fails_with(&run, "hook/answer", "(before init)");
    }
}

// §9.4: from v24.11 a plugin holding db_write and an unfiltered
// rpc_command hangs lightningd; before, and with filters where the release
// reads them, it runs.
#[test]
fn r_db_write_beside_rpc_command_hangs_lightningd_from_v24_11() {
    for profile in ["v24.11", "v26.06"] {
        let run = hooks("db-write-reentry", "", profile, &[]);
        fails_with(&run, "manifest/hooks/db-write-reentry", "registers db_write, and rpc_command without filters");
        assert!(run.stdout.contains("lightningd: lightningd hangs"), "{}", run.stdout);
        assert!(run.stdout.contains("would stop lightningd itself (manifest/hooks/db-write-reentry)"), "{}", run.stdout);
        assert_eq!(run.code, 1);
    }
    let run = hooks("db-write-reentry", "", "v24.05", &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.check("manifest/hooks/db-write-reentry").is_none(), "no such rule before v24.11");
    // The correct plugin filters rpc_command on v26.06.
    let run = hooks("", "", "v26.06", &[]);
    assert_eq!(outcome(&run, "manifest/hooks/db-write-reentry").0, "PASS");
}

// §9.2: malformed optional fields.
#[test]
fn r_malformed_fields_are_fatal() {
    for (hook, words) in [
        ("htlc_accepted", "Bad payload for htlc_accepted hook: not hex"),
        ("openchannel", "Plugin returned an invalid response to the openchannel.close_to hook: not an address"),
        ("openchannel2", "Plugin rejected openchannel2 but also set close_to"),
        ("rbf_channel", "Plugin rejected rbf_channel but also set `psbt`"),
        ("invoice_payment", "Invalid invoice_payment_hook failure_message: "),
        ("openchannel2_changed", "Plugin must return a valid 'psbt' to a 'continue'dopenchannel2_changed "),
        ("openchannel2_sign", "Plugin must return a 'psbt' to a 'continue'dopenchannel2_sign "),
    ] {
        for profile in ["v26.06", "v23.02"] {
            let run = hooks("hook-bad-field", hook, profile, &[]);
            fails_with(&run, "hook/answer", words);
        }
    }
}

// §9.1: no timeout in lightningd, but a hook never answered is a bug.
#[test]
fn r_unanswered_hook_fails_within_the_timeout() {
    let run = hooks("hook-silent", "htlc_accepted", "v26.06", &[]);
    fails_with(&run, "hook/timeout", "no answer to the 'htlc_accepted' hook (as lightningd sends it) within 2.0 s");
    fails_with(&run, "hook/timeout", "freezes the channel");
    assert_eq!(run.code, 1);
}

// §9.1: dying during a hook: lightningd kills the plugin, and stops itself
// for db_write.
#[test]
fn r_death_during_a_hook() {
    for profile in ["v26.06", "v23.02"] {
        let run = hooks("hook-exit", "peer_connected", profile, &[]);
        fails_with(&run, "hook/alive", "Killing plugin: exited during normal operation (while handling the 'peer_connected' hook");
        let run = hooks("hook-exit", "db_write", profile, &[]);
        fails_with(&run, "hook/alive", "exited while handling the 'db_write' hook (before init)");
        assert!(run.stdout.contains("would stop lightningd itself (hook/alive)"), "{}", run.stdout);
    }
}

#[test]
fn r_hook_payload_with_a_future_field() {
    let run = hooks("hook-extra-field", "htlc_accepted", "v26.06", &[]);
    fails_with(&run, "hook/alive", "'htlc_accepted' hook (with a field no release sends yet)");
}

// §9.1: db_write arrives before init on a real node.
#[test]
fn r_hook_before_init() {
    let run = hooks("hook-before-init", "", "v26.06", &[]);
    fails_with(&run, "hook/alive", "'db_write' hook (before init)");
}

// §10.1: only consented methods are called; the answer must be readable.
#[test]
fn r_forwarded_call_answers() {
    let run = hooks("method-malformed-error", "", "v26.06", &[]);
    assert!(run.check("method/answer").is_none(), "no consent, no call:\n{}", run.stdout);
    let run = hooks("method-malformed-error", "", "v26.06", &["--call", CALL]);
    fails_with(&run, "method/answer", "with params in object form: \"error\" has no integer \"code\"");
    fails_with(&run, "method/answer", "with params in array form");
    let run = hooks("", "", "v26.06", &["--call", "hooks-nothing={}"]);
    fails_with(&run, "method/answer", "'hooks-nothing' is not one of the plugin's rpcmethods");
}

#[test]
fn consent_comes_from_cln_harness_toml_too() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cln-harness.toml"), "[[call]]\nmethod = \"hooks-echo\"\nparams = { message = \"hi\" }\n").unwrap();
    let out = harness()
        .current_dir(dir.path())
        .args(["run", "-v", "--timeout", "2", "--only", "method/"])
        .arg(fixture("hooks.py"))
        .env("CLN_HARNESS_DEFECT", "method-malformed-error")
        .output()
        .unwrap();
    let run = Run::from(out);
    fails_with(&run, "method/answer", "'hooks-echo' with params in object form");
    let run = hooks("", "", "v26.06", &["--call", "hooks-echo=3"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--call hooks-echo=3: the params after '=' must be a JSON object or array"), "{}", run.stderr);
}

// §10.2 and §10.3.
#[test]
fn r_check_and_setconfig_answers() {
    let run = hooks("check-malformed", "", "v26.06", &[]);
    fails_with(&run, "check/answer", "`check setconfig`: the answer has neither \"result\" nor \"error\"");
    let run = hooks("setconfig-malformed", "", "v26.06", &[]);
    fails_with(&run, "setconfig/answer", "Invalid setconfig hooks-fee response from plugin: {");
    fails_with(&run, "setconfig/answer", "Malformed setvalue hooks-fee plugin return");
    // A refusal with a code and a message is a fine answer.
    let run = hooks("setconfig-refuses", "", "v26.06", &[]);
    let (got, message) = outcome(&run, "setconfig/answer");
    assert_eq!(got, "PASS", "{message}");
    assert!(message.contains("hooks-fee refused (-32602: read-only here)"), "{message}");
}

/// pyln-client answers a raising handler with its fallback where it has
/// one, and with an error (fatal) elsewhere (§9.3).
#[test]
fn pyln_client_raising_handlers() {
    let Ok(python) = std::env::var("CLN_HARNESS_PYTHON") else {
        eprintln!("CLN_HARNESS_PYTHON unset (ci/test.sh sets it): skipping");
        return;
    };
    let run_with = |hook: &str, defect: &str| {
        let out = harness()
            .args(["run", "-v", "--timeout", "5", "--"])
            .arg(&python)
            .arg(fixture("hooks_pyln.py"))
            .env("CLN_HARNESS_DEFECT", defect)
            .env("CLN_HARNESS_HOOK", hook)
            .output()
            .unwrap();
        Run::from(out)
    };
    let run = run_with("", "");
    for id in ["hook/answer", "hook/handler-errors", "hook/alive"] {
        assert_eq!(outcome(&run, id).0, "PASS", "{id}\n{}", run.stdout);
    }
    let run = run_with("htlc_accepted", "raise");
    fails_with(&run, "hook/handler-errors", "KeyError: 'channel_id'");
    assert!(outcome(&run, "hook/answer").1.contains("fail"), "the fallback fails the HTLC: {}", run.stdout);
    let run = run_with("commitment_revocation", "raise");
    fails_with(&run, "hook/answer", "Plugin hooks_pyln.py for commitment_revocation returned non-result response");
}

/// cln-plugin 0.7 answers a failing hook handler with an error (fatal to
/// lightningd), and exits on a hook that arrives before init: its
/// `configure` accepts only getmanifest and init.
#[test]
fn cln_plugin_hooks() {
    let Ok(plugin) = std::env::var("CLN_HARNESS_CLN_PLUGIN") else {
        eprintln!("CLN_HARNESS_CLN_PLUGIN unset (ci/test.sh sets it): skipping");
        return;
    };
    // A build older than the fixture's source predates its hooks: ci/test.sh
    // rebuilds it; a stale local build is skipped, not failed.
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let source = crate::root().join("fixtures/plugins/cln-plugin-rs/src/main.rs");
    if modified(std::path::Path::new(&plugin)) < modified(&source) {
        eprintln!("{plugin} is older than {}: rebuild it (ci/test.sh does); skipping", source.display());
        return;
    }
    let run_with = |hooks: &str| {
        let out = harness().args(["run", "-v", "--timeout", "5"]).arg(&plugin).env("CLN_HARNESS_HOOKS", hooks).output().unwrap();
        Run::from(out)
    };
    let run = run_with("peer_connected,htlc_accepted");
    for id in ["hook/answer", "hook/alive", "hook/handler-errors"] {
        assert_eq!(outcome(&run, id).0, "PASS", "{id}\n{}", run.stdout);
    }
    let run = run_with("peer_connected,htlc_accepted,raise");
    fails_with(&run, "hook/answer", "returned non-result response {\"error\":{\"code\":-32700,");
    let run = run_with("db_write");
    fails_with(&run, "hook/alive", "exited while handling the 'db_write' hook (before init)");
}

fn scenario_run(defect: &str, hook: &str, text: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, text).unwrap();
    let out = harness()
        .args(["run", "-v", "--timeout", "2", "--scenario"])
        .arg(&path)
        .arg(fixture("hooks.py"))
        .env("CLN_HARNESS_DEFECT", defect)
        .env("CLN_HARNESS_HOOK", hook)
        .output()
        .unwrap();
    Run::from(out)
}

#[test]
fn scenario_hook_and_setconfig_steps() {
    let example = std::fs::read_to_string(crate::root().join("fixtures/scenarios/hooks.toml")).unwrap();
    let run = scenario_run("", "", &example);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(outcome(&run, "scenario/steps").0, "PASS");
    assert!(outcome(&run, "hook/alive").1.contains("survived 3 requests to 3 hooks"), "{}", run.stdout);
    // The same file fails where the plugin refuses, and a refusal can be expected.
    let run = scenario_run("setconfig-refuses", "", &example);
    fails_with(&run, "scenario/steps", "step 4 (setconfig hooks-fee): refused: read-only here (-32602)");
    let run = scenario_run(
        "setconfig-refuses",
        "",
        "[[step]]\nsetconfig = \"hooks-fee\"\nval = \"7\"\nexpect_error = true\nexpect_message = \"read-only\"\n",
    );
    assert_eq!(outcome(&run, "scenario/steps").0, "PASS", "{}", run.stdout);
    let run = scenario_run("setconfig-malformed", "", "[[step]]\nsetconfig = \"hooks-fee\"\nval = \"7\"\n");
    fails_with(&run, "scenario/steps", "Invalid setconfig hooks-fee response from plugin: ");
    // A decision other than the expected one; a fatal answer stops the run.
    let run = scenario_run("", "", "[[step]]\nhook = \"openchannel\"\nexpect_decision = \"reject\"\n");
    fails_with(&run, "scenario/steps", "expected the decision 'reject', got 'continue'");
    let run = scenario_run("hook-bad-result", "openchannel", "[[step]]\nhook = \"openchannel\"\n");
    fails_with(&run, "hook/answer", "Plugin returned an invalid result for the openchannel hook: maybe");
    // lightningd calls only registered hooks.
    let run = harness()
        .args(["run", "-v", "--timeout", "2", "--scenario"])
        .arg(crate::root().join("fixtures/scenarios/hooks.toml"))
        .arg(fixture("misbehave.py"))
        .output()
        .unwrap();
    fails_with(&Run::from(run), "scenario/steps", "the plugin does not register the 'peer_connected' hook");
}

/// The fuzzer's pool holds a request for each registered hook, and calls
/// only to the methods the user consented to.
#[test]
fn fuzz_pool_has_hook_requests_and_only_consented_calls() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.jsonl");
    let out = harness()
        .args(["fuzz", "--seed", "7", "--cases", "48", "--regressions"])
        .arg(&file)
        .arg(fixture("hooks.py"))
        .env("CLN_HARNESS_DEFECT", "hook-exit")
        .env("CLN_HARNESS_HOOK", "peer_connected")
        .output()
        .unwrap();
    let run = Run::from(out);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("  message 1: 'peer_connected' hook request\n"), "{}", run.stdout);
    let saved: serde_json::Value = serde_json::from_str(std::fs::read_to_string(&file).unwrap().lines().next().unwrap()).unwrap();
    assert!(saved["messages"].as_array().unwrap().iter().all(|m| !m.as_str().unwrap().contains("call to")), "no consent, no call: {saved}");
    // A plugin with nothing to send is told how to give the fuzzer something.
    let plain = dir.path().join("plain.py");
    std::fs::write(
        &plain,
        std::fs::read_to_string(fixture("hooks.py"))
            .unwrap()
            .replace("\"hooks\": [hook_registration(h) for h in HOOKS],", "\"hooks\": [],")
            .replace("[] if OLD else [\"deprecated_oneshot\"]", "[]"),
    )
    .unwrap();
    let run = Run::from(harness().args(["fuzz", "--cases", "4", "--"]).arg("python3").arg(&plain).output().unwrap());
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("consent to calls of its methods with --call METHOD=JSON"), "{}", run.stderr);
}
