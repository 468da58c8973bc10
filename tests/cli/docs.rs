//! The project's documentation stands alone: every section a check or the
//! README cites exists in docs/protocol.md, and nothing points outside the
//! repository for a rule.

use std::collections::BTreeSet;

use cln_harness::checks::CATALOGUE;

fn anchors() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(crate::root().join("docs/protocol.md")).expect("docs/protocol.md exists");
    doc.split("<a id=\"").skip(1).filter_map(|s| s.split('"').next()).map(str::to_owned).collect()
}

/// Every `docs/protocol.md#sN.M` and `#sN.M` after it in `text`.
fn cited(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in text.split("docs/protocol.md#").skip(1) {
        for (i, piece) in part.split('#').enumerate() {
            // The first piece follows "docs/protocol.md#"; later ones are
            // "#sN" in the same parenthesis, e.g. "(docs/protocol.md#s3, #s4)".
            if i > 0 && !piece.starts_with('s') {
                break;
            }
            let id: String = piece.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '.').collect();
            let id = id.trim_end_matches('.').to_owned();
            if !id.is_empty() {
                out.push(id);
            }
            if piece.contains(')') {
                break;
            }
        }
    }
    out
}

#[test]
fn every_cited_section_exists() {
    let anchors = anchors();
    assert!(anchors.len() > 40, "docs/protocol.md has its section anchors: {anchors:?}");
    let mut texts: Vec<(String, String)> = CATALOGUE.iter().map(|c| (c.id.to_owned(), c.requirement.to_owned())).collect();
    texts.push(("README.md".into(), std::fs::read_to_string(crate::root().join("README.md")).unwrap()));
    let mut seen = 0;
    for (what, text) in &texts {
        for id in cited(text) {
            seen += 1;
            assert!(anchors.contains(&id), "{what} cites docs/protocol.md#{id}, which has no such section");
        }
    }
    assert!(seen > 60, "checks and README cite docs/protocol.md ({seen} citations)");
}

#[test]
fn checks_with_a_rule_of_lightningd_cite_it() {
    for c in CATALOGUE {
        assert!(!c.requirement.contains('§'), "{}: cite docs/protocol.md#sN, not §N: {}", c.id, c.requirement);
    }
    let cites = CATALOGUE.iter().filter(|c| c.requirement.contains("docs/protocol.md#s")).count();
    assert!(cites * 10 >= CATALOGUE.len() * 7, "only {cites} of {} checks cite docs/protocol.md", CATALOGUE.len());
}

#[test]
fn nothing_points_outside_the_repository() {
    let mut bad = Vec::new();
    let root = crate::root();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            // Hidden entries (.git, .venv) and build output are not the project.
            if name.starts_with('.') || name == "target" {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            for needle in ["../shared", "PROTOCOL.md", "/work/"] {
                if text.contains(needle) && !path.ends_with("tests/cli/docs.rs") {
                    bad.push(format!("{} mentions {needle}", path.strip_prefix(&root).unwrap().display()));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}
