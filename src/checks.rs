//! The check catalogue: every check's stable id, tier and the requirement it
//! enforces, and the result type the runner reports.
//!
//! Ids are `<stage>/<rule>` and never change meaning; `cln-harness list`
//! prints this table. A check's tier can depend on the profile, because the
//! same bytes are a kill in one release and tolerated in another (§13).

use std::time::Duration;

use serde::Serialize;

use crate::profile::Profile;

/// How serious a failed check is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// lightningd kills the plugin, or terminates itself.
    Kill,
    /// A protocol violation lightningd tolerates.
    Must,
    /// Input lightningd never sends; warns unless strict.
    Robust,
    /// Worth knowing; never fails a run.
    Info,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Kill => "kill",
            Tier::Must => "must",
            Tier::Robust => "robust",
            Tier::Info => "info",
        }
    }
}

/// How a skipped check's message starts when the check ran but the
/// evidence could not decide it: the plugin stopped reading or answering
/// before it showed anything. Such a check is never a pass; the human
/// report shows each on its own line.
pub const NOT_JUDGED: &str = "not judged: ";

/// What came of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
    Skip,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Warn => "WARN",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
        }
    }
}

/// What lightningd does about a finding, in docs/protocol.md's words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "text")]
pub enum Effect {
    /// `Killing plugin: <reason>`.
    Kill,
    /// lightningd itself stops; the text is what it prints.
    Fatal(String),
    /// lightningd logs the reason (UNUSUAL) and carries on.
    Logged,
    /// lightningd does nothing; only the harness notices.
    Ignored,
    /// The plugin disabled itself; lightningd forgets it.
    Disabled,
}

/// A check's id. The only values are the constants the catalogue declares
/// (`CheckId::NOTIFY_ALIVE` is `notify/alive`), so every id the code names
/// exists.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckId(&'static str);

impl CheckId {
    pub const fn as_str(self) -> &'static str {
        self.0
    }

    /// The catalogue's entry for this check.
    pub fn def(self) -> &'static CheckDef {
        find(self.0).expect("every CheckId is in the catalogue")
    }

    /// The id of a catalogue entry, by its text.
    pub fn parse(id: &str) -> Option<CheckId> {
        find(id).map(|c| CheckId(c.id))
    }
}

impl std::fmt::Debug for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::fmt::Display for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::ops::Deref for CheckId {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl PartialEq<&str> for CheckId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<CheckId> for &str {
    fn eq(&self, other: &CheckId) -> bool {
        *self == other.0
    }
}

impl From<CheckId> for &'static str {
    fn from(c: CheckId) -> &'static str {
        c.0
    }
}

impl Serialize for CheckId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

/// One check's entry in the catalogue.
pub struct CheckDef {
    pub id: &'static str,
    /// The requirement, as one sentence.
    pub requirement: &'static str,
    /// How to fix a failure, as one line.
    pub hint: &'static str,
    /// The tier under a profile, or `None` where the rule does not exist.
    pub tier: fn(&Profile) -> Option<Tier>,
}

impl CheckDef {
    pub fn tier_for(&self, profile: &Profile) -> Option<Tier> {
        (self.tier)(profile)
    }
}

/// A check's result in one run.
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    pub id: &'static str,
    pub tier: Tier,
    pub outcome: Outcome,
    /// One line: what was found, in lightningd's words where it has some.
    pub message: String,
    /// lightningd's reaction, for findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<Effect>,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// How long the plugin took to answer, where the check times an answer.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_ms")]
    pub latency: Option<Duration>,
    /// The plugin library whose own code failed the check, recognised from
    /// the evidence (a robust exit inside pyln-client or cln-plugin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub library: Option<crate::library::Library>,
}

fn ser_ms<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(d.as_secs_f64() * 1000.0),
        None => s.serialize_none(),
    }
}

/// Finds a check by id.
pub fn find(id: &str) -> Option<&'static CheckDef> {
    CATALOGUE.iter().find(|c| c.id == id)
}

fn kill(_: &Profile) -> Option<Tier> {
    Some(Tier::Kill)
}
fn must(_: &Profile) -> Option<Tier> {
    Some(Tier::Must)
}
fn info(_: &Profile) -> Option<Tier> {
    Some(Tier::Info)
}
fn kill_if(on: bool) -> Option<Tier> {
    on.then_some(Tier::Kill)
}

/// Declares every check once: a [`CheckId`] constant named after it, and
/// its entry in [`CATALOGUE`], in the order a run reaches them. Code names a
/// check only through its constant, so a misspelt id does not compile.
macro_rules! catalogue {
    ($(check!($name:ident = $id:literal, $tier:expr, $req:literal, $hint:literal),)*) => {
        impl CheckId {
            $(pub const $name: CheckId = CheckId($id);)*
        }

        /// Every check, in the order a run reaches them.
        pub static CATALOGUE: &[CheckDef] = &[$(CheckDef { id: $id, tier: $tier, requirement: $req, hint: $hint },)*];
    };
}

catalogue! {
    check!(SPAWN_EXEC = "spawn/exec", kill, "lightningd can execute the plugin file (docs/protocol.md#s1.2).",
        "Make the file executable with a valid `#!` line whose interpreter exists."),
    check!(WIRE_JSON = "wire/json", kill, "Everything the plugin writes to stdout parses as JSON the way lightningd's jsmn parser reads it (docs/protocol.md#s2.2).",
        "Write only JSON-RPC messages to stdout; send debug output to stderr or as `log` notifications."),
    check!(WIRE_JSONRPC = "wire/jsonrpc", kill, "Every value on stdout is an object with a \"jsonrpc\" member (docs/protocol.md#s2.2 item 7).",
        "Add \"jsonrpc\":\"2.0\" to every message the plugin writes."),
    check!(WIRE_NOTIFICATION = "wire/notification", kill, "A message without \"id\" has both \"method\" and \"params\" (docs/protocol.md#s3).",
        "Never answer a notification; give every notification a \"method\" and \"params\"."),
    check!(WIRE_UNKNOWN_ID = "wire/unknown-id", |p| Some(if p.parser.kill_on_unknown_id { Tier::Kill } else { Tier::Must }),
        "Every response answers a pending request, exactly once, echoing its id token byte for byte (docs/protocol.md#s3, #s4).",
        "Reply only to requests (messages with an \"id\"), once, copying the id exactly as received."),
    check!(WIRE_NUL = "wire/nul", must, "stdout carries no NUL byte: one stalls lightningd's parser for good (docs/protocol.md#s2.2 item 6).",
        "Do not write NUL bytes to stdout."),
    check!(WIRE_STRAY_OUTPUT = "wire/stray-output", must, "No unparsed bytes remain on stdout: lightningd kills the plugin as soon as a `}` follows them (docs/protocol.md#s2.2 item 3).",
        "Remove the stray print; stdout is reserved for JSON-RPC."),
    check!(WIRE_SIZE = "wire/size", must, "The plugin completes a message within 256 MiB of output; past that the harness stops reading rather than exhaust memory (lightningd would buffer without limit, docs/protocol.md#s2.1).",
        "Find what floods stdout: a message that never ends, or output that is not JSON."),
    check!(WIRE_DEPTH = "wire/depth", must, "No message nests containers more than 1000 deep: lightningd walks a message's tokens recursively (json_next, validate_jsmn_datum), once per level.",
        "Flatten the structure; no protocol message needs more than a few levels."),
    check!(LOG_MESSAGE = "log/message", kill, "Every `log` notification has a string \"message\" (docs/protocol.md#s8.1).",
        "Send {\"level\":\"info\",\"message\":\"...\"} as the params of `log`."),
    check!(LOG_LEVEL = "log/level", kill, "Every `log` level is one lightningd knows (docs/protocol.md#s8.1).",
        "Use one of the levels lightningd lists in its message."),
    check!(NOTIFY_ID = "notify/id", kill, "`message` and `progress` notifications carry the id of a pending request (docs/protocol.md#s8.2).",
        "Put the id of the request being handled into params.id."),
    check!(NOTIFY_DECLARED = "notify/declared", must, "Custom notifications are declared in the manifest's \"notifications\" (docs/protocol.md#s8.3); lightningd drops undeclared ones.",
        "List the topic under \"notifications\" in the getmanifest result."),
    check!(GETMANIFEST_EXIT = "getmanifest/exit", kill, "The plugin stays alive until it has answered getmanifest (docs/protocol.md#s1.4).",
        "Run the plugin by hand to see why it exits; its stderr is shown above."),
    check!(GETMANIFEST_TIMEOUT = "getmanifest/timeout", kill, "The plugin answers getmanifest before lightningd's timeout (docs/protocol.md#s1.5).",
        "Answer getmanifest promptly and flush stdout after every message (Python block-buffers pipes)."),
    check!(MANIFEST_RESULT = "manifest/result", kill, "The getmanifest answer has a \"result\" object (docs/protocol.md#s5.2 item 1).",
        "Answer getmanifest with {\"jsonrpc\":\"2.0\",\"id\":<the id>,\"result\":{...}}."),
    check!(MANIFEST_DISABLE = "manifest/disable", info, "The plugin does not disable itself in its manifest (docs/protocol.md#s5.2 item 2).",
        "If disabling is unintended, remove \"disable\" from the manifest."),
    check!(MANIFEST_DYNAMIC = "manifest/dynamic", kill, "\"dynamic\", if present, is a JSON boolean (docs/protocol.md#s5.2 item 3).",
        "Write \"dynamic\": true or false, not a string or number."),
    check!(MANIFEST_FEATUREBITS_HEX = "manifest/featurebits/hex", kill, "Every featurebits value is a hex string (docs/protocol.md#s5.2 item 4).",
        "Write feature bits as an even-length hex string such as \"0200\"."),
    check!(MANIFEST_FEATUREBITS_DYNAMIC = "manifest/featurebits/dynamic", kill, "A dynamic plugin sets no feature bits (docs/protocol.md#s5.2 item 4).",
        "Make the plugin non-dynamic, or drop its feature bits."),
    check!(MANIFEST_FEATUREBITS_TAKEN = "manifest/featurebits/taken", kill, "No feature bit is one lightningd already offers (docs/protocol.md#s5.2 item 4, #s14.3).",
        "Pick a feature bit no built-in feature uses."),
    check!(MANIFEST_CUSTOMMESSAGES = "manifest/custommessages", |p| kill_if(p.manifest.custommessages), "\"custommessages\" is an array of integers from 0 to 65535 (docs/protocol.md#s5.2 item 5).",
        "Write \"custommessages\": [32769] with message types as numbers."),
    check!(MANIFEST_NONNUMERICIDS = "manifest/nonnumericids", kill, "\"nonnumericids\", if present, is the literal true (docs/protocol.md#s4).",
        "Write \"nonnumericids\": true, or leave it out."),
    check!(MANIFEST_CANCHECK = "manifest/cancheck", |p| kill_if(p.manifest.cancheck), "\"cancheck\", if present, is a JSON boolean (docs/protocol.md#s5.2 item 7).",
        "Write \"cancheck\": true or false."),
    check!(MANIFEST_NOTIFICATIONS = "manifest/notifications", kill, "\"notifications\" is an array of objects with a string \"method\" (docs/protocol.md#s5.2 item 8).",
        "Write \"notifications\": [{\"method\": \"my_topic\"}]."),
    check!(MANIFEST_NOTIFICATIONS_NATIVE = "manifest/notifications/native", kill, "The plugin declares no native topic as its own (docs/protocol.md#s5.2 item 8).",
        "Rename the custom topic; native topics are sent only by lightningd."),
    check!(MANIFEST_OPTIONS = "manifest/options", kill, "\"options\" is present and an array (docs/protocol.md#s5.2 item 9).",
        "Always send \"options\": [] even when there are none."),
    check!(MANIFEST_OPTIONS_FIELDS = "manifest/options/fields", kill, "Every option has \"name\", \"description\" and \"type\" (docs/protocol.md#s5.3 item 1).",
        "Give every option a name, a description and a type."),
    check!(MANIFEST_OPTIONS_NAME = "manifest/options/name", kill, "Option names use only the characters lightningd allows (docs/protocol.md#s5.3 item 2).",
        "Use lowercase letters, digits, `_` and `-` in option names."),
    check!(MANIFEST_OPTIONS_TAKEN = "manifest/options/taken", kill, "No option name is already a lightningd option, or repeated (docs/protocol.md#s5.3 item 3).",
        "Prefix option names with the plugin's name, e.g. `myplugin-network`."),
    check!(MANIFEST_OPTIONS_DEPRECATED = "manifest/options/deprecated", kill, "An option's \"deprecated\" is a boolean or [\"vYY.MM\", \"vYY.MM\"] (docs/protocol.md#s5.3 item 4).",
        "Write \"deprecated\": true, or a list of one or two versions like \"v25.02\"."),
    check!(MANIFEST_OPTIONS_MULTI = "manifest/options/multi", kill, "An option's \"multi\" is a JSON boolean (docs/protocol.md#s5.3 item 5).",
        "Write \"multi\": true or false."),
    check!(MANIFEST_OPTIONS_DYNAMIC = "manifest/options/dynamic", |p| kill_if(p.manifest.option_dynamic), "An option's \"dynamic\" is a JSON boolean (docs/protocol.md#s5.3 item 6).",
        "Write \"dynamic\": true or false."),
    check!(MANIFEST_OPTIONS_TYPE = "manifest/options/type", kill, "Every option's type is one lightningd supports, and flags and bools are not multi (docs/protocol.md#s5.3 item 7).",
        "Use one of the supported types; a flag's default may only be false."),
    check!(MANIFEST_OPTIONS_DEFAULT = "manifest/options/default", kill, "Every option's default parses as its type (docs/protocol.md#s5.3 item 8).",
        "Give int options a number default and bool options true or false."),
    check!(MANIFEST_RPCMETHODS = "manifest/rpcmethods", kill, "\"rpcmethods\" is present and an array (docs/protocol.md#s5.2 item 10).",
        "Always send \"rpcmethods\": [] even when there are none."),
    check!(MANIFEST_RPCMETHODS_NAME = "manifest/rpcmethods/name", kill, "Every rpcmethod has a string \"name\" (docs/protocol.md#s5.4 item 1).",
        "Give every method a \"name\" string."),
    check!(MANIFEST_RPCMETHODS_DESCRIPTION = "manifest/rpcmethods/description", |p| kill_if(p.manifest.rpcmethod_description_required), "Every rpcmethod has a string \"description\", and \"long_description\" is a string (docs/protocol.md#s5.4, v23.02).",
        "Give every method a \"description\" string."),
    check!(MANIFEST_RPCMETHODS_USAGE = "manifest/rpcmethods/usage", kill, "Every rpcmethod has a string \"usage\" (docs/protocol.md#s5.4 items 2-3).",
        "Give every method a \"usage\" string; \"\" is fine."),
    check!(MANIFEST_RPCMETHODS_DEPRECATED = "manifest/rpcmethods/deprecated", kill, "A method's \"deprecated\" is a boolean or a list of versions (docs/protocol.md#s5.4 item 4).",
        "Write \"deprecated\": true, or a list of one or two versions."),
    check!(MANIFEST_RPCMETHODS_TAKEN = "manifest/rpcmethods/taken", kill, "No method name is already a command of lightningd or of a built-in plugin, or repeated (docs/protocol.md#s5.4 item 5).",
        "Rename the method; prefix it with the plugin's name."),
    check!(MANIFEST_SUBSCRIPTIONS = "manifest/subscriptions", kill, "\"subscriptions\", if present, is an array of strings (docs/protocol.md#s5.2 item 11).",
        "Write \"subscriptions\": [\"connect\", \"disconnect\"]."),
    check!(MANIFEST_HOOKS_NAME = "manifest/hooks/name", kill, "Every hook object has a \"name\" (docs/protocol.md#s5.5).",
        "Write hooks as [\"peer_connected\"] or [{\"name\": \"peer_connected\"}]."),
    check!(MANIFEST_HOOKS_KNOWN = "manifest/hooks/known", kill, "Every hook name is one lightningd has, registered once (docs/protocol.md#s5.5).",
        "Check the hook's spelling against the hooks of the lightningd release."),
    check!(MANIFEST_HOOKS_DUPLICATE = "manifest/hooks/duplicate", |p| kill_if(!p.manifest.legacy_hook_reason), "No hook is registered twice (docs/protocol.md#s5.5).",
        "List each hook once."),
    check!(MANIFEST_HOOKS_FILTERS = "manifest/hooks/filters", |p| kill_if(p.manifest.hook_filters), "Hook filters appear only on rpc_command (strings) and custommsg (integers) (docs/protocol.md#s5.5).",
        "Remove \"filters\" from other hooks; use method names for rpc_command and message types for custommsg."),
    check!(MANIFEST_HOOKS_ORDER = "manifest/hooks/order", kill, "The hooks' before/after constraints can be met (docs/protocol.md#s5.5).",
        "Remove the contradictory before/after entries."),
    check!(MANIFEST_HOOKS_DB_WRITE_REENTRY = "manifest/hooks/db-write-reentry", |p| kill_if(p.hook_rules.db_write_reentry_hangs), "A plugin that registers db_write does not also register rpc_command without filters: from v24.11 a command lightningd runs from that plugin's rpc_command answer and that writes the database hangs lightningd (docs/protocol.md#s9.4).",
        "Give rpc_command \"filters\" naming only the commands the plugin must see, or move db_write into a plugin of its own."),
    check!(MANIFEST_START_PARAMS = "manifest/start-params", kill, "Every `plugin start` parameter names one of the plugin's options (docs/protocol.md#s5.2 item 13).",
        "Pass only options the manifest declares."),
    check!(MANIFEST_DYNAMIC_START = "manifest/dynamic-start", kill, "A plugin started at runtime declares \"dynamic\": true (docs/protocol.md#s1.7).",
        "Set \"dynamic\": true if the plugin may be started with `plugin start`."),
    check!(MANIFEST_TOPICS = "manifest/topics", info, "Every subscription names a topic lightningd knows (docs/protocol.md#s5.6).",
        "Check the topic's spelling; a custom topic must be declared by some plugin."),
    check!(SNAPSHOT_SURFACE = "snapshot/surface", must, "The plugin's public surface (options, methods, subscriptions, hooks, notifications, feature bits) matches its committed snapshot (--snapshot).",
        "Review the diff; if the change is intended, run again with --update-snapshots and commit the file."),
    check!(INIT_EXIT = "init/exit", kill, "The plugin stays alive until it has answered init (docs/protocol.md#s1.4).",
        "Run the plugin by hand to see why it exits; its stderr is shown above."),
    check!(INIT_TIMEOUT = "init/timeout", kill, "The plugin answers init before lightningd's timeout (docs/protocol.md#s1.5, #s6.2).",
        "Answer init promptly, even before slow set-up, and flush stdout."),
    check!(INIT_DISABLE = "init/disable", info, "The plugin does not disable itself at init (docs/protocol.md#s6.2).",
        "If disabling is unintended, see the reason the plugin gave."),
    check!(INIT_RESULT = "init/result", info, "The init answer is a result object (docs/protocol.md#s6.2): lightningd accepts anything, but an error usually means the plugin failed to start.",
        "Answer init with \"result\": {}."),
    check!(LIFECYCLE_ALIVE = "lifecycle/alive", kill, "The plugin keeps running after init (docs/protocol.md#s1.4).",
        "Keep reading stdin after init; exit only on EOF or `shutdown`."),
    check!(SUBSCRIPTIONS_EXPECTED = "subscriptions/expected", must, "The plugin subscribes to exactly the expected topics (--expect-subscriptions or cln-harness.toml).",
        "Add the missing topics to \"subscriptions\" and remove the unexpected ones, or update the expectation."),
    check!(NOTIFY_NO_REPLY = "notify/no-reply", |p| Some(if p.parser.kill_on_unknown_id { Tier::Kill } else { Tier::Must }),
        "The plugin never answers a notification (docs/protocol.md#s3, #s7.5): a reply with no id is killed by every lightningd, one with an id is killed by v23.02 and silently dropped since v23.11.",
        "Do not write anything in response to a message that has no \"id\"."),
    check!(NOTIFY_HANDLER_ERRORS = "notify/handler-errors", info, "Handling a notification logs no error and no traceback (docs/protocol.md#s7.5).",
        "Read the logged error: a v23.02-era handler reading params.id meets v26's wrapped params.connect.id."),
    check!(NOTIFY_ALIVE = "notify/alive", kill, "The plugin survives every notification it subscribed to, including ones with fields lightningd may add (docs/protocol.md#s1.4, #s7.2).",
        "Tolerate unknown fields, and catch errors in notification handlers."),
    check!(HOOK_ANSWER = "hook/answer", kill, "Every hook answer is one lightningd accepts: a `result` with a decision the hook knows and well-formed fields; any other answer makes lightningd itself exit (docs/protocol.md#s9.1, #s9.2).",
        "Answer with {\"result\":\"continue\"} unless you mean a decision the hook documents; never answer a hook with an error."),
    check!(HOOK_DECISION = "hook/decision", must, "No hook answer is one lightningd only logs and ignores (rpc_command), and no live plugin answers a hook with error -4, which lightningd takes for its death (docs/protocol.md#s9.1, #s9.2).",
        "Answer with a decision the hook documents; return errors to the client through rpc_command's \"return\"."),
    check!(HOOK_ALIVE = "hook/alive", kill, "The plugin survives every hook it registered, before init as well, with every payload variant; dying during db_write stops lightningd (docs/protocol.md#s9.1).",
        "Catch errors in hook handlers and answer {\"result\":\"continue\"}; tolerate fields you do not know."),
    check!(HOOK_TIMEOUT = "hook/timeout", must, "Every hook is answered within --timeout: lightningd waits for ever, so an unanswered htlc_accepted freezes the channel and an unanswered db_write stops the node (docs/protocol.md#s9.1).",
        "Answer every hook request, even when the handler fails; do slow work after answering."),
    check!(HOOK_HANDLER_ERRORS = "hook/handler-errors", must, "No hook handler fails: a library's fallback answer (pyln-client's hook_fallbacks) hides the handler's exception and changes the decision (docs/protocol.md#s9.3).",
        "Read the handler's error below; fix the handler rather than rely on the fallback."),
    check!(HOOK_LATENCY = "hook/latency", info, "How fast the plugin answers hooks (lightningd has no hook timeout, docs/protocol.md#s9.1).",
        "Answer hooks quickly: htlc_accepted and db_write hold up the node while pending."),
    check!(METHOD_ANSWER = "method/answer", must, "Every consented call to the plugin's methods (--call, or [[call]] in cln-harness.toml), in object and array form, is answered with a `result` or an `error` with an integer code and a string message: lightningd passes the answer on unchecked (docs/protocol.md#s10.1).",
        "Answer every call with {\"result\":...} or {\"error\":{\"code\":<int>,\"message\":\"...\"}}."),
    check!(CHECK_ANSWER = "check/answer", |p| p.manifest.cancheck.then_some(Tier::Must), "A `cancheck` plugin answers `check` with a `result` or a well-formed `error` (docs/protocol.md#s10.2).",
        "Answer check requests like any method call, or drop \"cancheck\" from the manifest."),
    check!(SETCONFIG_ANSWER = "setconfig/answer", |p| p.manifest.option_dynamic.then_some(Tier::Must), "Every dynamic option's `setconfig` is answered with a `result`, or an `error` with an integer code and a message (docs/protocol.md#s10.3).",
        "Answer setconfig with {\"result\":{}} or {\"error\":{\"code\":-32602,\"message\":\"...\"}}."),
    check!(FRAME_PROBE = "frame/probe", info, "How survival after each framing check is judged: from evidence (the plugin read all its input, went idle, and its process and stdout stayed open), or, with consent (--probe), a call to one of its methods.",
        "Pass --probe METHOD for a method that is safe to call: its answer proves more than evidence."),
    check!(FRAME_SPLIT = "frame/split", must, "The plugin survives messages split at every byte, as a pipe may deliver them (docs/protocol.md#s2.1).",
        "Buffer input until a whole message has arrived; never assume one read is one message."),
    check!(FRAME_COALESCED = "frame/coalesced", must, "The plugin survives several messages arriving in one read (docs/protocol.md#s2.1).",
        "Keep the bytes after the first message's end: they are the next message."),
    check!(FRAME_HUGE = "frame/huge", must, "The plugin survives a message of several MiB (docs/protocol.md#s2.1).",
        "Do not cap the size of a message."),
    check!(FRAME_PASSTHROUGH = "frame/passthrough", must, "The plugin survives RPC calls whose text lightningd copies from the client: pretty-printed with newlines, or lightning-cli -k style (docs/protocol.md#s2.1, #s10.1).",
        "Do not read messages line by line: a call may span many lines."),
    check!(ROBUST_INVALID_JSON = "robust/invalid-json", |_| Some(Tier::Robust), "The plugin survives a frame that is not JSON (lightningd never sends one).",
        "Catch parse errors per message and carry on."),
    check!(ROBUST_TRUNCATED = "robust/truncated", |_| Some(Tier::Robust), "The plugin survives a truncated frame followed by a valid one.",
        "On a parse error, drop the bad frame and keep the rest of the stream."),
    check!(ROBUST_UTF8 = "robust/utf8", |_| Some(Tier::Robust), "The plugin survives invalid UTF-8 inside a string.",
        "Decode leniently, or reject the one message."),
    check!(ROBUST_UNSUBSCRIBED = "robust/unsubscribed", |_| Some(Tier::Robust), "The plugin survives a notification for a topic it did not subscribe to.",
        "Ignore notifications without a handler."),
    check!(ROBUST_UNKNOWN_METHOD = "robust/unknown-method", |_| Some(Tier::Robust), "The plugin answers a request for a method it does not have with a JSON-RPC error (-32601), and keeps running.",
        "Answer unknown methods with {\"error\":{\"code\":-32601,...}} instead of exiting."),
    check!(ROBUST_NO_PARAMS = "robust/no-params", |_| Some(Tier::Robust), "The plugin survives a notification without \"params\".",
        "Treat a missing params as empty."),
    check!(ROBUST_TERMINATORS = "robust/terminators", |_| Some(Tier::Robust), "The plugin survives messages separated by one `\\n`, and by three.",
        "Split the stream on JSON value boundaries, not on blank lines."),
    check!(RPC_UNKNOWN_COMMAND = "rpc/unknown-command", must, "Every command the plugin calls on lightning-rpc exists in this release (lightningd answers -32601 Unknown command).",
        "Call only commands this release has; the finding names the releases that have it. Check `help` at start-up when a command is optional."),
    check!(RPC_PARAMS = "rpc/params", must, "Every call's parameters are ones the command takes, of the type it takes, with every required one present (lightningd answers -32602).",
        "Fix the call as lightningd's error says: the parameter names and types are the release's request schema."),
    check!(RPC_DEPRECATED = "rpc/deprecated", must, "The plugin calls no deprecated command or parameter: lightningd refuses them without allow-deprecated-apis, and in the release that removes them.",
        "Move to the replacement named in the release notes of the release that deprecated it."),
    check!(RPC_REQUEST_SIZE = "rpc/request-size", info, "Every request the plugin writes to lightning-rpc is under the mock's size limit (16 MiB).",
        "Split large data across calls; a request this size stalls the node while it reads it."),
    check!(RPC_CONNECTIONS = "rpc/connections", info, "The plugin holds at most 64 lightning-rpc connections at once, the mock's limit.",
        "Reuse one connection (or a small pool) instead of opening one per call and leaving it open."),
    check!(RPC_CALLS = "rpc/calls", info, "The plugin makes at most 1000 RPC calls in a run, what the report keeps.",
        "Do not poll lightning-rpc in a tight loop: subscribe to notifications or wait between calls."),
    check!(SCENARIO_STEPS = "scenario/steps", must, "Every step of the --scenario file holds: expected log lines and RPC calls happen, forwarded calls are answered as expected.",
        "Read the first failing step; the plugin's log and RPC calls are listed below the checks."),
    check!(SHUTDOWN_EXIT = "shutdown/exit", must, "A plugin subscribed to `shutdown` exits within lightningd's grace period after receiving it (docs/protocol.md#s11).",
        "Exit promptly when the `shutdown` notification arrives."),
    check!(SHUTDOWN_EOF = "shutdown/eof", must, "A plugin not subscribed to `shutdown` exits when lightningd closes its stdin (docs/protocol.md#s11): no signal follows, so one that ignores EOF outlives the node.",
        "Treat EOF on stdin as the end: exit."),
    check!(LIFECYCLE_CHILDREN = "lifecycle/children", must, "No process the plugin started is still running once the plugin has ended: lightningd kills only the plugin, so such a process would outlive it on the node.",
        "Wait for (or kill) every child before exiting, and do not daemonize helpers; the report names each process left running."),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        for c in CATALOGUE {
            assert!(seen.insert(c.id), "duplicate id {}", c.id);
            assert!(
                c.id.contains('/') && c.id.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "/-".contains(ch)),
                "{}",
                c.id
            );
            assert!(c.requirement.ends_with('.') || c.requirement.ends_with(')'), "{}", c.id);
        }
    }
}
