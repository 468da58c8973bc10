//! The manifest rules: a getmanifest answer judged exactly as lightningd's
//! `plugin_parse_getmanifest_response` judges it, in its order, with its
//! reason texts (docs/protocol.md §5). The first failure ends the judgement, as
//! the first failure kills the plugin in a real node.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::checks::{CheckId, Effect};
use crate::jsmn::{self, Doc, Node, StrtolError, TokType};
use crate::profile::Profile;

/// What lightningd found wrong, with its words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub check: CheckId,
    /// lightningd's reason (after `Killing plugin: ` for kills).
    pub reason: String,
    pub effect: Effect,
}

impl Finding {
    pub fn kill(check: CheckId, reason: impl Into<String>) -> Finding {
        Finding { check, reason: reason.into(), effect: Effect::Kill }
    }
}

/// An option as the manifest declares it.
#[derive(Clone, Debug, Serialize)]
pub struct OptionDecl {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    /// The default's token contents, as lightningd keeps it.
    pub default: Option<String>,
    pub multi: bool,
    pub dynamic: bool,
    pub deprecated: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct MethodDecl {
    pub name: String,
    pub usage: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct HookDecl {
    pub name: String,
    pub before: Vec<String>,
    pub after: Vec<String>,
    /// `filters`, when given (rpc_command's method names, custommsg's
    /// message types, as text).
    pub filters: Option<Vec<String>>,
}

/// The plugin's public surface, once lightningd has accepted it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Manifest {
    pub options: Vec<OptionDecl>,
    pub rpcmethods: Vec<MethodDecl>,
    pub subscriptions: Vec<String>,
    pub hooks: Vec<HookDecl>,
    pub notifications: Vec<String>,
    pub featurebits: Vec<(String, String)>,
    pub custommessages: Vec<u64>,
    pub dynamic: bool,
    pub nonnumericids: Option<bool>,
    pub cancheck: bool,
}

/// What lightningd knows when it reads the manifest.
pub struct Context<'a> {
    pub profile: &'a Profile,
    pub allow_deprecated_apis: bool,
    /// False when simulating `plugin start`.
    pub startup: bool,
    /// The plugin's canonical path (lightningd's `plugin->cmd`).
    pub path: &'a str,
    /// The plugin's basename, as `before`/`after` name it.
    pub shortname: &'a str,
    /// Parameters given to `plugin start`.
    pub start_params: &'a [String],
}

/// The judgement: which rules were reached, and how it ended.
pub struct Judgement {
    /// Check ids whose rule was applied and held.
    pub passed: Vec<CheckId>,
    pub result: Result<Manifest, Finding>,
    /// What lightningd only logs (§5.6).
    pub warnings: Vec<Finding>,
}

/// Judges the getmanifest response `doc` (the whole JSON-RPC object).
pub fn judge(doc: &Doc, cx: &Context<'_>) -> Judgement {
    let mut j = Judge { cx, passed: Vec::new(), m: Manifest::default() };
    let result = j.run(doc.root());
    let warnings = match &result {
        Ok(()) => subscription_warnings(&j.m, cx.profile),
        Err(_) => Vec::new(),
    };
    // A rule that held for earlier elements and then failed has failed.
    let mut passed = j.passed;
    if let Err(f) = &result {
        passed.retain(|id| *id != f.check);
    }
    Judgement { passed, result: result.map(|()| j.m), warnings }
}

struct Judge<'a> {
    cx: &'a Context<'a>,
    passed: Vec<CheckId>,
    m: Manifest,
}

type Step = Result<(), Finding>;

fn fail<T>(check: CheckId, reason: impl Into<String>) -> Result<T, Finding> {
    Err(Finding::kill(check, reason))
}

impl<'a> Judge<'a> {
    fn pass(&mut self, id: CheckId) {
        if !self.passed.contains(&id) {
            self.passed.push(id);
        }
    }

    fn rules(&self) -> &'a crate::profile::ManifestRules {
        &self.cx.profile.manifest
    }

    fn run(&mut self, root: Node<'_>) -> Step {
        let result = match root.get("result") {
            Some(r) if r.is_object() => r,
            _ => return fail(CheckId::MANIFEST_RESULT, format!("Invalid/missing result tok in '{}'", root.full_text())),
        };
        self.pass(CheckId::MANIFEST_RESULT);

        if let Some(d) = result.get("disable") {
            return Err(Finding {
                check: CheckId::MANIFEST_DISABLE,
                reason: format!("disabled itself: {}", d.text()),
                effect: Effect::Disabled,
            });
        }
        self.pass(CheckId::MANIFEST_DISABLE);

        if let Some(d) = result.get("dynamic") {
            match d.to_bool() {
                Some(b) => self.m.dynamic = b,
                // v23.02 prints the whole token, a string's quotes included
                // (json_tok_full), as its real node shows.
                None if self.rules().legacy_option_rules => {
                    return fail(CheckId::MANIFEST_DYNAMIC, format!("Bad 'dynamic' field ('{}')", d.full_text()))
                }
                None => return fail(CheckId::MANIFEST_DYNAMIC, format!("getmanifest: invalid \"dynamic\" field {}", d.text())),
            }
        }
        self.pass(CheckId::MANIFEST_DYNAMIC);

        self.featurebits(result)?;

        if self.rules().custommessages {
            if let Some(c) = result.get("custommessages") {
                if !c.is_array() {
                    return fail(CheckId::MANIFEST_CUSTOMMESSAGES, format!("custommessages must be array, not '{}'", c.full_text()));
                }
                for (i, e) in c.children().enumerate() {
                    match e.to_u64().filter(|v| *v <= u16::MAX as u64) {
                        Some(v) => self.m.custommessages.push(v),
                        None => {
                            return fail(CheckId::MANIFEST_CUSTOMMESSAGES, format!("custommessages {i} not a u16: '{}'", e.full_text()))
                        }
                    }
                }
            }
            self.pass(CheckId::MANIFEST_CUSTOMMESSAGES);
        }

        if let Some(n) = result.get("nonnumericids") {
            match n.to_bool() {
                None => return fail(CheckId::MANIFEST_NONNUMERICIDS, format!("Invalid nonnumericids: {}", n.full_text())),
                Some(false) if !(self.rules().nonnumericids_false_allowed_with_deprecated && self.cx.allow_deprecated_apis) => {
                    return fail(CheckId::MANIFEST_NONNUMERICIDS, "Plugin does not allow nonnumericids")
                }
                Some(b) => self.m.nonnumericids = Some(b),
            }
        }
        self.pass(CheckId::MANIFEST_NONNUMERICIDS);

        if self.rules().cancheck {
            if let Some(c) = result.get("cancheck") {
                match c.to_bool() {
                    Some(b) => self.m.cancheck = b,
                    None => return fail(CheckId::MANIFEST_CANCHECK, format!("Invalid cancheck: {}", c.full_text())),
                }
            }
            self.pass(CheckId::MANIFEST_CANCHECK);
        }

        self.notifications(result)?;
        self.options(result)?;
        self.rpcmethods(result)?;
        self.subscriptions(result)?;
        self.hooks(result)?;
        self.start_params()?;
        Ok(())
    }

    fn featurebits(&mut self, result: Node<'_>) -> Step {
        let Some(fb) = result.get("featurebits") else {
            for id in [CheckId::MANIFEST_FEATUREBITS_HEX, CheckId::MANIFEST_FEATUREBITS_DYNAMIC, CheckId::MANIFEST_FEATUREBITS_TAKEN] {
                self.pass(id);
            }
            return Ok(());
        };
        let mut set = Vec::new();
        let mut any = false;
        for place in &self.rules().feature_places {
            let Some(v) = fb.get(place) else { continue };
            match hex_decode(v.contents()) {
                Some(bytes) => {
                    any |= !bytes.is_empty();
                    set.push((place.clone(), bytes));
                }
                None => {
                    return fail(
                        CheckId::MANIFEST_FEATUREBITS_HEX,
                        format!("Featurebits returned by plugin is not a valid hexadecimal string: {}", v.text()),
                    )
                }
            }
        }
        self.pass(CheckId::MANIFEST_FEATUREBITS_HEX);
        if self.m.dynamic && any {
            return fail(
                CheckId::MANIFEST_FEATUREBITS_DYNAMIC,
                format!("Custom featurebits only allows for non-dynamic plugins: dynamic=1, featurebits={}", fb.text()),
            );
        }
        self.pass(CheckId::MANIFEST_FEATUREBITS_DYNAMIC);
        let defaults = self.cx.profile.feature_set();
        for (place, bits) in &set {
            let ours = defaults.iter().find(|(p, _)| p == place).and_then(|(_, h)| hex_decode(h.as_bytes())).unwrap_or_default();
            for bit in set_bits(bits) {
                if feature_offered(&ours, bit) {
                    return fail(CheckId::MANIFEST_FEATUREBITS_TAKEN, "Custom featurebits already present");
                }
            }
        }
        self.pass(CheckId::MANIFEST_FEATUREBITS_TAKEN);
        self.m.featurebits = set.into_iter().map(|(p, b)| (p, hex_encode(&b))).collect();
        Ok(())
    }

    fn notifications(&mut self, result: Node<'_>) -> Step {
        if let Some(n) = result.get("notifications") {
            if !n.is_array() {
                return fail(CheckId::MANIFEST_NOTIFICATIONS, "\"result.notifications\" is not an array");
            }
            for (i, obj) in n.children().enumerate() {
                if !obj.is_object() {
                    return fail(CheckId::MANIFEST_NOTIFICATIONS, format!("\"result.notifications[{i}]\" is not an object"));
                }
                let name = match obj.get("method") {
                    Some(m) if m.is_string() => m.text(),
                    _ => {
                        return fail(
                            CheckId::MANIFEST_NOTIFICATIONS,
                            format!("\"result.notifications[{i}].name\" missing or not a string."),
                        )
                    }
                };
                self.pass(CheckId::MANIFEST_NOTIFICATIONS);
                if self.cx.profile.native_topics.contains(&name) {
                    return fail(
                        CheckId::MANIFEST_NOTIFICATIONS_NATIVE,
                        format!("plugin attempted to register a native notification topic \"{name}\", these may however only be sent by lightningd"),
                    );
                }
                self.m.notifications.push(name);
            }
        }
        self.pass(CheckId::MANIFEST_NOTIFICATIONS);
        self.pass(CheckId::MANIFEST_NOTIFICATIONS_NATIVE);
        Ok(())
    }

    fn options(&mut self, result: Node<'_>) -> Step {
        let Some(opts) = result.get("options") else {
            return fail(CheckId::MANIFEST_OPTIONS, "\"result.options\" was not found in the manifest");
        };
        if !opts.is_array() {
            return fail(CheckId::MANIFEST_OPTIONS, "\"result.options\" is not an array");
        }
        self.pass(CheckId::MANIFEST_OPTIONS);
        for o in opts.children() {
            if self.rules().legacy_option_rules {
                self.option_v23(o)?;
            } else {
                self.option(o)?;
            }
        }
        for id in [
            CheckId::MANIFEST_OPTIONS_FIELDS,
            CheckId::MANIFEST_OPTIONS_NAME,
            CheckId::MANIFEST_OPTIONS_TAKEN,
            CheckId::MANIFEST_OPTIONS_DEPRECATED,
            CheckId::MANIFEST_OPTIONS_MULTI,
            CheckId::MANIFEST_OPTIONS_DYNAMIC,
            CheckId::MANIFEST_OPTIONS_TYPE,
            CheckId::MANIFEST_OPTIONS_DEFAULT,
        ] {
            self.pass(id);
        }
        Ok(())
    }

    fn option_taken(&self, name: &str) -> bool {
        self.cx.profile.taken_options.contains(name) || self.m.options.iter().any(|o| o.name == name)
    }

    /// `plugin_opt_add` (v26.06).
    fn option(&mut self, o: Node<'_>) -> Step {
        let (Some(name), Some(ty), Some(_desc)) = (o.get("name"), o.get("type"), o.get("description")) else {
            return fail(CheckId::MANIFEST_OPTIONS_FIELDS, "An option is missing either \"name\", \"description\" or \"type\"");
        };
        self.pass(CheckId::MANIFEST_OPTIONS_FIELDS);
        let name = name.text();
        let allowed = |c: char| c.is_ascii_digit() || c.is_ascii_lowercase() || c == '_' || c == '-';
        if !name.chars().all(allowed) {
            return fail(CheckId::MANIFEST_OPTIONS_NAME, "Option \"name\" must be lowercase alphanumeric, plus _ or -'");
        }
        self.pass(CheckId::MANIFEST_OPTIONS_NAME);
        if self.option_taken(&name) {
            if self.cx.startup {
                return Err(Finding {
                    check: CheckId::MANIFEST_OPTIONS_TAKEN,
                    reason: format!("option name '{name}' is already taken"),
                    effect: Effect::Fatal(format!("error starting plugin '{}': option name '{name}' is already taken", self.cx.path)),
                });
            }
            return fail(CheckId::MANIFEST_OPTIONS_TAKEN, format!("Option \"{name}\" already registered"));
        }
        self.pass(CheckId::MANIFEST_OPTIONS_TAKEN);
        let deprecated = self.deprecated(CheckId::MANIFEST_OPTIONS_DEPRECATED, o.get("deprecated"))?;
        let flag_name = format!("--{name}");
        let multi = bool_setting(CheckId::MANIFEST_OPTIONS_MULTI, &flag_name, o, "multi")?;
        self.pass(CheckId::MANIFEST_OPTIONS_MULTI);
        let dynamic = bool_setting(CheckId::MANIFEST_OPTIONS_DYNAMIC, &flag_name, o, "dynamic")?;
        self.pass(CheckId::MANIFEST_OPTIONS_DYNAMIC);
        let mut default = o.get("default");
        let tyname = ty.text();
        if ty.str_eq("flag") {
            if let Some(d) = default {
                let ignored = self.rules().flag_default_ignored_with_deprecated && self.cx.allow_deprecated_apis;
                if d.to_bool() != Some(false) && !ignored {
                    return fail(
                        CheckId::MANIFEST_OPTIONS_TYPE,
                        format!("{flag_name} type flag default must be 'false' not {}", d.full_text()),
                    );
                }
                default = None;
            }
            if multi {
                return fail(CheckId::MANIFEST_OPTIONS_TYPE, "flag type cannot be multi");
            }
        } else {
            let known = ["string-conceal", "string", "int", "bool"]
                .into_iter()
                .any(|t| ty.str_eq(t) && self.rules().option_types.iter().any(|k| k == t));
            if !known {
                return fail(CheckId::MANIFEST_OPTIONS_TYPE, "Only \"string\", \"int\", \"bool\", and \"flag\" options are supported");
            }
            if ty.str_eq("bool") && multi {
                return fail(CheckId::MANIFEST_OPTIONS_TYPE, "bool type cannot be multi");
            }
        }
        self.pass(CheckId::MANIFEST_OPTIONS_TYPE);
        let mut def = None;
        if let Some(d) = default.filter(|d| !d.is_null()) {
            let v = d.text();
            if let Some(problem) = self.check_value(&tyname, &v, deprecated) {
                return fail(CheckId::MANIFEST_OPTIONS_DEFAULT, format!("Invalid default '{v}': {problem}"));
            }
            def = Some(v);
        }
        self.pass(CheckId::MANIFEST_OPTIONS_DEFAULT);
        self.m.options.push(OptionDecl { name, ty: tyname, default: def, multi, dynamic, deprecated });
        Ok(())
    }

    /// `plugin_opt_add` (v23.02): other order, other texts, and the name
    /// clash is only caught at the end, fatally, at startup.
    fn option_v23(&mut self, o: Node<'_>) -> Step {
        let (Some(name), Some(ty), Some(_desc)) = (o.get("name"), o.get("type"), o.get("description")) else {
            return fail(CheckId::MANIFEST_OPTIONS_FIELDS, "An option is missing either \"name\", \"description\" or \"type\"");
        };
        self.pass(CheckId::MANIFEST_OPTIONS_FIELDS);
        let name = name.text();
        let flag_name = format!("--{name}");
        if name.contains('|') {
            return fail(CheckId::MANIFEST_OPTIONS_NAME, "Option \"name\" may not contain '|'");
        }
        self.pass(CheckId::MANIFEST_OPTIONS_NAME);
        let deprecated = match o.get("deprecated") {
            None => false,
            Some(d) => match d.to_bool() {
                Some(b) => b,
                None => {
                    return fail(CheckId::MANIFEST_OPTIONS_DEPRECATED, format!("{flag_name}: invalid \"deprecated\" field {}", d.text()))
                }
            },
        };
        self.pass(CheckId::MANIFEST_OPTIONS_DEPRECATED);
        let multi = bool_setting(CheckId::MANIFEST_OPTIONS_MULTI, &flag_name, o, "multi")?;
        self.pass(CheckId::MANIFEST_OPTIONS_MULTI);
        let tyname = ty.text();
        let mut default = o.get("default");
        if ty.str_eq("string") || ty.str_eq("int") {
        } else if ty.str_eq("bool") || ty.str_eq("flag") {
            if multi {
                return fail(CheckId::MANIFEST_OPTIONS_TYPE, format!("{flag_name} type \"{tyname}\" cannot have multi"));
            }
            if ty.str_eq("flag") {
                default = None;
            }
        } else {
            return fail(CheckId::MANIFEST_OPTIONS_TYPE, "Only \"string\", \"int\", \"bool\", and \"flag\" options are supported");
        }
        self.pass(CheckId::MANIFEST_OPTIONS_TYPE);
        let mut def = None;
        if let Some(d) = default.filter(|d| !d.is_null()) {
            let v = d.text();
            if self.check_value(&tyname, &v, false).is_some() {
                return fail(CheckId::MANIFEST_OPTIONS_DEFAULT, format!("default {} is not a valid {tyname}", d.full_text()));
            }
            def = Some(v);
        }
        self.pass(CheckId::MANIFEST_OPTIONS_DEFAULT);
        // ccan's opt_unregister matches a registration's whole names
        // string, so a name registered with an alias is not seen as taken.
        let taken = (self.cx.profile.taken_options.contains(&name) && !self.cx.profile.aliased_options.contains(&name))
            || self.m.options.iter().any(|o| o.name == name);
        if taken && self.cx.startup {
            return Err(Finding {
                check: CheckId::MANIFEST_OPTIONS_TAKEN,
                reason: format!("option name '{flag_name}' is already taken"),
                effect: Effect::Fatal(format!("error starting plugin '{}': option name '{flag_name}' is already taken", self.cx.path)),
            });
        }
        self.pass(CheckId::MANIFEST_OPTIONS_TAKEN);
        self.m.options.push(OptionDecl { name, ty: tyname, default: def, multi, dynamic: false, deprecated });
        Ok(())
    }

    /// Parses an option value as lightningd's option callbacks do; the
    /// problem text if it does not parse.
    fn check_value(&self, ty: &str, v: &str, deprecated: bool) -> Option<String> {
        check_option_value(self.cx.profile, ty, v, deprecated && !self.cx.allow_deprecated_apis)
    }

    /// `json_parse_deprecated` (v26.06).
    fn deprecated(&mut self, id: CheckId, tok: Option<Node<'_>>) -> Result<bool, Finding> {
        let Some(d) = tok else {
            self.pass(id);
            return Ok(false);
        };
        if let Some(b) = d.to_bool() {
            self.pass(id);
            return Ok(b);
        }
        if !self.rules().deprecated_versions || d.ty() != TokType::Array || d.size() > 2 {
            return fail(id, format!("\"deprecated\" must be an array of 1 or 2 elements, not {}", d.text()));
        }
        // jsmn lays tokens out in order: the "first element" of an empty
        // array is whatever token follows it.
        let start = d.following().map(|t| t.text()).unwrap_or_default();
        if version_to_number(&start) == 0 {
            return fail(id, format!("invalid \"deprecated\" start version {start}"));
        }
        if d.size() == 2 {
            let end = d.children().nth(1).map(|t| t.text()).unwrap_or_default();
            if version_to_number(&end) == 0 {
                return fail(id, format!("invalid \"deprecated\" end version {end}"));
            }
        }
        self.pass(id);
        Ok(true)
    }

    fn rpcmethods(&mut self, result: Node<'_>) -> Step {
        let Some(methods) = result.get("rpcmethods") else {
            return fail(CheckId::MANIFEST_RPCMETHODS, "\"result.rpcmethods\" missing");
        };
        if !methods.is_array() {
            return fail(CheckId::MANIFEST_RPCMETHODS, "\"result.rpcmethods\" is not an array");
        }
        self.pass(CheckId::MANIFEST_RPCMETHODS);
        let legacy = self.rules().rpcmethod_description_required;
        for meth in methods.children() {
            let whole = meth.text();
            let name = match meth.get("name") {
                Some(n) if n.is_string() => n.text(),
                _ => return fail(CheckId::MANIFEST_RPCMETHODS_NAME, format!("rpcmethod does not have a string \"name\": {whole}")),
            };
            self.pass(CheckId::MANIFEST_RPCMETHODS_NAME);
            if legacy {
                if !meth.get("description").is_some_and(|d| d.is_string()) {
                    return fail(
                        CheckId::MANIFEST_RPCMETHODS_DESCRIPTION,
                        format!("rpcmethod does not have a string \"description\": {whole}"),
                    );
                }
                if meth.get("long_description").is_some_and(|d| !d.is_string()) {
                    return fail(CheckId::MANIFEST_RPCMETHODS_DESCRIPTION, format!("\"long_description\" is not a string: {whole}"));
                }
                self.pass(CheckId::MANIFEST_RPCMETHODS_DESCRIPTION);
            }
            let usage = meth.get("usage");
            if usage.is_some_and(|u| !u.is_string()) {
                return fail(CheckId::MANIFEST_RPCMETHODS_USAGE, format!("\"usage\" is not a string: {whole}"));
            }
            let Some(usage) = usage else {
                return fail(CheckId::MANIFEST_RPCMETHODS_USAGE, "\"usage\" not provided by plugin");
            };
            self.pass(CheckId::MANIFEST_RPCMETHODS_USAGE);
            if legacy {
                if let Some(d) = meth.get("deprecated") {
                    if d.to_bool().is_none() {
                        return fail(CheckId::MANIFEST_RPCMETHODS_DEPRECATED, format!("{name}: invalid \"deprecated\" field {}", d.text()));
                    }
                }
                self.pass(CheckId::MANIFEST_RPCMETHODS_DEPRECATED);
            } else {
                self.deprecated(CheckId::MANIFEST_RPCMETHODS_DEPRECATED, meth.get("deprecated"))?;
            }
            if self.cx.profile.builtin_commands.contains(&name) {
                return Err(Finding {
                    check: CheckId::MANIFEST_RPCMETHODS_TAKEN,
                    reason: format!("method \"{name}\" collides with lightningd's built-in command \"{name}\""),
                    effect: Effect::Fatal(format!(
                        "lightningd crashes: registering \"{name}\" looks up the plugin owning the built-in command, finds none, and dereferences NULL (§5.4)"
                    )),
                });
            }
            let owner = if let Some(file) = self.cx.profile.builtin_plugin_methods.get(&name) {
                Some(self.cx.profile.builtin_plugin_path(file))
            } else if self.m.rpcmethods.iter().any(|m| m.name == name) {
                Some(self.cx.path.to_owned())
            } else {
                None
            };
            if let Some(owner) = owner {
                return fail(
                    CheckId::MANIFEST_RPCMETHODS_TAKEN,
                    format!("Could not register method \"{name}\", a method with that name is already registered by plugin {owner}"),
                );
            }
            self.pass(CheckId::MANIFEST_RPCMETHODS_TAKEN);
            self.m.rpcmethods.push(MethodDecl { name, usage: usage.text() });
        }
        for id in [
            CheckId::MANIFEST_RPCMETHODS_NAME,
            CheckId::MANIFEST_RPCMETHODS_DESCRIPTION,
            CheckId::MANIFEST_RPCMETHODS_USAGE,
            CheckId::MANIFEST_RPCMETHODS_DEPRECATED,
            CheckId::MANIFEST_RPCMETHODS_TAKEN,
        ] {
            if id != CheckId::MANIFEST_RPCMETHODS_DESCRIPTION || legacy {
                self.pass(id);
            }
        }
        Ok(())
    }

    fn subscriptions(&mut self, result: Node<'_>) -> Step {
        if let Some(subs) = result.get("subscriptions") {
            if !subs.is_array() {
                return fail(CheckId::MANIFEST_SUBSCRIPTIONS, "\"result.subscriptions\" is not an array");
            }
            for (i, s) in subs.children().enumerate() {
                if !s.is_string() {
                    return fail(
                        CheckId::MANIFEST_SUBSCRIPTIONS,
                        format!("result.subscriptions[{i}] is not a string: '{}'", s.full_text()),
                    );
                }
                self.m.subscriptions.push(s.text());
            }
        }
        self.pass(CheckId::MANIFEST_SUBSCRIPTIONS);
        Ok(())
    }

    fn hooks(&mut self, result: Node<'_>) -> Step {
        let legacy = self.rules().legacy_hook_reason;
        if let Some(hooks) = result.get("hooks") {
            // lightningd iterates whatever it got as an array: an object's
            // keys become hook names, a scalar has no elements.
            for t in hooks.children() {
                let (name, before, after, filters) = if t.is_object() {
                    let Some(n) = t.get("name") else {
                        return fail(CheckId::MANIFEST_HOOKS_NAME, format!("no name in hook obj {}", t.full_text()));
                    };
                    (n.text(), t.get("before"), t.get("after"), if legacy { None } else { t.get("filters") })
                } else {
                    (t.text(), None, None, None)
                };
                self.pass(CheckId::MANIFEST_HOOKS_NAME);
                let known = self.cx.profile.hooks.contains(&name);
                let duplicate = self.m.hooks.iter().any(|h| h.name == name);
                if legacy && (!known || duplicate) {
                    return fail(
                        CheckId::MANIFEST_HOOKS_KNOWN,
                        format!("could not register hook '{name}', either the name doesn't exist or another plugin already registered it."),
                    );
                }
                if !known {
                    return fail(CheckId::MANIFEST_HOOKS_KNOWN, format!("Unknown hook name {name}"));
                }
                self.pass(CheckId::MANIFEST_HOOKS_KNOWN);
                if !legacy {
                    self.filters(&name, filters)?;
                    if duplicate {
                        return fail(CheckId::MANIFEST_HOOKS_DUPLICATE, format!("Registered for hook {name} multiple times"));
                    }
                    self.pass(CheckId::MANIFEST_HOOKS_DUPLICATE);
                }
                let names =
                    |n: Option<Node<'_>>| -> Vec<String> { n.map(|a| a.children().map(|c| c.text()).collect()).unwrap_or_default() };
                let filters = filters.map(|f| f.children().map(|c| c.text()).collect());
                self.m.hooks.push(HookDecl { name, before: names(before), after: names(after), filters });
            }
        }
        for id in [
            CheckId::MANIFEST_HOOKS_NAME,
            CheckId::MANIFEST_HOOKS_KNOWN,
            CheckId::MANIFEST_HOOKS_DUPLICATE,
            CheckId::MANIFEST_HOOKS_FILTERS,
        ] {
            if !legacy || !matches!(id, CheckId::MANIFEST_HOOKS_DUPLICATE | CheckId::MANIFEST_HOOKS_FILTERS) {
                self.pass(id);
            }
        }
        self.hook_order()
    }

    fn filters(&mut self, hook: &str, filters: Option<Node<'_>>) -> Step {
        let kind = match hook {
            "rpc_command" => Some(true),
            "custommsg" => Some(false),
            _ => None,
        };
        let Some(f) = filters else {
            self.pass(CheckId::MANIFEST_HOOKS_FILTERS);
            return Ok(());
        };
        let Some(strings) = kind else {
            return fail(CheckId::MANIFEST_HOOKS_FILTERS, format!("Hook {hook} does not allow filters"));
        };
        if !f.is_array() {
            return fail(CheckId::MANIFEST_HOOKS_FILTERS, "filters token must be an array");
        }
        for e in f.children() {
            if strings && !e.is_string() {
                return fail(CheckId::MANIFEST_HOOKS_FILTERS, format!("filters must be array of strings, not '{}'", e.full_text()));
            }
            if !strings && e.to_u64().is_none() {
                return fail(
                    CheckId::MANIFEST_HOOKS_FILTERS,
                    format!("filters must be array of unsigned integers, not '{}'", e.full_text()),
                );
            }
        }
        self.pass(CheckId::MANIFEST_HOOKS_FILTERS);
        Ok(())
    }

    /// lightningd orders each hook's plugins once all manifests are in. With
    /// this plugin alone, only a constraint naming the plugin itself can
    /// make the order impossible.
    fn hook_order(&mut self) -> Step {
        let me = self.cx.shortname;
        let names_me = |n: &String| n == me || (n.contains('/') && n == self.cx.path);
        if self.m.hooks.iter().any(|h| h.before.iter().any(names_me) || h.after.iter().any(names_me)) {
            return fail(CheckId::MANIFEST_HOOKS_ORDER, "Cannot meet required hook dependencies");
        }
        self.pass(CheckId::MANIFEST_HOOKS_ORDER);
        Ok(())
    }

    fn start_params(&mut self) -> Step {
        if self.cx.startup {
            self.pass(CheckId::MANIFEST_START_PARAMS);
            return Ok(());
        }
        for p in self.cx.start_params {
            if !self.m.options.iter().any(|o| &o.name == p) {
                return fail(CheckId::MANIFEST_START_PARAMS, format!("unknown parameter {p}"));
            }
        }
        self.pass(CheckId::MANIFEST_START_PARAMS);
        if !self.m.dynamic {
            return fail(CheckId::MANIFEST_DYNAMIC_START, "Not a dynamic plugin");
        }
        self.pass(CheckId::MANIFEST_DYNAMIC_START);
        Ok(())
    }
}

/// `bool_setting`: absent is false; anything but a JSON boolean fails.
fn bool_setting(check: CheckId, optname: &str, obj: Node<'_>, field: &str) -> Result<bool, Finding> {
    match obj.get(field) {
        None => Ok(false),
        Some(t) => t.to_bool().ok_or_else(|| Finding::kill(check, format!("{optname}: invalid \"{field}\" field {}", t.text()))),
    }
}

/// Checks an option value the way lightningd's option parser does; returns
/// lightningd's problem text.
pub fn check_option_value(profile: &Profile, ty: &str, v: &str, deprecated_disallowed: bool) -> Option<String> {
    if deprecated_disallowed {
        return Some("deprecated option (will be removed!)".to_owned());
    }
    match ty {
        "int" => {
            if profile.init.int_verbatim {
                match jsmn::strtol(v) {
                    Ok(_) => None,
                    Err(StrtolError::NotANumber) => Some(format!("'{v}' is not a number")),
                    Err(StrtolError::OutOfRange) => Some(format!("'{v}' is out of range")),
                }
            } else if v.is_empty() || jsmn::strtol(v).is_ok() {
                None
            } else {
                Some(format!("'{v}' is not a number"))
            }
        }
        "bool" => parse_bool(profile, v).is_none().then(|| format!("Invalid argument '{v}'")),
        _ => None,
    }
}

/// A bool option value, as the profile's lightningd reads it.
pub fn parse_bool(profile: &Profile, v: &str) -> Option<bool> {
    let eq = |a: &String| if profile.init.bool_case_insensitive { a.eq_ignore_ascii_case(v) } else { a == v };
    if profile.init.bool_true.iter().any(eq) {
        Some(true)
    } else if profile.init.bool_false.iter().any(eq) {
        Some(false)
    } else {
        None
    }
}

/// Subscriptions lightningd would warn about once all manifests are in.
fn subscription_warnings(m: &Manifest, profile: &Profile) -> Vec<Finding> {
    let declared: BTreeSet<&String> = m.notifications.iter().collect();
    m.subscriptions
        .iter()
        .filter(|t| {
            let known = (profile.manifest.wildcard_subscription && t.as_str() == "*")
                || profile.native_topics.contains(*t)
                || profile.builtin_topics.contains(*t)
                || declared.contains(t);
            !known
        })
        .map(|t| Finding {
            check: CheckId::MANIFEST_TOPICS,
            reason: format!("topic '{t}' is not a known notification topic"),
            effect: Effect::Logged,
        })
        .collect()
}

/// `version_to_number`: `vYY.MM[.P]`, 0 when malformed.
fn version_to_number(v: &str) -> u32 {
    fn num(s: &str) -> (Option<i64>, &str) {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        (s[..end].parse().ok(), &s[end..])
    }
    let Some(rest) = v.strip_prefix('v') else { return 0 };
    let (Some(year), rest) = num(rest) else { return 0 };
    let Some(rest) = rest.strip_prefix('.') else { return 0 };
    if year > 99 {
        return 0;
    }
    let (Some(month), rest) = num(rest) else { return 0 };
    if !(1..=12).contains(&month) {
        return 0;
    }
    let patch = if let Some(p) = rest.strip_prefix('.') {
        match num(p) {
            (Some(p), _) if p < 10 => p,
            _ => return 0,
        }
    } else {
        0
    };
    (1 + patch + 10 * month + 120 * year) as u32
}

fn hex_decode(h: &[u8]) -> Option<Vec<u8>> {
    if h.len() % 2 != 0 {
        return None;
    }
    h.chunks(2)
        .map(|p| {
            let s = std::str::from_utf8(p).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Bit numbers set in a big-endian feature bitfield.
fn set_bits(bits: &[u8]) -> Vec<usize> {
    let n = bits.len();
    (0..n * 8).filter(|i| bits[n - 1 - i / 8] & (1 << (i % 8)) != 0).collect()
}

/// Whether the feature of `bit` (either of its pair) is set.
fn feature_offered(bits: &[u8], bit: usize) -> bool {
    let has = |b: usize| set_bits(bits).contains(&b);
    has(bit & !1) || has(bit | 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge_text(manifest: &str, profile: &str) -> Result<Manifest, Finding> {
        let p = Profile::load(profile).unwrap();
        let doc = Doc::parse(format!(r#"{{"jsonrpc":"2.0","id":1,"result":{manifest}}}"#).as_bytes()).unwrap();
        let cx = Context { profile: &p, allow_deprecated_apis: true, startup: true, path: "/p/x", shortname: "x", start_params: &[] };
        judge(&doc, &cx).result
    }

    #[test]
    fn smallest_manifest_is_accepted() {
        assert!(judge_text(r#"{"options":[],"rpcmethods":[]}"#, "v26.06").is_ok());
    }

    #[test]
    fn versions_parse_as_lightningd_does() {
        assert!(version_to_number("v24.02") > 0);
        assert!(version_to_number("v24.02.1") > 0);
        assert_eq!(version_to_number("24.02"), 0);
        assert_eq!(version_to_number("v24.13"), 0);
        assert_eq!(version_to_number("v24.02.10"), 0);
    }

    #[test]
    fn feature_bit_pairs_clash() {
        // node bit 55 is keysend's (§14.3): asking for 54 clashes too.
        let p = Profile::load("v26.06").unwrap();
        let node = p.feature_set().into_iter().find(|(k, _)| k == "node").unwrap().1;
        let node = hex_decode(node.as_bytes()).unwrap();
        assert!(feature_offered(&node, 54) && feature_offered(&node, 55));
        assert!(!feature_offered(&node, 101));
    }

    #[test]
    fn empty_deprecated_array_reads_the_next_token() {
        let e = judge_text(r#"{"options":[{"name":"a","type":"string","description":"d","deprecated":[]}],"rpcmethods":[]}"#, "v26.06")
            .unwrap_err();
        assert_eq!(e.reason, "invalid \"deprecated\" start version rpcmethods");
    }
}
