//! One plugin process as lightningd sees it: the process, the reader of its
//! stdout, the requests it has not answered yet and the ones it has. A
//! fresh process gets a fresh connection, so no state carries over.

use std::collections::HashMap;
use std::time::Instant;

use crate::process::{PluginProcess, Spawn};
use crate::profile::Profile;
use crate::wire::{Decoder, Id};

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
        })
    }

    /// Notes a request as sent: its answer is expected.
    pub(crate) fn expect(&mut self, id: &Id) {
        self.pending.insert(id.token(), Pending { sent: Instant::now() });
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
