//! The Python wheel: built with maturin from this crate, installed into a
//! fresh venv, it gives the `cln-harness` command and the pytest helper.
//!
//! Needs maturin next to `CLN_HARNESS_PYTHON` (ci/test.sh installs it and
//! runs this test with `--ignored`); the build reuses `target/` with the
//! dev profile, so it relinks the binary instead of compiling a release.

use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> PathBuf {
    PathBuf::from(std::env::var_os("CLN_HARNESS_PYTHON").unwrap_or_else(|| "python3".into()))
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
#[ignore = "builds a wheel with maturin: ci/test.sh runs it"]
fn wheel_installs_the_command_and_the_pytest_helper() {
    let maturin = python().parent().expect("a venv's python").join("maturin");
    assert!(maturin.exists(), "no maturin at {}: install it in that venv (ci/test.sh does)", maturin.display());
    let dist = tempfile::tempdir().unwrap();
    run(Command::new(&maturin)
        .args(["build", "--profile", "dev", "--compatibility", "linux", "--out"])
        .arg(dist.path())
        .current_dir(root())
        .env("CARGO_TARGET_DIR", root().join("target")));
    let wheel = std::fs::read_dir(dist.path()).unwrap().flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|e| e == "whl"));
    let wheel = wheel.expect("maturin wrote a wheel");

    // A fresh venv, as a plugin author has: nothing but the wheel.
    let venv = tempfile::tempdir().unwrap();
    run(Command::new(python()).args(["-m", "venv"]).arg(venv.path()));
    let py = venv.path().join("bin/python");
    run(Command::new(&py).args(["-m", "pip", "install", "--quiet", "--no-index", "--disable-pip-version-check"]).arg(&wheel));

    let out = run(Command::new(venv.path().join("bin/cln-harness")).arg("--version"));
    let version = String::from_utf8_lossy(&out.stdout);
    assert!(version.starts_with(&format!("cln-harness {}\nprofiles: ", env!("CARGO_PKG_VERSION"))), "{version}");

    // The helper passes a conformant plugin and names a failing check.
    let sample = root().join("fixtures/plugins/sample.py");
    let misbehave = root().join("fixtures/plugins/misbehave.py");
    let script = format!(
        r#"
import os, sys
from cln_harness import assert_conformant, run
report = assert_conformant({sample:?}, "--handshake-only")
assert report["runs"][0]["verdict"]["verdict"] == "accepted", report["runs"][0]["verdict"]
os.environ["CLN_HARNESS_DEFECT"] = "dynamic-string"
try:
    assert_conformant([sys.executable, {misbehave:?}], "--handshake-only")
except AssertionError as e:
    assert "manifest/dynamic" in str(e), e
    print("failed as expected:", e)
else:
    sys.exit("a plugin with a defect passed")
"#,
        sample = sample.display().to_string(),
        misbehave = misbehave.display().to_string()
    );
    // The venv's own interpreter runs the plugins: pyln-client is not needed by these two.
    let out = run(Command::new(&py).arg("-c").arg(script).env("NO_COLOR", "1"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("failed as expected"));
}
