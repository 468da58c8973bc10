//! The recorder of results: which checks apply to this run, each check's one
//! result, the verdict, and the events every sink hears. It knows nothing
//! of processes or bytes; the session tells it what was found.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::checks::{CheckId, CheckResult, Effect, Outcome, Tier, CATALOGUE, NOT_JUDGED};
use crate::events::{Direction, Event, Frame, Sink};
use crate::manifest::Finding;
use crate::profile::Profile;
use crate::report::Verdict;
use crate::wire;

use super::Harness;

pub(crate) struct Recorder<'h, 's, 'd> {
    h: &'h Harness,
    profile: Arc<Profile>,
    sinks: &'s mut [&'d mut dyn Sink],
    /// When the run started: event times are milliseconds since then.
    pub(crate) start: Instant,
    pub(crate) results: Vec<CheckResult>,
    pub(crate) verdict: Verdict,
    /// Why the run stopped judging, once something ended it.
    pub(crate) stop_reason: Option<String>,
    /// Checks this run cannot apply (e.g. shutdown/exit without the
    /// subscription).
    pub(crate) not_applicable: Vec<CheckId>,
    /// While set, findings are collected here instead of becoming results:
    /// they are about a throwaway process, and only its own check may use
    /// them.
    pub(crate) quiet: Option<Vec<Finding>>,
    /// The plugin library the next recorded finding comes from (§12).
    pub(crate) library: Option<crate::library::Library>,
    /// Why the checks still open at the end could not be judged (the
    /// plugin stopped answering or reading): they close as "not judged",
    /// never as passed.
    pub(crate) unjudged: Option<String>,
}

impl<'h, 's, 'd> Recorder<'h, 's, 'd> {
    pub(crate) fn new(h: &'h Harness, profile: Arc<Profile>, sinks: &'s mut [&'d mut dyn Sink]) -> Self {
        Recorder {
            h,
            profile,
            sinks,
            start: Instant::now(),
            results: Vec::new(),
            verdict: Verdict::Accepted,
            stop_reason: None,
            not_applicable: Vec::new(),
            quiet: None,
            library: None,
            unjudged: None,
        }
    }

    pub(crate) fn emit(&mut self, e: Event) {
        // Nothing the run finds once the harness is ending on a signal is
        // the plugin's doing.
        crate::process::halt_if_terminating();
        for s in self.sinks.iter_mut() {
            s.event(&e);
        }
    }

    /// A frame for the sinks: its bytes are copied only when a sink listens
    /// (the fuzzer has none, and sends megabytes).
    pub(crate) fn frame(&mut self, at_ms: f64, dir: Direction, bytes: &[u8]) {
        if !self.sinks.is_empty() {
            self.emit(Event::Frame(Frame { at_ms, dir, bytes: bytes.to_vec() }));
        }
    }

    pub(crate) fn ms(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.start).as_secs_f64() * 1000.0
    }

    pub(crate) fn tier(&self, id: CheckId) -> Tier {
        id.def().tier_for(&self.profile).unwrap_or(Tier::Info)
    }

    /// Whether this run judges `id` at all.
    pub(crate) fn applies(&self, id: CheckId) -> bool {
        let h = self.h;
        if !h.only.is_empty() && !h.only.iter().any(|p| id.starts_with(p.as_str())) {
            return false;
        }
        if self.not_applicable.contains(&id) {
            return false;
        }
        let dynamic_only = id == CheckId::MANIFEST_START_PARAMS || id == CheckId::MANIFEST_DYNAMIC_START;
        let expectation_only = id == CheckId::SUBSCRIPTIONS_EXPECTED;
        if h.handshake_only
            && ["notify/no-reply", "notify/handler-errors", "notify/alive", "frame/", "robust/", "hook/", "method/", "check/", "setconfig/"]
                .iter()
                .any(|p| id.starts_with(p))
        {
            return false;
        }
        // A scenario calls hooks only in its `hook` steps, and never makes
        // the consented calls, check or setconfig of a default run.
        if h.scenario.as_ref().is_some_and(|s| !s.steps.iter().any(|st| st.hook.is_some())) && id.starts_with("hook/") {
            return false;
        }
        if h.scenario.is_some() && ["method/", "check/", "setconfig/"].iter().any(|p| id.starts_with(p)) {
            return false;
        }
        if id.starts_with("frame/") && h.scenario.is_some() {
            return false;
        }
        if (id == CheckId::SCENARIO_STEPS && h.scenario.is_none()) || (id == CheckId::SNAPSHOT_SURFACE && h.snapshot.is_none()) {
            return false;
        }
        id.def().tier_for(&self.profile).is_some()
            && (!dynamic_only || h.dynamic)
            && (!expectation_only || h.expect_subscriptions.is_some())
    }

    pub(crate) fn recorded(&self, id: CheckId) -> bool {
        self.results.iter().any(|r| r.id == id.as_str())
    }

    pub(crate) fn record(&mut self, id: CheckId, outcome: Outcome, message: String, effect: Option<Effect>, latency: Option<Duration>) {
        self.record_as(id, self.tier(id), outcome, message, effect, latency);
    }

    pub(crate) fn record_as(
        &mut self,
        id: CheckId,
        tier: Tier,
        outcome: Outcome,
        message: String,
        effect: Option<Effect>,
        latency: Option<Duration>,
    ) {
        if !self.applies(id) || self.recorded(id) {
            return;
        }
        let hint = matches!(outcome, Outcome::Fail | Outcome::Warn).then(|| id.def().hint.to_owned());
        let library = self.library.take();
        let r = CheckResult { id: id.as_str(), tier, outcome, message, effect, hint, latency, library };
        self.results.push(r.clone());
        self.emit(Event::Check(r));
    }

    /// A check the evidence could not decide: skipped, saying what was
    /// missing. Never a pass.
    pub(crate) fn not_judged(&mut self, id: CheckId, why: impl AsRef<str>) {
        self.record(id, Outcome::Skip, format!("{NOT_JUDGED}{}", why.as_ref()), None, None);
    }

    pub(crate) fn pass(&mut self, id: CheckId, message: impl Into<String>) {
        self.record(id, Outcome::Pass, message.into(), None, None);
    }

    /// A finding: its outcome follows from the tier.
    pub(crate) fn finding(&mut self, f: &Finding) {
        self.finding_as(f, self.tier(f.check));
    }

    /// A finding whose tier depends on what was found, not only on the check.
    pub(crate) fn finding_as(&mut self, f: &Finding, tier: Tier) {
        if let Some(q) = self.quiet.as_mut() {
            q.push(f.clone());
            // Only what ends the plugin's life ends the question asked of
            // it: a tolerated violation is not the question's verdict.
            if matches!(f.effect, Effect::Kill | Effect::Fatal(_) | Effect::Disabled) && tier == Tier::Kill {
                self.stop_reason.get_or_insert(f.reason.clone());
            }
            return;
        }
        let outcome = match tier {
            Tier::Kill | Tier::Must => Outcome::Fail,
            Tier::Robust if self.h.strict => Outcome::Fail,
            Tier::Robust | Tier::Info => Outcome::Warn,
        };
        let message = match &f.effect {
            // What lightningd logs, as its log shows it.
            Effect::Kill | Effect::Disabled => format!("Killing plugin: {}", wire::sanitize(&f.reason)),
            Effect::Logged => wire::sanitize(&f.reason),
            // The harness's own words.
            Effect::Ignored | Effect::Fatal(_) => f.reason.clone(),
        };
        self.record_as(f.check, tier, outcome, message, Some(f.effect.clone()), None);
        if f.check == CheckId::WIRE_SIZE {
            // The harness stopped reading: whatever lightningd would make of
            // the rest, the harness did not see it.
            if matches!(self.verdict, Verdict::Accepted) {
                self.verdict = Verdict::Undecided { check: f.check.as_str().into(), reason: f.reason.clone() };
            }
            self.stop_reason.get_or_insert("the harness stopped reading at the pending cap".to_owned());
        }
        match &f.effect {
            Effect::Kill if tier == Tier::Kill => {
                self.verdict = Verdict::Killed { check: f.check.as_str().into(), reason: f.reason.clone() };
                self.stop_reason.get_or_insert(format!("lightningd kills the plugin at {}", f.check));
            }
            Effect::Fatal(text) => {
                self.verdict = Verdict::Fatal { check: f.check.as_str().into(), reason: text.clone() };
                self.stop_reason.get_or_insert(format!("lightningd stops at {}", f.check));
            }
            Effect::Disabled => {
                self.verdict = Verdict::Disabled {
                    check: f.check.as_str().into(),
                    reason: f.reason.split_once(": ").map(|x| x.1).unwrap_or("").to_owned(),
                };
                self.stop_reason.get_or_insert("the plugin disabled itself".to_owned());
            }
            _ => {}
        }
    }

    /// Adds a note to a recorded result's message.
    pub(crate) fn annotate(&mut self, id: CheckId, note: &str) {
        if let Some(r) = self.results.iter_mut().find(|r| r.id == id.as_str()) {
            r.message.push_str(note);
        }
    }

    /// The results in the catalogue's order, every applicable check that
    /// was not reached recorded as skipped first.
    pub(crate) fn close(&mut self) -> Vec<CheckResult> {
        let why = match (&self.stop_reason, &self.unjudged) {
            (Some(stop), _) => format!("not reached: {stop}"),
            (None, Some(unjudged)) => format!("{NOT_JUDGED}{unjudged}"),
            (None, None) => "not reached: not reached".to_owned(),
        };
        for def in CATALOGUE {
            let id = CheckId::parse(def.id).expect("catalogue ids parse");
            if self.applies(id) && !self.recorded(id) {
                self.record(id, Outcome::Skip, why.clone(), None, None);
            }
        }
        // Keep the catalogue's order: it is the order a run reaches checks.
        let order = |id: &str| CATALOGUE.iter().position(|c| c.id == id).unwrap_or(usize::MAX);
        let mut checks = self.results.clone();
        checks.sort_by_key(|c| order(c.id));
        checks
    }
}
