//! Cross-checks: the same plugin judged by the harness and started by a
//! real lightningd, and whether the two outcomes agree.
//!
//! The real node runs as [`crate::lightningd::Node`] with `cln-harness
//! backend` as its Bitcoin backend; a second node connects, sends a custom
//! message and disconnects when the plugin subscribes to or hooks those
//! events. Its outcome is read from its log (the plugin's own
//! `plugin-<file>` subsystem) and its exit status.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::lightningd::{parse_log, Build, Node, NodeError, NodeOptions, Started};
use crate::{Harness, Report, Verdict};

/// How lightningd ends up treating the plugin, in either world.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "outcome")]
pub enum Outcome {
    Accepted,
    Disabled { reason: String },
    /// `Killing plugin: <reason>`.
    Killed { reason: String },
    /// lightningd itself stops: its exit (`exit status: 1`, `signal: 11`)
    /// and its last words.
    Exits { status: String, message: String },
    /// The harness could not judge the plugin (it hit one of its own
    /// limits); never agrees with any real outcome.
    Undecided { reason: String },
}

impl Outcome {
    /// The verdict class: `accepted`, `disabled`, `killed`, `exits`.
    pub fn class(&self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Disabled { .. } => "disabled",
            Outcome::Killed { .. } => "killed",
            Outcome::Exits { .. } => "exits",
            Outcome::Undecided { .. } => "undecided",
        }
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Accepted => "accepted".into(),
            Outcome::Disabled { reason } => format!("disabled: {}", one_line(reason)),
            Outcome::Killed { reason } => format!("killed: Killing plugin: {}", one_line(reason)),
            Outcome::Exits { status, message } if status.is_empty() => format!("lightningd exits: {}", one_line(message)),
            Outcome::Exits { status, message } => format!("lightningd exits ({status}): {}", one_line(message)),
            Outcome::Undecided { reason } => format!("not judged: {}", one_line(reason)),
        }
    }
}

fn one_line(s: &str) -> String {
    let s = s.replace('\n', "\\n");
    if s.chars().count() > 160 {
        format!("{}…", s.chars().take(160).collect::<String>())
    } else {
        s
    }
}

/// Why a cross-check could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CrossError {
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("lightningd {version} has no harness profile (known: {known}); pass --cln-version to pick one")]
    NoProfile { version: String, known: String },
    #[error(transparent)]
    Harness(#[from] crate::Error),
    #[error("cannot prepare the plugin for lightningd: {0}")]
    Setup(std::io::Error),
    #[error("lightningd {version} did not become ready within {secs} s, nor exit; its log ends:\n{tail}")]
    NotReady { version: String, secs: u64, tail: String },
}

/// What to cross-check.
#[derive(Clone, Debug)]
pub struct CrossCheck {
    pub lightningd: PathBuf,
    /// The harness profile; `None` picks it from `lightningd --version`.
    pub profile: Option<String>,
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Environment for the plugin, in both worlds.
    pub env: Vec<(String, String)>,
    /// The `cln-harness` binary that serves as backend.
    pub exe: PathBuf,
    /// How long the real node may take to become ready or exit.
    pub start_timeout: Duration,
    /// How long the plugin must survive on the ready node.
    pub settle: Duration,
}

/// Both outcomes, side by side.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Comparison {
    pub plugin: String,
    pub version: String,
    pub profile: String,
    pub harness: Outcome,
    /// The check the harness's verdict came from.
    pub harness_check: Option<String>,
    pub real: Outcome,
    /// Why they disagree, or `None`.
    pub difference: Option<String>,
    /// The real node's log lines from the plugin's subsystem.
    pub plugin_log: Vec<String>,
}

impl CrossCheck {
    pub fn new(lightningd: impl Into<PathBuf>, program: impl Into<OsString>, exe: impl Into<PathBuf>) -> CrossCheck {
        CrossCheck {
            lightningd: lightningd.into(),
            profile: None,
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            exe: exe.into(),
            start_timeout: Duration::from_secs(150),
            settle: Duration::from_millis(1500),
        }
    }

    /// Runs the harness, then the real node, and compares.
    pub fn run(&self) -> Result<Comparison, CrossError> {
        let build = Build::at(&self.lightningd)?;
        let profile = match &self.profile {
            Some(p) => p.clone(),
            None => build.profile().ok_or_else(|| CrossError::NoProfile {
                version: build.version.clone(),
                known: crate::Profile::names().join(", "),
            })?,
        };
        let mut harness = Harness::new(&self.program).args(self.args.clone()).profile(&profile);
        for (k, v) in &self.env {
            harness = harness.env(k, v);
        }
        let report = harness.run()?;
        let (harness_outcome, harness_check) = from_report(&report);
        let (real, plugin_log) = self.real(&build, &report)?;
        let difference = compare(&harness_outcome, &real);
        Ok(Comparison {
            plugin: report.plugin.clone(),
            version: build.version,
            profile,
            harness: harness_outcome,
            harness_check,
            real,
            difference,
            plugin_log,
        })
    }

    /// Starts the plugin under the real node; returns its outcome and the
    /// plugin's log lines.
    fn real(&self, build: &Build, report: &Report) -> Result<(Outcome, Vec<String>), CrossError> {
        let work = tempfile::Builder::new().prefix("cln-harness-cross").tempdir().map_err(CrossError::Setup)?;
        let backend = crate::backend::write_wrapper(work.path(), &self.exe).map_err(CrossError::Setup)?;
        let plugin = plugin_path(work.path(), &self.program, &self.args).map_err(CrossError::Setup)?;
        let shortname = plugin.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let subsystem = format!("plugin-{shortname}");

        // A second node when the plugin would see peers come and go.
        let wants_peer = report.manifest.as_ref().is_some_and(|m| {
            m.subscriptions.iter().any(|s| matches!(s.as_str(), "connect" | "disconnect" | "custommsg" | "*"))
                || m.hooks.iter().any(|h| matches!(h.name.as_str(), "peer_connected" | "custommsg"))
        });
        let hooks_custommsg = report.manifest.as_ref().is_some_and(|m| m.hooks.iter().any(|h| h.name == "custommsg"));
        let quick = Instant::now() + Duration::from_secs(10);
        let peer = if wants_peer {
            let mut p = Node::start(build, &backend, &NodeOptions::default())?;
            match p.wait_ready(Instant::now() + self.start_timeout) {
                Started::Ready => Some(p),
                _ => return Err(CrossError::NotReady { version: build.version.clone(), secs: self.start_timeout.as_secs(), tail: tail(&p.log()) }),
            }
        } else {
            None
        };

        let opts = NodeOptions {
            plugins: vec![plugin.clone()],
            args: vec![format!("--log-level=io:{subsystem}")],
            env: self.env.clone(),
        };
        let mut node = Node::start(build, &backend, &opts)?;
        let started = node.wait_ready(Instant::now() + self.start_timeout);
        let hung = matches!(started, Started::TimedOut);
        if let (Started::Ready, Some(p)) = (&started, &peer) {
            // Errors here are the plugin's doing (a hook that kills the
            // node): the outcome below tells.
            let _ = exercise(&mut node, p, &subsystem, hooks_custommsg, quick.max(Instant::now() + Duration::from_secs(10)));
        }
        if let Started::Ready = started {
            std::thread::sleep(self.settle);
        }
        // A node that never got ready is not asked to stop; lightningd
        // gives shutdown subscribers 30 s.
        let status = if hung {
            node.kill();
            None
        } else {
            node.stop(Instant::now() + Duration::from_secs(40))
        };
        let log = node.log();
        let stdio = node.stdio();
        drop(node);
        drop(peer);
        let entries = parse_log(&log);
        let plugin_log: Vec<String> =
            entries.iter().filter(|e| e.subsystem == subsystem).map(|e| format!("{} {}", e.level, e.text)).collect();
        let outcome = if hung {
            // The peer started on the same machine, so the plugin is what
            // holds this node up: an outcome, with the log's last words.
            hung_at_start(&entries, &subsystem, self.start_timeout)
        } else {
            classify(&entries, &subsystem, status, &stdio, matches!(started, Started::Ready))
        };
        Ok((outcome, plugin_log))
    }
}

/// Connects the peer, has it send a custom message, disconnects. When the
/// plugin hooks custom messages, the disconnect waits for the evidence in
/// the node's io log that the hook was called and the plugin answered or
/// was killed (or for the node to exit): a fixed pause lost the hook's
/// answer with the peer on a busy machine. Notifications leave no trace
/// there, so a subscriber gets the pause alone.
fn exercise(node: &mut Node, peer: &Node, subsystem: &str, hooks_custommsg: bool, deadline: Instant) -> Result<(), NodeError> {
    let peer_id = peer.id(deadline)?;
    let id = node.id(deadline)?;
    node.rpc("connect", json!({"id": peer_id, "host": "127.0.0.1", "port": peer.port}), deadline)?;
    // `connect` returns once this node has the peer; the peer's own
    // lightningd may register the connection a moment later, and until
    // then refuses to send ("No such peer").
    while Instant::now() < deadline && !peer_connected(peer, &id, deadline) {
        std::thread::sleep(Duration::from_millis(20));
    }
    // An odd type (0x7777 is odd), so the receiver may ignore it.
    let _ = peer.rpc("sendcustommsg", json!({"node_id": id, "msg": "77770000"}), deadline);
    while hooks_custommsg && Instant::now() < deadline && node.exited().is_none() && !custommsg_answered(&node.log(), subsystem) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    node.rpc("disconnect", json!({"id": peer_id, "force": true}), deadline)?;
    std::thread::sleep(Duration::from_millis(200));
    Ok(())
}

/// Whether `node` lists the node `id` as a connected peer.
fn peer_connected(node: &Node, id: &str, deadline: Instant) -> bool {
    node.rpc("listpeers", json!({"id": id}), deadline)
        .is_ok_and(|v| v["peers"].as_array().is_some_and(|p| p.iter().any(|p| p["connected"] == json!(true))))
}

/// Whether the node's io log shows a `custommsg` hook request written to
/// the plugin (logged by its id, `"cln:custommsg#N"[OUT]`) and, after it,
/// the plugin's next output (`[IN]`) or its kill.
fn custommsg_answered(log: &str, subsystem: &str) -> bool {
    let (request, answer) = (format!("{subsystem}: \"cln:custommsg#"), format!("{subsystem}: [IN] "));
    let mut lines = log.lines().skip_while(|l| !(l.contains(&request) && l.contains("[OUT]")));
    lines.next().is_some() && lines.any(|l| l.contains(&answer) || (l.contains(subsystem) && l.contains("Killing plugin")))
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// The path lightningd is given: the plugin itself, or, for an
/// interpreter or arguments, a script in `work` named after the plugin
/// file (lightningd passes no arguments and names the log after the file).
fn plugin_path(work: &Path, program: &OsString, args: &[OsString]) -> std::io::Result<PathBuf> {
    let program_path = Path::new(program);
    if args.is_empty() {
        return std::fs::canonicalize(program_path);
    }
    use std::os::unix::fs::PermissionsExt;
    let name = args.iter().rev().map(Path::new).find(|p| p.is_file()).unwrap_or(program_path);
    let name = name.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| "plugin".into());
    let quote = |s: &std::ffi::OsStr| format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"));
    let mut line = String::from("#!/bin/sh\nexec");
    for a in std::iter::once(program.as_os_str()).chain(args.iter().map(|a| a.as_os_str())) {
        line.push(' ');
        // Relative paths resolve from lightningd's working directory, which
        // is not the caller's. Absolute, not canonical: a venv's python is
        // a symlink, and resolving it would leave the venv.
        let p = Path::new(a);
        if p.exists() {
            line.push_str(&quote(std::path::absolute(p)?.as_os_str()));
        } else {
            line.push_str(&quote(a));
        }
    }
    line.push_str(" \"$@\"\n");
    let dir = work.join("plugin");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(name);
    std::fs::write(&path, line)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(path)
}

/// The harness's verdict as an outcome, and the check it came from.
pub fn from_report(report: &Report) -> (Outcome, Option<String>) {
    match &report.verdict {
        Verdict::Accepted => (Outcome::Accepted, None),
        Verdict::Disabled { check, reason } => (Outcome::Disabled { reason: reason.clone() }, Some(check.clone())),
        Verdict::Killed { check, reason } => (Outcome::Killed { reason: reason.clone() }, Some(check.clone())),
        Verdict::Fatal { check, reason } => (Outcome::Exits { status: String::new(), message: reason.clone() }, Some(check.clone())),
        Verdict::Undecided { check, reason } => (Outcome::Undecided { reason: reason.clone() }, Some(check.clone())),
    }
}

/// The real node's outcome, from its log, its exit and its output.
/// `ready` says whether it got as far as answering `getinfo`.
pub fn classify(entries: &[crate::lightningd::LogEntry], subsystem: &str, status: Option<std::process::ExitStatus>, stdio: &str, ready: bool) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    let abnormal = match status {
        Some(s) => !s.success(),
        None => true,
    };
    if abnormal || !ready {
        let status = match status {
            Some(s) => match (s.code(), s.signal()) {
                (Some(c), _) => format!("exit status: {c}"),
                (_, Some(sig)) => format!("signal: {sig}"),
                _ => s.to_string(),
            },
            None => format!("{NEVER_STOPPED}: killed"),
        };
        // lightningd's last words: its last BROKEN line, else the last line
        // it printed that is not the built-in plugins' noise.
        let message = entries
            .iter()
            .rev()
            .find(|e| e.level == "**BROKEN**" && !e.text.starts_with("backtrace") && !e.text.contains("FATAL SIGNAL"))
            .map(|e| e.text.clone())
            .or_else(|| {
                // Without a BROKEN line (a crash), the first thing it
                // printed that is neither noise nor a backtrace frame.
                stdio
                    .lines()
                    .find(|l| {
                        !l.trim().is_empty()
                            && !l.contains("Lost connection to the RPC socket")
                            && !l.starts_with("0x")
                            && !l.starts_with('\t')
                            && !routine_log_line(l)
                    })
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        return Outcome::Exits { status, message };
    }
    for e in entries.iter().filter(|e| e.subsystem == subsystem) {
        let Some(reason) = e.text.strip_prefix("Killing plugin: ") else { continue };
        if let Some(r) = reason.strip_prefix("disabled itself at init: ").or_else(|| reason.strip_prefix("disabled itself: ")) {
            return Outcome::Disabled { reason: r.to_owned() };
        }
        // A clean exit at shutdown is logged at DEBUG in the same words as
        // a crash (logged at INFO).
        if e.level == "DEBUG" {
            continue;
        }
        return Outcome::Killed { reason: reason.to_owned() };
    }
    Outcome::Accepted
}

/// A log line lightningd also prints on its output below BROKEN, e.g. a
/// Python built-in plugin disabling itself ("UNUSUAL plugin-manager: failed
/// to register plugin …/wss-proxy"): noise, not its last words.
fn routine_log_line(l: &str) -> bool {
    let mut words = l.split_whitespace();
    let stamp = words.next().unwrap_or("");
    let level = words.next().unwrap_or("");
    stamp.len() >= 20 && stamp.ends_with('Z') && stamp.as_bytes()[4] == b'-' && matches!(level, "TRACE" | "DEBUG" | "INFO" | "UNUSUAL")
}

/// Whether two reasons start alike: fatal and kill texts quote raw
/// buffers, whose bytes (and how a log prints them) differ from run to run.
/// lightningd's log prints a control character as `?`, so both sides are
/// compared that way.
/// A quoted buffer holds what one read happened to get, so comparison
/// stops where a long quote opens; a short one (a name) is compared.
pub fn same_start(a: &str, b: &str) -> bool {
    let chars: Vec<char> = a.chars().collect();
    let quote = match chars.iter().position(|&c| c == '\'') {
        Some(p) if !chars[p + 1..].iter().take(40).any(|&c| c == '\'') => p + 1,
        _ => usize::MAX,
    };
    let n = a.chars().count().min(b.chars().count()).min(48).min(quote);
    let norm = |c: char| if c.is_control() { '?' } else { c };
    a.chars().take(n).map(norm).eq(b.chars().take(n).map(norm))
}

/// The harness's words for a fatal stop, reduced to lightningd's reason:
/// without `error starting plugin '<path>': ` (paths differ) and without
/// the `, then: ...` the harness adds.
fn fatal_core(s: &str) -> &str {
    let s = s.split(", then: ").next().unwrap_or(s);
    let s = s.strip_prefix("Killing plugin: ").unwrap_or(s);
    match s.strip_prefix("error starting plugin '").and_then(|r| r.split_once("': ")) {
        Some((_, rest)) => rest,
        None => s,
    }
}

/// How a node that never answered `getinfo` is described.
const HUNG_AT_START: &str = "not ready";

/// How a node that did not exit after `stop` is described.
const NEVER_STOPPED: &str = "did not exit";

/// The outcome of a node that never answered `getinfo`, with its own last
/// log line (not the plugin's traffic, nor the io lines).
fn hung_at_start(entries: &[crate::lightningd::LogEntry], subsystem: &str, waited: Duration) -> Outcome {
    let last = entries
        .iter()
        .rev()
        .find(|e| !e.subsystem.is_empty() && e.subsystem != subsystem && !e.text.starts_with("[IN]") && !e.text.starts_with("[OUT]"))
        .map(|e| format!("{}: {}", e.subsystem, e.text))
        .unwrap_or_default();
    Outcome::Exits { status: format!("{HUNG_AT_START} within {} s: killed", waited.as_secs()), message: format!("its log stopped at: {last}") }
}

/// Why the outcomes disagree, or `None` when they agree.
pub fn compare(harness: &Outcome, real: &Outcome) -> Option<String> {
    let differ = || Some(format!("harness: {}; lightningd: {}", harness.describe(), real.describe()));
    match (harness, real) {
        (Outcome::Accepted, Outcome::Accepted) => None,
        (Outcome::Disabled { reason: a }, Outcome::Disabled { reason: b }) | (Outcome::Killed { reason: a }, Outcome::Killed { reason: b }) => {
            if same_start(a, b) {
                None
            } else {
                differ()
            }
        }
        (Outcome::Exits { message: a, .. }, Outcome::Exits { status, message: b }) => {
            // A crash has no words: the harness says why, the node dies
            // of a signal.
            if a.starts_with("lightningd crashes") {
                return if status.starts_with("signal") { None } else { differ() };
            }
            // A hang has no words either: the node never became ready,
            // never finished `stop`, or aborted in ccan/io (v25.05).
            if a.starts_with("lightningd hangs") {
                let hung = [HUNG_AT_START, NEVER_STOPPED, "signal: 6"].iter().any(|s| status.starts_with(s));
                return if hung { None } else { differ() };
            }
            let core = fatal_core(a);
            let b_core = b.split_once("Killing plugin: ").map(|x| x.1).unwrap_or(b);
            let b_core = fatal_core(b_core);
            if same_start(core, b_core) || b.contains(&core.chars().take(48).collect::<String>()) {
                None
            } else {
                differ()
            }
        }
        _ => differ(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_custommsg_hook_is_seen_called_then_answered_or_killed() {
        use super::custommsg_answered;
        let sub = "plugin-hooks.py";
        let request = "2026-12-01T09:38:51.147Z plugin-hooks.py: \"cln:custommsg#50\"[OUT] ";
        let other = "2026-12-01T09:38:51.134Z plugin-hooks.py: \"cln:init#44\"[OUT] ";
        let answer = "2026-12-01T09:38:51.148Z plugin-hooks.py: [IN] 7b226a736f6e727063223a22322e30227d0a0a";
        let killed = "2026-12-01T09:38:51.148Z INFO    plugin-hooks.py: Killing plugin: exited during normal operation";
        assert!(!custommsg_answered(&format!("{other}\n{answer}"), sub), "another request");
        assert!(!custommsg_answered(&format!("{answer}\n{request}"), sub), "an answer before the request");
        assert!(!custommsg_answered(request, sub), "not answered yet");
        assert!(custommsg_answered(&format!("{request}\n{answer}"), sub));
        assert!(custommsg_answered(&format!("{request}\n{killed}"), sub));
    }

    use super::*;
    use crate::lightningd::LogEntry;
    use std::os::unix::process::ExitStatusExt;

    fn e(level: &str, sub: &str, text: &str) -> LogEntry {
        LogEntry { level: level.into(), subsystem: sub.into(), text: text.into() }
    }

    #[test]
    fn a_clean_shutdown_is_not_a_kill_but_a_crash_is() {
        let ok = std::process::ExitStatus::from_raw(0);
        let clean = [e("DEBUG", "plugin-p", "Killing plugin: exited during normal operation")];
        assert_eq!(classify(&clean, "plugin-p", Some(ok), "", true), Outcome::Accepted);
        let crash = [e("INFO", "plugin-p", "Killing plugin: exited during normal operation")];
        assert_eq!(classify(&crash, "plugin-p", Some(ok), "", true), Outcome::Killed { reason: "exited during normal operation".into() });
        let other = [e("INFO", "plugin-q", "Killing plugin: exited during normal operation")];
        assert_eq!(classify(&other, "plugin-p", Some(ok), "", true), Outcome::Accepted);
    }

    #[test]
    fn an_exit_carries_lightningds_last_words() {
        let one = std::process::ExitStatus::from_raw(1 << 8);
        let log = [e("**BROKEN**", "lightningd", "error starting plugin '/x/p': option name 'alias' is already taken")];
        let real = classify(&log, "plugin-p", Some(one), "", false);
        assert_eq!(real.class(), "exits");
        let harness = Outcome::Exits { status: String::new(), message: "error starting plugin '/y/p': option name 'alias' is already taken".into() };
        assert_eq!(compare(&harness, &real), None);
        let other = Outcome::Exits { status: String::new(), message: "error starting plugin '/y/p': option name 'network' is already taken".into() };
        assert!(compare(&other, &real).is_some());
    }

    #[test]
    fn a_hang_agrees_with_a_node_that_never_got_ready_never_stopped_or_aborted() {
        let harness = Outcome::Exits { status: String::new(), message: "lightningd hangs: a command it runs…".into() };
        let real = |status: &str| Outcome::Exits { status: status.into(), message: String::new() };
        for hung in ["not ready within 45 s: killed", "did not exit: killed", "signal: 6"] {
            assert_eq!(compare(&harness, &real(hung)), None, "{hung}");
        }
        assert!(compare(&harness, &real("exit status: 1")).is_some());
        assert!(compare(&harness, &Outcome::Accepted).is_some());
    }

    #[test]
    fn classes_must_match() {
        assert!(compare(&Outcome::Accepted, &Outcome::Killed { reason: "x".into() }).is_some());
        assert_eq!(compare(&Outcome::Killed { reason: "bad {\"a\"".into() }, &Outcome::Killed { reason: "bad {\"a\"\n}".into() }), None);
    }
}
