//! GitHub Actions workflow annotations: each failed check as an `::error`,
//! each warning as a `::warning`, so they show on the run's summary page.
//! Used when `GITHUB_ACTIONS=true`.

use std::io::Write;

use crate::checks::Outcome;
use crate::events::{Event, Sink};
use crate::sanitize;

pub struct Annotations<W: Write> {
    out: W,
    error: Option<std::io::Error>,
}

impl<W: Write> Annotations<W> {
    pub fn new(out: W) -> Self {
        Annotations { out, error: None }
    }
}

/// Workflow commands end at a newline, and `%` starts an escape (GitHub's
/// rules for command data). Other control characters are made visible and
/// `##[` broken up: the runner looks for it anywhere in a line.
fn escape(s: &str) -> String {
    sanitize::actions(&sanitize::lines(s)).replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
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
                if let Err(e) = writeln!(self.out, "::{level} title={title}::{}", escape(&format!("{}{hint}", c.message))) {
                    self.error.get_or_insert(e);
                }
            }
            if let Err(e) = self.out.flush() {
                self.error.get_or_insert(e);
            }
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        match self.error.take() {
            Some(e) => Err(e),
            None => self.out.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_and_properties_are_escaped() {
        assert_eq!(escape("50% a\r\nb"), "50%25 a\\r%0Ab");
        assert_eq!(escape("x\n::add-mask::y ##[z"), "x%0A\\x3a:add-mask::y #\\x23[z");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
        assert_eq!(escape("\x1b[31m"), "\\x1b[31m");
    }
}
