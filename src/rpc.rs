//! The mock lightning-rpc: a Unix socket at `configuration.rpc-file`,
//! answering JSON-RPC 2.0 as lightningd's RPC does, from the canned answers
//! in `fixtures/rpc/<profile>/`. Every call is recorded for the report, and
//! the socket is bounded: request size, connections and recorded calls are
//! capped, and each overflow is reported with its numbers.

mod api;
mod filter;
mod node;
mod server;
mod state;

use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::checks::CheckId;
use crate::profile::Profile;

pub(crate) use node::NodeView;

/// Where the session puts the node `init` described, for `listconfigs`
/// and `getinfo` to describe the same one.
pub(crate) type NodeSlot = Arc<Mutex<Option<NodeView>>>;

/// One call the plugin made.
#[derive(Clone, Debug, Serialize)]
pub struct RpcCall {
    /// Milliseconds since the run started.
    pub at_ms: f64,
    pub method: String,
    pub params: Value,
    /// The `result` or `error` the mock answered with.
    pub response: Value,
}

impl RpcCall {
    pub fn is_error(&self) -> bool {
        self.response.get("error").is_some()
    }
}

/// What the mock accepts before it stops serving a plugin.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request, in bytes; a larger one closes its connection.
    pub request_bytes: usize,
    /// Connections served at once; more are closed on accept.
    pub connections: usize,
    /// Calls kept for the report; later ones are counted, not kept.
    pub recorded_calls: usize,
}

/// Something the mock saw that the report should show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpcFinding {
    pub check: CheckId,
    pub reason: String,
}

#[derive(Default)]
struct Stats {
    connections: AtomicUsize,
    peak: AtomicUsize,
    refused: AtomicUsize,
    oversized: AtomicUsize,
    calls: AtomicUsize,
}

/// What every connection's thread shares.
struct Shared {
    profile: Arc<Profile>,
    /// Scripted answers: method to `{"result": …}` or `{"error": …}`.
    scripted: Vec<(String, Value)>,
    lightning_dir: String,
    start: Instant,
    limits: Limits,
    calls: Mutex<Vec<RpcCall>>,
    stats: Stats,
    /// The release's commands, where its data is bundled: read by the
    /// accept thread as the plugin starts, off the run's own thread.
    api: OnceLock<Option<Arc<api::Api>>>,
    /// lightningd's `allow-deprecated-apis`.
    allow_deprecated: AtomicBool,
    datastore: Mutex<state::Datastore>,
    /// What the calls broke, distinct and capped.
    notes: Mutex<Vec<RpcFinding>>,
    /// The node `init` described, once it was sent.
    node: NodeSlot,
}

/// Distinct findings kept per run; a plugin repeating a wrong call in a
/// loop is one finding.
const MAX_NOTES: usize = 50;

/// The running mock. Stops (and removes its socket) when dropped.
pub struct MockRpc {
    path: PathBuf,
    /// The socket's device and inode: only that file is removed at the end,
    /// whatever the plugin put at the path meanwhile.
    inode: Option<(u64, u64)>,
    stop: Arc<AtomicBool>,
    /// Closed when the mock is dropped, which wakes the accept loop.
    wake: Option<UnixStream>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl MockRpc {
    /// Listens at `path`.
    pub fn start(
        path: &Path,
        profile: &Arc<Profile>,
        lightning_dir: &Path,
        start: Instant,
        scripted: Vec<(String, Value)>,
    ) -> std::io::Result<MockRpc> {
        Self::start_with(path, profile, lightning_dir, start, scripted, Limits::DEFAULT)
    }

    /// Listens at `path`, within `limits`.
    pub fn start_with(
        path: &Path,
        profile: &Arc<Profile>,
        lightning_dir: &Path,
        start: Instant,
        scripted: Vec<(String, Value)>,
        limits: Limits,
    ) -> std::io::Result<MockRpc> {
        let listener = UnixListener::bind(path)?;
        let inode = {
            use std::os::unix::fs::MetadataExt;
            std::fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()))
        };
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            profile: Arc::clone(profile),
            scripted,
            lightning_dir: lightning_dir.display().to_string(),
            start,
            limits,
            calls: Mutex::new(Vec::new()),
            stats: Stats::default(),
            api: OnceLock::new(),
            allow_deprecated: AtomicBool::new(true),
            datastore: Mutex::new(state::Datastore::seeded(profile.rpc_answer("listdatastore").as_ref())),
            notes: Mutex::new(Vec::new()),
            node: Arc::new(Mutex::new(None)),
        });
        // Wakes the accept loop at the end, so it waits for connections
        // without polling a clock.
        let (wake, woken) = UnixStream::pair()?;
        let thread = {
            let (stop, shared) = (stop.clone(), shared.clone());
            thread::Builder::new().name("mock-rpc".into()).spawn(move || server::accept_loop(listener, woken, stop, shared))?
        };
        Ok(MockRpc { path: path.to_owned(), inode, stop, wake: Some(wake), shared, thread: Some(thread) })
    }

    /// The calls so far (at most `Limits::recorded_calls` of them).
    pub fn calls(&self) -> Vec<RpcCall> {
        self.shared.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Where the node `init` describes goes, so `listconfigs` and
    /// `getinfo` agree with it.
    pub(crate) fn node_slot(&self) -> NodeSlot {
        self.shared.node.clone()
    }

    /// Sets lightningd's `allow-deprecated-apis` (default true): without
    /// it, deprecated commands and parameters are refused.
    pub fn allow_deprecated(&self, on: bool) {
        self.shared.allow_deprecated.store(on, Ordering::SeqCst);
    }

    /// What the plugin's calls broke, one finding per check, and every
    /// limit it ran into, with its numbers.
    /// `own` are the plugin's own methods: lightningd would pass a call to
    /// one of them to the plugin, so it is no unknown command.
    pub fn findings(&self, own: &[String]) -> Vec<RpcFinding> {
        let (s, l) = (&self.shared.stats, &self.shared.limits);
        let mut out: Vec<RpcFinding> = Vec::new();
        let notes = self.shared.notes.lock().map(|n| n.clone()).unwrap_or_default();
        let is_own =
            |n: &RpcFinding| n.check == CheckId::RPC_UNKNOWN_COMMAND && own.iter().any(|m| n.reason.starts_with(&format!("'{m}' ")));
        for n in notes.into_iter().filter(|n| !is_own(n)) {
            match out.iter_mut().find(|f| f.check == n.check) {
                Some(f) => {
                    f.reason.push_str("; ");
                    f.reason.push_str(&n.reason);
                }
                None => out.push(n),
            }
        }
        let big = s.oversized.load(Ordering::SeqCst);
        if big > 0 {
            out.push(RpcFinding {
                check: CheckId::RPC_REQUEST_SIZE,
                reason: format!(
                    "a request on lightning-rpc reached {big} bytes unfinished, over the mock's limit of {} bytes; the mock closed that connection",
                    l.request_bytes
                ),
            });
        }
        let refused = s.refused.load(Ordering::SeqCst);
        if refused > 0 {
            out.push(RpcFinding {
                check: CheckId::RPC_CONNECTIONS,
                reason: format!(
                    "the plugin held {} connections to lightning-rpc at once (the mock's limit) and {refused} more were closed on accept; {} connections in all",
                    s.peak.load(Ordering::SeqCst),
                    s.connections.load(Ordering::SeqCst) + refused
                ),
            });
        }
        let calls = s.calls.load(Ordering::SeqCst);
        if calls > l.recorded_calls {
            out.push(RpcFinding {
                check: CheckId::RPC_CALLS,
                reason: format!(
                    "the plugin made {calls} RPC calls; the report keeps the first {} and drops {}",
                    l.recorded_calls,
                    calls - l.recorded_calls
                ),
            });
        }
        out
    }
}

impl Drop for MockRpc {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Its peer reads EOF: the accept loop wakes and sees `stop`.
        drop(self.wake.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        use std::os::unix::fs::MetadataExt;
        // A plugin may have replaced the directory by a symlink to another
        // one: the path then names someone else's file.
        let same = std::fs::symlink_metadata(&self.path).ok().map(|m| (m.dev(), m.ino()));
        if same.is_some() && same == self.inode {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// lightningd's answer to a request it cannot read as a command
/// (`json_command_malformed`): code -32600 and the given id text.
fn malformed(id: &str, message: &str) -> Vec<u8> {
    format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"error\":{}}}", json!({"code": -32600, "message": message})).into_bytes()
}

impl Shared {
    /// The release's commands, read once.
    fn api(&self) -> Option<&api::Api> {
        self.api.get_or_init(|| api::Api::bundled(&self.profile)).as_deref()
    }

    /// Answers one complete request: the reply's bytes, without separator.
    fn handle(&self, _conn: usize, bytes: &[u8]) -> Vec<u8> {
        // Members by name, each value's raw text kept: the id goes back
        // exactly as it came (lightningd echoes the token's full text).
        let members: Vec<(String, &RawValue)> = match serde_json::from_slice::<serde_json::Map<String, Value>>(bytes) {
            Ok(_) => match serde_json::from_slice::<std::collections::BTreeMap<String, &RawValue>>(bytes) {
                Ok(m) => m.into_iter().collect(),
                Err(_) => return malformed("null", "Expected {} for json command"),
            },
            Err(_) => return malformed("null", "Expected {} for json command"),
        };
        let get = |k: &str| members.iter().find(|(n, _)| n == k).map(|(_, v)| v.get());
        let Some(id) = get("id") else {
            return malformed("null", "No id");
        };
        if id.starts_with('{') || id.starts_with('[') {
            return malformed("null", "Expected string/primitive for id");
        }
        if get("jsonrpc") != Some("\"2.0\"") {
            return malformed("null", "jsonrpc: \"2.0\" must be specified in the request");
        }
        let parse = |k: &str| get(k).and_then(|t| serde_json::from_str::<Value>(t).ok());
        let method = parse("method");
        let params = parse("params");
        let body = match (&method, &params) {
            (None, _) => json!({"error": {"code": -32600, "message": "No method"}}),
            (Some(_), None) => json!({"error": {"code": -32600, "message": "No params"}}),
            (Some(Value::String(m)), Some(p)) => self.answer(m, p, parse("filter").as_ref()),
            (Some(_), Some(_)) => json!({"error": {"code": -32600, "message": "Expected string for method"}}),
        };
        let n = self.stats.calls.fetch_add(1, Ordering::SeqCst);
        if n < self.limits.recorded_calls {
            let call = RpcCall {
                at_ms: self.start.elapsed().as_secs_f64() * 1000.0,
                method: match &method {
                    Some(Value::String(m)) => m.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                },
                params: params.unwrap_or(Value::Null),
                response: body.clone(),
            };
            if let Ok(mut c) = self.calls.lock() {
                c.push(call);
            }
        }
        let mut out = format!("{{\"jsonrpc\":\"2.0\",\"id\":{id}").into_bytes();
        if let Some(b) = body.as_object() {
            for (k, v) in b {
                out.extend_from_slice(format!(",{}:{}", Value::from(k.as_str()), v).as_bytes());
            }
        }
        out.push(b'}');
        out
    }

    fn note(&self, check: CheckId, reason: String) {
        if let Ok(mut n) = self.notes.lock() {
            if n.len() < MAX_NOTES && !n.iter().any(|f| f.check == check && f.reason == reason) {
                n.push(RpcFinding { check, reason });
            }
        }
    }

    fn answer(&self, method: &str, params: &Value, filter: Option<&Value>) -> Value {
        let mut body =
            if let Some((_, v)) = self.scripted.iter().find(|(s, _)| s == method) { v.clone() } else { self.builtin(method, params) };
        if let (Some(f), Some(result)) = (filter, body.get_mut("result")) {
            filter::apply(result, f);
        }
        body
    }

    /// The release's own answer to a call, as lightningd would give it.
    fn builtin(&self, method: &str, params: &Value) -> Value {
        let canned = self.profile.rpc_answer(method);
        let known = canned.is_some()
            || self.api().is_some_and(|a| a.commands.contains_key(method))
            || self.profile.builtin_commands.contains(method)
            || self.profile.builtin_plugin_methods.contains_key(method);
        if !known {
            let prefix = format!("'{method}' is not a command of lightningd {}", self.profile.version);
            let seen = self.notes.lock().is_ok_and(|n| n.iter().any(|f| f.reason.starts_with(&prefix)));
            if !seen {
                // Which releases have it turns this into an API drift report.
                let reason = match releases_with(method) {
                    Some(others) if others.contains(',') => format!("{prefix} ({others} have it)"),
                    Some(others) => format!("{prefix} ({others} has it)"),
                    None => prefix,
                };
                self.note(CheckId::RPC_UNKNOWN_COMMAND, reason);
            }
            return json!({"error": {"code": -32601, "message": format!("Unknown command '{method}'")}});
        }
        if let Some(api) = self.api() {
            match api.judge(method, params, self.allow_deprecated.load(Ordering::SeqCst)) {
                Err(r) => {
                    self.note(r.check, r.reason);
                    return json!({ "error": r.error });
                }
                Ok(notes) => {
                    for n in notes {
                        self.note(CheckId::RPC_DEPRECATED, n);
                    }
                }
            }
        }
        if let Some(body) = self.datastore.lock().ok().and_then(|mut d| d.answer(method, params)) {
            return body;
        }
        let mut result = canned
            .or_else(|| self.api().and_then(|a| a.commands.get(method)).map(|c| c.answer.clone()))
            .unwrap_or_else(|| json!({}));
        if method == "getinfo" {
            result["lightning-dir"] = Value::from(self.lightning_dir.clone());
            result["version"] = Value::from(self.profile.version.clone());
        }
        if let Some(node) = self.node.lock().ok().and_then(|n| n.clone()) {
            match method {
                "getinfo" => node.getinfo(&mut result),
                "listconfigs" => node.listconfigs(&mut result),
                _ => {}
            }
        }
        let allow = self.allow_deprecated.load(Ordering::SeqCst);
        if !allow && self.api().is_some_and(|a| api::release(&a.tag) < (23, 5)) {
            without_deprecated_amounts(&mut result);
        }
        if method == "listconfigs" {
            let hides = self.api().is_some_and(|a| a.hides_token);
            if let Err(error) = node::listconfigs_params(&mut result, params, allow, hides) {
                return json!({ "error": error });
            }
        }
        json!({ "result": result })
    }
}

/// What releases before v23.05 answer without deprecated APIs
/// (`json_add_amount_msat_compat`): `_msat` amounts as numbers instead of
/// `"123msat"` strings, without their raw `msatoshi*` twins; and in
/// `listconfigs`, no `null` for a plugin option that is not set.
fn without_deprecated_amounts(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.starts_with("msatoshi"));
            let plugins = m.contains_key("important-plugins");
            for (k, x) in m.iter_mut() {
                if let Some(n) = x.as_str().filter(|_| k.ends_with("_msat")).and_then(|s| s.strip_suffix("msat")?.parse::<u64>().ok()) {
                    *x = Value::from(n);
                } else {
                    without_deprecated_amounts(x);
                }
                if plugins && (k == "plugins" || k == "important-plugins") {
                    for p in x.as_array_mut().into_iter().flatten() {
                        if let Some(Value::Object(o)) = p.get_mut("options") {
                            o.retain(|_, v| !v.is_null());
                        }
                    }
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(without_deprecated_amounts),
        _ => {}
    }
}

/// The bundled releases that have `method`, e.g. `v23.02, v23.11`.
fn releases_with(method: &str) -> Option<String> {
    let have: Vec<String> = Profile::names()
        .into_iter()
        .filter(|n| {
            Profile::shared(n).is_ok_and(|p| {
                p.builtin_commands.contains(method)
                    || p.builtin_plugin_methods.contains_key(method)
                    || api::Api::bundled(&p).is_some_and(|a| a.commands.contains_key(method))
            })
        })
        .collect();
    (!have.is_empty()).then(|| have.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v23_02_without_deprecated_apis_gives_amounts_as_numbers() {
        let mut v = json!({"msatoshi_fees_collected": 0, "fees_collected_msat": "12msat", "peers": [{"msatoshi_to_us": 1, "to_us_msat": "1msat"}],
            "important-plugins": [{"name": "autoclean", "options": {"autoclean-cycle": null, "x": 1}}], "alias_msat": "x"});
        without_deprecated_amounts(&mut v);
        assert_eq!(
            v,
            json!({"fees_collected_msat": 12, "peers": [{"to_us_msat": 1}],
            "important-plugins": [{"name": "autoclean", "options": {"x": 1}}], "alias_msat": "x"})
        );
    }
}
