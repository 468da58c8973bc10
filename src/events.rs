//! The event stream: the runner says what happens as it happens, and sinks
//! (the human report, the transcript, later JSON and JUnit) listen. No sink
//! decides a verdict; the runner does.

use serde::Serialize;

use crate::checks::CheckResult;
use crate::report::Report;

/// Which way bytes went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// lightningd (the harness) to the plugin's stdin.
    ToPlugin,
    /// The plugin's stdout.
    FromPlugin,
    /// The plugin's stderr.
    Stderr,
}

/// Bytes that crossed a pipe, when.
#[derive(Clone, Debug, Serialize)]
pub struct Frame {
    /// Milliseconds since the run started.
    pub at_ms: f64,
    pub dir: Direction,
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// Something that happened during a run.
#[derive(Clone, Debug)]
pub enum Event {
    RunStarted { plugin: String, profile: String, version: String },
    Frame(Frame),
    Check(CheckResult),
    RunFinished(Box<Report>),
}

/// Something that listens to a run.
///
/// A sink writes as events come, or keeps what it needs and writes it in
/// [`Sink::finish`], which the owner calls once every run is over: a write
/// that fails there (a full disk, an unwritable path) is an error the
/// owner sees, never lost in a `Drop`.
pub trait Sink {
    fn event(&mut self, event: &Event);

    /// Writes whatever is left and flushes; the first write error of the
    /// sink's life, if any.
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
