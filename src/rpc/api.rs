//! The release's command set, from `fixtures/rpc/<profile>/commands.json`
//! (written by `examples/rpc-fixtures.rs` from CLN's schemas): which
//! commands exist, what each parameter accepts, what was deprecated when,
//! and each command's answer. Calls are judged here as lightningd's
//! `parse_request` and `param()` judge them, with their error codes and words.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Deserialize;
use serde_json::{json, Value};

use crate::checks::CheckId;
use crate::profile::Profile;

#[derive(Deserialize)]
struct File {
    tag: String,
    badparam_hides_token: bool,
    commands: BTreeMap<String, Command>,
}

#[derive(Deserialize)]
pub(super) struct Command {
    #[serde(default)]
    params: Vec<Param>,
    /// `[deprecated in, removed in]`.
    #[serde(default)]
    deprecated: Option<Vec<String>>,
    #[serde(default)]
    pub(super) answer: Value,
    /// The response schema, with CLN's types as JSON Schema's. Only the
    /// tests read it (answers are checked against it there): a run skips
    /// it, most of the file, which halves the time to read the release.
    #[serde(default)]
    #[cfg_attr(not(test), serde(skip), allow(dead_code))]
    pub(super) response: Value,
}

#[derive(Deserialize)]
struct Param {
    name: String,
    #[serde(default)]
    types: Vec<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    deprecated: Option<Vec<String>>,
}

/// One release's API.
pub(super) struct Api {
    pub(super) tag: String,
    pub(super) hides_token: bool,
    pub(super) commands: BTreeMap<String, Command>,
}

/// A call lightningd refuses: the error it answers, and what the report says.
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) error: Value,
    pub(super) check: CheckId,
    pub(super) reason: String,
}

/// `v24.11.2` as (24, 11).
pub(super) fn release(v: &str) -> (u32, u32) {
    let mut parts = v.trim_start_matches('v').split(['.', '-', 'r']).map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Whether a deprecation `[start, end]` applies at `tag`: `Some(removed)`.
fn deprecated_at(d: &Option<Vec<String>>, tag: &str) -> Option<bool> {
    let d = d.as_ref()?;
    let start = d.first()?;
    let now = release(tag);
    if now < release(start) {
        return None;
    }
    Some(d.get(1).is_some_and(|end| now >= release(end)))
}

fn when(d: &Option<Vec<String>>) -> String {
    match d.as_deref() {
        Some([start, end, ..]) => format!("deprecated in {start}, removed in {end}"),
        Some([start]) => format!("deprecated in {start}"),
        _ => "deprecated".to_owned(),
    }
}

/// Whether `v` is something lightningd's parser for `ty` could take. Only
/// the JSON shape is judged, leniently: lightningd reads numbers and
/// booleans from strings too, and the exact parser per parameter is not in
/// the schema, so a value of the right shape is never refused.
fn accepts(ty: &str, v: &Value) -> bool {
    let digits = |s: &str| !s.is_empty() && s.trim_start_matches('-').chars().all(|c| c.is_ascii_digit());
    match ty {
        "string" => v.is_string(),
        "u64" | "u32" | "u16" | "u8" | "integer" => v.is_i64() || v.is_u64() || v.as_str().is_some_and(digits),
        "number" => v.is_number() || v.as_str().is_some_and(|s| s.parse::<f64>().is_ok()),
        "boolean" => v.is_boolean() || v.as_str().is_some_and(|s| s == "true" || s == "false"),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "msat" | "sat" => amount(v),
        "msat_or_any" => amount(v) || v == "any",
        "sat_or_all" | "msat_or_all" => amount(v) || v == "all",
        "feerate" => v.is_number() || v.is_string(),
        // CLN's string-shaped types: hex, pubkey, txid, short_channel_id...
        _ => v.is_string(),
    }
}

/// Whether `v` is an amount as lightningd's `parse_amount_msat` and
/// `parse_amount_sat` read one: a non-negative integer, digits with `msat`
/// or `sat`, or bitcoins with `btc`.
fn amount(v: &Value) -> bool {
    if let Some(n) = v.as_f64() {
        return v.is_u64() || (n >= 0.0 && n.fract() == 0.0);
    }
    let Some(s) = v.as_str() else { return false };
    let digits = |d: &str| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit());
    if let Some(btc) = s.strip_suffix("btc") {
        let (whole, frac) = btc.split_once('.').unwrap_or((btc, "0"));
        return digits(whole) && digits(frac) && frac.len() <= 11;
    }
    digits(s.strip_suffix("msat").or_else(|| s.strip_suffix("sat")).unwrap_or(s))
}

/// What lightningd's parser for `ty` says of a value it cannot take.
fn should_be(ty: &str) -> &'static str {
    match ty {
        "string" => "should be a string (without \\u)",
        "u64" => "should be an unsigned 64 bit integer",
        "u32" => "should be an unsigned 32 bit integer",
        "u16" | "u8" => "should be an unsigned 16 bit integer",
        "integer" => "should be an integer",
        "number" => "should be a non-negative floating-point number",
        "boolean" => "should be 'true' or 'false'",
        "array" => "should be an array",
        "msat" | "msat_or_all" => "should be a millisatoshi amount",
        // `invoice`'s own parser (lightningd/invoice.c).
        "msat_or_any" => "should be positive msat or 'any'",
        "sat" | "sat_or_all" => "should be a satoshi amount",
        "pubkey" => "should be a node id",
        "short_channel_id" => "should be a short_channel_id of form NxNxN",
        "txid" => "should be a txid",
        "hash" | "secret" | "sha256" => "should be a 32 byte hex value",
        "hex" => "should be a hex value",
        "outpoint" => "should be a txid:outnum",
        _ => "should be a string (without \\u)",
    }
}

impl Api {
    /// The commands bundled for `profile`, parsed once per process and
    /// shared: every run (and every fresh process of a run) of a profile
    /// reads the same data, and parsing it costs more than a handshake's
    /// own work. Kept for the life of the process, one per profile.
    pub(super) fn bundled(profile: &Profile) -> Option<Arc<Api>> {
        static PARSED: OnceLock<Mutex<HashMap<String, Option<Arc<Api>>>>> = OnceLock::new();
        let cache = PARSED.get_or_init(Default::default);
        if let Some(api) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&profile.name) {
            return api.clone();
        }
        // Parsed outside the lock: two first runs may both parse; one wins.
        let api = profile.rpc_data("commands.json").and_then(|b| Api::parse(b).ok()).map(Arc::new);
        cache.lock().unwrap_or_else(|e| e.into_inner()).entry(profile.name.clone()).or_insert(api).clone()
    }

    pub(super) fn parse(bytes: &[u8]) -> Result<Api, String> {
        let f: File = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        Ok(Api { tag: f.tag, hides_token: f.badparam_hides_token, commands: f.commands })
    }

    /// Judges a call to a command this release has. `Ok` carries the
    /// deprecation notes of a call lightningd takes.
    pub(super) fn judge(&self, method: &str, params: &Value, allow_deprecated: bool) -> Result<Vec<String>, Refusal> {
        let Some(cmd) = self.commands.get(method) else {
            return Ok(Vec::new());
        };
        let mut notes = Vec::new();
        if let Some(removed) = deprecated_at(&cmd.deprecated, &self.tag) {
            let reason = format!("'{method}' is {} (lightningd {})", when(&cmd.deprecated), self.tag);
            if removed || !allow_deprecated {
                return Err(Refusal {
                    error: json!({"code": -32601, "message": format!("Command {} is deprecated", Value::from(method))}),
                    check: CheckId::RPC_DEPRECATED,
                    reason,
                });
            }
            notes.push(reason);
        }
        let invalid =
            |message: String, check: CheckId, reason: String| Refusal { error: json!({"code": -32602, "message": message}), check, reason };
        let mut set = vec![false; cmd.params.len()];
        let mut given: Vec<(usize, &Value)> = Vec::new();
        match params {
            Value::Array(items) => {
                if items.len() > cmd.params.len() {
                    let m = format!("too many parameters: got {}, expected {}", items.len(), cmd.params.len());
                    return Err(invalid(m.clone(), CheckId::RPC_PARAMS, format!("{method}: {m}")));
                }
                given.extend(items.iter().enumerate().filter(|(_, v)| !v.is_null()));
            }
            Value::Object(members) => {
                for (name, v) in members {
                    let found = cmd.params.iter().position(|p| &p.name == name);
                    let usable = found.filter(|&i| {
                        let d = deprecated_at(&cmd.params[i].deprecated, &self.tag);
                        d.is_none() || (allow_deprecated && d == Some(false))
                    });
                    let Some(i) = usable else {
                        let m = format!("unknown parameter: {name}, this may be caused by a failure to autodetect key=value-style parameters. Please try using the -k flag and explicit key=value pairs of parameters.");
                        let (check, reason) = match found {
                            Some(i) => (
                                CheckId::RPC_DEPRECATED,
                                format!("{method}: parameter '{name}' is {} (lightningd {})", when(&cmd.params[i].deprecated), self.tag),
                            ),
                            None => (CheckId::RPC_PARAMS, format!("{method}: unknown parameter '{name}'")),
                        };
                        return Err(invalid(m, check, reason));
                    };
                    if deprecated_at(&cmd.params[i].deprecated, &self.tag).is_some() {
                        notes.push(format!(
                            "{method}: parameter '{name}' is {} (lightningd {})",
                            when(&cmd.params[i].deprecated),
                            self.tag
                        ));
                    }
                    given.push((i, v));
                }
            }
            _ => {
                return Err(invalid(
                    "Expected array or object for params".into(),
                    CheckId::RPC_PARAMS,
                    format!("{method}: params is neither an array nor an object"),
                ))
            }
        }
        for (i, v) in given {
            let p = &cmd.params[i];
            set[i] = true;
            if p.types.is_empty() || p.types.iter().any(|t| accepts(t, v)) {
                continue;
            }
            let what = should_be(&p.types[0]);
            let m = if self.hides_token {
                format!("{}: {what}: invalid token (see logs for details)", p.name)
            } else {
                format!("{}: {what}: invalid token '{v}'", p.name)
            };
            return Err(invalid(m, CheckId::RPC_PARAMS, format!("{method}: parameter '{}' is {v}, which {what}", p.name)));
        }
        if let Some(p) = cmd.params.iter().zip(&set).find(|(p, s)| p.required && !**s).map(|(p, _)| p) {
            return Err(invalid(
                format!("missing required parameter: {}", p.name),
                CheckId::RPC_PARAMS,
                format!("{method}: missing required parameter '{}'", p.name),
            ));
        }
        Ok(notes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(tag: &str, hides: bool) -> Api {
        Api::parse(
            json!({"tag": tag, "badparam_hides_token": hides, "commands": {
                "datastore": {"params": [
                    {"name": "key", "types": ["array", "string"], "required": true},
                    {"name": "string", "types": ["string"]},
                    {"name": "generation", "types": ["u64"]},
                    {"name": "old", "types": ["string"], "deprecated": ["v24.11", "v25.05"]}
                ], "answer": {}},
                "pay": {"params": [], "deprecated": ["v26.06", "v27.03"], "answer": {}}
            }})
            .to_string()
            .as_bytes(),
        )
        .unwrap()
    }

    fn refused(a: &Api, m: &str, p: Value, allow: bool) -> (String, CheckId) {
        let r = a.judge(m, &p, allow).expect_err("refused");
        (r.error["message"].as_str().unwrap().to_owned(), r.check)
    }

    #[test]
    fn calls_are_judged_with_lightningds_words() {
        let a = api("v26.06.6", true);
        assert!(a.judge("datastore", &json!({"key": "k", "string": "v", "generation": "3"}), true).unwrap().is_empty());
        assert!(a.judge("datastore", &json!(["k", null, 1]), true).is_ok());
        assert_eq!(refused(&a, "datastore", json!({"string": "v"}), true).0, "missing required parameter: key");
        assert!(refused(&a, "datastore", json!({"key": "k", "nope": 1}), true).0.starts_with("unknown parameter: nope, this may"));
        assert_eq!(
            refused(&a, "datastore", json!({"key": "k", "generation": "x"}), true).0,
            "generation: should be an unsigned 64 bit integer: invalid token (see logs for details)"
        );
        assert_eq!(refused(&a, "datastore", json!(["k", 1, 2, 3, 4]), true).0, "too many parameters: got 5, expected 4");
        assert!(accepts("msat", &json!("1000msat")) && accepts("msat", &json!(5)) && accepts("sat", &json!("0.001btc")));
        assert!(!accepts("msat", &json!("lots")) && !accepts("msat", &json!(-1)) && !accepts("msat", &json!("any")));
        assert!(accepts("msat_or_any", &json!("any")) && accepts("sat_or_all", &json!("all")));
        let old = api("v24.05", false);
        assert_eq!(
            refused(&old, "datastore", json!({"key": "k", "string": 5}), true).0,
            "string: should be a string (without \\u): invalid token '5'"
        );
    }

    #[test]
    fn deprecations_follow_the_release_and_the_flag() {
        let a = api("v26.06.6", true);
        assert_eq!(refused(&a, "pay", json!({}), false), ("Command \"pay\" is deprecated".to_owned(), CheckId::RPC_DEPRECATED));
        assert_eq!(a.judge("pay", &json!({}), true).unwrap(), ["'pay' is deprecated in v26.06, removed in v27.03 (lightningd v26.06.6)"]);
        // Removed by v26.06: refused even with deprecated APIs allowed.
        assert_eq!(refused(&a, "datastore", json!({"key": "k", "old": "x"}), true).1, CheckId::RPC_DEPRECATED);
        // Deprecated but not removed in v25.02: taken, and noted.
        let mid = api("v25.02", true);
        assert_eq!(mid.judge("datastore", &json!({"key": "k", "old": "x"}), true).unwrap().len(), 1);
        assert!(api("v24.05", false).judge("pay", &json!({}), false).is_ok());
    }

    /// Every command of every bundled release is answered, and the answer
    /// (a hand-written one where there is one) is valid against that
    /// release's response schema.
    #[test]
    fn every_command_of_every_profile_answers_within_its_response_schema() {
        use crate::profile::Profile;
        let mut bad = Vec::new();
        for name in Profile::names() {
            let p = Profile::load(&name).unwrap();
            let api = Api::parse(p.rpc_data("commands.json").unwrap_or_else(|| panic!("{name}: no commands.json"))).unwrap();
            assert!(api.commands.len() > 60, "{name}: {} commands", api.commands.len());
            for cmd in p.builtin_commands.iter().chain(p.builtin_plugin_methods.keys()) {
                let Some(c) = api.commands.get(cmd) else { continue };
                let answer = p.rpc_answer(cmd).unwrap_or_else(|| c.answer.clone());
                let v = jsonschema::validator_for(&c.response).unwrap_or_else(|e| panic!("{name}/{cmd}: {e}"));
                let first = v.iter_errors(&answer).next().map(|e| format!("{name}/{cmd}: {e} at {}", e.instance_path()));
                bad.extend(first);
            }
        }
        assert!(bad.is_empty(), "{} answers invalid:\n{}", bad.len(), bad.join("\n"));
    }
}
