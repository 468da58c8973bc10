//! A real lightningd, started for a cross-check: a fresh lightning-dir in a
//! temporary directory, regtest, loopback only on a free port, debug log to
//! a file, and `cln-harness backend` as its Bitcoin backend.
//!
//! Every wait has a deadline. Dropping a [`Node`] kills lightningd's whole
//! process group (its subdaemons and plugins) and removes the directory.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Why a real node could not be driven.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("lightningd '{}': {source}", path.display())]
    Binary { path: PathBuf, source: std::io::Error },
    #[error("lightningd '{}' --version printed {printed:?}, not a release such as v26.06.6", path.display())]
    Version { path: PathBuf, printed: String },
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("lightning-rpc {method}: {message}")]
    Rpc { method: String, message: String },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> NodeError {
    let context = context.into();
    move |source| NodeError::Io { context, source }
}

/// A lightningd build: the binary and the release it reports.
#[derive(Clone, Debug)]
pub struct Build {
    pub lightningd: PathBuf,
    /// `lightningd --version`, e.g. `v26.06.6`.
    pub version: String,
}

impl Build {
    /// Asks the binary at `path` for its version (deadline: 10 s).
    pub fn at(path: &Path) -> Result<Build, NodeError> {
        let lightningd = std::fs::canonicalize(path).map_err(|source| NodeError::Binary { path: path.to_owned(), source })?;
        let mut child = Command::new(&lightningd)
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| NodeError::Binary { path: path.to_owned(), source })?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(NodeError::Version { path: path.to_owned(), printed: "(no answer within 10 s)".into() });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut printed = String::new();
        if let Some(mut out) = child.stdout.take() {
            let _ = out.read_to_string(&mut printed);
        }
        // Some releases log plugin-manager complaints before the version.
        let version = printed.lines().rev().map(str::trim).find(|l| l.starts_with('v') && l[1..].starts_with(|c: char| c.is_ascii_digit()));
        let Some(version) = version.map(str::to_owned) else {
            return Err(NodeError::Version { path: path.to_owned(), printed });
        };
        Ok(Build { lightningd, version })
    }

    /// The harness profile that models this release: the longest profile
    /// name the version starts with (`v26.06.6` → `v26.06`).
    pub fn profile(&self) -> Option<String> {
        crate::Profile::names()
            .into_iter()
            .filter(|p| self.version == *p || self.version.starts_with(&format!("{p}.")) || self.version.starts_with(&format!("{p}-")))
            .max_by_key(String::len)
    }

    /// Options this release needs to start on a genesis-only chain.
    fn quirks(&self) -> Vec<String> {
        // v24.05's offers plugin asserts a block height above 0 at init.
        if self.version == "v24.05" || self.version.starts_with("v24.05.") {
            vec!["--disable-plugin=offers".into()]
        } else {
            vec![]
        }
    }
}

/// How to start a node.
#[derive(Clone, Debug, Default)]
pub struct NodeOptions {
    /// `--plugin=` paths, in order.
    pub plugins: Vec<PathBuf>,
    /// Further command-line options, e.g. `--log-level=io:plugin-foo`.
    pub args: Vec<String>,
    /// Environment for lightningd, and so for its plugins.
    pub env: Vec<(String, String)>,
}

/// A running (or exited) lightningd.
pub struct Node {
    child: Child,
    exit: Option<ExitStatus>,
    /// Holds the lightning-dir; removed on drop.
    dir: tempfile::TempDir,
    pub port: u16,
    pub version: String,
    /// How it was started, to start it again after a port clash.
    spec: (Build, PathBuf, NodeOptions),
    /// Starts after a port clash so far.
    pub restarts: u32,
}

/// Where a start ended.
#[derive(Debug)]
pub enum Started {
    /// `getinfo` answered.
    Ready,
    /// lightningd exited first.
    Exited(ExitStatus),
    /// Neither happened before the deadline.
    TimedOut,
}

/// A free loopback port, as the kernel hands them out.
fn free_port() -> Result<u16, NodeError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(io("cannot find a free loopback port"))?;
    Ok(l.local_addr().map_err(io("cannot find a free loopback port"))?.port())
}

impl Node {
    /// Starts lightningd; `backend` is the script that runs `cln-harness
    /// backend` (see [`crate::backend::write_wrapper`]).
    pub fn start(build: &Build, backend: &Path, opts: &NodeOptions) -> Result<Node, NodeError> {
        Node::start_at(build, backend, opts, free_port()?)
    }

    /// [`start`](Self::start) with the listening port given: a taken one
    /// shows the restart after a clash.
    #[doc(hidden)]
    pub fn start_at(build: &Build, backend: &Path, opts: &NodeOptions, port: u16) -> Result<Node, NodeError> {
        let (child, dir, port) = Node::spawn(build, backend, opts, port)?;
        let spec = (build.clone(), backend.to_owned(), opts.clone());
        Ok(Node { child, exit: None, dir, port, version: build.version.clone(), spec, restarts: 0 })
    }

    fn spawn(build: &Build, backend: &Path, opts: &NodeOptions, port: u16) -> Result<(Child, tempfile::TempDir, u16), NodeError> {
        let dir = tempfile::Builder::new().prefix("cln-harness-node").tempdir().map_err(io("cannot create a lightning-dir"))?;
        let ldir = dir.path().join("node");
        std::fs::create_dir(&ldir).map_err(io("cannot create a lightning-dir"))?;
        let stdio = std::fs::File::create(dir.path().join("stdio")).map_err(io("cannot create lightningd's output file"))?;
        let mut cmd = Command::new(&build.lightningd);
        cmd.arg("--network=regtest")
            .arg(format!("--lightning-dir={}", ldir.display()))
            .arg("--disable-plugin=bcli")
            .arg(format!("--plugin={}", backend.display()))
            .arg("--log-level=debug")
            .arg(format!("--log-file={}", dir.path().join("log").display()))
            .arg(format!("--bind-addr=127.0.0.1:{port}"))
            .args(build.quirks())
            .args(opts.plugins.iter().map(|p| format!("--plugin={}", p.display())))
            .args(&opts.args)
            .envs(opts.env.iter().map(|(k, v)| (k, v)))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(stdio.try_clone().map_err(io("cannot duplicate lightningd's output file"))?)
            .stderr(stdio)
            .process_group(0);
        // If the harness dies, lightningd goes too (Linux); its subdaemons
        // and plugins follow lightningd (they watch its pipes), and the
        // group kill on drop catches the rest.
        #[cfg(target_os = "linux")]
        unsafe {
            cmd.pre_exec(|| {
                let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|source| NodeError::Binary { path: build.lightningd.clone(), source })?;
        crate::process::register_group(child.id() as i32);
        Ok((child, dir, port))
    }

    /// Whether lightningd exited because its listening port was taken
    /// between [`free_port`] and its bind (another node's outgoing
    /// connection can be handed the same port): a clash of the
    /// cross-check's making, not the plugin's.
    fn port_clash(&self) -> bool {
        let clash = format!("Failed to bind socket for 127.0.0.1:{}: Address already in use", self.port);
        self.stdio().contains(&clash) || self.log().contains(&clash)
    }

    /// Starts the same node again, on a fresh port and lightning-dir.
    fn restart(&mut self) -> Result<(), NodeError> {
        self.kill();
        let (build, backend, opts) = self.spec.clone();
        let (child, dir, port) = Node::spawn(&build, &backend, &opts, free_port()?)?;
        (self.child, self.dir, self.port, self.exit) = (child, dir, port, None);
        self.restarts += 1;
        Ok(())
    }

    /// The lightning-dir.
    pub fn lightning_dir(&self) -> PathBuf {
        self.dir.path().join("node")
    }

    fn rpc_path(&self) -> PathBuf {
        self.lightning_dir().join("regtest").join("lightning-rpc")
    }

    /// Polls the exit status.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// Waits until `getinfo` answers, lightningd exits, or `deadline`. A
    /// node that could not bind its port is started again on another.
    pub fn wait_ready(&mut self, deadline: Instant) -> Started {
        loop {
            if let Some(s) = self.exited() {
                if self.restarts < 5 && self.port_clash() && self.restart().is_ok() {
                    continue;
                }
                return Started::Exited(s);
            }
            if self.rpc_path().exists() && self.rpc("getinfo", json!({}), Instant::now() + Duration::from_secs(2)).is_ok() {
                return Started::Ready;
            }
            if Instant::now() >= deadline {
                return Started::TimedOut;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One call on lightning-rpc, answered before `deadline`.
    pub fn rpc(&self, method: &str, params: Value, deadline: Instant) -> Result<Value, NodeError> {
        let err = |message: String| NodeError::Rpc { method: method.to_owned(), message };
        let mut s = UnixStream::connect(self.rpc_path()).map_err(|e| err(e.to_string()))?;
        let req = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        s.set_write_timeout(Some(deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1))))
            .map_err(|e| err(e.to_string()))?;
        s.write_all(req.to_string().as_bytes()).map_err(|e| err(e.to_string()))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 65536];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(err("no answer before the deadline".into()));
            }
            s.set_read_timeout(Some(left)).map_err(|e| err(e.to_string()))?;
            match s.read(&mut chunk) {
                Ok(0) => return Err(err("lightningd closed the socket without an answer".into())),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(err(e.to_string())),
            }
            if let Some(Ok(v)) = serde_json::Deserializer::from_slice(&buf).into_iter::<Value>().next() {
                return match (v.get("result"), v.get("error")) {
                    (Some(r), _) => Ok(r.clone()),
                    (_, Some(e)) => Err(err(e.to_string())),
                    _ => Err(err(format!("neither result nor error in {v}"))),
                };
            }
        }
    }

    /// `stop`, then waits for the exit until `deadline`; kills the group
    /// if it does not come. Returns the exit status when there was one.
    pub fn stop(&mut self, deadline: Instant) -> Option<ExitStatus> {
        if self.exited().is_none() {
            let _ = self.rpc("stop", json!({}), deadline.min(Instant::now() + Duration::from_secs(5)));
        }
        while self.exited().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let status = self.exited();
        self.kill();
        status
    }

    /// SIGKILL to lightningd's process group, and reaps lightningd.
    pub fn kill(&mut self) {
        let pgid = self.child.id() as i32;
        crate::process::kill_group(pgid);
        if self.exit.is_none() {
            self.exit = self.child.wait().ok();
        }
        crate::process::unregister_group(pgid);
    }

    /// The node's log file, as written so far.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.dir.path().join("log")).unwrap_or_default()).into_owned()
    }

    /// What lightningd wrote to stdout and stderr.
    pub fn stdio(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.dir.path().join("stdio")).unwrap_or_default()).into_owned()
    }

    /// The node's id (hex), from `getinfo`.
    pub fn id(&self, deadline: Instant) -> Result<String, NodeError> {
        let info = self.rpc("getinfo", json!({}), deadline)?;
        info.get("id").and_then(Value::as_str).map(str::to_owned).ok_or(NodeError::Rpc { method: "getinfo".into(), message: "no id".into() })
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One line of a lightningd log file: `<time> <LEVEL> <subsystem>: <text>`,
/// with continuation lines (raw newlines in a quoted buffer) joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    pub level: String,
    pub subsystem: String,
    pub text: String,
}

/// Parses a log file. Lines that do not start with a timestamp continue
/// the previous entry.
pub fn parse_log(log: &str) -> Vec<LogEntry> {
    let mut out: Vec<LogEntry> = Vec::new();
    for line in log.lines() {
        let starts_entry = line.len() > 24 && line.as_bytes()[4] == b'-' && line.as_bytes()[10] == b'T';
        if starts_entry {
            let mut rest = line.splitn(2, ' ').nth(1).unwrap_or("").trim_start();
            let level = rest.split_whitespace().next().unwrap_or("").to_owned();
            rest = rest[level.len()..].trim_start();
            // Some subsystems carry a node id prefix: `<id>-chan#1: text`.
            let (subsystem, text) = rest.split_once(": ").unwrap_or(("", rest));
            out.push(LogEntry { level, subsystem: subsystem.to_owned(), text: text.to_owned() });
        } else if let Some(last) = out.last_mut() {
            last.text.push('\n');
            last.text.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_and_their_continuations() {
        let log = "2026-11-30T18:26:03.406Z UNUSUAL plugin-bookkeeper: topic 'utxo_deposit' is not a known notification topic\n\
                   2026-11-30T18:26:04.000Z INFO    plugin-p.py: Killing plugin: bad {\"a\":\n\
                   1}\n";
        let e = parse_log(log);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].level, "UNUSUAL");
        assert_eq!(e[0].subsystem, "plugin-bookkeeper");
        assert_eq!(e[1].subsystem, "plugin-p.py");
        assert_eq!(e[1].text, "Killing plugin: bad {\"a\":\n1}");
    }

    #[test]
    fn profile_by_release() {
        let b = |v: &str| Build { lightningd: PathBuf::new(), version: v.into() };
        assert_eq!(b("v26.06.6").profile().as_deref(), Some("v26.06"));
        assert_eq!(b("v23.02.2").profile().as_deref(), Some("v23.02"));
        assert_eq!(b("v23.020").profile(), None);
        assert_eq!(b("v99.01").profile(), None);
    }
}
