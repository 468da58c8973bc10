//! The runner: plays lightningd through one plugin's start-up, getmanifest
//! and init, and emits every byte and every check result as events.
//!
//! [`Harness`] is the public entry point; a [`Session`] is one run of it.

mod abuse;
mod after_init;
mod conn;
mod driver;
mod hooks;
mod recorder;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::checks::{CheckId, Effect, Outcome, Tier};
use crate::error::Error;
use crate::events::{Direction, Event, Frame, Sink};
use crate::init::{self, Configuration, InitVerdict, OptionSetting};
use crate::manifest::{self, Finding, Manifest};
use crate::messages::{self, Notice};
use crate::process::{strerror, Activity, Output, Spawn};
use crate::profile::Profile;
use crate::report::{LogLine, Report, Verdict};
use crate::rpc::MockRpc;
use crate::wire::{self, Id, Incoming, Kind, Message, WireKill};

use conn::Cause;
pub(crate) use conn::Conn;
use recorder::Recorder;

/// A configured run: which plugin, as which lightningd, with what options.
///
/// ```no_run
/// use cln_harness::Harness;
///
/// let report = Harness::new("./myplugin").profile("v26.06").run().unwrap();
/// assert!(!report.failed(), "{:?}", report.failures());
/// ```
#[derive(Clone, Debug)]
pub struct Harness {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) profile: String,
    pub(crate) timeout: Duration,
    pub(crate) settle: Duration,
    pub(crate) grace: Duration,
    pub(crate) options: Vec<OptionSetting>,
    pub(crate) allow_deprecated_apis: bool,
    pub(crate) dynamic: bool,
    pub(crate) strict: bool,
    pub(crate) lightning_dir: Option<PathBuf>,
    pub(crate) network: String,
    pub(crate) only: Vec<String>,
    pub(crate) quiet: Duration,
    pub(crate) shutdown_timeout: Option<Duration>,
    pub(crate) expect_subscriptions: Option<Vec<String>>,
    pub(crate) scenario: Option<crate::scenario::Scenario>,
    pub(crate) snapshot: Option<(PathBuf, bool)>,
    pub(crate) max_pending: usize,
    pub(crate) probe: Option<(String, serde_json::Value)>,
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) handshake_only: bool,
    pub(crate) calls: Vec<(String, serde_json::Value)>,
    pub(crate) manifest_only: bool,
}

impl Harness {
    /// A run of `program` (a plugin file, or an interpreter given `args`).
    pub fn new(program: impl Into<OsString>) -> Harness {
        Harness {
            program: program.into(),
            args: Vec::new(),
            profile: Profile::DEFAULT.to_owned(),
            timeout: Duration::from_secs(10),
            settle: Duration::from_secs(2),
            grace: Duration::from_secs(2),
            options: Vec::new(),
            allow_deprecated_apis: true,
            dynamic: false,
            strict: false,
            lightning_dir: None,
            network: "regtest".to_owned(),
            only: Vec::new(),
            quiet: Duration::from_millis(100),
            shutdown_timeout: None,
            expect_subscriptions: None,
            scenario: None,
            snapshot: None,
            max_pending: wire::MAX_PENDING,
            probe: None,
            env: Vec::new(),
            handshake_only: false,
            calls: Vec::new(),
            manifest_only: false,
        }
    }

    /// Consents to a call of the plugin's method `method` with `params`
    /// (an object or an array): it is forwarded as lightningd forwards a
    /// client's call, in object and array form, and its answer is judged
    /// (`method/answer`). Without consent no method of the plugin is called
    /// but the liveness probe.
    pub fn call(mut self, method: &str, params: serde_json::Value) -> Self {
        self.calls.push((method.to_owned(), params));
        self
    }

    /// Stops after start-up: spawn, getmanifest, init and the end of the
    /// plugin's life, without notifications, framing or robust checks. For
    /// a quick gate, and for measuring the harness's own overhead.
    pub fn handshake_only(mut self, on: bool) -> Self {
        self.handshake_only = on;
        self
    }

    /// Stops once the manifest is judged, as `lightningd --help` does: no
    /// `init`; the plugin sees its stdin close. For `snapshot`, which needs
    /// the manifest alone.
    pub fn manifest_only(mut self, on: bool) -> Self {
        self.manifest_only = on;
        self
    }

    /// Sets an environment variable for the plugin, on top of the
    /// harness's own environment and lightningd's variables.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The method (and params) whose answer proves the plugin alive after
    /// each framing check; by default its first declared rpcmethod.
    pub fn probe(mut self, method: &str, params: serde_json::Value) -> Self {
        self.probe = Some((method.to_owned(), params));
        self
    }

    /// The most output the harness holds without a complete message
    /// (default [`wire::MAX_PENDING`]); past it, `wire/size` fails.
    pub fn max_pending(mut self, bytes: usize) -> Self {
        self.max_pending = bytes;
        self
    }

    /// Compares the plugin's surface with the snapshot at `path`; with
    /// `update`, writes the current surface there instead of failing.
    pub fn snapshot(mut self, path: impl Into<PathBuf>, update: bool) -> Self {
        self.snapshot = Some((path.into(), update));
        self
    }

    /// Runs these steps after init instead of sending every subscribed
    /// topic.
    pub fn scenario(mut self, s: crate::scenario::Scenario) -> Self {
        self.scenario = Some(s);
        self
    }

    /// How long to watch for a reply after each notification (default
    /// 100 ms): any answer in that window fails `notify/no-reply`.
    pub fn quiet(mut self, t: Duration) -> Self {
        self.quiet = t;
        self
    }

    /// How long a plugin subscribed to `shutdown` may take to exit
    /// (default: lightningd's 30 s).
    pub fn shutdown_timeout(mut self, t: Duration) -> Self {
        self.shutdown_timeout = Some(t);
        self
    }

    /// How long a plugin may take to exit once its stdin closes (default 2 s).
    pub fn grace(mut self, t: Duration) -> Self {
        self.grace = t;
        self
    }

    /// The exact set of topics the plugin must subscribe to.
    pub fn expect_subscriptions<I: IntoIterator<Item = S>, S: Into<String>>(mut self, topics: I) -> Self {
        self.expect_subscriptions = Some(topics.into_iter().map(Into::into).collect());
        self
    }

    /// Reports only checks whose id starts with one of these prefixes
    /// (e.g. `manifest/`); the run itself is unchanged.
    pub fn only(mut self, prefix: &str) -> Self {
        self.only.push(prefix.to_owned());
        self
    }

    /// Adds an argument after the program (e.g. the script for an
    /// interpreter).
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The lightningd release to play: `v26.06` (default) or `v23.02`.
    pub fn profile(mut self, name: &str) -> Self {
        self.profile = name.to_owned();
        self
    }

    /// How long to wait for each answer (default 10 s).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// How long after init the plugin is watched at least (default 2 s):
    /// the watch overlaps the other phases, so it lengthens only a run
    /// shorter than it. A death at any time after init fails the check
    /// whose input the plugin had read last.
    pub fn watch(self, t: Duration) -> Self {
        self.settle(t)
    }

    /// The old name of [`watch`](Self::watch).
    pub fn settle(mut self, t: Duration) -> Self {
        self.settle = t;
        self
    }

    /// Sets a plugin option, `name=value`, or `name` for a flag.
    pub fn option(mut self, spec: &str) -> Self {
        self.options.push(OptionSetting::parse(spec));
        self
    }

    /// lightningd's `allow-deprecated-apis` (default true).
    pub fn allow_deprecated_apis(mut self, on: bool) -> Self {
        self.allow_deprecated_apis = on;
        self
    }

    /// Simulates `plugin start` instead of start-up.
    pub fn dynamic(mut self, on: bool) -> Self {
        self.dynamic = on;
        self
    }

    /// Makes `robust` checks fail instead of warn.
    pub fn strict(mut self, on: bool) -> Self {
        self.strict = on;
        self
    }

    /// Uses this directory as lightning-dir (and working directory) instead
    /// of a fresh temporary one.
    pub fn lightning_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.lightning_dir = Some(dir.into());
        self
    }

    /// Runs the plugin and returns the report.
    pub fn run(&self) -> Result<Report, Error> {
        self.run_with(&mut [])
    }

    /// Finds what would stop a run before it starts, so a command line can
    /// refuse it before printing anything: an unknown profile, a plugin
    /// that cannot run, a lightning-dir too long for the RPC socket, and
    /// `-o` values the plugin's options do not take. The last needs the
    /// manifest: when options are given, the plugin is started once and
    /// stopped after getmanifest, as `lightningd --help` does.
    pub fn preflight(&self) -> Result<(), Error> {
        let profile = Profile::shared(&self.profile)?;
        resolve_program(&self.program, &self.args)?;
        if let Some(d) = &self.lightning_dir {
            let dir = d.canonicalize().or_else(|_| std::path::absolute(d)).unwrap_or_else(|_| d.clone());
            check_socket_path(&dir)?;
            let rpc = d.join("lightning-rpc");
            if rpc.symlink_metadata().is_ok() {
                return Err(Error::RpcInUse { path: rpc });
            }
        }
        if self.options.is_empty() {
            return Ok(());
        }
        let mut quiet = self.clone().manifest_only(true).settle(Duration::ZERO);
        quiet.snapshot = None;
        quiet.scenario = None;
        quiet.expect_subscriptions = None;
        let report = quiet.run()?;
        // A manifest lightningd refuses is the run's finding, not a usage error.
        let Some(manifest) = &report.manifest else { return Ok(()) };
        let config = Configuration {
            lightning_dir: String::new(),
            rpc_file: "lightning-rpc".into(),
            startup: !self.dynamic,
            network: self.network.clone(),
        };
        init::params(&profile, manifest, &self.options, &config)
            .map(|_| ())
            .map_err(|e| Error::BadOption { spec: e.spec, message: e.message })
    }

    /// Runs the plugin, telling `sinks` everything as it happens.
    pub fn run_with(&self, sinks: &mut [&mut dyn Sink]) -> Result<Report, Error> {
        let profile = Profile::shared(&self.profile)?;
        let program = resolve_program(&self.program, &self.args)?;
        let mut temp = None;
        let dir = match &self.lightning_dir {
            Some(d) => {
                // A lightning-rpc there may be a live node's socket: the
                // harness would replace it.
                let rpc = d.join("lightning-rpc");
                if rpc.symlink_metadata().is_ok() {
                    return Err(Error::RpcInUse { path: rpc });
                }
                std::fs::create_dir_all(d).map_err(|source| Error::LightningDir { path: d.clone(), source })?;
                d.canonicalize().map_err(|source| Error::LightningDir { path: d.clone(), source })?
            }
            None => {
                // lightningd's network directory is `<lightning-dir>/<network>`:
                // init names it, listconfigs names its parent.
                let t = TempDir::new()?;
                let dir = t.path().join(&self.network);
                std::fs::create_dir(&dir).map_err(|source| Error::LightningDir { path: dir.clone(), source })?;
                temp = Some(t);
                dir
            }
        };
        check_socket_path(&dir)?;
        let mut s = Session::new(self, profile, program, dir, sinks);
        let report = s.run();
        drop(s);
        if let Some(t) = temp {
            t.close()?;
        }
        report
    }
}

/// The run's own lightning-dir: removed when the run ends, or by the
/// signal cleanup if a signal ends the harness first (see
/// [`crate::process::install_signal_cleanup`]). Removal never follows a
/// symlink the plugin planted: only the link goes.
pub(crate) struct TempDir {
    inner: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl TempDir {
    pub(crate) fn new() -> Result<TempDir, Error> {
        let t = tempfile::Builder::new()
            .prefix("cln-harness-")
            .tempdir()
            .map_err(|source| Error::Io { context: "cannot create a lightning-dir".into(), source })?;
        let path = t.path().canonicalize().map_err(|source| Error::LightningDir { path: t.path().into(), source })?;
        crate::process::register_temp_dir(&path);
        Ok(TempDir { inner: Some(t), path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the directory; a failure is the harness's.
    pub(crate) fn close(mut self) -> Result<(), Error> {
        crate::process::unregister_temp_dir(&self.path);
        let t = self.inner.take().expect("closed once");
        let path = self.path.clone();
        match t.close() {
            Ok(()) => Ok(()),
            // The plugin removed it itself: nothing is left to clean.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::Io { context: format!("cannot remove the lightning-dir {}", path.display()), source }),
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        crate::process::unregister_temp_dir(&self.path);
        // On an early return or a panic; `close` reports errors otherwise.
        if let Some(t) = self.inner.take() {
            let _ = t.close();
        }
    }
}

/// The longest path a Unix socket can be bound at: `sun_path` holds 108
/// bytes on Linux and 104 on macOS and the BSDs, a NUL included.
#[cfg(target_os = "linux")]
const MAX_SOCKET_PATH: usize = 107;
#[cfg(not(target_os = "linux"))]
const MAX_SOCKET_PATH: usize = 103;

/// Refuses a lightning-dir whose `lightning-rpc` socket path is too long to
/// bind, which the socket layer reports only as "path must be shorter than
/// SUN_LEN".
fn check_socket_path(dir: &Path) -> Result<(), Error> {
    let len = dir.join("lightning-rpc").as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(Error::LightningDirTooLong { path: dir.to_owned(), len, max: MAX_SOCKET_PATH });
    }
    Ok(())
}

/// The program to execute and the path lightningd would know the plugin by.
#[derive(Clone)]
pub(crate) struct Program {
    exec: PathBuf,
    /// The arguments, a script's path made absolute: the plugin runs in
    /// the lightning-dir.
    args: Vec<OsString>,
    /// The plugin's canonical path: the file itself, or for
    /// `-- INTERPRETER SCRIPT`, the script.
    plugin: PathBuf,
}

/// Finds the program and refuses what cannot run. A plugin file is taken
/// as a path, as `--plugin=PATH` is; an interpreter is looked up in PATH.
pub(crate) fn resolve_program(program: &OsString, args: &[OsString]) -> Result<Program, Error> {
    use std::os::unix::fs::PermissionsExt;
    if program.is_empty() {
        return Err(Error::NoPlugin);
    }
    let given = PathBuf::from(program);
    let interpreter = !args.is_empty();
    let found = if interpreter && given.components().count() == 1 { which(&given).unwrap_or(given) } else { given };
    let exec = found.clone();
    let meta = std::fs::metadata(&exec).map_err(|e| Error::PluginNotFound {
        path: exec.clone(),
        hint: if e.kind() == std::io::ErrorKind::NotFound {
            "check the path (relative paths start from the current directory)".into()
        } else {
            e.to_string()
        },
    })?;
    if meta.is_dir() {
        return Err(Error::PluginIsDirectory { path: exec });
    }
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(Error::PluginNotExecutable { path: exec });
    }
    let canonical = |p: &Path| p.canonicalize().map_err(|source| Error::Io { context: format!("cannot resolve {}", p.display()), source });
    let exec = canonical(&exec)?;
    let script = args.first().map(PathBuf::from).filter(|p| p.is_file());
    let plugin = match script {
        Some(s) => canonical(&s)?,
        None => exec.clone(),
    };
    // Keep the interpreter's name as found (python3, not python3.11): some
    // interpreters look at argv[0].
    // Keep an interpreter's own path (a venv's python is a symlink that must
    // stay one), but absolute: the plugin runs in the lightning-dir.
    let exec = if interpreter { std::path::absolute(&found).unwrap_or(found) } else { exec };
    let mut args = args.to_vec();
    if interpreter && args.first().is_some_and(|a| Path::new(a).is_file()) {
        args[0] = plugin.clone().into_os_string();
    }
    Ok(Program { exec, plugin, args })
}

fn which(name: &Path) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// How the framing checks tell that the plugin survived.
pub(crate) enum Probe {
    /// A consented call to one of the plugin's methods.
    Call(String, serde_json::Value),
    /// Evidence only: the plugin read everything, went idle, and stayed.
    Alive,
}

/// Log lines kept for the report.
const MAX_LOG_LINES: usize = 10_000;

/// Bytes of log messages kept for the report; past either cap lines are
/// counted, not kept.
const MAX_LOG_BYTES: usize = 4 << 20;

/// Log lines kept as evidence for `notify/handler-errors`.
const MAX_HANDLER_LINES: usize = 1_000;

/// The deepest nesting `wire/depth` lets pass.
pub(crate) const MAX_DEPTH: usize = 1000;

/// Leftover processes named in `lifecycle/children`.
const MAX_CHILDREN_SHOWN: usize = 20;

/// Where a plugin's threads cannot be seen, how long it must have been
/// silent, with everything read, before the next input is sent: without
/// it, answers and log lines would be charged to the input after theirs.
const UNSEEN_QUIET: Duration = Duration::from_millis(50);

/// Why a wait for an answer ended without one.
enum Waited {
    Answer(Message, Duration),
    Exited,
    TimedOut,
    Killed(Finding),
    /// Not waited for: the plugin has answered nothing since an earlier
    /// request went unanswered (in words).
    Unjudged(String),
}

/// One run: the harness's settings, the recorder of results, and what the
/// run has learned about the plugin. Each process it starts is a [`Conn`].
pub(crate) struct Session<'h, 's, 'd> {
    h: &'h Harness,
    profile: Arc<Profile>,
    program: Program,
    dir: PathBuf,
    rec: Recorder<'h, 's, 'd>,
    next_id: u64,
    string_ids: bool,
    manifest: Option<Manifest>,
    log: Vec<LogLine>,
    /// The notification whose quiet window is open, for attribution.
    current: Option<String>,
    /// Log lines received while a notification was handled, and whether
    /// each reports an error.
    handler_errors: Vec<(String, String, bool)>,
    spec: Option<Spawn>,
    /// A mistake of the user's found mid-run (an option value): the run
    /// ends with this error once the plugin is cleaned up.
    usage_error: Option<Error>,
    /// Why init may have confused the plugin, for the init checks.
    init_note: Option<String>,
    /// What the bytes sent now are for: a death after the plugin read them
    /// fails this check.
    cause: Cause,
    /// When init was answered: the watch window runs from there.
    init_at: Option<Instant>,
    /// Checks whose input the plugin survived, passed at the end of the
    /// watch unless a later death is attributed to their input.
    survivals: Vec<(CheckId, String)>,
    /// What the hook drive has seen.
    hooks: hooks::HookLog,
    /// A failure of the harness's own (a case it could not set up): the run
    /// ends with this error, never with a finding about the plugin.
    harness_error: Option<Error>,
    /// Descendants found running after a plugin process was gone, over
    /// every process of the run; the first `MAX_CHILDREN_SHOWN` are kept.
    leftover_children: Vec<crate::process::Leftover>,
    leftover_total: usize,
    /// Processes of the run whose children were accounted for.
    ended_processes: usize,
    /// Bytes of `log`, and log lines received but not kept.
    log_bytes: usize,
    log_dropped: usize,
    /// The judged process's first request after init that was never
    /// answered, in words: what depends on answers is not judged.
    silence: Option<String>,
    /// The one deadline shared by fresh processes that run side by side
    /// (robust cases): no wait of theirs goes past it.
    case_deadline: Option<Instant>,
    /// The mock RPC's view of the node, filled when init is built.
    rpc_node: Option<crate::rpc::NodeSlot>,
}

impl<'h, 's, 'd> Session<'h, 's, 'd> {
    pub(crate) fn new(h: &'h Harness, profile: Arc<Profile>, program: Program, dir: PathBuf, sinks: &'s mut [&'d mut dyn Sink]) -> Self {
        let string_ids = profile.string_ids.getmanifest_string();
        // Ids come from one node-wide counter: never 0 for this plugin, and
        // not predictable (§4.1).
        let next_id = 17 + (std::process::id() as u64 % 97);
        let rec = Recorder::new(h, profile.clone(), sinks);
        Session {
            h,
            profile,
            program,
            dir,
            rec,
            next_id,
            string_ids,
            manifest: None,
            log: Vec::new(),
            current: None,
            handler_errors: Vec::new(),
            spec: None,
            usage_error: None,
            init_note: None,
            cause: Cause { check: CheckId::LIFECYCLE_ALIVE, label: String::new() },
            init_at: None,
            survivals: Vec::new(),
            hooks: hooks::HookLog::default(),
            harness_error: None,
            leftover_children: Vec::new(),
            leftover_total: 0,
            ended_processes: 0,
            log_bytes: 0,
            log_dropped: 0,
            silence: None,
            case_deadline: None,
            rpc_node: None,
        }
    }

    /// Ends a plugin process as lightningd would (the plugin alone is
    /// killed) and records the descendants it leaves running.
    pub(crate) fn account_children(&mut self, c: &mut Conn) {
        let left = c.proc.finish(self.h.grace.min(Duration::from_secs(1)));
        self.ended_processes += 1;
        self.leftover_total += left.len();
        for l in left {
            if self.leftover_children.len() < MAX_CHILDREN_SHOWN {
                self.leftover_children.push(l);
            }
        }
    }

    /// `lifecycle/children`, once every process of the run has ended.
    fn judge_children(&mut self) {
        if self.ended_processes == 0 {
            return;
        }
        if !crate::process::sees_descendants() {
            // Not a pass: no leftover found is not no leftover.
            self.rec.record(
                CheckId::LIFECYCLE_CHILDREN,
                Outcome::Skip,
                "not checked: this platform does not show the harness a plugin's descendants (no /proc); the plugin's process group was killed, and a process that left it may still be running".into(),
                None,
                None,
            );
            return;
        }
        if self.leftover_total == 0 {
            self.rec.pass(
                CheckId::LIFECYCLE_CHILDREN,
                format!("no process left running after the plugin ended ({} run(s))", self.ended_processes),
            );
            return;
        }
        let shown: Vec<String> =
            self.leftover_children.iter().map(|l| format!("pid {} ({})", l.pid, crate::sanitize::text(&l.comm))).collect();
        let more = self.leftover_total - shown.len();
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        self.rec.finding(&Finding {
            check: CheckId::LIFECYCLE_CHILDREN,
            reason: format!(
                "{} process(es) still running after the plugin ended, over {} run(s) of it: {}{more}; lightningd never kills a plugin's children, so they would outlive it on the node (the harness killed them)",
                self.leftover_total,
                self.ended_processes,
                shown.join(", ")
            ),
            effect: Effect::Ignored,
        });
    }

    /// Starts a process of this run's plugin.
    fn spawn(&self, spec: &Spawn) -> std::io::Result<Conn> {
        Conn::spawn(spec, &self.profile, self.h.max_pending)
    }

    fn new_id(&mut self, method: &str) -> Id {
        let n = self.next_id;
        self.next_id += 1 + n % 3;
        if self.string_ids {
            Id::Str(format!("cln:{method}#{n}"))
        } else {
            Id::Num(n)
        }
    }

    fn send(&mut self, c: &mut Conn, bytes: Vec<u8>) {
        let at = self.rec.ms(Instant::now());
        self.rec.frame(at, Direction::ToPlugin, &bytes);
        c.write(bytes, &self.cause);
    }

    /// What the bytes sent from now on are for (see [`Cause`]).
    fn cause(&mut self, check: CheckId, label: impl Into<String>) {
        self.cause = Cause { check, label: label.into() };
    }

    /// A death after init: "exited during normal operation", charged to the
    /// check whose input the plugin had read last (§1.4).
    fn died(&mut self, c: &Conn) {
        // The writer learns of the death from EPIPE; until then what it
        // holds would count as unread.
        let deadline = Instant::now() + Duration::from_millis(500);
        while !c.proc.writer_done() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
        let (check, after) = match c.cause_of_death() {
            Some(Cause { check, label }) if !label.is_empty() => (*check, format!(" ({label})")),
            Some(Cause { check, .. }) => (*check, String::new()),
            None => (CheckId::LIFECYCLE_ALIVE, String::new()),
        };
        self.rec.finding_as(&Finding::kill(check, format!("exited during normal operation{after}")), Tier::Kill);
    }

    /// Waits, with evidence rather than a clock, until the plugin is done
    /// with what it was sent: it has read everything (the pipe is empty),
    /// none of its threads is running, and what it wrote has been taken
    /// here. Then whatever it answered or logged is attributed to the input
    /// just sent. True if its stdout hit EOF.
    ///
    /// When the deadline passes without that evidence, `c.unsettled` says
    /// what was missing: the caller reports "not judged", never survival.
    /// A plugin already seen not to settle is looked at once, not waited
    /// for again, so a plugin that stops reading costs one deadline.
    ///
    /// Where the threads cannot be seen ([`Activity::Unseen`]: macOS), the
    /// plugin has read everything and been quiet for [`UNSEEN_QUIET`]: a
    /// pace, not evidence, so the plugin is never noted as settled then.
    fn settle(&mut self, c: &mut Conn, deadline: Instant) -> bool {
        let deadline = if c.unsettled.is_some() { Instant::now() } else { deadline };
        let mut last_output = Instant::now();
        loop {
            while let Some(out) = c.proc.try_output() {
                last_output = Instant::now();
                if let Some(Waited::Killed(f)) = self.take_output(c, out, None) {
                    self.killed(f);
                }
            }
            if c.stdout_eof || self.rec.stop_reason.is_some() {
                return c.stdout_eof;
            }
            let now = Instant::now();
            // The /proc reads of `activity` last: they cost the most.
            let read_all = c.proc.drained() && c.proc.stdout_taken();
            let done = read_all
                && match c.proc.activity() {
                    // Taken again: what the plugin wrote before it went
                    // back to waiting must be here too.
                    Activity::Waiting if c.proc.stdout_taken() => {
                        c.settled_at = Some(c.proc.sent());
                        c.settled_when = now;
                        true
                    }
                    Activity::Waiting | Activity::Busy => false,
                    Activity::Unseen => now.duration_since(last_output) >= UNSEEN_QUIET,
                };
            if done {
                c.unsettled = None;
            } else if now >= deadline {
                c.unsettled = Some(c.missing_evidence());
            }
            if done || now >= deadline {
                // What the reader thread forwarded meanwhile.
                while let Some(out) = c.proc.try_output() {
                    if let Some(Waited::Killed(f)) = self.take_output(c, out, None) {
                        self.killed(f);
                    }
                }
                return c.stdout_eof;
            }
            if let Some(out) = c.proc.next_output((now + Duration::from_micros(200)).min(deadline)) {
                last_output = Instant::now();
                if let Some(Waited::Killed(f)) = self.take_output(c, out, None) {
                    self.killed(f);
                }
            }
        }
    }

    /// The plugin survived `id`'s input so far; it passes at the end of the
    /// watch unless a death is attributed to that input first.
    fn survived(&mut self, id: CheckId, message: impl Into<String>) {
        self.survivals.push((id, message.into()));
    }

    /// The rest of the watch window: the plugin must stay alive at least
    /// `--watch` after init, however fast the other phases were.
    fn watch(&mut self, c: &mut Conn) {
        let Some(init_at) = self.init_at else { return };
        if self.rec.stop_reason.is_none() && !c.stdout_eof {
            self.cause(CheckId::LIFECYCLE_ALIVE, "");
            self.pump(c, init_at + self.h.settle);
        }
        if self.rec.stop_reason.is_none() && !c.stdout_eof {
            let ms = init_at.elapsed().as_millis();
            self.rec.pass(CheckId::LIFECYCLE_ALIVE, format!("still running {ms} ms after init, watched throughout"));
        }
        for (id, message) in std::mem::take(&mut self.survivals) {
            self.rec.pass(id, message);
        }
    }

    fn send_request(&mut self, c: &mut Conn, method: &str, id: &Id, params: &str) {
        // A death before init is answered is judged by the handshake.
        let bytes = wire::request_raw(id, method, params);
        c.expect(id);
        self.send(c, bytes);
    }

    fn run(&mut self) -> Result<Report, Error> {
        let plugin = self.program.plugin.display().to_string();
        self.rec.emit(Event::RunStarted {
            plugin: plugin.clone(),
            profile: self.profile.name.clone(),
            version: self.profile.version.clone(),
        });

        let rpc_path = self.dir.join("lightning-rpc");
        let scripted = self
            .h
            .scenario
            .iter()
            .flat_map(|s| s.rpc.iter())
            .map(|a| {
                let body = match (&a.result, &a.error) {
                    (Some(r), _) => json!({ "result": r }),
                    (None, e) => json!({ "error": e }),
                };
                (a.method.clone(), body)
            })
            .collect();
        let rpc = MockRpc::start(&rpc_path, &self.profile, &self.dir, self.rec.start, scripted)
            .map_err(|source| Error::RpcSocket { path: rpc_path.clone(), source })?;
        rpc.allow_deprecated(self.h.allow_deprecated_apis);
        self.rpc_node = Some(rpc.node_slot());

        let spec = self.spawn_spec();
        self.spec = Some(spec.clone());
        let mut c = match self.spawn(&spec) {
            Ok(c) => c,
            Err(e) => {
                let reason = format!("opening pipe: {}", strerror(&e));
                let effect =
                    if self.h.dynamic { Effect::Kill } else { Effect::Fatal(format!("error starting plugin '{plugin}': {reason}")) };
                self.rec.finding(&Finding { check: CheckId::SPAWN_EXEC, reason, effect });
                return Ok(self.finish(None, rpc.calls(), &[]));
            }
        };
        self.rec.pass(CheckId::SPAWN_EXEC, format!("started as pid {} in {}", c.proc.pid(), self.dir.display()));

        self.handshake(&mut c, &plugin);
        if self.rec.stop_reason.is_none() {
            self.expectations();
            match self.h.scenario.clone() {
                Some(s) => self.scenario(&mut c, &s, &rpc),
                None if self.h.handshake_only => {}
                None => {
                    self.notifications(&mut c);
                    if self.rec.stop_reason.is_none() {
                        self.hooks_after_init(&mut c);
                    }
                    if self.rec.stop_reason.is_none() {
                        self.calls(&mut c);
                    }
                    if self.rec.stop_reason.is_none() {
                        self.framing(&mut c);
                    }
                }
            }
        }
        self.watch(&mut c);
        // What could not be judged for want of evidence stays open: it
        // closes as "not judged", never as passed.
        if let Some(silence) = &self.silence {
            self.rec.unjudged = Some(format!("the plugin stopped answering after init: {silence}"));
        } else if let Some(missing) = &c.unsettled {
            self.rec.unjudged = Some(missing.clone());
        }
        // Unparsed output counts while the plugin runs: what a plugin
        // leaves half-written as it exits, lightningd never reads.
        self.leftovers(&c);
        self.stop(&mut c);
        if let Some(e) = self.usage_error.take() {
            return Err(e);
        }
        let main_exit = c.proc.exit_status();
        let stderr = std::mem::take(&mut c.stderr);
        drop(c);
        // The report's RPC calls are the judged process's, not the robust
        // phase's throwaway ones.
        let calls = rpc.calls();
        // Without init the plugin had no socket to call.
        if !self.h.manifest_only {
            self.rpc_findings(&rpc);
        }
        if self.h.scenario.is_none()
            && !self.h.handshake_only
            && !self.h.manifest_only
            && self.manifest.is_some()
            && matches!(self.rec.verdict, Verdict::Accepted)
        {
            self.robust();
        }
        if let Some(e) = self.harness_error.take() {
            return Err(e);
        }
        self.judge_children();
        Ok(self.finish(main_exit, calls, &stderr))
    }

    fn handshake(&mut self, c: &mut Conn, plugin: &str) {
        // getmanifest (§5.1). v23.02 always used a numeric id for it.
        let id = if self.profile.string_ids.getmanifest_string() { self.new_id("getmanifest") } else { Id::Num(self.take_num()) };
        let params = json!({"allow-deprecated-apis": self.h.allow_deprecated_apis}).to_string();
        self.send_request(c, "getmanifest", &id, &params);
        let waited = self.wait_for(c, &id);
        let msg = match self.judge_wait(c, waited, "getmanifest") {
            Some(m) => m,
            None => return,
        };

        let shortname = self.program.plugin.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let start_params: Vec<String> = self.h.options.iter().map(|o| o.name.clone()).collect();
        let cx = manifest::Context {
            profile: &self.profile,
            allow_deprecated_apis: self.h.allow_deprecated_apis,
            startup: !self.h.dynamic,
            path: plugin,
            shortname: &shortname,
            start_params: &start_params,
        };
        let judgement = manifest::judge(&msg.doc, &cx);
        for id in judgement.passed.clone() {
            self.rec.pass(id, id.def().requirement);
        }
        let manifest = match judgement.result {
            Ok(m) => m,
            Err(f) => {
                self.rec.finding(&f);
                return;
            }
        };
        for w in &judgement.warnings {
            self.rec.finding(w);
        }
        if judgement.warnings.is_empty() {
            self.rec.pass(CheckId::MANIFEST_TOPICS, format!("subscriptions: {}", list(&manifest.subscriptions)));
        }
        self.string_ids = self.profile.string_ids.after_manifest(manifest.nonnumericids, self.h.allow_deprecated_apis);
        self.manifest = Some(manifest.clone());
        self.compare_snapshot(&manifest);
        if self.h.manifest_only {
            self.rec.stop_reason = Some("the manifest was all that was asked for".into());
            return;
        }

        // init (§6.1).
        let config = Configuration {
            lightning_dir: self.dir.display().to_string(),
            rpc_file: "lightning-rpc".into(),
            startup: !self.h.dynamic,
            network: self.h.network.clone(),
        };
        let params = match init::params(&self.profile, &manifest, &self.h.options, &config) {
            Ok(p) => p,
            Err(e) => {
                self.rec.stop_reason = Some(format!("option -o {}: {}", e.spec, e.message));
                self.usage_error = Some(Error::BadOption { spec: e.spec, message: e.message });
                return;
            }
        };
        if let Some(slot) = &self.rpc_node {
            let given: Vec<String> = self.h.options.iter().map(|o| o.name.clone()).collect();
            let path = self.program.plugin.display().to_string();
            let view = crate::rpc::NodeView::from_init(&config, &params, &manifest.options, &given, &path, self.h.allow_deprecated_apis);
            if let Ok(mut n) = slot.lock() {
                *n = Some(view);
            }
        }
        if serde_json::from_str::<serde_json::Value>(&params).is_err() {
            // §6.1: lightningd copies int values verbatim, so `0x10` or `+5`
            // (which strtol accepts) make init invalid JSON.
            self.init_note = Some("; lightningd copied an int option verbatim (such as 0x10, 010 or +5), which made init invalid JSON (§6.1): give ints in plain decimal".into());
        }
        self.hook_reentry();
        if self.rec.stop_reason.is_some() {
            return;
        }
        // §9.1: hooks are not gated on init.
        self.hooks_before_init(c);
        if self.rec.stop_reason.is_some() {
            return;
        }
        let id = self.new_id("init");
        self.send_request(c, "init", &id, &params);
        let waited = self.wait_for(c, &id);
        let Some(msg) = self.judge_wait(c, waited, "init") else { return };
        match init::judge(&msg.doc) {
            InitVerdict::Disabled(f) => {
                self.rec.pass(CheckId::INIT_RESULT, "init answered");
                self.rec.finding(&f);
                return;
            }
            InitVerdict::AcceptedOddly(f) => {
                self.rec.pass(CheckId::INIT_DISABLE, "the plugin did not disable itself");
                self.rec.finding(&f);
            }
            InitVerdict::Accepted => {
                self.rec.pass(CheckId::INIT_DISABLE, "the plugin did not disable itself");
                self.rec.pass(CheckId::INIT_RESULT, "init answered with a result object");
            }
        }

        // After init the plugin must keep running (§1.4): from now on a
        // death is judged where it happens, and watched for until the end.
        self.init_at = Some(Instant::now());
        c.running = true;
        // Evidence after init counts from here.
        c.settled_at = Some(c.proc.sent());
        c.settled_when = Instant::now();
        if c.stdout_eof {
            self.died(c);
        }
    }

    /// `snapshot/surface`: the surface against the committed snapshot.
    fn compare_snapshot(&mut self, manifest: &Manifest) {
        let Some((path, update)) = self.h.snapshot.clone() else { return };
        let name = self.program.plugin.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let current = crate::snapshot::render(&name, manifest);
        let stored = std::fs::read_to_string(&path).ok();
        let changed = match &stored {
            Some(s) => crate::snapshot::diff(s, &current),
            None => Some(format!("no snapshot at {} yet", path.display())),
        };
        match changed {
            None => self.rec.pass(CheckId::SNAPSHOT_SURFACE, format!("matches {}", path.display())),
            Some(_) if update => {
                let written = path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::write(&path, &current));
                match written {
                    Ok(()) => self.rec.record(CheckId::SNAPSHOT_SURFACE, Outcome::Warn, format!("updated {}", path.display()), None, None),
                    Err(e) => self.rec.finding(&Finding {
                        check: CheckId::SNAPSHOT_SURFACE,
                        reason: format!("cannot write {}: {e}", path.display()),
                        effect: Effect::Ignored,
                    }),
                }
            }
            Some(d) => self.rec.finding(&Finding {
                check: CheckId::SNAPSHOT_SURFACE,
                reason: format!("the surface differs from {}:\n{}", path.display(), d.trim_end()),
                effect: Effect::Ignored,
            }),
        }
    }

    fn take_num(&mut self) -> u64 {
        let n = self.next_id;
        self.next_id += 1;
        n
    }

    /// Reads the plugin's output until `deadline`; true if stdout hit EOF.
    fn pump(&mut self, c: &mut Conn, deadline: Instant) -> bool {
        while !c.stdout_eof && self.rec.stop_reason.is_none() {
            let Some(out) = c.proc.next_output(deadline) else { break };
            if let Some(Waited::Killed(f)) = self.take_output(c, out, None) {
                self.killed(f);
            }
        }
        c.stdout_eof
    }

    /// A kill, attributed to the notification being handled, if any: a
    /// reply without id to a notification is a malformed notification to
    /// lightningd (§3), and `notify/no-reply` at kill tier.
    fn killed(&mut self, f: Finding) {
        if let (Some(topic), CheckId::WIRE_NOTIFICATION) = (self.current.clone(), f.check) {
            self.rec.finding_as(
                &Finding {
                    check: CheckId::NOTIFY_NO_REPLY,
                    reason: format!("{} (a reply to the '{topic}' notification)", f.reason),
                    effect: Effect::Kill,
                },
                Tier::Kill,
            );
        }
        self.rec.finding(&f);
    }

    /// Handles one piece of output. Returns a verdict when it ends a wait.
    fn take_output(&mut self, c: &mut Conn, out: Output, want: Option<&str>) -> Option<Waited> {
        match out {
            Output::Stderr(at, bytes) => {
                let at = self.rec.ms(at);
                c.keep_stderr(&bytes);
                self.rec.emit(Event::Frame(Frame { at_ms: at, dir: Direction::Stderr, bytes }));
                None
            }
            Output::StdoutEof(_) => {
                c.stdout_eof = true;
                if c.running && !c.stopping {
                    self.died(c);
                }
                Some(Waited::Exited)
            }
            Output::StderrEof(_) => {
                c.stderr_eof = true;
                None
            }
            Output::Stdout(at, bytes) => {
                let at_ms = self.rec.ms(at);
                self.rec.frame(at_ms, Direction::FromPlugin, &bytes);
                let mut answer = None;
                for inc in c.decoder.feed(&bytes) {
                    match inc {
                        Incoming::Kill(WireKill { check, reason }) => return Some(Waited::Killed(Finding::kill(check, reason))),
                        Incoming::Overflow(n) => {
                            return Some(Waited::Killed(Finding {
                                check: CheckId::WIRE_SIZE,
                                reason: format!(
                                    "{n} bytes on stdout without a complete message; the harness stops reading past {} bytes",
                                    self.h.max_pending
                                ),
                                effect: Effect::Ignored,
                            }))
                        }
                        Incoming::Message(m) => {
                            if let Some(w) = self.take_message(c, m, want, at, at_ms, &mut answer) {
                                return Some(w);
                            }
                        }
                    }
                }
                answer
            }
        }
    }

    fn take_message(
        &mut self,
        c: &mut Conn,
        m: Message,
        want: Option<&str>,
        at: Instant,
        at_ms: f64,
        answer: &mut Option<Waited>,
    ) -> Option<Waited> {
        if m.depth > MAX_DEPTH && !self.rec.recorded(CheckId::WIRE_DEPTH) {
            self.rec.finding(&Finding {
                check: CheckId::WIRE_DEPTH,
                reason: format!(
                    "a message nests {} levels deep (more than {MAX_DEPTH}); lightningd recurses once per level to walk it",
                    m.depth
                ),
                effect: Effect::Ignored,
            });
        }
        let notice = match &m.kind {
            Kind::Response { id } => {
                if let Some(p) = c.pending.remove(id) {
                    c.answered.push(id.clone());
                    // An answer, however late: the plugin is not silent.
                    if c.silent.take().is_some() {
                        self.silence = None;
                    }
                    if want == Some(id.as_str()) {
                        let latency = at.saturating_duration_since(p.sent);
                        *answer = Some(Waited::Answer(m, latency));
                    }
                    return None;
                }
                let before = c.answered.contains(id);
                messages::stray_response(id, &m.text(), before, c.pending.keys(), self.current.as_deref(), &self.profile)
            }
            Kind::Notification { .. } => {
                let declared = self.manifest.as_ref().map(|mf| mf.notifications.as_slice()).unwrap_or_default();
                messages::notification(m.doc.root(), &self.profile, declared, |id| c.pending.contains_key(id))
            }
        };
        match notice {
            Notice::Fine => None,
            Notice::Kill(f) => Some(Waited::Killed(f)),
            Notice::Tolerated(f) => {
                self.rec.finding(&f);
                None
            }
            Notice::Log { level, message } => {
                if let Some(topic) = &self.current {
                    // Every line logged while a notification is handled: a
                    // traceback arrives as many lines, any level.
                    let bad = messages::is_error_line(&level, &message);
                    if self.handler_errors.len() < MAX_HANDLER_LINES {
                        self.handler_errors.push((topic.clone(), message.clone(), bad));
                    }
                }
                // A plugin flooding its log cannot exhaust the harness's memory.
                if self.log.len() < MAX_LOG_LINES && self.log_bytes + message.len() <= MAX_LOG_BYTES {
                    self.log_bytes += message.len();
                    self.log.push(LogLine { at_ms, level, message });
                } else {
                    self.log_dropped += 1;
                }
                None
            }
        }
    }

    /// Waits for the answer to `id`, processing everything else on the way.
    fn wait_for(&mut self, c: &mut Conn, id: &Id) -> Waited {
        let deadline = Instant::now() + self.h.timeout;
        self.wait_until(c, id, self.case_deadline.map_or(deadline, |d| d.min(deadline)))
    }

    ///
    /// After init, the first request that goes unanswered makes the plugin
    /// silent (`c.silent`); until it answers anything, later waits take
    /// what output is there and return `Unjudged` without waiting, so a
    /// silent plugin costs one timeout, not one per question.
    fn wait_until(&mut self, c: &mut Conn, id: &Id, deadline: Instant) -> Waited {
        let token = id.token();
        if c.silent.is_some() {
            while let Some(out) = c.proc.try_output() {
                if let Some(w) = self.take_output(c, out, Some(&token)) {
                    return w;
                }
            }
            if let Some(silent) = c.silent.clone() {
                return if c.stdout_eof { Waited::Exited } else { Waited::Unjudged(silent) };
            }
        }
        loop {
            if c.stdout_eof {
                return Waited::Exited;
            }
            let Some(out) = c.proc.next_output(deadline) else {
                if c.running && !c.stopping && self.rec.stop_reason.is_none() {
                    let what = self.unanswered(c, &token);
                    self.silence = Some(what.clone());
                    c.silent = Some(what);
                }
                return Waited::TimedOut;
            };
            if let Some(w) = self.take_output(c, out, Some(&token)) {
                return w;
            }
        }
    }

    /// A request that went unanswered, plainly: which, sent when.
    fn unanswered(&self, c: &Conn, token: &str) -> String {
        let Some(p) = c.pending.get(token) else { return format!("the request with id {token} was never answered") };
        let what = p.method.as_deref().map(|m| format!("the '{m}' request")).unwrap_or_else(|| "the request".to_owned());
        format!(
            "{what} (id {token}), sent {:.1} ms into the run, was never answered (waited {:.1} s)",
            self.rec.ms(p.sent),
            p.sent.elapsed().as_secs_f64()
        )
    }

    /// Turns the end of a wait for `stage` into check results; returns the
    /// answer if there is one to judge.
    fn judge_wait(&mut self, c: &Conn, waited: Waited, stage: &'static str) -> Option<Message> {
        let (exit_id, timeout_id) = match stage {
            "getmanifest" => (CheckId::GETMANIFEST_EXIT, CheckId::GETMANIFEST_TIMEOUT),
            _ => (CheckId::INIT_EXIT, CheckId::INIT_TIMEOUT),
        };
        let limit = self.profile.startup_timeout_secs;
        match waited {
            Waited::Answer(m, latency) => {
                self.rec.pass(exit_id, format!("alive until it answered {stage}"));
                self.rec.record(
                    timeout_id,
                    Outcome::Pass,
                    format!("answered {stage} in {:.1} ms (lightningd allows {limit} s)", latency.as_secs_f64() * 1000.0),
                    None,
                    Some(latency),
                );
                Some(m)
            }
            Waited::Exited => {
                self.rec.finding(&Finding::kill(exit_id, format!("exited before replying to {stage}")));
                if let (Some(note), "init") = (self.init_note.clone(), stage) {
                    self.rec.annotate(exit_id, &note);
                }
                None
            }
            Waited::TimedOut | Waited::Unjudged(_) => {
                let reason = format!("timed out before replying to {stage}");
                let mut note = format!(
                    "no answer within the harness's {:.1} s deadline (lightningd waits {limit} s, then: Killing plugin: {reason})",
                    self.h.timeout.as_secs_f64()
                );
                if c.decoder.stalled_on_nul() {
                    note.push_str("; a NUL byte on stdout has stalled lightningd's parser");
                } else if !c.decoder.pending().iter().all(u8::is_ascii_whitespace) {
                    note.push_str(&format!(
                        "; {} bytes written but not complete JSON (no flush, or no closing '}}'?)",
                        c.decoder.pending().len()
                    ));
                } else if c.decoder.pending().is_empty() && c.answered.is_empty() {
                    note.push_str("; nothing was read from stdout (forgot to flush?)");
                }
                if stage == "init" {
                    note.push_str(self.init_note.as_deref().unwrap_or(""));
                }
                let effect = if self.h.dynamic {
                    Effect::Kill
                } else {
                    Effect::Fatal(format!("Killing plugin: {reason}, then: Can't recover from plugin failure, terminating."))
                };
                self.rec.finding(&Finding { check: timeout_id, reason: note, effect });
                None
            }
            Waited::Killed(f) => {
                self.rec.finding(&f);
                None
            }
        }
    }

    fn subscriptions(&self) -> Vec<String> {
        self.manifest.as_ref().map(|m| m.subscriptions.clone()).unwrap_or_default()
    }

    /// Ends the plugin's life as lightningd's shutdown does (§11): a
    /// subscriber to `shutdown` gets it and the grace period to exit; any
    /// other plugin sees its stdin close. Then the whole process group is
    /// killed, whatever happened.
    fn stop(&mut self, c: &mut Conn) {
        c.stopping = true;
        let alive = self.rec.stop_reason.is_none() && !c.stdout_eof;
        let subscribed = crate::notify::copies(&self.profile, &self.subscriptions(), "shutdown") > 0;
        self.rec.not_applicable.push(if subscribed { CheckId::SHUTDOWN_EOF } else { CheckId::SHUTDOWN_EXIT });
        if alive {
            if subscribed {
                let grace = self.h.shutdown_timeout.unwrap_or(Duration::from_secs(self.profile.delivery.shutdown_grace_secs));
                if let Some(bytes) = crate::notify::message(&self.profile, "shutdown") {
                    self.current = Some("shutdown".into());
                    self.send(c, bytes);
                }
                let sent = Instant::now();
                let exited = self.pump(c, sent + grace);
                self.current = None;
                if exited {
                    let ms = sent.elapsed().as_secs_f64() * 1000.0;
                    self.rec.record(
                        CheckId::SHUTDOWN_EXIT,
                        Outcome::Pass,
                        format!("exited {ms:.1} ms after `shutdown`"),
                        None,
                        Some(sent.elapsed()),
                    );
                } else if self.rec.stop_reason.is_none() {
                    let name = self.program.plugin.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
                    self.rec.finding(&Finding {
                        check: CheckId::SHUTDOWN_EXIT,
                        reason: format!(
                            "{name}: failed to self-terminate in time, killing. (still running {:.1} s after `shutdown`)",
                            grace.as_secs_f64()
                        ),
                        effect: Effect::Logged,
                    });
                }
            } else {
                c.proc.close_stdin();
                let closed = Instant::now();
                let exited = self.pump(c, closed + self.h.grace);
                if exited {
                    self.rec.pass(
                        CheckId::SHUTDOWN_EOF,
                        format!("exited {:.1} ms after its stdin closed", closed.elapsed().as_secs_f64() * 1000.0),
                    );
                } else if self.rec.stop_reason.is_none() {
                    self.rec.finding(&Finding {
                        check: CheckId::SHUTDOWN_EOF,
                        reason: format!(
                            "still running {:.1} s after lightningd closed its stdin; lightningd sends no signal, so it would outlive the node",
                            self.h.grace.as_secs_f64()
                        ),
                        effect: Effect::Ignored,
                    });
                }
            }
        }
        c.proc.close_stdin();
        self.account_children(c);
        // Collect what is still in the pipes (the tail of stderr), briefly:
        // a child that left the process group may hold them open.
        let deadline = Instant::now() + Duration::from_millis(500);
        while !c.stderr_eof {
            let Some(out) = c.proc.next_output(deadline) else { break };
            if matches!(out, Output::Stderr(..) | Output::StderrEof(_)) {
                self.take_output(c, out, None);
            }
        }
    }

    /// What is left unparsed on stdout when the plugin is gone.
    fn leftovers(&mut self, c: &Conn) {
        // What is left unparsed on stdout, unless what lightningd parsed
        // already killed the plugin.
        let killed_by_wire = matches!(&self.rec.verdict, Verdict::Killed { check, .. } if check.starts_with("wire/"));
        if !killed_by_wire {
            if c.decoder.stalled_on_nul() {
                self.rec.finding(&Finding {
                    check: CheckId::WIRE_NUL,
                    reason: "a NUL byte on stdout: lightningd's parser stops there and never reads further".into(),
                    effect: Effect::Ignored,
                });
            } else {
                self.rec.pass(CheckId::WIRE_NUL, "no NUL byte on stdout");
            }
            let pending = c.decoder.pending();
            if !pending.iter().all(|b| b.is_ascii_whitespace() || *b == 0) && !c.decoder.stalled_on_nul() {
                let text = wire::quote(&pending[..pending.len().min(4096)]);
                self.rec.finding(&Finding {
                    check: CheckId::WIRE_STRAY_OUTPUT,
                    reason: format!("unparsed output on stdout: {text:?}; the next '}}' makes lightningd kill the plugin (Failed to parse RPC JSON response)"),
                    effect: Effect::Ignored,
                });
            } else {
                self.rec.pass(CheckId::WIRE_STRAY_OUTPUT, "nothing left unparsed on stdout");
            }
        }
    }

    /// What the mock lightning-rpc saw of the plugin's calls.
    fn rpc_findings(&mut self, rpc: &MockRpc) {
        let own: Vec<String> = self.manifest.iter().flat_map(|m| m.rpcmethods.iter().map(|r| r.name.clone())).collect();
        let found = rpc.findings(&own);
        for f in &found {
            self.rec.finding(&Finding { check: f.check, reason: f.reason.clone(), effect: Effect::Ignored });
        }
        for def in crate::checks::CATALOGUE.iter().filter(|d| d.id.starts_with("rpc/")) {
            if let Some(id) = CheckId::parse(def.id) {
                if !found.iter().any(|f| f.check == id) {
                    self.rec.pass(id, def.requirement);
                }
            }
        }
    }

    fn finish(&mut self, exit: Option<std::process::ExitStatus>, rpc_calls: Vec<crate::rpc::RpcCall>, stderr: &[u8]) -> Report {
        // Checks that watched the whole run pass if nothing failed them.
        for id in [
            CheckId::WIRE_JSON,
            CheckId::WIRE_JSONRPC,
            CheckId::WIRE_NOTIFICATION,
            CheckId::WIRE_UNKNOWN_ID,
            CheckId::WIRE_SIZE,
            CheckId::WIRE_DEPTH,
            CheckId::LOG_MESSAGE,
            CheckId::LOG_LEVEL,
            CheckId::NOTIFY_ID,
            CheckId::NOTIFY_DECLARED,
        ] {
            if !self.rec.recorded(id) {
                self.rec.pass(id, id.def().requirement);
            }
        }
        let checks = self.rec.close();
        let report = Report {
            plugin: self.program.plugin.display().to_string(),
            profile: self.profile.name.clone(),
            lightningd_version: self.profile.version.clone(),
            verdict: self.rec.verdict.clone(),
            checks,
            rpc_calls,
            log: self.log.clone(),
            log_dropped: self.log_dropped,
            stderr_tail: tail_lines(stderr, 20),
            manifest: self.manifest.clone(),
            exit: exit.map(|s| s.to_string()),
        };
        self.rec.emit(Event::RunFinished(Box::new(report.clone())));
        report
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

fn tail_lines(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
