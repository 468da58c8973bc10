//! The JSON report: every run of one invocation (one per profile) in one
//! document, written when the sink finishes. Its shape is
//! `fixtures/schemas/report.schema.json`.

use std::io::Write;

use serde_json::{json, Value};

use crate::events::{Event, Sink};
use crate::report::Report;

/// Version of the JSON report's shape; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

pub struct Json<W: Write> {
    out: W,
    runs: Vec<Value>,
    error: Option<String>,
}

impl<W: Write> Json<W> {
    pub fn new(out: W) -> Self {
        Json { out, runs: Vec::new(), error: None }
    }

    /// The invocation stopped on an error: the document says why.
    pub fn error(&mut self, message: &str) {
        self.error = Some(message.to_owned());
    }
}

/// One run as the JSON report writes it.
pub fn run_value(r: &Report) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    v["counts"] = serde_json::to_value(r.counts()).unwrap_or_default();
    v["failed"] = r.failed().into();
    v
}

/// The whole document for these runs.
pub fn document(runs: Vec<Value>) -> Value {
    json!({
        "format_version": FORMAT_VERSION,
        "tool": {"name": "cln-harness", "version": env!("CARGO_PKG_VERSION")},
        "runs": runs,
    })
}

/// The document for an invocation that could not run: no runs, and why.
pub fn error_document(message: &str) -> Value {
    let mut doc = document(Vec::new());
    doc["error"] = json!({ "message": message });
    doc
}

impl<W: Write> Sink for Json<W> {
    fn event(&mut self, event: &Event) {
        if let Event::RunFinished(r) = event {
            self.runs.push(run_value(r));
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        let mut doc = document(std::mem::take(&mut self.runs));
        if let Some(e) = &self.error {
            doc["error"] = json!({ "message": e });
        }
        serde_json::to_writer_pretty(&mut self.out, &doc)?;
        writeln!(self.out)?;
        self.out.flush()
    }
}
