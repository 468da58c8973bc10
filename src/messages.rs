//! What lightningd makes of each message a running plugin writes (§3, §4,
//! §8): `log` lines, `message`/`progress` notifications, custom
//! notifications and responses to no pending request. Pure rules, like
//! [`crate::manifest`]: the caller says what is pending, this module says
//! what lightningd does.

use crate::checks::{CheckId, Effect};
use crate::jsmn::Node;
use crate::manifest::Finding;
use crate::profile::Profile;

/// What lightningd does with one message.
#[derive(Debug, PartialEq)]
pub enum Notice {
    /// Nothing to report.
    Fine,
    /// A valid `log` line, its level lowercased (`info` when absent).
    Log { level: String, message: String },
    /// lightningd kills the plugin.
    Kill(Finding),
    /// lightningd carries on; the finding is reported.
    Tolerated(Finding),
}

/// A notification from the plugin (`root` has `method` and `params`), as
/// lightningd's `plugin_notification_handle` judges it (§8).
/// `declared` are the manifest's custom notification topics; `pending`
/// says whether an id token names a request still unanswered.
pub fn notification(root: Node<'_>, profile: &Profile, declared: &[String], pending: impl Fn(&str) -> bool) -> Notice {
    let (Some(params), Some(method)) = (root.get("params"), root.get("method")) else {
        return Notice::Fine;
    };
    if method.str_eq("log") {
        let Some(msg) = params.get("message").filter(|t| t.is_string()) else {
            return Notice::Kill(Finding::kill(
                CheckId::LOG_MESSAGE,
                "Log notification from plugin doesn't have a string \"message\" field",
            ));
        };
        let level = match params.get("level") {
            None => "info".to_owned(),
            Some(l) => {
                let text = l.text().to_ascii_lowercase();
                if !profile.log.levels.contains(&text) {
                    return Notice::Kill(Finding::kill(
                        CheckId::LOG_LEVEL,
                        format!("Unknown log-level {}, valid values are {}.", l.full_text(), profile.log.level_list_text),
                    ));
                }
                text
            }
        };
        let message = serde_json::from_slice::<String>(msg.full()).unwrap_or_else(|_| msg.text());
        return Notice::Log { level, message };
    }
    if method.str_eq("message") || method.str_eq("progress") {
        let Some(id) = params.get("id") else {
            return Notice::Kill(Finding::kill(CheckId::NOTIFY_ID, "JSON-RPC notify \"id\"-field is not present"));
        };
        let id = id.full_text();
        if !pending(&id) && profile.parser.kill_on_unknown_id {
            return Notice::Kill(Finding::kill(CheckId::NOTIFY_ID, format!("Received a JSON-RPC notify for non-existent request '{id}'")));
        }
        return Notice::Fine;
    }
    let topic = method.text();
    if declared.contains(&topic) {
        return Notice::Fine;
    }
    Notice::Tolerated(Finding {
        check: CheckId::NOTIFY_DECLARED,
        reason: format!(
            "Plugin attempted to send a notification to topic \"{topic}\" it hasn't declared in its manifest, not forwarding to subscribers."
        ),
        effect: Effect::Logged,
    })
}

/// A response whose id token `id` answers no pending request (§3, §4).
/// `answered_before` says whether it answered one earlier; `pending` are
/// the tokens still unanswered; `notification` is the notification the
/// plugin was handling, if any: then the response is a reply to it.
pub fn stray_response<'a>(
    id: &str,
    text: &str,
    answered_before: bool,
    pending: impl IntoIterator<Item = &'a String>,
    notification: Option<&str>,
    profile: &Profile,
) -> Notice {
    let kill = profile.parser.kill_on_unknown_id;
    if let Some(topic) = notification {
        let reason = format!("Received a JSON-RPC response for non-existent request '{id}'");
        if kill {
            return Notice::Kill(Finding::kill(CheckId::NOTIFY_NO_REPLY, reason));
        }
        return Notice::Tolerated(Finding {
            check: CheckId::NOTIFY_NO_REPLY,
            reason: format!("replied to the '{topic}' notification, which has no id (lightningd ignores the reply): {text}"),
            effect: Effect::Ignored,
        });
    }
    if kill {
        return Notice::Kill(Finding::kill(
            CheckId::WIRE_UNKNOWN_ID,
            format!("Received a JSON-RPC response for non-existent request '{id}'"),
        ));
    }
    let why = if answered_before {
        format!("a second answer to request {id}")
    } else {
        match pending.into_iter().find(|k| unescape_eq(k, id)) {
            Some(k) => {
                format!("a response whose id {id} is not byte-for-byte the pending id {k}: echo the id token exactly, without re-escaping")
            }
            None => format!("a response to no pending request (id {id})"),
        }
    };
    Notice::Tolerated(Finding {
        check: CheckId::WIRE_UNKNOWN_ID,
        reason: format!("{why}; lightningd ignores it: {text}"),
        effect: Effect::Ignored,
    })
}

/// Whether a log line reports an error: a warning level, or a traceback
/// (pyln-client logs a handler's exception as lines of any level).
pub fn is_error_line(level: &str, message: &str) -> bool {
    matches!(level, "warn" | "unusual" | "error" | "broken") || message.contains("Traceback")
}

/// Whether two id tokens are the same string once JSON escapes are undone.
fn unescape_eq(a: &str, b: &str) -> bool {
    let pa: Option<serde_json::Value> = serde_json::from_str(a).ok();
    let pb: Option<serde_json::Value> = serde_json::from_str(b).ok();
    pa.is_some() && pa == pb
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsmn::Doc;

    fn judge(text: &str, profile: &str, declared: &[&str]) -> Notice {
        let p = Profile::load(profile).unwrap();
        let doc = Doc::parse(text.as_bytes()).unwrap();
        let declared: Vec<String> = declared.iter().map(|s| s.to_string()).collect();
        notification(doc.root(), &p, &declared, |id| id == "\"cln:x#1\"")
    }

    fn check(n: &Notice) -> Option<(&'static str, bool)> {
        match n {
            Notice::Kill(f) => Some((f.check.as_str(), true)),
            Notice::Tolerated(f) => Some((f.check.as_str(), false)),
            _ => None,
        }
    }

    #[test]
    fn log_lines_need_a_string_message_and_a_known_level() {
        let ok = judge(r#"{"jsonrpc":"2.0","method":"log","params":{"level":"WARN","message":"a\nb"}}"#, "v26.06", &[]);
        assert_eq!(ok, Notice::Log { level: "warn".into(), message: "a\nb".into() });
        let n = judge(r#"{"jsonrpc":"2.0","method":"log","params":{"message":3}}"#, "v26.06", &[]);
        assert_eq!(check(&n), Some(("log/message", true)));
        let n = judge(r#"{"jsonrpc":"2.0","method":"log","params":{"level":"loud","message":"x"}}"#, "v26.06", &[]);
        assert_eq!(check(&n), Some(("log/level", true)));
    }

    #[test]
    fn progress_needs_a_pending_id_and_custom_topics_a_declaration() {
        let n = judge(r#"{"jsonrpc":"2.0","method":"progress","params":{}}"#, "v26.06", &[]);
        assert_eq!(check(&n), Some(("notify/id", true)));
        let n = judge(r#"{"jsonrpc":"2.0","method":"message","params":{"id":"cln:x#1"}}"#, "v26.06", &[]);
        assert_eq!(n, Notice::Fine);
        let n = judge(r#"{"jsonrpc":"2.0","method":"mine","params":{}}"#, "v26.06", &["mine"]);
        assert_eq!(n, Notice::Fine);
        let n = judge(r#"{"jsonrpc":"2.0","method":"theirs","params":{}}"#, "v26.06", &["mine"]);
        assert_eq!(check(&n), Some(("notify/declared", false)));
    }

    #[test]
    fn stray_responses_depend_on_the_release_and_on_what_was_handled() {
        let new = Profile::load("v26.06").unwrap();
        let old = Profile::load("v23.02").unwrap();
        let none: Vec<String> = Vec::new();
        let n = stray_response("7", "{}", false, &none, None, &new);
        assert_eq!(check(&n), Some(("wire/unknown-id", false)));
        let n = stray_response("7", "{}", false, &none, None, &old);
        assert_eq!(check(&n), Some(("wire/unknown-id", true)));
        let n = stray_response("7", "{}", false, &none, Some("connect"), &new);
        assert_eq!(check(&n), Some(("notify/no-reply", false)));
        let pending = vec!["\"cln:a\\/b\"".to_owned()];
        let Notice::Tolerated(f) = stray_response("\"cln:a/b\"", "{}", false, &pending, None, &new) else { panic!() };
        assert!(f.reason.contains("not byte-for-byte"), "{}", f.reason);
        let Notice::Tolerated(f) = stray_response("7", "{}", true, &none, None, &new) else { panic!() };
        assert!(f.reason.starts_with("a second answer"), "{}", f.reason);
    }
}
