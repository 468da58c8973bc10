//! Profiles: which lightningd release the harness plays.
//!
//! A profile is data under `fixtures/profiles/<name>/`: `profile.toml` holds
//! the rule switches, and plain lists hold the names a real node already
//! owns. A profile may say `inherits = "<profile>"` and hold only what
//! differs: switches merge key by key, and a list file, a notification or
//! hook folder, or a mock RPC answer it lacks comes from the profile it
//! inherits. Adding a release means adding a folder; code only reads the
//! switches.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use include_dir::{include_dir, Dir};
use serde::Deserialize;

use crate::error::Error;

static PROFILES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/fixtures/profiles");
static RPC: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/fixtures/rpc");
static NOTIFICATIONS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/fixtures/notifications");
static HOOKS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/fixtures/hooks");

/// Message files of one profile, by name: each holds a message's exact
/// bytes without its `\n\n` (docs/protocol.md §15). A profile without its own
/// folder has the folder of the nearest profile it inherits that has one:
/// a folder is the whole set, so a release that lacks a topic says so by
/// having its own folder.
fn messages(root: &Dir<'static>, chain: &[String]) -> BTreeMap<String, Vec<u8>> {
    let Some(dir) = chain.iter().find_map(|p| root.get_dir(p)) else { return BTreeMap::new() };
    dir.files()
        .filter_map(|f| {
            let name = f.path().file_stem()?.to_str()?.to_owned();
            let mut bytes = f.contents().to_vec();
            while bytes.last() == Some(&b'\n') {
                bytes.pop();
            }
            Some((name, bytes))
        })
        .collect()
}

/// The payload variants of every hook the profile has: the files of
/// `fixtures/hooks/<profile>/`, or, for a hook without files there, of the
/// newest older release that has them, else the oldest newer one (payloads
/// change rarely, and a release added without hook files still fires its
/// hooks).
fn hook_variants(profile: &str, hooks: &BTreeSet<String>) -> BTreeMap<String, Vec<(String, Vec<u8>)>> {
    let mut releases: Vec<&str> = HOOKS.dirs().filter_map(|d| d.path().file_name()?.to_str()).collect();
    // Nearest older release first, then the nearest newer ones: a hook
    // that first appeared in a release with no hook files of its own.
    releases.sort_by_key(|r| (*r > profile, if *r <= profile { std::cmp::Reverse(*r) } else { std::cmp::Reverse("") }, *r));
    let mut out: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
    for release in releases.iter() {
        let mut found: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
        for (stem, bytes) in messages(&HOOKS, &[release.to_string()]) {
            let (hook, variant) = stem.split_once('.').unwrap_or((&stem, ""));
            if hooks.contains(hook) && !out.contains_key(hook) {
                found.entry(hook.to_owned()).or_default().push((variant.to_owned(), bytes));
            }
        }
        for (hook, mut v) in found {
            // The plain request (empty variant name) first.
            v.sort_by(|a, b| a.0.cmp(&b.0));
            out.insert(hook, v);
        }
    }
    out
}

/// When request ids are strings (§4).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum StringIds {
    /// Always `"cln:<method>#<n>"`.
    Always,
    /// Numeric unless the manifest opts in (`nonnumericids`).
    OptIn,
    /// `getmanifest` numeric (the plugin has not said yet), strings from
    /// then on: the opt-in became the default (`nonnumericids` deprecated
    /// in v23.08, removed in v24.08).
    AfterManifest,
}

impl StringIds {
    /// Whether the getmanifest request's id is a string.
    pub fn getmanifest_string(self) -> bool {
        self == StringIds::Always
    }

    /// Whether ids are strings once the manifest is read.
    pub fn after_manifest(self, nonnumericids: Option<bool>, allow_deprecated_apis: bool) -> bool {
        match self {
            StringIds::Always | StringIds::AfterManifest => true,
            // §4.2: on when asked for, or, when not said, when deprecated
            // APIs are off.
            StringIds::OptIn => nonnumericids.unwrap_or(!allow_deprecated_apis),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct ParserRules {
    pub precheck_whole_buffer: bool,
    pub read_buffer_initial: usize,
    pub grow_tokens_after_complete: bool,
    pub legacy_reasons: bool,
    pub kill_on_unknown_id: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ManifestRules {
    pub option_types: Vec<String>,
    pub deprecated_versions: bool,
    pub option_dynamic: bool,
    pub legacy_option_rules: bool,
    pub rpcmethod_description_required: bool,
    pub custommessages: bool,
    pub cancheck: bool,
    pub hook_filters: bool,
    pub legacy_hook_reason: bool,
    pub wildcard_subscription: bool,
    pub nonnumericids_false_allowed_with_deprecated: bool,
    /// A flag's non-false `default` is ignored, not fatal, while deprecated
    /// APIs are allowed (v23.08 to v24.08).
    #[serde(default)]
    pub flag_default_ignored_with_deprecated: bool,
    pub feature_places: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct InitRules {
    pub int_verbatim: bool,
    pub bool_true: Vec<String>,
    pub bool_false: Vec<String>,
    pub bool_case_insensitive: bool,
    pub feature_set: toml::Table,
}

#[derive(Clone, Debug, Deserialize)]
pub struct LogRules {
    pub levels: Vec<String>,
    pub level_list_text: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct NotificationRules {
    pub wildcard: bool,
    pub wildcard_excludes: Vec<String>,
    pub copy_per_subscription: bool,
    pub single_delivery: Vec<String>,
    pub shutdown_grace_secs: u64,
}

/// How lightningd judges hook answers (§9, §13). Every switch defaults to
/// the newest behaviour, so a profile names only what its release lacked.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct HookRules {
    /// The non-result message names the plugin (v23.11 and later).
    pub nonresult_names_plugin: bool,
    /// An error with code -4 means "the plugin died" (v23.11 and later);
    /// before, it was fatal like any error.
    pub terminated_continues: bool,
    /// With deprecated APIs on, `failure_code` is still read and a `fail`
    /// without a failure is a temporary node failure (before v24.05).
    pub legacy_failure_codes: bool,
    /// `htlc_accepted` reads `extra_tlvs` (v25.09 and later).
    pub htlc_extra_tlvs: bool,
    /// `htlc_accepted` reads `invoice_msat` (v25.12 and later).
    pub htlc_invoice_msat: bool,
    /// A db_write plugin's own rpc_command answer hangs lightningd (v24.11
    /// and later): see [`crate::hooks::reentry`].
    pub db_write_reentry_hangs: bool,
}

impl Default for HookRules {
    fn default() -> Self {
        HookRules {
            nonresult_names_plugin: true,
            terminated_continues: true,
            legacy_failure_codes: false,
            htlc_extra_tlvs: true,
            htlc_invoice_msat: true,
            db_write_reentry_hangs: true,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
struct ProfileFile {
    name: String,
    version: String,
    startup_timeout_secs: u64,
    string_ids: StringIds,
    parser: ParserRules,
    manifest: ManifestRules,
    init: InitRules,
    log: LogRules,
    notifications: NotificationRules,
    #[serde(default)]
    hooks: HookRules,
}

/// One lightningd release: its switches and the names it already owns.
#[derive(Clone, Debug)]
pub struct Profile {
    /// Short name, e.g. `v26.06`.
    pub name: String,
    /// `LIGHTNINGD_VERSION`, e.g. `v26.06.6`.
    pub version: String,
    /// lightningd's own getmanifest/init timeout.
    pub startup_timeout_secs: u64,
    pub string_ids: StringIds,
    pub parser: ParserRules,
    pub manifest: ManifestRules,
    pub init: InitRules,
    pub log: LogRules,
    pub delivery: NotificationRules,
    /// Long options already registered when a plugin's manifest is read.
    pub taken_options: BTreeSet<String>,
    /// Options registered under several names (`--large-channels|--wumbo`):
    /// v23.02's clash check compares a whole names string, so it sees none
    /// of these.
    pub aliased_options: BTreeSet<String>,
    /// Commands lightningd itself registers (a clash crashes it, §5.4).
    pub builtin_commands: BTreeSet<String>,
    /// Methods of the built-in plugins, with the plugin's file name.
    pub builtin_plugin_methods: BTreeMap<String, String>,
    /// Topics built-in plugins declare: subscribing draws no warning.
    pub builtin_topics: BTreeSet<String>,
    pub hooks: BTreeSet<String>,
    /// Native topics, each with the message lightningd sends for it
    /// (without its `\n\n`), from `fixtures/notifications/<profile>/`.
    pub notifications: BTreeMap<String, Vec<u8>>,
    pub native_topics: BTreeSet<String>,
    /// A request for each hook, as lightningd sends it (none where the
    /// profile has no examples).
    pub hook_requests: BTreeMap<String, Vec<u8>>,
    /// Every payload variant of each hook, the plain request first:
    /// `(variant, bytes)`, from `<hook>.json` and `<hook>.<variant>.json`.
    pub hook_variants: BTreeMap<String, Vec<(String, Vec<u8>)>>,
    pub hook_rules: HookRules,
    /// This profile's name, then the names of the profiles it inherits,
    /// nearest first.
    pub chain: Vec<String>,
}

/// A profile's own `profile.toml`, before inheritance.
fn own_table(name: &str) -> Result<toml::Table, Error> {
    let text = PROFILES.get_file(format!("{name}/profile.toml")).and_then(|f| f.contents_utf8()).unwrap_or("");
    toml::from_str(text).map_err(|e| Error::Profile { name: name.to_owned(), message: e.to_string() })
}

/// `name`, then every profile it inherits, nearest first.
fn chain(name: &str) -> Result<Vec<String>, Error> {
    let mut chain = vec![name.to_owned()];
    loop {
        let last = chain.last().map(String::as_str).unwrap_or(name);
        let Some(parent) = own_table(last)?.get("inherits").and_then(|v| v.as_str()).map(str::to_owned) else { return Ok(chain) };
        let problem = if chain.contains(&parent) {
            Some(format!("inherits '{parent}' in a cycle ({})", chain.join(" -> ")))
        } else if PROFILES.get_dir(&parent).is_none() {
            Some(format!("inherits '{parent}', which is not a bundled profile"))
        } else {
            None
        };
        if let Some(message) = problem {
            return Err(Error::Profile { name: last.to_owned(), message });
        }
        chain.push(parent);
    }
}

fn flatten(prefix: &str, t: &toml::Table, out: &mut BTreeMap<String, String>) {
    for (k, v) in t {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(inner) => flatten(&key, inner, out),
            v => {
                out.insert(key, v.to_string());
            }
        }
    }
}

/// Merges `over` into `base`: tables key by key, anything else replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

impl Profile {
    /// The default profile.
    pub const DEFAULT: &'static str = "v26.06";

    /// Names of every bundled profile, oldest first.
    pub fn names() -> Vec<String> {
        let mut names: Vec<String> = PROFILES.dirs().filter_map(|d| d.path().file_name()?.to_str().map(str::to_owned)).collect();
        names.sort();
        names
    }

    /// The bundled profile a release name means: the profile's own name
    /// (`v24.11`) or the exact release it was read from (`v24.11.2`); the
    /// leading `v` may be left out.
    pub fn resolve(release: &str) -> Result<String, Error> {
        let want = release.trim();
        let want = if want.starts_with('v') { want.to_owned() } else { format!("v{want}") };
        for name in Profile::names() {
            if name == want {
                return Ok(name);
            }
            if let Ok(t) = own_table(&name) {
                if t.get("version").and_then(|v| v.as_str()) == Some(want.as_str()) {
                    return Ok(name);
                }
            }
        }
        Err(Error::UnknownProfile { name: release.to_owned(), known: Profile::names().join(", ") })
    }

    /// The profiles a `--cln-version` value means, newest first: one
    /// release, `all`, or a range `A..B` (either end may be left out; both
    /// ends included).
    pub fn select(spec: &str) -> Result<Vec<String>, Error> {
        let names = Profile::names();
        let picked: Vec<String> = if spec == "all" {
            names
        } else if let Some((from, to)) = spec.split_once("..") {
            let bound = |s: &str| if s.trim().is_empty() { Ok(None) } else { Profile::resolve(s).map(Some) };
            let (from, to) = (bound(from)?, bound(to)?);
            let picked: Vec<String> = names
                .into_iter()
                .filter(|n| from.as_ref().is_none_or(|f| n >= f) && to.as_ref().is_none_or(|t| n <= t))
                .collect();
            if picked.is_empty() {
                return Err(Error::Profile { name: spec.to_owned(), message: "the range holds no release: give the older release first".into() });
            }
            picked
        } else {
            vec![Profile::resolve(spec)?]
        };
        Ok(picked.into_iter().rev().collect())
    }

    /// A profile's switches after inheritance, flattened to
    /// `table.key = value`.
    pub fn switches(release: &str) -> Result<BTreeMap<String, String>, Error> {
        let name = Profile::resolve(release)?;
        let mut table = toml::Table::new();
        for p in chain(&name)?.iter().rev() {
            merge(&mut table, own_table(p)?);
        }
        for k in ["inherits", "name", "version"] {
            table.remove(k);
        }
        let mut out = BTreeMap::new();
        flatten("", &table, &mut out);
        Ok(out)
    }

    /// The profile for `release`, loaded once per process and shared: a
    /// run loads it, and so does every fresh process of the run and every
    /// run after it in the same process (a test suite using the library).
    /// Kept for the life of the process: there are a handful of profiles.
    pub(crate) fn shared(release: &str) -> Result<Arc<Profile>, Error> {
        static LOADED: OnceLock<Mutex<HashMap<String, Arc<Profile>>>> = OnceLock::new();
        let cache = LOADED.get_or_init(Default::default);
        if let Some(p) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(release) {
            return Ok(Arc::clone(p));
        }
        // Loaded outside the lock: two first runs may both load; one wins.
        let p = Arc::new(Profile::load(release)?);
        Ok(Arc::clone(cache.lock().unwrap_or_else(|e| e.into_inner()).entry(release.to_owned()).or_insert(p)))
    }

    /// Loads a bundled profile by release name (`v26.06`, `v24.11.2`).
    pub fn load(release: &str) -> Result<Profile, Error> {
        let name = Profile::resolve(release)?;
        let chain = chain(&name)?;
        let bad = |message: String| Error::Profile { name: name.clone(), message };
        // Each profile's switches, merged over the ones it inherits.
        let mut table = toml::Table::new();
        for p in chain.iter().rev() {
            merge(&mut table, own_table(p)?);
        }
        table.remove("inherits");
        let file: ProfileFile = table.try_into().map_err(|e: toml::de::Error| bad(e.to_string()))?;
        let text = |file: &str| -> &'static str {
            chain.iter().find_map(|p| PROFILES.get_file(format!("{p}/{file}"))).and_then(|f| f.contents_utf8()).unwrap_or("")
        };
        let lines = |file: &str| -> BTreeSet<String> {
            text(file).lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned).collect()
        };
        let notifications = messages(&NOTIFICATIONS, &chain);
        let variants = hook_variants(&name, &lines("hooks.txt"));
        // The build's plugins, and those a default install has beside them
        // (Rust plugins the reference build lacks).
        let builtin_plugin_methods = text("builtin-plugin-methods.tsv")
            .lines()
            .chain(text("absent-plugin-methods.tsv").lines())
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (m, p) = l.split_once('\t')?;
                Some((m.trim().to_owned(), p.trim().to_owned()))
            })
            .collect();
        Ok(Profile {
            name: file.name,
            version: file.version,
            startup_timeout_secs: file.startup_timeout_secs,
            string_ids: file.string_ids,
            parser: file.parser,
            manifest: file.manifest,
            init: file.init,
            log: file.log,
            delivery: file.notifications,
            // The options the reference build has, and those of the
            // built-in plugins it lacks (Rust, or Python without modules).
            taken_options: lines("lightningd-options.txt").into_iter().chain(lines("absent-plugin-options.txt")).collect(),
            aliased_options: lines("aliased-options.txt"),
            builtin_commands: lines("builtin-commands.txt"),
            builtin_plugin_methods,
            builtin_topics: lines("builtin-plugin-topics.txt"),
            hooks: lines("hooks.txt"),
            native_topics: notifications.keys().cloned().collect(),
            notifications,
            hook_requests: variants.iter().filter_map(|(h, v)| Some((h.clone(), v.first()?.1.clone()))).collect(),
            hook_variants: variants,
            hook_rules: file.hooks,
            chain,
        })
    }

    /// The feature bits lightningd offers by default, per place, in the
    /// order `init.configuration.feature_set` lists them.
    pub fn feature_set(&self) -> Vec<(String, String)> {
        self.manifest
            .feature_places
            .iter()
            .map(|p| {
                let v = self.init.feature_set.get(p).and_then(|v| v.as_str()).unwrap_or("");
                (p.clone(), v.to_owned())
            })
            .collect()
    }

    /// The mock RPC's canned `result` for a command, if there is one.
    pub fn rpc_answer(&self, method: &str) -> Option<serde_json::Value> {
        let file = self.chain.iter().find_map(|p| RPC.get_file(format!("{p}/{method}.json")))?;
        serde_json::from_slice(file.contents()).ok()
    }

    /// A data file of the mock RPC for this profile, e.g. `commands.json`.
    pub fn rpc_data(&self, file: &str) -> Option<&'static [u8]> {
        RPC.get_file(format!("{}/{file}", self.name)).map(|f| f.contents())
    }

    /// Where built-in plugins live in a default install; lightningd names a
    /// built-in plugin by this path when a method clashes (§5.4).
    pub fn builtin_plugin_path(&self, file: &str) -> String {
        format!("/usr/local/libexec/c-lightning/plugins/{file}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_profile_loads() {
        let names = Profile::names();
        assert!(names.contains(&Profile::DEFAULT.to_owned()));
        for n in names {
            let p = Profile::load(&n).unwrap();
            assert_eq!(p.name, n);
        }
        // docs/protocol.md §7.1: 22 native topics now, 16 in v23.02.
        assert_eq!(Profile::load("v26.06").unwrap().native_topics.len(), 22);
        assert_eq!(Profile::load("v23.02").unwrap().native_topics.len(), 16);
    }

    #[test]
    fn every_hook_has_payloads_in_its_release_shape() {
        for n in Profile::names() {
            let p = Profile::load(&n).unwrap();
            for hook in &p.hooks {
                let v = p.hook_variants.get(hook).unwrap_or_else(|| panic!("{n}: no payload for {hook}"));
                assert_eq!(v[0].0, "", "{n}/{hook}: the plain request comes first");
                for (variant, bytes) in v {
                    let doc = crate::jsmn::Doc::parse(bytes).unwrap_or_else(|| panic!("{n}/{hook}.{variant}"));
                    assert!(doc.root().get("method").unwrap().str_eq(hook), "{n}/{hook}.{variant}");
                    assert!(doc.root().get("params").unwrap().is_object(), "{n}/{hook}.{variant}");
                }
            }
        }
        // §13: v23.02 had no `recover`, and sent msat values as strings.
        let old = Profile::load("v23.02").unwrap();
        assert!(!old.hook_variants.contains_key("recover"));
        let inv = String::from_utf8_lossy(&old.hook_requests["invoice_payment"]).into_owned();
        assert!(inv.contains("\"msat\":\"100000msat\""), "{inv}");
        assert!(!old.hook_rules.terminated_continues && !old.hook_rules.nonresult_names_plugin);
        assert!(Profile::load("v26.06").unwrap().hook_rules.terminated_continues);
    }

    #[test]
    fn a_release_resolves_by_profile_name_or_exact_version() {
        for n in Profile::names() {
            let p = Profile::load(&n).unwrap();
            assert_eq!(Profile::resolve(&p.version).unwrap(), n);
            assert_eq!(Profile::resolve(&p.version[1..]).unwrap(), n);
            assert_eq!(Profile::load(&p.version).unwrap().name, n);
        }
        assert!(Profile::resolve("v26.06.5").is_err(), "a release no profile was read from");
    }

    #[test]
    fn inheritance_merges_switches_and_falls_back_per_file() {
        let mut base: toml::Table = toml::from_str("a = 1\n[t]\nx = 1\ny = 2").unwrap();
        merge(&mut base, toml::from_str("[t]\ny = 3\nz = 4").unwrap());
        assert_eq!(base.to_string(), toml::from_str::<toml::Table>("a = 1\n[t]\nx = 1\ny = 3\nz = 4").unwrap().to_string());
        for n in Profile::names() {
            let p = Profile::load(&n).unwrap();
            assert_eq!(p.chain[0], n);
            for parent in &p.chain[1..] {
                assert!(Profile::names().contains(parent), "{n} inherits {parent}");
            }
            // Every profile knows every name list, its own or inherited.
            assert!(!p.taken_options.is_empty() && !p.builtin_commands.is_empty() && !p.hooks.is_empty(), "{n}");
            assert!(p.rpc_answer("getinfo").is_some(), "{n}: getinfo answer");
        }
    }

    #[test]
    fn ranges_select_the_releases_between_newest_first() {
        assert_eq!(Profile::select("all").unwrap().len(), Profile::names().len());
        assert_eq!(Profile::select("v25.09..").unwrap(), ["v26.06", "v26.04", "v25.09"]);
        assert_eq!(Profile::select("..v23.11.2").unwrap(), ["v23.11", "v23.02"]);
        assert_eq!(Profile::select("v24.05..v24.11").unwrap(), ["v24.11", "v24.05"]);
        assert_eq!(Profile::select("v24.11.2").unwrap(), ["v24.11"]);
        assert!(Profile::select("v24.11..v24.05").is_err());
        assert!(Profile::select("v24.06..").is_err(), "an end must name a release");
    }

    #[test]
    fn unknown_profile_names_the_known_ones() {
        let e = Profile::load("v99.01").unwrap_err().to_string();
        assert!(e.contains("v26.06"), "{e}");
    }
}
