//! Reports: the result of a run, and the sinks that render the event
//! stream (`human` for people, `transcript` for every byte), and `file`
//! for report files written whole or not at all.

pub mod github;
pub mod file;
pub mod human;
pub mod json;
pub mod junit;
pub mod transcript;

use serde::Serialize;

use crate::checks::{CheckResult, Outcome};
use crate::manifest::Manifest;
use crate::rpc::RpcCall;

/// How lightningd would end up treating the plugin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "verdict")]
pub enum Verdict {
    /// lightningd would run it.
    Accepted,
    /// lightningd would kill it: `Killing plugin: <reason>`.
    Killed { check: String, reason: String },
    /// lightningd itself would stop.
    Fatal { check: String, reason: String },
    /// The plugin disabled itself.
    Disabled { check: String, reason: String },
    /// The harness stopped reading before it could judge (the plugin's
    /// output passed the pending cap): never reported as accepted.
    Undecided { check: String, reason: String },
}

/// A `log` notification the plugin sent.
#[derive(Clone, Debug, Serialize)]
pub struct LogLine {
    pub at_ms: f64,
    pub level: String,
    pub message: String,
}

/// Everything a run found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub plugin: String,
    pub profile: String,
    pub lightningd_version: String,
    pub verdict: Verdict,
    pub checks: Vec<CheckResult>,
    pub rpc_calls: Vec<RpcCall>,
    pub log: Vec<LogLine>,
    /// Log lines received but not kept (past 10,000 lines or 4 MiB).
    #[serde(skip_serializing_if = "is_zero")]
    pub log_dropped: usize,
    /// The end of what the plugin wrote to stderr.
    pub stderr_tail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Manifest>,
    /// How the process ended, e.g. `exit status: 0`.
    pub exit: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Counts of outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub warned: usize,
    pub skipped: usize,
}

impl Report {
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for r in &self.checks {
            match r.outcome {
                Outcome::Pass => c.passed += 1,
                Outcome::Fail => c.failed += 1,
                Outcome::Warn => c.warned += 1,
                Outcome::Skip => c.skipped += 1,
            }
        }
        c
    }

    /// True when any check failed.
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.outcome == Outcome::Fail)
    }

    /// True when no check produced an outcome other than SKIP.
    pub fn nothing_ran(&self) -> bool {
        self.checks.iter().all(|c| c.outcome == Outcome::Skip)
    }

    /// A check's result, by id.
    pub fn check(&self, id: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// Ids of the failed checks.
    pub fn failures(&self) -> Vec<&'static str> {
        self.checks.iter().filter(|c| c.outcome == Outcome::Fail).map(|c| c.id).collect()
    }

    /// Panics, listing every failed check with its message, if any failed:
    /// for plugin authors' tests.
    #[track_caller]
    pub fn assert_no_failures(&self) {
        let failed: Vec<String> = self
            .checks
            .iter()
            .filter(|c| c.outcome == Outcome::Fail)
            .map(|c| format!("  {} ({}): {}", c.id, c.tier.as_str(), c.message))
            .collect();
        assert!(
            failed.is_empty(),
            "{} against lightningd {}: {} check(s) failed:\n{}",
            self.plugin,
            self.lightningd_version,
            failed.len(),
            failed.join("\n")
        );
    }

    /// Panics unless check `id` had `outcome`, showing its message.
    #[track_caller]
    pub fn assert_check(&self, id: &str, outcome: Outcome) {
        match self.check(id) {
            Some(c) => assert_eq!(c.outcome, outcome, "{id}: {}", c.message),
            None => panic!("no check '{id}' in this run (see `cln-harness list`)"),
        }
    }
}
