//! What a real lightningd can send that naive readers break on (framing),
//! input it never sends (robust), and the liveness probe after each.

use super::*;

/// The longest a probe or robust question waits (see `question_deadline`).
const QUESTION_DEADLINE: Duration = Duration::from_secs(2);

impl<'h, 's, 'd> Session<'h, 's, 'd> {
    /// The liveness probe for this plugin, and why it was chosen. A method
    /// of the plugin is called only with the user's consent (`--probe`):
    /// real methods have side effects, or never answer by design.
    pub(crate) fn choose_probe(&self) -> (Probe, String) {
        let m = self.manifest.clone().unwrap_or_default();
        let mut fallback = String::new();
        if let Some((method, params)) = &self.h.probe {
            if m.rpcmethods.iter().any(|r| &r.name == method) {
                return (
                    Probe::Call(method.clone(), params.clone()),
                    format!("a call to '{method}' (--probe): any answer, even an error, proves it read and parsed the input"),
                );
            }
            fallback = format!("--probe '{method}' is not one of the plugin's rpcmethods; instead, ");
        }
        let why = "evidence, calling none of its methods: it read all its input, went idle, and its process and stdout stayed open \
                   (--probe METHOD lets the harness call a method whose answer proves more)";
        (Probe::Alive, format!("{fallback}{why}"))
    }

    /// A method of the plugin the user consented to have called, for the
    /// framing checks that need a call.
    fn consented_method(&self) -> Option<String> {
        let m = self.manifest.as_ref()?;
        let probe = self.h.probe.as_ref().map(|p| p.0.clone());
        probe.into_iter().chain(self.h.calls.iter().map(|c| c.0.clone())).find(|name| m.rpcmethods.iter().any(|r| &r.name == name))
    }

    /// Runs the probe; `Err` says how the plugin failed it. A death is
    /// judged where it happens; this only says the probe failed.
    pub(crate) fn run_probe(&mut self, c: &mut Conn, probe: &Probe) -> Result<(), String> {
        let deadline = Instant::now() + self.question_deadline();
        match probe {
            Probe::Call(method, params) => {
                self.cause(CheckId::FRAME_PROBE, format!("while handling the probe call to '{method}'"));
                self.forward_call(c, method, params, deadline).map(|_| ())
            }
            Probe::Alive => {
                if self.settle(c, deadline) {
                    Err("the plugin exited".into())
                } else if self.rec.stop_reason.is_some() {
                    Err("lightningd would kill the plugin".into())
                } else {
                    Ok(())
                }
            }
        }
    }

    /// How long a probe or a robust case waits for its answer: a plugin
    /// that is up answers within milliseconds, so a short deadline of its
    /// own (at most `--timeout`) keeps a plugin that never answers from
    /// costing a whole timeout per question.
    pub(crate) fn question_deadline(&self) -> Duration {
        self.h.timeout.min(QUESTION_DEADLINE)
    }

    /// Writes a schedule: each write separately. Between writes the harness
    /// waits until the plugin has read everything (the pipe is empty), then
    /// pauses, so each write reaches the plugin in reads of its own, on any
    /// machine load.
    pub(crate) fn play(&mut self, c: &mut Conn, schedule: &crate::framing::Schedule) {
        let last = schedule.writes.len().saturating_sub(1);
        // A plugin that stops reading costs at most one timeout per schedule.
        let overall = Instant::now() + self.h.timeout;
        for (i, w) in schedule.writes.iter().enumerate() {
            self.send(c, w.clone());
            // The last write too: what follows the schedule (the probe) must
            // not share a read with it.
            let deadline = overall.min(Instant::now() + Duration::from_secs(2));
            while !c.proc.drained() && Instant::now() < deadline && !c.stdout_eof && self.rec.stop_reason.is_none() {
                // Read meanwhile: the plugin may answer or die mid-way.
                self.pump(c, Instant::now() + Duration::from_millis(1));
            }
            if i < last && !schedule.pause.is_zero() {
                self.pump(c, Instant::now() + schedule.pause);
            }
        }
    }

    /// The framing checks (§2.1): what a real lightningd can send that
    /// naive readers break on, each followed by the liveness probe.
    pub(super) fn framing(&mut self, c: &mut Conn) {
        use crate::framing::{cli_k_call, huge, pretty_call, Schedule};
        let (probe, why) = self.choose_probe();
        if self.h.probe.is_some() && !matches!(&probe, Probe::Call(m, _) if Some(m) == self.h.probe.as_ref().map(|p| &p.0)) {
            self.rec.record(CheckId::FRAME_PROBE, Outcome::Warn, why, None, None);
        } else {
            self.rec.pass(CheckId::FRAME_PROBE, why);
        }
        let plan = crate::notify::plan(&self.profile, &self.subscriptions());
        let mut seen = std::collections::BTreeSet::new();
        let notes: Vec<Vec<u8>> = plan.into_iter().filter(|n| !n.extra_field && seen.insert(n.topic.clone())).map(|n| n.bytes).collect();
        let call = self.consented_method();
        let pause = Duration::from_millis(1);

        let mut checks: Vec<(CheckId, String, Vec<Schedule>)> = Vec::new();
        // Split: a notification, and a call carrying multi-byte UTF-8.
        let mut split = Vec::new();
        if let Some(n) = notes.first() {
            split.push(Schedule::every_byte(n, pause));
        }
        if let Some(m) = &call {
            let id = self.passthrough_id(m);
            let bytes = format!(
                "{{ \"jsonrpc\" : \"2.0\", \"method\" : {}, \"id\" : {}, \"params\" :[ \"w\u{f6}rld \u{2713}\"] }}\n\n",
                serde_json::Value::from(m.as_str()),
                id.token()
            );
            c.expect(&id);
            split.push(Schedule::every_byte(bytes.as_bytes(), pause));
        }
        if !split.is_empty() {
            checks.push((CheckId::FRAME_SPLIT, "every byte its own read".into(), split));
        }
        if notes.len() > 1 || (!notes.is_empty() && call.is_some()) {
            let mut all: Vec<Vec<u8>> = notes.iter().take(20).cloned().collect();
            all.extend(notes.iter().take(20).cloned());
            checks.push((CheckId::FRAME_COALESCED, format!("{} messages in one write", all.len()), vec![Schedule::coalesced(&all)]));
        }
        let size = 5 << 19;
        if let Some(n) = notes.first() {
            checks.push((
                CheckId::FRAME_HUGE,
                format!("a {:.1} MiB notification", size as f64 / (1 << 20) as f64),
                vec![Schedule::coalesced(&[huge(n, size)])],
            ));
        } else if let Some(m) = &call {
            let id = self.passthrough_id(m);
            c.expect(&id);
            let bytes = cli_k_call(m, &id, &[("payload", &"x".repeat(size))]);
            checks.push((
                CheckId::FRAME_HUGE,
                format!("a {:.1} MiB call", size as f64 / (1 << 20) as f64),
                vec![Schedule::coalesced(&[bytes])],
            ));
        }
        if let Some(m) = &call {
            let (a, b) = (self.passthrough_id(m), self.passthrough_id(m));
            c.expect(&a);
            c.expect(&b);
            let pretty = pretty_call(m, &a, &json!(["world"]));
            let k = cli_k_call(m, &b, &[("name", "world")]);
            checks.push((
                CheckId::FRAME_PASSTHROUGH,
                "a pretty-printed call and a lightning-cli -k call".into(),
                vec![Schedule::coalesced(&[pretty]), Schedule::coalesced(&[k])],
            ));
        }

        for (id, what, schedules) in checks {
            if self.rec.stop_reason.is_some() {
                return;
            }
            // Replies to these notifications are replies to notifications.
            self.current = Some(format!("framing: {what}"));
            self.cause(id, format!("after {what}"));
            for s in &schedules {
                self.play(c, s);
            }
            let probed = self.run_probe(c, &probe);
            self.current = None;
            match probed {
                Ok(()) => self.survived(id, format!("survived {what}")),
                // A death was judged where it happened, against the input
                // the plugin had read last.
                Err(_) if c.stdout_eof || self.rec.stop_reason.is_some() => {}
                Err(e) => self.rec.finding(&Finding { check: id, reason: format!("after {what}: {e}"), effect: Effect::Ignored }),
            }
        }
        for id in [CheckId::FRAME_SPLIT, CheckId::FRAME_COALESCED, CheckId::FRAME_HUGE, CheckId::FRAME_PASSTHROUGH] {
            if !self.rec.recorded(id) && self.rec.stop_reason.is_none() {
                self.rec.not_applicable.push(id);
            }
        }
    }

    /// An id for a forwarded call, as lightningd prefixes the client's.
    pub(crate) fn passthrough_id(&mut self, method: &str) -> Id {
        let n = self.take_num();
        if self.string_ids {
            Id::Str(format!("cli:{method}#{}/cln:{method}#{n}", std::process::id()))
        } else {
            Id::Num(n)
        }
    }

    /// Input lightningd never sends (tier `robust`). Each case gets a fresh
    /// plugin process, brought up through getmanifest and init, so one
    /// crash does not hide the next; what happens to these throwaway
    /// processes counts only for the robust check.
    pub(super) fn robust(&mut self) {
        let manifest = self.manifest.clone().unwrap_or_default();
        let subscribed: Vec<String> = self
            .profile
            .notifications
            .keys()
            .filter(|t| crate::notify::copies(&self.profile, &manifest.subscriptions, t) > 0)
            .cloned()
            .collect();
        let unsubscribed = self.profile.notifications.keys().find(|t| !subscribed.contains(t) && t.as_str() != "shutdown").cloned();
        let topic = subscribed.iter().find(|t| t.as_str() != "shutdown").cloned().unwrap_or_else(|| "connect".into());
        let note = |this: &Self, t: &str| this.profile.notifications.get(t).cloned().unwrap_or_default();
        let valid = note(self, &topic);
        let terminated = |b: &[u8]| [b, b"\n\n"].concat();
        let mut cases: Vec<(CheckId, String, Vec<u8>)> = vec![
            (CheckId::ROBUST_INVALID_JSON, "a frame that is not JSON".into(), b"{\"jsonrpc\":\"2.0\",\"method\":}\n\n".to_vec()),
            (
                CheckId::ROBUST_TRUNCATED,
                "a truncated frame, then a valid one".into(),
                [&valid[..valid.len() / 2], b"\n\n", &terminated(&valid)[..]].concat(),
            ),
            (
                CheckId::ROBUST_UTF8,
                "invalid UTF-8 in a string".into(),
                terminated(
                    &String::from_utf8_lossy(&valid).replacen("\"jsonrpc\":\"2.0\"", "\"jsonrpc\":\"2.0\",\"x\":\"\u{1}\"", 1).into_bytes(),
                )
                .iter()
                .map(|b| if *b == 1 { 0xff } else { *b })
                .collect(),
            ),
            (
                CheckId::ROBUST_NO_PARAMS,
                format!("a '{topic}' notification without params"),
                format!("{{\"jsonrpc\":\"2.0\",\"method\":\"{topic}\"}}\n\n").into_bytes(),
            ),
            (
                CheckId::ROBUST_TERMINATORS,
                "messages separated by one and by three newlines".into(),
                [&valid[..], b"\n", &valid[..], b"\n\n\n", &terminated(&valid)[..]].concat(),
            ),
        ];
        if let Some(t) = &unsubscribed {
            cases.push((
                CheckId::ROBUST_UNSUBSCRIBED,
                format!("a '{t}' notification, which it did not subscribe to"),
                terminated(&note(self, t)),
            ));
        }
        cases.push((CheckId::ROBUST_UNKNOWN_METHOD, "a request for a method it does not have".into(), Vec::new()));

        let (saved_stop, saved_verdict) = (self.rec.stop_reason.clone(), self.rec.verdict.clone());
        for (id, what, bytes) in cases {
            if !self.rec.applies(id) {
                continue;
            }
            self.rec.quiet = Some(Vec::new());
            self.rec.stop_reason = None;
            let outcome = self.robust_case(id, &bytes);
            let findings = self.rec.quiet.take().unwrap_or_default();
            if self.harness_error.is_some() {
                self.rec.stop_reason = saved_stop.clone();
                self.rec.verdict = saved_verdict.clone();
                return;
            }
            self.rec.stop_reason = saved_stop.clone();
            self.rec.verdict = saved_verdict.clone();
            match outcome {
                Ok(extra) => self.rec.pass(id, format!("survived {what}{extra}")),
                Err(why) => {
                    // Only the cause that ended the plugin, not whatever
                    // else this process did that lightningd tolerates.
                    let fatal = findings
                        .iter()
                        .find(|f| matches!(f.effect, Effect::Kill | Effect::Fatal(_)) && self.rec.tier(f.check) == Tier::Kill);
                    let detail = fatal.map(|f| format!(" ({})", wire::sanitize(&f.reason))).unwrap_or_default();
                    self.rec.finding(&Finding { check: id, reason: format!("after {what}: {why}{detail}"), effect: Effect::Ignored });
                    self.rec.library = None;
                }
            }
        }
    }

    /// One robust case in a fresh process: `Ok` with a note, or why not.
    pub(super) fn robust_case(&mut self, id: CheckId, bytes: &[u8]) -> Result<String, String> {
        let Some(spec) = self.spec.clone() else { return Err("no plugin to start".into()) };
        // The plugin may have removed its lightning-dir: the harness owns
        // it, so puts it back; failing that, the case cannot be set up.
        if let Err(source) = std::fs::create_dir_all(&self.dir) {
            self.harness_error = Some(Error::LightningDir { path: self.dir.clone(), source });
            return Err("no lightning-dir".into());
        }
        let mut c = match self.spawn(&spec) {
            Ok(c) => c,
            Err(source) => {
                self.harness_error = Some(Error::Io { context: format!("cannot start the plugin again for {id}"), source });
                return Err("not started".into());
            }
        };
        let log_mark = self.log.len();
        let result = self.bring_up(&mut c).and_then(|()| {
            if id == CheckId::ROBUST_UNKNOWN_METHOD {
                let rid = self.new_id("cln_harness_no_such_method");
                c.expect(&rid);
                self.send(&mut c, wire::request(&rid, "cln_harness_no_such_method", &json!({})));
                return match self.wait_until(&mut c, &rid, Instant::now() + self.question_deadline()) {
                    Waited::Answer(m, _) => {
                        let code = m.doc.root().get("error").and_then(|e| e.get("code")).map(|c| c.text());
                        match code.as_deref() {
                            Some("-32601") => Ok(String::new()),
                            Some(c) => Ok(format!(", answering with error code {c} (JSON-RPC 2.0 says -32601)")),
                            None => Err(format!("it answered without an error: {}", m.text())),
                        }
                    }
                    Waited::Exited => Err("it exited".into()),
                    Waited::TimedOut => Err(format!("no answer within {:.1} s", self.question_deadline().as_secs_f64())),
                    Waited::Killed(_) => Err("lightningd would kill it".into()),
                };
            }
            self.send(&mut c, bytes.to_vec());
            let (probe, _) = self.choose_probe();
            self.run_probe(&mut c, &probe).map(|()| String::new())
        });
        self.account_children(&mut c);
        if result.is_err() {
            // Whose code gave up, the plugin's or its library's (§12), from
            // what this process logged and wrote to stderr.
            let log = self.log.get(log_mark..).unwrap_or_default();
            self.rec.library = crate::library::recognise(log, &String::from_utf8_lossy(&c.stderr));
        }
        result.map_err(|e| if c.stdout_eof { "it exited".to_owned() } else { e })
    }

    /// getmanifest and init without judging: the judging was done.
    pub(crate) fn bring_up(&mut self, c: &mut Conn) -> Result<(), String> {
        let id = if self.profile.string_ids.getmanifest_string() { self.new_id("getmanifest") } else { Id::Num(self.take_num()) };
        self.send_request(c, "getmanifest", &id, &json!({"allow-deprecated-apis": self.h.allow_deprecated_apis}).to_string());
        let Waited::Answer(..) = self.wait_for(c, &id) else { return Err("it did not answer getmanifest this time".into()) };
        let manifest = self.manifest.clone().unwrap_or_default();
        let config = Configuration {
            lightning_dir: self.dir.display().to_string(),
            rpc_file: "lightning-rpc".into(),
            startup: !self.h.dynamic,
            network: self.h.network.clone(),
        };
        let params = init::params(&self.profile, &manifest, &self.h.options, &config).map_err(|e| e.message)?;
        let id = self.new_id("init");
        self.send_request(c, "init", &id, &params);
        match self.wait_for(c, &id) {
            Waited::Answer(..) => Ok(()),
            _ => Err("it did not answer init this time".into()),
        }
    }
}
