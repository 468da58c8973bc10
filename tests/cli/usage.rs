//! The command line's contract: usage errors, exit codes, `list`, the
//! transcript, spawning as lightningd spawns.

use std::os::unix::fs::PermissionsExt;

use crate::{fixture, harness, misbehave, Run};

fn script(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn missing_plugin_is_a_usage_error() {
    let run = Run::from(harness().args(["run", "-v", "/nonexistent/plugin"]).output().unwrap());
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("plugin '/nonexistent/plugin' not found"), "{}", run.stderr);
}

#[test]
fn non_executable_plugin_is_a_usage_error_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("plugin.py");
    std::fs::write(&p, "print()").unwrap();
    let run = Run::from(harness().args(["run", "-v"]).arg(&p).output().unwrap());
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is not executable: run `chmod +x"), "{}", run.stderr);
}

#[test]
fn no_plugin_at_all_is_a_usage_error() {
    let run = Run::from(harness().args(["run", "-v"]).output().unwrap());
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no plugin given"), "{}", run.stderr);
}

#[test]
fn unknown_profile_names_the_known_ones() {
    let run = Run::from(harness().args(["run", "-v", "--cln-version", "v99.1"]).arg(fixture("misbehave.py")).output().unwrap());
    assert_eq!(run.code, 2);
    let known = cln_harness::Profile::names().join(", ");
    assert!(run.stderr.contains(&format!("unknown profile 'v99.1' (known: {known})")), "{}", run.stderr);
}

#[test]
fn bad_option_value_is_a_usage_error_in_lightningds_words() {
    let run = misbehave("", "v26.06", &["-o", "retries=many"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("--retries=many: 'many' is not a number"), "{}", run.stderr);
}

#[test]
fn interpreter_form_runs_a_script() {
    let run = Run::from(harness().args(["run", "-v", "--"]).arg("python3").arg(fixture("misbehave.py")).output().unwrap());
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("lightningd would accept this plugin"));
}

// §1.2: exec failure at start-up is fatal, with lightningd's text.
#[test]
fn r_bad_interpreter_cannot_be_executed() {
    let dir = tempfile::tempdir().unwrap();
    let p = script(dir.path(), "broken", "#!/nonexistent/interpreter\n");
    let run = Run::from(harness().args(["run", "-v"]).arg(&p).output().unwrap());
    assert_eq!(run.code, 1, "{}", run.stdout);
    let (outcome, msg) = run.check("spawn/exec").unwrap();
    assert_eq!((outcome.as_str(), msg.as_str()), ("FAIL", "opening pipe: No such file or directory"));
    let fatal = run.detail("spawn/exec", "lightningd:").unwrap();
    assert!(fatal.starts_with("error starting plugin '") && fatal.ends_with("broken': opening pipe: No such file or directory"), "{fatal}");
}

#[test]
fn spawn_environment_and_directory_are_lightningds() {
    let dir = tempfile::tempdir().unwrap();
    let env_out = dir.path().join("env.txt");
    let p = script(
        dir.path(),
        "envdump",
        &format!(
            "#!/bin/sh\nprintf '%s %s %s %s\\n' \"$LIGHTNINGD_PLUGIN\" \"$LIGHTNINGD_VERSION\" \"$LC_ALL\" \"$PWD\" > {}\nexec python3 {} \"$@\"\n",
            env_out.display(),
            fixture("misbehave.py").display()
        ),
    );
    let ldir = dir.path().join("ld");
    let run = Run::from(harness().args(["run", "-v", "--cln-version", "v23.02", "--lightning-dir"]).arg(&ldir).arg(&p).output().unwrap());
    assert_eq!(run.code, 0, "{}", run.stdout);
    let env = std::fs::read_to_string(env_out).unwrap();
    assert_eq!(env.trim(), format!("1 v23.02.2 C {}", ldir.canonicalize().unwrap().display()));
}

#[test]
fn list_prints_every_check_with_tiers_per_profile() {
    let run = Run::from(harness().arg("list").output().unwrap());
    assert_eq!(run.code, 0);
    for c in cln_harness::checks::CATALOGUE {
        assert!(run.stdout.contains(c.id), "{} missing", c.id);
    }
    let line = run.stdout.lines().find(|l| l.starts_with("wire/unknown-id")).unwrap();
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&cols[1..3], ["kill", "must"], "v23.02 kills, v26.06 tolerates: {line}");
}

#[test]
fn transcript_records_every_byte_in_lightningds_form() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t.jsonl");
    let run = Run::from(
        harness().args(["run", "-v", "--cln-version", "v23.02", "--transcript"]).arg(&t).arg(fixture("misbehave.py")).output().unwrap(),
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&t).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let sent: Vec<&str> = lines.iter().filter(|l| l["dir"] == "to_plugin").filter_map(|l| l["text"].as_str()).collect();
    // §4.2: v23.02's getmanifest id is numeric; the fixture opts in to
    // string ids, so init's is a string. Compact JSON, `\n\n` (§2.1).
    assert!(
        sent[0].starts_with("{\"jsonrpc\":\"2.0\",\"id\":")
            && sent[0].contains(",\"method\":\"getmanifest\",\"params\":{\"allow-deprecated-apis\":true}}\n\n"),
        "{}",
        sent[0]
    );
    assert!(sent[0]["{\"jsonrpc\":\"2.0\",\"id\":".len()..].starts_with(|c: char| c.is_ascii_digit()), "{}", sent[0]);
    assert!(sent[1].contains("\"id\":\"cln:init#"), "{}", sent[1]);
    assert!(sent[1].contains("\"options\":{\"greeting\":\"hello\",\"retries\":3},\"configuration\":{\"lightning-dir\":\"/"), "{}", sent[1]);
    assert!(sent[1].ends_with("\"startup\":true,\"network\":\"regtest\",\"feature_set\":{\"init\":\"08a000080269a2\",\"node\":\"88a000080269a2\",\"channel\":\"\",\"invoice\":\"02000000024100\"}}}}\n\n"), "{}", sent[1]);
    assert!(lines.iter().any(|l| l["dir"] == "from_plugin"));
    // Each direction's timestamps are when its bytes crossed the pipe.
    for dir in ["to_plugin", "from_plugin"] {
        let mut last = 0.0;
        for l in lines.iter().filter(|l| l["dir"] == dir) {
            let at = l["at_ms"].as_f64().unwrap();
            assert!(at >= last, "{dir} timestamps are ordered");
            last = at;
        }
    }
}

#[test]
fn options_reach_init_as_lightningd_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t.jsonl");
    let run = Run::from(
        harness()
            .args(["run", "-v", "-o", "verbose", "-o", "retries=0x10", "-o", "greeting=hi", "--timeout", "1", "--transcript"])
            .arg(&t)
            .arg(fixture("misbehave.py"))
            .output()
            .unwrap(),
    );
    let text = std::fs::read_to_string(&t).unwrap();
    // §6.1: ints are copied verbatim, even where JSON forbids it, so the
    // plugin cannot parse init, and the harness says why.
    assert!(text.contains(r#"\"options\":{\"greeting\":\"hi\",\"retries\":0x10,\"verbose\":true}"#), "{text}");
    assert_eq!(run.code, 1);
    let (o, m) = run.check("init/timeout").unwrap();
    assert_eq!(o, "FAIL");
    assert!(m.contains("copied an int option verbatim"), "{m}");
}

#[test]
fn nothing_checked_has_its_own_exit_code() {
    let run = misbehave("exit-before-manifest", "v26.06", &["--only", "init/"]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(run.stderr.contains("no check ran"), "{}", run.stderr);
}

#[test]
fn plugin_and_its_children_are_gone_after_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    let p = script(
        dir.path(),
        "forker",
        &format!("#!/bin/sh\nsleep 300 &\necho $! > {}\nexec python3 {}\n", pidfile.display(), fixture("misbehave.py").display()),
    );
    let run = Run::from(harness().args(["run", "-v"]).arg(&p).env("CLN_HARNESS_DEFECT", "dynamic-string").output().unwrap());
    assert_eq!(run.code, 1);
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    // The sleeping child shared the plugin's process group: it was killed.
    let alive =
        unsafe { libc::kill(pid, 0) } == 0 && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ");
    assert!(!alive, "child {pid} survived");
}

#[test]
fn readme_check_catalogue_is_in_sync_with_list() {
    let list = Run::from(harness().arg("list").output().unwrap()).stdout;
    let readme = std::fs::read_to_string(crate::root().join("README.md")).unwrap();
    let start = readme.find("<!-- checks:start").expect("README has the catalogue");
    let block = &readme[start..readme.find("<!-- checks:end -->").unwrap()];
    let body = block.split("```\n").nth(1).unwrap();
    assert_eq!(body, list, "README's check catalogue is stale: paste the output of `cln-harness list`");
}

#[test]
fn readme_matrix_of_the_sample_plugin_is_in_sync() {
    let run = Run::from(harness().args(["run", "--cln-version", "all"]).arg(fixture("sample.py")).output().unwrap());
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let got: Vec<&str> = run.stdout.lines().skip_while(|l| *l != "per release:").take_while(|l| !l.is_empty()).collect();
    let readme = std::fs::read_to_string(crate::root().join("README.md")).unwrap();
    let start = readme.find("<!-- matrix:start").expect("README shows the sample's matrix");
    let block = &readme[start..readme.find("<!-- matrix:end -->").unwrap()];
    let want: Vec<&str> = block.split("```\n").nth(1).unwrap().lines().collect();
    assert_eq!(got, want, "README's matrix is stale: paste the per-release lines of `cln-harness run --cln-version all fixtures/plugins/sample.py`");
}

#[test]
fn all_profiles_end_with_a_compatibility_matrix() {
    // From v23.11 an uppercase option name is killed; v23.02 only refused '|'.
    let run = misbehave("option-uppercase", "all", &[]);
    assert_eq!(run.code, 1);
    let names = cln_harness::Profile::names();
    let header = run.stdout.lines().find(|l| l.starts_with("compatibility:")).expect("a matrix");
    assert!(names.iter().all(|n| header.contains(n.as_str())), "{header}");
    let row = run.stdout.lines().find(|l| l.trim_start().starts_with("manifest/options/name ")).unwrap();
    let mut want = vec!["manifest/options/name"];
    want.extend(names.iter().rev().map(|n| if n == "v23.02" { "PASS" } else { "FAIL" }));
    assert_eq!(row.split_whitespace().collect::<Vec<_>>(), want);
    // One line per release, newest first.
    let lines: Vec<&str> = run.stdout.lines().skip_while(|l| *l != "per release:").skip(1).take(names.len()).collect();
    assert!(lines[0].trim_start().starts_with("v26.06   v26.06.6   killed (manifest/options/name): "), "{lines:?}");
    assert!(lines[names.len() - 1].trim_start().starts_with("v23.02   v23.02.2   runs"), "{lines:?}");
}

#[test]
fn a_range_selects_the_releases_a_plugin_supports() {
    let run = misbehave("option-uppercase", "v25.09..", &[]);
    let header = run.stdout.lines().find(|l| l.starts_with("compatibility:")).expect("a matrix");
    assert_eq!(header.split_whitespace().skip(1).collect::<Vec<_>>(), ["v26.06", "v26.04", "v25.09"]);
    let bad = misbehave("", "v24.06..", &[]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("unknown profile 'v24.06'"), "{}", bad.stderr);
}

#[test]
fn handshake_only_stops_after_start_up() {
    let run = misbehave("reply-null-id", "v26.06", &["--handshake-only"]);
    assert_eq!(run.code, 0, "the reply to a notification is never provoked: {}", run.stdout);
    assert!(run.check("init/timeout").is_some() && run.check("shutdown/eof").is_some());
    for id in ["notify/no-reply", "frame/split", "robust/utf8"] {
        assert!(run.check(id).is_none(), "{id} ran: {}", run.stdout);
    }
}

#[test]
fn changes_page_is_in_sync_with_the_profiles() {
    let run = Run::from(harness().arg("changes").output().unwrap());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let page = std::fs::read_to_string(crate::root().join("docs/changes.md")).unwrap_or_default();
    assert!(page == run.stdout, "docs/changes.md is stale: run `cln-harness changes > docs/changes.md`");
    // Every release after the first has its section, and the switches that
    // tell them apart show up where they changed.
    for n in cln_harness::Profile::names() {
        assert!(run.stdout.contains(&format!("\n## {n} (")), "{n}");
    }
    assert!(run.stdout.contains("| rule `startup_timeout_secs` | `60` → `120` | |"), "{}", run.stdout);
}
