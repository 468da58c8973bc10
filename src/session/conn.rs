//! One plugin process as lightningd sees it: the process, the reader of its
//! stdout, the requests it has not answered yet and the ones it has. A
//! fresh process gets a fresh connection, so no state carries over.

use std::collections::HashMap;
use std::time::Instant;

use crate::checks::CheckId;
use crate::process::{PluginProcess, Spawn};
use crate::profile::Profile;
use crate::wire::{Decoder, Id};

/// What a stretch of the plugin's stdin was for: the check its survival
/// counts for, and how a death is told ("after the 'connect' notification").
#[derive(Clone, Debug)]
pub(crate) struct Cause {
    pub(crate) check: CheckId,
    pub(crate) label: String,
}

/// A request the plugin has not answered yet.
pub(crate) struct Pending {
    pub(crate) sent: Instant,
}

pub(crate) struct Conn {
    pub(crate) proc: PluginProcess,
    pub(crate) decoder: Decoder,
    /// Requests sent and not answered, by id token.
    pub(crate) pending: HashMap<String, Pending>,
    /// Requests answered, by id token: a second answer is told apart from
    /// an answer to nothing.
    pub(crate) answered: Vec<String>,
    pub(crate) stdout_eof: bool,
    pub(crate) stderr_eof: bool,
    /// What the plugin wrote to stderr (the tail, for the report).
    pub(crate) stderr: Vec<u8>,
    /// Every write's end in the stdin stream and what it was for: an event
    /// is attributed to the write the plugin had read last.
    ledger: Vec<(u64, Cause)>,
    /// init is answered: from now on a death is "exited during normal
    /// operation", attributed by read position.
    pub(crate) running: bool,
    /// The run is ending it (stdin closed, or `shutdown` sent): an exit
    /// now is expected.
    pub(crate) stopping: bool,
    /// The read position at which the plugin was last seen done with its
    /// input (all read, idle): a death with nothing read since is not
    /// caused by an input.
    pub(crate) settled_at: Option<u64>,
}

impl Conn {
    /// Starts a process; `Err` is what `execvp` reported.
    pub(crate) fn spawn(spec: &Spawn, profile: &Profile, max_pending: usize) -> std::io::Result<Conn> {
        let proc = PluginProcess::spawn(spec)?;
        Ok(Conn {
            proc,
            decoder: Decoder::new(&profile.parser).with_cap(max_pending),
            pending: HashMap::new(),
            answered: Vec::new(),
            stdout_eof: false,
            stderr_eof: false,
            stderr: Vec::new(),
            ledger: Vec::new(),
            running: false,
            stopping: false,
            settled_at: None,
        })
    }

    /// Notes a request as sent: its answer is expected.
    pub(crate) fn expect(&mut self, id: &Id) {
        self.pending.insert(id.token(), Pending { sent: Instant::now() });
    }

    /// Writes `bytes` to the plugin, noting what they are for.
    pub(crate) fn write(&mut self, bytes: Vec<u8>, cause: &Cause) {
        self.proc.write(bytes);
        self.ledger.push((self.proc.sent(), cause.clone()));
    }

    /// What the plugin had read last when it had read `pos` bytes: the
    /// write holding byte `pos - 1`.
    pub(crate) fn cause_at(&self, pos: u64) -> Option<&Cause> {
        if pos == 0 {
            return None;
        }
        let i = self.ledger.partition_point(|(end, _)| *end < pos);
        self.ledger.get(i).map(|(_, c)| c)
    }

    /// What the plugin was reading or handling when it died: exact, since
    /// a dead plugin reads no more.
    pub(crate) fn cause_of_death(&self) -> Option<&Cause> {
        let pos = self.proc.consumed();
        if self.settled_at.is_some_and(|s| pos <= s) {
            return None;
        }
        self.cause_at(pos)
    }

    /// Keeps the last 32-64 KiB of stderr.
    pub(crate) fn keep_stderr(&mut self, bytes: &[u8]) {
        self.stderr.extend_from_slice(bytes);
        if self.stderr.len() > 64 * 1024 {
            let cut = self.stderr.len() - 32 * 1024;
            self.stderr.drain(..cut);
        }
    }
}
