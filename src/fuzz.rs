//! `cln-harness fuzz`: generated frame schedules against a live plugin,
//! shrunk to a minimal reproducible case on failure, saved, and replayable.
//!
//! A case picks messages from a pool built from the plugin's own surface
//! (its subscribed topics as lightningd sends them, requests for the hooks
//! it registered, calls to the methods the user consented to (`--call`) in
//! the forms lightningd copies, a multi-MiB message; malformed frames too
//! with `--strict`), concatenates them, and cuts the stream into writes with
//! pauses between them. The plugin process is reused while it survives; a
//! failure is shrunk on fresh processes by proptest.

use std::cell::RefCell;
use std::path::Path;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::framing::{cli_k_call, huge, pretty_call, Schedule};
use crate::session::{resolve_program, Conn, Harness, Session};
use crate::wire::Id;

/// One message the fuzzer can send.
#[derive(Clone, Debug)]
pub struct Entry {
    pub label: String,
    pub bytes: Vec<u8>,
    /// The id of a call the plugin may answer.
    pub call: Option<Id>,
}

/// A generated case: which pool messages, where the stream is cut, how long
/// to pause between writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub messages: Vec<usize>,
    pub cuts: Vec<usize>,
    pub pause_ms: u8,
}

/// The fuzzer's settings.
#[derive(Clone, Debug)]
pub struct FuzzOptions {
    pub cases: u32,
    pub seed: u64,
    pub duration: Option<Duration>,
    /// Also send malformed frames (input lightningd never sends).
    pub strict: bool,
}

/// A failure, shrunk.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Regression {
    pub plugin: String,
    pub args: Vec<String>,
    pub profile: String,
    pub seed: u64,
    pub reason: String,
    /// What the messages were, in order.
    pub messages: Vec<String>,
    /// The writes, each as text (or hex when not UTF-8).
    pub writes: Vec<Write>,
    pub pause_ms: u64,
    /// The ids of calls inside the writes.
    pub calls: Vec<String>,
    /// Whether the minimal case failed again on a fresh process.
    pub reproduced: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Write {
    Text { text: String },
    Hex { hex: String },
}

impl Write {
    fn from_bytes(b: &[u8]) -> Write {
        match std::str::from_utf8(b) {
            Ok(t) => Write::Text { text: t.to_owned() },
            Err(_) => Write::Hex { hex: b.iter().map(|x| format!("{x:02x}")).collect() },
        }
    }

    fn bytes(&self) -> Vec<u8> {
        match self {
            Write::Text { text } => text.as_bytes().to_vec(),
            Write::Hex { hex } => (0..hex.len() / 2).filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()).collect(),
        }
    }
}

/// What a fuzzing run did.
#[derive(Clone, Debug)]
pub struct FuzzOutcome {
    pub cases_run: u64,
    pub restarts: u64,
    pub elapsed: Duration,
    pub failure: Option<Regression>,
}

/// Progress, for a progress bar.
pub trait Progress {
    fn case(&mut self, n: u64);
    fn shrinking(&mut self);
}

impl Progress for () {
    fn case(&mut self, _: u64) {}
    fn shrinking(&mut self) {}
}

/// The pool of messages for this plugin.
fn pool(s: &mut Session<'_, '_, '_>, strict: bool) -> Vec<Entry> {
    let profile = s.profile().clone();
    let manifest = s_manifest(s);
    let mut out = Vec::new();
    let mut topics: Vec<String> = crate::notify::plan(&profile, &manifest.subscriptions).into_iter().map(|n| n.topic).collect();
    topics.dedup();
    for t in topics.iter().take(4) {
        if let Some(b) = crate::notify::message(&profile, t) {
            out.push(Entry { label: format!("'{t}' notification"), bytes: b.clone(), call: None });
            let body = b.strip_suffix(b"\n\n").unwrap_or(&b);
            let mut extra = crate::notify::with_extra_field(body);
            extra.extend_from_slice(b"\n\n");
            out.push(Entry { label: format!("'{t}' notification with an extra field"), bytes: extra, call: None });
        }
    }
    // The plugin's own methods only with the user's consent (--call).
    for (method, params) in s.consented_calls().into_iter().filter(|(m, _)| manifest.rpcmethods.iter().any(|r| &r.name == m)) {
        let id = s.next_call_id(&method);
        let compact = crate::passthrough::forwarded_request(&id, &method, &params.to_string());
        out.push(Entry { label: format!("call to '{method}'"), bytes: compact, call: Some(id) });
        let id = s.next_call_id(&method);
        out.push(Entry { label: format!("pretty-printed call to '{method}'"), bytes: pretty_call(&method, &id, &params), call: Some(id) });
        if let serde_json::Value::Object(o) = &params {
            let pairs: Vec<(String, String)> =
                o.iter().map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))).collect();
            let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let id = s.next_call_id(&method);
            out.push(Entry {
                label: format!("lightning-cli -k call to '{method}'"),
                bytes: cli_k_call(&method, &id, &refs),
                call: Some(id),
            });
        }
    }
    // Hook requests for the hooks the plugin registered, which it answers.
    for (hook, id, bytes) in s.hook_requests().into_iter().take(4) {
        out.push(Entry { label: format!("'{hook}' hook request"), bytes, call: Some(id) });
    }
    if let Some(first) = out.iter().find(|e| e.call.is_none()).cloned() {
        out.push(Entry { label: format!("{} grown to 2.5 MiB", first.label), bytes: huge(&first.bytes, 5 << 19), call: None });
    }
    if strict {
        let base = out
            .first()
            .map(|e| e.bytes.clone())
            .unwrap_or_else(|| b"{\"jsonrpc\":\"2.0\",\"method\":\"connect\",\"params\":{}}\n\n".to_vec());
        let body = base.strip_suffix(b"\n\n").unwrap_or(&base).to_vec();
        out.push(Entry { label: "a frame that is not JSON".into(), bytes: b"{\"jsonrpc\":\"2.0\",\"method\":}\n\n".to_vec(), call: None });
        out.push(Entry { label: "a truncated frame".into(), bytes: [&body[..body.len() / 2], b"\n\n"].concat(), call: None });
        out.push(Entry { label: "a frame ended by one newline".into(), bytes: [&body[..], b"\n"].concat(), call: None });
        out.push(Entry { label: "a frame ended by three newlines".into(), bytes: [&body[..], b"\n\n\n"].concat(), call: None });
        let id = s.next_call_id("cln_harness_no_such_method");
        let req = crate::wire::request(&id, "cln_harness_no_such_method", &serde_json::json!({}));
        out.push(Entry { label: "a request for an unknown method".into(), bytes: req, call: Some(id) });
    }
    out
}

fn s_manifest(s: &Session<'_, '_, '_>) -> crate::manifest::Manifest {
    s.manifest_ref().cloned().unwrap_or_default()
}

/// The writes a case makes.
pub fn schedule(pool: &[Entry], case: &Case) -> (Schedule, Vec<Id>, Vec<String>) {
    let msgs: Vec<&Entry> = case.messages.iter().map(|i| &pool[i % pool.len()]).collect();
    let stream: Vec<u8> = msgs.iter().map(|e| e.bytes.as_slice()).collect::<Vec<_>>().concat();
    let mut cuts: Vec<usize> = case.cuts.iter().map(|c| c % (stream.len() + 1)).filter(|c| *c > 0 && *c < stream.len()).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut writes = Vec::new();
    let mut last = 0;
    for c in cuts.into_iter().chain(std::iter::once(stream.len())) {
        writes.push(stream[last..c].to_vec());
        last = c;
    }
    let calls = msgs.iter().filter_map(|e| e.call.clone()).collect();
    let labels = msgs.iter().map(|e| e.label.clone()).collect();
    (Schedule { writes, pause: Duration::from_millis(case.pause_ms as u64) }, calls, labels)
}

/// Cases: one to four messages of the pool, cut at up to six points, with
/// a pause between writes, mostly none: each write is read on its own
/// regardless (the harness waits until the pipe is empty before the next),
/// so a pause only adds time to wait.
///
/// A message larger than a pipe's buffer ([`HEAVY`]) is one pick in
/// [`HEAVY_ODDS`]: about one case in twenty carries one. Each costs the
/// plugin tens of milliseconds to read and parse, and what it tests (a frame
/// that spans many reads) shows within a few cases, while the ways small
/// messages can be cut and joined are many.
fn strategy(pool: &[Entry]) -> impl Strategy<Value = Case> {
    let (heavy, light): (Vec<usize>, Vec<usize>) = (0..pool.len()).partition(|&i| pool[i].bytes.len() > HEAVY);
    let pick = match (heavy.is_empty(), light.is_empty()) {
        (false, false) => prop_oneof![HEAVY_ODDS - 1 => proptest::sample::select(light), 1 => proptest::sample::select(heavy)].boxed(),
        (true, _) => proptest::sample::select(light).boxed(),
        (false, true) => proptest::sample::select(heavy).boxed(),
    };
    let pause = prop_oneof![3 => Just(0u8), 1 => 1u8..=3];
    (proptest::collection::vec(pick, 1..=4), proptest::collection::vec(0usize..200_000, 0..=6), pause)
        .prop_map(|(messages, cuts, pause_ms)| Case { messages, cuts, pause_ms })
}

/// A message above this many bytes fills a pipe's buffer (64 KiB on Linux).
const HEAVY: usize = 64 * 1024;

/// One pick in this many is a heavy message, when the pool has one.
const HEAVY_ODDS: u32 = 50;

/// Fuzzes the plugin the harness is configured for.
pub fn fuzz(h: &Harness, opts: &FuzzOptions, progress: &mut dyn Progress) -> Result<FuzzOutcome, Error> {
    let start = Instant::now();
    let mut none: [&mut dyn crate::events::Sink; 0] = [];
    let (mut session, _rpc, _dir) = Session::standalone(h, &mut none)?;
    let spec = session.spawn_spec();
    session.learn(spec).map_err(|message| Error::Io { context: "fuzz".into(), source: std::io::Error::other(message) })?;
    let pool = pool(&mut session, opts.strict);
    if pool.is_empty() {
        return Err(Error::Io {
            context: "fuzz".into(),
            source: std::io::Error::other(
                "nothing to send: the plugin subscribes to no topic and registers no hook; consent to calls of its methods with --call METHOD=JSON",
            ),
        });
    }
    let profile = session.profile().name.clone();

    let state = RefCell::new((session, None::<Conn>, 0u64, 0u64));
    let progress = RefCell::new(progress);
    let deadline = opts.duration.map(|d| start + d);
    let shrinking = std::cell::Cell::new(false);
    let config = Config { cases: opts.cases, max_shrink_iters: 256, failure_persistence: None, ..Config::default() };
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&opts.seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let result = runner.run(&strategy(&pool), |case| {
        if !shrinking.get() && deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(());
        }
        let (sched, calls, _) = schedule(&pool, &case);
        let mut st = state.borrow_mut();
        let (session, live, cases, restarts) = &mut *st;
        *cases += 1;
        if !shrinking.get() {
            progress.borrow_mut().case(*cases);
        }
        if live.is_none() {
            *restarts += 1;
            *live = Some(session.fresh().map_err(|e| TestCaseError::fail(format!("could not restart the plugin: {e}")))?);
        }
        let conn = live.as_mut().expect("started above");
        match session.attempt(conn, &sched, &calls) {
            Ok(()) => Ok(()),
            Err(e) => {
                if let Some(mut p) = live.take() {
                    p.proc.kill();
                }
                if !shrinking.replace(true) {
                    progress.borrow_mut().shrinking();
                }
                Err(TestCaseError::fail(e))
            }
        }
    });
    let (mut session, live, cases_run, restarts) = state.into_inner();
    if let Some(mut p) = live {
        p.proc.kill();
    }
    let failure = match result {
        Ok(()) => None,
        Err(TestError::Abort(r)) => {
            return Err(Error::Io { context: "fuzz".into(), source: std::io::Error::other(r.to_string()) });
        }
        Err(TestError::Fail(reason, case)) => {
            let (sched, calls, labels) = schedule(&pool, &case);
            // Confirm on a fresh process: the shrunk case stands alone.
            let reproduced = match session.fresh() {
                Ok(mut p) => {
                    let failed = session.attempt(&mut p, &sched, &calls).is_err();
                    p.proc.kill();
                    failed
                }
                Err(_) => true,
            };
            // Paths as the file system knows them, so that replay works from
            // any directory (and `save` makes them relative to the file).
            let canonical = |a: &std::ffi::OsString| {
                let p = Path::new(a);
                let path_like = p.components().count() > 1 || h.args.is_empty() || p.is_file();
                match p.canonicalize() {
                    Ok(c) if path_like && p.exists() => c.to_string_lossy().into_owned(),
                    _ => a.to_string_lossy().into_owned(),
                }
            };
            Some(Regression {
                plugin: if h.args.is_empty() || Path::new(&h.program).components().count() > 1 {
                    canonical(&h.program)
                } else {
                    h.program.to_string_lossy().into_owned()
                },
                args: h.args.iter().map(|a| if Path::new(a).is_file() { canonical(a) } else { a.to_string_lossy().into_owned() }).collect(),
                profile,
                seed: opts.seed,
                reason: reason.to_string(),
                messages: labels,
                writes: sched.writes.iter().map(|w| Write::from_bytes(w)).collect(),
                pause_ms: sched.pause.as_millis() as u64,
                calls: calls.iter().map(|c| c.token()).collect(),
                reproduced,
            })
        }
    };
    Ok(FuzzOutcome { cases_run, restarts, elapsed: start.elapsed(), failure })
}

/// Replays a saved regression on a fresh plugin process: `Ok(None)` if it
/// no longer fails, `Ok(Some(reason))` if it does.
pub fn replay(h: &Harness, r: &Regression) -> Result<Option<String>, Error> {
    let mut none: [&mut dyn crate::events::Sink; 0] = [];
    let (mut session, _rpc, _dir) = Session::standalone(h, &mut none)?;
    let spec = session.spawn_spec();
    session.learn(spec).map_err(|message| Error::Io { context: "replay".into(), source: std::io::Error::other(message) })?;
    let sched = Schedule { writes: r.writes.iter().map(Write::bytes).collect(), pause: Duration::from_millis(r.pause_ms) };
    let calls: Vec<Id> = r
        .calls
        .iter()
        .map(|t| match serde_json::from_str::<serde_json::Value>(t) {
            Ok(serde_json::Value::Number(n)) => Id::Num(n.as_u64().unwrap_or(0)),
            Ok(serde_json::Value::String(s)) => Id::Str(s),
            _ => Id::Str(t.clone()),
        })
        .collect();
    let mut p = session.fresh().map_err(|message| Error::Io { context: "replay".into(), source: std::io::Error::other(message) })?;
    let out = session.attempt(&mut p, &sched, &calls);
    p.proc.kill();
    Ok(out.err())
}

impl Regression {
    /// The schedule, readably: which bytes, which writes, which pauses.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "minimal failing schedule: {} message(s), {} write(s), {} ms pauses\n",
            self.messages.len(),
            self.writes.len(),
            self.pause_ms
        );
        for (i, m) in self.messages.iter().enumerate() {
            out.push_str(&format!("  message {}: {m}\n", i + 1));
        }
        for (i, w) in self.writes.iter().enumerate() {
            let b = w.bytes();
            let text = String::from_utf8_lossy(&b);
            let shown: String = if text.len() > 160 {
                format!("{:?}… ({} bytes more)", &text[..text.char_indices().nth(160).map_or(text.len(), |(i, _)| i)], b.len() - 160)
            } else {
                format!("{text:?}")
            };
            out.push_str(&format!("  write {} ({} byte{}): {shown}\n", i + 1, b.len(), if b.len() == 1 { "" } else { "s" }));
            if i + 1 < self.writes.len() && self.pause_ms > 0 {
                out.push_str(&format!("  pause {} ms\n", self.pause_ms));
            }
        }
        out.push_str(&format!("  then: {}\n", self.reason));
        out
    }

    /// Appends this regression to a JSON Lines file. Absolute paths inside
    /// the file's directory are written relative to it (`./plugin.py`), so
    /// the file travels with the plugin's repository.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        use std::io::Write as _;
        let base = base_dir(path);
        let mut portable = self.clone();
        portable.plugin = relative_to(&base, &portable.plugin);
        portable.args = portable.args.iter().map(|a| relative_to(&base, a)).collect();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        writeln!(f, "{}", serde_json::to_string(&portable).map_err(std::io::Error::other)?)
    }

    /// Reads every regression from a JSON Lines file; `./` and `../` paths
    /// are taken from the file's directory, wherever replay runs.
    pub fn load_all(path: &Path) -> Result<Vec<Regression>, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = base_dir(path);
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| {
                let mut r: Regression = serde_json::from_str(l).map_err(|e| format!("{}: line {}: {e}", path.display(), i + 1))?;
                r.plugin = from_base(&base, &r.plugin);
                r.args = r.args.iter().map(|a| from_base(&base, a)).collect();
                Ok(r)
            })
            .collect()
    }
}

/// The directory a regression file's relative paths start from.
fn base_dir(file: &Path) -> std::path::PathBuf {
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    dir.canonicalize().or_else(|_| std::path::absolute(dir)).unwrap_or_else(|_| dir.to_owned())
}

/// `p` as `./…` or `../…` from `base` when it is an absolute path below
/// `base` or its parent; anything else unchanged.
fn relative_to(base: &Path, p: &str) -> String {
    let path = Path::new(p);
    if !path.is_absolute() {
        return p.to_owned();
    }
    if let Ok(rest) = path.strip_prefix(base) {
        return format!("./{}", rest.display());
    }
    match base.parent().map(|up| path.strip_prefix(up)) {
        Some(Ok(rest)) => format!("../{}", rest.display()),
        _ => p.to_owned(),
    }
}

/// The inverse of [`relative_to`].
fn from_base(base: &Path, p: &str) -> String {
    match p.strip_prefix("./") {
        Some(rest) => base.join(rest).to_string_lossy().into_owned(),
        None if p.starts_with("../") => base.join(p).to_string_lossy().into_owned(),
        None => p.to_owned(),
    }
}

/// Whether `program` can run (for the CLI's early, clear error).
pub fn check_program(h: &Harness) -> Result<(), Error> {
    resolve_program(&h.program, &h.args).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(s: &str) -> Entry {
        Entry { label: s.into(), bytes: s.as_bytes().to_vec(), call: None }
    }

    #[test]
    fn cases_become_writes() {
        let pool = vec![entry("abcd"), entry("xy")];
        let (s, _, labels) = schedule(&pool, &Case { messages: vec![0, 1], cuts: vec![2, 2, 0, 6, 9], pause_ms: 1 });
        assert_eq!(s.writes, vec![b"ab".to_vec(), b"cdxy".to_vec()]);
        assert_eq!(labels, ["abcd", "xy"]);
        let (s, _, _) = schedule(&pool, &Case { messages: vec![1], cuts: vec![], pause_ms: 0 });
        assert_eq!(s.writes, vec![b"xy".to_vec()]);
    }

    #[test]
    fn writes_round_trip_through_the_file_format() {
        for b in [b"{\"a\":1}\n\n".to_vec(), vec![0xff, 0x00, b'{']] {
            assert_eq!(Write::from_bytes(&b).bytes(), b);
        }
    }
}
