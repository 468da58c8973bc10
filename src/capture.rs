//! The mock RPC's answers, taken from a real lightningd: a build is started
//! on a genesis-only regtest chain (with `cln-harness backend`), asked the
//! read-only commands plugins call, and its answers are made machine-free
//! (paths, ports, the capture's own options) to be written as
//! `fixtures/rpc/<profile>/<command>.json`.
//!
//! A fresh node has no peers, channels, funds or gossip: the answers that
//! only channels can fill stay hand-written, and are compared here with the
//! real node's members so a renamed or added member is seen.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::lightningd::{Build, Node, NodeError, NodeOptions, Started};

/// Why a capture failed.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("lightningd {version} has no harness profile; add one with `cln-harness gen-profile` first")]
    NoProfile { version: String },
    #[error("lightningd {version} did not become ready: {how}; its log ends:\n{tail}")]
    NotReady { version: String, how: String, tail: String },
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

/// The commands captured, with the parameters they are called with.
pub const COMMANDS: [(&str, &str); 11] = [
    ("getinfo", "{}"),
    ("listconfigs", "{}"),
    ("listpeers", "{}"),
    ("listpeerchannels", "{}"),
    ("listfunds", "{}"),
    ("listdatastore", "{}"),
    ("listinvoices", "{}"),
    ("listnodes", "{}"),
    ("listchannels", "{}"),
    ("help", "{}"),
    ("feerates", r#"{"style": "perkw"}"#),
];

/// Answers a fresh node can only give empty, kept hand-written so plugins
/// see a peer, a channel and funds.
pub const HAND_WRITTEN: [&str; 5] = ["listpeers", "listpeerchannels", "listfunds", "listnodes", "listchannels"];

/// Where a default install keeps the built-in plugins.
const PLUGIN_DIR: &str = "/usr/local/libexec/c-lightning/plugins/";
/// The lightning-dir and home the answers name.
const HOME: &str = "/home/user";
const LIGHTNING_DIR: &str = "/home/user/.lightning";
/// lightningd's default port on regtest (`chainparams.c`).
const REGTEST_PORT: u64 = 19846;

/// Options the capture node is started with that a default node lacks:
/// their entries are emptied or dropped from `listconfigs`.
const CAPTURE_OPTIONS: [&str; 5] = ["bind-addr", "log-file", "plugin", "disable-plugin", "log-level"];

/// One build's answers.
#[derive(Debug)]
pub struct Captured {
    /// `lightningd --version`.
    pub version: String,
    /// The profile the answers belong to.
    pub profile: String,
    /// Command to its normalised `result`.
    pub answers: BTreeMap<String, Value>,
    /// Commands the node refused (absent in the release), with its error.
    pub refused: BTreeMap<String, String>,
}

/// The path texts to replace, longest first.
struct Paths {
    replace: Vec<(String, String)>,
    backend: String,
}

impl Paths {
    fn apply(&self, v: &mut Value) {
        match v {
            Value::String(s) => {
                for (from, to) in &self.replace {
                    if s.contains(from.as_str()) {
                        *s = s.replace(from.as_str(), to);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.apply(x)),
            Value::Object(m) => m.values_mut().for_each(|x| self.apply(x)),
            _ => {}
        }
    }
}

/// Starts `build`, asks it every command of [`COMMANDS`] and returns the
/// normalised answers. `exe` is the `cln-harness` binary (the backend).
pub fn capture(build: &Build, exe: &Path) -> Result<Captured, CaptureError> {
    let profile = build.profile().ok_or_else(|| CaptureError::NoProfile { version: build.version.clone() })?;
    let io = |context: &str| {
        let context = context.to_owned();
        move |source| CaptureError::Io { context, source }
    };
    let scratch = tempfile::Builder::new().prefix("cln-harness-capture").tempdir().map_err(io("cannot create a scratch directory"))?;
    let backend = crate::backend::write_wrapper(scratch.path(), exe).map_err(io("cannot write the backend wrapper"))?;
    let mut node = Node::start(build, &backend, &NodeOptions::default())?;
    match node.wait_ready(Instant::now() + Duration::from_secs(120)) {
        Started::Ready => {}
        other => {
            let tail: Vec<String> = node.log().lines().rev().take(15).map(str::to_owned).collect();
            let tail: Vec<String> = tail.into_iter().rev().collect();
            return Err(CaptureError::NotReady { version: build.version.clone(), how: format!("{other:?}"), tail: tail.join("\n") });
        }
    }
    let call = |method: &str, params: Value| node.rpc(method, params, Instant::now() + Duration::from_secs(30));
    // A real invoice: a fresh node can hold one, with its real shape.
    let _ = call("invoice", json!([1000, "cln-harness-example", "an example invoice"]));
    let mut answers = BTreeMap::new();
    let mut refused = BTreeMap::new();
    for (method, params) in COMMANDS {
        let params: Value = serde_json::from_str(params).unwrap_or(json!({}));
        match call(method, params) {
            Ok(v) => {
                answers.insert(method.to_owned(), v);
            }
            Err(NodeError::Rpc { message, .. }) => {
                refused.insert(method.to_owned(), message);
            }
            Err(e) => return Err(e.into()),
        }
    }
    // The datastore whole: the mock starts with what a fresh node holds,
    // and answers `listdatastore` from it as lightningd does.
    let mut leaves = Vec::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(key) = todo.pop() {
        let params = if key.is_empty() { json!({}) } else { json!({ "key": key }) };
        let v = call("listdatastore", params)?;
        for e in v.get("datastore").and_then(Value::as_array).into_iter().flatten() {
            let k: Vec<String> = e["key"].as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect();
            if e.get("hex").is_some() {
                leaves.push(e.clone());
            } else if k.len() > key.len() && todo.len() < 1000 {
                todo.push(k);
            }
        }
    }
    leaves.sort_by(|a, b| a["key"].to_string().cmp(&b["key"].to_string()));
    answers.insert("listdatastore".into(), json!({ "datastore": leaves }));
    node.stop(Instant::now() + Duration::from_secs(30));

    let root = build.lightningd.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
    let dir = node.lightning_dir();
    let scratch_dir = dir.parent().map(Path::to_path_buf).unwrap_or_default();
    let paths = Paths {
        replace: vec![
            (format!("{}/", root.join("plugins").display()), PLUGIN_DIR.to_owned()),
            (dir.display().to_string(), LIGHTNING_DIR.to_owned()),
            (scratch_dir.display().to_string(), HOME.to_owned()),
        ],
        backend: backend.display().to_string(),
    };
    for (method, v) in answers.iter_mut() {
        normalise(method, v, &paths, node.port);
    }
    Ok(Captured { version: build.version.clone(), profile, answers, refused })
}

fn is_capture_value(v: &Value, paths: &Paths) -> bool {
    match v.as_str() {
        Some(s) => s == paths.backend || s == "bcli" || s == "offers" || s.starts_with("127.0.0.1:"),
        None => false,
    }
}

/// Makes one answer machine-free and describe a node started with
/// defaults: the capture's own options go, paths and ports are fixed.
fn normalise(method: &str, v: &mut Value, paths: &Paths, port: u16) {
    match method {
        "listconfigs" => {
            if let Some(Value::Object(configs)) = v.get_mut("configs") {
                for name in CAPTURE_OPTIONS {
                    let Some(Value::Object(entry)) = configs.get_mut(name) else { continue };
                    let mut drop = false;
                    if name == "log-level" {
                        // The capture logs at debug; a default node at info.
                        *entry = json!({"value_str": "info", "source": "default"}).as_object().cloned().unwrap_or_default();
                        continue;
                    }
                    if let Some(Value::Array(values)) = entry.get("values_str").cloned() {
                        // A multi option: keep what a default node has.
                        let keep: Vec<usize> =
                            (0..values.len()).filter(|&i| !is_capture_value(&values[i], paths) && name != "log-file").collect();
                        let pick = |k: &str, e: &Map<String, Value>| -> Value {
                            let a = e.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
                            Value::Array(keep.iter().filter_map(|&i| a.get(i).cloned()).collect())
                        };
                        let (vs, ss) = (pick("values_str", entry), pick("sources", entry));
                        entry.insert("values_str".into(), vs);
                        entry.insert("sources".into(), ss);
                    } else {
                        drop = entry.get("source").and_then(Value::as_str) == Some("cmdline");
                    }
                    if drop {
                        configs.remove(name);
                    }
                }
            }
            // Before v23.08 listconfigs is flat (unset options absent), and
            // up to v24.05 it repeats the flat members beside `configs`.
            if let Value::Object(flat) = v {
                if flat.contains_key("log-level") {
                    flat.insert("log-level".into(), json!("info"));
                }
                for name in CAPTURE_OPTIONS {
                    match flat.get_mut(name) {
                        Some(Value::Array(values)) => {
                            values.retain(|x| !is_capture_value(x, paths));
                            if values.is_empty() {
                                flat.remove(name);
                            }
                        }
                        Some(x) if is_capture_value(x, paths) || name == "log-file" => {
                            flat.remove(name);
                        }
                        _ => {}
                    }
                }
                if let Some(Value::Array(plugins)) = flat.get_mut("plugins") {
                    plugins.retain(|p| p.get("path").and_then(Value::as_str) != Some(paths.backend.as_str()));
                }
            }
        }
        "getinfo" => {
            for b in v.get_mut("binding").and_then(Value::as_array_mut).into_iter().flatten() {
                if b.get("port").and_then(Value::as_u64) == Some(port as u64) {
                    b["port"] = json!(REGTEST_PORT);
                }
            }
        }
        "help" => {
            // The backend's methods stand in for bcli's, which a node with
            // bitcoind has; they are the capture's, not the release's.
            if let Some(Value::Array(cmds)) = v.get_mut("help") {
                cmds.retain(|c| {
                    let name = c.get("command").and_then(Value::as_str).unwrap_or("");
                    let name = name.split_whitespace().next().unwrap_or("");
                    !crate::backend::METHODS.contains(&name)
                });
            }
        }
        _ => {}
    }
    paths.apply(v);
}

/// Where a hand-written answer's members differ from the real node's: the
/// paths (`peers[].id`) the real answer has and the file lacks, and the
/// reverse. Array items are compared only where both have some.
pub fn member_drift(real: &Value, hand: &Value) -> (Vec<String>, Vec<String>) {
    fn walk(path: &str, a: &Value, b: &Value, missing: &mut Vec<String>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for (k, v) in x {
                    let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    match y.get(k) {
                        Some(w) => walk(&p, v, w, missing),
                        None => missing.push(p),
                    }
                }
            }
            (Value::Array(x), Value::Array(y)) => {
                if let (Some(v), Some(w)) = (x.first(), y.first()) {
                    walk(&format!("{path}[]"), v, w, missing);
                }
            }
            _ => {}
        }
    }
    let (mut lacks, mut extra) = (Vec::new(), Vec::new());
    walk("", real, hand, &mut lacks);
    walk("", hand, real, &mut extra);
    (lacks, extra)
}

/// Writes the captured answers into `out/<profile>/`, except the
/// hand-written ones; returns one line per file written or compared.
pub fn write(c: &Captured, out: &Path) -> Result<Vec<String>, CaptureError> {
    let dir: PathBuf = out.join(&c.profile);
    std::fs::create_dir_all(&dir).map_err(|source| CaptureError::Io { context: format!("cannot create {}", dir.display()), source })?;
    let mut lines = Vec::new();
    let hand = |method: &str| -> Option<Value> {
        std::fs::read_to_string(dir.join(format!("{method}.json")))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .or_else(|| crate::Profile::load(&c.profile).ok()?.rpc_answer(method))
    };
    let mut answers = c.answers.clone();
    // One node: the hand-written channel data names the captured node's
    // id, and getinfo counts the peer and channel it shows.
    if let Some(info) = answers.get_mut("getinfo") {
        let new_id = info.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
        let old_id = hand("getinfo").and_then(|g| g.get("id").and_then(Value::as_str).map(str::to_owned));
        if let Some(old_id) = old_id.filter(|o| !new_id.is_empty() && *o != new_id) {
            for method in HAND_WRITTEN {
                let file = dir.join(format!("{method}.json"));
                // An inherited file naming the old node becomes the profile's own.
                let text = std::fs::read_to_string(&file)
                    .ok()
                    .or_else(|| hand(method).map(|v| serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"));
                let Some(text) = text else { continue };
                if text.contains(&old_id) {
                    std::fs::write(&file, text.replace(&old_id, &new_id))
                        .map_err(|source| CaptureError::Io { context: format!("cannot write {}", file.display()), source })?;
                    lines.push(format!("{}/{method}.json (hand-written) now names the node {new_id}", c.profile));
                }
            }
        }
        let peers = hand("listpeers").and_then(|p| p.get("peers").and_then(Value::as_array).cloned()).unwrap_or_default();
        let nested: usize = peers.iter().filter_map(|p| p.get("channels").and_then(Value::as_array)).map(Vec::len).sum();
        let channels = hand("listpeerchannels").and_then(|p| p.get("channels").and_then(Value::as_array).map(Vec::len)).unwrap_or(0);
        info["num_peers"] = json!(peers.len());
        info["num_active_channels"] = json!(channels.max(nested));
    }
    for (method, v) in &answers {
        let file = dir.join(format!("{method}.json"));
        if HAND_WRITTEN.contains(&method.as_str()) {
            // The profile's own file, or the one it inherits.
            match hand(method) {
                Some(h) => {
                    let (lacks, extra) = member_drift(v, &h);
                    let extra: Vec<&String> = extra.iter().filter(|p| p.contains('.')).collect();
                    if !lacks.is_empty() {
                        lines.push(format!(
                            "{}/{method}.json (hand-written) lacks members the real node has: {}",
                            c.profile,
                            lacks.join(", ")
                        ));
                    }
                    if extra.is_empty() && lacks.is_empty() {
                        lines.push(format!("{}/{method}.json (hand-written) has the real node's members", c.profile));
                    }
                }
                None => lines.push(format!("{}/{method}.json: no hand-written file; the real node answers {v}", c.profile)),
            }
            continue;
        }
        let text = serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
        std::fs::write(&file, text).map_err(|source| CaptureError::Io { context: format!("cannot write {}", file.display()), source })?;
        lines.push(format!("{}/{method}.json captured from lightningd {}", c.profile, c.version));
    }
    for (method, why) in &c.refused {
        lines.push(format!("{}: lightningd {} refused {method}: {why}", c.profile, c.version));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> Paths {
        Paths {
            replace: vec![
                ("/b/plugins/".into(), PLUGIN_DIR.into()),
                ("/t/x/node".into(), LIGHTNING_DIR.into()),
                ("/t/x".into(), HOME.into()),
            ],
            backend: "/t/y/cln-harness-backend".into(),
        }
    }

    #[test]
    fn capture_options_and_paths_are_taken_out() {
        let mut v = json!({"configs": {
            "lightning-dir": {"value_str": "/t/x/node", "source": "cmdline"},
            "plugin": {"values_str": ["/t/y/cln-harness-backend"], "sources": ["cmdline"]},
            "disable-plugin": {"values_str": ["bcli"], "sources": ["cmdline"]},
            "log-file": {"values_str": ["/t/x/log"], "sources": ["cmdline"]},
            "bind-addr": {"values_str": ["127.0.0.1:4000"], "sources": ["cmdline"]},
            "pid-file": {"value_str": "/t/x/node/lightningd-regtest.pid", "source": "default"},
            "autoclean-cycle": {"value_int": 3600, "source": "default", "plugin": "/b/plugins/autoclean"}
        }});
        normalise("listconfigs", &mut v, &paths(), 4000);
        let c = &v["configs"];
        assert_eq!(c["lightning-dir"]["value_str"], LIGHTNING_DIR);
        assert_eq!(c["plugin"], json!({"values_str": [], "sources": []}));
        assert_eq!(c["disable-plugin"]["values_str"], json!([]));
        assert_eq!(c["log-file"]["values_str"], json!([]));
        assert_eq!(c["bind-addr"]["values_str"], json!([]));
        assert_eq!(c["pid-file"]["value_str"], "/home/user/.lightning/lightningd-regtest.pid");
        assert_eq!(c["autoclean-cycle"]["plugin"], "/usr/local/libexec/c-lightning/plugins/autoclean");

        let mut flat = json!({"lightning-dir": "/t/x/node", "disable-plugin": ["bcli"], "bind-addr": "127.0.0.1:4000", "log-level": "debug",
            "log-file": "/t/x/log", "plugins": [{"path": "/t/y/cln-harness-backend", "name": "cln-harness-backend"}, {"path": "/b/plugins/pay", "name": "pay"}]});
        normalise("listconfigs", &mut flat, &paths(), 4000);
        assert_eq!(
            flat,
            json!({"lightning-dir": LIGHTNING_DIR, "log-level": "info", "plugins": [{"path": "/usr/local/libexec/c-lightning/plugins/pay", "name": "pay"}]})
        );
    }

    #[test]
    fn ports_and_backend_methods_are_the_capture_s() {
        let mut info = json!({"binding": [{"type": "ipv4", "address": "127.0.0.1", "port": 4000}]});
        normalise("getinfo", &mut info, &paths(), 4000);
        assert_eq!(info["binding"][0]["port"], REGTEST_PORT);
        let mut help = json!({"help": [{"command": "getchaininfo [last_height]"}, {"command": "getinfo"}]});
        normalise("help", &mut help, &paths(), 4000);
        assert_eq!(help, json!({"help": [{"command": "getinfo"}]}));
    }

    #[test]
    fn member_drift_names_both_sides() {
        let real = json!({"peers": [{"id": "a", "features": "00"}], "x": 1});
        let hand = json!({"peers": [{"id": "a", "netaddr": []}]});
        assert_eq!(member_drift(&real, &hand), (vec!["peers[].features".to_owned(), "x".to_owned()], vec!["peers[].netaddr".to_owned()]));
        assert_eq!(member_drift(&json!({"peers": []}), &hand), (vec![], vec![]));
    }
}
