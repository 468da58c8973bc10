//! Every profile's name lists equal what its real lightningd build reports:
//! `cln-harness gen-profile --check` reads the build unpacked under
//! `$CLN_HARNESS_LIGHTNINGD_BUILDS/<version>/` (default
//! `target/lightningd/`, where `ci/test.sh` unpacks them) and compares.
//! Without the builds the test says so and passes, except under `CI=true`.

use cln_harness::Profile;

use crate::{harness, root};

#[test]
fn profile_name_lists_equal_the_real_builds() {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let builds = std::env::var_os("CLN_HARNESS_LIGHTNINGD_BUILDS").map(std::path::PathBuf::from).unwrap_or_else(|| root().join("target/lightningd"));
    let profiles: Vec<Profile> = Profile::names().iter().map(|n| Profile::load(n).unwrap()).collect();
    let mut present = Vec::new();
    for p in &profiles {
        let lightningd = builds.join(&p.version).join("lightningd/lightningd");
        if lightningd.is_file() {
            present.push((p, lightningd));
        } else if ci {
            panic!("no lightningd build at {} (CI must unpack it: see ci/test.sh)", lightningd.display());
        } else {
            eprintln!("skipped {}: no build at {} (ci/test.sh unpacks them)", p.name, lightningd.display());
        }
    }
    // Two builds at a time: each starts its built-in plugins many times.
    let out = root().join("fixtures/profiles");
    for pair in present.chunks(2) {
        let runs: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = pair
                .iter()
                .map(|(p, l)| {
                    let out = out.clone();
                    s.spawn(move || {
                        let o = harness()
                            .timeout(std::time::Duration::from_secs(900))
                            .args(["gen-profile", "--check", "--out"])
                            .arg(&out)
                            .arg("--lightningd")
                            .arg(l)
                            .output()
                            .unwrap();
                        (p, crate::Run::from(o))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (p, run) in runs {
            assert_eq!(run.code, 0, "{}: the profile differs from its build; run `cln-harness gen-profile --lightningd target/lightningd/{}/lightningd/lightningd`:\n{}\n{}", p.name, p.version, run.stdout, run.stderr);
            // The notification folder holds exactly the topics lightningd
            // sends itself.
            let line = run.stdout.lines().find_map(|l| l.split_once("native topics the build sends: ")).map(|(_, t)| t).unwrap_or("");
            let native: Vec<&str> = line.split_whitespace().collect();
            let have: Vec<&str> = p.native_topics.iter().map(String::as_str).collect();
            assert_eq!(have, native, "{}: fixtures/notifications/{} topics", p.name, p.name);
        }
    }
}
