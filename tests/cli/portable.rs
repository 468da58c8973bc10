//! Platforms: Linux-only interfaces stay behind `cfg(target_os = "linux")`
//! (a source audit, for when no macOS toolchain is at hand to compile for
//! it), and a run that judges as a platform without `/proc` does
//! (`CLN_HARNESS_PORTABLE=1`) reaches the same verdicts and claims no more
//! than it can see.

use std::path::{Path, PathBuf};

use super::{fixture, harness, root, Run};

/// What only Linux has: `prctl` and its options, system call numbers, and
/// paths under `/proc`.
fn linux_only_use(code: &str) -> Option<&'static str> {
    let word_at = |i: usize| i == 0 || !code.as_bytes()[i - 1].is_ascii_alphanumeric() && code.as_bytes()[i - 1] != b'_';
    if code.contains("libc::prctl") {
        return Some("libc::prctl");
    }
    for pat in ["PR_SET_", "SYS_"] {
        if code.match_indices(pat).any(|(i, _)| word_at(i)) {
            return Some(pat);
        }
    }
    if code.contains("\"/proc/") || code.contains("\"/proc\"") {
        return Some("/proc");
    }
    None
}

/// Whether an attribute line makes the next item Linux-only.
fn linux_cfg(code: &str) -> bool {
    let t = code.trim();
    (t.starts_with("#[cfg(") || t.starts_with("#![cfg("))
        && t.contains("target_os = \"linux\"")
        && !t.contains("not(")
        && !t.contains("any(")
}

/// A source file cut into lines of code (comments removed; string and
/// character literals kept for the pattern search but masked for the brace
/// count).
struct Line {
    number: usize,
    code: String,
    /// The code with every literal's contents blanked.
    bare: String,
}

fn lex(text: &str) -> Vec<Line> {
    #[derive(PartialEq)]
    enum S {
        Code,
        Str,
        RawStr(usize),
        Block(usize),
    }
    let mut state = S::Code;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let chars: Vec<char> = line.chars().collect();
        let (mut code, mut bare) = (String::new(), String::new());
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            match state {
                S::Block(depth) => {
                    if c == '*' && next == Some('/') {
                        state = if depth == 1 { S::Code } else { S::Block(depth - 1) };
                        i += 1;
                    } else if c == '/' && next == Some('*') {
                        state = S::Block(depth + 1);
                        i += 1;
                    }
                }
                S::Str => {
                    code.push(c);
                    if c == '\\' {
                        if let Some(n) = next {
                            code.push(n);
                        }
                        i += 1;
                    } else if c == '"' {
                        bare.push('"');
                        state = S::Code;
                    }
                }
                S::RawStr(hashes) => {
                    code.push(c);
                    if c == '"' && chars[i + 1..].iter().take(hashes).filter(|&&h| h == '#').count() == hashes {
                        bare.push('"');
                        state = S::Code;
                    }
                }
                S::Code => {
                    if c == '/' && next == Some('/') {
                        break;
                    } else if c == '/' && next == Some('*') {
                        state = S::Block(1);
                        i += 1;
                    } else if c == '"' {
                        code.push(c);
                        bare.push(c);
                        state = S::Str;
                    } else if c == 'r' && matches!(next, Some('"' | '#')) && (i == 0 || !chars[i - 1].is_alphanumeric()) {
                        let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
                        if chars.get(i + 1 + hashes) == Some(&'"') {
                            code.extend(&chars[i..i + 2 + hashes]);
                            bare.push('"');
                            state = S::RawStr(hashes);
                            i += 1 + hashes;
                        } else {
                            code.push(c);
                            bare.push(c);
                        }
                    } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
                        // 'x': a character literal, not a lifetime.
                        code.extend(&chars[i..i + 3]);
                        bare.push_str("' '");
                        i += 2;
                    } else if c == '\'' && next == Some('\\') {
                        let end = chars[i + 2..].iter().position(|&x| x == '\'').map_or(chars.len(), |p| i + 2 + p);
                        code.extend(&chars[i..=end.min(chars.len() - 1)]);
                        bare.push_str("' '");
                        i = end;
                    } else {
                        code.push(c);
                        bare.push(c);
                    }
                }
            }
            i += 1;
        }
        out.push(Line { number: n + 1, code, bare });
    }
    out
}

/// Each Linux-only use outside a Linux-only item, as `line: use`.
fn unguarded(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut depth = 0usize;
    // Depths at which a Linux-only item's body opened.
    let mut regions: Vec<usize> = Vec::new();
    let mut pending = false;
    for line in lex(text) {
        if line.code.trim().starts_with("#![cfg(") && linux_cfg(&line.code) {
            return Vec::new();
        }
        let mut covered = pending || !regions.is_empty();
        if linux_cfg(&line.code) {
            pending = true;
            covered = true;
        }
        for c in line.bare.chars() {
            match c {
                '{' => {
                    if pending {
                        regions.push(depth);
                        pending = false;
                    }
                    depth += 1;
                }
                '}' => {
                    depth = depth.saturating_sub(1);
                    if regions.last() == Some(&depth) {
                        regions.pop();
                    }
                }
                // An item without a body (`mod linux;`, a statement) ends here.
                ';' if pending && !linux_cfg(&line.code) => pending = false,
                _ => {}
            }
        }
        if let Some(what) = linux_only_use(&line.code) {
            if !covered {
                found.push(format!("{}: {what}: {}", line.number, line.code.trim()));
            }
        }
    }
    found
}

/// The files declared `#[cfg(target_os = "linux")] mod NAME;` by `file`.
fn linux_modules(file: &Path, text: &str) -> Vec<PathBuf> {
    let dir = match file.file_name().and_then(|n| n.to_str()) {
        Some("mod.rs" | "lib.rs" | "main.rs") => file.parent().unwrap().to_owned(),
        _ => file.with_extension(""),
    };
    let lines = lex(text);
    let mut out = Vec::new();
    for w in lines.windows(2) {
        let decl = w[1].bare.trim();
        if linux_cfg(&w[0].code) {
            if let Some(name) = decl.strip_prefix("mod ").or_else(|| decl.strip_prefix("pub mod ")).and_then(|r| r.strip_suffix(';')) {
                out.push(dir.join(format!("{name}.rs")));
                out.push(dir.join(name).join("mod.rs"));
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn linux_only_interfaces_are_behind_a_linux_cfg() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    files.sort();
    let texts: Vec<(PathBuf, String)> = files.iter().map(|f| (f.clone(), std::fs::read_to_string(f).unwrap())).collect();
    let linux_files: Vec<PathBuf> = texts.iter().flat_map(|(f, t)| linux_modules(f, t)).collect();
    assert!(linux_files.iter().any(|f| f.ends_with("process/linux.rs")), "the audit no longer sees process/linux.rs as Linux-only");
    let mut bad = Vec::new();
    for (f, t) in &texts {
        if linux_files.contains(f) {
            continue;
        }
        for u in unguarded(t) {
            bad.push(format!("{}:{u}", f.strip_prefix(root()).unwrap_or(f).display()));
        }
    }
    assert!(
        bad.is_empty(),
        "Linux-only interfaces used outside a #[cfg(target_os = \"linux\")] item (macOS builds break):\n{}",
        bad.join("\n")
    );
}

/// The audit itself: what it must flag and what it must let through.
#[test]
fn the_cfg_audit_flags_unguarded_uses_only() {
    let bad = r#"
fn spawn() {
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let s = std::fs::read("/proc/self/status");
    let t = [libc::SYS_read];
}
"#;
    assert_eq!(unguarded(bad).len(), 3, "{:?}", unguarded(bad));
    let good = r#"
// prctl(PR_SET_PDEATHSIG) in /proc/ comments is fine; so is "SYS_" in CLN_HARNESS_SYS_X
#[cfg(target_os = "linux")]
fn spawn() {
    let brace = '{';
    let s = format!("/proc/{pid}/stat {{");
    if x { libc::prctl(libc::PR_SET_PDEATHSIG, 9); }
}
fn after() {
    #[cfg(target_os = "linux")]
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    /* libc::SYS_read */
    let v = "CLN_HARNESS_SYS_X";
}
#[cfg(all(target_os = "linux", test))]
mod tests { const T: i64 = libc::SYS_read; }
"#;
    assert_eq!(unguarded(good), Vec::<String>::new());
    // A cfg that is not Linux-only does not guard, and the region ends with its item.
    let leaky = r#"
#[cfg(not(target_os = "linux"))]
fn a() { let x = std::fs::read("/proc/1/stat"); }
#[cfg(target_os = "linux")]
fn b() { }
fn c() { let t = libc::SYS_poll; }
"#;
    assert_eq!(unguarded(leaky).len(), 2, "{:?}", unguarded(leaky));
    let decl = "#[cfg(target_os = \"linux\")]\nmod linux;\n";
    assert_eq!(linux_modules(Path::new("/x/src/process/mod.rs"), decl)[0], Path::new("/x/src/process/linux.rs"));
}

fn portable(args: &[&str], defect: &str) -> Run {
    let out = harness()
        .args(["run", "-v", "--timeout", "10"])
        .args(args)
        .arg(fixture("misbehave.py"))
        .env("CLN_HARNESS_PORTABLE", "1")
        .env("CLN_HARNESS_DEFECT", defect)
        .output()
        .expect("cln-harness runs");
    Run::from(out)
}

/// Without `/proc` a run cannot see leftover descendants: it says so and
/// does not pass `lifecycle/children`; the verdict is unchanged.
#[test]
fn without_proc_children_are_not_claimed_checked() {
    let run = portable(&[], "");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("lightningd would accept this plugin"), "{}", run.stdout);
    assert!(run.check("lifecycle/children").is_none(), "{}", run.stdout);
    assert!(
        run.stdout.contains("SKIP 1 check not checked: this platform does not show the harness a plugin's descendants"),
        "{}",
        run.stdout
    );
}

/// Without thread states, answers, log lines and deaths still go to the
/// notification that caused them.
#[test]
fn without_proc_events_are_still_charged_to_their_notification() {
    let run = portable(&[], "crash-on-connect");
    assert_eq!(
        run.check("notify/alive"),
        Some(("FAIL".into(), "Killing plugin: exited during normal operation (after the 'connect' notification)".into())),
        "{}",
        run.stdout
    );
    let run = portable(&[], "handler-error");
    let (o, m) = run.check("notify/handler-errors").expect("notify/handler-errors line");
    assert_eq!(o, "WARN");
    assert!(m.contains("the first, after 'connect', ends with: KeyError: 'id'"), "{m}");
    assert_eq!(run.code, 0, "{}", run.stdout);
}
