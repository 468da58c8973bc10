//! What a real lightningd can send that naive readers break on (framing),
//! input it never sends (robust), and the liveness probe after each.

use super::*;

/// The longest a probe or robust question waits (see `question_deadline`).
const QUESTION_DEADLINE: Duration = Duration::from_secs(2);

/// How often a pipe being emptied is looked at: nothing signals it.
const DRAIN_POLL: Duration = Duration::from_micros(200);

/// What a question put to the plugin (a probe, a robust case) showed.
pub(crate) enum Shown {
    /// It survived, with a note for the report.
    Survived(String),
    /// It failed, and how.
    Failed(String),
    /// The evidence never came (it stopped reading, or answering): what
    /// was missing. Never a pass.
    NotJudged(String),
}

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

    /// Runs the probe. A death is judged where it happens; this only says
    /// the probe failed. Without the evidence (the plugin stopped reading
    /// or answering) the probe says so, and nothing is passed.
    pub(crate) fn run_probe(&mut self, c: &mut Conn, probe: &Probe) -> Shown {
        let deadline = self.question_until();
        match probe {
            Probe::Call(method, params) => {
                self.cause(CheckId::FRAME_PROBE, format!("while handling the probe call to '{method}'"));
                match self.forward_call(c, method, params, deadline) {
                    Ok(_) => Shown::Survived(String::new()),
                    Err(e) => match e.strip_prefix(crate::checks::NOT_JUDGED) {
                        Some(why) => Shown::NotJudged(why.to_owned()),
                        None => Shown::Failed(e),
                    },
                }
            }
            Probe::Alive => {
                if self.settle(c, deadline) {
                    Shown::Failed("the plugin exited".into())
                } else if self.rec.stop_reason.is_some() {
                    Shown::Failed("lightningd would kill the plugin".into())
                } else if let Some(missing) = c.unsettled.clone() {
                    Shown::NotJudged(missing)
                } else {
                    Shown::Survived(String::new())
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

    /// When a question asked now must be answered: its own deadline, or
    /// the shared one of the cases running side by side, if earlier.
    fn question_until(&self) -> Instant {
        let own = Instant::now() + self.question_deadline();
        self.case_deadline.map_or(own, |d| d.min(own))
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
            // A plugin already seen to stop reading is not waited for
            // again; the probe after the schedule says what was missing.
            if c.unsettled.is_some() {
                continue;
            }
            // The last write too: what follows the schedule (the probe) must
            // not share a read with it.
            let deadline = overall.min(Instant::now() + Duration::from_secs(2));
            while !c.proc.drained() && Instant::now() < deadline && !c.stdout_eof && self.rec.stop_reason.is_none() {
                // Read meanwhile: the plugin may answer or die mid-way. An
                // emptied pipe signals nothing, so it is looked at often.
                self.pump(c, Instant::now() + DRAIN_POLL);
            }
            if !c.proc.drained() && !c.stdout_eof && self.rec.stop_reason.is_none() {
                c.unsettled = Some(c.missing_evidence());
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
                Shown::Survived(_) => self.survived(id, format!("survived {what}")),
                // A death was judged where it happened, against the input
                // the plugin had read last.
                Shown::Failed(_) if c.stdout_eof || self.rec.stop_reason.is_some() => {}
                Shown::Failed(e) => self.rec.finding(&Finding { check: id, reason: format!("after {what}: {e}"), effect: Effect::Ignored }),
                Shown::NotJudged(why) => self.rec.not_judged(id, format!("after {what}: {why}")),
            }
        }
        for id in [CheckId::FRAME_SPLIT, CheckId::FRAME_COALESCED, CheckId::FRAME_HUGE, CheckId::FRAME_PASSTHROUGH] {
            // A survival is passed at the end of the watch: it applies.
            let pending = self.survivals.iter().any(|(s, _)| *s == id);
            if !self.rec.recorded(id) && !pending && self.rec.stop_reason.is_none() {
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

        let mut todo = Vec::new();
        for (id, what, bytes) in cases {
            if !self.rec.applies(id) {
                continue;
            }
            // An answer is the only evidence this case has: to an unknown
            // method, or to the consented probe.
            let asks = id == CheckId::ROBUST_UNKNOWN_METHOD || matches!(self.choose_probe().0, Probe::Call(..));
            if let (true, Some(silence)) = (asks, &self.silence) {
                let why = format!("after {what}: the plugin stopped answering after init: {silence}");
                self.rec.not_judged(id, why);
                continue;
            }
            todo.push((id, what, bytes));
        }
        let mut done = self.run_cases(&todo);
        // The bytes of all cases in the order they crossed the pipes: the
        // processes ran side by side.
        let mut frames: Vec<Event> = done.iter_mut().flat_map(|c| std::mem::take(&mut c.events)).collect();
        frames.sort_by(|a, b| match (a, b) {
            (Event::Frame(x), Event::Frame(y)) => x.at_ms.total_cmp(&y.at_ms),
            _ => std::cmp::Ordering::Equal,
        });
        for e in frames {
            self.rec.emit(e);
        }
        for ((id, what, _), case) in todo.into_iter().zip(done) {
            for line in case.log {
                if self.log.len() < MAX_LOG_LINES && self.log_bytes + line.message.len() <= MAX_LOG_BYTES {
                    self.log_bytes += line.message.len();
                    self.log.push(line);
                } else {
                    self.log_dropped += 1;
                }
            }
            self.ended_processes += case.ended_processes;
            self.leftover_total += case.leftover_total;
            for l in case.leftovers {
                if self.leftover_children.len() < MAX_CHILDREN_SHOWN {
                    self.leftover_children.push(l);
                }
            }
            if let Some(e) = case.harness_error {
                self.harness_error.get_or_insert(e);
            }
            if self.harness_error.is_some() {
                continue;
            }
            self.rec.library = case.library;
            match case.shown {
                Shown::Survived(extra) => self.rec.pass(id, format!("survived {what}{extra}")),
                Shown::NotJudged(why) => self.rec.not_judged(id, format!("after {what}: {why}")),
                Shown::Failed(why) => {
                    // Only the cause that ended the plugin, not whatever
                    // else this process did that lightningd tolerates.
                    let fatal = case
                        .findings
                        .iter()
                        .find(|f| matches!(f.effect, Effect::Kill | Effect::Fatal(_)) && self.rec.tier(f.check) == Tier::Kill);
                    let detail = fatal.map(|f| format!(" ({})", wire::sanitize(&f.reason))).unwrap_or_default();
                    self.rec.finding(&Finding { check: id, reason: format!("after {what}: {why}{detail}"), effect: Effect::Ignored });
                }
            }
            self.rec.library = None;
        }
    }

    /// Runs each case in a fresh process of its own, side by side (at most
    /// [`case_workers`] at once), under one shared deadline for the phase:
    /// a plugin that never answers costs a question's deadline per round of
    /// workers, not one per case, and nothing waits past the phase's end.
    /// Each case has its own session, so what one process does is never
    /// told of another.
    fn run_cases(&mut self, cases: &[(CheckId, String, Vec<u8>)]) -> Vec<CaseRun> {
        // Each round of workers may take a timeout to come up on a busy
        // machine and a question's deadline: the phase's end bounds what a
        // stuck case can cost, and no healthy case comes near it.
        let workers = case_workers().min(cases.len()).max(1);
        let rounds = cases.len().div_ceil(workers) as u32;
        let deadline = Instant::now() + (self.h.timeout + self.question_deadline()) * rounds;
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results: std::sync::Mutex<Vec<Option<CaseRun>>> = std::sync::Mutex::new((0..cases.len()).map(|_| None).collect());
        let (h, profile, program, dir) = (self.h, &self.profile, &self.program, &self.dir);
        let (manifest, spec, string_ids, start) = (&self.manifest, &self.spec, self.string_ids, self.rec.start);
        // Ids stay unique over the run: each case draws from its own range.
        let first_id = self.next_id;
        self.next_id += 1000 * cases.len() as u64;
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some((id, _, bytes)) = cases.get(i) else { break };
                    let mut events = Collect::default();
                    let mut sinks: [&mut dyn Sink; 1] = [&mut events];
                    let mut sub = Session::new(h, profile.clone(), program.clone(), dir.clone(), &mut sinks);
                    sub.rec.start = start;
                    sub.manifest = manifest.clone();
                    sub.spec = spec.clone();
                    sub.string_ids = string_ids;
                    sub.next_id = first_id + 1000 * i as u64;
                    sub.case_deadline = Some(deadline);
                    sub.rec.quiet = Some(Vec::new());
                    let shown = sub.robust_case(*id, bytes);
                    let run = CaseRun {
                        shown,
                        findings: sub.rec.quiet.take().unwrap_or_default(),
                        library: sub.rec.library.take(),
                        log: std::mem::take(&mut sub.log),
                        leftovers: std::mem::take(&mut sub.leftover_children),
                        leftover_total: sub.leftover_total,
                        ended_processes: sub.ended_processes,
                        harness_error: sub.harness_error.take(),
                        events: Vec::new(),
                    };
                    drop(sub);
                    let run = CaseRun { events: events.0, ..run };
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(run);
                });
            }
        });
        results.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().map(|r| r.unwrap_or_else(|| CaseRun::lost())).collect()
    }

    /// One robust case in a fresh process: what it showed.
    pub(super) fn robust_case(&mut self, id: CheckId, bytes: &[u8]) -> Shown {
        let Some(spec) = self.spec.clone() else { return Shown::Failed("no plugin to start".into()) };
        // The plugin may have removed its lightning-dir: the harness owns
        // it, so puts it back; failing that, the case cannot be set up.
        if let Err(source) = std::fs::create_dir_all(&self.dir) {
            self.harness_error = Some(Error::LightningDir { path: self.dir.clone(), source });
            return Shown::Failed("no lightning-dir".into());
        }
        let mut c = match self.spawn(&spec) {
            Ok(c) => c,
            Err(source) => {
                self.harness_error = Some(Error::Io { context: format!("cannot start the plugin again for {id}"), source });
                return Shown::Failed("not started".into());
            }
        };
        let log_mark = self.log.len();
        let result = match self.bring_up(&mut c) {
            // A fresh process that is still up but did not come up in time
            // shows nothing about the case.
            Err(e) if !c.stdout_eof => Shown::NotJudged(format!("the fresh process for it did not come up: {e}")),
            Err(e) => Shown::Failed(e),
            Ok(()) => self.robust_question(&mut c, id, bytes),
        };
        self.account_children(&mut c);
        if !matches!(result, Shown::Survived(_)) {
            // Whose code gave up, the plugin's or its library's (§12), from
            // what this process logged and wrote to stderr.
            let log = self.log.get(log_mark..).unwrap_or_default();
            self.rec.library = crate::library::recognise(log, &String::from_utf8_lossy(&c.stderr));
        }
        match result {
            Shown::Failed(_) if c.stdout_eof => Shown::Failed("it exited".to_owned()),
            other => other,
        }
    }

    /// The case's input, then the question whether the process survived it.
    fn robust_question(&mut self, c: &mut Conn, id: CheckId, bytes: &[u8]) -> Shown {
        {
            if id == CheckId::ROBUST_UNKNOWN_METHOD {
                let rid = self.new_id("cln_harness_no_such_method");
                c.expect(&rid);
                self.send(c, wire::request(&rid, "cln_harness_no_such_method", &json!({})));
                let until = self.question_until();
                return match self.wait_until(c, &rid, until) {
                    Waited::Answer(m, _) => {
                        let code = m.doc.root().get("error").and_then(|e| e.get("code")).map(|c| c.text());
                        match code.as_deref() {
                            Some("-32601") => Shown::Survived(String::new()),
                            Some(c) => Shown::Survived(format!(", answering with error code {c} (JSON-RPC 2.0 says -32601)")),
                            None => Shown::Failed(format!("it answered without an error: {}", m.text())),
                        }
                    }
                    Waited::Exited => Shown::Failed("it exited".into()),
                    // Unread, the request was never asked.
                    Waited::TimedOut | Waited::Unjudged(_) if !c.proc.drained() => Shown::NotJudged(c.missing_evidence()),
                    Waited::TimedOut | Waited::Unjudged(_) => {
                        Shown::Failed(format!("no answer within {:.1} s", self.question_deadline().as_secs_f64()))
                    }
                    Waited::Killed(_) => Shown::Failed("lightningd would kill it".into()),
                };
            }
            self.send(c, bytes.to_vec());
            let (probe, _) = self.choose_probe();
            self.run_probe(c, &probe)
        }
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

/// How many fresh processes run side by side: one per core, at least 2
/// (most of a case is waiting on the plugin), at most 8. More would make
/// plugins that start slowly compete for the cores.
fn case_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 8)
}

/// What one case in a fresh process showed, and what its session saw.
pub(super) struct CaseRun {
    shown: Shown,
    /// Findings about that process, for its own check only.
    findings: Vec<Finding>,
    library: Option<crate::library::Library>,
    log: Vec<LogLine>,
    leftovers: Vec<crate::process::Leftover>,
    leftover_total: usize,
    ended_processes: usize,
    harness_error: Option<Error>,
    /// The bytes both ways, for the run's sinks (the transcript).
    events: Vec<Event>,
}

impl CaseRun {
    /// A case whose worker never reported (it panicked): nothing judged.
    fn lost() -> CaseRun {
        CaseRun {
            shown: Shown::NotJudged("the harness lost this case's worker".into()),
            findings: Vec::new(),
            library: None,
            log: Vec::new(),
            leftovers: Vec::new(),
            leftover_total: 0,
            ended_processes: 0,
            harness_error: None,
            events: Vec::new(),
        }
    }
}

/// Keeps a case's events for the run's sinks.
#[derive(Default)]
struct Collect(Vec<Event>);

impl Sink for Collect {
    fn event(&mut self, e: &Event) {
        if matches!(e, Event::Frame(_)) {
            self.0.push(e.clone());
        }
    }
}
