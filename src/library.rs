//! Which plugin library made a plugin exit, recognised from the evidence it
//! left: pyln-client's tracebacks and cln-plugin's error texts (§12).
//!
//! Both libraries exit on input lightningd never sends (an unknown method, a
//! notification without params, a frame that is not JSON...). Every plugin
//! built on them shows the same `robust` warnings, which its author cannot
//! fix short of patching the library; the report groups them into one line
//! naming the library. They stay warnings, and `--strict` still fails them.

use serde::Serialize;

use crate::report::LogLine;

/// A plugin library the harness recognises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Library {
    PylnClient,
    ClnPlugin,
}

impl Library {
    pub fn name(self) -> &'static str {
        match self {
            Library::PylnClient => "pyln-client",
            Library::ClnPlugin => "cln-plugin",
        }
    }
}

/// The library whose own code ended the plugin, judging from the log lines
/// and stderr the plugin wrote while one input was handled; `None` when the
/// evidence points at the plugin's own code, or at nothing.
pub fn recognise(log: &[LogLine], stderr: &str) -> Option<Library> {
    let lines: Vec<&str> = log.iter().flat_map(|l| l.message.lines()).chain(stderr.lines()).collect();
    // cln-plugin's driver reports the error that ended its read loop as
    // "Plugin loop returned error ..." (plugins/src/lib.rs).
    if lines.iter().any(|l| l.starts_with("Plugin loop returned error")) {
        return Some(Library::ClnPlugin);
    }
    // pyln-client writes a traceback as log lines. The library raised it
    // when, from its first frame in pyln/client on, no frame is the
    // plugin's: only pyln-client's and the standard library's.
    let start = lines.iter().rposition(|l| l.starts_with("Traceback (most recent call last)"))?;
    let frames: Vec<&str> = lines[start..].iter().filter_map(|l| l.trim_start().strip_prefix("File \"")?.split('"').next()).collect();
    let first = frames.iter().position(|f| is_pyln(f))?;
    frames[first..].iter().all(|f| is_pyln(f) || is_stdlib(f)).then_some(Library::PylnClient)
}

fn is_pyln(file: &str) -> bool {
    file.contains("/pyln/client/")
}

fn is_stdlib(file: &str) -> bool {
    file.starts_with("<frozen ") || (file.contains("/lib/python") && !file.contains("-packages/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(text: &str) -> Vec<LogLine> {
        text.lines().map(|l| LogLine { at_ms: 0.0, level: "warn".into(), message: l.into() }).collect()
    }

    const PYLN_UNKNOWN_METHOD: &str = r#"Traceback (most recent call last):
  File "/home/a/plugin.py", line 43, in <module>
    plugin.run()
  File "/venv/lib/python3.11/site-packages/pyln/client/plugin.py", line 951, in run
    partial = self._multi_dispatch(msgs)
  File "/venv/lib/python3.11/site-packages/pyln/client/plugin.py", line 708, in _dispatch_request
    raise ValueError("No method {} found.".format(name))
ValueError: No method cln_harness_no_such_method found."#;

    #[test]
    fn pyln_client_raising_itself_is_recognised() {
        assert_eq!(recognise(&log(PYLN_UNKNOWN_METHOD), ""), Some(Library::PylnClient));
        // A JSON error: the innermost frames are the standard library's.
        let json = r#"Traceback (most recent call last):
  File "/home/a/plugin.py", line 43, in <module>
  File "/venv/lib/python3.11/site-packages/pyln/client/plugin.py", line 949, in run
  File "/usr/lib/python3.11/json/__init__.py", line 346, in loads
  File "/usr/lib/python3.11/json/decoder.py", line 340, in decode
json.decoder.JSONDecodeError: Extra data: line 2 column 1 (char 212)"#;
        assert_eq!(recognise(&log(json), ""), Some(Library::PylnClient));
    }

    #[test]
    fn the_plugins_own_error_is_not_the_librarys() {
        // A handler the author wrote raised, called by pyln-client.
        let handler = r#"Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/pyln/client/plugin.py", line 640, in _exec_func
    ret = func(*ba.args, **ba.kwargs)
  File "/home/a/plugin.py", line 20, in on_connect
    raise RuntimeError("boom")
RuntimeError: boom"#;
        assert_eq!(recognise(&log(handler), ""), None);
        assert_eq!(recognise(&log("peer connected"), "segfault\n"), None);
        assert_eq!(recognise(&[], ""), None);
    }

    #[test]
    fn cln_plugin_is_recognised_in_the_log_or_on_stderr() {
        let l = log("Plugin loop returned error Missing 'params' field in request\n\nStack backtrace:");
        assert_eq!(recognise(&l, ""), Some(Library::ClnPlugin));
        assert_eq!(recognise(&[], "Plugin loop returned error Error reading command: failed to parse JSON\n"), Some(Library::ClnPlugin));
    }
}
