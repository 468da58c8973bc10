//! The transcript sink: every byte in both directions, with a timestamp,
//! as JSON Lines (`--transcript FILE`). Bytes that are not UTF-8 are
//! written as hex so nothing is lost.

use std::io::Write;

use serde_json::json;

use crate::events::{Event, Sink};

pub struct Transcript<W: Write> {
    out: W,
    /// The first write error, reported by `finish`.
    error: Option<std::io::Error>,
}

impl<W: Write> Transcript<W> {
    pub fn new(out: W) -> Self {
        Transcript { out, error: None }
    }
}

impl<W: Write> Sink for Transcript<W> {
    fn event(&mut self, event: &Event) {
        let line = match event {
            Event::Frame(f) => {
                let mut v = json!({"at_ms": (f.at_ms * 1000.0).round() / 1000.0, "dir": f.dir});
                match std::str::from_utf8(&f.bytes) {
                    Ok(text) => v["text"] = text.into(),
                    Err(_) => v["hex"] = f.bytes.iter().map(|b| format!("{b:02x}")).collect::<String>().into(),
                }
                v
            }
            Event::RunStarted { plugin, profile, version } => {
                json!({"at_ms": 0.0, "run": {"plugin": plugin, "profile": profile, "lightningd": version}})
            }
            Event::RunFinished(_) => {
                if let Err(e) = self.out.flush() {
                    self.error.get_or_insert(e);
                }
                return;
            }
            Event::Check(_) => return,
        };
        if self.error.is_none() {
            if let Err(e) = writeln!(self.out, "{line}") {
                self.error = Some(e);
            }
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()
    }
}
