//! After init: the notification drive, expected subscriptions, handler
//! errors, scenarios, and calls forwarded as lightningd forwards them.

use super::*;

impl<'h, 's, 'd> Session<'h, 's, 'd> {
    /// `subscriptions/expected`: the exact set, missing and unexpected
    /// topics reported apart.
    pub(super) fn expectations(&mut self) {
        let Some(expected) = self.h.expect_subscriptions.clone() else { return };
        let got = self.subscriptions();
        let missing: Vec<&String> = expected.iter().filter(|t| !got.contains(t)).collect();
        let unexpected: Vec<&String> = got.iter().filter(|t| !expected.contains(t)).collect();
        if missing.is_empty() && unexpected.is_empty() {
            self.rec.pass(CheckId::SUBSCRIPTIONS_EXPECTED, format!("subscribes to exactly: {}", list(&expected)));
            return;
        }
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!("missing: {}", missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")));
        }
        if !unexpected.is_empty() {
            parts.push(format!("unexpected: {}", unexpected.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")));
        }
        self.rec.finding(&Finding { check: CheckId::SUBSCRIPTIONS_EXPECTED, reason: parts.join("; "), effect: Effect::Ignored });
    }

    /// Sends every subscribed topic (§7), each once the plugin is done with
    /// the one before (see [`Session::settle`]), so whatever it answers,
    /// logs or dies of is attributed to the notification it had just read.
    pub(super) fn notifications(&mut self, c: &mut Conn) {
        let plan = crate::notify::plan(&self.profile, &self.subscriptions());
        let sent = plan.len();
        // One deadline for the phase: a plugin that never stops running
        // costs one timeout, not one per notification.
        let deadline = Instant::now() + self.h.timeout;
        for n in plan {
            let label = if n.extra_field { format!("{} (with an extra field)", n.topic) } else { n.topic.clone() };
            self.current = Some(label.clone());
            self.cause(CheckId::NOTIFY_ALIVE, format!("after the '{label}' notification"));
            self.send(c, n.bytes);
            self.settle(c, deadline);
            self.current = None;
            if self.rec.stop_reason.is_some() {
                return;
            }
        }
        let topics: std::collections::BTreeSet<String> =
            crate::notify::plan(&self.profile, &self.subscriptions()).into_iter().map(|n| n.topic).collect();
        let what = if sent == 0 {
            "no subscribed topic to send".to_owned()
        } else {
            format!("{sent} notifications: {}", topics.into_iter().collect::<Vec<_>>().join(", "))
        };
        // No evidence the plugin handled them: nothing to pass.
        if let Some(missing) = c.unsettled.clone() {
            let why = format!("after {what}: {missing}");
            for id in [CheckId::NOTIFY_NO_REPLY, CheckId::NOTIFY_ALIVE, CheckId::NOTIFY_HANDLER_ERRORS] {
                self.rec.not_judged(id, &why);
            }
            return;
        }
        self.rec.pass(CheckId::NOTIFY_NO_REPLY, format!("no reply to {what}"));
        self.survived(CheckId::NOTIFY_ALIVE, format!("survived {what}"));
        self.judge_handler_errors();
    }

    /// `notify/handler-errors`: the error lines logged while notifications
    /// were handled, summed up by the first failing notification's last
    /// line (a traceback's last line says what went wrong).
    pub(super) fn judge_handler_errors(&mut self) {
        let errors = self.handler_errors.iter().filter(|e| e.2).count();
        let Some(topic) = self.handler_errors.iter().find(|e| e.2).map(|e| e.0.clone()) else {
            self.rec.pass(CheckId::NOTIFY_HANDLER_ERRORS, "no error logged while handling notifications");
            return;
        };
        let lines: Vec<&str> = self
            .handler_errors
            .iter()
            .filter(|e| e.0 == topic)
            .flat_map(|e| e.1.lines())
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        // The exception line (`KeyError: 'id'`), else the first error line.
        let is_exception = |l: &&&str| {
            l.split(':').next().is_some_and(|head| !head.contains(' ') && (head.ends_with("Error") || head.ends_with("Exception")))
        };
        let first_bad = self.handler_errors.iter().find(|e| e.2).and_then(|e| e.1.lines().last()).unwrap_or("");
        let last = lines.iter().rev().find(is_exception).copied().unwrap_or(first_bad).trim().to_owned();
        let reason = format!("{errors} error report(s) logged while handling notifications; the first, after '{topic}', ends with: {last}");
        self.rec.finding(&Finding { check: CheckId::NOTIFY_HANDLER_ERRORS, reason, effect: Effect::Logged });
    }

    /// Runs a scenario's steps (see [`crate::scenario`]).
    pub(super) fn scenario(&mut self, c: &mut Conn, s: &crate::scenario::Scenario, rpc: &MockRpc) {
        use crate::scenario::{contains, Action};
        let mut log_cursor = self.log.len();
        let mut rpc_cursor = rpc.calls().len();
        let mut failures = Vec::new();
        for (i, step) in s.steps.iter().enumerate() {
            let Ok(action) = step.action() else { continue };
            let within = Duration::from_millis(step.within_ms.unwrap_or(2000));
            let deadline = Instant::now() + within;
            let what = format!("step {} ({})", i + 1, step.describe());
            match action {
                Action::Notify { topic, params } => {
                    let bytes = match params {
                        Some(p) => Some(wire::notification(&topic, &p)),
                        None => crate::notify::message(&self.profile, &topic),
                    };
                    let Some(bytes) = bytes else {
                        failures.push(format!("{what}: profile {} has no '{topic}' notification; give `params`", self.profile.name));
                        continue;
                    };
                    // lightningd sends a topic only to its subscribers (§7.4).
                    let custom = !self.profile.native_topics.contains(&topic);
                    if !custom && crate::notify::copies(&self.profile, &self.subscriptions(), &topic) == 0 {
                        failures.push(format!("{what}: the plugin does not subscribe to '{topic}', so lightningd would never send it"));
                        continue;
                    }
                    self.current = Some(topic.clone());
                    self.cause(CheckId::NOTIFY_ALIVE, format!("after the '{topic}' notification"));
                    self.send(c, bytes);
                    self.settle(c, deadline);
                    self.current = None;
                }
                Action::ExpectLog { pattern, level } => loop {
                    let hit = self.log[log_cursor..]
                        .iter()
                        .position(|l| pattern.is_match(&l.message) && level.as_ref().is_none_or(|lv| lv == &l.level));
                    if let Some(k) = hit {
                        log_cursor += k + 1;
                        break;
                    }
                    if Instant::now() >= deadline || self.rec.stop_reason.is_some() || c.stdout_eof {
                        failures.push(format!("{what}: no matching log line within {} ms", within.as_millis()));
                        break;
                    }
                    self.pump(c, (Instant::now() + Duration::from_millis(20)).min(deadline));
                },
                Action::ExpectRpc { method, params } => loop {
                    let calls = rpc.calls();
                    let hit = calls[rpc_cursor.min(calls.len())..]
                        .iter()
                        .position(|c| c.method == method && params.as_ref().is_none_or(|p| contains(&c.params, p)));
                    if let Some(k) = hit {
                        rpc_cursor += k + 1;
                        break;
                    }
                    if Instant::now() >= deadline || self.rec.stop_reason.is_some() || c.stdout_eof {
                        failures.push(format!("{what}: the plugin did not call it within {} ms", within.as_millis()));
                        break;
                    }
                    self.pump(c, (Instant::now() + Duration::from_millis(20)).min(deadline));
                },
                Action::Call { method, params, expect_result, expect_error } => {
                    self.cause(CheckId::NOTIFY_ALIVE, format!("while handling a call to '{method}'"));
                    let answer = self.forward_call(c, &method, &params, deadline);
                    match answer {
                        Err(why) => failures.push(format!("{what}: {why}")),
                        Ok(v) => {
                            let is_error = v.get("error").is_some();
                            if expect_error && !is_error {
                                failures.push(format!("{what}: expected an error, got {v}"));
                            } else if !expect_error && is_error {
                                failures.push(format!("{what}: failed: {}", v["error"]));
                            } else if let Some(want) = &expect_result {
                                if !contains(&v["result"], want) {
                                    failures.push(format!("{what}: result {} does not contain {want}", v["result"]));
                                }
                            }
                        }
                    }
                }
                Action::Hook { name, params, variant, expect_decision } => {
                    if let Err(why) = self.scenario_hook(c, &name, params, variant, expect_decision) {
                        failures.push(format!("{what}: {why}"));
                    }
                }
                Action::Setconfig { option, val, expect_error, expect_message } => {
                    if let Err(why) = self.scenario_setconfig(c, &option, val, expect_error, expect_message, deadline) {
                        failures.push(format!("{what}: {why}"));
                    }
                }
                Action::Wait => {
                    self.pump(c, deadline.min(Instant::now() + Duration::from_millis(step.wait_ms.unwrap_or(0))));
                }
            }
            if self.rec.stop_reason.is_some() {
                failures.push(format!("{what}: the run stopped: {}", self.rec.stop_reason.clone().unwrap_or_default()));
                break;
            }
        }
        if s.steps.iter().any(|st| st.hook.is_some()) {
            self.judge_hooks();
        }
        let name = if s.name.is_empty() { "scenario".to_owned() } else { format!("'{}'", s.name) };
        if failures.is_empty() {
            self.rec.pass(CheckId::SCENARIO_STEPS, format!("{name}: all {} steps held", s.steps.len()));
            if self.rec.stop_reason.is_none() {
                self.rec.pass(CheckId::NOTIFY_NO_REPLY, "no reply to the scenario's notifications");
                self.survived(CheckId::NOTIFY_ALIVE, "survived the scenario");
            }
        } else {
            self.rec.finding(&Finding {
                check: CheckId::SCENARIO_STEPS,
                reason: format!("{name}: {}", failures.join("; ")),
                effect: Effect::Ignored,
            });
        }
        self.judge_handler_errors();
    }

    /// Forwards a call to one of the plugin's methods as lightningd does
    /// for `lightning-cli METHOD …` (§10.1): the client's request text with
    /// only the id replaced. A method the plugin lacks is answered by
    /// lightningd itself.
    pub(super) fn forward_call(
        &mut self,
        c: &mut Conn,
        method: &str,
        params: &serde_json::Value,
        deadline: Instant,
    ) -> Result<serde_json::Value, String> {
        let known = self.manifest.as_ref().is_some_and(|m| m.rpcmethods.iter().any(|r| r.name == method));
        if !known {
            return Ok(json!({"error": {"code": -32601, "message": format!("Unknown command '{method}'")}}));
        }
        let id = self.passthrough_id(method);
        let text = format!(
            "{{ \"jsonrpc\" : \"2.0\", \"method\" : {}, \"id\" : {}, \"params\" :{} }}\n\n",
            serde_json::Value::from(method),
            id.token(),
            params
        );
        c.expect(&id);
        self.send(c, text.into_bytes());
        match self.wait_until(c, &id, deadline) {
            Waited::Answer(m, _) => m.doc.root().to_value().ok_or_else(|| format!("the answer is not standard JSON: {}", m.text())),
            // The death itself is judged where it happened (`died`).
            Waited::Exited => Err("the plugin exited before answering".into()),
            Waited::TimedOut => Err(format!("no answer in time (lightningd waits for ever): {}", c.silent.clone().unwrap_or_default())),
            Waited::Unjudged(silence) => Err(format!("{}the plugin stopped answering after init: {silence}", crate::checks::NOT_JUDGED)),
            Waited::Killed(f) => {
                self.killed(f);
                Err("the plugin was killed".into())
            }
        }
    }
}
