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
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
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
        let stderr = child.stderr.take().expect("stderr is piped");
        let stdin = child.stdin.take().expect("stdin is piped");
        pump(stdout, tx.clone(), true);
        pump(stderr, tx, false);
        // Close-on-exec: a plugin spawned meanwhile by another thread (the
        // library runs in test harnesses) must not inherit this end of the
        // pipe, or this plugin never sees EOF on its stdin.
        let stdin_probe = unsafe { libc::fcntl(stdin.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
        let queued = Arc::new(AtomicUsize::new(0));
        let stdin = writer(stdin, queued.clone());
        Ok(PluginProcess { child, pgid, stdin: Some(stdin), queued, stdin_probe, output, exit: None })
    }

    /// Queues bytes for the plugin's stdin; never blocks.
    pub fn write(&self, bytes: Vec<u8>) {
        if let Some(tx) = &self.stdin {
            self.queued.fetch_add(bytes.len(), Ordering::SeqCst);
            let _ = tx.send(bytes);
        }
    }

    /// Whether the plugin has read everything written to it: nothing queued,
    /// nothing left in the pipe (FIONREAD). Lets a schedule guarantee that
    /// each write reaches the plugin in reads of its own.
    pub fn drained(&self) -> bool {
        if self.queued.load(Ordering::SeqCst) != 0 {
            return false;
        }
        let mut pending: libc::c_int = 0;
        if self.stdin_probe < 0 {
            return true;
        }
        let r = unsafe { libc::ioctl(self.stdin_probe, libc::FIONREAD, &mut pending) };
        r != 0 || pending == 0
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
    }
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

fn writer(mut stdin: ChildStdin, queued: Arc<AtomicUsize>) -> Sender<Vec<u8>> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    thread::spawn(move || {
        for bytes in rx {
            // A plugin that stopped reading gets EPIPE once it is killed;
            // there is nobody left to tell.
            let ok = stdin.write_all(&bytes).and_then(|_| stdin.flush()).is_ok();
            queued.fetch_sub(bytes.len(), Ordering::SeqCst);
            if !ok {
                queued.store(0, Ordering::SeqCst);
                return;
            }
        }
    });
    tx
}

// Process groups alive right now, so a signal to the harness can still
// clean up (see `install_signal_cleanup`).
const SLOTS: usize = 64;
static GROUPS: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];

fn register_group(pgid: i32) {
    for slot in &GROUPS {
        if slot.compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            return;
        }
    }
}

fn unregister_group(pgid: i32) {
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
