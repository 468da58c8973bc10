//! Profile generation: asks a real lightningd build which names it owns
//! (options, notification topics, hooks) and writes them as a profile's
//! name lists.
//!
//! Everything is read from the node itself, started with `--help` so no
//! Bitcoin backend is needed (lightningd starts its plugins and reads their
//! manifests, then prints its usage and exits):
//! - options: the names `--help` and `--developer --help` print, plus each
//!   candidate the usage hides (deprecated and dev options), kept when
//!   `lightningd --NAME=x --help` does not answer "unknown option";
//! - topics: a probe plugin subscribes to every candidate topic and
//!   lightningd warns "topic '…' is not a known notification topic" for each
//!   it does not know; with the built-in plugins disabled the known ones are
//!   native, the rest are the built-in plugins' own;
//! - hooks: the probe registers every candidate hook; lightningd refuses
//!   the first unknown one by name, which is dropped until none is refused;
//! - built-in plugins' methods: each plugin file beside lightningd answers
//!   `getmanifest`, as it does for lightningd;
//! - lightningd's own commands: `help` of a node started (on the harness's
//!   Bitcoin backend) with every built-in plugin disabled, in developer mode
//!   where the release has it, since developer commands are registered, and
//!   so taken, either way.
//!
//! Candidates are the names any bundled profile lists, plus the strings in
//! the build's binaries shaped like an option name: the node, not the
//! candidate list, decides what is kept.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::profile::Profile;

/// Why a build could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("'{}' is not a lightningd build: {reason}", path.display())]
    NotABuild { path: PathBuf, reason: String },
    #[error("lightningd '{}' {what}: {reason}", path.display())]
    Run { path: PathBuf, what: String, reason: String },
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

/// The names one build owns.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Names {
    /// `lightningd --version`, e.g. `v24.11.2`.
    pub version: String,
    /// Every long option name lightningd and its built-in plugins register
    /// (aliases included).
    pub options: BTreeSet<String>,
    /// Options the usage gives with an alias (`--a|--b`), by each name.
    pub aliased: BTreeSet<String>,
    /// Topics lightningd itself sends.
    pub native_topics: BTreeSet<String>,
    /// Topics the built-in plugins declare.
    pub builtin_topics: BTreeSet<String>,
    pub hooks: BTreeSet<String>,
    /// lightningd's own JSON-RPC commands.
    pub commands: BTreeSet<String>,
    /// Each built-in plugin's methods: method name to plugin file name.
    pub plugin_methods: BTreeMap<String, String>,
}

/// How long one `lightningd --help` may take: it starts every built-in
/// plugin and waits for their manifests.
const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// How many nodes answer option questions at once.
const PARALLEL: usize = 3;

/// One `lightningd ARGS --help`, in a fresh lightning-dir: its stdout and
/// stderr together.
fn help_run(lightningd: &Path, args: &[String]) -> Result<String, GenError> {
    let dir = tempfile::tempdir().map_err(|source| GenError::Io { context: "cannot make a lightning-dir".into(), source })?;
    let mut child = Command::new(lightningd)
        .arg(format!("--lightning-dir={}", dir.path().display()))
        .args(args)
        .arg("--help")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| GenError::NotABuild { path: lightningd.to_owned(), reason: e.to_string() })?;
    // Both pipes drained on threads so a full one never stalls the node.
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>));
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() < RUN_DEADLINE => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                // The whole group: lightningd and the plugins it started.
                crate::process::kill_group(child.id() as i32);
                let _ = child.wait();
                return Err(GenError::Run {
                    path: lightningd.to_owned(),
                    what: format!("{} --help", args.join(" ")),
                    reason: format!("still running after {} s", RUN_DEADLINE.as_secs()),
                });
            }
        }
    }
    // Plugins lightningd left behind die with their group.
    crate::process::kill_group(child.id() as i32);
    let mut text = String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned();
    text.push_str(&String::from_utf8_lossy(&err.join().unwrap_or_default()));
    Ok(text)
}

use std::os::unix::process::CommandExt;

/// Long option names in a usage text: `--a|--b=<x>  description`.
pub fn usage_options(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| l.starts_with("--"))
        .filter_map(|l| l.split_whitespace().next())
        .flat_map(|first| {
            let first = first.split('=').next().unwrap_or("");
            first.split('|').filter_map(|n| n.strip_prefix("--")).map(str::to_owned).collect::<Vec<_>>()
        })
        .filter(|n| !n.is_empty())
        .collect()
}

/// The names registered together with an alias in a usage text
/// (`--large-channels|--wumbo  ...`).
pub fn usage_aliased(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| l.starts_with("--"))
        .filter_map(|l| l.split_whitespace().next())
        .map(|first| first.split('=').next().unwrap_or(""))
        .filter(|names| names.contains('|'))
        .flat_map(|names| names.split('|').map(|n| n.trim_start_matches('-').to_owned()).collect::<Vec<_>>())
        .filter(|n| !n.is_empty())
        .collect()
}

/// Whether lightningd knows an option: it refuses unknown ones by name
/// ("unknown option"; "unrecognized option" before v23.11).
fn option_known(lightningd: &Path, name: &str) -> Result<bool, GenError> {
    let out = help_run(lightningd, &[format!("--{name}=x")])?;
    let prefix = format!("--{name}=x: ");
    Ok(!out.lines().any(|l| l.contains(&prefix) && (l.contains("unknown option") || l.contains("unrecognized option"))))
}

/// Strings in a binary shaped like a registered option name
/// (`--name` or `--a|--b`): candidates only.
fn binary_option_strings(path: &Path) -> BTreeSet<String> {
    let Ok(bytes) = std::fs::read(path) else { return BTreeSet::new() };
    bytes
        .split(|b| *b == 0)
        .filter_map(|s| std::str::from_utf8(s).ok())
        .filter(|s| s.starts_with("--") && s.len() > 3)
        .filter(|s| s.split('|').all(|p| {
            let n = p.trim_start_matches('-');
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        }))
        .flat_map(|s| s.split('|').filter_map(|p| p.strip_prefix("--")).map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

/// The built-in plugins' file names: `../plugins/` beside lightningd.
fn builtin_plugins(lightningd: &Path) -> Vec<PathBuf> {
    let Some(dir) = lightningd.parent().and_then(Path::parent).map(|d| d.join("plugins")) else { return Vec::new() };
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
    v.sort();
    v
}

/// A probe plugin: a script that runs this executable as a plugin which
/// answers getmanifest with `manifest`.
struct Probe {
    dir: tempfile::TempDir,
}

impl Probe {
    fn new() -> Result<Probe, GenError> {
        let dir = tempfile::tempdir().map_err(|source| GenError::Io { context: "cannot make the probe's folder".into(), source })?;
        Ok(Probe { dir })
    }

    /// Writes the probe for one manifest; returns the plugin path.
    fn with(&self, exe: &Path, manifest: &serde_json::Value) -> Result<PathBuf, GenError> {
        let io = |source| GenError::Io { context: "cannot write the probe plugin".into(), source };
        let m = self.dir.path().join("manifest.json");
        std::fs::write(&m, manifest.to_string()).map_err(io)?;
        let script = self.dir.path().join("cln-harness-probe");
        let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "'\\''"));
        std::fs::write(&script, format!("#!/bin/sh\nexec {} gen-profile --probe-manifest {}\n", quote(exe), quote(&m))).map_err(io)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
        Ok(script)
    }
}

/// The probe plugin itself: answers `getmanifest` with the manifest in
/// `file`, then reads until lightningd closes its stdin.
pub fn serve_probe(file: &Path) -> std::io::Result<()> {
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(file)?)?;
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout().lock();
    let mut buf = Vec::new();
    let mut answered = false;
    loop {
        let mut line = Vec::new();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        if answered {
            continue;
        }
        buf.extend_from_slice(&line);
        let mut it = serde_json::Deserializer::from_slice(&buf).into_iter::<serde_json::Value>();
        if let Some(Ok(req)) = it.next() {
            if req.get("method").and_then(|m| m.as_str()) == Some("getmanifest") {
                let answer = serde_json::json!({"jsonrpc": "2.0", "id": req["id"], "result": manifest});
                out.write_all(format!("{answer}\n\n").as_bytes())?;
                out.flush()?;
                answered = true;
            }
            buf.clear();
        }
    }
}

/// Candidates: every name any bundled profile lists.
fn candidates() -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let (mut options, mut topics, mut hooks) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for n in Profile::names() {
        if let Ok(p) = Profile::load(&n) {
            options.extend(p.taken_options.iter().cloned());
            topics.extend(p.native_topics.iter().cloned());
            topics.extend(p.builtin_topics.iter().cloned());
            hooks.extend(p.hooks.iter().cloned());
            hooks.extend(p.hook_variants.keys().cloned());
        }
    }
    (options, topics, hooks)
}

/// The topics lightningd warns about for the probe (its log names the
/// plugin by file name).
fn warned_topics(out: &str) -> BTreeSet<String> {
    out.lines()
        .filter(|l| l.contains("plugin-cln-harness-probe"))
        .filter_map(|l| {
            let rest = l.split("topic '").nth(1)?;
            let (topic, tail) = rest.split_once('\'')?;
            tail.contains("is not a known notification topic").then(|| topic.to_owned())
        })
        .collect()
}

/// The hook lightningd refused for the probe, if any.
fn refused_hook(out: &str, hooks: &BTreeSet<String>) -> Option<String> {
    for l in out.lines() {
        // v26.04 on: "Unknown hook name X"; before: "could not register
        // hook 'X', either the name doesn't exist or ...".
        if let Some(rest) = l.split("Unknown hook name ").nth(1) {
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if hooks.contains(&name) {
                return Some(name);
            }
        }
        if let Some(rest) = l.split("could not register hook '").nth(1) {
            if let Some((name, _)) = rest.split_once('\'') {
                if hooks.contains(name) {
                    return Some(name.to_owned());
                }
            }
        }
    }
    None
}

/// Reads the names a build owns. `exe` is this program (the probe plugin
/// runs it).
pub fn read_build(lightningd: &Path, exe: &Path) -> Result<Names, GenError> {
    let dir = tempfile::tempdir().map_err(|source| GenError::Io { context: "cannot make a lightning-dir".into(), source })?;
    let version_out = Command::new(lightningd)
        .arg(format!("--lightning-dir={}", dir.path().display()))
        .arg("--version")
        .output()
        .map_err(|e| GenError::NotABuild { path: lightningd.to_owned(), reason: e.to_string() })?;
    // Log lines may come first (a built-in plugin that cannot register).
    let text = String::from_utf8_lossy(&version_out.stdout).into_owned();
    let version = text.lines().rev().map(str::trim).find(|l| l.starts_with('v')).unwrap_or(text.trim()).to_owned();
    if !version.starts_with('v') {
        return Err(GenError::NotABuild { path: lightningd.to_owned(), reason: format!("`--version` printed {version:?}") });
    }
    let (cand_options, cand_topics, cand_hooks) = candidates();

    // Options: the usage, with and without --developer (dev options), then
    // each hidden candidate asked for by name.
    let usage = help_run(lightningd, &[])?;
    let mut options = usage_options(&usage);
    let aliased = usage_aliased(&usage);
    if let Ok(dev) = help_run(lightningd, &["--developer".to_owned()]) {
        options.extend(usage_options(&dev));
    }
    let mut hidden: BTreeSet<String> = cand_options;
    hidden.extend(binary_option_strings(lightningd));
    for p in builtin_plugins(lightningd) {
        hidden.extend(binary_option_strings(&p));
    }
    // One node per question, a few at a time.
    let ask: Vec<String> = hidden.difference(&options).cloned().collect();
    let chunks: Vec<&[String]> = ask.chunks(ask.len().div_ceil(PARALLEL).max(1)).collect();
    let answers: Vec<Result<Vec<String>, GenError>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                s.spawn(move || {
                    let mut known = Vec::new();
                    for name in *chunk {
                        if option_known(lightningd, name)? {
                            known.push(name.clone());
                        }
                    }
                    Ok(known)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Ok(Vec::new()))).collect()
    });
    for a in answers {
        options.extend(a?);
    }

    // Topics, with and without the built-in plugins.
    let probe = Probe::new()?;
    let topics: Vec<&String> = cand_topics.iter().collect();
    let plugin = probe.with(exe, &serde_json::json!({"options": [], "rpcmethods": [], "subscriptions": topics}))?;
    let with_builtins = help_run(lightningd, &[format!("--plugin={}", plugin.display())])?;
    let mut disable: Vec<String> =
        builtin_plugins(lightningd).iter().filter_map(|p| p.file_name()?.to_str().map(|f| format!("--disable-plugin={f}"))).collect();
    disable.push(format!("--plugin={}", plugin.display()));
    let without = help_run(lightningd, &disable)?;
    let unknown_with = warned_topics(&with_builtins);
    let unknown_without = warned_topics(&without);
    let native_topics: BTreeSet<String> = cand_topics.iter().filter(|t| !unknown_without.contains(*t)).cloned().collect();
    let builtin_topics: BTreeSet<String> =
        cand_topics.iter().filter(|t| !unknown_with.contains(*t) && !native_topics.contains(*t)).cloned().collect();

    // Hooks: drop each refused one until none is.
    let mut hooks = cand_hooks;
    for _ in 0..=hooks.len() {
        let list: Vec<serde_json::Value> = hooks.iter().map(|h| serde_json::json!({"name": h})).collect();
        let plugin = probe.with(exe, &serde_json::json!({"options": [], "rpcmethods": [], "hooks": list}))?;
        let out = help_run(lightningd, &[format!("--plugin={}", plugin.display())])?;
        match refused_hook(&out, &hooks) {
            Some(h) => {
                hooks.remove(&h);
            }
            None => break,
        }
    }
    let plugin_methods = plugin_methods(lightningd)?;
    let commands = own_commands(lightningd, exe)?;
    Ok(Names { version, options, aliased, native_topics, builtin_topics, hooks, commands, plugin_methods })
}

/// How long a built-in plugin may take to answer `getmanifest`.
const MANIFEST_DEADLINE: Duration = Duration::from_secs(20);

/// One plugin's `getmanifest` answer, asked as lightningd asks it.
fn manifest_of(plugin: &Path) -> Result<serde_json::Value, GenError> {
    let run_err = |reason: String| GenError::Run { path: plugin.to_owned(), what: "getmanifest".into(), reason };
    let mut child = Command::new(plugin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| run_err(e.to_string()))?;
    let request = r#"{"jsonrpc":"2.0","id":1,"method":"getmanifest","params":{"allow-deprecated-apis":false}}"#;
    // The pipe stays open until the answer is in: a plugin exits on EOF.
    let mut stdin = child.stdin.take();
    if let Some(w) = stdin.as_mut() {
        let _ = w.write_all(format!("{request}\n\n").as_bytes());
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let mut stdout = child.stdout.take();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 65536];
        let Some(out) = stdout.as_mut() else { return };
        loop {
            match out.read(&mut chunk) {
                Ok(0) | Err(_) => {
                    let _ = tx.send(Err("it closed stdout without answering".to_owned()));
                    return;
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if let Some(Ok(v)) = serde_json::Deserializer::from_slice(&buf).into_iter::<serde_json::Value>().next() {
                let _ = tx.send(Ok(v));
                return;
            }
        }
    });
    let answer = rx.recv_timeout(MANIFEST_DEADLINE).unwrap_or_else(|_| Err(format!("no answer within {} s", MANIFEST_DEADLINE.as_secs())));
    drop(stdin);
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.wait();
    let v = answer.map_err(run_err)?;
    v.get("result").cloned().ok_or_else(|| run_err(format!("answered {v}")))
}

/// Every built-in plugin's methods, by the plugin's file name (how
/// lightningd names the owner when a plugin's method clashes).
fn plugin_methods(lightningd: &Path) -> Result<BTreeMap<String, String>, GenError> {
    let mut out = BTreeMap::new();
    for p in builtin_plugins(lightningd) {
        let file = p.file_name().and_then(|f| f.to_str()).unwrap_or_default().to_owned();
        let manifest = manifest_of(&p)?;
        for m in manifest.get("rpcmethods").and_then(|m| m.as_array()).into_iter().flatten() {
            if let Some(name) = m.get("name").and_then(|n| n.as_str()) {
                out.insert(name.to_owned(), file.clone());
            }
        }
    }
    Ok(out)
}

/// lightningd's own commands: `help` on a node without built-in plugins.
fn own_commands(lightningd: &Path, exe: &Path) -> Result<BTreeSet<String>, GenError> {
    use crate::lightningd::{Build, Node, NodeOptions, Started};
    let run_err = |what: &str, reason: String| GenError::Run { path: lightningd.to_owned(), what: what.to_owned(), reason };
    let build = Build::at(lightningd).map_err(|e| GenError::NotABuild { path: lightningd.to_owned(), reason: e.to_string() })?;
    let work = tempfile::tempdir().map_err(|source| GenError::Io { context: "cannot make a folder for the backend".into(), source })?;
    let backend = crate::backend::write_wrapper(work.path(), exe)
        .map_err(|source| GenError::Io { context: "cannot write the backend plugin".into(), source })?;
    let disable: Vec<String> =
        builtin_plugins(lightningd).iter().filter_map(|p| p.file_name()?.to_str().map(|f| format!("--disable-plugin={f}"))).collect();
    // Developer mode where the release has it (v23.11 on); v23.02 has no
    // such option and exits at once when given it.
    let mut last = String::new();
    for developer in [true, false] {
        let mut args = disable.clone();
        if developer {
            args.push("--developer".to_owned());
        }
        let mut node = Node::start(&build, &backend, &NodeOptions { args, ..NodeOptions::default() })
            .map_err(|e| run_err("start", e.to_string()))?;
        match node.wait_ready(Instant::now() + RUN_DEADLINE) {
            Started::Ready => {}
            other => {
                last = format!("{other:?}: {}", node.stdio().lines().last().unwrap_or(""));
                node.kill();
                continue;
            }
        }
        let help = node.rpc("help", serde_json::json!({}), Instant::now() + Duration::from_secs(30));
        node.stop(Instant::now() + Duration::from_secs(30));
        let help = help.map_err(|e| run_err("help", e.to_string()))?;
        let commands: BTreeSet<String> = help["help"]
            .as_array()
            .into_iter()
            .flatten()
            // Older releases give "command" with its usage: "listpeers [id]".
            .filter_map(|c| c["command"].as_str()?.split_whitespace().next().map(str::to_owned))
            // The harness's backend stands in for bcli, a built-in plugin.
            .filter(|c| !crate::backend::METHODS.contains(&c.as_str()))
            .collect();
        return Ok(commands);
    }
    Err(run_err("start", format!("no node answered `help`: {last}")))
}

/// A name list as a profile file: a header line, then one name a line.
pub fn list_file(header: &str, names: &BTreeSet<String>) -> String {
    let mut s = format!("# {header}\n");
    for n in names {
        s.push_str(n);
        s.push('\n');
    }
    s
}

/// The files `gen-profile` writes into `fixtures/profiles/<name>/`, by
/// file name.
pub fn profile_files(names: &Names) -> Vec<(&'static str, String)> {
    let v = &names.version;
    vec![
        ("lightningd-options.txt", list_file(&format!("Generated by `cln-harness gen-profile` from lightningd {v}: every option it and its built-in plugins register."), &names.options)),
        ("builtin-plugin-topics.txt", list_file(&format!("Generated by `cln-harness gen-profile` from lightningd {v}: topics its built-in plugins declare."), &names.builtin_topics)),
        ("aliased-options.txt", list_file(&format!("Generated by `cln-harness gen-profile` from lightningd {v}: options registered with an alias (`--a|--b`); v23.02's clash check does not see them."), &names.aliased)),
        ("hooks.txt", list_file(&format!("Generated by `cln-harness gen-profile` from lightningd {v}: hooks it accepts."), &names.hooks)),
        ("builtin-commands.txt", list_file(&format!("Generated by `cln-harness gen-profile` from lightningd {v}: its own JSON-RPC commands (`help` with every built-in plugin disabled)."), &names.commands)),
        ("builtin-plugin-methods.tsv", {
            let rows: BTreeSet<String> = names.plugin_methods.iter().map(|(m, p)| format!("{m}\t{p}")).collect();
            list_file(&format!("Generated by `cln-harness gen-profile` from lightningd {v}: each built-in plugin's methods (its getmanifest), method TAB plugin file."), &rows)
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_lines_give_every_long_name_and_alias() {
        let text = "Usage: lightningd\n--conf=<file>   Specify\n--version|-V    Print\n--large-channels|--wumbo  x\n                 --not-a-name\n--network <arg>  Select\n";
        let got: Vec<String> = usage_options(text).into_iter().collect();
        assert_eq!(got, ["conf", "large-channels", "network", "version", "wumbo"]);
        let aliased: Vec<String> = usage_aliased(text).into_iter().collect();
        assert_eq!(aliased, ["V", "large-channels", "version", "wumbo"]);
    }

    #[test]
    fn refusals_name_the_hook_in_either_release_wording() {
        let hooks: BTreeSet<String> = ["a_hook", "peer_connected"].iter().map(|s| s.to_string()).collect();
        assert_eq!(refused_hook("x: Unknown hook name a_hook\n", &hooks).as_deref(), Some("a_hook"));
        assert_eq!(
            refused_hook("could not register hook 'a_hook', either the name doesn't exist or another plugin already registered it.", &hooks)
                .as_deref(),
            Some("a_hook")
        );
        assert_eq!(refused_hook("all fine", &hooks), None);
        let warned = warned_topics("UNUSUAL plugin-cln-harness-probe: topic 'x' is not a known notification topic\nUNUSUAL plugin-bookkeeper: topic 'y' is not a known notification topic");
        assert_eq!(warned.into_iter().collect::<Vec<_>>(), ["x"]);
    }
}
