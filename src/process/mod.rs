//! The plugin process: spawned as lightningd spawns it, in a process group
//! of its own, with its pipes served by threads so that no wait in the
//! harness can block without a deadline.
//!
//! Death is judged as lightningd judges it: by EOF on the plugin's stdout
//! (§1.2), not by the pid. Whatever happens, dropping a [`PluginProcess`]
//! kills its whole process group and every descendant the harness can find.
//!
//! Output reaches the session through a bounded channel: a plugin that
//! writes faster than the harness judges blocks on its write, as it would
//! against a busy lightningd, instead of filling the harness's memory.
//!
//! Descendants: on Linux the harness is a child subreaper, so a plugin's
//! child that calls `setsid` or double-forks is re-parented to the harness
//! rather than to init, and every process the plugin starts carries a
//! marker in its environment. Together they find each descendant still
//! running when the plugin is gone (see [`PluginProcess::finish`]). Not
//! guaranteed: a descendant that clears its environment *and* leaves the
//! plugin's process tree while the plugin still runs is invisible to the
//! walk; and if the harness itself is killed with SIGKILL, only the plugin
//! (through `PR_SET_PDEATHSIG`) dies with it.
//!
//! Everything that needs Linux (the parent-death signal, the subreaper,
//! `/proc`) lives in [`linux`]; elsewhere (macOS) the harness sees less and
//! says so: only the process group is killed, no leftover descendant is
//! found (`lifecycle/children` is skipped, not passed), and whether the
//! plugin is done with its input is [`Activity::Unseen`]. Setting
//! `CLN_HARNESS_PORTABLE=1` makes a Linux run judge as such a platform does,
//! so that path is tested where the tests run.

#[cfg(target_os = "linux")]
mod linux;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags};
use rustix::process::{Pid, Signal};

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

/// Chunks of output (up to 64 KiB each) in flight between the pipe readers
/// and the session: the most memory unjudged output can hold.
pub const OUTPUT_CHUNKS: usize = 16;

/// The environment variable that marks every process a plugin starts, so
/// its descendants are found after they leave its process tree.
pub const MARKER_VAR: &str = "CLN_HARNESS_RUN";

/// A descendant of the plugin still running after the plugin was gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leftover {
    pub pid: i32,
    /// Its command name (`/proc/PID/comm`), as the plugin set it.
    pub comm: String,
}

/// A running plugin.
pub struct PluginProcess {
    child: Child,
    pgid: i32,
    /// This spawn's value of [`MARKER_VAR`].
    marker: Marker,
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
    stdout_probe: Option<OwnedFd>,
    /// Stdout chunks the reader thread has taken from the pipe and not yet
    /// handed over: output that left the pipe but is not seen yet.
    in_flight: Arc<AtomicUsize>,
    /// A duplicate of the stdin pipe's descriptor, to ask how much of what
    /// was written the plugin has not read yet.
    stdin_probe: Option<OwnedFd>,
    output: Receiver<Output>,
    exit: Option<ExitStatus>,
    /// The plugin and all it left are killed and reaped: dropping it has
    /// nothing more to do.
    swept: bool,
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
        become_subreaper();
        static SPAWNS: AtomicU64 = AtomicU64::new(0);
        let marker = format!("{}.{}", std::process::id(), SPAWNS.fetch_add(1, Ordering::SeqCst));
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .env(MARKER_VAR, &marker)
            .current_dir(&spec.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // If the harness itself dies, the plugin goes too (Linux only).
        unsafe {
            cmd.pre_exec(|| {
                #[cfg(target_os = "linux")]
                linux::die_with_parent();
                // The harness blocks the signals its cleanup thread waits
                // for; the plugin gets them as lightningd's plugins do.
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
                Ok(())
            });
        }
        let mut child = cmd.spawn()?;
        let pgid = child.id() as i32;
        register_group(pgid);
        let marker = Marker { born: start_time(pgid).unwrap_or(0), value: marker, prefix: false };

        let (tx, output) = mpsc::sync_channel(OUTPUT_CHUNKS);
        let stdout = child.stdout.take().expect("stdout is piped");
        let stdout_probe = rustix::io::fcntl_dupfd_cloexec(&stdout, 0).ok();
        let stderr = child.stderr.take().expect("stderr is piped");
        let stdin = child.stdin.take().expect("stdin is piped");
        let in_flight = Arc::new(AtomicUsize::new(0));
        pump(stdout, tx.clone(), Some(in_flight.clone()));
        pump(stderr, tx, None);
        // Close-on-exec: a plugin spawned meanwhile by another thread (the
        // library runs in test harnesses) must not inherit this end of the
        // pipe, or this plugin never sees EOF on its stdin.
        let stdin_probe = rustix::io::fcntl_dupfd_cloexec(&stdin, 0).ok();
        let queued = Arc::new(AtomicUsize::new(0));
        let sent = Arc::new(AtomicU64::new(0));
        let broken = Arc::new(AtomicBool::new(false));
        let stdin = writer(stdin, queued.clone(), sent.clone(), broken.clone());
        Ok(PluginProcess {
            child,
            pgid,
            marker,
            stdin: Some(stdin),
            queued,
            sent,
            broken,
            stdout_probe,
            in_flight,
            stdin_probe,
            output,
            exit: None,
            swept: false,
        })
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
        let in_pipe = unread(self.stdin_probe.as_ref()).unwrap_or(0) as u64;
        self.sent().saturating_sub(queued).saturating_sub(in_pipe)
    }

    /// Whether everything the plugin wrote to stdout so far has been taken
    /// from the pipe by the reader thread.
    pub fn stdout_taken(&self) -> bool {
        // The pipe empty and nothing the reader took still on its way: else
        // a reply could be seen only after the next input was sent, and be
        // charged to it. The reader counts a chunk before it reads it, so
        // no byte is ever in neither place.
        fionread(self.stdout_probe.as_ref()).is_none_or(|n| n == 0) && self.in_flight.load(Ordering::SeqCst) == 0
    }

    /// Whether the plugin is waiting for input with nothing else to do (see
    /// [`Activity`]). Only Linux shows it (`/proc`); elsewhere, or when
    /// `/proc` cannot be read, the answer is [`Activity::Unseen`].
    pub fn activity(&self) -> Activity {
        #[cfg(target_os = "linux")]
        if procfs() {
            return linux::activity(self.child.id());
        }
        Activity::Unseen
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
        unread(self.stdin_probe.as_ref()).is_none_or(|n| n == 0)
    }

    /// Closes the plugin's stdin once everything queued is written.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
        // The duplicate holds the pipe open too: without closing it the
        // plugin would never see EOF.
        self.close_probe();
    }

    fn close_probe(&mut self) {
        self.stdin_probe = None;
    }

    fn close_stdout_probe(&mut self) {
        self.stdout_probe = None;
    }

    /// Waits for the next output until `deadline`.
    pub fn next_output(&self, deadline: Instant) -> Option<Output> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.output.recv_timeout(wait) {
            Ok(o) => Some(self.received(o)),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Output already available, without waiting.
    pub fn try_output(&self) -> Option<Output> {
        self.output.try_recv().ok().map(|o| self.received(o))
    }

    fn received(&self, o: Output) -> Output {
        if matches!(o, Output::Stdout(..)) {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        o
    }

    /// Polls for the process's exit until `deadline`.
    pub fn wait_exit(&mut self, deadline: Instant) -> Option<ExitStatus> {
        if self.exit.is_some() {
            return self.exit;
        }
        let mut pause = Duration::from_micros(100);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(status);
                return self.exit;
            }
            if Instant::now() >= deadline {
                return None;
            }
            // Most plugins are gone within a millisecond of the signal or
            // of EOF: look soon, then less often.
            thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(5));
        }
    }

    /// SIGKILL to the whole process group and every descendant found, then
    /// reaps them all.
    pub fn kill(&mut self) {
        self.kill_plugin();
        sweep(self.pgid, &self.marker, self.child.id() as i32, &[]);
        self.swept = true;
    }

    /// Ends the plugin as lightningd does, then accounts for what it leaves:
    /// the plugin alone is killed (lightningd never signals its children),
    /// every descendant still running `grace` later is returned, and then
    /// all of them are killed and reaped.
    pub fn finish(&mut self, grace: Duration) -> Vec<Leftover> {
        let pid = self.child.id() as i32;
        // A plugin already gone forks no more: what it left is all in the
        // scan below, and with nothing there, there is nothing to wait for.
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        let gone_first = self.exit.is_some();
        let (before, newcomers) = descendants(pid, &self.marker);
        if gone_first && !newcomers {
            // Gone, reaped, and no process on the machine started since it
            // did: it left none, and none of its can still fork or be in
            // the middle of an execve, so the sweep's second look has
            // nothing to catch. The group is killed all the same.
            self.kill_plugin();
            self.swept = true;
            return Vec::new();
        }
        if self.exit.is_none() {
            kill_pid(pid);
            self.exit = self.wait_exit(Instant::now() + Duration::from_secs(5));
        }
        // A child still exiting when the plugin went is not a leftover: only
        // one still running after the grace is.
        let deadline = Instant::now() + grace;
        let mut alive = Vec::new();
        while !(gone_first && before.is_empty()) {
            alive = running(&before, &self.marker);
            if alive.is_empty() || Instant::now() >= deadline {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.kill_plugin();
        let known: Vec<i32> = before.iter().map(|p| p.pid).collect();
        sweep(self.pgid, &self.marker, pid, &known);
        self.swept = true;
        alive.into_iter().map(|p| Leftover { pid: p.pid, comm: p.comm }).collect()
    }

    fn kill_plugin(&mut self) {
        kill_group(self.pgid);
        self.stdin = None;
        self.close_probe();
        if self.exit.is_none() {
            // SIGKILL cannot be ignored; the deadline covers a process stuck
            // in the kernel.
            self.exit = self.wait_exit(Instant::now() + Duration::from_secs(5));
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
        if !self.swept {
            self.kill();
        }
        self.close_probe();
        self.close_stdout_probe();
    }
}

/// What the harness can tell, at one moment, of whether a plugin is done
/// with the input it was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    /// No thread runs or waits on a disk, and one is blocked reading its
    /// stdin or waiting on descriptors (poll, select, epoll): it has
    /// handled what it read.
    Waiting,
    /// A thread runs or waits on a disk, or none waits for input (a
    /// process on its way out blocks on locks and joins, not on input).
    Busy,
    /// Nothing to tell from: no `/proc` (macOS), an architecture whose
    /// system call numbers the harness does not know, or `/proc` not
    /// readable. Whether the plugin is done can then only be guessed.
    Unseen,
}

/// Whether `/proc` evidence is used: on Linux, unless `CLN_HARNESS_PORTABLE`
/// asks to judge as a platform without it does.
fn procfs() -> bool {
    #[cfg(target_os = "linux")]
    {
        static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *ON.get_or_init(|| std::env::var_os("CLN_HARNESS_PORTABLE").is_none_or(|v| v.is_empty() || v == "0"))
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Whether the harness can find a plugin's descendants once it is gone
/// (the process table and environments in `/proc`). Where it cannot, only
/// the plugin's process group is killed, and leftovers go unseen.
pub fn sees_descendants() -> bool {
    procfs()
}

/// Bytes waiting in a pipe, by `FIONREAD` on its read end.
fn fionread(fd: Option<&OwnedFd>) -> Option<usize> {
    rustix::io::ioctl_fionread(fd?).ok().map(|n| n as usize)
}

/// Bytes written to a pipe and not yet read, asked on its write end. Linux
/// answers `FIONREAD` on either end. macOS answers it on the write end with
/// the count of a buffer that end never uses (always 0: XNU's
/// `pipe_ioctl`), but gives the waiting bytes as `st_size` in `fstat` of
/// the write end (`pipe_stat` reads the peer's count).
fn unread(fd: Option<&OwnedFd>) -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        fionread(fd)
    }
    #[cfg(not(target_os = "linux"))]
    {
        rustix::fs::fstat(fd?).ok().map(|st| st.st_size.max(0) as usize)
    }
}

/// SIGKILL to one process; one already gone is no error.
fn kill_pid(pid: i32) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(pid, Signal::KILL);
    }
}

/// SIGKILL to a whole process group.
pub(crate) fn kill_group(pgid: i32) {
    if let Some(pgid) = Pid::from_raw(pgid) {
        let _ = rustix::process::kill_process_group(pgid, Signal::KILL);
    }
}

fn pump(mut from: impl Read + AsFd + Send + 'static, to: SyncSender<Output>, in_flight: Option<Arc<AtomicUsize>>) {
    let stdout = in_flight.is_some();
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // Counted before the bytes leave the pipe, never after: the pipe
            // empty and the count zero then mean every byte the plugin wrote
            // has reached the session, whatever the scheduler does to this
            // thread between its read and its send.
            if let Some(c) = &in_flight {
                wait_readable(&from);
                c.fetch_add(1, Ordering::SeqCst);
            }
            match from.read(&mut buf) {
                Ok(0) | Err(_) => {
                    if let Some(c) = &in_flight {
                        c.fetch_sub(1, Ordering::SeqCst);
                    }
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

/// Blocks until `fd` has bytes or its writers are gone, without taking any.
fn wait_readable(fd: &impl AsFd) {
    let mut fds = [PollFd::new(fd, PollFlags::IN)];
    // EINTR: poll again. Any other error: the read that follows reports it.
    while let Err(rustix::io::Errno::INTR) = poll(&mut fds, None) {}
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

/// One entry of the process table.
#[derive(Clone, Debug)]
pub(crate) struct ProcInfo {
    pid: i32,
    ppid: i32,
    pgid: i32,
    zombie: bool,
    /// A kernel thread: never a plugin's, and without an environment.
    kernel: bool,
    comm: String,
    /// When it started, in clock ticks since boot.
    start: u64,
}

/// The value of [`MARKER_VAR`] one spawn carries (or, with `prefix`, the
/// start every spawn of this harness shares), and when that plugin (or the
/// harness) started: only a process started since can carry it, so the
/// environments of older processes (most of the machine's) need not be read.
struct Marker {
    value: String,
    born: u64,
    prefix: bool,
}

impl Marker {
    fn carried_by(&self, p: &ProcInfo) -> bool {
        !p.kernel && p.start >= self.born && has_marker(p.pid, &self.value, self.prefix)
    }
}

/// When `pid` started, in the process table's clock.
fn start_time(pid: i32) -> Option<u64> {
    #[cfg(target_os = "linux")]
    if procfs() {
        return linux::start_time(pid);
    }
    let _ = pid;
    None
}

/// The harness's own marker prefix: every plugin it spawns carries it.
fn own_prefix() -> String {
    format!("{}.", std::process::id())
}

/// Makes the harness a child subreaper once (Linux): orphaned descendants
/// of its plugins become its children instead of init's.
fn become_subreaper() {
    #[cfg(target_os = "linux")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            linux::become_subreaper();
            // Adopted orphans that exit on their own (a real node's
            // subdaemons and plugins, a plugin's children) would stay
            // zombies of a long-lived process using the library, and slow
            // every scan of the process table.
            let _ = thread::Builder::new().name("cln-harness-reaper".into()).spawn(|| loop {
                thread::sleep(Duration::from_secs(1));
                reap_orphans();
            });
        });
    }
}

/// Every process on the machine, where the platform shows them to the
/// harness; none elsewhere.
fn table() -> Vec<ProcInfo> {
    #[cfg(target_os = "linux")]
    if procfs() {
        return linux::table();
    }
    Vec::new()
}

/// Whether a process's environment carries `marker` (an exact value) or,
/// with `prefix`, any value starting with it; never where the platform
/// does not show other processes' environments.
fn has_marker(pid: i32, marker: &str, prefix: bool) -> bool {
    #[cfg(target_os = "linux")]
    if procfs() {
        return linux::has_marker(pid, marker, prefix);
    }
    let _ = (pid, marker, prefix);
    false
}

/// Every live process below `root` in the process tree, or carrying
/// `marker`; `root` itself excluded. And whether any process (not a
/// kernel thread, not `root`) started no earlier than `marker` was born:
/// only such a process can be one of the plugin's.
fn descendants(root: i32, marker: &Marker) -> (Vec<ProcInfo>, bool) {
    let all = table();
    let newcomers = all.iter().any(|p| p.pid != root && !p.kernel && p.start >= marker.born);
    let mut found: Vec<ProcInfo> = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for c in all.iter().filter(|c| c.ppid == p) {
            if !found.iter().any(|f| f.pid == c.pid) {
                found.push(c.clone());
                frontier.push(c.pid);
            }
        }
    }
    for p in &all {
        if p.pid != root && !p.zombie && !found.iter().any(|f| f.pid == p.pid) && marker.carried_by(p) {
            found.push(p.clone());
        }
    }
    (found, newcomers)
}

/// Of `known`, and of the processes carrying `marker`, those still running.
fn running(known: &[ProcInfo], marker: &Marker) -> Vec<ProcInfo> {
    let all = table();
    all.into_iter()
        .filter(|p| !p.zombie)
        .filter(|p| known.iter().any(|k| k.pid == p.pid && k.comm == p.comm) || marker.carried_by(p))
        .collect()
}

/// Kills the group, the plugin's tree and every marked process, round after
/// round (a descendant may fork meanwhile), then reaps those that are the
/// harness's children.
fn sweep(pgid: i32, marker: &Marker, root: i32, known: &[i32]) {
    kill_group(pgid);
    let me = std::process::id() as i32;
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut ours: Vec<i32> = known.to_vec();
    // Done only after two looks in a row find nothing: one can miss a
    // process in the middle of an execve (see `has_marker`).
    let mut clear = 0;
    for _ in 0..50 {
        let live: Vec<ProcInfo> = descendants(root, marker).0.into_iter().filter(|p| !p.zombie).collect();
        clear = if live.is_empty() { clear + 1 } else { 0 };
        if clear == 2 || Instant::now() >= deadline {
            break;
        }
        for p in &live {
            kill_pid(p.pid);
            if !ours.contains(&p.pid) {
                ours.push(p.pid);
            }
        }
        // Killed processes take a moment to go; an exec, less.
        thread::sleep(if live.is_empty() { Duration::from_micros(500) } else { Duration::from_millis(2) });
    }
    reap(me, &ours, deadline);
}

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
/// Reaps the zombies the harness adopted as subreaper: children that lead
/// no process group and are not in the harness's own, so never a process
/// it spawned itself (those lead their group, or share the harness's) and
/// whose `Child` handle would then lose its status.
fn reap_orphans() {
    let me = std::process::id() as i32;
    let own_group = rustix::process::getpgrp().as_raw_nonzero().get();
    for p in table() {
        if p.ppid == me && p.zombie && p.pid != p.pgid && p.pgid != own_group {
            if let Some(pid) = Pid::from_raw(p.pid) {
                let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::NOHANG);
            }
        }
    }
}

/// Waits for those of `pids` that are children of the harness, so none
/// stays a zombie.
fn reap(me: i32, pids: &[i32], deadline: Instant) {
    let mut left: Vec<i32> = pids.to_vec();
    while !left.is_empty() {
        let all = table();
        left.retain(|&pid| {
            let Some(p) = all.iter().find(|p| p.pid == pid) else { return false };
            if p.ppid != me {
                return false;
            }
            // Still running: try again; reaped, or not ours after all: done.
            Pid::from_raw(pid).is_some_and(|p| matches!(rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG), Ok(None)))
        });
        if left.is_empty() || Instant::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// Temporary lightning-dirs in use, removed if a signal ends the harness.
static TEMP_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Registers a temporary directory for removal on SIGINT, SIGTERM, SIGHUP.
pub fn register_temp_dir(path: &std::path::Path) {
    if let Ok(mut d) = TEMP_DIRS.lock() {
        d.push(path.to_owned());
    }
}

/// The directory is gone, or another owner removes it.
pub fn unregister_temp_dir(path: &std::path::Path) {
    if let Ok(mut d) = TEMP_DIRS.lock() {
        d.retain(|p| p != path);
    }
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

/// Makes SIGINT, SIGTERM and SIGHUP kill every plugin process group and
/// every marked descendant, and remove the temporary lightning-dirs, before
/// the harness dies of the signal. The signals are blocked in every thread
/// and taken by one thread of their own, where cleaning up is safe. Call it
/// first thing, before any other thread starts. For programs, not
/// libraries.
pub fn install_signal_cleanup() {
    // The signal is known before the plugins are killed: see
    // `halt_if_terminating`.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        thread::spawn(move || {
            let mut sig: libc::c_int = 0;
            if libc::sigwait(&set, &mut sig) != 0 {
                return;
            }
            TERMINATING.store(sig, Ordering::SeqCst);
            cleanup_everything();
            libc::signal(sig, libc::SIG_DFL);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::raise(sig);
            // A signal raised in this thread may be delivered to it only
            // once unblocked, which it now is; exit in case it was not.
            std::process::exit(128 + sig);
        });
    }
}

/// The termination signal being handled, or 0.
static TERMINATING: AtomicI32 = AtomicI32::new(0);

/// When the harness is ending on a signal, stops the calling thread until
/// the cleanup thread ends the process (with the signal's status), instead
/// of letting it go on: the plugin it watches dies of the cleanup's kill,
/// and a report now would blame the plugin for it. Called before anything
/// reaches a report; a no-op otherwise, and in programs that did not call
/// [`install_signal_cleanup`].
pub fn halt_if_terminating() {
    let sig = TERMINATING.load(Ordering::SeqCst);
    if sig != 0 {
        // Cleanup takes milliseconds; the bound is for a cleanup that
        // cannot finish (a process that will not die).
        thread::sleep(Duration::from_secs(30));
        std::process::exit(128 + sig);
    }
}

fn cleanup_everything() {
    for slot in &GROUPS {
        let pgid = slot.load(Ordering::SeqCst);
        if pgid > 0 {
            kill_group(pgid);
        }
    }
    // Every process any plugin of this harness started since it started.
    let marker = Marker { value: own_prefix(), born: start_time(std::process::id() as i32).unwrap_or(0), prefix: true };
    for _ in 0..10 {
        let marked: Vec<i32> = table().into_iter().filter(|p| !p.zombie && marker.carried_by(p)).map(|p| p.pid).collect();
        if marked.is_empty() {
            break;
        }
        for pid in marked {
            kill_pid(pid);
        }
        thread::sleep(Duration::from_millis(5));
    }
    let dirs = TEMP_DIRS.lock().map(|d| d.clone()).unwrap_or_default();
    for d in dirs {
        // remove_dir_all does not follow symlinks inside the directory.
        let _ = std::fs::remove_dir_all(d);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// A process of the plugin's that left its session and replaces itself
    /// over and over (so a look at it may land inside an execve) is found
    /// by its marker and killed, every time.
    #[test]
    fn a_daemon_that_keeps_exec_ing_is_swept() {
        for round in 0..10 {
            sweep_one_exec_loop(round);
        }
    }

    fn sweep_one_exec_loop(round: usize) {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("reexec.sh");
        let pidfile = dir.path().join("pid");
        std::fs::write(&script, format!("echo $$ > {}\nexec /bin/sh \"$0\"\n", pidfile.display())).unwrap();
        let value = format!("{}.sweep-test-{round}", std::process::id());
        // `setsid` in a group of its own forks: the loop runs in a new
        // session, no longer the child of the process that started it.
        let mut first = Command::new("setsid").arg("/bin/sh").arg(&script).env(MARKER_VAR, &value).process_group(0).spawn().unwrap();
        let root = first.id() as i32;
        let marker = Marker { value, born: start_time(root).unwrap_or(0), prefix: false };
        let _ = first.wait();
        let deadline = Instant::now() + Duration::from_secs(5);
        let pid = loop {
            if let Some(pid) = std::fs::read_to_string(&pidfile).ok().and_then(|s| s.trim().parse::<i32>().ok()) {
                break pid;
            }
            assert!(Instant::now() < deadline, "the loop did not start");
            thread::sleep(Duration::from_millis(5));
        };
        thread::sleep(Duration::from_millis(20));
        sweep(root, &marker, root, &[]);
        let alive = || table().iter().any(|p| p.pid == pid && !p.zombie);
        let deadline = Instant::now() + Duration::from_secs(2);
        while alive() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        let survived = alive();
        kill_pid(pid);
        assert!(!survived, "round {round}: pid {pid} survived the sweep");
    }
}
