//! The command line: flags as parsed, resolved into a [`Harness`], and the
//! exit-code contract. Nothing here judges a plugin.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use cln_harness::baseline::Baseline;
use cln_harness::checks::CATALOGUE;
use cln_harness::report::{file::ReportFile, github::Annotations, human::Human, json::Json, junit::Junit, transcript::Transcript};
use cln_harness::{Harness, Profile, Sink};

/// No check failed.
pub const EXIT_OK: i32 = 0;
/// A check failed.
pub const EXIT_FAILED: i32 = 1;
/// Bad usage, or the harness could not run.
pub const EXIT_USAGE: i32 = 2;
/// Nothing was checked: a run that proves nothing is not a pass.
pub const EXIT_NOTHING_RAN: i32 = 3;

// Output goes through these rather than `print!`, which panics when the
// reader has gone. A closed pipe (`cln-harness run … | head -1`) is the
// reader's choice, not the harness's failure: the rest of the output is
// dropped and the exit code stays the verdict's. Any other error writing
// stdout is the harness's, reported at exit.
macro_rules! out {
    ($($t:tt)*) => { to_stdout(format_args!($($t)*)) };
}
macro_rules! outln {
    () => { to_stdout(format_args!("\n")) };
    ($($t:tt)*) => { to_stdout(format_args!("{}\n", format_args!($($t)*))) };
}
macro_rules! errln {
    ($($t:tt)*) => { to_stderr(format_args!("{}\n", format_args!($($t)*))) };
}

/// The first error writing stdout that was not a closed pipe.
static STDOUT_ERROR: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn to_stdout(args: std::fmt::Arguments) {
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        if !closed_pipe(&e) {
            let _ = STDOUT_ERROR.set(e.to_string());
        }
    }
}

fn to_stderr(args: std::fmt::Arguments) {
    // Nowhere left to say it.
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// The reader of a pipe has closed it (EPIPE).
fn closed_pipe(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}

#[derive(Parser, Debug)]
#[command(name = "cln-harness", version, about = "A mock lightningd that tests Core Lightning plugins the way lightningd judges them")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a plugin through getmanifest and init as lightningd would.
    ///
    /// `cln-harness run ./myplugin`, or `cln-harness run -- python3 plugin.py`.
    Run(Box<RunArgs>),
    /// Print every check: id, tier per profile, and the requirement.
    List,
    /// Write the plugin's public surface as a reviewable snapshot file.
    Snapshot(SnapshotArgs),
    /// Send generated frame schedules until the plugin breaks; shrink,
    /// print and save the minimal failing schedule.
    Fuzz(FuzzArgs),
    /// Replay a schedule saved by `fuzz`, on a fresh plugin process.
    Replay(ReplayArgs),
    /// Run the plugin under a real lightningd too, and compare its outcome
    /// with the harness's verdict (exit 1 when they disagree).
    Crosscheck(CrosscheckArgs),
    /// A Bitcoin backend plugin for a real lightningd: a regtest chain
    /// holding only its genesis block (run by lightningd, not by hand).
    #[command(hide = true)]
    Backend,
    /// Write a profile's name lists from a real lightningd build.
    #[command(hide = true)]
    GenProfile(GenProfileArgs),
    /// Print docs/changes.md: what changed for plugins, release by release.
    #[command(hide = true)]
    Changes,
    /// Write the mock RPC's answers from a real lightningd build.
    #[command(hide = true)]
    CaptureRpc(CaptureRpcArgs),
}

#[derive(clap::Args, Debug)]
struct CaptureRpcArgs {
    /// The build's lightningd binary (its plugins in `../plugins/`); give
    /// it once per build.
    #[arg(long, value_name = "PATH", required = true)]
    lightningd: Vec<PathBuf>,

    /// Where the mock RPC's answers live.
    #[arg(long, default_value = "fixtures/rpc", value_name = "DIR")]
    out: PathBuf,
}

#[derive(clap::Args, Debug)]
struct GenProfileArgs {
    /// The build's lightningd binary (its plugins in `../plugins/`).
    #[arg(long, value_name = "PATH", required_unless_present = "probe_manifest")]
    lightningd: Option<PathBuf>,

    /// Where profiles live.
    #[arg(long, default_value = "fixtures/profiles", value_name = "DIR")]
    out: PathBuf,

    /// Print what differs from the committed files; write nothing; exit 1
    /// if anything does.
    #[arg(long)]
    check: bool,

    /// Internal: run as the probe plugin with this manifest.
    #[arg(long, value_name = "FILE")]
    probe_manifest: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct FuzzArgs {
    /// The plugin executable. Omit it to give `-- INTERPRETER SCRIPT ARGS...`.
    plugin: Option<PathBuf>,

    #[arg(last = true)]
    rest: Vec<OsString>,

    /// How many cases to generate.
    #[arg(long, default_value_t = 256)]
    cases: u32,

    /// The seed: the same seed generates the same cases [default: from the clock, printed].
    #[arg(long)]
    seed: Option<u64>,

    /// Stop generating new cases after this many seconds.
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,

    /// Also send malformed frames (input lightningd never sends).
    #[arg(long)]
    strict: bool,

    /// The lightningd release to play.
    #[arg(long = "cln-version", default_value = Profile::DEFAULT, value_name = "VERSION")]
    cln_version: String,

    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    timeout: f64,

    /// Set a plugin option: NAME=VALUE, or NAME for a flag. Repeatable.
    #[arg(short = 'o', long = "option", value_name = "NAME[=VALUE]")]
    options: Vec<String>,

    /// Where failing schedules are appended (JSON Lines).
    #[arg(long, default_value = "cln-harness-regressions.jsonl", value_name = "FILE")]
    regressions: PathBuf,

    /// Consent to call one of the plugin's methods: METHOD=JSON
    /// (repeatable). Without consent the fuzzer calls none of its methods.
    #[arg(long = "call", value_name = "METHOD=JSON")]
    calls: Vec<String>,
}

#[derive(clap::Args, Debug)]
struct CrosscheckArgs {
    /// The real lightningd binary (its subdaemons beside it, its plugins in ../plugins).
    #[arg(long, value_name = "PATH")]
    lightningd: PathBuf,

    /// The plugin executable. Omit it to give `-- INTERPRETER SCRIPT ARGS...`.
    plugin: Option<PathBuf>,

    #[arg(last = true)]
    rest: Vec<OsString>,

    /// The harness profile to compare with [default: from `lightningd --version`].
    #[arg(long = "cln-version", value_name = "VERSION")]
    cln_version: Option<String>,

    /// Seconds the real node may take to start (or stop) before the cross-check gives up.
    #[arg(long, default_value_t = 150.0, value_name = "SECS")]
    start_timeout: f64,

    /// Print the comparison as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct ReplayArgs {
    /// A file written by `cln-harness fuzz`.
    file: PathBuf,

    /// Which of its schedules, from 1 [default: the last].
    #[arg(long)]
    index: Option<usize>,

    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    timeout: f64,
}

#[derive(clap::Args, Debug)]
struct SnapshotArgs {
    /// The plugin executable. Omit it to give `-- INTERPRETER SCRIPT ARGS...`.
    plugin: Option<PathBuf>,

    #[arg(last = true)]
    rest: Vec<OsString>,

    /// Where to write `<plugin>.snap`.
    #[arg(long, default_value = "snapshots", value_name = "DIR")]
    snapshot_dir: PathBuf,

    /// The lightningd release to play.
    #[arg(long = "cln-version", default_value = Profile::DEFAULT, value_name = "VERSION")]
    cln_version: String,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// The plugin executable. Omit it to give `-- INTERPRETER SCRIPT ARGS...`.
    plugin: Option<PathBuf>,

    /// Arguments after `--`: the plugin's arguments, or the whole command.
    #[arg(last = true)]
    rest: Vec<OsString>,

    /// The lightningd release to play (`v24.11` or `v24.11.2`); `all` for
    /// every profile and a compatibility matrix; a range `v24.05..`,
    /// `..v25.09` or `v24.05..v25.09` for the releases between.
    #[arg(long = "cln-version", default_value = Profile::DEFAULT, value_name = "VERSION")]
    cln_version: String,

    /// Seconds to wait for each answer (lightningd itself waits 120).
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    timeout: f64,

    /// Set a plugin option: NAME=VALUE, or NAME for a flag. Repeatable.
    #[arg(short = 'o', long = "option", value_name = "NAME[=VALUE]")]
    options: Vec<String>,

    /// lightningd's allow-deprecated-apis, sent in getmanifest.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    allow_deprecated_apis: bool,

    /// Simulate `plugin start` (init.startup=false; non-dynamic plugins are refused).
    #[arg(long)]
    dynamic: bool,

    /// Fail on `robust` checks instead of warning.
    #[arg(long)]
    strict: bool,

    /// Use this directory as lightning-dir and working directory.
    #[arg(long, value_name = "DIR")]
    lightning_dir: Option<PathBuf>,

    /// Write every byte exchanged, timestamped, as JSON Lines.
    #[arg(long, value_name = "FILE")]
    transcript: Option<PathBuf>,

    /// Milliseconds after init the plugin is watched at least; the watch
    /// overlaps the other phases. A death at any time fails.
    #[arg(long = "watch", alias = "settle-ms", default_value_t = 2000, value_name = "MS")]
    watch_ms: u64,

    /// Milliseconds to wait for log lines a hook handler writes after its
    /// answer.
    #[arg(long, default_value_t = 100, value_name = "MS")]
    quiet_ms: u64,

    /// Seconds a plugin subscribed to `shutdown` may take to exit
    /// [default: lightningd's 30].
    #[arg(long, value_name = "SECS")]
    shutdown_timeout: Option<f64>,

    /// Milliseconds a plugin may take to exit once its stdin closes.
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    grace_ms: u64,

    /// The exact topics the plugin must subscribe to, comma-separated.
    /// Overrides `[expect] subscriptions` in ./cln-harness.toml.
    #[arg(long, value_name = "TOPICS", value_delimiter = ',')]
    expect_subscriptions: Option<Vec<String>>,

    /// Run these scripted steps after init instead of sending every
    /// subscribed topic (format: fixtures/scenarios/scenario.schema.json).
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,

    /// Compare the plugin's public surface with this snapshot file.
    #[arg(long, value_name = "FILE")]
    snapshot: Option<PathBuf>,

    /// With --snapshot: accept the current surface and rewrite the file.
    #[arg(long, requires = "snapshot")]
    update_snapshots: bool,

    /// Only start-up: spawn, getmanifest, init, and the plugin's exit; no
    /// notifications, framing or robust checks.
    #[arg(long, conflicts_with = "scenario")]
    handshake_only: bool,

    /// Consent to call one of the plugin's methods to prove it alive after
    /// each framing check: METHOD, or METHOD=JSON with its params (or
    /// `probe` in ./cln-harness.toml) [default: no call; survival is judged
    /// from evidence].
    #[arg(long, value_name = "METHOD[=JSON]")]
    probe: Option<String>,

    /// Consent to call one of the plugin's methods: METHOD=JSON, with its
    /// params as an object or array (repeatable; or `[[call]]` in
    /// ./cln-harness.toml). Each is forwarded as lightningd forwards a
    /// client's call, in object and array form, and its answer judged.
    #[arg(long = "call", value_name = "METHOD=JSON")]
    calls: Vec<String>,

    /// MiB of output the harness holds without a complete message.
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    max_pending_mib: usize,

    /// Report only checks whose id starts with PREFIX (repeatable). If none
    /// of them runs, the exit code says so.
    #[arg(long, value_name = "PREFIX")]
    only: Vec<String>,

    /// The report on stdout.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,

    /// Also write the JSON report to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// Also write a JUnit XML report to FILE.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,

    /// Failures known and accepted: the run fails only on others, and on
    /// listed ones that now pass.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,

    /// Write every failure of this run to FILE as a baseline.
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,

    /// Show every check (not only failures and warnings), every RPC call,
    /// the plugin's log and every skipped check.
    #[arg(short, long)]
    verbose: bool,

    /// Show only the verdict line (per profile).
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,
}

/// Per-repository settings, so a plugin's CI needs no flags.
const CONFIG_FILE: &str = "cln-harness.toml";

#[derive(serde::Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    expect: Expect,
    /// Methods of the plugin the user consents to have called.
    #[serde(default)]
    call: Vec<CallConsent>,
    /// The consented liveness probe, as `--probe` takes it.
    #[serde(default)]
    probe: Option<String>,
}

#[derive(serde::Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct CallConsent {
    method: String,
    /// Params as a TOML table (object form) or array.
    #[serde(default)]
    params: Option<toml::Value>,
}

#[derive(serde::Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    subscriptions: Option<Vec<String>>,
}

impl Config {
    /// The file's settings; `None` when there is no file.
    fn load(path: &std::path::Path) -> Result<Option<Config>, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        toml::from_str(&text).map(Some).map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Human,
    Json,
    Junit,
}

/// Creates the directory a report file goes in, or says why not.
fn create_parent(path: &std::path::Path) -> Result<(), String> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create the directory {} for {}: {e}", dir.display(), path.display()))
        }
        _ => Ok(()),
    }
}

/// `--call METHOD=JSON` values: the method and its params, an object or
/// an array.
fn parse_calls(specs: &[String]) -> Result<Vec<(String, serde_json::Value)>, String> {
    specs
        .iter()
        .map(|spec| {
            let (method, json) = spec.split_once('=').unwrap_or((spec.as_str(), "{}"));
            match serde_json::from_str(json) {
                Ok(v @ (serde_json::Value::Array(_) | serde_json::Value::Object(_))) => Ok((method.to_owned(), v)),
                _ => Err(format!(
                    "--call {spec}: the params after '=' must be a JSON object or array, e.g. --call 'hello={{\"name\":\"world\"}}'"
                )),
            }
        })
        .collect()
}

/// Opens a report file, its directory created, or says why not. The file
/// is written only once its report is (see [`ReportFile`]).
fn create(path: &std::path::Path) -> Result<std::io::BufWriter<ReportFile>, String> {
    create_parent(path)?;
    ReportFile::open(path).map(std::io::BufWriter::new).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Plugin text for stdout: escape sequences visible, and under GitHub
/// Actions no workflow command.
fn shown(s: &str) -> String {
    let s = cln_harness::sanitize::lines(s);
    if cln_harness::sanitize::in_actions() {
        cln_harness::sanitize::actions(&s)
    } else {
        s
    }
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    cln_harness::process::install_signal_cleanup();
    use clap::{CommandFactory, FromArgMatches};
    let parsed = Cli::command().version(version_text()).try_get_matches().and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    let code = match cli.command {
        Command::List => list(),
        Command::Run(args) => run(*args),
        Command::Snapshot(args) => snapshot(args),
        Command::Fuzz(args) => fuzz(args),
        Command::Replay(args) => replay(args),
        Command::Backend => backend(),
        Command::Crosscheck(args) => crosscheck(args),
        Command::GenProfile(args) => gen_profile(args),
        Command::CaptureRpc(args) => capture_rpc(args),
        Command::Changes => match cln_harness::changes::markdown() {
            Ok(page) => {
                out!("{page}");
                EXIT_OK
            }
            Err(e) => {
                errln!("error: {e}");
                EXIT_USAGE
            }
        },
    };
    // Ending on a signal: its status, not the run's.
    cln_harness::process::halt_if_terminating();
    self_stats();
    match STDOUT_ERROR.get() {
        Some(e) => {
            errln!("error: cannot write to stdout: {e}");
            EXIT_USAGE
        }
        None => code,
    }
}

/// With `CLN_HARNESS_SELF_STATS=FILE`, writes the harness's own peak
/// memory (`VmHWM` from /proc/self/status) there at exit: how the hostile
/// tests and benchmarks measure the harness, apart from its plugins.
fn self_stats() {
    let Some(path) = std::env::var_os("CLN_HARNESS_SELF_STATS") else { return };
    #[cfg(target_os = "linux")]
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    #[cfg(not(target_os = "linux"))]
    let status = String::new();
    let hwm = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or("VmHWM: unknown");
    if let Err(e) = std::fs::write(&path, format!("{hwm}\n")) {
        errln!("error: cannot write {}: {e}", std::path::Path::new(&path).display());
    }
}

/// The profile folder a release writes to: `v24.11.2` -> `v24.11`.
fn profile_dir_name(version: &str) -> String {
    let parts: Vec<&str> = version.split(['.', '-']).collect();
    parts.iter().take(2).cloned().collect::<Vec<_>>().join(".")
}

/// A name list as the profile `name` has it on disk: its own file, or the
/// one of the nearest profile it inherits.
fn effective_list(out: &std::path::Path, name: &str, file: &str) -> Option<String> {
    let mut cur = name.to_owned();
    for _ in 0..32 {
        let dir = out.join(&cur);
        if let Ok(text) = std::fs::read_to_string(dir.join(file)) {
            return Some(text);
        }
        let toml = std::fs::read_to_string(dir.join("profile.toml")).ok()?;
        let table: toml::Table = toml::from_str(&toml).ok()?;
        cur = table.get("inherits")?.as_str()?.to_owned();
    }
    None
}

/// Names only, comments and order aside.
fn names_of(text: &str) -> std::collections::BTreeSet<&str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

fn capture_rpc(args: CaptureRpcArgs) -> i32 {
    use cln_harness::{capture, lightningd::Build};
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot find cln-harness's own executable: {e}");
            return EXIT_USAGE;
        }
    };
    let mut code = EXIT_OK;
    for path in &args.lightningd {
        let written = Build::at(path)
            .map_err(capture::CaptureError::from)
            .and_then(|b| capture::capture(&b, &exe))
            .and_then(|c| capture::write(&c, &args.out));
        match written {
            Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                code = EXIT_FAILED;
            }
        }
    }
    code
}

fn gen_profile(args: GenProfileArgs) -> i32 {
    use cln_harness::genprofile;
    if let Some(m) = &args.probe_manifest {
        return match genprofile::serve_probe(m) {
            Ok(()) => EXIT_OK,
            Err(_) => EXIT_FAILED,
        };
    }
    let Some(lightningd) = args.lightningd.as_deref() else {
        errln!("error: give --lightningd PATH");
        return EXIT_USAGE;
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            errln!("error: cannot find cln-harness's own executable: {e}");
            return EXIT_USAGE;
        }
    };
    let names = match genprofile::read_build(lightningd, &exe) {
        Ok(n) => n,
        Err(e) => {
            errln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let name = profile_dir_name(&names.version);
    let dir = args.out.join(&name);
    let mut differs = false;
    if !dir.join("profile.toml").exists() {
        // A new release inherits the nearest older profile's switches.
        let parent = std::fs::read_dir(&args.out)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|n| n.starts_with('v') && n.as_str() < name.as_str())
            .max();
        differs = true;
        if args.check {
            outln!("{name}: no profile for {}", names.version);
        } else {
            let mut toml = format!("# lightningd {}: generated by `cln-harness gen-profile`; add the rule
# switches that differ from the profile it inherits.
", names.version);
            if let Some(p) = &parent {
                toml.push_str(&format!("inherits = \"{p}\"\n"));
            }
            toml.push_str(&format!("name = \"{name}\"\nversion = \"{}\"\n", names.version));
            if let Err(e) = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(dir.join("profile.toml"), toml)) {
                errln!("error: cannot write {}: {e}", dir.display());
                return EXIT_USAGE;
            }
        }
    }
    let parent = std::fs::read_to_string(dir.join("profile.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| t.get("inherits").and_then(|v| v.as_str()).map(str::to_owned));
    for (file, text) in genprofile::profile_files(&names) {
        let current = effective_list(&args.out, &name, file).unwrap_or_default();
        let inherited = parent.as_deref().and_then(|p| effective_list(&args.out, p, file)).unwrap_or_default();
        let want = names_of(&text);
        if names_of(&current) != want {
            differs = true;
            let have = names_of(&current);
            let added: Vec<&&str> = want.difference(&have).collect();
            let removed: Vec<&&str> = have.difference(&want).collect();
            outln!("{name}/{file}: the build has {added:?} more, {removed:?} fewer");
        }
        if args.check {
            continue;
        }
        // Hold only what differs from the inherited profile.
        let path = dir.join(file);
        let result = if parent.is_some() && names_of(&inherited) == want {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        } else {
            std::fs::write(&path, text)
        };
        if let Err(e) = result {
            errln!("error: cannot write {}: {e}", path.display());
            return EXIT_USAGE;
        }
    }
    outln!("{name}: native topics the build sends: {}", names.native_topics.iter().cloned().collect::<Vec<_>>().join(" "));
    if args.check && differs {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

/// `--version`: the release, and the lightningd releases it can play, so
/// a CI log says what a run was judged against.
fn version_text() -> &'static str {
    let profiles: Vec<String> = Profile::names()
        .iter()
        .map(|n| match Profile::load(n) {
            Ok(p) if p.name == Profile::DEFAULT => format!("{} (lightningd {}, the default)", p.name, p.version),
            Ok(p) => format!("{} (lightningd {})", p.name, p.version),
            Err(_) => n.clone(),
        })
        .collect();
    let text = format!("{}\nprofiles: {}", env!("CARGO_PKG_VERSION"), profiles.join(", "));
    // Built once per process; clap keeps a reference for the whole parse.
    Box::leak(text.into_boxed_str())
}

/// A usage error: one line on stderr, exit 2; under `--format json` also a
/// JSON document saying so on stdout, so a CI step that reads stdout finds
/// the reason there.
fn usage_error(format: Format, message: &str) -> i32 {
    errln!("error: {message}");
    if format == Format::Json {
        let doc = cln_harness::report::json::error_document(message);
        outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    EXIT_USAGE
}

/// Everything a run needs, checked before anything is printed or written.
struct Prepared {
    harness: Harness,
    profiles: Vec<String>,
    baseline: Option<Baseline>,
    json_file: Option<Json<std::io::BufWriter<ReportFile>>>,
    junit_file: Option<Junit<std::io::BufWriter<ReportFile>>>,
    transcripts: Vec<Option<Transcript<std::io::BufWriter<ReportFile>>>>,
}

fn run(args: RunArgs) -> i32 {
    match prepare(&args) {
        Ok(p) => execute(&args, p),
        Err(message) => usage_error(args.format, &message),
    }
}

/// Turns the flags into a harness and open report files, or says what is
/// wrong with them: every usage error is found here, before the run.
fn prepare(args: &RunArgs) -> Result<Prepared, String> {
    let (program, rest) = command(&args.plugin, &args.rest).ok_or_else(|| cln_harness::Error::NoPlugin.to_string())?;
    if !(args.timeout > 0.0 && args.timeout.is_finite()) {
        return Err(format!("--timeout must be a positive number of seconds, not {}", args.timeout));
    }
    let mut harness = Harness::new(program)
        .args(rest)
        .profile(&args.cln_version)
        .timeout(Duration::from_secs_f64(args.timeout))
        .watch(Duration::from_millis(args.watch_ms))
        .allow_deprecated_apis(args.allow_deprecated_apis)
        .dynamic(args.dynamic)
        .strict(args.strict);
    for o in &args.options {
        harness = harness.option(o);
    }
    harness = harness.quiet(Duration::from_millis(args.quiet_ms)).grace(Duration::from_millis(args.grace_ms));
    if let Some(t) = args.shutdown_timeout {
        if !(t > 0.0 && t.is_finite()) {
            return Err(format!("--shutdown-timeout must be a positive number of seconds, not {t}"));
        }
        harness = harness.shutdown_timeout(Duration::from_secs_f64(t));
    }
    let config = Config::load(std::path::Path::new(CONFIG_FILE))?.unwrap_or_default();
    let expected = args.expect_subscriptions.clone().or(config.expect.subscriptions);
    for c in &config.call {
        let params = match &c.params {
            None => serde_json::json!({}),
            Some(v) => match serde_json::to_value(v) {
                Ok(v @ (serde_json::Value::Array(_) | serde_json::Value::Object(_))) => v,
                _ => return Err(format!("{CONFIG_FILE}: [[call]] '{}': params must be a table or an array", c.method)),
            },
        };
        harness = harness.call(&c.method, params);
    }
    for (method, params) in parse_calls(&args.calls)? {
        harness = harness.call(&method, params);
    }
    if let Some(topics) = expected {
        harness = harness.expect_subscriptions(topics);
    }
    harness = harness.max_pending(args.max_pending_mib.saturating_mul(1 << 20)).handshake_only(args.handshake_only);
    if let Some(p) = args.probe.as_ref().or(config.probe.as_ref()) {
        let (method, params) = match p.split_once('=') {
            Some((m, json)) => match serde_json::from_str(json) {
                Ok(v @ (serde_json::Value::Array(_) | serde_json::Value::Object(_))) => (m, v),
                _ => {
                    return Err(format!(
                        "--probe {p}: the params after '=' must be a JSON array or object, e.g. --probe 'hello=[\"world\"]'"
                    ))
                }
            },
            None => (p.as_str(), serde_json::json!([])),
        };
        harness = harness.probe(method, params);
    }
    if let Some(path) = &args.snapshot {
        harness = harness.snapshot(path, args.update_snapshots);
    }
    if let Some(path) = &args.scenario {
        harness = harness.scenario(cln_harness::Scenario::load(path).map_err(|e| e.to_string())?);
    }
    for p in &args.only {
        harness = harness.only(p);
    }
    if let Some(d) = &args.lightning_dir {
        harness = harness.lightning_dir(d);
    }
    let baseline = args.baseline.as_deref().map(Baseline::load).transpose().map_err(|e| e.to_string())?;
    let profiles = Profile::select(&args.cln_version).map_err(|e| e.to_string())?;
    for profile in &profiles {
        harness.clone().profile(profile).preflight().map_err(|e| e.to_string())?;
    }
    if let Some(path) = &args.write_baseline {
        create_parent(path)?;
    }
    // Files last, once nothing else can go wrong; and a file is written
    // only once its report is, so a run refused even now (another file
    // cannot be opened) leaves no empty report and loses no earlier one.
    let json_file = args.json.as_deref().map(create).transpose()?.map(Json::new);
    let junit_file = args.junit.as_deref().map(create).transpose()?.map(Junit::new);
    let mut transcripts = Vec::new();
    for profile in &profiles {
        transcripts.push(match &args.transcript {
            // One transcript per profile when running several.
            Some(path) => Some(Transcript::new(create(&if profiles.len() > 1 { suffixed(path, profile) } else { path.clone() })?)),
            None => None,
        });
    }
    Ok(Prepared { harness, profiles, baseline, json_file, junit_file, transcripts })
}

fn execute(args: &RunArgs, prepared: Prepared) -> i32 {
    let Prepared { harness, profiles, baseline, mut json_file, mut junit_file, transcripts } = prepared;
    // Several releases run at once, each into a recorder; their events are
    // then replayed to the sinks in order, so every report reads as if the
    // runs had been one after another.
    // Not with a --lightning-dir: each run needs it to itself (its
    // lightning-rpc), so they run one after the other there.
    let recorded = if profiles.len() > 1 && args.lightning_dir.is_none() { record_all(&harness, &profiles) } else { Vec::new() };

    // Sinks that span every run: the JSON and JUnit documents hold every
    // profile's run.
    let stdout = || anstream::AutoStream::auto(std::io::stdout());
    let mut json_stdout = (args.format == Format::Json).then(|| Json::new(std::io::stdout()));
    let mut junit_stdout = (args.format == Format::Junit).then(|| Junit::new(std::io::stdout()));
    // Workflow commands go to stdout, unless stdout carries a report.
    let mut annotations: Option<Annotations<Box<dyn Write>>> = (std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true")).then(|| {
        let out: Box<dyn Write> = if args.format == Format::Human { Box::new(std::io::stdout()) } else { Box::new(std::io::stderr()) };
        Annotations::new(out)
    });

    let mut reports = Vec::new();
    for (i, (profile, mut transcript)) in profiles.iter().zip(transcripts).enumerate() {
        if i > 0 && args.format == Format::Human && !args.quiet {
            outln!();
        }
        let mut human = (args.format == Format::Human).then(|| Human::new(stdout()).verbose(args.verbose).quiet(args.quiet));
        let mut sinks: Vec<&mut dyn Sink> = Vec::new();
        fn add<'a, S: Sink>(sinks: &mut Vec<&'a mut dyn Sink>, sink: &'a mut Option<S>) {
            if let Some(s) = sink.as_mut() {
                sinks.push(s);
            }
        }
        add(&mut sinks, &mut human);
        add(&mut sinks, &mut transcript);
        add(&mut sinks, &mut json_stdout);
        add(&mut sinks, &mut junit_stdout);
        add(&mut sinks, &mut json_file);
        add(&mut sinks, &mut junit_file);
        add(&mut sinks, &mut annotations);
        let result = match recorded.get(i) {
            Some((result, events)) => {
                for e in events {
                    for s in sinks.iter_mut() {
                        s.event(e);
                    }
                }
                result.as_ref().map(|r| r.clone()).map_err(|e| e.to_string())
            }
            None => harness.clone().profile(profile).run_with(&mut sinks).map_err(|e| e.to_string()),
        };
        match result {
            Ok(report) => reports.push(report),
            Err(e) => {
                // Found only once the run started (the plugin changed
                // between the checks and the run): the JSON documents say
                // so too.
                drop(sinks);
                if let Some(j) = json_stdout.as_mut() {
                    j.error(&e.to_string());
                }
                if let Some(j) = json_file.as_mut() {
                    j.error(&e.to_string());
                }
                errln!("error: {e}");
                for j in [json_stdout.as_mut().map(Sink::finish), json_file.as_mut().map(Sink::finish)] {
                    if let Some(Err(w)) = j {
                        errln!("error: cannot write the JSON report: {w}");
                    }
                }
                return EXIT_USAGE;
            }
        }
        if let Some(Err(e)) = transcript.as_mut().map(Sink::finish) {
            let message = format!("cannot write the transcript: {e}");
            errln!("error: {message}");
            // The JSON documents say why the run stopped short.
            if let Some(j) = json_stdout.as_mut() {
                j.error(&message);
                let _ = j.finish();
            }
            if let Some(j) = json_file.as_mut() {
                j.error(&message);
                let _ = j.finish();
            }
            return EXIT_USAGE;
        }
        match human.as_mut().map(Sink::finish) {
            Some(Err(e)) if !closed_pipe(&e) => {
                errln!("error: cannot write the report to stdout: {e}");
                return EXIT_USAGE;
            }
            _ => {}
        }
    }
    // Finish the documents before anything else is printed; a report that
    // cannot be written is the harness's failure, whatever the plugin did.
    let finished = [
        ("the JSON report to stdout", json_stdout.as_mut().map(Sink::finish)),
        ("the JSON report", json_file.as_mut().map(Sink::finish)),
        ("the JUnit report to stdout", junit_stdout.as_mut().map(Sink::finish)),
        ("the JUnit report", junit_file.as_mut().map(Sink::finish)),
        ("the workflow annotations", annotations.as_mut().map(Sink::finish)),
    ];
    for (what, r) in finished {
        // A console reader that went away (`| head`) is no failure; a file
        // that cannot be written is.
        let console = !matches!(what, "the JSON report" | "the JUnit report");
        if let Some(Err(e)) = r.filter(|r| !(console && r.as_ref().is_err_and(closed_pipe))) {
            let path = match what {
                "the JSON report" => args.json.as_ref().map(|p| format!(" to {}", p.display())),
                "the JUnit report" => args.junit.as_ref().map(|p| format!(" to {}", p.display())),
                _ => None,
            };
            errln!("error: cannot write {what}{}: {e}", path.unwrap_or_default());
            return EXIT_USAGE;
        }
    }
    if reports.len() > 1 && args.format == Format::Human && !args.quiet {
        matrix(&reports);
    }
    if let Some(path) = &args.write_baseline {
        if let Err(e) = std::fs::write(path, Baseline::from_reports(&reports).to_toml()) {
            errln!("error: cannot write {}: {e}", path.display());
            return EXIT_USAGE;
        }
        errln!("wrote {} known failure(s) to {}", reports.iter().map(|r| r.failures().len()).sum::<usize>(), path.display());
    }
    if reports.iter().all(|r| r.nothing_ran()) {
        errln!("error: no check ran, so nothing was proven");
        return EXIT_NOTHING_RAN;
    }
    match &baseline {
        Some(b) => {
            let j = b.apply(&reports);
            errln!("baseline: {} known failure(s), {} new, {} stale", j.known.len(), j.new.len(), j.stale.len());
            for n in &j.new {
                errln!("  new:   {n}");
            }
            for s in &j.stale {
                errln!("  stale: {s} (remove it from the baseline)");
            }
            if j.failed() {
                EXIT_FAILED
            } else {
                EXIT_OK
            }
        }
        None if reports.iter().any(|r| r.failed()) => EXIT_FAILED,
        None => EXIT_OK,
    }
}

/// The plugin and its arguments, from `PLUGIN [-- ARGS]` or `-- CMD ARGS`.
fn command(plugin: &Option<PathBuf>, rest: &[OsString]) -> Option<(OsString, Vec<OsString>)> {
    match (plugin, rest.split_first()) {
        (Some(p), _) => Some((p.clone().into_os_string(), rest.to_vec())),
        (None, Some((first, rest))) => Some((first.clone(), rest.to_vec())),
        (None, None) => None,
    }
}

fn snapshot(args: SnapshotArgs) -> i32 {
    let Some((program, rest)) = command(&args.plugin, &args.rest) else {
        errln!("error: {}", cln_harness::Error::NoPlugin);
        return EXIT_USAGE;
    };
    // The manifest is all a snapshot needs: stop after getmanifest.
    let report = match Harness::new(program).args(rest.clone()).profile(&args.cln_version).manifest_only(true).run() {
        Ok(r) => r,
        Err(e) => {
            errln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let Some(manifest) = &report.manifest else {
        errln!("error: lightningd would not accept the plugin's manifest: {:?}; run `cln-harness run` to see why", report.verdict);
        return EXIT_FAILED;
    };
    let plugin = PathBuf::from(&report.plugin);
    let path = cln_harness::snapshot::default_path(&args.snapshot_dir, &plugin);
    let name = plugin.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let written =
        std::fs::create_dir_all(&args.snapshot_dir).and_then(|()| std::fs::write(&path, cln_harness::snapshot::render(&name, manifest)));
    match written {
        Ok(()) => {
            outln!("wrote {}", path.display());
            EXIT_OK
        }
        Err(e) => {
            errln!("error: cannot write {}: {e}", path.display());
            EXIT_USAGE
        }
    }
}

struct Bar(indicatif::ProgressBar);

impl cln_harness::fuzz::Progress for Bar {
    fn case(&mut self, n: u64) {
        self.0.set_position(n);
    }
    fn shrinking(&mut self) {
        self.0.set_message("failure found, shrinking…");
    }
}

fn fuzz(args: FuzzArgs) -> i32 {
    let Some((program, rest)) = command(&args.plugin, &args.rest) else {
        errln!("error: {}", cln_harness::Error::NoPlugin);
        return EXIT_USAGE;
    };
    if !(args.timeout > 0.0 && args.timeout.is_finite()) || args.duration.is_some_and(|d| !(d > 0.0 && d.is_finite())) {
        errln!("error: --timeout and --duration take a positive number of seconds");
        return EXIT_USAGE;
    }
    let mut harness = Harness::new(program).args(rest).profile(&args.cln_version).timeout(Duration::from_secs_f64(args.timeout));
    for o in &args.options {
        harness = harness.option(o);
    }
    match parse_calls(&args.calls) {
        Ok(calls) => {
            for (method, params) in calls {
                harness = harness.call(&method, params);
            }
        }
        Err(e) => {
            errln!("error: {e}");
            return EXIT_USAGE;
        }
    }
    if let Err(e) = cln_harness::fuzz::check_program(&harness) {
        errln!("error: {e}");
        return EXIT_USAGE;
    }
    let seed = args
        .seed
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1));
    errln!("fuzzing with seed {seed} (reproduce the same cases with --seed {seed})");
    let bar = indicatif::ProgressBar::new(args.cases as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos}/{len} cases {per_sec} {elapsed} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut progress = Bar(bar.clone());
    let opts = cln_harness::fuzz::FuzzOptions {
        cases: args.cases,
        seed,
        duration: args.duration.map(Duration::from_secs_f64),
        strict: args.strict,
    };
    let outcome = cln_harness::fuzz::fuzz(&harness, &opts, &mut progress);
    bar.finish_and_clear();
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            errln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let rate = outcome.cases_run as f64 / outcome.elapsed.as_secs_f64().max(1e-9);
    outln!(
        "{} cases in {:.1} s ({rate:.1} cases/s), {} plugin start(s)",
        outcome.cases_run,
        outcome.elapsed.as_secs_f64(),
        outcome.restarts
    );
    match outcome.failure {
        None => {
            outln!("no failure");
            EXIT_OK
        }
        Some(r) => {
            out!("{}", shown(&r.describe()));
            if !r.reproduced {
                // A file of schedules that do not fail would send whoever
                // replays it after a ghost.
                outln!(
                    "not saved: on a fresh plugin process this schedule did not fail, so the failure depends on what the same process \
                     received before it (or on timing); run the same cases again with --seed {}",
                    r.seed
                );
                return EXIT_FAILED;
            }
            match r.save(&args.regressions) {
                Ok(()) => {
                    outln!("saved to {}; reproduce with: cln-harness replay {}", args.regressions.display(), args.regressions.display())
                }
                Err(e) => errln!("error: cannot save to {}: {e}", args.regressions.display()),
            }
            EXIT_FAILED
        }
    }
}

fn replay(args: ReplayArgs) -> i32 {
    let all = match cln_harness::fuzz::Regression::load_all(&args.file) {
        Ok(a) if !a.is_empty() => a,
        Ok(_) => {
            errln!("error: {} holds no schedule", args.file.display());
            return EXIT_USAGE;
        }
        Err(e) => {
            errln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let n = args.index.unwrap_or(all.len());
    let Some(r) = n.checked_sub(1).and_then(|i| all.get(i)) else {
        errln!("error: --index {n}: {} holds {} schedule(s)", args.file.display(), all.len());
        return EXIT_USAGE;
    };
    let harness = Harness::new(&r.plugin).args(r.args.clone()).profile(&r.profile).timeout(Duration::from_secs_f64(args.timeout));
    if let Err(e) = cln_harness::fuzz::check_program(&harness) {
        errln!("error: schedule {n} of {}: {e}", args.file.display());
        return EXIT_USAGE;
    }
    out!("{}", shown(&r.describe()));
    match cln_harness::fuzz::replay(&harness, r) {
        Ok(Some(reason)) => {
            outln!("reproduced: {}", shown(&reason));
            EXIT_FAILED
        }
        Ok(None) => {
            outln!(
                "no longer fails: on a fresh process the plugin survived this schedule. Either the plugin was fixed, or the failure \
                 needs more than this schedule: input the same process received before it (fuzz reuses a process across cases), or \
                 timing (the pauses are kept, the machine's load is not). To look again: cln-harness fuzz --seed {} {}",
                r.seed,
                shell_words(&r.plugin, &r.args)
            );
            EXIT_OK
        }
        Err(e) => {
            errln!("error: {e}");
            EXIT_USAGE
        }
    }
}

/// A command line to paste: each word quoted when it needs to be.
fn shell_words(program: &str, args: &[String]) -> String {
    let quote = |w: &str| {
        if !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "/._-=:,+".contains(c)) {
            w.to_owned()
        } else {
            format!("'{}'", w.replace('\'', "'\\''"))
        }
    };
    if args.is_empty() {
        quote(program)
    } else {
        let words: Vec<String> = std::iter::once(program).chain(args.iter().map(String::as_str)).map(quote).collect();
        format!("-- {}", words.join(" "))
    }
}

fn crosscheck(args: CrosscheckArgs) -> i32 {
    let Some((program, rest)) = command(&args.plugin, &args.rest) else {
        errln!("error: {}", cln_harness::Error::NoPlugin);
        return EXIT_USAGE;
    };
    if !(args.start_timeout > 0.0 && args.start_timeout.is_finite()) {
        errln!("error: --start-timeout must be a positive number of seconds, not {}", args.start_timeout);
        return EXIT_USAGE;
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            errln!("error: cannot find the cln-harness binary to serve as Bitcoin backend: {e}");
            return EXIT_USAGE;
        }
    };
    let mut check = cln_harness::crosscheck::CrossCheck::new(&args.lightningd, program, exe);
    check.args = rest;
    check.profile = args.cln_version.clone();
    check.start_timeout = Duration::from_secs_f64(args.start_timeout);
    let c = match check.run() {
        Ok(c) => c,
        Err(e) => {
            errln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&c).unwrap_or_default());
    } else {
        outln!("cln-harness crosscheck: {} against lightningd {} (profile {})\n", c.plugin, c.version, c.profile);
        let check = c.harness_check.as_deref().map(|x| format!(" ({x})")).unwrap_or_default();
        outln!("  cln-harness: {}{check}", c.harness.describe());
        outln!("  lightningd:  {}", c.real.describe());
        if !c.plugin_log.is_empty() {
            outln!("\n  lightningd's log for the plugin (last lines):");
            for l in &c.plugin_log[c.plugin_log.len().saturating_sub(8)..] {
                let l: String = l.chars().take(200).collect();
                outln!("    {}", l.replace('\n', "\\n"));
            }
        }
        outln!();
        match &c.difference {
            None => outln!("agree"),
            Some(d) => outln!("DISAGREE: {d}"),
        }
    }
    if c.difference.is_some() {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

fn backend() -> i32 {
    // lightningd tells every plugin its version; it decides the
    // estimatefees shape.
    let version = std::env::var("LIGHTNINGD_VERSION").unwrap_or_default();
    match cln_harness::backend::serve(std::io::stdin().lock(), std::io::stdout().lock(), &version) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            errln!("error: backend: {e}");
            EXIT_USAGE
        }
    }
}

fn suffixed(path: &std::path::Path, profile: &str) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    path.with_file_name(format!("{stem}.{profile}{ext}"))
}

/// Checks × profiles: where the same plugin fares differently.
/// Records a run's events for replay.
#[derive(Default)]
struct Recorder(Vec<cln_harness::Event>);

impl Sink for Recorder {
    fn event(&mut self, event: &cln_harness::Event) {
        self.0.push(event.clone());
    }
}

type Recorded = (Result<cln_harness::Report, cln_harness::Error>, Vec<cln_harness::Event>);

/// Runs every profile, as many at once as there are cores (a run's own
/// deadlines must not suffer from the others), each into a recorder.
fn record_all(harness: &Harness, profiles: &[String]) -> Vec<Recorded> {
    let width = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).max(2);
    let mut out: Vec<Recorded> = Vec::new();
    for group in profiles.chunks(width) {
        let done: Vec<Recorded> = std::thread::scope(|s| {
            let handles: Vec<_> = group
                .iter()
                .map(|p| {
                    let h = harness.clone().profile(p);
                    s.spawn(move || {
                        let mut rec = Recorder::default();
                        let result = {
                            let mut sinks: Vec<&mut dyn Sink> = vec![&mut rec];
                            h.run_with(&mut sinks)
                        };
                        (result, rec.0)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        (Err(cln_harness::Error::Io { context: "a run".into(), source: std::io::Error::other("it panicked") }), Vec::new())
                    })
                })
                .collect()
        });
        out.extend(done);
    }
    out
}

/// One line per release: what a node of that release does with the plugin.
fn answers(reports: &[cln_harness::Report]) {
    use cln_harness::Verdict;
    outln!("\nper release:");
    for r in reports {
        let line = match &r.verdict {
            Verdict::Accepted if r.counts().warned > 0 => format!("runs with warnings ({} warned)", r.counts().warned),
            Verdict::Accepted => "runs".to_owned(),
            Verdict::Killed { check, reason } => format!("killed ({check}): {reason}"),
            Verdict::Fatal { check, reason } => format!("stops lightningd ({check}): {reason}"),
            Verdict::Disabled { check, reason } => format!("disables itself ({check}): {reason}"),
            Verdict::Undecided { check, reason } => format!("not judged ({check}): {reason}"),
        };
        outln!("  {:<8} {:<10} {line}", r.profile, r.lightningd_version);
    }
}

fn matrix(reports: &[cln_harness::Report]) {
    answers(reports);
    let header: Vec<String> = reports.iter().map(|r| format!("{:<8}", r.profile)).collect();
    outln!("\ncompatibility: {:<26} {}", "", header.join(" "));
    for c in CATALOGUE {
        let cells: Vec<String> =
            reports.iter().map(|r| format!("{:<8}", r.check(c.id).map(|x| x.outcome.as_str()).unwrap_or("-"))).collect();
        if cells.iter().all(|c| c.trim() == "-") {
            continue;
        }
        outln!("  {:<38} {}", c.id, cells.join(" "));
    }
}

fn list() -> i32 {
    let profiles: Vec<Profile> = Profile::names().iter().filter_map(|n| Profile::load(n).ok()).collect();
    let header: Vec<String> = profiles.iter().map(|p| format!("{:<7}", p.name)).collect();
    outln!("{:<32} {}  requirement", "check", header.join(" "));
    for c in CATALOGUE {
        let tiers: Vec<String> = profiles.iter().map(|p| format!("{:<7}", c.tier_for(p).map(|t| t.as_str()).unwrap_or("-"))).collect();
        outln!("{:<32} {}  {}", c.id, tiers.join(" "), c.requirement);
    }
    EXIT_OK
}
