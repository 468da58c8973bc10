//! Hooks, the plugin's own methods, `check` and `setconfig`, sent as
//! lightningd sends them and judged with [`crate::hooks`] and
//! [`crate::passthrough`].

use serde_json::Value;

use super::*;
use crate::checks::NOT_JUDGED;
use crate::hooks::{self as rules, PluginName, Verdict as HookVerdict};
use crate::jsmn::Node;
use crate::passthrough::{self, Answer, SetconfigVerdict};

/// Hooks lightningd can call before `init` (§9.1).
const BEFORE_INIT: [&str; 2] = ["db_write", "rpc_command"];

/// The checks this file records.
const HOOK_CHECKS: [CheckId; 6] = [
    CheckId::HOOK_ANSWER,
    CheckId::HOOK_DECISION,
    CheckId::HOOK_ALIVE,
    CheckId::HOOK_TIMEOUT,
    CheckId::HOOK_HANDLER_ERRORS,
    CheckId::HOOK_LATENCY,
];

/// What the hook drive has seen so far, across both phases.
#[derive(Default)]
pub(super) struct HookLog {
    /// (hook, variant, latency, decision)
    answers: Vec<(String, String, Duration, String)>,
    /// Answers lightningd only logs or takes for a death.
    decisions: Vec<String>,
    /// (hook and variant, the handler's error lines)
    handler_errors: Vec<(String, Vec<String>)>,
    /// A hook went unanswered: the drive stops there.
    stalled: bool,
}

impl<'h, 's, 'd> Session<'h, 's, 'd> {
    fn registered_hooks(&self) -> Vec<String> {
        self.manifest.as_ref().map(|m| m.hooks.iter().map(|h| h.name.clone()).collect()).unwrap_or_default()
    }

    fn plugin_names(&self) -> (String, String) {
        let short = self.program.plugin.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        (short, self.program.plugin.display().to_string())
    }

    /// The id lightningd gives a hook request: `cln:<hook>#<n>`, under the
    /// client's id when a command caused the call (rpc_command), numeric in
    /// v23.02 unless the plugin opted in (§4).
    pub(super) fn hook_id(&mut self, hook: &str, params: Node<'_>) -> Id {
        let id = self.new_id(hook);
        let client = params.get("rpc_command").and_then(|c| c.get("id"));
        match (&id, client) {
            (Id::Str(s), Some(c)) => Id::Str(format!("{}/{s}", c.text())),
            _ => id,
        }
    }

    /// `manifest/hooks/db-write-reentry`: the hooks lightningd would hang
    /// on, from the accepted manifest alone.
    pub(super) fn hook_reentry(&mut self) {
        if !self.rec.applies(CheckId::MANIFEST_HOOKS_DB_WRITE_REENTRY) {
            return;
        }
        let hooks = self.manifest.as_ref().map(|m| m.hooks.clone()).unwrap_or_default();
        match rules::reentry(&self.profile.hook_rules, self.profile.manifest.hook_filters, &hooks) {
            Some(text) => self.rec.finding(&Finding {
                check: CheckId::MANIFEST_HOOKS_DB_WRITE_REENTRY,
                reason: "registers db_write, and rpc_command without filters".into(),
                effect: Effect::Fatal(text),
            }),
            None => self.rec.pass(CheckId::MANIFEST_HOOKS_DB_WRITE_REENTRY, "no db_write beside an unfiltered rpc_command"),
        }
    }

    /// `db_write` and `rpc_command` sent before `init`, as a real node may.
    pub(super) fn hooks_before_init(&mut self, c: &mut Conn) {
        if self.h.handshake_only || self.h.scenario.is_some() {
            return;
        }
        let hooks: Vec<String> = self.registered_hooks().into_iter().filter(|h| BEFORE_INIT.contains(&h.as_str())).collect();
        for hook in hooks {
            let Some((variant, bytes)) = self.profile.hook_variants.get(&hook).and_then(|v| v.first()).cloned() else { continue };
            let label = if variant.is_empty() { "before init".to_owned() } else { format!("{variant}, before init") };
            if !self.fire_hook(c, &hook, &label, &bytes) {
                return;
            }
        }
    }

    /// Every registered hook with every payload variant of the profile,
    /// then once more with a field no release sends yet.
    pub(super) fn hooks_after_init(&mut self, c: &mut Conn) {
        let hooks = self.registered_hooks();
        if hooks.is_empty() {
            self.rec.not_applicable.extend(HOOK_CHECKS);
            return;
        }
        'all: for hook in &hooks {
            let variants = self.profile.hook_variants.get(hook).cloned().unwrap_or_default();
            if variants.is_empty() {
                continue;
            }
            for (variant, bytes) in &variants {
                let label = if variant.is_empty() { "as lightningd sends it".to_owned() } else { format!("variant '{variant}'") };
                if !self.fire_hook(c, hook, &label, bytes) {
                    break 'all;
                }
            }
            let extra = crate::notify::with_extra_field(&variants[0].1);
            if !self.fire_hook(c, hook, "with a field no release sends yet", &extra) {
                break;
            }
        }
        self.judge_hooks();
    }

    /// Sends one hook request and judges the answer; false when the drive
    /// must stop (the plugin stalled, died or lightningd would stop).
    fn fire_hook(&mut self, c: &mut Conn, hook: &str, label: &str, bytes: &[u8]) -> bool {
        if self.rec.stop_reason.is_some() || c.stdout_eof || self.hooks.stalled {
            return false;
        }
        let Some(doc) = crate::jsmn::Doc::parse(bytes) else { return true };
        let Some(params) = doc.root().get("params") else { return true };
        let id = self.hook_id(hook, params);
        let params_text = String::from_utf8_lossy(params.full()).into_owned();
        let what = format!("the '{hook}' hook ({label})");
        let errors_before = self.handler_errors.len();
        self.current = Some(what.clone());
        self.cause(CheckId::HOOK_ALIVE, format!("while handling {what}"));
        self.send_request(c, hook, &id, &params_text);
        let waited = self.wait_until(c, &id, Instant::now() + self.h.timeout);
        // pyln-client logs a failed handler's traceback after its answer.
        if matches!(waited, Waited::Answer(..)) && self.handler_errors[errors_before..].iter().any(|e| e.2) {
            self.pump(c, Instant::now() + self.h.quiet);
        }
        self.current = None;
        let lines: Vec<(String, String, bool)> = self.handler_errors.drain(errors_before..).collect();
        if lines.iter().any(|e| e.2) {
            self.hooks.handler_errors.push((what.clone(), lines.into_iter().map(|e| e.1).collect()));
        }
        let (short, path) = self.plugin_names();
        match waited {
            Waited::Answer(m, latency) => {
                let r = rules::Rules {
                    hooks: self.profile.hook_rules.clone(),
                    deprecated_apis: self.h.allow_deprecated_apis,
                    network: self.h.network.clone(),
                };
                let verdict = rules::judge(&r, hook, PluginName { shortname: &short, path: &path }, &m.doc);
                let decision = match &verdict {
                    HookVerdict::Decision(d) => d.clone(),
                    HookVerdict::Logged { decision, log } => {
                        self.hooks.decisions.push(format!("{what}: {log}"));
                        decision.clone()
                    }
                    HookVerdict::Terminated => {
                        self.hooks.decisions.push(format!(
                            "{what}: answered with error code -4 while alive: lightningd takes the plugin for dead and skips it"
                        ));
                        "terminated".to_owned()
                    }
                    HookVerdict::Fatal(text) => {
                        self.rec.finding(&Finding {
                            check: CheckId::HOOK_ANSWER,
                            reason: format!("{what}: {}", wire::sanitize(text)),
                            effect: Effect::Fatal(text.clone()),
                        });
                        return false;
                    }
                };
                self.hooks.answers.push((hook.to_owned(), label.to_owned(), latency, decision));
                true
            }
            Waited::Exited => {
                if hook == "db_write" {
                    // The synthetic -4 answer reaches db_write's own callback,
                    // which has no exception for it (§9.2).
                    let text = format!(
                        "Plugin '{path}' returned an invalid response to the db_write hook: {{\"jsonrpc\":\"2.0\",\"id\":{},\"error\":{{\"code\":-4,\"message\":\"Plugin terminated before replying to RPC call.\"}}}}",
                        id.token()
                    );
                    self.rec.finding(&Finding {
                        check: CheckId::HOOK_ALIVE,
                        reason: format!("exited while handling {what}"),
                        effect: Effect::Fatal(text),
                    });
                } else {
                    self.rec
                        .finding(&Finding::kill(CheckId::HOOK_ALIVE, format!("exited during normal operation (while handling {what})")));
                }
                false
            }
            Waited::Unjudged(_) => {
                self.hooks.stalled = true;
                false
            }
            Waited::TimedOut => {
                self.hooks.stalled = true;
                let consequence = match hook {
                    "db_write" => "an unanswered db_write stops the node",
                    "htlc_accepted" => "an unanswered htlc_accepted freezes the channel",
                    "rpc_command" => "the client's command never completes",
                    "peer_connected" => "the peer is never fully connected",
                    _ => "what waits on the hook never completes",
                };
                self.rec.finding(&Finding {
                    check: CheckId::HOOK_TIMEOUT,
                    reason: format!(
                        "no answer to {what} within {:.1} s: lightningd waits for ever, and {consequence}; {}",
                        self.h.timeout.as_secs_f64(),
                        c.silent.clone().unwrap_or_default()
                    ),
                    effect: Effect::Ignored,
                });
                false
            }
            Waited::Killed(f) => {
                self.killed(f);
                false
            }
        }
    }

    /// The checks that sum up the whole drive.
    pub(super) fn judge_hooks(&mut self) {
        // After a stall the rest of the drive never ran: not reached.
        if self.rec.stop_reason.is_some() || self.hooks.stalled {
            return;
        }
        let answers = std::mem::take(&mut self.hooks.answers);
        let hooks: std::collections::BTreeSet<&str> = answers.iter().map(|a| a.0.as_str()).collect();
        let mut decisions: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        for a in &answers {
            *decisions.entry(a.3.as_str()).or_default() += 1;
        }
        let summary = decisions.iter().map(|(d, n)| format!("{d} ×{n}")).collect::<Vec<_>>().join(", ");
        self.rec.pass(
            CheckId::HOOK_TIMEOUT,
            format!("answered all {} hook requests within {:.1} s", answers.len(), self.h.timeout.as_secs_f64()),
        );
        self.rec.pass(CheckId::HOOK_ALIVE, format!("survived {} requests to {} hooks", answers.len(), hooks.len()));
        self.rec.pass(CheckId::HOOK_ANSWER, format!("lightningd accepts every answer: {summary}"));
        match self.hooks.decisions.first().cloned() {
            None => self.rec.pass(CheckId::HOOK_DECISION, "no answer lightningd would only log or take for a death"),
            Some(first) => {
                let n = self.hooks.decisions.len();
                self.rec.finding(&Finding {
                    check: CheckId::HOOK_DECISION,
                    reason: format!("{n} answer(s); the first: {first}"),
                    effect: Effect::Logged,
                });
            }
        }
        match self.hooks.handler_errors.first().cloned() {
            None => self.rec.pass(CheckId::HOOK_HANDLER_ERRORS, "no hook handler logged an error"),
            Some((what, lines)) => {
                let last = lines
                    .iter()
                    .flat_map(|l| l.lines())
                    .rev()
                    .find(|l| l.split(':').next().is_some_and(|h| !h.contains(' ') && (h.ends_with("Error") || h.ends_with("Exception"))))
                    .or_else(|| lines.first().and_then(|l| l.lines().next()))
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                let n = self.hooks.handler_errors.len();
                let reason = format!("{n} hook request(s) failed in the handler; {what} was answered after: {last}");
                self.rec.finding(&Finding { check: CheckId::HOOK_HANDLER_ERRORS, reason, effect: Effect::Logged });
            }
        }
        if let Some(slowest) = answers.iter().max_by_key(|a| a.2) {
            let mut all: Vec<Duration> = answers.iter().map(|a| a.2).collect();
            all.sort();
            let median = all[all.len() / 2];
            let message = format!(
                "median {:.1} ms; slowest {:.1} ms ({} hook, {}); lightningd has no timeout",
                median.as_secs_f64() * 1000.0,
                slowest.2.as_secs_f64() * 1000.0,
                slowest.0,
                slowest.1
            );
            let max = slowest.2;
            self.rec.record(CheckId::HOOK_LATENCY, Outcome::Pass, message, None, Some(max));
        }
    }

    /// The user's consented calls to the plugin's methods, each in object
    /// and array form (§10.1), `deprecated_oneshot` first when subscribed;
    /// then `check` and `setconfig`.
    pub(super) fn calls(&mut self, c: &mut Conn) {
        let m = self.manifest.clone().unwrap_or_default();
        if self.h.calls.is_empty() {
            self.rec.not_applicable.push(CheckId::METHOD_ANSWER);
        }
        let mut problems = Vec::new();
        let mut unjudged = Vec::new();
        let mut sent = 0;
        for (method, params) in self.h.calls.clone() {
            let Some(decl) = m.rpcmethods.iter().find(|r| r.name == method) else {
                problems.push(format!("'{method}' is not one of the plugin's rpcmethods"));
                continue;
            };
            for (form, p) in forms(&decl.usage, &params) {
                if self.rec.stop_reason.is_some() {
                    return;
                }
                if self.subscriptions().iter().any(|s| s == "deprecated_oneshot") {
                    if let Some(bytes) = crate::notify::message(&self.profile, "deprecated_oneshot") {
                        self.current = Some("deprecated_oneshot".into());
                        self.cause(CheckId::NOTIFY_ALIVE, "after the 'deprecated_oneshot' notification");
                        self.send(c, bytes);
                        self.pump(c, Instant::now() + self.h.quiet);
                        self.current = None;
                    }
                }
                sent += 1;
                match self.forwarded(c, &method, &p.to_string()) {
                    Err(why) => match why.strip_prefix(NOT_JUDGED) {
                        Some(why) => unjudged.push(format!("'{method}' with params in {form} form: {why}")),
                        None => problems.push(format!("'{method}' with params in {form} form: {why}")),
                    },
                    Ok(doc) => {
                        if let Answer::Malformed(why) = passthrough::judge_method(&doc) {
                            problems.push(format!("'{method}' with params in {form} form: {why}: {}", doc.root().full_text()));
                        }
                    }
                }
            }
        }
        if !self.h.calls.is_empty() {
            if problems.is_empty() && !unjudged.is_empty() {
                // The same silence for every call: said once.
                let more = if unjudged.len() > 1 { format!(" (and {} more call(s))", unjudged.len() - 1) } else { String::new() };
                self.rec.not_judged(CheckId::METHOD_ANSWER, format!("{}{more}", unjudged[0]));
            } else if problems.is_empty() {
                self.rec.pass(CheckId::METHOD_ANSWER, format!("{sent} forwarded calls answered with a result or a well-formed error"));
            } else {
                self.rec.finding(&Finding { check: CheckId::METHOD_ANSWER, reason: problems.join("; "), effect: Effect::Ignored });
            }
        }
        self.check_and_setconfig(c, &m);
    }

    /// Sends a forwarded request and waits for its answer.
    fn forwarded(&mut self, c: &mut Conn, method: &str, params: &str) -> Result<crate::jsmn::Doc, String> {
        let id = self.passthrough_id(method);
        c.expect(&id);
        let bytes = passthrough::forwarded_request(&id, method, params);
        self.cause(CheckId::NOTIFY_ALIVE, format!("while handling '{method}'"));
        self.send(c, bytes);
        match self.wait_until(c, &id, Instant::now() + self.h.timeout) {
            Waited::Answer(m, _) => Ok(m.doc),
            Waited::Exited => {
                self.rec
                    .finding(&Finding::kill(CheckId::NOTIFY_ALIVE, format!("exited during normal operation (while handling '{method}')")));
                Err("the plugin exited before answering".into())
            }
            Waited::TimedOut => Err(format!(
                "no answer within {:.1} s (lightningd waits for ever): {}",
                self.h.timeout.as_secs_f64(),
                c.silent.clone().unwrap_or_default()
            )),
            Waited::Unjudged(silence) => Err(format!("{NOT_JUDGED}the plugin stopped answering after init: {silence}")),
            Waited::Killed(f) => {
                self.killed(f);
                Err("lightningd would kill the plugin".into())
            }
        }
    }

    /// `setconfig` for every dynamic option, with its current value
    /// (§10.3), and `check setconfig` for a `cancheck` plugin (§10.2).
    fn check_and_setconfig(&mut self, c: &mut Conn, m: &Manifest) {
        let dynamic: Vec<crate::manifest::OptionDecl> = m.options.iter().filter(|o| o.dynamic).cloned().collect();
        if !self.profile.manifest.option_dynamic || dynamic.is_empty() {
            self.rec.not_applicable.push(CheckId::SETCONFIG_ANSWER);
        }
        if !self.profile.manifest.cancheck || !m.cancheck {
            self.rec.not_applicable.push(CheckId::CHECK_ANSWER);
        }
        if self.profile.manifest.cancheck && m.cancheck && self.rec.stop_reason.is_none() {
            let (command, params) = match (self.h.calls.first(), dynamic.first()) {
                (Some((method, Value::Object(p))), _) => (method.clone(), p.clone()),
                (_, Some(o)) => {
                    let mut p = serde_json::Map::new();
                    p.insert("config".into(), Value::from(o.name.clone()));
                    if let Some(v) = self.option_value(o) {
                        p.insert("val".into(), if o.multi { Value::from(v) } else { Value::from(v[0].clone()) });
                    }
                    ("setconfig".to_owned(), p)
                }
                _ => (String::new(), serde_json::Map::new()),
            };
            if command.is_empty() {
                self.rec.not_applicable.push(CheckId::CHECK_ANSWER);
            } else {
                let id = self.passthrough_id("check");
                c.expect(&id);
                self.cause(CheckId::NOTIFY_ALIVE, format!("while handling `check {command}`"));
                self.send(c, passthrough::check_request(&id, &command, &params));
                let what = format!("check {command}");
                match self.wait_until(c, &id, Instant::now() + self.h.timeout) {
                    Waited::Answer(msg, _) => match passthrough::judge_method(&msg.doc) {
                        Answer::Malformed(why) => self.rec.finding(&Finding {
                            check: CheckId::CHECK_ANSWER,
                            reason: format!("`{what}`: {why}: {}", msg.text()),
                            effect: Effect::Ignored,
                        }),
                        _ => self.rec.pass(CheckId::CHECK_ANSWER, format!("`{what}` answered: {}", msg.text())),
                    },
                    Waited::Exited => self.rec.finding(&Finding::kill(
                        CheckId::NOTIFY_ALIVE,
                        format!("exited during normal operation (while handling `{what}`)"),
                    )),
                    Waited::TimedOut => self.rec.finding(&Finding {
                        check: CheckId::CHECK_ANSWER,
                        reason: format!(
                            "`{what}`: no answer within {:.1} s: {}",
                            self.h.timeout.as_secs_f64(),
                            c.silent.clone().unwrap_or_default()
                        ),
                        effect: Effect::Ignored,
                    }),
                    Waited::Unjudged(silence) => {
                        self.rec.not_judged(CheckId::CHECK_ANSWER, format!("`{what}`: the plugin stopped answering after init: {silence}"))
                    }
                    Waited::Killed(f) => self.killed(f),
                }
            }
        }
        if !self.profile.manifest.option_dynamic {
            return;
        }
        let mut problems = Vec::new();
        let mut unjudged = Vec::new();
        let mut accepted = Vec::new();
        for o in &dynamic {
            if self.rec.stop_reason.is_some() {
                return;
            }
            let val = self.option_value(o);
            let id = self.passthrough_id("setconfig");
            c.expect(&id);
            self.cause(CheckId::NOTIFY_ALIVE, format!("while handling setconfig of '{}'", o.name));
            self.send(c, passthrough::setconfig_request(&id, &o.name, val.as_deref(), o.multi));
            match self.wait_until(c, &id, Instant::now() + self.h.timeout) {
                Waited::Answer(msg, _) => match passthrough::judge_setconfig(&o.name, &msg.doc) {
                    SetconfigVerdict::Accepted => accepted.push(format!("{} accepted", o.name)),
                    SetconfigVerdict::Refused { code, message } => accepted.push(format!("{} refused ({code}: {message})", o.name)),
                    SetconfigVerdict::Invalid(text) => problems.push(format!(
                        "{}; the user's setconfig fails with: Malformed setvalue {} plugin return",
                        wire::sanitize(&text),
                        o.name
                    )),
                },
                Waited::Exited => {
                    self.rec.finding(&Finding::kill(
                        CheckId::NOTIFY_ALIVE,
                        format!("exited during normal operation (while handling setconfig {})", o.name),
                    ));
                    return;
                }
                Waited::TimedOut => problems.push(format!(
                    "setconfig {}: no answer within {:.1} s: {}",
                    o.name,
                    self.h.timeout.as_secs_f64(),
                    c.silent.clone().unwrap_or_default()
                )),
                Waited::Unjudged(silence) => {
                    unjudged.push(format!("setconfig {}: the plugin stopped answering after init: {silence}", o.name))
                }
                Waited::Killed(f) => {
                    self.killed(f);
                    return;
                }
            }
        }
        if !dynamic.is_empty() {
            if problems.is_empty() && !unjudged.is_empty() {
                let more = if unjudged.len() > 1 { format!(" (and {} more option(s))", unjudged.len() - 1) } else { String::new() };
                self.rec.not_judged(CheckId::SETCONFIG_ANSWER, format!("{}{more}", unjudged[0]));
            } else if problems.is_empty() {
                self.rec.pass(
                    CheckId::SETCONFIG_ANSWER,
                    format!("setconfig with each dynamic option's current value: {}", accepted.join(", ")),
                );
            } else {
                self.rec.finding(&Finding { check: CheckId::SETCONFIG_ANSWER, reason: problems.join("; "), effect: Effect::Logged });
            }
        }
    }

    /// The value `setconfig` sends for an option: what `-o` gave, else its
    /// default, else a value of its type; `None` for a flag (no value).
    fn option_value(&self, o: &crate::manifest::OptionDecl) -> Option<Vec<String>> {
        let given: Vec<String> = self.h.options.iter().filter(|s| s.name == o.name).filter_map(|s| s.value.clone()).collect();
        if o.ty == "flag" {
            return None;
        }
        if !given.is_empty() {
            return Some(given);
        }
        let fallback = match o.ty.as_str() {
            "int" => "1",
            "bool" => "true",
            _ => "cln-harness",
        };
        Some(vec![o.default.clone().unwrap_or_else(|| fallback.to_owned())])
    }
}

impl<'h, 's, 'd> Session<'h, 's, 'd> {
    /// A scenario's `hook` step: the hook must be registered (lightningd
    /// calls no other), answered, and carry the expected decision.
    pub(super) fn scenario_hook(
        &mut self,
        c: &mut Conn,
        name: &str,
        params: Option<Value>,
        variant: Option<String>,
        expect: Option<String>,
    ) -> Result<(), String> {
        if !self.registered_hooks().iter().any(|h| h == name) {
            return Err(format!("the plugin does not register the '{name}' hook, so lightningd would never call it"));
        }
        let (label, bytes) = match (params, variant) {
            (Some(p), _) => ("scenario params".to_owned(), wire::request(&Id::Num(0), name, &p)),
            (None, v) => {
                let v = v.unwrap_or_default();
                let found = self.profile.hook_variants.get(name).and_then(|vs| vs.iter().find(|(n, _)| *n == v)).map(|x| x.1.clone());
                let Some(bytes) = found else {
                    return Err(format!("profile {} has no '{name}' payload '{v}' in fixtures/hooks/; give `params`", self.profile.name));
                };
                (if v.is_empty() { "as lightningd sends it".to_owned() } else { format!("variant '{v}'") }, bytes)
            }
        };
        let before = self.hooks.answers.len();
        if !self.fire_hook(c, name, &label, &bytes) {
            return Err(self.rec.stop_reason.clone().unwrap_or_else(|| "no accepted answer".to_owned()));
        }
        let got = self.hooks.answers.get(before).map(|a| a.3.clone()).unwrap_or_default();
        match expect {
            Some(want) if want != got => Err(format!("expected the decision '{want}', got '{got}'")),
            _ => Ok(()),
        }
    }

    /// A scenario's `setconfig` step: accepted, or refused as expected.
    pub(super) fn scenario_setconfig(
        &mut self,
        c: &mut Conn,
        option: &str,
        val: Option<Vec<String>>,
        expect_error: bool,
        expect_message: Option<String>,
        deadline: Instant,
    ) -> Result<(), String> {
        if !self.profile.manifest.option_dynamic {
            return Err(format!("lightningd {} has no setconfig (v23.08 and later)", self.profile.version));
        }
        let m = self.manifest.clone().unwrap_or_default();
        let Some(o) = m.options.iter().find(|o| o.name == option) else {
            return Err(format!("the plugin has no option '{option}'"));
        };
        if !o.dynamic {
            return Err(format!("'{option}' is not dynamic: lightningd refuses setconfig for it"));
        }
        let id = self.passthrough_id("setconfig");
        c.expect(&id);
        self.send(c, passthrough::setconfig_request(&id, option, val.as_deref(), o.multi));
        match self.wait_until(c, &id, deadline) {
            Waited::Answer(msg, _) => match (passthrough::judge_setconfig(option, &msg.doc), expect_error) {
                (SetconfigVerdict::Accepted, false) => Ok(()),
                (SetconfigVerdict::Accepted, true) => Err("expected a refusal, the change was accepted".into()),
                (SetconfigVerdict::Refused { code, message }, true) => match expect_message {
                    Some(want) if !message.contains(&want) => Err(format!("refused with '{message}' ({code}), not containing '{want}'")),
                    _ => Ok(()),
                },
                (SetconfigVerdict::Refused { code, message }, false) => Err(format!("refused: {message} ({code})")),
                (SetconfigVerdict::Invalid(text), _) => Err(wire::sanitize(&text)),
            },
            Waited::Exited => Err("the plugin exited before answering".into()),
            Waited::TimedOut => Err("no answer in time (lightningd waits for ever)".into()),
            Waited::Unjudged(silence) => Err(format!("{NOT_JUDGED}the plugin stopped answering after init: {silence}")),
            Waited::Killed(f) => {
                self.killed(f);
                Err("the plugin was killed".into())
            }
        }
    }
}

/// The forms a consented call is sent in: as the user gave its params, and
/// converted to the other form where the method's usage allows.
fn forms(usage: &str, params: &Value) -> Vec<(&'static str, Value)> {
    match params {
        Value::Object(o) => {
            let mut v = vec![("object", params.clone())];
            if let Some(a) = passthrough::params_as_array(usage, o) {
                v.push(("array", Value::Array(a)));
            }
            v
        }
        Value::Array(a) => {
            let names: Vec<String> =
                usage.split_whitespace().map(|w| w.trim_matches(|c| c == '[' || c == ']').to_owned()).filter(|w| !w.is_empty()).collect();
            let mut v = vec![("array", params.clone())];
            if a.len() <= names.len() {
                let o: serde_json::Map<String, Value> = names.into_iter().zip(a.iter().cloned()).filter(|(_, x)| !x.is_null()).collect();
                v.push(("object", Value::Object(o)));
            }
            v
        }
        other => vec![("given", other.clone())],
    }
}
