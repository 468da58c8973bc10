//! Scenarios: scripted runs read from a TOML file (`--scenario FILE`).
//!
//! After init, instead of sending every subscribed topic, the harness runs
//! the file's steps in order: send a notification, expect a log line or an
//! RPC call from the plugin, call one of the plugin's methods as lightningd
//! forwards a call (§10.1), wait. The mock RPC's answers can be scripted.
//! `fixtures/scenarios/scenario.schema.json` describes the format; the
//! examples beside it are tested.

use std::path::Path;

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

/// A parsed scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario shows, for the report.
    #[serde(default)]
    pub name: String,
    /// Scripted answers of the mock lightning-rpc, taking precedence over
    /// the profile's canned ones.
    #[serde(default)]
    pub rpc: Vec<RpcAnswer>,
    #[serde(default, rename = "step")]
    pub steps: Vec<Step>,
}

/// One scripted RPC answer: `result` or `error`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RpcAnswer {
    pub method: String,
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub error: Option<Value>,
}

/// One step. Exactly one of `notify`, `expect_log`, `expect_rpc`, `call`,
/// `wait_ms` says what it does; the other fields refine it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Send this native topic: the profile's fixture, or `params` inline.
    pub notify: Option<String>,
    /// With `notify`: the notification's params, replacing the fixture's.
    /// With `call`: the call's params (array or object).
    /// With `expect_rpc`: members the call's params must contain.
    pub params: Option<Value>,
    /// Expect a `log` line from the plugin matching this regular expression.
    pub expect_log: Option<String>,
    /// With `expect_log`: the level the line must have.
    pub level: Option<String>,
    /// Expect the plugin to call this method on the mock RPC.
    pub expect_rpc: Option<String>,
    /// Call one of the plugin's rpcmethods as lightningd forwards a call.
    pub call: Option<String>,
    /// With `call`: members the result must contain.
    pub expect_result: Option<Value>,
    /// With `call`: the call must fail (an `error` answer).
    #[serde(default)]
    pub expect_error: bool,
    /// Just wait this long, watching the plugin.
    pub wait_ms: Option<u64>,
    /// Call this hook, as lightningd does: with `params` as its payload, or
    /// the profile's payload (`variant` picks one of its variants).
    pub hook: Option<String>,
    /// With `hook`: which of the profile's payloads to send (`<hook>.<variant>.json`).
    pub variant: Option<String>,
    /// With `hook`: the decision the answer must carry (`continue`,
    /// `reject`, `fail`, `resolve`, `disconnect`, `replace`, `return`...).
    pub expect_decision: Option<String>,
    /// Send `setconfig` for this dynamic option.
    pub setconfig: Option<String>,
    /// With `setconfig`: the value, a string or an array of strings
    /// (omitted: no value, as for a flag).
    pub val: Option<Value>,
    /// With `setconfig` and `expect_error`: text the refusal's message must contain.
    pub expect_message: Option<String>,
    /// How long an expectation or call may take (default 2000 ms).
    pub within_ms: Option<u64>,
}

/// What a step does, once checked.
#[derive(Clone, Debug)]
pub enum Action {
    Notify { topic: String, params: Option<Value> },
    ExpectLog { pattern: Regex, level: Option<String> },
    ExpectRpc { method: String, params: Option<Value> },
    Call { method: String, params: Value, expect_result: Option<Value>, expect_error: bool },
    Hook { name: String, params: Option<Value>, variant: Option<String>, expect_decision: Option<String> },
    Setconfig { option: String, val: Option<Vec<String>>, expect_error: bool, expect_message: Option<String> },
    Wait,
}

/// A scenario file that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
#[error("scenario {path}: {message}")]
pub struct ScenarioError {
    pub path: String,
    pub message: String,
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let err = |message: String| ScenarioError { path: path.display().to_string(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        Scenario::parse(&text).map_err(err)
    }

    pub fn parse(text: &str) -> Result<Scenario, String> {
        let s: Scenario = toml::from_str(text).map_err(|e| e.to_string())?;
        for (i, step) in s.steps.iter().enumerate() {
            step.action().map_err(|m| format!("step {}: {m}", i + 1))?;
        }
        for a in &s.rpc {
            if a.result.is_some() == a.error.is_some() {
                return Err(format!("rpc answer for '{}': give exactly one of `result` and `error`", a.method));
            }
        }
        Ok(s)
    }
}

impl Step {
    /// The step's action; an error says what is wrong with it.
    pub fn action(&self) -> Result<Action, String> {
        let kinds = [
            self.notify.is_some(),
            self.expect_log.is_some(),
            self.expect_rpc.is_some(),
            self.call.is_some(),
            self.wait_ms.is_some(),
            self.hook.is_some(),
            self.setconfig.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err("give exactly one of notify, expect_log, expect_rpc, call, wait_ms, hook, setconfig".into());
        }
        if let Some(name) = &self.hook {
            if self.params.as_ref().is_some_and(|p| !p.is_object()) {
                return Err("hook params must be a table (the hook's payload)".into());
            }
            if self.params.is_some() && self.variant.is_some() {
                return Err("give either params or variant for a hook, not both".into());
            }
            return Ok(Action::Hook {
                name: name.clone(),
                params: self.params.clone(),
                variant: self.variant.clone(),
                expect_decision: self.expect_decision.clone(),
            });
        }
        if let Some(option) = &self.setconfig {
            let val = match &self.val {
                None => None,
                Some(Value::String(v)) => Some(vec![v.clone()]),
                Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
                    Some(a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                }
                Some(_) => return Err("setconfig val must be a string or an array of strings (lightningd sends strings)".into()),
            };
            return Ok(Action::Setconfig {
                option: option.clone(),
                val,
                expect_error: self.expect_error,
                expect_message: self.expect_message.clone(),
            });
        }
        if let Some(topic) = &self.notify {
            return Ok(Action::Notify { topic: topic.clone(), params: self.params.clone() });
        }
        if let Some(p) = &self.expect_log {
            let pattern = Regex::new(p).map_err(|e| format!("expect_log is not a valid regular expression: {e}"))?;
            return Ok(Action::ExpectLog { pattern, level: self.level.clone() });
        }
        if let Some(m) = &self.expect_rpc {
            return Ok(Action::ExpectRpc { method: m.clone(), params: self.params.clone() });
        }
        if let Some(m) = &self.call {
            let params = self.params.clone().unwrap_or(Value::Array(Vec::new()));
            if !params.is_array() && !params.is_object() {
                return Err("call params must be an array or a table".into());
            }
            return Ok(Action::Call {
                method: m.clone(),
                params,
                expect_result: self.expect_result.clone(),
                expect_error: self.expect_error,
            });
        }
        Ok(Action::Wait)
    }

    /// A one-line description for the report.
    pub fn describe(&self) -> String {
        if let Some(t) = &self.notify {
            format!("notify {t}")
        } else if let Some(p) = &self.expect_log {
            format!("expect_log /{p}/")
        } else if let Some(m) = &self.expect_rpc {
            format!("expect_rpc {m}")
        } else if let Some(m) = &self.call {
            format!("call {m}")
        } else if let Some(h) = &self.hook {
            format!("hook {h}")
        } else if let Some(o) = &self.setconfig {
            format!("setconfig {o}")
        } else {
            format!("wait {} ms", self.wait_ms.unwrap_or(0))
        }
    }
}

/// Whether `got` contains everything in `want`: objects member by member,
/// everything else by equality.
pub fn contains(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => w.iter().all(|(k, v)| g.get(k).is_some_and(|gv| contains(gv, v))),
        _ => got == want,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_need_exactly_one_action() {
        let e = Scenario::parse("[[step]]\nnotify = \"connect\"\nwait_ms = 5\n").unwrap_err();
        assert!(e.starts_with("step 1: give exactly one"), "{e}");
        let e = Scenario::parse("[[step]]\nexpect_log = \"(\"\n").unwrap_err();
        assert!(e.contains("not a valid regular expression"), "{e}");
        let e = Scenario::parse("[[step]]\nnotfy = \"connect\"\n").unwrap_err();
        assert!(e.contains("unknown field `notfy`"), "{e}");
    }

    #[test]
    fn containment_is_recursive_on_objects() {
        let got = serde_json::json!({"a": {"b": 1, "c": 2}, "d": [1]});
        assert!(contains(&got, &serde_json::json!({"a": {"b": 1}})));
        assert!(!contains(&got, &serde_json::json!({"a": {"b": 2}})));
        assert!(contains(&got, &serde_json::json!({"d": [1]})));
    }

    #[test]
    fn bundled_scenarios_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                Scenario::load(&p).unwrap();
                n += 1;
            }
        }
        assert!(n >= 2);
    }
}
