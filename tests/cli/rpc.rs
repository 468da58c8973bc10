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
