//! Real plugins: the bundled sample, the tutorial's raw plugin, a
//! pyln-client plugin and a cln-plugin (Rust) plugin, under every profile.
//! `ci/test.sh` provides the pyln-client venv and the Rust fixture build.

use crate::{fixture, harness, Run};

const PROFILES: [&str; 2] = ["v26.06", "v23.02"];

fn needed(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: run the suite with ci/test.sh, which installs the fixture plugins' dependencies"))
}

fn run(profile: &str, command: &[&std::ffi::OsStr]) -> Run {
    Run::from(harness().args(["run", "--cln-version", profile, "--"]).args(command).output().unwrap())
}

fn accepted(run: &Run, what: &str) {
    assert_eq!(run.code, 0, "{what}\n{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("lightningd would accept this plugin"), "{what}\n{}", run.stdout);
    assert!(run.summary().contains(" 0 failed, 0 warned, 0 skipped"), "{what}\n{}", run.stdout);
}

#[test]
fn sample_plugin_is_accepted_and_calls_getinfo() {
    for p in PROFILES {
        let r = run(p, &[fixture("sample.py").as_os_str()]);
        accepted(&r, p);
        assert!(r.stdout.contains("RPC calls the plugin made (1):") && r.stdout.contains(" getinfo "), "{}", r.stdout);
    }
}

#[test]
fn tutorial_raw_plugin_starts_under_both_profiles() {
    for p in PROFILES {
        accepted(&run(p, &["python3".as_ref(), fixture("tutorial_raw.py").as_os_str()]), p);
    }
}

#[test]
fn pyln_client_plugin_starts_and_its_rpc_call_is_answered() {
    let python = needed("CLN_HARNESS_PYTHON");
    for p in PROFILES {
        let r = run(p, &[python.as_ref(), fixture("tutorial_pyln.py").as_os_str()]);
        accepted(&r, p);
        assert!(r.stdout.contains(" getinfo ") && r.stdout.contains("-> answered"), "{}", r.stdout);
    }
}

#[test]
fn cln_plugin_crate_fixture_starts_under_both_profiles() {
    let bin = needed("CLN_HARNESS_CLN_PLUGIN");
    for p in PROFILES {
        let r = run(p, &[bin.as_ref()]);
        accepted(&r, p);
        assert!(r.stdout.contains(" getinfo "), "{}", r.stdout);
    }
}
