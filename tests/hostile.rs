//! Hostile plugins against the harness binary: each attack in
//! `fixtures/plugins/hostile/hostile.py` must end with the right verdict,
//! no panic, no hang, bounded memory (the harness's own peak RSS, `VmHWM`,
//! which it writes at exit under `CLN_HARNESS_SELF_STATS`),
//! no process left behind and no temporary directory left over.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const MIB: i64 = 1024;

fn python() -> String {
    std::env::var("CLN_HARNESS_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn plugin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/plugins/hostile/hostile.py")
}

struct Run {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: String,
    stderr: String,
    /// Peak resident set of the harness, KiB (0 if it did not exit).
    maxrss: i64,
    tmp: tempfile::TempDir,
    token: String,
}

impl Run {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", self.stdout, self.stderr))
    }

    fn check<'a>(&self, v: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
        v["runs"][0]["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no {id}"))
    }

    /// What every run must show, whatever the attack.
    fn assert_sound(&self, max_rss_mib: i64) {
        let all = format!("{}\n{}", self.stdout, self.stderr);
        assert!(!all.contains("panicked"), "the harness panicked:\n{all}");
        assert!(self.signal.is_none(), "the harness died of signal {:?}:\n{all}", self.signal);
        assert!(self.maxrss > 0, "the harness wrote no VmHWM:\n{all}");
        assert!(self.maxrss <= max_rss_mib * MIB, "peak RSS {} KiB over {max_rss_mib} MiB", self.maxrss);
        let left: Vec<_> = std::fs::read_dir(self.tmp.path()).unwrap().flatten().map(|e| e.path()).collect();
        assert!(left.is_empty(), "left in the temporary directory: {left:?}");
        assert_no_survivors(&self.token);
    }
}

/// No process whose command line or environment holds `token`.
fn assert_no_survivors(token: &str) {
    // A killed process may take a moment to leave the table.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let found = survivors(token);
        if found.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "processes left running: {found:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn survivors(token: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.parse::<u32>().is_err() {
            continue;
        }
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        if stat.rsplit(')').next().is_some_and(|s| s.trim_start().starts_with('Z')) {
            continue;
        }
        for f in ["cmdline", "environ"] {
            let bytes = std::fs::read(e.path().join(f)).unwrap_or_default();
            if bytes.windows(token.len()).any(|w| w == token.as_bytes()) {
                found.push(format!("{name}: {}", String::from_utf8_lossy(&bytes).replace('\0', " ")));
                break;
            }
        }
    }
    found
}

fn token() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("hostile-token-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

/// Runs `cln-harness ARGS -- python hostile.py` with the attack chosen,
/// TMPDIR of its own, and a deadline.
fn harness(attack: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    harness_with(attack, args, env, |_| {})
}

fn harness_with(attack: &str, args: &[&str], env: &[(&str, &str)], during: impl FnOnce(i32)) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let stats_dir = tempfile::tempdir().unwrap();
    let stats = stats_dir.path().join("stats");
    let token = token();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cln-harness"));
    cmd.args(args)
        .arg("--")
        .arg(python())
        .arg(plugin())
        .env("TMPDIR", tmp.path())
        .env("CLN_HARNESS_SELF_STATS", &stats)
        .env("CLN_HARNESS_HOSTILE", attack)
        .env("HOSTILE_TOKEN", &token)
        .env_remove("GITHUB_ACTIONS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let pid = child.id() as i32;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let ereader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    // A hang is a failure, not a stuck test run.
    let watchdog = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if unsafe { libc::kill(pid, 0) } != 0 {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        unsafe { libc::kill(pid, libc::SIGKILL) };
        true
    });
    during(pid);
    let mut status = 0;
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid);
    std::mem::forget(child);
    // Not rusage: a forked child's ru_maxrss starts at its parent's size.
    let maxrss = std::fs::read_to_string(&stats).ok().and_then(|s| s.split_whitespace().nth(1).and_then(|n| n.parse().ok())).unwrap_or(0);
    let hung = watchdog.join().unwrap();
    let stdout = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&ereader.join().unwrap()).into_owned();
    assert!(!hung, "the harness hung; stdout:\n{stdout}\nstderr:\n{stderr}");
    let (code, signal) =
        if libc::WIFEXITED(status) { (Some(libc::WEXITSTATUS(status)), None) } else { (None, Some(libc::WTERMSIG(status))) };
    Run { code, signal, stdout, stderr, maxrss, tmp, token }
}

#[test]
fn a_flood_of_valid_messages_stays_in_bounded_memory() {
    let r = harness("flood", &["run", "--handshake-only", "--timeout", "60", "--format", "json"], &[("HOSTILE_MB", "64")]);
    r.assert_sound(64);
    let v = r.json();
    assert_eq!(v["runs"][0]["verdict"]["verdict"], "accepted", "{}", r.stdout);
    assert!(v["runs"][0]["log_dropped"].as_u64().unwrap() > 50_000, "the log is capped, the rest counted");
    assert_eq!(r.code, Some(0));
}

#[test]
fn a_never_closed_string_hits_the_cap_and_is_never_accepted() {
    let r = harness("endless-string", &["run", "--max-pending-mib", "16", "--format", "json"], &[]);
    r.assert_sound(16 + 64);
    let v = r.json();
    assert_eq!(v["runs"][0]["verdict"]["verdict"], "undecided", "{}", r.stdout);
    assert_eq!(r.check(&v, "wire/size")["outcome"], "fail");
    assert_eq!(r.code, Some(1));
}

#[test]
fn a_never_closed_array_counts_its_tokens_against_the_cap() {
    let r = harness("endless-array", &["run", "--max-pending-mib", "16", "--format", "json"], &[]);
    r.assert_sound(16 + 64);
    let v = r.json();
    assert_eq!(v["runs"][0]["verdict"]["verdict"], "undecided", "{}", r.stdout);
    assert_eq!(r.code, Some(1));
}

#[test]
fn deep_nesting_is_a_finding_that_names_the_depth() {
    let r = harness("deep", &["run", "--handshake-only", "--format", "json"], &[]);
    r.assert_sound(64);
    let v = r.json();
    let c = r.check(&v, "wire/depth");
    assert_eq!(c["outcome"], "fail");
    assert!(c["message"].as_str().unwrap().contains("100002 levels"), "{c}");
}

#[test]
fn a_million_levels_are_judged_within_the_deadline() {
    let started = Instant::now();
    let r = harness("deep", &["run", "--handshake-only", "--timeout", "20", "--format", "json"], &[("HOSTILE_DEPTH", "1000000")]);
    r.assert_sound(128);
    let v = r.json();
    let m = r.check(&v, "wire/depth")["message"].as_str().unwrap().to_owned();
    assert!(m.contains("1000002 levels"), "{m}");
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn escape_sequences_never_reach_the_terminal() {
    let r = harness("escapes", &["run", "--handshake-only", "-v"], &[]);
    r.assert_sound(64);
    assert!(!r.stdout.contains('\x1b') && !r.stdout.contains('\u{202e}'), "raw escapes on stdout:\n{}", r.stdout);
    assert!(r.stdout.contains("\\x1b[2J"), "escapes are shown visibly:\n{}", r.stdout);
    assert!(r.stdout.contains("\\u{202e}"));
}

#[test]
fn workflow_commands_stay_inert_under_github_actions() {
    let r = harness("escapes", &["run", "--handshake-only", "-v"], &[("GITHUB_ACTIONS", "true")]);
    r.assert_sound(64);
    assert!(!r.stdout.contains('\x1b'));
    for line in r.stdout.lines() {
        let t = line.trim_start();
        if t.starts_with("::") {
            assert!(
                t.starts_with("::error title=cln-harness") || t.starts_with("::warning title=cln-harness"),
                "plugin text starts a line: {line}"
            );
            let data = t.splitn(3, "::").nth(2).unwrap();
            assert!(!data.contains('\n') && !data.contains("##["), "{line}");
        }
        assert!(!line.contains("##["), "plugin text with ##[: {line}");
    }
    assert!(r.stdout.contains("\\x3a:add-mask::secret"), "{}", r.stdout);
}

#[test]
fn a_setsid_daemon_is_reported_killed_and_reaped() {
    let r = harness("setsid", &["run", "--handshake-only", "--format", "json"], &[]);
    r.assert_sound(64);
    let v = r.json();
    let c = r.check(&v, "lifecycle/children");
    assert_eq!(c["outcome"], "fail", "{c}");
    let m = c["message"].as_str().unwrap();
    assert!(m.contains("1 process(es)") && m.contains("pid ") && m.contains("(python"), "{m}");
    assert_eq!(r.code, Some(1));
}

#[test]
fn a_plugin_without_children_passes_lifecycle_children() {
    let r = harness("", &["run", "--handshake-only", "--format", "json"], &[]);
    r.assert_sound(64);
    let v = r.json();
    assert_eq!(r.check(&v, "lifecycle/children")["outcome"], "pass");
    assert_eq!(r.code, Some(0), "{}", r.stdout);
}

#[test]
fn a_plugin_ignoring_signals_and_eof_is_still_cleaned_up() {
    let r = harness("ignore-signals", &["run", "--handshake-only", "--grace-ms", "300", "--format", "json"], &[]);
    r.assert_sound(64);
    let v = r.json();
    assert_eq!(r.check(&v, "shutdown/eof")["outcome"], "fail");
}

#[test]
fn stdout_closed_while_alive_is_death_to_lightningd() {
    let r = harness("close-stdout", &["run", "--handshake-only", "--format", "json"], &[]);
    r.assert_sound(64);
    let v = r.json();
    assert_eq!(r.check(&v, "lifecycle/alive")["outcome"], "fail", "{}", r.stdout);
}

#[test]
fn a_plugin_that_never_reads_times_out_without_a_hang() {
    let r = harness("no-read", &["run", "--timeout", "1", "--format", "json"], &[]);
    r.assert_sound(64);
    let v = r.json();
    assert_eq!(r.check(&v, "getmanifest/timeout")["outcome"], "fail");
    assert_eq!(v["runs"][0]["verdict"]["verdict"], "fatal");
}

#[test]
fn a_plugin_deleting_its_lightning_dir_is_not_blamed_for_the_harness() {
    let r = harness("rmdir", &["run", "--timeout", "5"], &[]);
    r.assert_sound(64);
    assert!(!r.stdout.contains("No such file"), "{}", r.stdout);
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
}

#[test]
fn a_planted_symlink_never_gets_a_file_deleted_elsewhere() {
    let victim = tempfile::tempdir().unwrap();
    std::fs::write(victim.path().join("lightning-rpc"), "precious").unwrap();
    let r = harness("symlink", &["run", "--handshake-only"], &[("HOSTILE_VICTIM", victim.path().to_str().unwrap())]);
    r.assert_sound(64);
    assert_eq!(std::fs::read_to_string(victim.path().join("lightning-rpc")).unwrap(), "precious");
}

#[test]
fn an_existing_lightning_rpc_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lightning-rpc"), "a node's socket").unwrap();
    let r = harness("", &["run", "--lightning-dir", dir.path().to_str().unwrap()], &[]);
    r.assert_sound(64);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("lightning-rpc' already exists"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(dir.path().join("lightning-rpc")).unwrap(), "a node's socket");
}

#[test]
fn an_unwritable_report_is_a_harness_error() {
    let r = harness("", &["run", "--handshake-only", "--junit", "/dev/full"], &[]);
    r.assert_sound(64);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("cannot write the JUnit report to /dev/full"), "{}", r.stderr);
}

#[test]
fn sigterm_mid_run_removes_the_temp_dir_and_every_process() {
    let tmp_probe = std::sync::Arc::new(std::sync::Mutex::new(None::<PathBuf>));
    let r = harness_with("setsid", &["run", "--timeout", "30", "--settle-ms", "30000"], &[], |pid| {
        // Wait until the daemon runs, then stop the harness as CI would.
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && survivors_of_pid(pid).is_empty() {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = &tmp_probe;
        unsafe { libc::kill(pid, libc::SIGTERM) };
    });
    assert_eq!(r.signal, Some(libc::SIGTERM), "{}\n{}", r.stdout, r.stderr);
    let left: Vec<_> = std::fs::read_dir(r.tmp.path()).unwrap().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "left in the temporary directory: {left:?}");
    assert_no_survivors(&r.token);
}

/// Daemons started for the harness `pid` (their environment names it).
fn survivors_of_pid(pid: i32) -> Vec<String> {
    // The marker is in the environment, the sleep in the command line.
    survivors(&format!("CLN_HARNESS_RUN={pid}."))
        .into_iter()
        .filter(|s| {
            let pid = s.split(':').next().unwrap_or_default();
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.windows(15).any(|w| w == b"time.sleep(300)"))
        })
        .collect()
}
