//! Framing abuse that a real lightningd can produce (§2.1, §12): messages
//! split across reads, several messages in one read, multi-megabyte
//! messages, and client text copied verbatim into RPC passthrough. Each is
//! a [`Schedule`] of writes; the runner plays it and then probes the plugin.

use std::time::Duration;

use serde_json::Value;

use crate::wire::Id;

/// Bytes to write, write by write, with a pause after each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub writes: Vec<Vec<u8>>,
    pub pause: Duration,
}

impl Schedule {
    /// Every byte of `msg` its own write, with a pause long enough that the
    /// plugin sees each in a separate read: this cuts inside multi-byte
    /// UTF-8, between `}` and the terminator, and between the two `\n`.
    pub fn every_byte(msg: &[u8], pause: Duration) -> Schedule {
        Schedule { writes: msg.iter().map(|b| vec![*b]).collect(), pause }
    }

    /// All messages in one write.
    pub fn coalesced(msgs: &[Vec<u8>]) -> Schedule {
        Schedule { writes: vec![msgs.concat()], pause: Duration::ZERO }
    }

    pub fn total_bytes(&self) -> usize {
        self.writes.iter().map(Vec::len).sum()
    }
}

/// A passthrough request as lightningd copies it from a client that
/// pretty-prints (newlines inside the message, §2.1, §10.1).
pub fn pretty_call(method: &str, id: &Id, params: &Value) -> Vec<u8> {
    let mut req = serde_json::Map::new();
    req.insert("jsonrpc".into(), "2.0".into());
    req.insert("method".into(), method.into());
    req.insert("id".into(), Value::Null);
    req.insert("params".into(), params.clone());
    let text = serde_json::to_string_pretty(&Value::Object(req)).expect("value serializes");
    // The id is lightningd's, spliced in as it splices it.
    let mut out = text.replacen("\"id\": null", &format!("\"id\": {}", id.token()), 1).into_bytes();
    out.extend_from_slice(b"\n\n");
    out
}

/// A passthrough request as `lightning-cli -k METHOD key=value…` writes it:
/// lightning-cli's spacing, object params, and values that look like JSON
/// tokens (numbers, true) copied bare.
pub fn cli_k_call(method: &str, id: &Id, params: &[(&str, &str)]) -> Vec<u8> {
    let members: Vec<String> = params
        .iter()
        .map(|(k, v)| {
            let bare = v.parse::<f64>().is_ok() || matches!(*v, "true" | "false" | "null");
            let value = if bare { (*v).to_owned() } else { Value::from(*v).to_string() };
            format!(" {} : {value}", Value::from(*k))
        })
        .collect();
    format!(
        "{{ \"jsonrpc\" : \"2.0\", \"method\" : {}, \"id\" : {}, \"params\" :{{{}}} }}\n\n",
        Value::from(method),
        id.token(),
        members.join(",")
    )
    .into_bytes()
}

/// `msg` (a terminated notification) grown past `size` bytes by a long
/// string in a field lightningd does not send yet, where it adds fields.
pub fn huge(msg: &[u8], size: usize) -> Vec<u8> {
    let body = msg.strip_suffix(b"\n\n").unwrap_or(msg);
    let grown = crate::notify::with_extra_field(body);
    let filler = "x".repeat(size);
    let text = String::from_utf8_lossy(&grown).replacen(
        "\"cln_harness_future_field\":true",
        &format!("\"cln_harness_future_field\":\"{filler}\""),
        1,
    );
    let mut out = text.into_bytes();
    out.extend_from_slice(b"\n\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_covers_the_whole_message() {
        let s = Schedule::every_byte("{\"a\":\"é\"}\n\n".as_bytes(), Duration::from_millis(1));
        assert_eq!(s.writes.len(), 12);
        assert_eq!(s.writes.concat(), "{\"a\":\"é\"}\n\n".as_bytes());
    }

    #[test]
    fn passthrough_forms_parse_and_carry_the_id() {
        let id = Id::Str("cli:hello#1/cln:hello#2".into());
        let pretty = pretty_call("hello", &id, &serde_json::json!(["wörld"]));
        assert!(pretty.windows(2).any(|w| w == b"\n "), "has newlines inside");
        let v: Value = serde_json::from_slice(&pretty).unwrap();
        assert_eq!(v["id"], "cli:hello#1/cln:hello#2");
        let k = cli_k_call("hello", &id, &[("name", "world"), ("count", "3")]);
        assert_eq!(
            String::from_utf8(k).unwrap(),
            "{ \"jsonrpc\" : \"2.0\", \"method\" : \"hello\", \"id\" : \"cli:hello#1/cln:hello#2\", \"params\" :{ \"name\" : \"world\", \"count\" : 3} }\n\n"
        );
    }

    #[test]
    fn huge_messages_stay_valid_json() {
        let msg = b"{\"jsonrpc\":\"2.0\",\"method\":\"disconnect\",\"params\":{\"disconnect\":{\"id\":\"02\"}}}\n\n";
        let h = huge(msg, 2 << 20);
        assert!(h.len() > 2 << 20);
        let v: Value = serde_json::from_slice(&h).unwrap();
        assert_eq!(v["params"]["disconnect"]["id"], "02");
    }
}
