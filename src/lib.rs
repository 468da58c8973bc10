//! cln-harness plays Core Lightning's `lightningd` for one plugin: it spawns
//! the plugin, drives `getmanifest` and `init` over its pipes byte for byte
//! as lightningd does, and judges every answer with lightningd's own rules
//! and words, plus checks lightningd does not make.
//!
//! The library is what the `cln-harness` binary runs, and what Rust plugin
//! authors call from their tests:
//!
//! ```no_run
//! use cln_harness::Harness;
//!
//! let report = Harness::new("target/debug/my-plugin")
//!     .profile("v26.06")
//!     .option("greeting=hi")
//!     .run()
//!     .expect("the harness could run the plugin");
//! report.assert_no_failures();
//! report.assert_check("notify/no-reply", cln_harness::Outcome::Pass);
//! ```
//!
//! Findings are data, not errors: [`Report::checks`] holds one
//! [`CheckResult`] per check in [`checks::CATALOGUE`]. An [`Error`] means
//! the harness itself could not run (no such plugin, bad option value...).

pub mod backend;
pub mod baseline;
pub mod capture;
pub mod changes;
pub mod checks;
pub mod crosscheck;
mod error;
pub mod events;
pub mod framing;
pub mod fuzz;
pub mod genprofile;
pub mod hooks;
mod init;
pub mod jsmn;
pub mod library;
pub mod lightningd;
pub mod manifest;
pub mod messages;
pub mod notify;
pub mod passthrough;
pub mod process;
pub mod profile;
pub mod report;
mod rpc;
pub mod sanitize;
pub mod scenario;
mod session;
pub mod snapshot;
pub mod wire;

pub use checks::{CheckId, CheckResult, Effect, Outcome, Tier};
pub use error::Error;
pub use events::{Event, Sink};
pub use profile::Profile;
pub use report::{Report, Verdict};
pub use rpc::RpcCall;
pub use scenario::Scenario;
pub use session::Harness;
