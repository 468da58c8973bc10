//! The wire: messages to the plugin in lightningd's exact bytes, and the
//! plugin's stdout read exactly as lightningd reads it.
//!
//! Outgoing messages are compact JSON followed by `\n\n` (§2.1). Incoming
//! bytes go through [`Decoder`], which reproduces `plugin_read_json`: the
//! `}` pre-check, jsmn over the whole unconsumed buffer, the `jsonrpc`
//! presence rule, and the kill reasons with their quoted buffers (§2.2, §3).

use std::fmt;

use serde_json::Value;

use crate::checks::CheckId;
use crate::jsmn::{self, Doc, JsmnError, Parser, TokType, TokenPool};
use crate::profile::ParserRules;

/// A request id as lightningd writes it (§4).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Id {
    Num(u64),
    Str(String),
}

impl Id {
    /// The raw token text lightningd matches responses against, quotes
    /// included for strings.
    pub fn token(&self) -> String {
        match self {
            Id::Num(n) => n.to_string(),
            Id::Str(s) => serde_json::to_string(s).expect("string serializes"),
        }
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.token())
    }
}

/// `{"jsonrpc":"2.0","id":…,"method":…,"params":…}` + `\n\n`, compact,
/// keys in lightningd's order.
pub fn request(id: &Id, method: &str, params: &Value) -> Vec<u8> {
    request_raw(id, method, &params.to_string())
}

/// A request whose params are given as raw JSON text, written as is.
pub fn request_raw(id: &Id, method: &str, params: &str) -> Vec<u8> {
    let mut out = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":{},\"params\":",
        id.token(),
        serde_json::to_string(method).expect("string serializes")
    )
    .into_bytes();
    out.extend_from_slice(params.as_bytes());
    out.extend_from_slice(b"}\n\n");
    out
}

/// `{"jsonrpc":"2.0","method":…,"params":…}` + `\n\n`.
pub fn notification(method: &str, params: &Value) -> Vec<u8> {
    let mut out =
        format!("{{\"jsonrpc\":\"2.0\",\"method\":{},\"params\":", serde_json::to_string(method).expect("string serializes")).into_bytes();
    serde_json::to_writer(&mut out, params).expect("value serializes");
    out.extend_from_slice(b"}\n\n");
    out
}

/// A complete message from the plugin, classified as lightningd does (§3).
#[derive(Clone, Debug)]
pub struct Message {
    pub doc: Doc,
    pub kind: Kind,
    /// How deeply its containers nest.
    pub depth: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Has an `id` member (of any type): a response. `id` is the raw token.
    Response { id: String },
    /// No `id`, but `method` and `params`. `method` is the token's contents.
    Notification { method: String },
}

impl Message {
    /// The message's own bytes, from its first to its last byte, cut at
    /// [`MAX_QUOTE`].
    pub fn text(&self) -> String {
        quote(self.doc.root().full())
    }
}

/// Why lightningd would kill the plugin over what it wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireKill {
    /// The check that failed.
    pub check: CheckId,
    /// lightningd's reason, exactly.
    pub reason: String,
}

/// What one feed of bytes produced.
#[derive(Clone, Debug)]
pub enum Incoming {
    Message(Message),
    Kill(WireKill),
    /// More than [`MAX_PENDING`] bytes (unparsed output and its tokens
    /// together) without a complete message: the harness stops reading
    /// rather than run out of memory.
    Overflow(usize),
}

/// The most unconsumed output the harness holds. lightningd has no limit
/// (§2.1); realistic messages are a few MiB at most.
pub const MAX_PENDING: usize = 256 * 1024 * 1024;

/// The most of a plugin's output a reason quotes.
pub const MAX_QUOTE: usize = 64 * 1024;

/// Plugin output as text for a reason, cut at [`MAX_QUOTE`] bytes with a
/// note of how much was left out.
pub fn quote(bytes: &[u8]) -> String {
    if bytes.len() <= MAX_QUOTE {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    format!("{}… ({} more bytes)", String::from_utf8_lossy(&bytes[..MAX_QUOTE]), bytes.len() - MAX_QUOTE)
}

/// lightningd's reader for one plugin's stdout.
pub struct Decoder {
    rules: ParserRules,
    /// Bytes read; those before `start` are consumed.
    buf: Vec<u8>,
    start: usize,
    cap: usize,
    parser: Parser,
    pool: TokenPool,
    /// v23.02 read into a buffer that started at 64 bytes and doubled when
    /// full: its reads, and so its `}` pre-check, were that small.
    read_cap: usize,
    dead: bool,
    /// `buf[start..no_brace_until]` holds no `}`: the whole-buffer pre-check
    /// scans each byte once, not once per read.
    no_brace_until: usize,
    overflowed: bool,
}

impl Decoder {
    pub fn new(rules: &ParserRules) -> Decoder {
        Decoder {
            rules: rules.clone(),
            buf: Vec::new(),
            start: 0,
            cap: MAX_PENDING,
            parser: Parser::default(),
            pool: TokenPool::default(),
            read_cap: rules.read_buffer_initial,
            dead: false,
            no_brace_until: 0,
            overflowed: false,
        }
    }

    /// Lowers the pending-bytes cap (for tests of the cap itself).
    pub fn with_cap(mut self, cap: usize) -> Self {
        self.cap = cap;
        self
    }

    /// Memory held for the message in progress: its bytes and its tokens.
    pub fn footprint(&self) -> usize {
        self.pending().len() + self.pool.toks.len() * std::mem::size_of::<jsmn::Tok>() + self.parser.footprint()
    }

    /// Whether the unconsumed bytes hold a `}`.
    fn pending_has_brace(&mut self) -> bool {
        let from = self.no_brace_until.max(self.start);
        match self.buf[from..].iter().position(|&b| b == b'}') {
            Some(_) => true,
            None => {
                self.no_brace_until = self.buf.len();
                false
            }
        }
    }

    /// Bytes read but not yet consumed as a message.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// True when a NUL byte has stopped the parser: nothing after it will
    /// ever be read (§2.2 item 6).
    pub fn stalled_on_nul(&self) -> bool {
        let p = self.parser.pos();
        let pending = self.pending();
        p < pending.len() && pending[p] == 0
    }

    /// Feeds bytes as they came from one `read()` of the pipe, and returns
    /// what lightningd makes of them. After a kill nothing more is read.
    pub fn feed(&mut self, mut data: &[u8]) -> Vec<Incoming> {
        let mut out = Vec::new();
        while !data.is_empty() && !self.dead {
            let take = if self.read_cap == 0 {
                data.len()
            } else {
                let room = self.read_cap.saturating_sub(self.pending().len());
                data.len().min(room.max(1))
            };
            let (chunk, rest) = data.split_at(take);
            data = rest;
            self.read(chunk, &mut out);
            if self.read_cap != 0 && self.pending().len() >= self.read_cap {
                self.read_cap *= 2;
            }
        }
        out
    }

    fn read(&mut self, chunk: &[u8], out: &mut Vec<Incoming>) {
        let chunk_has_brace = chunk.contains(&b'}');
        // Consumed bytes are dropped in bulk, not per message: many small
        // messages in one read stay linear.
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.no_brace_until = self.no_brace_until.saturating_sub(self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(chunk);
        if self.footprint() > self.cap {
            self.dead = true;
            out.push(Incoming::Overflow(self.footprint()));
            return;
        }
        if !self.rules.precheck_whole_buffer && !chunk_has_brace {
            return;
        }
        loop {
            if self.rules.precheck_whole_buffer && !self.pending_has_brace() {
                return;
            }
            match self.parse_one() {
                None if self.overflowed => {
                    self.dead = true;
                    out.push(Incoming::Overflow(self.footprint()));
                    return;
                }
                None => return,
                Some(Ok(msg)) => match classify(msg) {
                    Ok(m) => out.push(Incoming::Message(m)),
                    Err(k) => {
                        self.dead = true;
                        out.push(Incoming::Kill(k));
                        return;
                    }
                },
                Some(Err(k)) => {
                    self.dead = true;
                    out.push(Incoming::Kill(k));
                    return;
                }
            }
        }
    }

    /// The buffer as lightningd quotes it, cut at [`MAX_QUOTE`] bytes: a
    /// report holds several copies of a reason.
    fn buffer_text(&self) -> String {
        quote(self.pending())
    }

    fn parse_error(&self) -> WireKill {
        let reason = if self.rules.legacy_reasons {
            format!("Failed to parse JSON response '{}'", self.buffer_text())
        } else {
            format!("Failed to parse RPC JSON response '{}'", self.buffer_text())
        };
        WireKill { check: CheckId::WIRE_JSON, reason }
    }

    /// One round of `json_parse_input` and the `jsonrpc` rule.
    fn parse_one(&mut self) -> Option<Result<(Doc, usize), WireKill>> {
        loop {
            let limit = self.pool.limit();
            let r = self.parser.parse(&self.buf[self.start..], &mut self.pool.toks, limit);
            match r {
                Err(JsmnError::Inval) => return Some(Err(self.parse_error())),
                Err(JsmnError::NoMem) if self.rules.grow_tokens_after_complete || self.pool.toks[0].end == -1 => {
                    // The tokens count against the cap with the bytes: a
                    // `[1,1,1,…` makes twenty times its size in tokens.
                    if self.footprint() + self.pool.toks.len() * std::mem::size_of::<jsmn::Tok>() > self.cap {
                        self.overflowed = true;
                        return None;
                    }
                    self.pool.grow();
                    continue;
                }
                _ => break,
            }
        }
        let root = self.pool.toks[0];
        if root.ty == TokType::Undefined || root.end == -1 {
            return None;
        }
        let n = self.pool.next(0);
        let pending = &self.buf[self.start..];
        if !jsmn::validate(pending, &self.pool.toks[..n]) {
            return Some(Err(self.parse_error()));
        }
        let end = root.end as usize;
        let depth = self.parser.max_depth();
        let doc = Doc::new(pending[..end].to_vec(), self.pool.toks[..n].to_vec());
        if self.rules.legacy_reasons {
            if root.ty != TokType::Object {
                return Some(Err(WireKill {
                    check: CheckId::WIRE_JSONRPC,
                    reason: "JSON-RPC message is not a valid JSON object type".to_owned(),
                }));
            }
            if doc.root().get("jsonrpc").is_none() {
                return Some(Err(WireKill {
                    check: CheckId::WIRE_JSONRPC,
                    reason: "JSON-RPC message does not contain \"jsonrpc\" field".to_owned(),
                }));
            }
        } else if doc.root().get("jsonrpc").is_none() {
            return Some(Err(WireKill {
                check: CheckId::WIRE_JSONRPC,
                reason: format!("JSON-RPC message does not contain \"jsonrpc\" field: '{}'", self.buffer_text()),
            }));
        }
        // Consumed: the value and any whitespace before it.
        self.start += end;
        self.parser = Parser::default();
        self.pool.toks.truncate(n + 1);
        self.pool.reset();
        Some(Ok((doc, depth)))
    }
}

fn classify((doc, depth): (Doc, usize)) -> Result<Message, WireKill> {
    let root = doc.root();
    if let Some(id) = root.get("id") {
        // An id longer than a quote matches no request the harness made.
        let id = quote(id.full());
        return Ok(Message { doc, kind: Kind::Response { id }, depth });
    }
    match (root.get("method"), root.get("params")) {
        (Some(m), Some(_)) => {
            let method = m.text();
            Ok(Message { doc, kind: Kind::Notification { method }, depth })
        }
        _ => Err(WireKill {
            check: CheckId::WIRE_NOTIFICATION,
            reason: format!("Malformed JSON-RPC notification missing \"method\" or \"params\": {}", quote(root.full())),
        }),
    }
}

/// A log line as lightningd writes it: every byte below 0x20 or from 0x7f
/// up becomes `?` (docs/protocol.md, "Log lines").
pub fn sanitize(text: &str) -> String {
    text.bytes().map(|b| if (0x20..0x7f).contains(&b) { b as char } else { '?' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    fn decoder(p: &str) -> Decoder {
        Decoder::new(&Profile::load(p).unwrap().parser)
    }

    fn kinds(out: &[Incoming]) -> Vec<String> {
        out.iter()
            .map(|i| match i {
                Incoming::Message(m) => format!("{:?}", m.kind),
                Incoming::Kill(k) => format!("kill {}: {}", k.check, k.reason),
                Incoming::Overflow(n) => format!("overflow {n}"),
            })
            .collect()
    }

    #[test]
    fn outgoing_is_compact_and_terminated() {
        let b = request(&Id::Str("cln:getmanifest#23".into()), "getmanifest", &serde_json::json!({"allow-deprecated-apis": true}));
        assert_eq!(
            b,
            b"{\"jsonrpc\":\"2.0\",\"id\":\"cln:getmanifest#23\",\"method\":\"getmanifest\",\"params\":{\"allow-deprecated-apis\":true}}\n\n"
        );
    }

    #[test]
    fn concatenated_values_and_stray_commas_are_accepted() {
        let mut d = decoder("v26.06");
        let out = d.feed(br#"{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","method":"log","params":{}}"#);
        assert_eq!(kinds(&out), ["Response { id: \"1\" }", "Notification { method: \"log\" }"]);
    }

    #[test]
    fn output_without_brace_waits_until_one_arrives() {
        let mut d = decoder("v26.06");
        assert!(d.feed(b"Starting...\n").is_empty());
        let out = d.feed(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#);
        assert_eq!(
            kinds(&out),
            [r#"kill wire/json: Failed to parse RPC JSON response 'Starting...
{"jsonrpc":"2.0","id":1,"result":{}}'"#]
        );
    }

    #[test]
    fn missing_jsonrpc_quotes_the_buffer_in_v26_only() {
        let mut d = decoder("v26.06");
        assert_eq!(
            kinds(&d.feed(br#"{"id":1} "#)),
            [r#"kill wire/jsonrpc: JSON-RPC message does not contain "jsonrpc" field: '{"id":1} '"#]
        );
        let mut d = decoder("v23.02");
        assert_eq!(kinds(&d.feed(br#"{"id":1} "#)), [r#"kill wire/jsonrpc: JSON-RPC message does not contain "jsonrpc" field"#]);
        let mut d = decoder("v23.02");
        assert_eq!(kinds(&d.feed(b"[1] {}")), ["kill wire/jsonrpc: JSON-RPC message is not a valid JSON object type"]);
    }

    #[test]
    fn a_reply_without_id_is_a_malformed_notification() {
        let mut d = decoder("v26.06");
        assert_eq!(
            kinds(&d.feed(br#"{"jsonrpc":"2.0","result":{}}"#)),
            [r#"kill wire/notification: Malformed JSON-RPC notification missing "method" or "params": {"jsonrpc":"2.0","result":{}}"#]
        );
    }

    #[test]
    fn nul_stalls_silently() {
        let mut d = decoder("v26.06");
        assert!(d.feed(b"\0{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}").is_empty());
        assert!(d.stalled_on_nul());
    }

    #[test]
    fn primitive_at_end_of_buffer_is_incomplete() {
        let mut d = decoder("v26.06");
        assert!(d.feed(b"} 123").len() == 1, "a stray brace is a parse error");
        let mut d = decoder("v26.06");
        assert!(d.feed(br#"{"jsonrpc":"2.0","id":12"#).is_empty());
        assert_eq!(kinds(&d.feed(b"}")), ["Response { id: \"12\" }"]);
    }

    #[test]
    fn an_endless_value_hits_the_cap_instead_of_memory() {
        let mut d = decoder("v26.06").with_cap(1024);
        let mut out = d.feed(b"{\"jsonrpc\":\"2.0\",\"x\":\"");
        for _ in 0..100 {
            out.extend(d.feed(&[b'a'; 64]));
        }
        let k = kinds(&out);
        assert!(k.len() == 1 && k[0].starts_with("overflow "), "{k:?}");
        assert!(d.feed(b"\"}").is_empty(), "nothing is read after the cap");
    }

    #[test]
    fn tokens_count_against_the_cap() {
        // 96 KiB of `1,{},` (a `}` in every read, so each is parsed) is
        // 40,000 tokens, over a megabyte of them.
        let mut d = decoder("v26.06").with_cap(1 << 20);
        let mut out = d.feed(b"{\"jsonrpc\":\"2.0\",\"x\":[");
        for _ in 0..24 {
            out.extend(d.feed(&b"1,{},".repeat(800)));
        }
        let k = kinds(&out);
        assert!(k.len() == 1 && k[0].starts_with("overflow "), "{k:?}");
        assert!(d.pending().len() < 1 << 20, "the cap was reached by the tokens, not the bytes");
    }

    #[test]
    fn deep_nesting_is_parsed_without_recursion_and_its_depth_told() {
        let depth = 100_000;
        let mut msg = b"{\"jsonrpc\":\"2.0\",\"method\":\"log\",\"params\":".to_vec();
        msg.extend(std::iter::repeat_n(b'[', depth));
        msg.extend(std::iter::repeat_n(b']', depth));
        msg.push(b'}');
        for p in ["v26.06", "v23.02"] {
            let mut d = decoder(p);
            let mut got = Vec::new();
            for chunk in msg.chunks(65536) {
                got.extend(d.feed(chunk));
            }
            match &got[..] {
                [Incoming::Message(m)] => assert_eq!(m.depth, depth + 1),
                other => panic!("{p}: {:?}", kinds(other)),
            }
        }
    }

    #[test]
    fn many_messages_in_one_read_are_all_decoded() {
        let one = br#"{"jsonrpc":"2.0","method":"log","params":{"message":"x"}}"#;
        let mut stream = Vec::new();
        for _ in 0..10_000 {
            stream.extend_from_slice(one);
        }
        let mut d = decoder("v26.06");
        assert_eq!(d.feed(&stream).len(), 10_000);
        assert!(d.pending().is_empty());
    }

    #[test]
    fn v23_sees_the_brace_only_in_the_latest_read() {
        let mut d = decoder("v23.02");
        let msg = br#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
        assert!(d.feed(msg).len() == 1);
        let mut d = decoder("v23.02");
        // The brace arrives, then whitespace: v23 parses only on a read that
        // holds a `}`; the message is complete on the first.
        assert_eq!(d.feed(&msg[..msg.len() - 1]).len(), 0);
        assert_eq!(d.feed(b"}").len(), 1);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::profile::Profile;
    use proptest::prelude::*;

    fn message() -> impl Strategy<Value = String> {
        let text = "[a-z\u{e9}\u{4e2d}\u{1f600} \\n{}:,\"\\\\]{0,12}";
        (0u64..1000, text, proptest::bool::ANY).prop_map(|(id, s, notify)| {
            let s = serde_json::to_string(&s).unwrap();
            if notify {
                format!(r#"{{"jsonrpc":"2.0","method":"log","params":{{"level":"info","message":{s}}}}}"#)
            } else {
                format!(
                    r#"{{ "jsonrpc" : "2.0", "id" : {id},
  "result" : {{"nested": [1, -2.5e3, true, null, {{"k": {s}}}]}} }}"#
                )
            }
        })
    }

    fn decode(profile: &str, stream: &[u8], cuts: &[usize]) -> Vec<String> {
        let mut d = Decoder::new(&Profile::load(profile).unwrap().parser);
        let mut out = Vec::new();
        let mut last = 0;
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        points.sort();
        points.push(stream.len());
        for p in points {
            for inc in d.feed(&stream[last..p]) {
                out.push(match inc {
                    Incoming::Message(m) => m.text(),
                    Incoming::Kill(k) => format!("kill {}", k.check),
                    Incoming::Overflow(n) => format!("overflow {n}"),
                });
            }
            last = p;
        }
        out
    }

    proptest! {
        /// Any split of a valid stream decodes to the same messages (§2.2).
        #[test]
        fn any_split_decodes_the_same(msgs in proptest::collection::vec(message(), 1..6), seps in proptest::collection::vec("[ \n]{0,3}", 6), cuts in proptest::collection::vec(0usize..4096, 0..12)) {
            let stream: String = msgs.iter().zip(seps.iter().cycle()).map(|(m, s)| format!("{m}{s}")).collect();
            for profile in ["v26.06", "v23.02"] {
                let whole = decode(profile, stream.as_bytes(), &[]);
                prop_assert_eq!(whole.len(), msgs.len());
                prop_assert_eq!(&decode(profile, stream.as_bytes(), &cuts), &whole);
            }
        }

        /// Arbitrary bytes never panic the decoder, in any chunking.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), cuts in proptest::collection::vec(0usize..2048, 0..8)) {
            for profile in ["v26.06", "v23.02"] {
                let _ = decode(profile, &bytes, &cuts);
            }
        }

        /// JSON-ish bytes (the alphabet jsmn cares about) never panic either.
        #[test]
        fn jsonish_bytes_never_panic(s in "[{}\\[\\]\":, \n\\\\0-9a-fntu\\x00-]{0,300}", cuts in proptest::collection::vec(0usize..300, 0..8)) {
            for profile in ["v26.06", "v23.02"] {
                let _ = decode(profile, s.as_bytes(), &cuts);
            }
        }
    }
}
