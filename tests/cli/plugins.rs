//! Real plugins: the bundled sample, the tutorial's raw plugin, a
//! pyln-client plugin and a cln-plugin (Rust) plugin, under every profile.
//! `ci/test.sh` provides the pyln-client venv and the Rust fixture build.
//! What each shows is recorded in README.md; these tests pin it.

use crate::{fixture, harness, Run};

const PROFILES: [&str; 2] = ["v26.06", "v23.02"];

fn needed(var: &str) -> String {
    std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: run the suite with ci/test.sh, which installs the fixture plugins' dependencies"))
}

fn run(profile: &str, command: &[&std::ffi::OsStr]) -> Run {
    Run::from(harness().args(["run", "-v", "--cln-version", profile, "--"]).args(command).output().unwrap())
}

/// The checks that warned, sorted.
fn warnings(run: &Run) -> Vec<String> {
    let mut w: Vec<String> =
        run.stdout.lines().filter(|l| l.starts_with("WARN ")).filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned)).collect();
    w.sort();
    w
}

fn accepted(run: &Run, what: &str) {
    assert_eq!(run.code, 0, "{what}\n{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("lightningd would accept this plugin"), "{what}\n{}", run.stdout);
    assert!(run.summary().contains(" 0 failed, ") && run.summary().ends_with(" 0 skipped"), "{what}\n{}", run.stdout);
}

#[test]
fn sample_plugin_passes_everything_and_calls_getinfo() {
    for p in PROFILES {
        let r = run(p, &[fixture("sample.py").as_os_str()]);
        accepted(&r, p);
        assert!(warnings(&r).is_empty(), "{p}: {}", r.stdout);
        assert!(r.stdout.contains("RPC calls the plugin made (1):") && r.stdout.contains(" getinfo {}  -> answered"), "{}", r.stdout);
    }
}

/// The v23.02-era raw plugin starts under both releases; its line-by-line
/// reading breaks only on input lightningd never sends.
#[test]
fn tutorial_raw_plugin_starts_and_only_malformed_input_breaks_it() {
    for p in PROFILES {
        let r = run(p, &["python3".as_ref(), fixture("tutorial_raw.py").as_os_str()]);
        accepted(&r, p);
        assert_eq!(
            warnings(&r),
            ["robust/invalid-json", "robust/no-params", "robust/terminators", "robust/truncated", "robust/unknown-method"],
            "{p}: {}",
            r.stdout
        );
    }
}

/// The tutorial's pyln-client handlers take v23.02's flat `connect` params:
/// under v26.06 every `connect` raises inside pyln-client, which logs the
/// traceback and carries on.
#[test]
fn tutorial_pyln_plugin_handlers_break_on_v26_wrapped_connect() {
    let python = needed("CLN_HARNESS_PYTHON");
    let v26 = run("v26.06", &[python.as_ref(), fixture("tutorial_pyln.py").as_os_str()]);
    accepted(&v26, "v26.06");
    let (o, m) = v26.check("notify/handler-errors").unwrap();
    assert_eq!(o, "WARN");
    assert!(m.ends_with("the first, after 'connect', ends with: TypeError: missing a required argument: 'id'"), "{m}");
    assert!(v26.stdout.contains(" getinfo {}  -> answered"), "its RPC call during init is answered: {}", v26.stdout);

    let v23 = run("v23.02", &[python.as_ref(), fixture("tutorial_pyln.py").as_os_str()]);
    accepted(&v23, "v23.02");
    assert_eq!(v23.check("notify/handler-errors").unwrap().0, "PASS", "{}", v23.stdout);
    // pyln-client exits on input lightningd never sends (§12.1).
    for w in ["robust/unknown-method", "robust/unsubscribed", "robust/no-params", "robust/terminators"] {
        assert!(warnings(&v23).contains(&w.to_owned()), "{w}: {}", v23.stdout);
    }
}

/// cln-plugin 0.7 survives every framing lightningd produces, and exits on
/// what §12.2 says it exits on.
#[test]
fn cln_plugin_crate_fixture_starts_under_both_profiles() {
    let bin = needed("CLN_HARNESS_CLN_PLUGIN");
    for p in PROFILES {
        let r = run(p, &[bin.as_ref()]);
        accepted(&r, p);
        assert!(r.stdout.contains(" getinfo {}  -> answered"), "{}", r.stdout);
        assert_eq!(
            warnings(&r),
            ["robust/invalid-json", "robust/no-params", "robust/terminators", "robust/truncated", "robust/unknown-method", "robust/utf8"],
            "{p}: {}",
            r.stdout
        );
    }
}

/// The tutorial's walk-through, as a scenario, on the tutorial's pyln-client
/// plugin: under v23.02 every step holds; under v26.06 the connect handler
/// never logs the peer.
#[test]
fn tutorial_scenario_shows_what_each_release_makes_of_the_handlers() {
    let python = needed("CLN_HARNESS_PYTHON");
    let scenario = crate::root().join("fixtures/scenarios/tutorial.toml");
    let go = |p: &str| {
        Run::from(
            harness()
                .args(["run", "-v", "--cln-version", p, "--scenario"])
                .arg(&scenario)
                .arg("--")
                .arg(&python)
                .arg(fixture("tutorial_pyln.py"))
                .output()
                .unwrap(),
        )
    };
    let v23 = go("v23.02");
    assert_eq!(v23.check("scenario/steps").unwrap().0, "PASS", "{}", v23.stdout);
    let v26 = go("v26.06");
    let (o, m) = v26.check("scenario/steps").unwrap();
    assert_eq!(o, "FAIL");
    assert!(m.contains("step 2 (expect_log /022d2236"), "{m}");
}
