//! The hook rules: a plugin's answer to a hook judged exactly as lightningd's
//! `plugin_hook_callback` and each hook's deserializer judge it, per release,
//! with their words (docs/protocol.md §9). Pure: no I/O; the session sends the
//! requests and hands each answer here.

use crate::jsmn::{Doc, Node, TokType};
use crate::profile::HookRules;

/// What lightningd makes of one hook answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted; the decision in a word (`continue`, `reject`, `fail`...).
    Decision(String),
    /// Accepted, but lightningd logs this (BROKEN or UNUSUAL) and ignores
    /// or alters what the plugin asked for.
    Logged { decision: String, log: String },
    /// An error with code -4: lightningd takes it as "the plugin died" and
    /// moves on to the next plugin (§9.1).
    Terminated,
    /// lightningd exits with this message (`fatal()`).
    Fatal(String),
}

impl Verdict {
    pub fn is_fatal(&self) -> bool {
        matches!(self, Verdict::Fatal(_))
    }
}

/// How lightningd names the plugin in its messages.
#[derive(Clone, Copy, Debug)]
pub struct PluginName<'a> {
    /// The basename (`plugin->shortname`).
    pub shortname: &'a str,
    /// The full path (`plugin->cmd`), which `db_write`'s messages use.
    pub path: &'a str,
}

/// The rules of one run: the release's switches and lightningd's
/// `allow-deprecated-apis`.
#[derive(Clone, Debug)]
pub struct Rules {
    pub hooks: HookRules,
    pub deprecated_apis: bool,
    /// The network `close_to` addresses must be on (`regtest`...).
    pub network: String,
}

/// Whether lightningd would hang on this plugin's hooks, and why (§9.4).
///
/// From v24.11, ccan/io runs a connection's plans for as long as they make
/// progress, so lightningd handles a plugin's answers from inside the read
/// of them. A command that lightningd runs from the plugin's `rpc_command`
/// answer and that writes the database (a built-in plugin's `datastore` at
/// start-up, `stop`) calls the db_write hook, and `plugin_hook_db_sync`
/// waits, in an exclusive loop, for an answer on the very connection whose
/// read has not returned: lightningd spins for ever, or aborts in
/// `do_plan`. Other hooks whose decision writes the database may do the
/// same; only rpc_command is proven against the real builds. With
/// `filters`, where the release reads them (`filters_read`), the commands
/// that reach the hook are the plugin's choice and the rule does not apply.
pub fn reentry(rules: &HookRules, filters_read: bool, hooks: &[crate::manifest::HookDecl]) -> Option<String> {
    if !rules.db_write_reentry_hangs || !hooks.iter().any(|h| h.name == "db_write") {
        return None;
    }
    hooks.iter().any(|h| h.name == "rpc_command" && (h.filters.is_none() || !filters_read)).then(|| {
        "lightningd hangs: a command it runs from the plugin's rpc_command answer that writes the database (a built-in plugin's `datastore` at start-up, `stop`) waits for the same plugin's db_write answer, which lightningd can no longer read".to_owned()
    })
}

/// The answers that end a hook's chain as "behave as if no plugin were
/// registered": what a plugin may always answer (§9.1).
pub fn continue_answer() -> &'static str {
    "{\"result\":\"continue\"}"
}

/// Judges `response`, the plugin's whole JSON-RPC answer to a `hook`
/// request.
pub fn judge(rules: &Rules, hook: &str, plugin: PluginName<'_>, response: &Doc) -> Verdict {
    let root = response.root();
    let whole = root.full_text();
    if hook == "db_write" {
        // db_write has its own callback: no -4 exception, the full path.
        return db_write(plugin, root);
    }
    // plugin_hook_callback: {error:{code:-4}} is "the plugin died".
    if rules.hooks.terminated_continues {
        let code = root.get("error").and_then(|e| e.get("code"));
        if code.is_some_and(|c| c.ty() == TokType::Primitive && crate::jsmn::strtol(&c.text()) == Ok(-4)) {
            return Verdict::Terminated;
        }
    }
    let Some(result) = root.get("result") else {
        return Verdict::Fatal(if rules.hooks.nonresult_names_plugin {
            format!("Plugin {} for {hook} returned non-result response {whole}", plugin.shortname)
        } else {
            format!("Plugin for {hook} returned non-result response {whole}")
        });
    };
    let cx = Cx { rules, hook, buf: response.bytes(), result };
    match hook {
        "peer_connected" => cx.peer_connected(),
        "commitment_revocation" => decision("any"),
        "invoice_payment" => cx.invoice_payment(),
        "openchannel" => cx.openchannel(),
        "openchannel2" => cx.openchannel2(),
        "openchannel2_changed" | "openchannel2_sign" => cx.psbt_round(),
        "rbf_channel" => cx.rbf_channel(),
        "htlc_accepted" => cx.htlc_accepted(),
        "rpc_command" => cx.rpc_command(),
        "custommsg" | "recover" => cx.continue_only(),
        // plugin_hook_continue: anything but continue silently ends the chain.
        "onion_message_recv" | "onion_message_recv_secret" => {
            decision(if result.get("result").is_some_and(|r| r.str_eq("continue")) { "continue" } else { "stop" })
        }
        _ => decision("unknown hook"),
    }
}

fn decision(d: &str) -> Verdict {
    Verdict::Decision(d.to_owned())
}

fn db_write(plugin: PluginName<'_>, root: Node<'_>) -> Verdict {
    let whole = root.full_text();
    let path = plugin.path;
    match root.get("result") {
        None => Verdict::Fatal(format!("Plugin '{path}' returned an invalid response to the db_write hook: {whole}")),
        Some(r) => match r.get("result") {
            Some(rr) if rr.str_eq("continue") => decision("continue"),
            Some(_) => Verdict::Fatal(format!("Plugin '{path}' returned failed db_write: {whole}.")),
            None => Verdict::Fatal(format!("Plugin '{path}' returned an invalid result to the db_write hook: {whole}")),
        },
    }
}

/// One answer being judged: `result` is the token the deserializers get.
struct Cx<'a> {
    rules: &'a Rules,
    hook: &'a str,
    /// The plugin's buffer, which starts with the answer.
    buf: &'a [u8],
    result: Node<'a>,
}

impl<'a> Cx<'a> {
    fn get(&self, key: &str) -> Option<Node<'a>> {
        self.result.get(key)
    }

    /// `%s` of the buffer: the answer and whatever follows it.
    fn buffer(&self) -> String {
        String::from_utf8_lossy(self.buf).into_owned()
    }

    /// `%.*s, toks[0].end - toks[0].start, buffer`: as many bytes from the
    /// start of the buffer as the result token spans (a quirk lightningd
    /// has in several hooks).
    fn head(&self) -> String {
        let n = self.result.contents().len().min(self.buf.len());
        String::from_utf8_lossy(&self.buf[..n]).into_owned()
    }

    /// `json_tok_full` of the result token.
    fn result_text(&self) -> String {
        self.result.full_text()
    }

    fn result_is(&self, word: &str) -> bool {
        self.get("result").is_some_and(|r| r.str_eq(word))
    }

    fn continue_only(&self) -> Verdict {
        if self.result_is("continue") {
            return decision("continue");
        }
        Verdict::Fatal(format!("Plugin returned an invalid response to the {} hook: {}", self.hook, self.buffer()))
    }

    fn peer_connected(&self) -> Verdict {
        match self.get("result") {
            Some(r) if r.str_eq("disconnect") => decision("disconnect"),
            Some(r) if r.str_eq("continue") => decision("continue"),
            _ => Verdict::Fatal(format!("Plugin returned an invalid response to the peer_connected hook: {}", self.buffer())),
        }
    }

    fn invoice_payment(&self) -> Verdict {
        if let Some(r) = self.get("result") {
            return if r.str_eq("continue") {
                decision("continue")
            } else if r.str_eq("reject") {
                decision("reject")
            } else {
                Verdict::Fatal(format!("Invalid invoice_payment hook result: {}", self.head()))
            };
        }
        match self.get("failure_message") {
            Some(t) if is_hex(t) => decision("fail"),
            Some(_) => Verdict::Fatal(format!("Invalid invoice_payment_hook failure_message: {}", self.head())),
            None if self.rules.hooks.legacy_failure_codes => {
                if !self.rules.deprecated_apis {
                    return decision("continue");
                }
                match self.get("failure_code") {
                    None => Verdict::Logged {
                        decision: "reject".into(),
                        log: "Plugin did not return object with 'result' or 'failure_message' fields.  This is now deprecated and you should return {'result': 'continue' } or {'result': 'reject'} or {'failure_message'... instead.".into(),
                    },
                    Some(c) if c.to_u64().is_some_and(|v| v <= u32::MAX as u64) => decision("fail"),
                    Some(_) => Verdict::Fatal(format!("Invalid invoice_payment_hook failure_code: {}", self.head())),
                }
            }
            None => Verdict::Fatal(format!("Missing failure_message in invoice_payment hook result: {}", self.head())),
        }
    }

    fn openchannel(&self) -> Verdict {
        let Some(r) = self.get("result") else {
            return Verdict::Fatal(format!("Plugin returned an invalid response to the openchannel hook: {}", self.result_text()));
        };
        let close_to = self.get("close_to");
        if r.str_eq("reject") {
            if close_to.is_some() {
                return Verdict::Fatal("Plugin rejected openchannel but also set close_to".into());
            }
            return decision("reject");
        }
        if !r.str_eq("continue") {
            return Verdict::Fatal(format!("Plugin returned an invalid result for the openchannel hook: {}", r.text()));
        }
        if let Some(t) = close_to {
            if let Err(e) = self.address(t, "openchannel") {
                return e;
            }
        }
        // mindepth and reserve: parse failures are ignored.
        decision("continue")
    }

    /// `json_to_address_scriptpubkey` for `close_to`, as far as the
    /// harness can tell without a full address decoder: bech32 with the
    /// network's prefix and a valid checksum, or base58 text.
    fn address(&self, t: Node<'_>, hook: &str) -> Result<(), Verdict> {
        let text = t.text();
        let hrp = match self.rules.network.as_str() {
            "bitcoin" => "bc",
            "regtest" => "bcrt",
            "signet" | "testnet" | "testnet4" => "tb",
            other => other,
        };
        let bad = || Verdict::Fatal(format!("Plugin returned an invalid response to the {hook}.close_to hook: {}", t.text()));
        if t.ty() != TokType::String {
            return Err(bad());
        }
        if let Some((h, _)) = bech32_decode(&text) {
            if h == hrp {
                return Ok(());
            }
            return Err(Verdict::Fatal(format!(
                "Plugin returned invalid response to the {hook}.close_to hook: address {} is not on network {}",
                hex_of(text.as_bytes()),
                self.rules.network
            )));
        }
        const B58: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
        if (26..=35).contains(&text.len()) && text.chars().all(|c| B58.contains(c)) {
            return Ok(());
        }
        Err(bad())
    }

    fn openchannel2(&self) -> Verdict {
        let Some(r) = self.get("result") else {
            return Verdict::Fatal(format!("Plugin returned an invalid response to the openchannel2 hook: {}", self.result_text()));
        };
        if r.str_eq("reject") {
            if self.get("close_to").is_some() {
                return Verdict::Fatal("Plugin rejected openchannel2 but also set close_to".into());
            }
            if self.get("psbt").is_some() {
                return Verdict::Fatal("Plugin rejected openchannel2 but also set `psbt`".into());
            }
            if self.get("our_funding_msat").is_some() {
                return Verdict::Fatal("Plugin rejected openchannel2 but also set `our_funding_psbt`".into());
            }
            return decision("reject");
        }
        if !r.str_eq("continue") {
            return Verdict::Fatal(format!("Plugin returned an invalid response to the openchannel2 hook: {}", self.result_text()));
        }
        let psbt = match self.psbt(true) {
            Ok(p) => p,
            Err(v) => return v,
        };
        if let Some(t) = self.get("close_to") {
            if let Err(e) = self.address(t, "openchannel2") {
                return e;
            }
        }
        // The lease rates count only when all five parse.
        let rates = [
            "lease_fee_base_msat",
            "lease_fee_basis",
            "channel_fee_max_base_msat",
            "channel_fee_max_proportional_thousandths",
            "funding_weight",
        ];
        let parsed: Vec<Option<u64>> = rates
            .iter()
            .map(|k| self.get(k).and_then(|t| if k.ends_with("_msat") { msat(t) } else { t.to_u64().filter(|v| *v <= u16::MAX as u64) }))
            .collect();
        if parsed.iter().all(Option::is_some) {
            if parsed[0].is_some_and(|v| v % 1000 != 0 || v / 1000 > u32::MAX as u64) {
                return Verdict::Fatal("Plugin sent overflowing/non-sat `lease_fee_base_msat`".into());
            }
            if parsed[2].is_some_and(|v| v > u32::MAX as u64) {
                return Verdict::Fatal("Plugin sent overflowing `channel_fee_max_base_msat`".into());
            }
        }
        self.funding(psbt, "openchannel2")
    }

    fn rbf_channel(&self) -> Verdict {
        let Some(r) = self.get("result") else {
            return Verdict::Fatal(format!("Plugin returned an invalid response to the rbf_channel hook: {}", self.result_text()));
        };
        if r.str_eq("reject") {
            if self.get("psbt").is_some() {
                return Verdict::Fatal("Plugin rejected rbf_channel but also set `psbt`".into());
            }
            if self.get("our_funding_msat").is_some() {
                return Verdict::Fatal("Plugin rejected rbf_channel but also set `our_funding_msat`".into());
            }
            return decision("reject");
        }
        if !r.str_eq("continue") {
            return Verdict::Fatal(format!("Plugin returned invalid response to rbf_channel hook: {}", self.result_text()));
        }
        let psbt = match self.psbt(true) {
            Ok(p) => p,
            Err(v) => return v,
        };
        self.funding(psbt, "rbf_channel")
    }

    /// `hook_extract_amount` for `our_funding_msat`, then the rules that
    /// tie it to the psbt.
    fn funding(&self, psbt: bool, hook: &str) -> Verdict {
        let funding = match self.get("our_funding_msat") {
            None => 0,
            Some(t) => match msat(t) {
                Some(v) => v / 1000,
                None => {
                    return Verdict::Fatal(format!("Plugin must return a valid 'our_funding_msat' to a 'continue'd {}", self.head()));
                }
            },
        };
        if psbt && funding == 0 {
            return Verdict::Fatal("Plugin failed to supply our_funding_msat field".into());
        }
        if !psbt && funding != 0 {
            let log = if hook == "rbf_channel" {
                format!("`our_funding_msat` returned but no `psbt` present. {}", self.result_text())
            } else {
                "the open fails with: Client error. Unable to continue".to_owned()
            };
            return Verdict::Logged { decision: "fail".into(), log };
        }
        decision("continue")
    }

    /// `hook_extract_psbt`: `Ok(true)` with a psbt, `Ok(false)` without.
    fn psbt(&self, allow_empty: bool) -> Result<bool, Verdict> {
        let hook = self.hook;
        match self.get("psbt") {
            None if allow_empty => Ok(false),
            None => Err(Verdict::Fatal(format!("Plugin must return a 'psbt' to a 'continue'd{hook} {}", self.head()))),
            Some(t) if is_psbt(t) => Ok(true),
            Some(_) => Err(Verdict::Fatal(format!("Plugin must return a valid 'psbt' to a 'continue'd{hook} {}", self.head()))),
        }
    }

    /// openchannel2_changed and openchannel2_sign: a psbt is required, and
    /// any other result only fails the open.
    fn psbt_round(&self) -> Verdict {
        if self.get("result").is_none() {
            return Verdict::Fatal(format!("Plugin must return a 'result' to {}{}", self.hook, self.head()));
        }
        if !self.result_is("continue") {
            return Verdict::Logged { decision: "fail".into(), log: "the open fails with: Client error. Unable to continue".into() };
        }
        match self.psbt(false) {
            Ok(_) => decision("continue"),
            Err(v) => v,
        }
    }

    fn htlc_accepted(&self) -> Verdict {
        let Some(r) = self.get("result") else {
            return Verdict::Fatal(format!("Plugin return value does not contain 'result' key {}", self.result.text()));
        };
        if self.rules.hooks.htlc_invoice_msat {
            if let Some(t) = self.get("invoice_msat") {
                if msat(t).is_none() {
                    return Verdict::Fatal(format!("Bad invoice_msat for htlc_accepted hook: {}", t.text()));
                }
            }
        }
        if self.rules.hooks.htlc_extra_tlvs {
            if let Some(t) = self.get("extra_tlvs") {
                let Some(bytes) = hex_bytes(t) else {
                    return Verdict::Fatal(format!("Bad custom tlvs for htlc_accepted hook: {}", t.text()));
                };
                if !tlv_stream_ok(&bytes) {
                    return Verdict::Fatal(format!("htlc_accepted_hook returned bad extra_tlvs {}", hex_of(&bytes)));
                }
            }
        }
        if let Some(t) = self.get("payload") {
            if !is_hex(t) {
                return Verdict::Fatal(format!("Bad payload for htlc_accepted hook: {}", t.text()));
            }
        }
        if let Some(t) = self.get("forward_to") {
            if !is_hex32(t) {
                return Verdict::Fatal(format!("Bad forward_to for htlc_accepted hook: {}", t.text()));
            }
        }
        if r.str_eq("continue") {
            return decision("continue");
        }
        if r.str_eq("fail") {
            let onion = self.get("failure_onion");
            let msg = self.get("failure_message");
            if let Some(o) = onion {
                if !is_hex(o) {
                    return Verdict::Fatal(format!("Bad failure_onion for htlc_accepted hook: {}", o.text()));
                }
                if msg.is_some() {
                    return Verdict::Logged {
                        decision: "fail".into(),
                        log: "Both 'failure_onion' and'failure_message' provided. Ignoring 'failure_message'.".into(),
                    };
                }
                return decision("fail");
            }
            let Some(m) = msg else {
                if self.rules.hooks.legacy_failure_codes {
                    if let Some(c) = self.get("failure_code").filter(|_| self.rules.deprecated_apis) {
                        if c.to_u64().is_none_or(|v| v > u32::MAX as u64) {
                            return Verdict::Fatal(format!("Bad failure_code for htlc_accepted hook: {}", c.text()));
                        }
                    }
                    return decision("fail");
                }
                return Verdict::Fatal(format!("Missing both failure_onion and failure_message for htlc_accepted hook fail: {}", r.text()));
            };
            if !is_hex(m) {
                return Verdict::Fatal(format!("Bad failure_message for htlc_accepted hook: {}", m.text()));
            }
            return decision("fail");
        }
        if r.str_eq("resolve") {
            let Some(k) = self.get("payment_key") else {
                return Verdict::Fatal(format!(
                    "Plugin did not specify a 'payment_key' in return value to the htlc_accepted hook: {}",
                    r.text()
                ));
            };
            if !is_hex32(k) {
                return Verdict::Fatal(format!("Plugin specified an invalid 'payment_key': {}", r.full_text()));
            }
            return decision("resolve");
        }
        Verdict::Fatal(format!("Plugin responded with an unknown result to the htlc_accepted hook: {}", r.text()))
    }

    fn rpc_command(&self) -> Verdict {
        let broken = |why: &str| Verdict::Logged { decision: "continue".into(), log: format!("Bad response to 'rpc_command' hook. {why}") };
        if let Some(r) = self.get("result") {
            return if r.str_eq("continue") { decision("continue") } else { broken("'result' should only be 'continue'.") };
        }
        if let Some(t) = self.get("replace") {
            return match replace_problem(t) {
                None => decision("replace"),
                Some(why) => Verdict::Logged {
                    decision: "replace".into(),
                    log: format!("the client's command fails with -32600: Bad response to 'rpc_command' hook: {why} ({})", t.full_text()),
                },
            };
        }
        if let Some(ret) = self.get("return") {
            if ret.get("result").is_some() {
                return decision("return");
            }
            if let Some(e) = ret.get("error") {
                // lightningd passes the member lookups straight to the
                // converters, which dereference the missing token.
                let Some(code) = e.get("code") else {
                    return Verdict::Fatal(
                        "lightningd crashes: rpc_command_hook_callback converts return.error.code without checking that it exists (NULL dereference)".into(),
                    );
                };
                if crate::jsmn::strtol(&code.text()).is_err() {
                    return broken("'error' object does not contain a code.");
                }
                if e.get("message").is_none() {
                    return Verdict::Fatal(
                        "lightningd crashes: rpc_command_hook_callback copies return.error.message without checking that it exists (NULL dereference)".into(),
                    );
                }
                return decision("return");
            }
        }
        // The reason text is a static in lightningd: it repeats an earlier
        // call's reason, or is empty.
        broken("")
    }
}

/// Why a `replace` fails the client's command, as far as the request's
/// shape goes (an unknown method is for the node to say).
fn replace_problem(t: Node<'_>) -> Option<&'static str> {
    if !t.is_object() {
        return Some("'replace' must be an object");
    }
    if t.get("method").is_none() {
        return Some("missing 'method'");
    }
    if t.get("params").is_none() {
        return Some("missing 'params'");
    }
    if t.get("id").is_none() {
        return Some("missing 'id'");
    }
    if !t.get("jsonrpc").is_some_and(|j| j.str_eq("2.0")) {
        return Some("jsonrpc: \"2.0\" must be specified in the request");
    }
    None
}

/// `json_tok_bin_from_hex`: even-length hex, contents only.
fn hex_bytes(t: Node<'_>) -> Option<Vec<u8>> {
    let s = t.contents();
    if s.len() % 2 != 0 || !s.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    Some(s.chunks(2).map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap_or("00"), 16).unwrap_or(0)).collect())
}

fn is_hex(t: Node<'_>) -> bool {
    hex_bytes(t).is_some()
}

/// A 32-byte value in hex (channel ids, preimages).
fn is_hex32(t: Node<'_>) -> bool {
    hex_bytes(t).is_some_and(|b| b.len() == 32)
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `json_to_msat`: a number, or a string of digits ending in `msat`, or in
/// `sat` (times 1000).
fn msat(t: Node<'_>) -> Option<u64> {
    let s = t.text();
    let digits = |d: &str| (!d.is_empty() && d.bytes().all(|c| c.is_ascii_digit())).then(|| d.parse::<u64>().ok()).flatten();
    if let Some(d) = s.strip_suffix("msat") {
        return digits(d);
    }
    if let Some(d) = s.strip_suffix("sat") {
        return digits(d)?.checked_mul(1000);
    }
    digits(&s)
}

/// `json_to_psbt`: base64 whose bytes start with the psbt magic. (The
/// harness does not decode the maps; lightningd's later checks on inputs,
/// outputs and serial ids are not reproduced.)
fn is_psbt(t: Node<'_>) -> bool {
    base64_decode(t.contents()).is_some_and(|b| b.starts_with(b"psbt\xff") && b.len() > 5)
}

fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if s.is_empty() || s.len() % 4 != 0 {
        return None;
    }
    let body = s.strip_suffix(b"==").or_else(|| s.strip_suffix(b"=")).unwrap_or(s);
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0);
    for c in body {
        let v = ALPHA.iter().position(|a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// BOLT 1's BigSize.
fn bigsize(b: &[u8]) -> Option<(u64, usize)> {
    match *b.first()? {
        0xfd => Some((u16::from_be_bytes(b.get(1..3)?.try_into().ok()?) as u64, 3)),
        0xfe => Some((u32::from_be_bytes(b.get(1..5)?.try_into().ok()?) as u64, 5)),
        0xff => Some((u64::from_be_bytes(b.get(1..9)?.try_into().ok()?), 9)),
        x => Some((x as u64, 1)),
    }
}

/// A TLV stream `update_add_htlc` accepts: types strictly ascending, every
/// record complete, no unknown even type (only type 0, the path key, is
/// known and even).
fn tlv_stream_ok(mut b: &[u8]) -> bool {
    let mut last: Option<u64> = None;
    while !b.is_empty() {
        let Some((ty, n)) = bigsize(b) else { return false };
        b = &b[n..];
        let Some((len, n)) = bigsize(b) else { return false };
        b = &b[n..];
        if (b.len() as u64) < len || last.is_some_and(|l| ty <= l) || (ty % 2 == 0 && ty != 0) {
            return false;
        }
        b = &b[len as usize..];
        last = Some(ty);
    }
    true
}

/// Decodes a bech32/bech32m string: its human-readable part, if the
/// checksum holds.
fn bech32_decode(s: &str) -> Option<(String, Vec<u8>)> {
    const CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let lower = s.to_ascii_lowercase();
    if lower != s && s.to_ascii_uppercase() != s {
        return None;
    }
    let pos = lower.rfind('1')?;
    if pos == 0 || pos + 7 > lower.len() {
        return None;
    }
    let hrp = &lower[..pos];
    let data: Vec<u8> = lower[pos + 1..].bytes().map(|c| CHARSET.iter().position(|x| *x == c).map(|p| p as u8)).collect::<Option<_>>()?;
    let mut values: Vec<u8> = hrp.bytes().map(|c| c >> 5).collect();
    values.push(0);
    values.extend(hrp.bytes().map(|c| c & 31));
    values.extend(&data);
    let polymod = values.iter().fold(1u32, |chk, v| {
        let top = chk >> 25;
        let mut c = ((chk & 0x1ff_ffff) << 5) ^ *v as u32;
        for (i, g) in [0x3b6a_57b2u32, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3].iter().enumerate() {
            if (top >> i) & 1 == 1 {
                c ^= g;
            }
        }
        c
    });
    (polymod == 1 || polymod == 0x2bc8_30a3).then(|| (hrp.to_owned(), data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    const NAME: PluginName<'static> = PluginName { shortname: "p.py", path: "/plugins/p.py" };

    fn rules(profile: &str) -> Rules {
        Rules { hooks: Profile::load(profile).unwrap().hook_rules, deprecated_apis: true, network: "regtest".into() }
    }

    fn decl(name: &str, filters: Option<&[&str]>) -> crate::manifest::HookDecl {
        crate::manifest::HookDecl {
            name: name.into(),
            before: vec![],
            after: vec![],
            filters: filters.map(|f| f.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn db_write_beside_an_unfiltered_rpc_command_hangs_from_v24_11() {
        let hangs = |profile: &str, hooks: &[crate::manifest::HookDecl]| {
            let p = Profile::load(profile).unwrap();
            reentry(&p.hook_rules, p.manifest.hook_filters, hooks).is_some()
        };
        let both = [decl("db_write", None), decl("rpc_command", None)];
        for p in ["v24.11", "v25.05", "v25.09", "v26.04", "v26.06"] {
            assert!(hangs(p, &both), "{p}");
        }
        for p in ["v23.02", "v23.11", "v24.05"] {
            assert!(!hangs(p, &both), "{p}");
        }
        assert!(!hangs("v26.06", &[decl("db_write", None), decl("peer_connected", None)]));
        assert!(!hangs("v26.06", &[decl("rpc_command", None)]));
        // Filters count where the release reads them (v25.12 on).
        let filtered = [decl("db_write", None), decl("rpc_command", Some(&["getinfo"]))];
        assert!(!hangs("v26.06", &filtered));
        assert!(hangs("v25.09", &filtered));
    }

    fn j(profile: &str, hook: &str, answer: &str) -> Verdict {
        let doc = Doc::parse(answer.as_bytes()).expect("test answer parses");
        judge(&rules(profile), hook, NAME, &doc)
    }

    fn ok(answer_result: &str) -> String {
        format!("{{\"jsonrpc\":\"2.0\",\"id\":\"cln:h#1\",\"result\":{answer_result}}}")
    }

    fn fatal(v: Verdict) -> String {
        match v {
            Verdict::Fatal(s) => s,
            other => panic!("expected a fatal verdict, got {other:?}"),
        }
    }

    // §9.1: an error response is fatal, named after the plugin since v23.11.
    #[test]
    fn r_error_response_is_fatal_in_each_release_words() {
        let err = r#"{"jsonrpc":"2.0","id":"cln:h#1","error":{"code":-32600,"message":"boom"}}"#;
        for hook in ["peer_connected", "htlc_accepted", "rpc_command", "commitment_revocation", "onion_message_recv"] {
            let now = fatal(j("v26.06", hook, err));
            assert!(now.starts_with(&format!("Plugin p.py for {hook} returned non-result response {{")), "{now}");
            let old = fatal(j("v23.02", hook, err));
            assert!(old.starts_with(&format!("Plugin for {hook} returned non-result response {{")), "{old}");
        }
    }

    // §9.1: -4 is "the plugin died" in v26.06, fatal in v23.02.
    #[test]
    fn r_terminated_error_continues_only_in_new_releases() {
        let err = r#"{"jsonrpc":"2.0","id":"cln:h#1","error":{"code":-4,"message":"Plugin terminated before replying to RPC call."}}"#;
        assert_eq!(j("v26.06", "peer_connected", err), Verdict::Terminated);
        assert!(j("v23.02", "peer_connected", err).is_fatal());
        // db_write has no -4 exception.
        let f = fatal(j("v26.06", "db_write", err));
        assert!(f.starts_with("Plugin '/plugins/p.py' returned an invalid response to the db_write hook: {"), "{f}");
    }

    #[test]
    fn r_db_write_accepts_only_continue() {
        assert_eq!(j("v26.06", "db_write", &ok(r#"{"result":"continue"}"#)), decision("continue"));
        assert!(
            fatal(j("v26.06", "db_write", &ok(r#"{"result":"abort"}"#))).starts_with("Plugin '/plugins/p.py' returned failed db_write: {")
        );
        assert!(fatal(j("v26.06", "db_write", &ok(r#"{}"#)))
            .starts_with("Plugin '/plugins/p.py' returned an invalid result to the db_write hook: "));
        // A bare "continue" has no result.result.
        assert!(j("v26.06", "db_write", &ok(r#""continue""#)).is_fatal());
    }

    #[test]
    fn r_peer_connected_custommsg_recover_words() {
        assert_eq!(j("v26.06", "peer_connected", &ok(r#"{"result":"disconnect","error_message":"no"}"#)), decision("disconnect"));
        let f = fatal(j("v26.06", "peer_connected", &ok(r#"{"result":"reject"}"#)));
        assert!(f.starts_with("Plugin returned an invalid response to the peer_connected hook: {\"jsonrpc\""), "{f}");
        assert!(fatal(j("v26.06", "custommsg", &ok(r#"{"result":"disconnect"}"#)))
            .starts_with("Plugin returned an invalid response to the custommsg hook: "));
        assert!(
            fatal(j("v26.06", "recover", &ok(r#""continue""#))).starts_with("Plugin returned an invalid response to the recover hook: ")
        );
        assert_eq!(j("v26.06", "custommsg", &ok(r#"{"result":"continue"}"#)), decision("continue"));
    }

    #[test]
    fn r_invoice_payment_rules_per_release() {
        assert_eq!(j("v26.06", "invoice_payment", &ok(r#"{"result":"reject"}"#)), decision("reject"));
        assert_eq!(j("v26.06", "invoice_payment", &ok(r#"{"failure_message":"2002"}"#)), decision("fail"));
        assert!(fatal(j("v26.06", "invoice_payment", &ok(r#"{"result":"fail"}"#))).starts_with("Invalid invoice_payment hook result: "));
        assert!(fatal(j("v26.06", "invoice_payment", &ok(r#"{"failure_message":"xyz"}"#)))
            .starts_with("Invalid invoice_payment_hook failure_message: "));
        assert!(fatal(j("v26.06", "invoice_payment", &ok("{}"))).starts_with("Missing failure_message in invoice_payment hook result: "));
        // v23.02 with deprecated APIs: the old failure_code path, a warning only.
        assert!(matches!(j("v23.02", "invoice_payment", &ok("{}")), Verdict::Logged { .. }));
        assert_eq!(j("v23.02", "invoice_payment", &ok(r#"{"failure_code":16399}"#)), decision("fail"));
    }

    #[test]
    fn r_openchannel_rules() {
        assert_eq!(j("v26.06", "openchannel", &ok(r#"{"result":"continue","mindepth":"x","reserve":"y"}"#)), decision("continue"));
        assert_eq!(
            fatal(j("v26.06", "openchannel", &ok(r#"{"result":"reject","close_to":"bcrt1q"}"#))),
            "Plugin rejected openchannel but also set close_to"
        );
        assert_eq!(
            fatal(j("v26.06", "openchannel", &ok(r#"{"result":"accept"}"#))),
            "Plugin returned an invalid result for the openchannel hook: accept"
        );
        let good = r#"{"result":"continue","close_to":"bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"}"#;
        assert_eq!(j("v26.06", "openchannel", &ok(good)), decision("continue"));
        let mainnet = r#"{"result":"continue","close_to":"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"}"#;
        assert!(fatal(j("v26.06", "openchannel", &ok(mainnet))).contains("is not on network regtest"));
        let junk = r#"{"result":"continue","close_to":"not an address"}"#;
        assert!(fatal(j("v26.06", "openchannel", &ok(junk)))
            .starts_with("Plugin returned an invalid response to the openchannel.close_to hook: not an address"));
    }

    #[test]
    fn r_dual_funding_rules() {
        let psbt = "cHNidP8BAgQCAAAAAQMEbgAAAAEEAQABBQEAAfsEAgAAAAA=";
        assert_eq!(
            fatal(j("v26.06", "openchannel2", &ok(r#"{"result":"reject","psbt":"x"}"#))),
            "Plugin rejected openchannel2 but also set `psbt`"
        );
        assert_eq!(
            fatal(j("v26.06", "openchannel2", &ok(r#"{"result":"reject","our_funding_msat":1}"#))),
            "Plugin rejected openchannel2 but also set `our_funding_psbt`"
        );
        assert!(fatal(j("v26.06", "openchannel2", &ok(r#"{"result":"continue","psbt":"bm90IGEgcHNidA=="}"#)))
            .starts_with("Plugin must return a valid 'psbt' to a 'continue'dopenchannel2 "));
        assert_eq!(
            fatal(j("v26.06", "openchannel2", &ok(&format!(r#"{{"result":"continue","psbt":"{psbt}"}}"#)))),
            "Plugin failed to supply our_funding_msat field"
        );
        assert_eq!(
            j("v26.06", "openchannel2", &ok(&format!(r#"{{"result":"continue","psbt":"{psbt}","our_funding_msat":100000000}}"#))),
            decision("continue")
        );
        assert!(matches!(j("v26.06", "openchannel2", &ok(r#"{"result":"continue","our_funding_msat":1000}"#)), Verdict::Logged { .. }));
        assert!(fatal(j("v26.06", "openchannel2_changed", &ok(r#"{"result":"continue"}"#)))
            .starts_with("Plugin must return a 'psbt' to a 'continue'dopenchannel2_changed "));
        assert!(fatal(j("v26.06", "openchannel2_sign", &ok("{}"))).starts_with("Plugin must return a 'result' to openchannel2_sign"));
        assert!(matches!(j("v26.06", "openchannel2_sign", &ok(r#"{"result":"reject"}"#)), Verdict::Logged { .. }));
        assert_eq!(
            fatal(j("v26.06", "rbf_channel", &ok(r#"{"result":"reject","our_funding_msat":5}"#))),
            "Plugin rejected rbf_channel but also set `our_funding_msat`"
        );
        assert!(fatal(j("v26.06", "rbf_channel", &ok(r#"{"result":"maybe"}"#)))
            .starts_with("Plugin returned invalid response to rbf_channel hook: "));
    }

    #[test]
    fn r_htlc_accepted_rules() {
        let key = "ebe094c83a022a9dc20ce48d6c077e730ec667109b44241b43957d6859f00566";
        assert_eq!(j("v26.06", "htlc_accepted", &ok(&format!(r#"{{"result":"resolve","payment_key":"{key}"}}"#))), decision("resolve"));
        assert_eq!(j("v26.06", "htlc_accepted", &ok(r#"{"result":"fail","failure_message":"2002"}"#)), decision("fail"));
        assert!(matches!(
            j("v26.06", "htlc_accepted", &ok(r#"{"result":"fail","failure_onion":"00","failure_message":"2002"}"#)),
            Verdict::Logged { .. }
        ));
        assert!(fatal(j("v26.06", "htlc_accepted", &ok("{}"))).starts_with("Plugin return value does not contain 'result' key "));
        assert_eq!(
            fatal(j("v26.06", "htlc_accepted", &ok(r#"{"result":"accept"}"#))),
            "Plugin responded with an unknown result to the htlc_accepted hook: accept"
        );
        assert!(
            fatal(j("v26.06", "htlc_accepted", &ok(r#"{"result":"fail"}"#))).starts_with("Missing both failure_onion and failure_message")
        );
        // v23.02 (deprecated APIs): a bare fail is a temporary node failure.
        assert_eq!(j("v23.02", "htlc_accepted", &ok(r#"{"result":"fail"}"#)), decision("fail"));
        assert!(fatal(j("v26.06", "htlc_accepted", &ok(r#"{"result":"resolve"}"#))).starts_with("Plugin did not specify a 'payment_key'"));
        assert!(fatal(j("v26.06", "htlc_accepted", &ok(r#"{"result":"resolve","payment_key":"00"}"#)))
            .starts_with("Plugin specified an invalid 'payment_key': "));
        assert_eq!(
            fatal(j("v26.06", "htlc_accepted", &ok(r#"{"result":"continue","payload":"zz"}"#))),
            "Bad payload for htlc_accepted hook: zz"
        );
        assert_eq!(
            fatal(j("v26.06", "htlc_accepted", &ok(r#"{"result":"continue","forward_to":"00"}"#))),
            "Bad forward_to for htlc_accepted hook: 00"
        );
        assert_eq!(
            fatal(j("v26.06", "htlc_accepted", &ok(r#"{"result":"continue","extra_tlvs":"0"}"#))),
            "Bad custom tlvs for htlc_accepted hook: 0"
        );
        assert_eq!(
            fatal(j("v26.06", "htlc_accepted", &ok(r#"{"result":"continue","extra_tlvs":"0201ff"}"#))),
            "htlc_accepted_hook returned bad extra_tlvs 0201ff"
        );
        assert_eq!(j("v26.06", "htlc_accepted", &ok(r#"{"result":"continue","extra_tlvs":"fe0001000103010203"}"#)), decision("continue"));
        // Fields a release does not read cannot hurt it.
        assert_eq!(
            j("v23.02", "htlc_accepted", &ok(r#"{"result":"continue","extra_tlvs":"zz","invoice_msat":"x"}"#)),
            decision("continue")
        );
        assert_eq!(
            fatal(j("v26.06", "htlc_accepted", &ok(r#"{"result":"continue","invoice_msat":"x"}"#))),
            "Bad invoice_msat for htlc_accepted hook: x"
        );
    }

    // §9.2 rpc_command: only logged, but for the crashes below.
    #[test]
    fn r_rpc_command_only_logs() {
        for (answer, why) in [
            (r#"{"result":"stop"}"#, "Bad response to 'rpc_command' hook. 'result' should only be 'continue'."),
            (
                r#"{"return":{"error":{"code":"x","message":"x"}}}"#,
                "Bad response to 'rpc_command' hook. 'error' object does not contain a code.",
            ),
            (r#"{"whatever":1}"#, "Bad response to 'rpc_command' hook. "),
        ] {
            assert_eq!(
                j("v26.06", "rpc_command", &ok(answer)),
                Verdict::Logged { decision: "continue".into(), log: why.into() },
                "{answer}"
            );
        }
        assert_eq!(j("v26.06", "rpc_command", &ok(r#"{"return":{"result":{"x":1}}}"#)), decision("return"));
        // A missing code or message is read through a NULL token: a crash,
        // in every release (a real v26.06.6 node dies with SIGSEGV).
        for profile in ["v26.06", "v23.02"] {
            assert!(fatal(j(profile, "rpc_command", &ok(r#"{"return":{"error":{"message":"x"}}}"#))).contains("NULL dereference"));
            assert!(fatal(j(profile, "rpc_command", &ok(r#"{"return":{"error":{"code":1}}}"#))).contains("NULL dereference"));
        }
        assert_eq!(
            j("v26.06", "rpc_command", &ok(r#"{"replace":{"jsonrpc":"2.0","id":1,"method":"getinfo","params":{}}}"#)),
            decision("replace")
        );
        assert!(matches!(j("v26.06", "rpc_command", &ok(r#"{"replace":{"id":1,"method":"getinfo"}}"#)), Verdict::Logged { .. }));
    }

    #[test]
    fn r_hooks_without_fatal_results() {
        assert_eq!(j("v26.06", "commitment_revocation", &ok("42")), decision("any"));
        assert_eq!(j("v26.06", "onion_message_recv", &ok(r#"{"result":"continue"}"#)), decision("continue"));
        assert_eq!(j("v26.06", "onion_message_recv_secret", &ok(r#""continue""#)), decision("stop"));
    }

    #[test]
    fn continue_passes_every_hook_but_the_psbt_rounds() {
        for hook in Profile::load("v26.06").unwrap().hooks {
            let v = j("v26.06", &hook, &ok(continue_answer()));
            let psbt_round = hook == "openchannel2_changed" || hook == "openchannel2_sign";
            assert_eq!(v.is_fatal(), psbt_round, "{hook}: {v:?}");
        }
    }
}
