//! The mock lightning-rpc, driven by the rpc_caller fixture: JSON-RPC as
//! lightningd speaks it on the socket, and each of the mock's limits.

use std::time::{Duration, Instant};

use cln_harness::{Harness, Outcome, Report, Verdict};

use crate::fixture;

/// Runs rpc_caller with the given actions (one per line) up to init.
pub fn calls(actions: &str, profile: &str) -> Report {
    Harness::new(fixture("rpc_caller.py"))
        .profile(profile)
        .env("CLN_HARNESS_RPC", actions)
        .handshake_only(true)
        .timeout(Duration::from_secs(20))
        .run()
        .expect("the harness runs")
}

/// The replies the plugin logged, in order.
pub fn replies(r: &Report) -> Vec<String> {
    r.log.iter().filter_map(|l| l.message.strip_prefix("reply ").map(str::to_owned)).collect()
}

fn outcome(r: &Report, id: &str) -> (Outcome, String) {
    let c = r.check(id).unwrap_or_else(|| panic!("no {id} in {:?}", r.checks));
    (c.outcome, c.message.clone())
}

#[test]
fn ids_come_back_as_sent_and_pipelined_requests_are_all_answered() {
    let r = calls(
        r#"raw {"jsonrpc":"2.0","id":"a\u0041","method":"getinfo","params":{}}{"jsonrpc":"2.0","id":1.50,"method":"nope","params":[]} {"jsonrpc":"2.0","id":"x","method":"getinfo","params":{},"filter":{"id":true}}"#,
        "v26.06",
    );
    let got = replies(&r);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got[0].contains(r#""id":"a\u0041""#), "{}", got[0]);
    assert!(got[1].starts_with(r#"{"jsonrpc":"2.0","id":1.50,"error":{"code":-32601,"#), "{}", got[1]);
    let filtered: serde_json::Value = serde_json::from_str(&got[2]).unwrap();
    assert_eq!(filtered["result"].as_object().unwrap().keys().collect::<Vec<_>>(), ["id"], "{}", got[2]);
}

#[test]
fn malformed_requests_get_lightningds_words() {
    let r = calls(
        r#"raw {"id":1,"method":"getinfo","params":{}} {"jsonrpc":"2.0","method":"getinfo","params":{}} {"jsonrpc":"2.0","id":[1],"method":"getinfo","params":{}} {"jsonrpc":"2.0","id":2,"params":{}} {"jsonrpc":"2.0","id":3,"method":"getinfo"}"#,
        "v26.06",
    );
    let got = replies(&r);
    let messages: Vec<String> = got
        .iter()
        .map(|t| serde_json::from_str::<serde_json::Value>(t).unwrap()["error"]["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        messages,
        ["jsonrpc: \"2.0\" must be specified in the request", "No id", "Expected string/primitive for id", "No method", "No params"]
    );
}

#[test]
fn a_huge_request_is_cut_off_without_delaying_init() {
    let t = Instant::now();
    let r = calls("huge 40", "v26.06");
    let (o, m) = outcome(&r, "rpc/request-size");
    assert_eq!(o, Outcome::Warn, "{m}");
    assert!(m.contains("over the mock's limit of 16777216 bytes"), "{m}");
    assert_eq!(r.verdict, Verdict::Accepted);
    assert_eq!(outcome(&r, "init/timeout").0, Outcome::Pass);
    // Generous: reading 16 MiB takes well under a second.
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());

    let small = calls("huge 1", "v26.06");
    assert_eq!(outcome(&small, "rpc/request-size").0, Outcome::Pass);
}

#[test]
fn connections_beyond_the_limit_are_closed_and_counted() {
    let r = calls("connections 100", "v26.06");
    let (o, m) = outcome(&r, "rpc/connections");
    assert_eq!(o, Outcome::Warn, "{m}");
    assert!(m.contains("held 64 connections") && m.contains("36 more were closed"), "{m}");
    let few = calls("connections 10", "v26.06");
    assert_eq!(outcome(&few, "rpc/connections").0, Outcome::Pass);
}

#[test]
fn recorded_calls_are_capped_and_the_rest_counted() {
    let r = calls("poll 1200", "v26.06");
    let (o, m) = outcome(&r, "rpc/calls");
    assert_eq!(o, Outcome::Warn, "{m}");
    assert!(m.contains("made 1200 RPC calls; the report keeps the first 1000 and drops 200"), "{m}");
    assert_eq!(r.rpc_calls.len(), 1000);
    let few = calls("poll 10", "v26.06");
    assert_eq!(outcome(&few, "rpc/calls").0, Outcome::Pass);
    assert_eq!(few.rpc_calls.len(), 10);
}

/// Runs rpc_caller with the given actions and deprecated APIs allowed or not.
fn calls_with(actions: &str, profile: &str, allow_deprecated: bool) -> Report {
    Harness::new(fixture("rpc_caller.py"))
        .profile(profile)
        .env("CLN_HARNESS_RPC", actions)
        .handshake_only(true)
        .allow_deprecated_apis(allow_deprecated)
        .timeout(Duration::from_secs(20))
        .run()
        .expect("the harness runs")
}

fn error_message(reply: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(reply).unwrap_or_else(|e| panic!("{reply}: {e}"));
    v["error"]["message"].as_str().unwrap_or_else(|| panic!("no error in {reply}")).to_owned()
}

#[test]
fn a_correct_caller_passes_and_its_datastore_is_listed_back() {
    for profile in ["v26.06", "v23.02"] {
        let r = calls(
            "call getinfo {}\ncall listconfigs {}\ncall datastore {\"key\":[\"me\",\"a\"],\"string\":\"hi\"}\ncall listdatastore {\"key\":\"me\"}\ncall listpeers {}\ncall listfunds {}\ncall help {}",
            profile,
        );
        for id in ["rpc/unknown-command", "rpc/params", "rpc/deprecated"] {
            assert_eq!(outcome(&r, id).0, Outcome::Pass, "{profile} {id}: {:?}", r.rpc_calls);
        }
        let got = replies(&r);
        assert_eq!(got.len(), 7, "{got:?}");
        assert!(got.iter().all(|t| t.contains("\"result\"")), "{profile}: {got:?}");
        let listed: serde_json::Value = serde_json::from_str(&got[3]).unwrap();
        assert_eq!(listed["result"]["datastore"][0]["string"], "hi", "{}", got[3]);
    }
}

#[test]
fn an_unknown_command_is_refused_and_reported() {
    let r = calls("call nosuchcommand {}", "v26.06");
    assert_eq!(error_message(&replies(&r)[0]), "Unknown command 'nosuchcommand'");
    let (o, m) = outcome(&r, "rpc/unknown-command");
    assert_eq!(o, Outcome::Fail);
    assert!(m.contains("'nosuchcommand' is not a command of lightningd v26.06.6"), "{m}");
}

#[test]
fn a_command_a_release_lacks_names_the_releases_that_have_it() {
    // listclosedchannels arrived after v23.02.
    let r = calls("call listclosedchannels {}", "v23.02");
    let (o, m) = outcome(&r, "rpc/unknown-command");
    assert_eq!(o, Outcome::Fail);
    assert!(m.contains("'listclosedchannels' is not a command of lightningd v23.02.2 (") && m.contains("v26.06"), "{m}");
    assert_eq!(outcome(&calls("call listclosedchannels {}", "v26.06"), "rpc/unknown-command").0, Outcome::Pass);
}

#[test]
fn an_unknown_parameter_is_refused_with_lightningds_words() {
    let r = calls("call getinfo {\"verbose\":true}", "v26.06");
    assert_eq!(
        error_message(&replies(&r)[0]),
        "unknown parameter: verbose, this may be caused by a failure to autodetect key=value-style parameters. Please try using the -k flag and explicit key=value pairs of parameters."
    );
    let (o, m) = outcome(&r, "rpc/params");
    assert_eq!(o, Outcome::Fail);
    assert_eq!(m, "getinfo: unknown parameter 'verbose'");
}

#[test]
fn a_missing_required_parameter_is_refused() {
    let r = calls("call datastore {\"string\":\"x\"}", "v26.06");
    assert_eq!(error_message(&replies(&r)[0]), "missing required parameter: key");
    assert_eq!(outcome(&r, "rpc/params"), (Outcome::Fail, "datastore: missing required parameter 'key'".to_owned()));
}

#[test]
fn a_wrong_type_is_refused_in_each_releases_words() {
    let action = "call datastore {\"key\":\"k\",\"string\":\"x\",\"mode\":\"must-replace\",\"generation\":\"soon\"}";
    let new = calls(action, "v26.06");
    assert_eq!(error_message(&replies(&new)[0]), "generation: should be an unsigned 64 bit integer: invalid token (see logs for details)");
    let old = calls(action, "v23.02");
    assert_eq!(error_message(&replies(&old)[0]), "generation: should be an unsigned 64 bit integer: invalid token '\"soon\"'");
    let (o, m) = outcome(&new, "rpc/params");
    assert_eq!(o, Outcome::Fail);
    assert!(m.contains("parameter 'generation' is \"soon\""), "{m}");
}

#[test]
fn a_deprecated_command_is_reported_with_its_release_and_refused_without_deprecated_apis() {
    let allowed = calls_with("call pay {\"bolt11\":\"lnbcrt1\"}", "v26.06", true);
    let (o, m) = outcome(&allowed, "rpc/deprecated");
    assert_eq!(o, Outcome::Fail);
    assert!(m.contains("'pay' is deprecated in v26.06, removed in v27.03"), "{m}");
    assert!(replies(&allowed)[0].contains("\"result\""), "{:?}", replies(&allowed));
    let refused = calls_with("call pay {\"bolt11\":\"lnbcrt1\"}", "v26.06", false);
    assert_eq!(error_message(&replies(&refused)[0]), "Command \"pay\" is deprecated");
    // v23.02 had not deprecated it.
    assert_eq!(outcome(&calls("call pay {\"bolt11\":\"lnbcrt1\"}", "v23.02"), "rpc/deprecated").0, Outcome::Pass);
}

/// `init.configuration` and the mock's `listconfigs` and `getinfo`
/// describe one node, in every release's shapes: the lightning-dir (the
/// network directory is `<lightning-dir>/<network>`), rpc-file, network,
/// and the plugin's options with the values init carried.
#[test]
fn init_and_listconfigs_describe_the_same_node_in_every_profile() {
    use serde_json::{json, Value};
    let options = json!([
        {"name": "nv-greeting", "type": "string", "default": "World", "description": "d"},
        {"name": "nv-count", "type": "int", "default": 3, "description": "d"},
        {"name": "nv-color", "type": "bool", "default": false, "description": "d"},
        {"name": "nv-verbose", "type": "flag", "description": "d"},
        {"name": "nv-peer", "type": "string", "multi": true, "description": "d"}
    ]);
    for profile in cln_harness::Profile::names() {
        let r = Harness::new(fixture("rpc_caller.py"))
            .profile(&profile)
            .env("CLN_HARNESS_RPC", "show-init\ncall listconfigs {}\ncall getinfo {}")
            .env("CLN_HARNESS_RPC_OPTIONS", options.to_string())
            .option("nv-greeting=hi")
            .option("nv-verbose")
            .option("nv-peer=a")
            .option("nv-peer=b")
            .handshake_only(true)
            .timeout(Duration::from_secs(20))
            .run()
            .expect("the harness runs");
        let init: Value = r
            .log
            .iter()
            .find_map(|l| l.message.strip_prefix("init ").map(|t| serde_json::from_str(t).unwrap()))
            .unwrap_or_else(|| panic!("{profile}: no init logged: {:?}", r.log));
        let got = replies(&r);
        assert_eq!(got.len(), 2, "{profile}: {got:?}");
        let lc: Value = serde_json::from_str::<Value>(&got[0]).unwrap()["result"].clone();
        let info: Value = serde_json::from_str::<Value>(&got[1]).unwrap()["result"].clone();
        let conf = &init["configuration"];
        let netdir = conf["lightning-dir"].as_str().unwrap();
        let network = conf["network"].as_str().unwrap();
        assert_eq!(info["lightning-dir"], conf["lightning-dir"], "{profile}: getinfo");
        assert_eq!(info["network"], conf["network"], "{profile}: getinfo");
        let opts = &init["options"];
        assert_eq!(opts, &json!({"nv-greeting": "hi", "nv-count": 3, "nv-color": false, "nv-verbose": true, "nv-peer": ["a", "b"]}));
        let plugin = fixture("rpc_caller.py").display().to_string();
        let mut described = 0;
        if let Some(c) = lc.get("configs") {
            let base = c["lightning-dir"]["value_str"].as_str().unwrap();
            assert_eq!(format!("{base}/{network}"), netdir, "{profile}: configs.lightning-dir");
            assert_eq!(c["network"]["value_str"], conf["network"], "{profile}");
            assert_eq!(c["rpc-file"]["value_str"], conf["rpc-file"], "{profile}");
            assert!(c["plugin"]["values_str"].as_array().unwrap().contains(&json!(plugin)), "{profile}: {}", c["plugin"]);
            assert_eq!(c["nv-greeting"], json!({"value_str": "hi", "source": "cmdline", "plugin": plugin}), "{profile}");
            assert_eq!(c["nv-count"], json!({"value_int": 3, "source": "default", "plugin": plugin}), "{profile}");
            assert_eq!(c["nv-color"], json!({"value_bool": false, "source": "default", "plugin": plugin}), "{profile}");
            assert_eq!(c["nv-verbose"], json!({"set": true, "source": "cmdline", "plugin": plugin}), "{profile}");
            assert_eq!(c["nv-peer"]["values_str"], json!(["a", "b"]), "{profile}");
            // Every config lightningd has is there, each with its source.
            assert!(c.as_object().unwrap().len() > 60, "{profile}: {} configs", c.as_object().unwrap().len());
            for (name, e) in c.as_object().unwrap() {
                assert!(e.get("source").or(e.get("sources")).is_some(), "{profile}: {name} has no source: {e}");
            }
            described += 1;
        }
        if let Some(base) = lc.get("lightning-dir").and_then(Value::as_str) {
            assert_eq!(format!("{base}/{network}"), netdir, "{profile}: flat lightning-dir");
            assert_eq!(lc["network"], conf["network"], "{profile}");
            assert_eq!(lc["rpc-file"], conf["rpc-file"], "{profile}");
            let me = lc["plugins"].as_array().unwrap().iter().find(|p| p["path"] == json!(plugin)).expect("the plugin in plugins");
            assert_eq!(&me["options"], opts, "{profile}: flat plugin options");
            described += 1;
        }
        assert!(described > 0, "{profile}: listconfigs in no known shape: {lc}");
    }
}
