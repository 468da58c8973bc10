//! "What changed for plugins": release by release, every rule switch,
//! notification payload, option, command, topic and hook that differs from
//! the previous profile, as the markdown page `docs/changes.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::error::Error;
use crate::profile::Profile;

fn names(set: &BTreeSet<String>) -> String {
    set.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// Lines for what a set gained and lost.
fn set_rows(out: &mut String, what: &str, old: &BTreeSet<String>, new: &BTreeSet<String>) {
    let added: BTreeSet<String> = new.difference(old).cloned().collect();
    let removed: BTreeSet<String> = old.difference(new).cloned().collect();
    if !added.is_empty() {
        let _ = writeln!(out, "| {what} | added | {} |", names(&added));
    }
    if !removed.is_empty() {
        let _ = writeln!(out, "| {what} | removed | {} |", names(&removed));
    }
}

/// The page, generated from the bundled profiles.
pub fn markdown() -> Result<String, Error> {
    let mut out = String::from(
        "# What changed for plugins, release by release\n\n\
         Generated from cln-harness's profiles by `cln-harness changes`; a test keeps it\n\
         in sync. Each section lists what differs from the previous release: the rule\n\
         switches (`fixtures/profiles/<profile>/profile.toml`, each commented with where\n\
         CLN's source changed it), the notification payloads cln-harness sends, and\n\
         the names lightningd owns. A payload marked changed has other keys or value\n\
         shapes; see `fixtures/notifications/<profile>/`.\n",
    );
    let profiles: Vec<String> = Profile::names();
    let mut prev: Option<(Profile, BTreeMap<String, String>)> = None;
    for name in &profiles {
        let p = Profile::load(name)?;
        let sw = Profile::switches(name)?;
        let _ = writeln!(out, "\n## {} ({})\n", p.name, p.version);
        let Some((old, old_sw)) = &prev else {
            let _ = writeln!(out, "The oldest profile: every later section is relative to it.");
            prev = Some((p, sw));
            continue;
        };
        let mut rows = String::new();
        let keys: BTreeSet<&String> = sw.keys().chain(old_sw.keys()).collect();
        for k in keys {
            let (a, b) = (old_sw.get(k), sw.get(k));
            if a != b {
                let show = |v: Option<&String>| v.map(|v| format!("`{}`", v.replace('|', "\\|"))).unwrap_or_else(|| "(none)".into());
                let _ = writeln!(rows, "| rule `{k}` | {} → {} | |", show(a), show(b));
            }
        }
        let topics: BTreeSet<&String> = p.notifications.keys().chain(old.notifications.keys()).collect();
        let changed: BTreeSet<String> = topics
            .into_iter()
            .filter(|t| matches!((old.notifications.get(*t), p.notifications.get(*t)), (Some(a), Some(b)) if a != b))
            .cloned()
            .collect();
        if !changed.is_empty() {
            let _ = writeln!(rows, "| notification payload | changed | {} |", names(&changed));
        }
        set_rows(&mut rows, "native topic", &old.native_topics, &p.native_topics);
        set_rows(&mut rows, "built-in plugins' topic", &old.builtin_topics, &p.builtin_topics);
        set_rows(&mut rows, "hook", &old.hooks, &p.hooks);
        set_rows(&mut rows, "option name taken", &old.taken_options, &p.taken_options);
        set_rows(&mut rows, "built-in command", &old.builtin_commands, &p.builtin_commands);
        let methods = |p: &Profile| p.builtin_plugin_methods.keys().cloned().collect::<BTreeSet<String>>();
        set_rows(&mut rows, "built-in plugin method", &methods(old), &methods(&p));
        if rows.is_empty() {
            let _ = writeln!(out, "Nothing cln-harness models differs from {}.", old.name);
        } else {
            let _ = writeln!(out, "Compared with {}:\n\n| what | change | names |\n|---|---|---|\n{rows}", old.name);
        }
        prev = Some((p, sw));
    }
    Ok(out)
}
