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
    /// The request's method, once its bytes are written.
    pub(crate) method: Option<String>,
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
    /// When the plugin was last seen done with its input (or started).
    pub(crate) settled_when: Instant,
    /// What evidence the last wait for it went without (the plugin did not
    /// read all its input, or did not go idle): until the plugin shows it,
    /// further waits look once and do not wait again.
    pub(crate) unsettled: Option<String>,
    /// The request after init the plugin never answered, in words: until it
    /// answers anything, waits for answers do not wait again.
    pub(crate) silent: Option<String>,
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
            settled_when: Instant::now(),
            unsettled: None,
            silent: None,
        })
    }

    /// Notes a request as sent: its answer is expected.
    pub(crate) fn expect(&mut self, id: &Id) {
        self.pending.insert(id.token(), Pending { sent: Instant::now(), method: None });
    }

    /// Writes `bytes` to the plugin, noting what they are for.
    pub(crate) fn write(&mut self, bytes: Vec<u8>, cause: &Cause) {
        // Name the pending request these bytes carry, for a report that it
        // went unanswered (a huge message is not parsed for it).
        if !self.pending.is_empty() && bytes.len() <= 64 * 1024 {
            if let Some(doc) = crate::jsmn::Doc::parse(&bytes) {
                let root = doc.root();
                if let (Some(id), Some(method)) = (root.get("id"), root.get("method")) {
                    if let Some(p) = self.pending.get_mut(&id.full_text()) {
                        p.sent = Instant::now();
                        p.method = Some(method.text());
                    }
                }
            }
        }
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

    /// What the plugin had not shown `waited` after it was last idle: how
    /// much of its input it had read, or that it was still running.
    pub(crate) fn missing_evidence(&self) -> String {
        let from = self.settled_at.unwrap_or(0);
        let sent = self.proc.sent().saturating_sub(from);
        let read = self.proc.consumed().saturating_sub(from).min(sent);
        let secs = self.settled_when.elapsed().as_secs_f64();
        if read < sent {
            format!("the plugin had read {read} of the {sent} bytes sent since it was last idle, {secs:.1} s later (it stopped reading its stdin)")
        } else if self.proc.activity() != crate::process::Activity::Waiting {
            format!("the plugin had read all {sent} bytes sent since it was last idle but was still running {secs:.1} s later")
        } else {
            format!("the plugin's output was still arriving {secs:.1} s after it was last idle")
        }
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
