//! The socket side of the mock lightning-rpc: accepting connections,
//! splitting each byte stream into requests, and writing the answers, all
//! within fixed limits so a hostile plugin cannot exhaust the harness.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::{Limits, Shared};

/// Where a top-level JSON value ends, found in one pass over each byte: a
/// request is parsed once, when complete, so a huge one costs linear time.
#[derive(Default)]
pub(super) struct Splitter {
    /// Bytes of `buf` already scanned.
    scanned: usize,
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// Where the current value started, once a non-space byte was seen.
    start: Option<usize>,
}

/// What the splitter found in the buffer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Split {
    /// A whole object or array: `buf[start..end]`.
    Value { start: usize, end: usize },
    /// The value starts with a byte that cannot begin an object or array.
    Garbage,
    /// More bytes are needed.
    Incomplete,
}

impl Splitter {
    pub(super) fn next(&mut self, buf: &[u8]) -> Split {
        while self.scanned < buf.len() {
            let b = buf[self.scanned];
            self.scanned += 1;
            if self.start.is_none() {
                match b {
                    b' ' | b'\t' | b'\r' | b'\n' => continue,
                    b'{' | b'[' => {
                        self.start = Some(self.scanned - 1);
                        self.depth = 1;
                        continue;
                    }
                    _ => return Split::Garbage,
                }
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        let start = self.start.take().unwrap_or(0);
                        return Split::Value { start, end: self.scanned };
                    }
                }
                _ => {}
            }
        }
        Split::Incomplete
    }

    /// Bytes of the value being read so far.
    pub(super) fn pending_len(&self, buf: &[u8]) -> usize {
        self.start.map(|s| buf.len() - s).unwrap_or(0)
    }

    /// Forgets the first `n` bytes of the buffer (already handled).
    pub(super) fn consumed(&mut self, n: usize) {
        self.scanned -= n;
        if let Some(s) = self.start.as_mut() {
            *s -= n;
        }
    }
}

/// Accepts connections until `stop`, waiting on the listener and on
/// `woken`, which becomes readable (EOF) when the mock is dropped.
pub(super) fn accept_loop(listener: UnixListener, woken: UnixStream, stop: Arc<AtomicBool>, shared: Arc<Shared>) {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    // The release's commands are read now, while the plugin starts up (a
    // Python plugin takes tens of milliseconds), not on its first call.
    let _ = shared.api();
    let active = Arc::new(AtomicUsize::new(0));
    // Bounds a wait should the wake-up be lost; it is not a pace.
    let bound = Timespec { tv_sec: 1, tv_nsec: 0 };
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let now = active.load(Ordering::SeqCst);
                if now >= shared.limits.connections {
                    // Closing at once bounds threads and memory; the plugin
                    // sees its connection closed, as by a node out of fds.
                    shared.stats.refused.fetch_add(1, Ordering::SeqCst);
                    drop(stream);
                    continue;
                }
                active.fetch_add(1, Ordering::SeqCst);
                shared.stats.peak.fetch_max(now + 1, Ordering::SeqCst);
                let (stop2, shared2, active2) = (stop.clone(), shared.clone(), active.clone());
                let spawned = thread::Builder::new().name("mock-rpc-conn".into()).spawn(move || {
                    serve(stream, &stop2, &shared2);
                    active2.fetch_sub(1, Ordering::SeqCst);
                });
                if spawned.is_err() {
                    active.fetch_sub(1, Ordering::SeqCst);
                    shared.stats.refused.fetch_add(1, Ordering::SeqCst);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::Interrupted => {
                let mut fds = [PollFd::new(&listener, PollFlags::IN), PollFd::new(&woken, PollFlags::IN)];
                let _ = poll(&mut fds, Some(&bound));
            }
            // Out of descriptors, say: the plugin's connection waits in the
            // backlog meanwhile.
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn serve(mut stream: UnixStream, stop: &AtomicBool, shared: &Shared) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let conn = shared.stats.connections.fetch_add(1, Ordering::SeqCst);
    let mut buf: Vec<u8> = Vec::new();
    let mut split = Splitter::default();
    let mut chunk = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::SeqCst) {
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
        // Requests may be pipelined; answer each complete one in order.
        let mut used = 0;
        loop {
            match split.next(&buf) {
                Split::Value { start, end } => {
                    let reply = shared.handle(conn, &buf[start..end]);
                    if write_reply(&mut stream, &reply).is_err() {
                        return;
                    }
                    used = end;
                }
                Split::Garbage => {
                    // lightningd's parser fails, answers, and half-closes.
                    let reply = super::malformed("null", "Invalid token in json input");
                    let _ = write_reply(&mut stream, &reply);
                    return;
                }
                Split::Incomplete => break,
            }
        }
        buf.drain(..used);
        split.consumed(used);
        let pending = split.pending_len(&buf);
        if pending > shared.limits.request_bytes {
            shared.stats.oversized.fetch_max(pending, Ordering::SeqCst);
            let reply = super::malformed("null", &format!("request larger than the mock's limit of {} bytes", shared.limits.request_bytes));
            let _ = write_reply(&mut stream, &reply);
            return;
        }
    }
}

fn write_reply(stream: &mut UnixStream, reply: &[u8]) -> std::io::Result<()> {
    stream.write_all(reply)?;
    stream.write_all(b"\n\n")
}

impl Limits {
    /// The default limits: far above what a plugin needs, far below what
    /// hurts the machine.
    pub const DEFAULT: Limits = Limits { request_bytes: 16 << 20, connections: 64, recorded_calls: 1000 };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(bytes: &[u8]) -> Vec<Split> {
        let mut s = Splitter::default();
        let mut out = Vec::new();
        loop {
            match s.next(bytes) {
                Split::Incomplete => return out,
                x => {
                    let garbage = x == Split::Garbage;
                    out.push(x);
                    if garbage {
                        return out;
                    }
                }
            }
        }
    }

    #[test]
    fn splits_pipelined_values_and_ignores_brackets_in_strings() {
        let text = br#"{"a":"}\"{"} [1,{"b":[]}]
{"c":1"#;
        assert_eq!(all(text), vec![Split::Value { start: 0, end: 12 }, Split::Value { start: 13, end: 25 }]);
        assert_eq!(all(b"  nope"), vec![Split::Garbage]);
    }

    #[test]
    fn resumes_where_it_stopped() {
        let mut s = Splitter::default();
        let mut buf = b"{\"a\":".to_vec();
        assert_eq!(s.next(&buf), Split::Incomplete);
        assert_eq!(s.pending_len(&buf), 5);
        buf.extend_from_slice(b"1}{");
        assert_eq!(s.next(&buf), Split::Value { start: 0, end: 7 });
        buf.drain(..7);
        s.consumed(7);
        buf.extend_from_slice(b"}");
        assert_eq!(s.next(&buf), Split::Value { start: 0, end: 2 });
    }
}
