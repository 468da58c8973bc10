//! GitHub Actions workflow annotations: each failed check as an `::error`,
//! each warning as a `::warning`, so they show on the run's summary page.
//! Used when `GITHUB_ACTIONS=true`.

use std::io::Write;

use crate::checks::Outcome;
use crate::events::{Event, Sink};

pub struct Annotations<W: Write> {
    out: W,
}

impl<W: Write> Annotations<W> {
    pub fn new(out: W) -> Self {
        Annotations { out }
    }
}

/// Workflow commands end at a newline, and `%` starts an escape.
fn escape(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape(s).replace(':', "%3A").replace(',', "%2C")
}

impl<W: Write> Sink for Annotations<W> {
    fn event(&mut self, event: &Event) {
        if let Event::RunFinished(r) = event {
            for c in &r.checks {
                let level = match c.outcome {
                    Outcome::Fail => "error",
                    Outcome::Warn => "warning",
                    _ => continue,
                };
                let title = escape_property(&format!("cln-harness {} ({})", c.id, r.profile));
                let hint = c.hint.as_deref().map(|h| format!("\nfix: {h}")).unwrap_or_default();
                let _ = writeln!(self.out, "::{level} title={title}::{}", escape(&format!("{}{hint}", c.message)));
            }
            let _ = self.out.flush();
        }
    }
}
