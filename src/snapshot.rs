//! Manifest snapshots: a plugin's public surface (options, methods,
//! subscriptions, hooks, custom notifications, feature bits, dynamic) as a
//! stable, sorted, reviewable file in insta's `.snap` format, so a change
//! to the surface shows up as a diff in review.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::manifest::Manifest;

/// The surface as a sorted JSON value.
pub fn surface(m: &Manifest) -> Value {
    let mut options: Vec<Value> = m
        .options
        .iter()
        .map(|o| json!({"name": o.name, "type": o.ty, "default": o.default, "multi": o.multi, "dynamic": o.dynamic, "deprecated": o.deprecated}))
        .collect();
    options.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let mut methods: Vec<Value> = m.rpcmethods.iter().map(|r| json!({"name": r.name, "usage": r.usage})).collect();
    methods.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let mut hooks: Vec<Value> = m.hooks.iter().map(|h| json!({"name": h.name, "before": h.before, "after": h.after})).collect();
    hooks.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    let mut features: Vec<(String, String)> = m.featurebits.clone();
    features.sort();
    json!({
        "dynamic": m.dynamic,
        "featurebits": features.into_iter().map(|(k, v)| (k, Value::from(v))).collect::<serde_json::Map<String, Value>>(),
        "hooks": hooks,
        "notifications": sorted(&m.notifications),
        "options": options,
        "rpcmethods": methods,
        "subscriptions": sorted(&m.subscriptions),
    })
}

/// The snapshot file's text: insta's header, then the surface.
pub fn render(plugin: &str, m: &Manifest) -> String {
    let body = serde_json::to_string_pretty(&surface(m)).expect("value serializes");
    format!("---\nsource: cln-harness\nexpression: manifest of {plugin}\n---\n{body}\n")
}

/// The body of a snapshot file (what follows the header).
fn body(text: &str) -> &str {
    match text.strip_prefix("---\n").and_then(|rest| rest.find("\n---\n").map(|i| &rest[i + 5..])) {
        Some(b) => b,
        None => text,
    }
}

/// Where `snapshot` writes a plugin's snapshot by default.
pub fn default_path(dir: &Path, plugin: &Path) -> PathBuf {
    let name = plugin.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "plugin".into());
    dir.join(format!("{name}.snap"))
}

/// Compares a stored snapshot with the current one: `None` when the
/// surfaces are equal, else a unified diff.
pub fn diff(stored: &str, current: &str) -> Option<String> {
    let (a, b) = (body(stored), body(current));
    if a.trim_end() == b.trim_end() {
        return None;
    }
    let d = similar::TextDiff::from_lines(a, b);
    Some(d.unified_diff().context_radius(2).header("stored", "current").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_ignores_the_header_and_shows_changes() {
        let mut m = Manifest { subscriptions: vec!["disconnect".into(), "connect".into()], ..Manifest::default() };
        let a = render("a", &m);
        assert!(a.contains("\"connect\",\n    \"disconnect\""), "sorted: {a}");
        assert!(diff(&a, &render("elsewhere/a", &m)).is_none());
        m.subscriptions.push("shutdown".into());
        let d = diff(&a, &render("a", &m)).unwrap();
        assert!(d.contains("+    \"shutdown\""), "{d}");
    }
}
