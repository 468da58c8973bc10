//! Integration tests: the `cln-harness` binary against fixture plugins.
//! One test binary with modules keeps link time low.

mod api;
mod defects;
mod docs;
mod edge;
mod evidence;
mod fuzz;
mod gate;
mod hooks;
mod notifications;
mod plugins;
mod portable;
mod realbuild;
mod reports;
mod rpc;
mod scenarios;
mod snapshots;
mod travel;
mod usage;

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::Command;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("fixtures/plugins").join(name)
}

/// `cln-harness` with the given arguments.
pub fn harness() -> Command {
    let mut c = Command::cargo_bin("cln-harness").expect("binary is built");
    c.env("NO_COLOR", "1").timeout(std::time::Duration::from_secs(60));
    c
}

/// A finished run: exit code and output.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The `OUTCOME id message` line of a check, as (outcome, message).
    pub fn check(&self, id: &str) -> Option<(String, String)> {
        self.stdout.lines().find_map(|l| {
            let mut parts = l.splitn(3, char::is_whitespace);
            let outcome = parts.next()?;
            let rest = l[outcome.len()..].trim_start();
            let got = rest.split_whitespace().next()?;
            if got != id || !["PASS", "WARN", "FAIL"].contains(&outcome) {
                return None;
            }
            Some((outcome.to_owned(), rest[id.len()..].trim().to_owned()))
        })
    }

    /// The line that follows a check's line and starts with `label`.
    pub fn detail(&self, id: &str, label: &str) -> Option<String> {
        let mut lines = self.stdout.lines().skip_while(|l| l.split_whitespace().nth(1).is_none_or(|w| w != id));
        lines.next()?;
        lines.take_while(|l| l.starts_with("     ")).find_map(|l| l.trim().strip_prefix(label).map(|s| s.trim().to_owned()))
    }

    pub fn summary(&self) -> String {
        self.stdout.lines().rev().find(|l| l.contains(" passed, ")).unwrap_or("").to_owned()
    }
}

/// Runs the misbehave fixture with a defect under a profile.
pub fn misbehave(defect: &str, profile: &str, extra: &[&str]) -> Run {
    // The harness's default timeout: a Python plugin may take seconds to
    // start on a busy machine. Tests of timeouts pass their own.
    let timeout: &[&str] = if extra.contains(&"--timeout") { &[] } else { &["--timeout", "10"] };
    // Several releases take longer (they run two at a time).
    let limit = if profile == "all" || profile.contains("..") { 600 } else { 60 };
    let out = harness()
        .timeout(std::time::Duration::from_secs(limit))
        // -v: every check's line, passes included, for `Run::check`.
        .args(["run", "--cln-version", profile])
        .args(if extra.contains(&"-v") || extra.contains(&"-q") { &[][..] } else { &["-v"][..] })
        .args(timeout)
        .args(extra)
        .arg(fixture("misbehave.py"))
        .env("CLN_HARNESS_DEFECT", defect)
        .output()
        .expect("cln-harness runs");
    Run::from(out)
}
