//! The session as a driver for `fuzz` and `replay`: fresh processes,
//! schedules played quietly, the manifest learned once.

use super::*;

impl<'h, 's, 'd> Session<'h, 's, 'd> {
    /// Starts a fresh plugin process and brings it through getmanifest and
    /// init without judging (the manifest must be known).
    pub(crate) fn fresh(&mut self) -> Result<Conn, String> {
        let spec = self.spec.clone().ok_or("no plugin to start")?;
        let mut c = self.spawn(&spec).map_err(|e| format!("cannot start the plugin: {}", strerror(&e)))?;
        self.rec.stop_reason = None;
        self.rec.quiet = Some(Vec::new());
        self.bring_up(&mut c)?;
        Ok(c)
    }

    /// Plays `schedule` on a live process, then probes it; `Err` says how
    /// the plugin failed. `calls` are the ids of calls inside the schedule,
    /// which the plugin may answer.
    pub(crate) fn attempt(&mut self, c: &mut Conn, schedule: &crate::framing::Schedule, calls: &[Id]) -> Result<(), String> {
        self.rec.quiet = Some(Vec::new());
        for id in calls {
            c.expect(id);
        }
        self.current = Some("the schedule".into());
        self.play(c, schedule);
        let (probe, _) = self.choose_probe();
        let probed = self.run_probe(c, &probe);
        self.current = None;
        let findings = self.rec.quiet.take().unwrap_or_default();
        if let Some(f) = findings.into_iter().find(|f| matches!(f.effect, Effect::Kill | Effect::Fatal(_))) {
            return Err(format!("lightningd would kill the plugin: {}", wire::sanitize(&f.reason)));
        }
        if c.stdout_eof {
            return Err("the plugin exited".into());
        }
        match probed {
            super::abuse::Shown::Survived(_) => Ok(()),
            super::abuse::Shown::Failed(e) => Err(format!("probe failed: {e}")),
            super::abuse::Shown::NotJudged(why) => Err(format!("probe not judged: {why}")),
        }
    }

    /// Learns the manifest with one normal getmanifest: the fuzzer needs to
    /// know the plugin's topics and methods.
    pub(crate) fn learn(&mut self, spec: Spawn) -> Result<Manifest, String> {
        self.spec = Some(spec.clone());
        let mut c = self.spawn(&spec).map_err(|e| format!("cannot start the plugin: {}", strerror(&e)))?;
        self.rec.quiet = Some(Vec::new());
        let id = if self.profile.string_ids.getmanifest_string() { self.new_id("getmanifest") } else { Id::Num(self.take_num()) };
        self.send_request(&mut c, "getmanifest", &id, &json!({"allow-deprecated-apis": self.h.allow_deprecated_apis}).to_string());
        let Waited::Answer(msg, _) = self.wait_for(&mut c, &id) else {
            return Err("the plugin did not answer getmanifest: run `cln-harness run` on it first".into());
        };
        let shortname = self.program.plugin.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let path = self.program.plugin.display().to_string();
        let cx = manifest::Context {
            profile: &self.profile,
            allow_deprecated_apis: self.h.allow_deprecated_apis,
            startup: true,
            path: &path,
            shortname: &shortname,
            start_params: &[],
        };
        let m = manifest::judge(&msg.doc, &cx)
            .result
            .map_err(|f| format!("lightningd would refuse the manifest ({}: {}): run `cln-harness run` on it first", f.check, f.reason))?;
        self.string_ids = self.profile.string_ids.after_manifest(m.nonnumericids, self.h.allow_deprecated_apis);
        self.manifest = Some(m.clone());
        c.proc.kill();
        Ok(m)
    }

    /// The spawn description for this run's plugin.
    pub(crate) fn spawn_spec(&self) -> Spawn {
        Spawn {
            program: self.program.exec.clone(),
            args: self.program.args.clone(),
            env: self
                .h
                .env
                .iter()
                .cloned()
                .chain([
                    ("LIGHTNINGD_PLUGIN".into(), "1".into()),
                    ("LIGHTNINGD_VERSION".into(), self.profile.version.clone().into()),
                    ("LC_ALL".into(), "C".into()),
                ])
                .collect(),
            cwd: self.dir.clone(),
        }
    }

    /// A session with its own fresh lightning-dir and mock RPC, for
    /// drivers other than a run (the fuzzer, replay).
    pub(crate) fn standalone(h: &'h Harness, sinks: &'s mut [&'d mut dyn Sink]) -> Result<(Self, MockRpc, TempDir), Error> {
        let profile = Profile::shared(&h.profile)?;
        let program = resolve_program(&h.program, &h.args)?;
        let temp = TempDir::new()?;
        let dir = temp.path().to_owned();
        let s = Session::new(h, profile, program, dir.clone(), sinks);
        let rpc_path = dir.join("lightning-rpc");
        let rpc = MockRpc::start(&rpc_path, &s.profile, &dir, s.rec.start, Vec::new())
            .map_err(|source| Error::RpcSocket { path: rpc_path, source })?;
        Ok((s, rpc, temp))
    }

    pub(crate) fn manifest_ref(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    pub(crate) fn profile(&self) -> &Profile {
        &self.profile
    }

    pub(crate) fn next_call_id(&mut self, method: &str) -> Id {
        self.passthrough_id(method)
    }

    /// The methods the user consented to have called, with their params.
    pub(crate) fn consented_calls(&self) -> Vec<(String, serde_json::Value)> {
        self.h.calls.clone()
    }

    /// A request for each registered hook, as lightningd sends it (its
    /// profile payload with a fresh id): `(hook, id, bytes)`.
    pub(crate) fn hook_requests(&mut self) -> Vec<(String, Id, Vec<u8>)> {
        let hooks: Vec<String> = self.manifest.as_ref().map(|m| m.hooks.iter().map(|h| h.name.clone()).collect()).unwrap_or_default();
        let mut out = Vec::new();
        for hook in hooks {
            let Some(bytes) = self.profile.hook_requests.get(&hook).cloned() else { continue };
            let Some(doc) = crate::jsmn::Doc::parse(&bytes) else { continue };
            let Some(params) = doc.root().get("params") else { continue };
            let id = self.hook_id(&hook, params);
            let text = String::from_utf8_lossy(params.full()).into_owned();
            out.push((hook.clone(), id.clone(), wire::request_raw(&id, &hook, &text)));
        }
        out
    }
}
