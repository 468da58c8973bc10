//! The mock lightning-rpc: a Unix socket at `configuration.rpc-file`,
//! answering JSON-RPC 2.0 as lightningd's RPC does, from the canned answers
//! in `fixtures/rpc/<profile>/`. Every call is recorded for the report.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};

use crate::profile::Profile;

/// One call the plugin made.
#[derive(Clone, Debug, Serialize)]
pub struct RpcCall {
    /// Milliseconds since the run started.
    pub at_ms: f64,
    pub method: String,
    pub params: Value,
    /// The `result` or `error` the mock answered with.
    pub response: Value,
}

impl RpcCall {
    pub fn is_error(&self) -> bool {
        self.response.get("error").is_some()
    }
}

/// The running mock. Stops (and removes its socket) when dropped.
pub struct MockRpc {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    calls: Arc<Mutex<Vec<RpcCall>>>,
    thread: Option<JoinHandle<()>>,
}

struct Answers {
    profile: Profile,
    /// Scripted answers: method to `{"result": …}` or `{"error": …}`.
    scripted: Vec<(String, Value)>,
    lightning_dir: String,
    start: Instant,
}

impl MockRpc {
    /// Listens at `path`.
    pub fn start(
        path: &Path,
        profile: &Profile,
        lightning_dir: &Path,
        start: Instant,
        scripted: Vec<(String, Value)>,
    ) -> std::io::Result<MockRpc> {
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Answers { profile: profile.clone(), scripted, lightning_dir: lightning_dir.display().to_string(), start });
        let thread = {
            let stop = stop.clone();
            let calls = calls.clone();
            thread::spawn(move || accept_loop(listener, stop, calls, answers))
        };
        Ok(MockRpc { path: path.to_owned(), stop, calls, thread: Some(thread) })
    }

    /// The calls so far.
    pub fn calls(&self) -> Vec<RpcCall> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl Drop for MockRpc {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn accept_loop(listener: UnixListener, stop: Arc<AtomicBool>, calls: Arc<Mutex<Vec<RpcCall>>>, answers: Arc<Answers>) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (stop, calls, answers) = (stop.clone(), calls.clone(), answers.clone());
                thread::spawn(move || serve(stream, stop, calls, answers));
            }
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn serve(mut stream: UnixStream, stop: Arc<AtomicBool>, calls: Arc<Mutex<Vec<RpcCall>>>, answers: Arc<Answers>) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    while !stop.load(Ordering::SeqCst) {
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
            Err(_) => return,
        }
        // Requests may be pipelined; answer each complete one in order.
        loop {
            let mut it = serde_json::Deserializer::from_slice(&buf).into_iter::<Value>();
            match it.next() {
                Some(Ok(req)) => {
                    let used = it.byte_offset();
                    buf.drain(..used);
                    let (call, reply) = answer(&answers, &req);
                    if let Ok(mut c) = calls.lock() {
                        c.push(call);
                    }
                    let mut out = serde_json::to_vec(&reply).unwrap_or_default();
                    out.extend_from_slice(b"\n\n");
                    if stream.write_all(&out).is_err() {
                        return;
                    }
                }
                Some(Err(e)) if e.is_eof() => break,
                None => break,
                Some(Err(_)) => {
                    let reply = json!({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid JSON"}});
                    let mut out = serde_json::to_vec(&reply).unwrap_or_default();
                    out.extend_from_slice(b"\n\n");
                    let _ = stream.write_all(&out);
                    return;
                }
            }
        }
    }
}

fn answer(a: &Answers, req: &Value) -> (RpcCall, Value) {
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let method = req.get("method").and_then(Value::as_str).map(str::to_owned);
    let params = req.get("params").cloned();
    let body = match (&method, &params) {
        (None, _) => json!({"error": {"code": -32600, "message": "No method"}}),
        (Some(_), None) => json!({"error": {"code": -32600, "message": "No params"}}),
        (Some(m), Some(_)) if a.scripted.iter().any(|(s, _)| s == m) => {
            a.scripted.iter().find(|(s, _)| s == m).map(|(_, v)| v.clone()).unwrap_or_default()
        }
        (Some(m), Some(_)) => match a.profile.rpc_answer(m) {
            Some(mut result) => {
                if m == "getinfo" {
                    result["lightning-dir"] = Value::from(a.lightning_dir.clone());
                }
                json!({ "result": result })
            }
            None => json!({"error": {"code": -32601, "message": format!("Unknown command '{m}'")}}),
        },
    };
    let mut reply = json!({"jsonrpc": "2.0", "id": id});
    if let (Some(r), Some(b)) = (reply.as_object_mut(), body.as_object()) {
        for (k, v) in b {
            r.insert(k.clone(), v.clone());
        }
    }
    let call = RpcCall {
        at_ms: a.start.elapsed().as_secs_f64() * 1000.0,
        method: method.unwrap_or_default(),
        params: params.unwrap_or(Value::Null),
        response: body,
    };
    (call, reply)
}
