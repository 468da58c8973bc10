//! Calls lightningd forwards to a plugin: its own methods, `check` and
//! `setconfig` (docs/protocol.md §10). The requests in lightningd's bytes and the
//! rules for the answers; pure, the session does the sending.

use serde_json::Value;

use crate::jsmn::{Doc, TokType};
use crate::wire::Id;

/// What a client gets back from a forwarded call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Result,
    /// A well-formed JSON-RPC error.
    Error {
        code: i64,
        message: String,
    },
    /// Something a client's JSON-RPC library cannot read: lightningd
    /// passes it on verbatim (§10.1), so every client breaks on it.
    Malformed(String),
}

/// Judges the answer to a forwarded method call or a `check` (§10.1,
/// §10.2): `result`, or an `error` with an integer `code` and a string
/// `message`.
pub fn judge_method(doc: &Doc) -> Answer {
    let root = doc.root();
    let has_result = root.get("result").is_some();
    match (has_result, root.get("error")) {
        (true, Some(_)) => Answer::Malformed("the answer has both \"result\" and \"error\"".into()),
        (true, None) => Answer::Result,
        (false, None) => Answer::Malformed("the answer has neither \"result\" nor \"error\"".into()),
        (false, Some(e)) => {
            if !e.is_object() {
                return Answer::Malformed(format!("\"error\" is not an object: {}", e.full_text()));
            }
            let code = e.get("code").filter(|c| c.ty() == TokType::Primitive).and_then(|c| c.text().parse::<i64>().ok());
            let Some(code) = code else {
                return Answer::Malformed(format!("\"error\" has no integer \"code\": {}", e.full_text()));
            };
            match e.get("message") {
                Some(m) if m.is_string() => Answer::Error { code, message: m.text() },
                _ => Answer::Malformed(format!("\"error\" has no string \"message\": {}", e.full_text())),
            }
        }
    }
}

/// What lightningd makes of a `setconfig` answer (`plugin_setconfig_done`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetconfigVerdict {
    Accepted,
    /// The user's `setconfig` fails with the plugin's code and message.
    Refused {
        code: i64,
        message: String,
    },
    /// Logged at BROKEN; the user's command fails with `Malformed setvalue
    /// <name> plugin return`.
    Invalid(String),
}

/// Judges the answer to `setconfig` of option `name` (§10.3).
pub fn judge_setconfig(name: &str, doc: &Doc) -> SetconfigVerdict {
    let root = doc.root();
    let invalid = || SetconfigVerdict::Invalid(format!("Invalid setconfig {name} response from plugin: {}", root.full_text()));
    if let Some(e) = root.get("error") {
        // json_to_int: an integer primitive in int range.
        let code = e
            .get("code")
            .filter(|c| c.ty() == TokType::Primitive)
            .and_then(|c| crate::jsmn::strtol(&c.text()).ok())
            .filter(|c| i32::try_from(*c).is_ok());
        let Some(code) = code else { return invalid() };
        let Some(m) = e.get("message") else { return invalid() };
        return SetconfigVerdict::Refused { code, message: m.text() };
    }
    if root.get("result").is_none() {
        return invalid();
    }
    SetconfigVerdict::Accepted
}

/// The `setconfig` request lightningd sends for `val` (§10.3): `val` is
/// always a string, an array of strings for a multi option, and absent
/// when the user gave none.
pub fn setconfig_request(id: &Id, name: &str, val: Option<&[String]>, multi: bool) -> Vec<u8> {
    let mut params = serde_json::Map::new();
    params.insert("config".into(), Value::from(name));
    match val {
        Some(vals) if multi => {
            params.insert("val".into(), Value::from(vals.to_vec()));
        }
        Some(vals) => {
            params.insert("val".into(), Value::from(vals.first().cloned().unwrap_or_default()));
        }
        None => {}
    }
    crate::wire::request(id, "setconfig", &Value::Object(params))
}

/// A client's request as `lightning-cli` writes it, with lightningd's id
/// put in its place (§10.1): the client's own spacing kept.
pub fn forwarded_request(id: &Id, method: &str, params: &str) -> Vec<u8> {
    format!("{{ \"jsonrpc\" : \"2.0\", \"method\" : {}, \"id\" : {}, \"params\" :{} }}\n\n", Value::from(method), id.token(), params)
        .into_bytes()
}

/// The `check` request lightningd forwards for `command` with `params`
/// (§10.2): method `check`, `command_to_check` first.
pub fn check_request(id: &Id, command: &str, params: &serde_json::Map<String, Value>) -> Vec<u8> {
    let mut p = serde_json::Map::new();
    p.insert("command_to_check".into(), Value::from(command));
    for (k, v) in params {
        p.insert(k.clone(), v.clone());
    }
    forwarded_request(id, "check", &Value::Object(p).to_string())
}

/// Params in array form, from object form, in the order the method's
/// `usage` names them (`[a] b` → `a`, `b`); `None` when a param is not
/// in the usage, so the order cannot be known.
pub fn params_as_array(usage: &str, params: &serde_json::Map<String, Value>) -> Option<Vec<Value>> {
    let names: Vec<String> =
        usage.split_whitespace().map(|w| w.trim_matches(|c| c == '[' || c == ']').to_owned()).filter(|w| !w.is_empty()).collect();
    if params.keys().any(|k| !names.contains(k)) {
        return None;
    }
    let last = names.iter().rposition(|n| params.contains_key(n)).map(|i| i + 1).unwrap_or(0);
    Some(names[..last].iter().map(|n| params.get(n).cloned().unwrap_or(Value::Null)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> Doc {
        Doc::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn r_method_answer_must_be_result_or_well_formed_error() {
        assert_eq!(judge_method(&doc(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#)), Answer::Result);
        assert_eq!(
            judge_method(&doc(r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"bad"}}"#)),
            Answer::Error { code: -32602, message: "bad".into() }
        );
        for bad in [
            r#"{"jsonrpc":"2.0","id":1}"#,
            r#"{"jsonrpc":"2.0","id":1,"error":"bad"}"#,
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"bad"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":1}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}"#,
        ] {
            assert!(matches!(judge_method(&doc(bad)), Answer::Malformed(_)), "{bad}");
        }
    }

    // §10.3: lightningd's words for a malformed setconfig answer.
    #[test]
    fn r_setconfig_answers() {
        assert_eq!(judge_setconfig("p-x", &doc(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#)), SetconfigVerdict::Accepted);
        assert_eq!(
            judge_setconfig("p-x", &doc(r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"too big"}}"#)),
            SetconfigVerdict::Refused { code: -32602, message: "too big".into() }
        );
        let v = judge_setconfig("p-x", &doc(r#"{"jsonrpc":"2.0","id":1,"error":{"message":"no code"}}"#));
        assert_eq!(
            v,
            SetconfigVerdict::Invalid(
                r#"Invalid setconfig p-x response from plugin: {"jsonrpc":"2.0","id":1,"error":{"message":"no code"}}"#.into()
            )
        );
        assert!(matches!(judge_setconfig("p-x", &doc(r#"{"jsonrpc":"2.0","id":1}"#)), SetconfigVerdict::Invalid(_)));
    }

    #[test]
    fn setconfig_val_is_always_a_string() {
        let id = Id::Str("cli:setconfig#1/cln:setconfig#9".into());
        let one = String::from_utf8(setconfig_request(&id, "p-n", Some(&["42".into()]), false)).unwrap();
        assert!(one.contains(r#""params":{"config":"p-n","val":"42"}"#), "{one}");
        let multi = String::from_utf8(setconfig_request(&id, "p-m", Some(&["a".into(), "b".into()]), true)).unwrap();
        assert!(multi.contains(r#""val":["a","b"]"#), "{multi}");
        let none = String::from_utf8(setconfig_request(&id, "p-f", None, false)).unwrap();
        assert!(none.contains(r#""params":{"config":"p-f"}}"#), "{none}");
    }

    #[test]
    fn object_params_become_an_array_in_usage_order() {
        let p: serde_json::Map<String, Value> = serde_json::from_str(r#"{"name":"x","count":2}"#).unwrap();
        assert_eq!(params_as_array("count [name] [extra]", &p), Some(vec![Value::from(2), Value::from("x")]));
        assert_eq!(params_as_array("count", &p), None);
    }
}
