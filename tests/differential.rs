//! The differential suite: every misbehave defect and every fixture plugin,
//! judged by cln-harness and started by a real lightningd, for every
//! release that has both a profile and a build. Verdict class and
//! lightningd's reason must agree, except where
//! `fixtures/differential/known-differences.toml` says why they cannot;
//! an entry that no longer differs fails the suite too.
//!
//! The builds are unpacked by `ci/test.sh` (ci/unpack-lightningd.sh) into
//! `target/lightningd/<version>/`, or found at `CLN_HARNESS_LIGHTNINGD_BUILDS`.
//! Without them the suite is skipped with a reason, except under `CI=true`,
//! where it fails.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cln_harness::crosscheck::{CrossCheck, Outcome};
use cln_harness::lightningd::{Build, Node, NodeOptions, Started};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cln-harness"))
}

/// Every unpacked build, oldest first; `None` (after saying why) when the
/// suite must be skipped.
fn builds() -> Option<Vec<Build>> {
    let dir = std::env::var_os("CLN_HARNESS_LIGHTNINGD_BUILDS").map(PathBuf::from).unwrap_or_else(|| root().join("target/lightningd"));
    let mut found: Vec<Build> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("lightningd/lightningd"))
        .filter(|p| p.is_file())
        .map(|p| Build::at(&p).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    found.sort_by(|a, b| a.version.cmp(&b.version));
    if found.is_empty() {
        let why = format!(
            "no lightningd builds under {}: run ci/test.sh (it unpacks shared/lightningd/*.tar.xz from beside the repository, or from CLN_HARNESS_LIGHTNINGD_DIR)",
            dir.display()
        );
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI must run the differential suite, but {why}");
        eprintln!("differential suite skipped: {why}");
        return None;
    }
    Some(found)
}

/// Runs `jobs` closures at most `width` at a time.
fn pool<T: Send + 'static>(width: usize, jobs: Vec<Box<dyn FnOnce() -> T + Send>>) -> Vec<T> {
    let queue = Arc::new(Mutex::new(jobs.into_iter().enumerate().collect::<Vec<_>>()));
    let results = Arc::new(Mutex::new(BTreeMap::new()));
    let workers: Vec<_> = (0..width)
        .map(|_| {
            let (queue, results) = (queue.clone(), results.clone());
            std::thread::spawn(move || loop {
                let Some((i, job)) = queue.lock().unwrap().pop() else { return };
                let r = job();
                results.lock().unwrap().insert(i, r);
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a worker panicked");
    }
    Arc::try_unwrap(results).ok().expect("workers are done").into_inner().unwrap().into_values().collect()
}

/// How many real nodes at once: a few, on a 2-core machine.
fn width() -> usize {
    std::env::var("CLN_HARNESS_DIFF_JOBS").ok().and_then(|v| v.parse().ok()).filter(|&n| n > 0).unwrap_or(3)
}

#[test]
fn backend_starts_every_build() {
    let Some(builds) = builds() else { return };
    let jobs: Vec<Box<dyn FnOnce() -> Result<String, String> + Send>> = builds
        .into_iter()
        .map(|b| {
            Box::new(move || {
                let work = tempfile::tempdir().unwrap();
                let backend = cln_harness::backend::write_wrapper(work.path(), &exe()).unwrap();
                let mut node = Node::start(&b, &backend, &NodeOptions::default()).map_err(|e| e.to_string())?;
                let ready = node.wait_ready(Instant::now() + Duration::from_secs(60));
                let info = node.rpc("getinfo", serde_json::json!({}), Instant::now() + Duration::from_secs(10));
                let status = node.stop(Instant::now() + Duration::from_secs(40));
                let log = node.log();
                match (ready, info) {
                    (Started::Ready, Ok(info)) if info["blockheight"] == 0 && info["network"] == "regtest" && status.is_some_and(|s| s.success()) => {
                        Ok(b.version.clone())
                    }
                    (r, i) => Err(format!("{}: {r:?} {i:?} exit {status:?}\n{}", b.version, log.lines().rev().take(20).collect::<Vec<_>>().join("\n"))),
                }
            }) as Box<dyn FnOnce() -> Result<String, String> + Send>
        })
        .collect();
    let results = pool(width(), jobs);
    let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failed.is_empty(), "real lightningd did not start on the harness's backend:\n{}", failed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n\n"));
    eprintln!("backend served: {}", results.iter().flatten().cloned().collect::<Vec<_>>().join(", "));
}

/// A node whose port is taken by the time it binds (another node's
/// outgoing connection can be handed the same port) is started again on
/// another: the clash is the cross-check's, never the plugin's outcome.
#[test]
fn a_node_whose_port_is_taken_starts_on_another() {
    let Some(builds) = builds() else { return };
    let b = builds.last().expect("at least one build").clone();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let work = tempfile::tempdir().unwrap();
    let backend = cln_harness::backend::write_wrapper(work.path(), &exe()).unwrap();
    let mut node = Node::start_at(&b, &backend, &NodeOptions::default(), port).unwrap();
    let ready = node.wait_ready(Instant::now() + Duration::from_secs(60));
    assert!(matches!(ready, Started::Ready), "{}: {ready:?}\n{}", b.version, node.stdio());
    assert_eq!(node.restarts, 1, "started once on the taken port {port}, then on another");
    assert_ne!(node.port, port);
    node.stop(Instant::now() + Duration::from_secs(40));
}

/// One entry of the known-differences file.
#[derive(serde::Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Known {
    /// `misbehave:<defect>` or `plugin:<file>`.
    case: String,
    /// Release versions (`v26.06.6`), or `["*"]`.
    releases: Vec<String>,
    /// `differs`: the outcomes differ, for the reason given; `not-run`: the
    /// case is not run against the real node (reason given).
    kind: String,
    reason: String,
}

#[derive(serde::Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct KnownFile {
    difference: Vec<Known>,
}

fn known() -> Vec<Known> {
    let path = root().join("fixtures/differential/known-differences.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file: KnownFile = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for k in &file.difference {
        assert!(["differs", "not-run"].contains(&k.kind.as_str()), "{}: kind must be differs or not-run", k.case);
        assert!(k.reason.trim().len() > 20, "{}: every known difference needs its reason", k.case);
    }
    file.difference
}

fn listed<'a>(known: &'a [Known], case: &str, version: &str, kind: &str) -> Option<&'a Known> {
    // `prefix*` lists every case whose name starts with the prefix.
    let names = |k: &Known| k.case.strip_suffix('*').map_or(k.case == case, |p| case.starts_with(p));
    known.iter().find(|k| names(k) && k.kind == kind && k.releases.iter().any(|r| r == "*" || r == version))
}

/// Every defect misbehave.py knows with the check it breaks, read from the
/// fixture itself.
fn defects() -> Vec<(String, String)> {
    let python = std::env::var("CLN_HARNESS_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = format!(
        "import importlib.util as u; s=u.spec_from_file_location('m', {:?}); m=u.module_from_spec(s); s.loader.exec_module(m); print('\\n'.join(d + ' ' + m.CHECKS[d] for d in sorted(m.DEFECTS)))",
        root().join("fixtures/plugins/misbehave.py").display().to_string()
    );
    let out = std::process::Command::new(python).args(["-c", &script]).output().expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ids: Vec<&str> = cln_harness::checks::CATALOGUE.iter().map(|c| c.id).collect();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (d, c) = l.split_once(' ').expect("defect and check");
            assert!(ids.contains(&c), "misbehave.py: CHECKS names {c:?} for {d}, which is no check");
            (d.to_owned(), c.to_owned())
        })
        .collect()
}

/// Which cases run against which release. The oldest and the newest run
/// every case. A release between them runs every fixture plugin, every
/// defect whose check has another tier in a neighbouring release (the
/// rule changed there), and its share of the rest: defects are dealt out
/// in turn across the middle releases, so each runs on one at least.
/// `CLN_HARNESS_DIFF_ALL=1` runs every case on every release.
fn selected(builds: &[Build]) -> Vec<(Build, Case)> {
    use cln_harness::Profile;
    let profiles: Vec<Option<Profile>> = builds.iter().map(|b| b.profile().and_then(|p| Profile::load(&p).ok())).collect();
    let tier = |check: &str, i: usize| {
        let def = cln_harness::checks::CATALOGUE.iter().find(|c| c.id == check)?;
        profiles[i].as_ref().and_then(|p| def.tier_for(p))
    };
    let defect_checks: BTreeMap<String, String> = defects().into_iter().collect();
    let middle = builds.len().saturating_sub(2).max(1);
    let mut out = Vec::new();
    for (i, b) in builds.iter().enumerate() {
        // CLN_HARNESS_DIFF_ALL=1: every case on every release (slow).
        let edge = i == 0 || i + 1 == builds.len() || std::env::var("CLN_HARNESS_DIFF_ALL").as_deref() == Ok("1");
        for (n, case) in cases().into_iter().enumerate() {
            let run = match case.0.strip_prefix("misbehave:").filter(|d| !d.is_empty()) {
                _ if edge => true,
                // The release where the hang begins must be found by the
                // suite, wherever it is.
                None if case.0 == REENTRY_CASE => true,
                // The oldest and newest releases prove the hook rules
                // against a node; tests/cli/hooks.rs judges every profile.
                None if case.0.starts_with("hooks:") => false,
                None => true,
                Some(d) => {
                    let check = &defect_checks[d];
                    let changes = (i > 0 && tier(check, i) != tier(check, i - 1)) || (i + 1 < builds.len() && tier(check, i) != tier(check, i + 1));
                    changes || n % middle == (i - 1) % middle
                }
            };
            if run {
                out.push((b.clone(), case));
            }
        }
    }
    out
}

/// A case: its name, the program and arguments, its environment.
type Case = (String, PathBuf, Vec<String>, Vec<(String, String)>);

fn cases() -> Vec<Case> {
    let plugins = root().join("fixtures/plugins");
    let python = std::env::var("CLN_HARNESS_PYTHON")
        .expect("CLN_HARNESS_PYTHON is not set: run the suite with ci/test.sh, which installs the fixture plugins' dependencies");
    let cln_plugin = std::env::var("CLN_HARNESS_CLN_PLUGIN")
        .expect("CLN_HARNESS_CLN_PLUGIN is not set: run the suite with ci/test.sh, which builds the cln-plugin fixture");
    let mut cases: Vec<Case> = vec![
        ("misbehave:".into(), plugins.join("misbehave.py"), vec![], vec![]),
        ("plugin:sample.py".into(), plugins.join("sample.py"), vec![], vec![]),
        ("plugin:tutorial_raw.py".into(), plugins.join("tutorial_raw.py"), vec![], vec![]),
        ("plugin:tutorial_pyln.py".into(), PathBuf::from(&python), vec![plugins.join("tutorial_pyln.py").display().to_string()], vec![]),
        ("plugin:cln-plugin-fixture".into(), PathBuf::from(cln_plugin), vec![], vec![]),
    ];
    for (d, _) in defects() {
        cases.push((format!("misbehave:{d}"), plugins.join("misbehave.py"), vec![], vec![("CLN_HARNESS_DEFECT".into(), d)]));
    }
    cases.extend(hook_cases());
    cases
}

/// The hooks a real node calls here: db_write from its first database
/// write (before init), rpc_command for every command the cross-check
/// sends, peer_connected and custommsg when the second node connects and
/// sends a message.
const REAL_HOOKS: [&str; 4] = ["db_write", "rpc_command", "peer_connected", "custommsg"];

/// hooks.py holding db_write and an unfiltered rpc_command, answering
/// both correctly: lightningd hangs from v24.11 on
/// (`manifest/hooks/db-write-reentry`).
const REENTRY_CASE: &str = "hooks:db_write+rpc_command";

/// hooks.py registering one of the hooks a real node calls here, answering
/// it correctly (`hooks:@<hook>`) and with each hook defect
/// (`hooks:<defect>@<hook>`). A hook never answered is left out: the real
/// node waits for it for ever. One hook at a time: from v24.11 a plugin
/// holding db_write and a hook whose answer writes to the database hangs
/// the node (see `hooks:db_write+rpc_command`).
fn hook_cases() -> Vec<Case> {
    let script = root().join("fixtures/plugins/hooks.py");
    let reentry = vec![
        ("CLN_HARNESS_DEFECT".to_owned(), "db-write-reentry".to_owned()),
        ("CLN_HARNESS_HOOKS".to_owned(), "db_write,rpc_command".to_owned()),
    ];
    let mut out: Vec<Case> = vec![(REENTRY_CASE.into(), script.clone(), vec![], reentry)];
    let defects = ["", "hook-error", "hook-terminated", "hook-bare-result", "hook-bad-result", "hook-exit", "hook-db-write-fail", "hook-before-init"];
    for d in defects {
        for h in REAL_HOOKS {
            // These two act on db_write alone, and before init.
            if matches!(d, "hook-db-write-fail" | "hook-before-init") && h != "db_write" {
                continue;
            }
            let env = vec![
                ("CLN_HARNESS_DEFECT".to_owned(), d.to_owned()),
                ("CLN_HARNESS_HOOK".to_owned(), h.to_owned()),
                ("CLN_HARNESS_HOOKS".to_owned(), h.to_owned()),
            ];
            out.push((format!("hooks:{d}@{h}"), script.clone(), vec![], env));
        }
    }
    out
}

#[test]
fn harness_and_real_node_agree() {
    let Some(builds) = builds() else { return };
    let builds: Vec<Build> = builds.into_iter().filter(|b| b.profile().is_some()).collect();
    let known = known();
    let filter = std::env::var("CLN_HARNESS_DIFF_FILTER").unwrap_or_default();
    let mut jobs: Vec<Box<dyn FnOnce() -> (String, String, Result<cln_harness::crosscheck::Comparison, String>) + Send>> = Vec::new();
    let mut skipped = Vec::new();
    for (b, (name, program, args, env)) in selected(&builds) {
        {
            if !name.contains(&filter) {
                continue;
            }
            if listed(&known, &name, &b.version, "not-run").is_some() {
                skipped.push(format!("{name} on {}", b.version));
                continue;
            }
            jobs.push(Box::new(move || {
                let mut c = CrossCheck::new(&b.lightningd, &program, exe());
                c.args = args.into_iter().map(Into::into).collect();
                c.env = env;
                // A node hung by the plugin shows it only by never getting
                // ready: that case waits less (a node starts in seconds).
                c.start_timeout = Duration::from_secs(if name == REENTRY_CASE { 45 } else { 90 });
                let t = Instant::now();
                let r = c.run().map_err(|e| e.to_string());
                let what = match &r {
                    Ok(c) if c.difference.is_none() => format!("agree: {}", c.real.class()),
                    Ok(c) => format!("differ: harness {}, lightningd {}", c.harness.class(), c.real.class()),
                    Err(e) => format!("error: {e}"),
                };
                eprintln!("  {:<9} {name:<40} {:>5.1} s  {what}", b.version, t.elapsed().as_secs_f64());
                (name, b.version.clone(), r)
            }));
        }
    }
    let started = Instant::now();
    let n = jobs.len();
    let results = pool(width(), jobs);
    let mut problems = Vec::new();
    let mut table = Vec::new();
    for (name, version, r) in &results {
        let listed_diff = listed(&known, name, version, "differs");
        match r {
            Err(e) => problems.push(format!("{name} on {version}: the cross-check could not run: {e}")),
            Ok(c) => {
                table.push(format!("{version:<9} {name:<40} {:<9} {:<9}{}", c.harness.class(), c.real.class(), if c.difference.is_some() { " (differs)" } else { "" }));
                match (&c.difference, listed_diff) {
                    (Some(d), None) => problems.push(format!("{name} on {version}: unlisted difference: {d}")),
                    (None, Some(k)) => problems.push(format!(
                        "{name} on {version}: listed as differing ({}) but harness and lightningd now agree ({}): remove the stale entry",
                        k.reason,
                        c.real.describe()
                    )),
                    _ => {}
                }
                // Both worlds being killed or exiting for a reason does not
                // prove a check; sanity: a kill needs words.
                if let Outcome::Killed { reason } = &c.real {
                    assert!(!reason.is_empty(), "{name} on {version}: a kill with no reason");
                }
            }
        }
    }
    table.sort();
    eprintln!("differential: {n} cross-checks in {:.0} s ({} not run: listed)\n{}", started.elapsed().as_secs_f64(), skipped.len(), table.join("\n"));
    assert!(n > 0 || !filter.is_empty(), "no case ran");
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

// Payload shapes: what the real node sends, against the harness's fixtures.

/// A value's shape: object keys with their shapes, array element shape,
/// or the JSON type.
fn shape(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        Value::String(_) => "string".into(),
        Value::Number(n) if n.is_f64() => "float".into(),
        Value::Number(_) => "integer".into(),
        Value::Bool(_) => "bool".into(),
        Value::Null => "null".into(),
    }
}

/// Where two shapes differ, as `path: what` lines.
fn shape_diff(path: &str, fixture: &serde_json::Value, real: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match (fixture, real) {
        (Value::Object(f), Value::Object(r)) => {
            for k in f.keys().filter(|k| !r.contains_key(*k)) {
                out.push(format!("{path}.{k}: in the fixture, not sent by the node"));
            }
            for k in r.keys().filter(|k| !f.contains_key(*k)) {
                out.push(format!("{path}.{k}: sent by the node ({}), missing from the fixture", r[k]));
            }
            for (k, fv) in f {
                if let Some(rv) = r.get(k) {
                    shape_diff(&format!("{path}.{k}"), fv, rv, out);
                }
            }
        }
        (Value::Array(f), Value::Array(r)) => {
            if let (Some(f), Some(r)) = (f.first(), r.first()) {
                shape_diff(&format!("{path}[]"), f, r, out);
            }
        }
        (f, r) if f == r => {}
        (f, r) => out.push(format!("{path}: {f} in the fixture, {r} from the node")),
    }
}

fn captures_dir() -> PathBuf {
    root().join("fixtures/differential/captures")
}

/// The harness's fixture for a method, under a profile: a notification
/// or a hook request.
fn fixture_for(profile: &str, method: &str) -> Option<serde_json::Value> {
    ["notifications", "hooks"].iter().find_map(|kind| {
        let text = std::fs::read_to_string(root().join("fixtures").join(kind).join(profile).join(format!("{method}.json"))).ok()?;
        Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixtures/{kind}/{profile}/{method}.json: {e}")))
    })
}

fn profile_of(version: &str) -> Option<String> {
    Build { lightningd: PathBuf::new(), version: version.into() }.profile()
}

#[test]
fn fixture_payloads_have_the_real_nodes_shape() {
    let known = known();
    let mut problems = Vec::new();
    let mut compared = 0;
    let mut releases = 0;
    for dir in std::fs::read_dir(captures_dir()).expect("fixtures/differential/captures exists").flatten() {
        let version = dir.file_name().to_string_lossy().into_owned();
        let Some(profile) = profile_of(&version) else { continue };
        releases += 1;
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let method = f.path().file_stem().unwrap().to_string_lossy().into_owned();
            let real: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(f.path()).unwrap()).unwrap();
            let Some(fixture) = fixture_for(&profile, &method) else {
                continue;
            };
            compared += 1;
            let mut diffs = Vec::new();
            shape_diff("params", &shape(&fixture["params"]), &shape(&real["params"]), &mut diffs);
            let case = format!("payload:{method}");
            match (diffs.is_empty(), listed(&known, &case, &version, "differs")) {
                (false, None) => problems.push(format!("{method} ({profile} against {version}):\n    {}", diffs.join("\n    "))),
                (true, Some(k)) => problems.push(format!("{case} on {version} is listed ({}) but matches now: remove the stale entry", k.reason)),
                _ => {}
            }
        }
    }
    assert!(releases >= 2 && compared >= 8, "captures for at least two releases ({releases}) and eight payloads ({compared})");
    assert!(problems.is_empty(), "fixtures whose keys or types differ from what the real node sends:\n{}", problems.join("\n"));
}

/// Starts a node with the capture plugin, makes it send what it can on a
/// genesis-only chain with a peer, and returns the captured messages.
fn capture(b: &Build, profile: &str) -> Result<BTreeMap<String, serde_json::Value>, String> {
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out = work.path().join("out");
    std::fs::create_dir(&out).map_err(|e| e.to_string())?;
    let backend = cln_harness::backend::write_wrapper(work.path(), &exe()).map_err(|e| e.to_string())?;
    let names = |kind: &str| -> Vec<String> {
        std::fs::read_dir(root().join("fixtures").join(kind).join(profile))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|f| f.path().file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect()
    };
    // `log` would capture only the first of thousands of lines; the rest
    // are what a genesis-only chain and one peer can trigger.
    let topics: Vec<String> = names("notifications").into_iter().filter(|t| t != "log").collect();
    let hooks: Vec<String> = names("hooks").into_iter().filter(|h| ["peer_connected", "custommsg"].contains(&h.as_str())).collect();
    // db_write in a plugin of its own (see capture.py): a copy of it.
    let db_plugin = work.path().join("capture_db.py");
    std::fs::copy(root().join("fixtures/plugins/capture.py"), &db_plugin).map_err(|e| e.to_string())?;
    let db_hooks = if names("hooks").iter().any(|h| h == "db_write") { "db_write" } else { "" };
    let deadline = || Instant::now() + Duration::from_secs(20);
    let mut peer = Node::start(b, &backend, &NodeOptions::default()).map_err(|e| e.to_string())?;
    if !matches!(peer.wait_ready(Instant::now() + Duration::from_secs(60)), Started::Ready) {
        return Err(format!("{}: the peer did not start:\n{}", b.version, peer.log()));
    }
    let opts = NodeOptions {
        plugins: vec![root().join("fixtures/plugins/capture.py"), db_plugin],
        args: vec![],
        env: vec![
            ("CLN_HARNESS_CAPTURE_DIR".into(), out.display().to_string()),
            ("CLN_HARNESS_CAPTURE_TOPICS".into(), topics.join(",")),
            ("CLN_HARNESS_CAPTURE_HOOKS".into(), hooks.join(",")),
            ("CLN_HARNESS_CAPTURE_HOOKS_DB".into(), db_hooks.into()),
        ],
    };
    let mut node = Node::start(b, &backend, &opts).map_err(|e| e.to_string())?;
    if !matches!(node.wait_ready(Instant::now() + Duration::from_secs(60)), Started::Ready) {
        return Err(format!("{}: the node did not start:\n{}", b.version, node.log()));
    }
    // A failed step says how the node ended and what it logged last.
    let why = |n: &mut Node, e: cln_harness::lightningd::NodeError| {
        let log = n.log();
        let tail: Vec<&str> = log.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
        format!("{}: {e} (exit: {:?}); its log ends:\n{}\n{}", b.version, n.exited(), tail.join("\n"), n.stdio())
    };
    let id = node.id(deadline()).map_err(|e| why(&mut node, e))?;
    let peer_id = peer.id(deadline()).map_err(|e| why(&mut peer, e))?;
    node.rpc("connect", serde_json::json!({"id": peer_id, "host": "127.0.0.1", "port": peer.port}), deadline()).map_err(|e| why(&mut node, e))?;
    // The peer may learn of the connection a moment after `connect` returns.
    let mut sent = peer.rpc("sendcustommsg", serde_json::json!({"node_id": id, "msg": "77770000"}), deadline());
    for _ in 0..50 {
        if sent.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        sent = peer.rpc("sendcustommsg", serde_json::json!({"node_id": id, "msg": "77770000"}), deadline());
    }
    sent.map_err(|e| why(&mut peer, e))?;
    // invoice_creation is captured when the call succeeds; a loaded machine
    // can make it time out, and a capture missing once is only noted.
    if let Err(e) = node.rpc("invoice", serde_json::json!({"amount_msat": 1000, "label": "capture", "description": "capture"}), deadline()) {
        eprintln!("{}: invoice: {e}", b.version);
    }
    std::thread::sleep(Duration::from_millis(500));
    node.rpc("disconnect", serde_json::json!({"id": peer_id, "force": true}), deadline()).map_err(|e| why(&mut node, e))?;
    std::thread::sleep(Duration::from_millis(500));
    node.stop(Instant::now() + Duration::from_secs(40));
    peer.stop(Instant::now() + Duration::from_secs(40));
    let mut got = BTreeMap::new();
    for f in std::fs::read_dir(&out).map_err(|e| e.to_string())?.flatten() {
        let text = std::fs::read_to_string(f.path()).map_err(|e| e.to_string())?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", f.path().display()))?;
        got.insert(f.path().file_stem().unwrap().to_string_lossy().into_owned(), v);
    }
    Ok(got)
}

/// The committed captures are what the real nodes send today (by shape);
/// `CLN_HARNESS_UPDATE_CAPTURES=1` rewrites them.
#[test]
fn captures_are_what_the_real_node_sends() {
    let Some(builds) = builds() else { return };
    let update = std::env::var("CLN_HARNESS_UPDATE_CAPTURES").as_deref() == Ok("1");
    let jobs: Vec<Box<dyn FnOnce() -> (String, Result<BTreeMap<String, serde_json::Value>, String>) + Send>> = builds
        .into_iter()
        .filter_map(|b| {
            let profile = b.profile()?;
            Some(Box::new(move || (b.version.clone(), capture(&b, &profile))) as Box<dyn FnOnce() -> _ + Send>)
        })
        .collect();
    let mut problems = Vec::new();
    for (version, r) in pool(width(), jobs) {
        let got = match r {
            Ok(g) => g,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let dir = captures_dir().join(&version);
        if update {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            for (m, v) in &got {
                // Paths on this machine are not the project's business.
                let text = serde_json::to_string(v).unwrap().replace(&root().display().to_string(), "/cln-harness");
                std::fs::write(dir.join(format!("{m}.json")), format!("{text}\n")).unwrap();
            }
            eprintln!("wrote {} captures to {}", got.len(), dir.display());
            continue;
        }
        let committed: BTreeMap<String, serde_json::Value> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|f| {
                let name = f.path().file_stem().unwrap().to_string_lossy().into_owned();
                (name, serde_json::from_str(&std::fs::read_to_string(f.path()).unwrap()).unwrap())
            })
            .collect();
        // Some messages depend on timing (a warning at stop, the peer's
        // storage message): one missing this time is noted, not failed; one
        // never captured before is new and must be committed.
        let new: Vec<&String> = got.keys().filter(|m| !committed.contains_key(*m)).collect();
        if !new.is_empty() {
            problems.push(format!("{version}: the node sent {new:?}, not in the committed captures (CLN_HARNESS_UPDATE_CAPTURES=1 rewrites them)"));
        }
        for m in committed.keys().filter(|m| !got.contains_key(*m)) {
            eprintln!("{version}: {m} was not sent this time");
        }
        for (m, v) in got.iter().filter(|(m, _)| committed.contains_key(*m)) {
            let mut diffs = Vec::new();
            shape_diff(m, &shape(&committed[m]), &shape(v), &mut diffs);
            if !diffs.is_empty() {
                problems.push(format!("{version} {m}: {}", diffs.join("; ")));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// RPC: the mock lightning-rpc against the real one, on the same calls.

/// The calls of `fixtures/differential/rpc-calls.txt`, in rpc_caller's
/// action format.
fn rpc_calls() -> Vec<String> {
    let path = root().join("fixtures/differential/rpc-calls.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(str::trim).filter(|l| l.starts_with("call ")).map(str::to_owned).collect()
}

/// Where the shapes of two answers differ: members one has and the other
/// lacks, and JSON types that differ. Arrays are compared by their first
/// items, where both have one.
fn rpc_shape_diff(path: &str, real: &serde_json::Value, mock: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    match (real, mock) {
        (Value::Object(r), Value::Object(m)) => {
            for (k, v) in r {
                match m.get(k) {
                    Some(w) => rpc_shape_diff(&format!("{path}.{k}"), v, w, out),
                    None => out.push(format!("{path}.{k} only from lightningd")),
                }
            }
            for k in m.keys().filter(|k| !r.contains_key(*k)) {
                out.push(format!("{path}.{k} only from the mock"));
            }
        }
        (Value::Array(r), Value::Array(m)) => {
            if let (Some(a), Some(b)) = (r.first(), m.first()) {
                rpc_shape_diff(&format!("{path}[]"), a, b, out);
            }
        }
        (a, b) if kind(a) != kind(b) => out.push(format!("{path}: lightningd {} {a}, mock {} {b}", kind(a), kind(b))),
        _ => {}
    }
}

/// How one reply of the mock differs from lightningd's, if it does: an
/// error's code and message must be equal, a result's shape.
fn rpc_reply_diff(real: &serde_json::Value, mock: &serde_json::Value) -> Option<String> {
    match (real.get("error"), mock.get("error"), real.get("result"), mock.get("result")) {
        (Some(r), Some(m), _, _) => (r["code"] != m["code"] || r["message"] != m["message"]).then(|| format!("lightningd {r}, mock {m}")),
        (None, None, Some(r), Some(m)) => {
            let mut out = Vec::new();
            rpc_shape_diff("result", r, m, &mut out);
            out.truncate(12);
            (!out.is_empty()).then(|| out.join("; "))
        }
        _ => Some(format!("lightningd {real}, mock {mock}")),
    }
}

/// The replies rpc_caller logged under the real node.
fn rpc_real(b: &Build, calls: &str, args: Vec<String>) -> Result<Vec<serde_json::Value>, String> {
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let backend = cln_harness::backend::write_wrapper(work.path(), &exe()).map_err(|e| e.to_string())?;
    let opts = NodeOptions {
        plugins: vec![root().join("fixtures/plugins/rpc_caller.py")],
        args,
        env: vec![("CLN_HARNESS_RPC".into(), calls.to_owned())],
    };
    let mut node = Node::start(b, &backend, &opts).map_err(|e| e.to_string())?;
    let ready = node.wait_ready(Instant::now() + Duration::from_secs(120));
    let replies = |log: &str| -> Vec<serde_json::Value> {
        cln_harness::lightningd::parse_log(log)
            .into_iter()
            .filter(|e| e.subsystem == "plugin-rpc_caller.py")
            .filter_map(|e| {
                let t = e.text.strip_prefix("reply ")?;
                // Releases before v25.05 log a plugin's message JSON-escaped.
                serde_json::from_str(t).ok().or_else(|| serde_json::from_str(&serde_json::from_str::<String>(&format!("\"{t}\"")).ok()?).ok())
            })
            .collect()
    };
    // v23.02 answers getinfo before every plugin's init is done: wait for
    // the last reply (or the plugin's end), within a deadline.
    let want = calls.lines().count();
    let deadline = Instant::now() + Duration::from_secs(60);
    while matches!(ready, Started::Ready) && replies(&node.log()).len() < want && Instant::now() < deadline && node.exited().is_none() {
        std::thread::sleep(Duration::from_millis(100));
    }
    node.stop(Instant::now() + Duration::from_secs(40));
    let log = node.log();
    if !matches!(ready, Started::Ready) {
        return Err(format!("{ready:?}; log ends:\n{}", log.lines().rev().take(15).collect::<Vec<_>>().join("\n")));
    }
    let got = replies(&log);
    if got.len() < want {
        let mine: Vec<&str> = log.lines().filter(|l| l.contains("rpc_caller")).collect();
        return Err(format!("rpc_caller logged {} replies of {want}; its log lines:\n{}", got.len(), mine.join("\n")));
    }
    Ok(got)
}

/// The replies rpc_caller logged under the harness.
fn rpc_mock(profile: &str, calls: &str, allow_deprecated: bool) -> Result<Vec<serde_json::Value>, String> {
    let r = cln_harness::Harness::new(root().join("fixtures/plugins/rpc_caller.py"))
        .profile(profile)
        .env("CLN_HARNESS_RPC", calls)
        .allow_deprecated_apis(allow_deprecated)
        .handshake_only(true)
        .timeout(Duration::from_secs(60))
        .run()
        .map_err(|e| e.to_string())?;
    Ok(r.log.iter().filter_map(|l| l.message.strip_prefix("reply ").and_then(|t| serde_json::from_str(t).ok())).collect())
}

/// One build's run of the RPC section: its version, whether deprecated
/// APIs were allowed, and lightningd's and the mock's replies.
type RpcRun = (String, bool, Result<(Vec<serde_json::Value>, Vec<serde_json::Value>), String>);

/// The mock lightning-rpc answers rpc_caller's calls (built-in commands,
/// then wrong and deprecated calls) as the real node does: the same error
/// codes and words, answers of the same shape; with deprecated APIs
/// allowed and refused.
#[test]
fn rpc_answers_agree_with_the_real_node() {
    let Some(builds) = builds() else { return };
    let builds: Vec<Build> = builds.into_iter().filter(|b| b.profile().is_some()).collect();
    for must in ["v26.06", "v23.02"] {
        assert!(builds.iter().any(|b| b.version.starts_with(must)), "the RPC section needs a {must} build; have {builds:?}");
    }
    let known = known();
    let calls = rpc_calls();
    assert!(calls.len() > 20, "{} calls", calls.len());
    let text = calls.join("\n");
    let mut jobs: Vec<Box<dyn FnOnce() -> RpcRun + Send>> = Vec::new();
    for b in &builds {
        for allow in [true, false] {
            let (b, text) = (b.clone(), text.clone());
            jobs.push(Box::new(move || {
                let profile = b.profile().expect("filtered");
                let args = if allow { vec![] } else { vec!["--allow-deprecated-apis=false".to_owned()] };
                let both = rpc_real(&b, &text, args).and_then(|real| Ok((real, rpc_mock(&profile, &text, allow)?)));
                (b.version.clone(), allow, both)
            }));
        }
    }
    let mut problems = Vec::new();
    let mut agreed = 0;
    // A listed difference that showed in no run at all is stale; some show
    // only in some runs (start-up timing), so one agreeing run is not.
    let mut listed_seen: BTreeMap<(String, String), (bool, String)> = BTreeMap::new();
    for (version, allow, r) in pool(width(), jobs) {
        let (real, mock) = match r {
            Ok(x) => x,
            Err(e) => {
                problems.push(format!("{version}: could not run: {e}"));
                continue;
            }
        };
        if real.len() != calls.len() || mock.len() != calls.len() {
            problems.push(format!("{version}: {} calls, lightningd answered {}, the mock {}", calls.len(), real.len(), mock.len()));
            continue;
        }
        let mode = if allow { "" } else { " (deprecated APIs off)" };
        for ((call, r), m) in calls.iter().zip(&real).zip(&mock) {
            let case = format!("rpc:{call}");
            let listed = listed(&known, &case, &version, "differs").or_else(|| listed(&known, &format!("{case}{mode}"), &version, "differs"));
            let diff = rpc_reply_diff(r, m);
            match (&diff, listed) {
                (None, None) => agreed += 1,
                (Some(d), None) => problems.push(format!("{version}{mode} {call}: unlisted difference: {d}")),
                (_, Some(k)) => {
                    let seen = listed_seen.entry((k.case.clone(), version.clone())).or_insert((false, k.reason.clone()));
                    seen.0 |= diff.is_some();
                }
            }
        }
    }
    for ((case, version), (seen, reason)) in &listed_seen {
        if !seen {
            problems.push(format!("{case} on {version}: listed as differing ({reason}) but agreed in every run: remove the stale entry"));
        }
    }
    eprintln!("rpc: {agreed} replies agree with the real node, {} listed differences", listed_seen.len());
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

/// `cln-harness capture-rpc` on the real builds: the answers it would
/// write name no path, port or backend of the capture's own machine, and
/// `listconfigs` has every config with its source.
#[test]
fn captured_rpc_answers_are_machine_free() {
    let Some(builds) = builds() else { return };
    for b in builds.iter().filter(|b| b.version.starts_with("v26.06") || b.version.starts_with("v23.02")) {
        let c = cln_harness::capture::capture(b, &exe()).unwrap_or_else(|e| panic!("{}: {e}", b.version));
        let root = b.lightningd.parent().unwrap().parent().unwrap().display().to_string();
        for (method, v) in &c.answers {
            let text = v.to_string();
            for bad in [root.as_str(), "/tmp/", "cln-harness-backend", "\"127.0.0.1:"] {
                assert!(!text.contains(bad), "{} {method}: {bad} in {text}", b.version);
            }
        }
        let lc = &c.answers["listconfigs"];
        let configs = lc.get("configs").and_then(|c| c.as_object()).cloned().unwrap_or_else(|| lc.as_object().unwrap().clone());
        // v23.02's flat answer lists plugin options under `plugins`.
        let least = if lc.get("configs").is_some() { 60 } else { 40 };
        assert!(configs.len() > least, "{}: {} configs", b.version, configs.len());
        if let Some(modern) = lc.get("configs").and_then(|c| c.as_object()) {
            for (name, e) in modern {
                assert!(e.get("source").or(e.get("sources")).is_some(), "{} {name}: no source in {e}", b.version);
            }
            assert_eq!(modern["plugin"]["values_str"], serde_json::json!([]), "{}: the capture's backend is left out", b.version);
        }
        assert_eq!(c.answers["getinfo"]["blockheight"], 0, "{}", b.version);
        assert!(c.answers["listinvoices"]["invoices"].as_array().is_some_and(|i| i.len() == 1), "{}: the capture's invoice", b.version);
    }
}
