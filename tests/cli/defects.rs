//! Every check proven against the misbehave fixture: each defect breaks one
//! rule, and the check for that rule fails with lightningd's own words (or
//! passes where the profile's lightningd accepts the same bytes). The
//! messages are docs/protocol.md's tables, row for row; see the § in each case.

use crate::{misbehave, Run};

enum Msg {
    /// The whole message.
    Is(&'static str),
    /// The message's start (reasons that quote a buffer).
    Starts(&'static str),
    /// Somewhere in the message.
    Has(&'static str),
}

fn expect(run: &Run, id: &str, outcome: &str, msg: Msg, exit: i32) {
    let Some((got, message)) = run.check(id) else {
        panic!("no line for {id} in:\n{}\n{}", run.stdout, run.stderr);
    };
    assert_eq!(got, outcome, "{id}: {message}\n{}", run.stdout);
    match msg {
        Msg::Is(m) => assert_eq!(message, m, "{}", run.stdout),
        Msg::Starts(m) => assert!(message.starts_with(m), "{id}: {message:?} does not start with {m:?}"),
        Msg::Has(m) => assert!(message.contains(m), "{id}: {message:?} does not contain {m:?}"),
    }
    assert_eq!(run.code, exit, "exit code\n{}\n{}", run.stdout, run.stderr);
}

/// `defect!(test_name, "defect", "profile", [extra args], "check/id", "OUTCOME", Msg, exit)`
/// A profile of `"both"` runs the case under every profile: lightningd's
/// reaction and words are the same in every release.
macro_rules! defect {
    ($name:ident, $defect:literal, $profile:literal, [$($arg:literal),*], $id:literal, $outcome:literal, $msg:expr, $exit:literal) => {
        #[test]
        fn $name() {
            let profiles = if $profile == "both" { cln_harness::Profile::names() } else { vec![$profile.to_owned()] };
            for profile in &profiles {
                let run = misbehave($defect, profile, &[$($arg),*]);
                expect(&run, $id, $outcome, $msg, $exit);
            }
        }
    };
}

use Msg::{Has, Is, Starts};

#[test]
fn no_defect_passes_every_check_under_every_profile() {
    for profile in cln_harness::Profile::names() {
        let run = misbehave("", &profile, &[]);
        assert_eq!(run.code, 0, "{profile}\n{}\n{}", run.stdout, run.stderr);
        assert!(run.summary().contains(" 0 failed, 0 warned, 0 skipped"), "{profile}: {}", run.stdout);
        assert!(run.stdout.contains("lightningd would accept this plugin"));
    }
}

// §1.4 and §1.5: dying or staying silent during start-up.
defect!(
    r_exit_before_getmanifest,
    "exit-before-manifest",
    "both",
    [],
    "getmanifest/exit",
    "FAIL",
    Is("Killing plugin: exited before replying to getmanifest"),
    1
);
defect!(
    r_silent_getmanifest_is_fatal,
    "silent-manifest",
    "v26.06",
    ["--timeout", "0.5"],
    "getmanifest/timeout",
    "FAIL",
    Has("Killing plugin: timed out before replying to getmanifest"),
    1
);
defect!(r_exit_before_init, "exit-before-init", "both", [], "init/exit", "FAIL", Is("Killing plugin: exited before replying to init"), 1);
defect!(
    r_silent_init,
    "silent-init",
    "v23.02",
    // Long enough for a Python plugin to start and answer getmanifest on a
    // busy machine: the timeout applies to each answer.
    ["--timeout", "3"],
    "init/timeout",
    "FAIL",
    Has("lightningd waits 60 s, then: Killing plugin: timed out before replying to init"),
    1
);
defect!(
    r_exit_after_init,
    "exit-after-init",
    "both",
    [],
    "lifecycle/alive",
    "FAIL",
    Is("Killing plugin: exited during normal operation"),
    1
);

// A death long after init, with no input to blame, is still a death: the
// plugin is watched for the whole run and at least --watch after init.
// Which check it fails depends on what the plugin had read when its timer
// fired: `lifecycle/alive` when idle, else the input it was handling.
#[test]
fn r_exit_1s_after_init() {
    for profile in ["v26.06", "v23.02"] {
        let run = misbehave("exit-1s-after-init", profile, &[]);
        assert_eq!(run.code, 1, "{profile}: {}", run.stdout);
        assert!(run.stdout.contains("lightningd would kill this plugin"), "{profile}: {}", run.stdout);
        let died =
            run.stdout.lines().filter(|l| l.starts_with("FAIL ") && l.contains("Killing plugin: exited during normal operation")).count();
        assert_eq!(died, 1, "{profile}: {}", run.stdout);
    }
}

/// Without consent no method of the plugin is called: a method that exits
/// when called is harmless. With `--probe` it is called, and the death is
/// charged to the input the plugin had read last, not to `notify/alive`.
#[test]
fn a_method_is_called_only_with_consent() {
    let run = misbehave("die-method", "v26.06", &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let (o, m) = run.check("frame/probe").expect("frame/probe line");
    assert_eq!(o, "PASS");
    assert!(m.starts_with("evidence, calling none of its methods"), "{m}");
    // With consent, the first framing check that carries a call to it
    // (every byte its own read) is the input the plugin died of.
    let run = misbehave("die-method", "v26.06", &["--probe", "die"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let (o, m) = run.check("frame/split").expect("frame/split line");
    assert_eq!((o.as_str(), m.as_str()), ("FAIL", "Killing plugin: exited during normal operation (after every byte its own read)"));
    assert_eq!(run.check("notify/alive").map(|l| l.0).as_deref(), Some("PASS"), "{}", run.stdout);
    assert!(!run.stdout.contains("would accept"), "{}", run.stdout);
}
#[test]
fn r_silent_getmanifest_says_the_node_terminates() {
    let run = misbehave("silent-manifest", "v26.06", &["--timeout", "0.5"]);
    let fatal = run.detail("getmanifest/timeout", "lightningd:").unwrap();
    assert!(fatal.ends_with("Can't recover from plugin failure, terminating."), "{fatal}");
}

// §2.2: the parser.
defect!(
    r_debug_print_before_manifest_v26,
    "stdout-garbage",
    "v26.06",
    [],
    "wire/json",
    "FAIL",
    Starts("Killing plugin: Failed to parse RPC JSON response 'Starting misbehave...?{\"jsonrpc\":\"2.0\",\"id\":\"cln:getmanifest#"),
    1
);
defect!(
    r_debug_print_before_manifest_v23,
    "stdout-garbage",
    "v23.02",
    [],
    "wire/json",
    "FAIL",
    Starts("Killing plugin: Failed to parse JSON response 'Starting misbehave...?{\"jsonrpc\""),
    1
);
defect!(
    r_no_jsonrpc_member_v26,
    "no-jsonrpc",
    "v26.06",
    [],
    "wire/jsonrpc",
    "FAIL",
    Starts("Killing plugin: JSON-RPC message does not contain \"jsonrpc\" field: '{\"id\":\"cln:getmanifest#"),
    1
);
defect!(
    r_no_jsonrpc_member_v23,
    "no-jsonrpc",
    "v23.02",
    [],
    "wire/jsonrpc",
    "FAIL",
    Is("Killing plugin: JSON-RPC message does not contain \"jsonrpc\" field"),
    1
);
defect!(
    r_array_on_stdout_v26,
    "non-object",
    "v26.06",
    [],
    "wire/jsonrpc",
    "FAIL",
    Starts("Killing plugin: JSON-RPC message does not contain \"jsonrpc\" field: '[1]"),
    1
);
defect!(
    r_array_on_stdout_v23,
    "non-object",
    "v23.02",
    [],
    "wire/jsonrpc",
    "FAIL",
    Is("Killing plugin: JSON-RPC message is not a valid JSON object type"),
    1
);
defect!(r_nul_byte_stalls, "nul-byte", "v26.06", ["--timeout", "2"], "wire/nul", "FAIL", Has("NUL byte"), 1);
// A stray print goes unnoticed until the next `}`, then kills (§2.2 item 3).
defect!(
    r_stray_output_after_init,
    "stray-output",
    "v26.06",
    [],
    "wire/json",
    "FAIL",
    Starts("Killing plugin: Failed to parse RPC JSON response '??debug: got a notification?{\"jsonrpc\":\"2.0\",\"method\":\"log\""),
    1
);
// With nothing after it, a stray print lingers until the plugin stops.
defect!(
    r_stray_output_lingers,
    "stray-output-late",
    "both",
    ["--handshake-only"],
    "wire/stray-output",
    "FAIL",
    Starts("unparsed output on stdout: \"\\n\\ndebug: ready\\n\""),
    1
);

defect!(r_flood_hits_the_cap, "flood", "both", ["--max-pending-mib", "1"], "wire/size", "FAIL", Starts("1"), 1);

// §2.1: what a pipe and lightningd's copying can deliver.
defect!(
    r_reader_assumes_whole_reads,
    "split-fragile",
    "both",
    [],
    "frame/split",
    "FAIL",
    Starts("Killing plugin: exited during normal operation (after every byte its own read)"),
    1
);
defect!(
    r_reader_assumes_one_message_per_read,
    "coalesce-fragile",
    "both",
    [],
    "frame/coalesced",
    "FAIL",
    Starts("Killing plugin: exited during normal operation (after 4 messages in one write)"),
    1
);
defect!(
    r_reader_caps_message_size,
    "huge-fragile",
    "both",
    [],
    "frame/huge",
    "FAIL",
    Starts("Killing plugin: exited during normal operation (after a 2.5 MiB notification)"),
    1
);
defect!(
    r_reader_reads_lines,
    "line-framed",
    "v26.06",
    // A call is what a line reader breaks on: with consent to call `hello`.
    ["--probe", "hello"],
    "frame/passthrough",
    "FAIL",
    Starts("Killing plugin: exited during normal operation (after a pretty-printed call"),
    1
);

#[test]
fn fragile_readers_fail_only_their_own_framing_check() {
    for (defect, broken) in [
        ("split-fragile", "frame/split"),
        ("coalesce-fragile", "frame/coalesced"),
        ("huge-fragile", "frame/huge"),
        ("line-framed", "frame/passthrough"),
    ] {
        // With consent to call `hello`, so that calls are sent too.
        let run = misbehave(defect, "v26.06", &["--probe", "hello"]);
        for id in ["frame/split", "frame/coalesced", "frame/huge", "frame/passthrough"] {
            let line = run.check(id);
            if id == broken {
                assert_eq!(line.map(|l| l.0).as_deref(), Some("FAIL"), "{defect}: {}", run.stdout);
            } else if let Some((o, _)) = line {
                assert_eq!(o, "PASS", "{defect} should not fail {id}: {}", run.stdout);
            }
        }
    }
}

// Input lightningd never sends: warnings, failures under --strict.
defect!(
    r_dies_on_invalid_json,
    "die-on-invalid-json",
    "both",
    [],
    "robust/invalid-json",
    "WARN",
    Starts("after a frame that is not JSON: it exited"),
    0
);
defect!(
    r_dies_on_truncated_frame,
    "die-on-truncated",
    "both",
    [],
    "robust/truncated",
    "WARN",
    Starts("after a truncated frame, then a valid one: it exited"),
    0
);
defect!(r_dies_on_bad_utf8, "die-on-bad-utf8", "both", [], "robust/utf8", "WARN", Starts("after invalid UTF-8 in a string: it exited"), 0);
defect!(
    r_dies_on_unsubscribed_topic,
    "die-on-unsubscribed",
    "v26.06",
    [],
    "robust/unsubscribed",
    "WARN",
    Has("which it did not subscribe to: it exited"),
    0
);
defect!(
    r_dies_on_unknown_method,
    "die-on-unknown-method",
    "both",
    [],
    "robust/unknown-method",
    "WARN",
    Is("after a request for a method it does not have: it exited"),
    0
);
defect!(
    r_answers_unknown_method_with_result,
    "unknown-method-result",
    "v26.06",
    [],
    "robust/unknown-method",
    "WARN",
    Starts("after a request for a method it does not have: it answered without an error: {"),
    0
);
defect!(
    r_dies_on_missing_params,
    "die-on-no-params",
    "both",
    [],
    "robust/no-params",
    "WARN",
    Starts("after a 'connect' notification without params: it exited"),
    0
);
defect!(
    r_dies_on_odd_terminators,
    "die-on-terminators",
    "both",
    [],
    "robust/terminators",
    "WARN",
    Starts("after messages separated by one and by three newlines: it exited"),
    0
);
defect!(
    r_strict_makes_robust_fail,
    "die-on-unknown-method",
    "v26.06",
    ["--strict"],
    "robust/unknown-method",
    "FAIL",
    Is("after a request for a method it does not have: it exited"),
    1
);

// §3: what lightningd makes of responses and notifications.
defect!(
    r_reply_without_id,
    "reply-no-id",
    "both",
    [],
    "wire/notification",
    "FAIL",
    Is("Killing plugin: Malformed JSON-RPC notification missing \"method\" or \"params\": {\"jsonrpc\":\"2.0\",\"result\":{}}"),
    1
);
defect!(
    r_unknown_id_ignored_v26,
    "unknown-id",
    "v26.06",
    [],
    "wire/unknown-id",
    "FAIL",
    Starts("a response to no pending request (id \"bogus\"); lightningd ignores it"),
    1
);
defect!(
    r_unknown_id_killed_v23,
    "unknown-id",
    "v23.02",
    [],
    "wire/unknown-id",
    "FAIL",
    Is("Killing plugin: Received a JSON-RPC response for non-existent request '\"bogus\"'"),
    1
);

// §8: what the plugin sends.
defect!(
    r_log_without_message,
    "log-no-message",
    "both",
    [],
    "log/message",
    "FAIL",
    Is("Killing plugin: Log notification from plugin doesn't have a string \"message\" field"),
    1
);
defect!(
    r_log_level_unknown_v26,
    "log-bad-level",
    "v26.06",
    [],
    "log/level",
    "FAIL",
    Is("Killing plugin: Unknown log-level \"fatal\", valid values are \"trace\", \"debug\", \"info\", \"warn\", or \"error\"."),
    1
);
defect!(
    r_log_level_unknown_v23,
    "log-bad-level",
    "v23.02",
    [],
    "log/level",
    "FAIL",
    Is("Killing plugin: Unknown log-level \"fatal\", valid values are \"debug\", \"info\", \"warn\", or \"error\"."),
    1
);
defect!(
    r_message_without_id,
    "notify-no-id",
    "both",
    [],
    "notify/id",
    "FAIL",
    Is("Killing plugin: JSON-RPC notify \"id\"-field is not present"),
    1
);
defect!(
    r_undeclared_custom_notification,
    "undeclared-notification",
    "both",
    [],
    "notify/declared",
    "FAIL",
    Is("Plugin attempted to send a notification to topic \"surprise\" it hasn't declared in its manifest, not forwarding to subscribers."),
    1
);

// §5.2: the manifest, in lightningd's order.
defect!(
    r_manifest_error_answer,
    "manifest-error",
    "v26.06",
    [],
    "manifest/result",
    "FAIL",
    Starts("Killing plugin: Invalid/missing result tok in '{\"jsonrpc\":\"2.0\",\"id\":\"cln:getmanifest#"),
    1
);
defect!(
    r_manifest_disable,
    "manifest-disable",
    "both",
    [],
    "manifest/disable",
    "WARN",
    Is("Killing plugin: disabled itself: no bitcoind configured"),
    0
);
defect!(
    r_dynamic_string_v26,
    "dynamic-string",
    "v26.06",
    [],
    "manifest/dynamic",
    "FAIL",
    Is("Killing plugin: getmanifest: invalid \"dynamic\" field yes"),
    1
);
defect!(
    r_dynamic_string_v23,
    "dynamic-string",
    "v23.02",
    [],
    "manifest/dynamic",
    "FAIL",
    // Checked against the real v23.02.2 node: the token is quoted whole.
    Is("Killing plugin: Bad 'dynamic' field ('\"yes\"')"),
    1
);
defect!(
    r_featurebits_not_hex,
    "featurebits-hex",
    "both",
    [],
    "manifest/featurebits/hex",
    "FAIL",
    Is("Killing plugin: Featurebits returned by plugin is not a valid hexadecimal string: zz"),
    1
);
defect!(
    r_featurebits_on_dynamic,
    "featurebits-dynamic",
    "both",
    [],
    "manifest/featurebits/dynamic",
    "FAIL",
    Is("Killing plugin: Custom featurebits only allows for non-dynamic plugins: dynamic=1, featurebits={\"node\":\"0200\"}"),
    1
);
defect!(
    r_featurebits_taken_v26,
    "featurebits-taken",
    "v26.06",
    [],
    "manifest/featurebits/taken",
    "FAIL",
    Is("Killing plugin: Custom featurebits already present"),
    1
);
defect!(
    r_featurebits_taken_v23,
    "featurebits-taken",
    "v23.02",
    [],
    "manifest/featurebits/taken",
    "FAIL",
    Is("Killing plugin: Custom featurebits already present"),
    1
);
defect!(
    r_custommessages_not_array,
    "custommessages-type",
    "v26.06",
    [],
    "manifest/custommessages",
    "FAIL",
    Is("Killing plugin: custommessages must be array, not '\"32769\"'"),
    1
);
defect!(r_custommessages_ignored_v23, "custommessages-type", "v23.02", [], "manifest/options", "PASS", Has(""), 0);
defect!(
    r_custommessages_not_u16,
    "custommessages-range",
    "v26.06",
    [],
    "manifest/custommessages",
    "FAIL",
    Is("Killing plugin: custommessages 0 not a u16: '70000'"),
    1
);
defect!(
    r_nonnumericids_false_v26,
    "nonnumericids-false",
    "v26.06",
    [],
    "manifest/nonnumericids",
    "FAIL",
    Is("Killing plugin: Plugin does not allow nonnumericids"),
    1
);
defect!(r_nonnumericids_false_allowed_v23, "nonnumericids-false", "v23.02", [], "manifest/nonnumericids", "PASS", Has(""), 0);
defect!(
    r_nonnumericids_false_v23_strict_apis,
    "nonnumericids-false",
    "v23.02",
    ["--allow-deprecated-apis", "false"],
    "manifest/nonnumericids",
    "FAIL",
    Is("Killing plugin: Plugin does not allow nonnumericids"),
    1
);
defect!(
    r_nonnumericids_string,
    "nonnumericids-string",
    "both",
    [],
    "manifest/nonnumericids",
    "FAIL",
    Is("Killing plugin: Invalid nonnumericids: \"true\""),
    1
);
defect!(
    r_cancheck_string,
    "cancheck-string",
    "v26.06",
    [],
    "manifest/cancheck",
    "FAIL",
    Is("Killing plugin: Invalid cancheck: \"yes\""),
    1
);
defect!(
    r_notifications_not_array,
    "notifications-not-array",
    "both",
    [],
    "manifest/notifications",
    "FAIL",
    Is("Killing plugin: \"result.notifications\" is not an array"),
    1
);
defect!(
    r_notifications_without_method,
    "notifications-no-method",
    "both",
    [],
    "manifest/notifications",
    "FAIL",
    Is("Killing plugin: \"result.notifications[0].name\" missing or not a string."),
    1
);
defect!(r_notifications_native_topic, "notifications-native", "v23.02", [], "manifest/notifications/native", "FAIL", Is("Killing plugin: plugin attempted to register a native notification topic \"connect\", these may however only be sent by lightningd"), 1);

// §5.3: options.
defect!(
    r_options_missing,
    "options-missing",
    "both",
    [],
    "manifest/options",
    "FAIL",
    Is("Killing plugin: \"result.options\" was not found in the manifest"),
    1
);
defect!(
    r_options_not_array,
    "options-not-array",
    "both",
    [],
    "manifest/options",
    "FAIL",
    Is("Killing plugin: \"result.options\" is not an array"),
    1
);
defect!(
    r_option_without_type,
    "option-no-type",
    "both",
    [],
    "manifest/options/fields",
    "FAIL",
    Is("Killing plugin: An option is missing either \"name\", \"description\" or \"type\""),
    1
);
defect!(
    r_option_uppercase_v26,
    "option-uppercase",
    "v26.06",
    [],
    "manifest/options/name",
    "FAIL",
    Is("Killing plugin: Option \"name\" must be lowercase alphanumeric, plus _ or -'"),
    1
);
defect!(r_option_uppercase_allowed_v23, "option-uppercase", "v23.02", [], "manifest/options/name", "PASS", Has(""), 0);
defect!(
    r_option_pipe_v23,
    "option-pipe",
    "v23.02",
    [],
    "manifest/options/name",
    "FAIL",
    Is("Killing plugin: Option \"name\" may not contain '|'"),
    1
);
defect!(
    r_option_taken_is_fatal_v26,
    "option-taken",
    "v26.06",
    [],
    "manifest/options/taken",
    "FAIL",
    Is("option name 'network' is already taken"),
    1
);
defect!(
    r_option_taken_is_fatal_v23,
    "option-taken",
    "v23.02",
    [],
    "manifest/options/taken",
    "FAIL",
    Is("option name '--network' is already taken"),
    1
);
// Names only CLN's unit tests and examples register are free on a real
// node (`lightningd --name=x` is an unknown option in every release), so
// a plugin option so named starts.
defect!(r_option_named_name_is_free, "option-named-name", "both", [], "manifest/options/taken", "PASS", Has(""), 0);
defect!(r_option_named_test_option_is_free, "option-named-test-option", "both", [], "manifest/options/taken", "PASS", Has(""), 0);
defect!(r_option_named_multi_opt_is_free, "option-named-multi-opt", "both", [], "manifest/options/taken", "PASS", Has(""), 0);

/// `wumbo` is registered as `--large-channels|--wumbo` in v23.02, whose
/// clash check compares a registration's whole names string and so starts
/// the plugin (as the real v23.02.2 does); from v23.11 it is taken.
#[test]
fn r_option_named_like_a_hidden_alias_is_taken_from_v23_11() {
    for profile in cln_harness::Profile::names() {
        let run = misbehave("option-named-wumbo", &profile, &[]);
        if profile == "v23.02" {
            expect(&run, "manifest/options/taken", "PASS", Has(""), 0);
        } else {
            expect(&run, "manifest/options/taken", "FAIL", Is("option name 'wumbo' is already taken"), 1);
        }
    }
}

defect!(
    r_option_twice,
    "option-duplicate",
    "v26.06",
    [],
    "manifest/options/taken",
    "FAIL",
    Is("option name 'greeting' is already taken"),
    1
);
defect!(
    r_option_twice_at_runtime,
    "option-duplicate",
    "v26.06",
    ["--dynamic"],
    "manifest/options/taken",
    "FAIL",
    Is("Killing plugin: Option \"greeting\" already registered"),
    1
);
defect!(
    r_option_deprecated_word_v26,
    "option-deprecated-bad",
    "v26.06",
    [],
    "manifest/options/deprecated",
    "FAIL",
    Is("Killing plugin: \"deprecated\" must be an array of 1 or 2 elements, not soon"),
    1
);
defect!(
    r_option_deprecated_word_v23,
    "option-deprecated-bad",
    "v23.02",
    [],
    "manifest/options/deprecated",
    "FAIL",
    Is("Killing plugin: --extra: invalid \"deprecated\" field soon"),
    1
);
defect!(
    r_option_deprecated_version,
    "option-deprecated-version",
    "v26.06",
    [],
    "manifest/options/deprecated",
    "FAIL",
    Is("Killing plugin: invalid \"deprecated\" start version 25.02"),
    1
);
defect!(
    r_option_multi_string,
    "option-multi-string",
    "both",
    [],
    "manifest/options/multi",
    "FAIL",
    Is("Killing plugin: --extra: invalid \"multi\" field yes"),
    1
);
defect!(
    r_option_dynamic_string,
    "option-dynamic-string",
    "v26.06",
    [],
    "manifest/options/dynamic",
    "FAIL",
    Is("Killing plugin: --extra: invalid \"dynamic\" field yes"),
    1
);
defect!(
    r_option_type_unknown,
    "option-bad-type",
    "both",
    [],
    "manifest/options/type",
    "FAIL",
    Is("Killing plugin: Only \"string\", \"int\", \"bool\", and \"flag\" options are supported"),
    1
);
defect!(r_string_conceal_v26, "option-conceal", "v26.06", [], "manifest/options/type", "PASS", Has(""), 0);
defect!(
    r_string_conceal_v23,
    "option-conceal",
    "v23.02",
    [],
    "manifest/options/type",
    "FAIL",
    Is("Killing plugin: Only \"string\", \"int\", \"bool\", and \"flag\" options are supported"),
    1
);
defect!(
    r_flag_default_true_v26,
    "flag-default-true",
    "v26.06",
    [],
    "manifest/options/type",
    "FAIL",
    Is("Killing plugin: --extra type flag default must be 'false' not true"),
    1
);
defect!(r_flag_default_ignored_v23, "flag-default-true", "v23.02", [], "manifest/options/type", "PASS", Has(""), 0);
defect!(r_flag_multi_v26, "flag-multi", "v26.06", [], "manifest/options/type", "FAIL", Is("Killing plugin: flag type cannot be multi"), 1);
defect!(
    r_flag_multi_v23,
    "flag-multi",
    "v23.02",
    [],
    "manifest/options/type",
    "FAIL",
    Is("Killing plugin: --extra type \"flag\" cannot have multi"),
    1
);
defect!(r_bool_multi, "bool-multi", "v26.06", [], "manifest/options/type", "FAIL", Is("Killing plugin: bool type cannot be multi"), 1);
defect!(
    r_int_default_not_number_v26,
    "option-bad-default",
    "v26.06",
    [],
    "manifest/options/default",
    "FAIL",
    Is("Killing plugin: Invalid default 'abc': 'abc' is not a number"),
    1
);
defect!(
    r_int_default_not_number_v23,
    "option-bad-default",
    "v23.02",
    [],
    "manifest/options/default",
    "FAIL",
    Is("Killing plugin: default \"abc\" is not a valid int"),
    1
);

// §5.4: rpcmethods.
defect!(
    r_rpcmethods_missing,
    "rpcmethods-missing",
    "both",
    [],
    "manifest/rpcmethods",
    "FAIL",
    Is("Killing plugin: \"result.rpcmethods\" missing"),
    1
);
defect!(
    r_rpcmethods_not_array,
    "rpcmethods-not-array",
    "both",
    [],
    "manifest/rpcmethods",
    "FAIL",
    Is("Killing plugin: \"result.rpcmethods\" is not an array"),
    1
);
defect!(
    r_method_without_name,
    "method-no-name",
    "both",
    [],
    "manifest/rpcmethods/name",
    "FAIL",
    Is("Killing plugin: rpcmethod does not have a string \"name\": {\"usage\":\"\",\"description\":\"nameless\"}"),
    1
);
defect!(
    r_method_without_usage,
    "method-no-usage",
    "both",
    [],
    "manifest/rpcmethods/usage",
    "FAIL",
    Is("Killing plugin: \"usage\" not provided by plugin"),
    1
);
defect!(
    r_method_usage_number,
    "method-usage-number",
    "v26.06",
    [],
    "manifest/rpcmethods/usage",
    "FAIL",
    Is("Killing plugin: \"usage\" is not a string: {\"name\":\"extra\",\"usage\":5,\"description\":\"An extra method\"}"),
    1
);
defect!(
    r_method_without_description_v23,
    "method-no-description",
    "v23.02",
    [],
    "manifest/rpcmethods/description",
    "FAIL",
    Is("Killing plugin: rpcmethod does not have a string \"description\": {\"name\":\"extra\",\"usage\":\"\"}"),
    1
);
defect!(r_method_without_description_v26, "method-no-description", "v26.06", [], "manifest/rpcmethods/usage", "PASS", Has(""), 0);
defect!(
    r_method_deprecated_word_v23,
    "method-deprecated-bad",
    "v23.02",
    [],
    "manifest/rpcmethods/deprecated",
    "FAIL",
    Is("Killing plugin: extra: invalid \"deprecated\" field soon"),
    1
);
defect!(
    r_method_of_builtin_plugin,
    "method-builtin-plugin",
    "v26.06",
    [],
    "manifest/rpcmethods/taken",
    "FAIL",
    Starts("Killing plugin: Could not register method \"pay\", a method with that name is already registered by plugin /"),
    1
);
defect!(
    r_method_of_lightningd_crashes_it,
    "method-builtin-command",
    "v26.06",
    [],
    "manifest/rpcmethods/taken",
    "FAIL",
    Has("collides with lightningd's built-in command \"getinfo\""),
    1
);
defect!(
    r_method_twice,
    "method-duplicate",
    "v26.06",
    [],
    "manifest/rpcmethods/taken",
    "FAIL",
    Has("Could not register method \"hello\", a method with that name is already registered by plugin /"),
    1
);

// §5.2 item 11, §5.5, §5.6: subscriptions and hooks.
defect!(
    r_subscriptions_not_array,
    "subscriptions-not-array",
    "both",
    [],
    "manifest/subscriptions",
    "FAIL",
    Is("Killing plugin: \"result.subscriptions\" is not an array"),
    1
);
defect!(
    r_subscription_not_string,
    "subscription-not-string",
    "both",
    [],
    "manifest/subscriptions",
    "FAIL",
    Is("Killing plugin: result.subscriptions[1] is not a string: '5'"),
    1
);
defect!(
    r_subscription_typo_warns,
    "unknown-topic",
    "both",
    [],
    "manifest/topics",
    "WARN",
    Is("topic 'connnect' is not a known notification topic"),
    0
);
defect!(
    r_hook_without_name,
    "hook-no-name",
    "both",
    [],
    "manifest/hooks/name",
    "FAIL",
    Is("Killing plugin: no name in hook obj {\"before\":[]}"),
    1
);
defect!(
    r_hook_unknown_v26,
    "hook-unknown",
    "v26.06",
    [],
    "manifest/hooks/known",
    "FAIL",
    Is("Killing plugin: Unknown hook name peer_connect"),
    1
);
defect!(
    r_hook_unknown_v23,
    "hook-unknown",
    "v23.02",
    [],
    "manifest/hooks/known",
    "FAIL",
    Is("Killing plugin: could not register hook 'peer_connect', either the name doesn't exist or another plugin already registered it."),
    1
);
defect!(
    r_hook_twice_v26,
    "hook-duplicate",
    "v26.06",
    [],
    "manifest/hooks/duplicate",
    "FAIL",
    Is("Killing plugin: Registered for hook peer_connected multiple times"),
    1
);
defect!(
    r_hook_twice_v23,
    "hook-duplicate",
    "v23.02",
    [],
    "manifest/hooks/known",
    "FAIL",
    Is("Killing plugin: could not register hook 'peer_connected', either the name doesn't exist or another plugin already registered it."),
    1
);
defect!(
    r_hook_filters_not_allowed,
    "hook-filters",
    "v26.06",
    [],
    "manifest/hooks/filters",
    "FAIL",
    Is("Killing plugin: Hook peer_connected does not allow filters"),
    1
);
defect!(
    r_hook_before_itself,
    "hook-order",
    "both",
    [],
    "manifest/hooks/order",
    "FAIL",
    Is("Killing plugin: Cannot meet required hook dependencies"),
    1
);

// §1.7, §5.2 item 13: `plugin start`.
defect!(
    r_not_dynamic_at_runtime,
    "not-dynamic",
    "v26.06",
    ["--dynamic"],
    "manifest/dynamic-start",
    "FAIL",
    Is("Killing plugin: Not a dynamic plugin"),
    1
);
defect!(
    r_unknown_start_parameter,
    "",
    "v26.06",
    ["--dynamic", "-o", "nope=1"],
    "manifest/start-params",
    "FAIL",
    Is("Killing plugin: unknown parameter nope"),
    1
);

// §6.2: init answers.
defect!(
    r_init_disable,
    "init-disable",
    "both",
    [],
    "init/disable",
    "WARN",
    Is("Killing plugin: disabled itself at init: missing configuration"),
    0
);
defect!(r_init_error_accepted, "init-error", "both", [], "init/result", "WARN", Starts("init answered without a result"), 0);

#[test]
fn r_option_taken_names_the_fatal_start_error() {
    let run = misbehave("option-taken", "v26.06", &[]);
    let fatal = run.detail("manifest/options/taken", "lightningd:").unwrap();
    assert!(
        fatal.starts_with("error starting plugin '/") && fatal.ends_with("misbehave.py': option name 'network' is already taken"),
        "{fatal}"
    );
    assert!(run.stdout.contains("this plugin would stop lightningd itself"));
}

#[test]
fn a_kill_skips_what_lightningd_never_reaches() {
    let run = misbehave("dynamic-string", "v26.06", &["-v"]);
    assert!(run.stdout.contains("checks not reached: lightningd kills the plugin at manifest/dynamic:"), "{}", run.stdout);
    assert!(run.check("init/timeout").is_none(), "init was never sent");
    assert!(run.stdout.contains("\n       init/timeout"));
}
