//! The plugin process: spawned as lightningd spawns it, in a process group
//! of its own, with its pipes served by threads so that no wait in the
//! harness can block without a deadline.
//!
//! Death is judged as lightningd judges it: by EOF on the plugin's stdout
//! (§1.2), not by the pid. Whatever happens, dropping a [`PluginProcess`]
//! kills its whole process group.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// What to run, and how.
#[derive(Clone, Debug)]
pub struct Spawn {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    pub cwd: PathBuf,
}

/// Something the plugin's pipes produced.
#[derive(Debug)]
pub enum Output {
    Stdout(Instant, Vec<u8>),
    StdoutEof(Instant),
    Stderr(Instant, Vec<u8>),
    StderrEof(Instant),
}

/// A running plugin.
pub struct PluginProcess {
    child: Child,
    pgid: i32,
    stdin: Option<Sender<Vec<u8>>>,
    /// Bytes handed to the writer thread and not yet written.
    queued: Arc<AtomicUsize>,
    /// Bytes handed to the writer thread in all, less what could not be
    /// written: with `queued` and the pipe's fill, how far the plugin read.
    sent: Arc<AtomicU64>,
    /// The writer hit EPIPE: nothing more will be read.
    broken: Arc<AtomicBool>,
    /// A duplicate of the stdout pipe's read end, to ask whether output
    /// is still waiting for the reader thread.
    stdout_probe: i32,
    /// A duplicate of the stdin pipe's descriptor, to ask how much of what
    /// was written the plugin has not read yet.
    stdin_probe: i32,
    output: Receiver<Output>,
    exit: Option<ExitStatus>,
}

/// `strerror(errno)` as lightningd prints it.
pub fn strerror(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => unsafe {
            let p = libc::strerror(code);
            std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
        },
        None => err.to_string(),
    }
}

impl PluginProcess {
    /// Starts the plugin. An `Err` is what `execvp` reported.
    pub fn spawn(spec: &Spawn) -> std::io::Result<PluginProcess> {
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&spec.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // If the harness itself dies, the plugin goes too.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let pgid = child.id() as i32;
        register_group(pgid);

        let (tx, output) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stdout_probe = unsafe { libc::fcntl(stdout.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
        let stderr = child.stderr.take().expect("stderr is piped");
        let stdin = child.stdin.take().expect("stdin is piped");
        pump(stdout, tx.clone(), true);
        pump(stderr, tx, false);
        // Close-on-exec: a plugin spawned meanwhile by another thread (the
        // library runs in test harnesses) must not inherit this end of the
        // pipe, or this plugin never sees EOF on its stdin.
        let stdin_probe = unsafe { libc::fcntl(stdin.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
        let queued = Arc::new(AtomicUsize::new(0));
        let sent = Arc::new(AtomicU64::new(0));
        let broken = Arc::new(AtomicBool::new(false));
        let stdin = writer(stdin, queued.clone(), sent.clone(), broken.clone());
        Ok(PluginProcess { child, pgid, stdin: Some(stdin), queued, sent, broken, stdout_probe, stdin_probe, output, exit: None })
    }

    /// Queues bytes for the plugin's stdin; never blocks.
    pub fn write(&self, bytes: Vec<u8>) {
        if let Some(tx) = &self.stdin {
            let n = bytes.len();
            self.queued.fetch_add(n, Ordering::SeqCst);
            self.sent.fetch_add(n as u64, Ordering::SeqCst);
            if tx.send(bytes).is_err() {
                self.queued.fetch_sub(n, Ordering::SeqCst);
                self.sent.fetch_sub(n as u64, Ordering::SeqCst);
            }
        }
    }

    /// Whether the writer has nothing in hand: all written, or given up
    /// because the plugin is gone. Only then is [`consumed`](Self::consumed)
    /// exact for a dead plugin.
    pub fn writer_done(&self) -> bool {
        self.queued.load(Ordering::SeqCst) == 0 || self.broken.load(Ordering::SeqCst)
    }

    /// Bytes handed to [`write`](Self::write) so far: the stream position
    /// after the last write.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    /// How many bytes of its stdin the plugin has read: what was written,
    /// less what is still queued or waiting in the pipe. Exact once the
    /// plugin is dead; the events it caused are attributed by it.
    pub fn consumed(&self) -> u64 {
        let queued = self.queued.load(Ordering::SeqCst) as u64;
        let in_pipe = fionread(self.stdin_probe).unwrap_or(0) as u64;
        self.sent().saturating_sub(queued).saturating_sub(in_pipe)
    }

    /// Whether everything the plugin wrote to stdout so far has been taken
    /// from the pipe by the reader thread.
    pub fn stdout_taken(&self) -> bool {
        fionread(self.stdout_probe).is_none_or(|n| n == 0)
    }

    /// Whether the plugin is waiting for input with nothing else to do: no
    /// thread of it is running or waiting on a disk, and one is blocked
    /// reading its stdin or waiting for descriptors (poll, select, epoll),
    /// not tearing down (a process on its way out blocks on locks and
    /// joins, not on input). Read from /proc; what cannot be read gives no
    /// evidence to wait for.
    pub fn idle(&self) -> bool {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.child.id())) else { return true };
        let mut waiting = None;
        for t in tasks.flatten() {
            let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else { continue };
            // The state follows the command name's closing parenthesis.
            let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
            if matches!(state, Some('R' | 'D')) {
                return false;
            }
            // `/proc/<tid>/syscall`: the number and arguments of the
            // system call the thread is blocked in.
            if let Ok(sc) = std::fs::read_to_string(t.path().join("syscall")) {
                let mut f = sc.split_whitespace();
                let (nr, arg0) = (f.next().and_then(|n| n.parse::<i64>().ok()), f.next());
                let input = matches!((nr, arg0), (Some(libc::SYS_read), Some("0x0"))) || nr.is_some_and(|n| INPUT_WAITS.contains(&n));
                waiting = Some(waiting.unwrap_or(false) || input);
            }
        }
        waiting.unwrap_or(true)
    }

    /// Whether the plugin has read everything written to it: nothing queued,
    /// nothing left in the pipe (FIONREAD). Lets a schedule guarantee that
    /// each write reaches the plugin in reads of its own.
    pub fn drained(&self) -> bool {
        if self.broken.load(Ordering::SeqCst) {
            return true;
        }
        if self.queued.load(Ordering::SeqCst) != 0 {
            return false;
        }
        fionread(self.stdin_probe).is_none_or(|n| n == 0)
    }

    /// Closes the plugin's stdin once everything queued is written.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
        // The duplicate holds the pipe open too: without closing it the
        // plugin would never see EOF.
        self.close_probe();
    }

    fn close_probe(&mut self) {
        if self.stdin_probe >= 0 {
            unsafe {
                libc::close(self.stdin_probe);
            }
            self.stdin_probe = -1;
        }
    }

    fn close_stdout_probe(&mut self) {
        if self.stdout_probe >= 0 {
            unsafe {
                libc::close(self.stdout_probe);
            }
            self.stdout_probe = -1;
        }
    }

    /// Waits for the next output until `deadline`.
    pub fn next_output(&self, deadline: Instant) -> Option<Output> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.output.recv_timeout(wait) {
            Ok(o) => Some(o),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Output already available, without waiting.
    pub fn try_output(&self) -> Option<Output> {
        self.output.try_recv().ok()
    }

    /// Polls for the process's exit until `deadline`.
    pub fn wait_exit(&mut self, deadline: Instant) -> Option<ExitStatus> {
        if self.exit.is_some() {
            return self.exit;
        }
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(status);
                return self.exit;
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGKILL to the whole process group, then reaps the plugin.
    pub fn kill(&mut self) {
        unsafe {
            libc::killpg(self.pgid, libc::SIGKILL);
        }
        self.stdin = None;
        self.close_probe();
        if self.exit.is_none() {
            self.exit = self.child.wait().ok();
        }
        unregister_group(self.pgid);
    }

    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.exit
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for PluginProcess {
    fn drop(&mut self) {
        self.kill();
        self.close_probe();
        self.close_stdout_probe();
    }
}

/// System calls that wait for input on descriptors.
const INPUT_WAITS: [i64; 7] = [
    libc::SYS_poll,
    libc::SYS_select,
    libc::SYS_epoll_wait,
    libc::SYS_epoll_pwait,
    libc::SYS_ppoll,
    libc::SYS_pselect6,
    libc::SYS_epoll_pwait2,
];

/// Bytes waiting in a pipe, by `FIONREAD` on either end.
fn fionread(fd: i32) -> Option<usize> {
    if fd < 0 {
        return None;
    }
    let mut n: libc::c_int = 0;
    let r = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    (r == 0).then_some(n.max(0) as usize)
}

fn pump(mut from: impl Read + Send + 'static, to: Sender<Output>, stdout: bool) {
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = to.send(if stdout { Output::StdoutEof(Instant::now()) } else { Output::StderrEof(Instant::now()) });
                    return;
                }
                Ok(n) => {
                    let chunk = buf[..n].to_vec();
                    let msg = if stdout { Output::Stdout(Instant::now(), chunk) } else { Output::Stderr(Instant::now(), chunk) };
                    if to.send(msg).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

fn writer(mut stdin: ChildStdin, queued: Arc<AtomicUsize>, sent: Arc<AtomicU64>, broken: Arc<AtomicBool>) -> Sender<Vec<u8>> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    thread::spawn(move || {
        for bytes in rx {
            // Once the plugin is gone (EPIPE) nothing more reaches it: what
            // is left is not counted as sent, so the read position stays
            // where the plugin stopped.
            // At most a pipe's worth per call, so `queued` follows a large
            // write as the plugin reads it.
            let mut written = 0;
            while written < bytes.len() && !broken.load(Ordering::SeqCst) {
                let end = bytes.len().min(written + 64 * 1024);
                match stdin.write(&bytes[written..end]) {
                    Ok(0) => break,
                    Ok(n) => {
                        written += n;
                        queued.fetch_sub(n, Ordering::SeqCst);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            if written < bytes.len() {
                // What reached the pipe counts; the rest never will.
                broken.store(true, Ordering::SeqCst);
                queued.fetch_sub(bytes.len() - written, Ordering::SeqCst);
                sent.fetch_sub((bytes.len() - written) as u64, Ordering::SeqCst);
            }
        }
    });
    tx
}

// Process groups alive right now, so a signal to the harness can still
// clean up (see `install_signal_cleanup`).
const SLOTS: usize = 64;
static GROUPS: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];

pub(crate) fn register_group(pgid: i32) {
    for slot in &GROUPS {
        if slot.compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            return;
        }
    }
}

pub(crate) fn unregister_group(pgid: i32) {
    for slot in &GROUPS {
        let _ = slot.compare_exchange(pgid, 0, Ordering::SeqCst, Ordering::SeqCst);
    }
}

extern "C" fn on_signal(sig: libc::c_int) {
    for slot in &GROUPS {
        let pgid = slot.load(Ordering::SeqCst);
        if pgid > 0 {
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Makes SIGINT, SIGTERM and SIGHUP kill every plugin process group before
/// the harness dies of the signal. For programs, not libraries.
pub fn install_signal_cleanup() {
    unsafe {
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::signal(sig, on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t);
        }
    }
}
