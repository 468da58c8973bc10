//! The library's errors: problems that stop a run before or outside any
//! check. What a plugin does wrong is never an error here; it is a check
//! result in the report.

use std::path::PathBuf;

/// Why the harness could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown profile '{name}' (known: {known})")]
    UnknownProfile { name: String, known: String },

    #[error("profile '{name}' is malformed: {message}")]
    Profile { name: String, message: String },

    #[error("plugin '{}' not found: {hint}", path.display())]
    PluginNotFound { path: PathBuf, hint: String },

    #[error("plugin '{}' is not executable: run `chmod +x {}`, or run it through its interpreter: `cln-harness run -- python3 {}`", path.display(), path.display(), path.display())]
    PluginNotExecutable { path: PathBuf },

    #[error("plugin '{}' is a directory: name the plugin file in it (cln-harness runs one plugin; lightningd's --plugin-dir is what takes a directory)", path.display())]
    PluginIsDirectory { path: PathBuf },

    #[error("lightning-dir '{}' is too long: the mock lightning-rpc socket inside it would have a {len}-byte path, and a Unix socket path has at most {max}; pass a shorter --lightning-dir", path.display())]
    LightningDirTooLong { path: PathBuf, len: usize, max: usize },

    #[error("no plugin given: name the plugin file, or `-- INTERPRETER SCRIPT ARGS...`")]
    NoPlugin,

    #[error("option -o {spec}: {message}")]
    BadOption { spec: String, message: String },

    #[error("lightning-dir '{}': {source}", path.display())]
    LightningDir { path: PathBuf, source: std::io::Error },

    #[error("'{}' already exists, and may be a running node's RPC socket: the harness will not replace it. Give --lightning-dir an empty directory, or leave it out for a fresh temporary one", path.display())]
    RpcInUse { path: PathBuf },

    #[error("cannot start the mock lightning-rpc at '{}': {source}", path.display())]
    RpcSocket { path: PathBuf, source: std::io::Error },

    #[error("cannot write the transcript to '{}': {source}", path.display())]
    Transcript { path: PathBuf, source: std::io::Error },

    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}
