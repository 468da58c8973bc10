//! The JUnit report: one test suite per run (plugin × profile), one test
//! case per check. Failures carry lightningd's words; warnings are passing
//! cases with the warning in their output, so CI systems show them without
//! failing the build. Plugin text is escaped ([`crate::sanitize`]): XML
//! cannot carry control characters, and CI pages render what it holds.

use std::io::Write;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use crate::checks::Outcome;
use crate::events::{Event, Sink};
use crate::report::Report;
use crate::sanitize;

pub struct Junit<W: Write> {
    out: W,
    suites: Vec<TestSuite>,
}

impl<W: Write> Junit<W> {
    pub fn new(out: W) -> Self {
        Junit { out, suites: Vec::new() }
    }
}

/// The test suite for one run.
pub fn suite(r: &Report) -> TestSuite {
    let mut suite = TestSuite::new(format!("cln-harness {} ({})", r.plugin, r.profile));
    for c in &r.checks {
        let mut status = match c.outcome {
            Outcome::Pass | Outcome::Warn => TestCaseStatus::success(),
            Outcome::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
            Outcome::Skip => TestCaseStatus::skipped(),
        };
        if matches!(c.outcome, Outcome::Fail | Outcome::Skip) {
            status.set_message(sanitize::lines(&c.message));
            status.set_type(c.tier.as_str());
        }
        let mut case = TestCase::new(c.id, status);
        case.set_classname(format!("{}.{}", r.profile, c.id.split('/').next().unwrap_or("")));
        if let Some(t) = c.latency {
            case.set_time(t);
        }
        let mut out = String::new();
        if c.outcome == Outcome::Warn {
            out.push_str(&format!("WARN: {}\n", sanitize::lines(&c.message)));
        }
        if let Some(h) = &c.hint {
            out.push_str(&format!("fix: {h}\n"));
        }
        if !out.is_empty() {
            case.set_system_out(out);
        }
        suite.add_test_case(case);
    }
    if r.failed() && !r.stderr_tail.is_empty() {
        suite.set_system_err(sanitize::lines(&r.stderr_tail));
    }
    suite
}

impl<W: Write> Sink for Junit<W> {
    fn event(&mut self, event: &Event) {
        if let Event::RunFinished(r) = event {
            self.suites.push(suite(r));
        }
    }

    /// Several runs (`--cln-version all`) make one document.
    fn finish(&mut self) -> std::io::Result<()> {
        let mut report = quick_junit::Report::new("cln-harness");
        report.add_test_suites(std::mem::take(&mut self.suites));
        report.serialize(&mut self.out).map_err(std::io::Error::other)?;
        self.out.flush()
    }
}
