//! Notifications (§7), replies to them (§3), survival, shutdown (§11) and
//! subscription expectations, each proven on a misbehave defect.

use crate::{fixture, harness, misbehave, Run};

fn outcome(run: &Run, id: &str) -> (String, String) {
    run.check(id).unwrap_or_else(|| panic!("no {id} in\n{}\n{}", run.stdout, run.stderr))
}

#[test]
fn a_correct_plugin_is_sent_its_topics_and_stays_quiet() {
    for profile in cln_harness::Profile::names() {
        let run = misbehave("", &profile, &[]);
        assert_eq!(run.code, 0, "{}", run.stdout);
        let (o, m) = outcome(&run, "notify/no-reply");
        assert_eq!(o, "PASS");
        assert_eq!(m, "no reply to 6 notifications: connect, disconnect", "{profile}");
        assert_eq!(outcome(&run, "shutdown/eof").0, "PASS");
    }
}

// §3: `"id": null` is ignored by v26.06 (so a real node hides the bug) and
// killed by v23.02.
#[test]
fn r_reply_with_null_id_v26() {
    let run = misbehave("reply-null-id", "v26.06", &[]);
    let (o, m) = outcome(&run, "notify/no-reply");
    assert_eq!(o, "FAIL");
    assert_eq!(
        m,
        r#"replied to the 'connect' notification, which has no id (lightningd ignores the reply): {"jsonrpc":"2.0","id":null,"result":{}}"#
    );
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("lightningd would accept this plugin"), "a must, not a kill");
}

#[test]
fn r_reply_with_null_id_v23() {
    let run = misbehave("reply-null-id", "v23.02", &[]);
    assert_eq!(
        outcome(&run, "notify/no-reply"),
        ("FAIL".into(), "Killing plugin: Received a JSON-RPC response for non-existent request 'null'".into())
    );
    assert!(run.stdout.contains("lightningd would kill this plugin (notify/no-reply)"));
}

#[test]
fn r_reply_with_invented_id() {
    let run = misbehave("reply-invented-id", "v26.06", &[]);
    let (o, m) = outcome(&run, "notify/no-reply");
    assert_eq!(o, "FAIL");
    assert!(m.ends_with(r#"{"jsonrpc":"2.0","id":"ack-1","result":{}}"#), "{m}");
}

// §3: a reply without any id is a malformed notification: killed by both.
#[test]
fn r_reply_without_id_to_a_notification_is_killed() {
    for profile in ["v26.06", "v23.02"] {
        let run = misbehave("reply-no-id-to-notification", profile, &[]);
        let (o, m) = outcome(&run, "notify/no-reply");
        assert_eq!(o, "FAIL");
        assert_eq!(
            m,
            r#"Killing plugin: Malformed JSON-RPC notification missing "method" or "params": {"jsonrpc":"2.0","result":{}} (a reply to the 'connect' notification)"#
        );
        assert_eq!(run.code, 1);
    }
}

#[test]
fn r_crash_on_a_notification() {
    let run = misbehave("crash-on-connect", "v26.06", &[]);
    assert_eq!(
        outcome(&run, "notify/alive"),
        ("FAIL".into(), "Killing plugin: exited during normal operation (after the 'connect' notification)".into())
    );
}

// §7.2: lightningd adds fields over time; handlers must tolerate them.
#[test]
fn r_crash_on_an_unknown_field() {
    let run = misbehave("crash-on-extra-field", "v26.06", &[]);
    let (o, m) = outcome(&run, "notify/alive");
    assert_eq!(o, "FAIL");
    assert!(m.ends_with("(after the 'connect (with an extra field)' notification)"), "{m}");
}

#[test]
fn r_handler_error_is_a_warning_on_its_notification() {
    let run = misbehave("handler-error", "v26.06", &[]);
    let (o, m) = outcome(&run, "notify/handler-errors");
    assert_eq!(o, "WARN");
    assert!(m.contains("the first, after 'connect', ends with: KeyError: 'id'"), "{m}");
    assert_eq!(run.code, 0, "a warning, not a failure");
}

// §11: shutdown.
#[test]
fn r_shutdown_subscriber_exits() {
    let run = misbehave("subscribe-shutdown", "v26.06", &[]);
    let (o, m) = outcome(&run, "shutdown/exit");
    assert_eq!(o, "PASS");
    assert!(m.ends_with("after `shutdown`"), "{m}");
    assert!(run.check("shutdown/eof").is_none(), "only one of the two applies");
}

#[test]
fn r_shutdown_ignored() {
    let run = misbehave("shutdown-ignored", "v26.06", &["--shutdown-timeout", "0.5"]);
    let (o, m) = outcome(&run, "shutdown/exit");
    assert_eq!(o, "FAIL");
    assert!(m.starts_with("misbehave.py: failed to self-terminate in time, killing."), "{m}");
}

#[test]
fn r_stdin_eof_ignored() {
    let run = misbehave("eof-ignored", "v26.06", &["--grace-ms", "300"]);
    let (o, m) = outcome(&run, "shutdown/eof");
    assert_eq!(o, "FAIL");
    assert!(m.starts_with("still running 0.3 s after lightningd closed its stdin"), "{m}");
}

// §7.4: `*` is every topic but `log` in v26.06, and nothing in v23.02.
#[test]
fn wildcard_receives_every_topic_but_log_in_v26_only() {
    let run = misbehave("wildcard", "v26.06", &["--quiet-ms", "10"]);
    let (_, m) = outcome(&run, "notify/no-reply");
    assert!(m.starts_with("no reply to 60 notifications: ") && !m.contains("log,") && m.contains("block_added"), "{m}");
    let run = misbehave("wildcard", "v23.02", &[]);
    assert_eq!(outcome(&run, "manifest/topics"), ("WARN".into(), "topic '*' is not a known notification topic".into()));
    assert_eq!(outcome(&run, "notify/no-reply").1, "no reply to no subscribed topic to send");
}

#[test]
fn expected_subscriptions_report_missing_and_unexpected_apart() {
    let run = misbehave("", "v26.06", &["--expect-subscriptions", "connect,invoice_payment"]);
    assert_eq!(outcome(&run, "subscriptions/expected"), ("FAIL".into(), "missing: invoice_payment; unexpected: disconnect".into()));
    assert_eq!(run.code, 1);
    let run = misbehave("", "v26.06", &["--expect-subscriptions", "disconnect,connect"]);
    assert_eq!(outcome(&run, "subscriptions/expected").0, "PASS");
}

#[test]
fn expectations_come_from_cln_harness_toml() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cln-harness.toml"), "[expect]\nsubscriptions = [\"connect\"]\n").unwrap();
    let run = Run::from(harness().current_dir(dir.path()).args(["run", "-v"]).arg(fixture("misbehave.py")).output().unwrap());
    assert_eq!(outcome(&run, "subscriptions/expected"), ("FAIL".into(), "unexpected: disconnect".into()));
    std::fs::write(dir.path().join("cln-harness.toml"), "[expect]\nsubscription = [\"connect\"]\n").unwrap();
    let run = Run::from(harness().current_dir(dir.path()).args(["run", "-v"]).arg(fixture("misbehave.py")).output().unwrap());
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cln-harness.toml") && run.stderr.contains("subscription"), "{}", run.stderr);
}
