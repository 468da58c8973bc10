//! Notifications from lightningd to the plugin: which topics a plugin
//! receives and how many copies (§7.4), and the messages themselves in the
//! profile's shapes (§7.2), taken from `fixtures/notifications/`.

use crate::profile::Profile;

/// One notification to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Send {
    pub topic: String,
    /// A variant carrying a field no release sends yet: handlers must
    /// tolerate fields lightningd adds over time.
    pub extra_field: bool,
    /// The exact bytes, `\n\n` included.
    pub bytes: Vec<u8>,
}

/// How many copies of `topic` lightningd delivers to a plugin with these
/// subscriptions (0: it is not delivered).
pub fn copies(profile: &Profile, subscriptions: &[String], topic: &str) -> usize {
    let rules = &profile.delivery;
    let explicit = subscriptions.iter().filter(|s| s.as_str() == topic).count();
    let wildcard = if rules.wildcard && !rules.wildcard_excludes.iter().any(|t| t == topic) {
        subscriptions.iter().filter(|s| s.as_str() == "*").count()
    } else {
        0
    };
    let n = explicit + wildcard;
    if n == 0 {
        0
    } else if !rules.copy_per_subscription || rules.single_delivery.iter().any(|t| t == topic) {
        1
    } else {
        n
    }
}

/// Every native topic the plugin receives, except `shutdown`, which ends a
/// run: each as lightningd sends it, then with an extra field, then again.
pub fn plan(profile: &Profile, subscriptions: &[String]) -> Vec<Send> {
    let mut out = Vec::new();
    for (topic, bytes) in &profile.notifications {
        if topic == "shutdown" {
            continue;
        }
        let n = copies(profile, subscriptions, topic);
        if n == 0 {
            continue;
        }
        for extra_field in [false, true, false] {
            let msg = if extra_field { with_extra_field(bytes) } else { bytes.clone() };
            for _ in 0..n {
                out.push(Send { topic: topic.clone(), extra_field, bytes: terminated(&msg) });
            }
        }
    }
    out
}

/// The message for `topic`, ready to send.
pub fn message(profile: &Profile, topic: &str) -> Option<Vec<u8>> {
    profile.notifications.get(topic).map(|b| terminated(b))
}

fn terminated(b: &[u8]) -> Vec<u8> {
    let mut v = b.to_vec();
    v.extend_from_slice(b"\n\n");
    v
}

/// Adds `"cln_harness_future_field":true` where lightningd adds fields: in
/// the object named after the topic (v26.06's wrapped shape), or in
/// `params` itself (v23.02's unwrapped `connect`/`disconnect`). Done on the
/// bytes, so that every other byte stays exactly as lightningd wrote it.
pub fn with_extra_field(msg: &[u8]) -> Vec<u8> {
    const FIELD: &[u8] = b"\"cln_harness_future_field\":true";
    let text = msg;
    // `{"jsonrpc":"2.0","method":"T","params":{"T":{...}}}`: the inner
    // object closes three bytes from the end; an unwrapped params object
    // closes two bytes from the end.
    let wrapped = {
        let doc = crate::jsmn::Doc::parse(text);
        doc.and_then(|d| {
            let root = d.root();
            let method = root.get("method")?.text();
            let params = root.get("params")?;
            Some(params.size() == 1 && params.get(&method).is_some_and(|o| o.is_object()))
        })
        .unwrap_or(false)
    };
    let at = if wrapped { text.len() - 3 } else { text.len() - 2 };
    let mut out = text[..at].to_vec();
    if out.last() != Some(&b'{') {
        out.push(b',');
    }
    out.extend_from_slice(FIELD);
    out.extend_from_slice(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subs(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn wildcard_and_duplicates_follow_each_release() {
        let v26 = Profile::load("v26.06").unwrap();
        let v23 = Profile::load("v23.02").unwrap();
        assert_eq!(copies(&v26, &subs(&["connect", "*"]), "connect"), 2);
        assert_eq!(copies(&v26, &subs(&["*"]), "log"), 0);
        assert_eq!(copies(&v26, &subs(&["log"]), "log"), 1);
        assert_eq!(copies(&v26, &subs(&["shutdown", "*"]), "shutdown"), 1);
        assert_eq!(copies(&v23, &subs(&["*"]), "connect"), 0);
        assert_eq!(copies(&v23, &subs(&["connect", "connect"]), "connect"), 1);
    }

    #[test]
    fn extra_field_lands_where_lightningd_adds_fields() {
        let wrapped = br#"{"jsonrpc":"2.0","method":"disconnect","params":{"disconnect":{"id":"02"}}}"#;
        assert_eq!(
            with_extra_field(wrapped),
            br#"{"jsonrpc":"2.0","method":"disconnect","params":{"disconnect":{"id":"02","cln_harness_future_field":true}}}"#
        );
        let flat = br#"{"jsonrpc":"2.0","method":"disconnect","params":{"id":"02"}}"#;
        assert_eq!(
            with_extra_field(flat),
            br#"{"jsonrpc":"2.0","method":"disconnect","params":{"id":"02","cln_harness_future_field":true}}"#
        );
        let empty = br#"{"jsonrpc":"2.0","method":"shutdown","params":{"shutdown":{}}}"#;
        assert_eq!(
            with_extra_field(empty),
            br#"{"jsonrpc":"2.0","method":"shutdown","params":{"shutdown":{"cln_harness_future_field":true}}}"#
        );
    }

    #[test]
    fn every_fixture_message_takes_an_extra_field_and_stays_json() {
        for name in Profile::names() {
            let p = Profile::load(&name).unwrap();
            for (topic, bytes) in &p.notifications {
                let v: serde_json::Value =
                    serde_json::from_slice(&with_extra_field(bytes)).unwrap_or_else(|e| panic!("{name}/{topic}: {e}"));
                assert_eq!(v["method"], topic.as_str());
            }
        }
    }
}
