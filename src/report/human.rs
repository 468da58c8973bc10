//! The human report: one line per check as it is decided, then the plugin's
//! RPC calls and log, its stderr when something failed, the verdict and a
//! closing count. Colour only on a terminal, and never with NO_COLOR.

use std::io::Write;

use anstyle::{AnsiColor, Style};

use crate::checks::{Effect, Outcome};
use crate::events::{Event, Sink};
use crate::report::{Report, Verdict};

/// Prints to any writer; wrap stdout in `anstream::AutoStream` for colour.
pub struct Human<W: Write> {
    out: W,
    verbose: bool,
    /// Checks not reached, folded into one line unless verbose.
    skipped: Vec<(String, String)>,
}

impl<W: Write> Human<W> {
    pub fn new(out: W) -> Self {
        Human { out, verbose: false, skipped: Vec::new() }
    }

    /// Also print passing checks' requirements and the plugin's log.
    pub fn verbose(mut self, on: bool) -> Self {
        self.verbose = on;
        self
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
    fn finish(&mut self, r: &Report) -> std::io::Result<()> {
        let o = &mut self.out;
        if let Some((_, why)) = self.skipped.first() {
            let s = style(Outcome::Skip);
            writeln!(o, "{s}SKIP{s:#} {} checks {why}{}", self.skipped.len(), if self.verbose { ":" } else { " (-v lists them)" })?;
            if self.verbose {
                for (id, _) in &self.skipped {
                    writeln!(o, "       {id}")?;
                }
            }
        }
        if !r.rpc_calls.is_empty() {
            writeln!(o, "\nRPC calls the plugin made ({}):", r.rpc_calls.len())?;
            for c in &r.rpc_calls {
                let answer = if c.is_error() { format!("error {}", c.response["error"]) } else { "answered".to_owned() };
                writeln!(o, "  {:>8.1} ms  {} {}  -> {}", c.at_ms, c.method, clip(&c.params.to_string(), 80), clip(&answer, 100))?;
            }
        }
        if self.verbose && !r.log.is_empty() {
            writeln!(o, "\nPlugin log:")?;
            for l in &r.log {
                writeln!(o, "  {:>8.1} ms  {:<7} {}", l.at_ms, l.level, clip(&l.message, 200))?;
            }
        }
        if r.failed() && !r.stderr_tail.trim().is_empty() {
            writeln!(o, "\nPlugin stderr (last lines):")?;
            for line in r.stderr_tail.lines() {
                writeln!(o, "  | {line}")?;
            }
        }
        let verdict = match &r.verdict {
            Verdict::Accepted => "lightningd would accept this plugin".to_owned(),
            Verdict::Killed { check, .. } => format!("lightningd would kill this plugin ({check})"),
            Verdict::Fatal { check, .. } => format!("this plugin would stop lightningd itself ({check})"),
            Verdict::Disabled { reason, .. } => format!("DISABLED: the plugin disabled itself: {reason}"),
        };
        writeln!(o, "\n{verdict}")?;
        let c = r.counts();
        writeln!(o, "{} passed, {} failed, {} warned, {} skipped", c.passed, c.failed, c.warned, c.skipped)?;
        o.flush()
    }
}

impl<W: Write> Sink for Human<W> {
    fn event(&mut self, event: &Event) {
        let _ = match event {
            Event::RunStarted { plugin, profile, version } => {
                writeln!(self.out, "cln-harness: {plugin} against lightningd {version} (profile {profile})\n")
            }
            Event::Check(c) if c.outcome == Outcome::Skip => {
                self.skipped.push((c.id.to_owned(), c.message.clone()));
                Ok(())
            }
            Event::Check(c) => (|| {
                let s = style(c.outcome);
                let mut lines = c.message.lines();
                let first = lines.next().unwrap_or("");
                writeln!(self.out, "{s}{}{s:#} {:<34} {}", c.outcome.as_str(), c.id, clip(first, 400))?;
                for more in lines.take(60) {
                    writeln!(self.out, "     {:<34} {}", "", clip(more, 400))?;
                }
                if c.outcome == Outcome::Fail || c.outcome == Outcome::Warn {
                    if let Some(Effect::Fatal(text)) = &c.effect {
                        writeln!(self.out, "     {:<34} lightningd: {}", "", clip(text, 300))?;
                    }
                    if let Some(h) = &c.hint {
                        writeln!(self.out, "     {:<34} fix: {h}", "")?;
                    }
                }
                Ok(())
            })(),
            Event::RunFinished(r) => self.finish(r),
            Event::Frame(_) => Ok(()),
        };
    }
}
