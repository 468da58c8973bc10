//! The human report: failures and warnings as they are decided, passes
//! folded per group, the plugin's RPC calls (and with `-v` its log), its
//! stderr when something failed, the verdict and a closing count. Colour
//! only on a terminal, and never with NO_COLOR.
//! Plugin text is shown through [`crate::sanitize`]: escape sequences
//! visible, workflow commands inert under GitHub Actions.

use std::io::Write;

use anstyle::{AnsiColor, Style};

use crate::checks::{Effect, Outcome};
use crate::events::{Event, Sink};
use crate::library::Library;
use crate::report::{Report, Verdict};
use crate::sanitize;

/// Text as it may reach the terminal: newlines kept, other controls shown.
fn clean(actions: bool, s: &str) -> String {
    let s = sanitize::lines(s);
    if actions {
        sanitize::actions(&s)
    } else {
        s
    }
}

/// Prints to any writer; wrap stdout in `anstream::AutoStream` for colour.
///
/// By default failures and warnings are printed in full as they are
/// decided, passes as one line per group at the end, RPC calls as a count
/// per method, and robust warnings whose cause is the plugin's library
/// (pyln-client, cln-plugin) as one line naming it. Verbose prints every
/// check, every call and the log; quiet only the verdict.
pub struct Human<W: Write> {
    out: W,
    verbose: bool,
    quiet: bool,
    /// Checks not reached, folded into one line unless verbose.
    skipped: Vec<(String, String)>,
    /// Passed checks, folded into a line per group unless verbose.
    passed: Vec<&'static str>,
    /// Robust warnings the plugin's library caused, folded per library
    /// unless verbose.
    library: Vec<(Library, &'static str)>,
    /// Stdout is read by the GitHub Actions runner.
    actions: bool,
}

impl<W: Write> Human<W> {
    pub fn new(out: W) -> Self {
        Human {
            out,
            verbose: false,
            quiet: false,
            skipped: Vec::new(),
            passed: Vec::new(),
            library: Vec::new(),
            actions: sanitize::in_actions(),
        }
    }

    /// Whether to make workflow commands inert (default: `GITHUB_ACTIONS=true`).
    pub fn actions(mut self, on: bool) -> Self {
        self.actions = on;
        self
    }

    /// Print every check, every RPC call, the plugin's log and every
    /// skipped check.
    pub fn verbose(mut self, on: bool) -> Self {
        self.verbose = on;
        self
    }

    /// Print the verdict line alone, after the profile's name.
    pub fn quiet(mut self, on: bool) -> Self {
        self.quiet = on;
        self
    }
}

/// The group a check belongs to: its id's first part (`manifest`, `wire`).
fn group(id: &str) -> &str {
    id.split('/').next().unwrap_or(id)
}

/// Items in order of first appearance, with how often each came.
fn counted<T: PartialEq + Clone>(items: impl IntoIterator<Item = T>) -> Vec<(T, usize)> {
    let mut out: Vec<(T, usize)> = Vec::new();
    for item in items {
        match out.iter_mut().find(|(x, _)| *x == item) {
            Some((_, n)) => *n += 1,
            None => out.push((item, 1)),
        }
    }
    out
}

/// The verdict as one line.
pub fn verdict_line(r: &Report) -> String {
    match &r.verdict {
        Verdict::Accepted => "lightningd would accept this plugin".to_owned(),
        Verdict::Killed { check, .. } => format!("lightningd would kill this plugin ({check})"),
        Verdict::Fatal { check, .. } => format!("this plugin would stop lightningd itself ({check})"),
        Verdict::Disabled { reason, .. } => format!("DISABLED: the plugin disabled itself: {}", sanitize::text(&clip(reason, 400))),
        Verdict::Undecided { check, .. } => format!("the harness cannot tell what lightningd would do ({check})"),
    }
}

fn style(outcome: Outcome) -> Style {
    match outcome {
        Outcome::Pass => AnsiColor::Green.on_default(),
        Outcome::Warn => AnsiColor::Yellow.on_default(),
        Outcome::Fail => AnsiColor::Red.on_default().bold(),
        Outcome::Skip => AnsiColor::BrightBlack.on_default(),
    }
}

/// Long quoted buffers are cut for the terminal; the JSON report and the
/// transcript keep every byte.
fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes)", &s[..end], s.len() - end)
}

impl<W: Write> Human<W> {
    fn finish_run(&mut self, r: &Report) -> std::io::Result<()> {
        let a = self.actions;
        let c1 = |s: &str| clean(a, &sanitize::text(s));
        let o = &mut self.out;
        if self.quiet {
            writeln!(o, "{}: {}", r.profile, verdict_line(r))?;
            return o.flush();
        }
        let warn = style(Outcome::Warn);
        for (lib, n) in counted(self.library.iter().map(|(l, _)| *l)) {
            let cases: Vec<&str> =
                self.library.iter().filter(|(l, _)| *l == lib).map(|(_, id)| id.split_once('/').map_or(*id, |(_, rule)| rule)).collect();
            writeln!(
                o,
                "{warn}WARN{warn:#} {:<34} {} exits on input lightningd never sends ({n} check{}: {})",
                "robust/*",
                lib.name(),
                if n == 1 { "" } else { "s" },
                cases.join(", ")
            )?;
            writeln!(
                o,
                "     {:<34} its reader, not this plugin's code, gives up (docs/protocol.md#s12); --strict fails them, -v shows each",
                ""
            )?;
        }
        let pass = style(Outcome::Pass);
        for (g, n) in counted(self.passed.iter().map(|id| group(id))) {
            writeln!(o, "{pass}PASS{pass:#} {:<34} {n} check{} passed", format!("{g}/*"), if n == 1 { "" } else { "s" })?;
        }
        // One line per reason: checks not reached, and checks the platform
        // cannot make, are different news.
        let mut reasons: Vec<(&str, Vec<&str>)> = Vec::new();
        for (id, why) in &self.skipped {
            match reasons.iter_mut().find(|(w, _)| w == why) {
                Some((_, ids)) => ids.push(id),
                None => reasons.push((why, vec![id])),
            }
        }
        let s = style(Outcome::Skip);
        for (why, ids) in reasons {
            let n = ids.len();
            writeln!(o, "{s}SKIP{s:#} {n} check{} {why}{}", if n == 1 { "" } else { "s" }, if self.verbose { ":" } else { " (-v lists them)" })?;
            if self.verbose {
                for id in ids {
                    writeln!(o, "       {id}")?;
                }
            }
        }
        if !r.rpc_calls.is_empty() && self.verbose {
            writeln!(o, "\nRPC calls the plugin made ({}):", r.rpc_calls.len())?;
            for c in &r.rpc_calls {
                let answer = if c.is_error() { format!("error {}", c.response["error"]) } else { "answered".to_owned() };
                writeln!(
                    o,
                    "  {:>8.1} ms  {} {}  -> {}",
                    c.at_ms,
                    c1(&clip(&c.method, 80)),
                    c1(&clip(&c.params.to_string(), 80)),
                    c1(&clip(&answer, 100))
                )?;
            }
        } else if !r.rpc_calls.is_empty() {
            let per_method: Vec<String> =
                counted(r.rpc_calls.iter().map(|c| c.method.as_str())).into_iter().map(|(m, n)| format!("{} ×{n}", clip(m, 80))).collect();
            writeln!(o, "\nRPC calls the plugin made ({}): {} (-v lists them)", r.rpc_calls.len(), per_method.join(", "))?;
        }
        if self.verbose && !r.log.is_empty() {
            // Each fresh process (robust cases) logs its start-up again:
            // a line is shown once, with how often it came.
            writeln!(o, "\nPlugin log:")?;
            if r.log_dropped > 0 {
                writeln!(o, "  ({} later lines not kept: the report keeps 10,000 lines or 4 MiB)", r.log_dropped)?;
            }
            let first_at =
                |level: &str, message: &str| r.log.iter().find(|l| l.level == level && l.message == message).map_or(0.0, |l| l.at_ms);
            for ((level, message), n) in counted(r.log.iter().map(|l| (l.level.as_str(), l.message.as_str()))) {
                let times = if n > 1 { format!(" (×{n})") } else { String::new() };
                writeln!(o, "  {:>8.1} ms  {:<7} {}{times}", first_at(level, message), c1(level), c1(&clip(message, 200)))?;
            }
        }
        if r.failed() && !r.stderr_tail.trim().is_empty() {
            writeln!(o, "\nPlugin stderr (last lines):")?;
            for line in r.stderr_tail.lines() {
                writeln!(o, "  | {}", c1(&clip(line, 400)))?;
            }
        }
        writeln!(o, "\n{}", verdict_line(r))?;
        let c = r.counts();
        writeln!(o, "{} passed, {} failed, {} warned, {} skipped", c.passed, c.failed, c.warned, c.skipped)?;
        o.flush()
    }
}

impl<W: Write> Sink for Human<W> {
    fn event(&mut self, event: &Event) {
        let _ = match event {
            Event::RunStarted { .. } | Event::Check(_) if self.quiet => Ok(()),
            Event::RunStarted { plugin, profile, version } => {
                writeln!(
                    self.out,
                    "cln-harness: {} against lightningd {version} (profile {profile})\n",
                    clean(self.actions, &sanitize::text(plugin))
                )
            }
            Event::Check(c) if c.outcome == Outcome::Skip && !c.message.starts_with(crate::checks::NOT_JUDGED) => {
                self.skipped.push((c.id.to_owned(), c.message.clone()));
                Ok(())
            }
            Event::Check(c) if c.outcome == Outcome::Pass && !self.verbose => {
                self.passed.push(c.id);
                Ok(())
            }
            Event::Check(c) if c.outcome == Outcome::Warn && !self.verbose && c.library.is_some() => {
                self.library.extend(c.library.map(|l| (l, c.id)));
                Ok(())
            }
            Event::Check(c) => (|| {
                let s = style(c.outcome);
                let message = clean(self.actions, &c.message);
                let mut lines = message.lines();
                let first = lines.next().unwrap_or("");
                writeln!(self.out, "{s}{}{s:#} {:<34} {}", c.outcome.as_str(), c.id, clip(first, 400))?;
                for more in lines.take(60) {
                    writeln!(self.out, "     {:<34} {}", "", clip(more, 400))?;
                }
                if c.outcome == Outcome::Fail || c.outcome == Outcome::Warn {
                    if let Some(Effect::Fatal(text)) = &c.effect {
                        writeln!(self.out, "     {:<34} lightningd: {}", "", clean(self.actions, &sanitize::text(&clip(text, 300))))?;
                    }
                    if let Some(h) = &c.hint {
                        writeln!(self.out, "     {:<34} fix: {h}", "")?;
                    }
                }
                Ok(())
            })(),
            Event::RunFinished(r) => self.finish_run(r),
            Event::Frame(_) => Ok(()),
        };
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    //! Snapshots of the human report for one fixed run: the default view,
    //! `-v` and `-q`.

    use super::*;
    use crate::checks::{CheckResult, Tier};
    use crate::report::LogLine;
    use crate::rpc::RpcCall;

    fn check(id: &'static str, outcome: Outcome, message: &str) -> CheckResult {
        CheckResult {
            id,
            tier: if id.starts_with("robust/") { Tier::Robust } else { Tier::Kill },
            outcome,
            message: message.into(),
            effect: None,
            hint: None,
            latency: None,
            library: None,
        }
    }

    fn run() -> (Vec<CheckResult>, Report) {
        let mut failed = check("manifest/options/taken", Outcome::Fail, "option name 'network' is already taken");
        failed.effect = Some(Effect::Fatal("error starting plugin '/p/plugin.py': option name 'network' is already taken".into()));
        failed.hint = Some("Prefix option names with the plugin's name, e.g. `myplugin-network`.".into());
        let mut lib = check("robust/unknown-method", Outcome::Warn, "after a request for a method it does not have: it exited");
        lib.library = Some(Library::PylnClient);
        let mut lib2 = check("robust/no-params", Outcome::Warn, "after a 'connect' notification without params: it exited");
        lib2.library = Some(Library::PylnClient);
        let own = check("robust/terminators", Outcome::Warn, "after messages separated by one and by three newlines: it exited");
        let checks = vec![
            check("spawn/exec", Outcome::Pass, "started as pid 4242"),
            check("getmanifest/exit", Outcome::Pass, "alive until it answered getmanifest"),
            check("getmanifest/timeout", Outcome::Pass, "answered getmanifest in 31.2 ms"),
            check("manifest/result", Outcome::Pass, "a result object"),
            failed,
            lib,
            own,
            lib2,
            check("init/exit", Outcome::Skip, "not reached: lightningd stops at manifest/options/taken"),
            check("init/timeout", Outcome::Skip, "not reached: lightningd stops at manifest/options/taken"),
        ];
        let call = |at_ms: f64, method: &str| RpcCall {
            at_ms,
            method: method.into(),
            params: serde_json::json!({}),
            response: serde_json::json!({"result": {}}),
        };
        let line = |at_ms: f64, message: &str| LogLine { at_ms, level: "info".into(), message: message.into() };
        let report = Report {
            plugin: "/p/plugin.py".into(),
            profile: "v26.06".into(),
            lightningd_version: "v26.06.6".into(),
            verdict: Verdict::Fatal { check: "manifest/options/taken".into(), reason: "option name 'network' is already taken".into() },
            checks: checks.clone(),
            rpc_calls: vec![call(12.0, "getinfo"), call(15.5, "listpeers"), call(20.0, "getinfo")],
            // Each fresh process logs its start-up again.
            log: vec![line(10.0, "plugin started"), line(300.0, "plugin started"), line(310.0, "peer connected")],
            log_dropped: 0,
            stderr_tail: "Traceback (most recent call last):\nValueError: boom\n".into(),
            manifest: None,
            exit: Some("exit status: 1".into()),
        };
        (checks, report)
    }

    fn render(configure: impl Fn(Human<Vec<u8>>) -> Human<Vec<u8>>) -> String {
        let (checks, report) = run();
        let mut h = configure(Human::new(Vec::new()));
        h.event(&Event::RunStarted {
            plugin: report.plugin.clone(),
            profile: report.profile.clone(),
            version: report.lightningd_version.clone(),
        });
        for c in checks {
            h.event(&Event::Check(c));
        }
        h.event(&Event::RunFinished(Box::new(report)));
        // As a terminal without colour shows it.
        anstream::adapter::strip_str(&String::from_utf8(h.out).unwrap()).to_string()
    }

    #[test]
    fn default_shows_failures_and_warnings_in_full_and_folds_the_rest() {
        let out = render(|h| h);
        // Passes folded per group; the library's warnings on one line; calls counted.
        assert!(out.contains("PASS getmanifest/*") && !out.contains("getmanifest/timeout"), "{out}");
        assert!(out.contains("pyln-client exits on input lightningd never sends (2 checks: unknown-method, no-params)"), "{out}");
        assert!(out.contains("WARN robust/terminators"), "the plugin's own exit stays on its own line: {out}");
        assert!(out.contains("getinfo ×2, listpeers ×1"), "{out}");
        assert!(!out.contains("Plugin log:"), "{out}");
        insta::assert_snapshot!("default", out);
    }

    #[test]
    fn verbose_shows_every_check_call_and_log_line_once() {
        let out = render(|h| h.verbose(true));
        assert!(out.contains("PASS getmanifest/timeout") && out.contains("WARN robust/unknown-method"), "{out}");
        assert!(out.contains("plugin started (×2)"), "{out}");
        insta::assert_snapshot!("verbose", out);
    }

    #[test]
    fn quiet_shows_the_verdict_alone() {
        let out = render(|h| h.quiet(true));
        assert_eq!(out, "v26.06: this plugin would stop lightningd itself (manifest/options/taken)\n");
    }

    #[test]
    fn skips_for_different_reasons_get_a_line_each() {
        let (mut checks, mut report) = run();
        let platform = check("lifecycle/children", Outcome::Skip, "not checked: this platform does not show the harness a plugin's descendants");
        checks.push(platform.clone());
        report.checks.push(platform);
        let mut h = Human::new(Vec::new());
        for c in checks {
            h.event(&Event::Check(c));
        }
        h.event(&Event::RunFinished(Box::new(report)));
        let out = anstream::adapter::strip_str(&String::from_utf8(h.out).unwrap()).to_string();
        assert!(out.contains("SKIP 2 checks not reached: lightningd stops at manifest/options/taken (-v lists them)"), "{out}");
        assert!(out.contains("SKIP 1 check not checked: this platform does not show"), "{out}");
    }
}
