//! lightningd's view of JSON: a strict-mode jsmn tokenizer with parent links,
//! and the token helpers lightningd judges plugin output with.
//!
//! lightningd does not use a conforming JSON parser. It tokenizes with jsmn
//! (`JSMN_STRICT`, `JSMN_PARENT_LINKS`), validates the first root value, and
//! then compares raw token bytes. Its verdicts (which bytes kill a plugin,
//! which duplicate key wins, what a reason quotes) follow from those quirks,
//! so the harness reproduces them here rather than using `serde_json`.
//! docs/protocol.md §2.2 and §3 describe the behaviour being reproduced.

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokType {
    Undefined,
    Object,
    Array,
    String,
    Primitive,
}

/// One token: offsets into the buffer it was parsed from. For strings,
/// `start..end` excludes the quotes. `-1` marks an unset offset or parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tok {
    pub ty: TokType,
    pub start: i64,
    pub end: i64,
    pub size: usize,
    pub parent: i64,
}

impl Tok {
    const UNDEFINED: Tok = Tok { ty: TokType::Undefined, start: -1, end: -1, size: 0, parent: -1 };
}

/// How a parse call ended, as jsmn reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsmnError {
    /// Invalid input: lightningd kills the plugin.
    Inval,
    /// The input ends inside a value.
    Part,
    /// The token array is full.
    NoMem,
}

/// The resumable state of one jsmn parse.
///
/// Beyond jsmn's own three fields it keeps, for speed on hostile input, the
/// number of open containers (jsmn rescans every token to find one) and
/// jump links over closed tokens (jsmn walks the whole parent chain at each
/// close, quadratic in the depth), and how far into an unfinished string
/// or primitive the last call got (jsmn scans it again from its first byte
/// on every read, quadratic in its length: a 2.5 MiB string arriving in
/// 64 KiB reads was scanned 40 times). None changes a result: a token that
/// closes stays closed, parent links never change, and the bytes already
/// scanned are scanned the same way whatever follows them.
#[derive(Clone, Debug)]
pub struct Parser {
    pos: usize,
    toknext: usize,
    toksuper: i64,
    open: usize,
    max_open: usize,
    /// For a closed token, an ancestor from which the search for the
    /// innermost open container may go on.
    jump: Vec<u32>,
    path: Vec<u32>,
    /// For the string or primitive starting at `.0` that the buffer ended
    /// in: where its scan goes on. Only positions whose scan did not look
    /// at the buffer's end are skipped.
    resume: Option<(usize, usize)>,
}

impl Default for Parser {
    fn default() -> Self {
        Parser { pos: 0, toknext: 0, toksuper: -1, open: 0, max_open: 0, jump: Vec::new(), path: Vec::new(), resume: None }
    }
}

impl Parser {
    /// Where the scan stands in the buffer.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The deepest nesting of containers seen so far.
    pub fn max_depth(&self) -> usize {
        self.max_open
    }

    /// Bytes of memory the parser itself holds.
    pub fn footprint(&self) -> usize {
        (self.jump.capacity() + self.path.capacity()) * std::mem::size_of::<u32>()
    }

    /// jsmn's walk from token `t` up the parent links to the first open
    /// token or a root, skipping closed tokens already walked over.
    fn first_open(&mut self, toks: &[Tok], mut t: usize) -> usize {
        self.path.clear();
        loop {
            let tok = toks[t];
            if (tok.start != -1 && tok.end == -1) || tok.parent == -1 {
                break;
            }
            self.path.push(t as u32);
            let j = self.jump.get(t).copied().unwrap_or(u32::MAX);
            t = if j != u32::MAX { j as usize } else { tok.parent as usize };
        }
        if self.jump.len() < self.toknext {
            self.jump.resize(self.toknext, u32::MAX);
        }
        for &v in &self.path {
            self.jump[v as usize] = t as u32;
        }
        t
    }

    fn alloc(&mut self, toks: &mut [Tok], limit: usize) -> Option<usize> {
        if self.toknext >= limit {
            return None;
        }
        let i = self.toknext;
        self.toknext += 1;
        toks[i] = Tok { ty: TokType::Undefined, start: -1, end: -1, size: 0, parent: -1 };
        Some(i)
    }

    /// Continues tokenizing `js` into `toks`, using at most `limit` tokens.
    /// `toks` must be at least `limit` long. Returns the token count.
    pub fn parse(&mut self, js: &[u8], toks: &mut [Tok], limit: usize) -> Result<usize, JsmnError> {
        let mut count = self.toknext;
        while self.pos < js.len() && js[self.pos] != 0 {
            let c = js[self.pos];
            match c {
                b'{' | b'[' => {
                    count += 1;
                    let i = self.alloc(toks, limit).ok_or(JsmnError::NoMem)?;
                    if self.toksuper != -1 {
                        toks[self.toksuper as usize].size += 1;
                        toks[i].parent = self.toksuper;
                    }
                    toks[i].ty = if c == b'{' { TokType::Object } else { TokType::Array };
                    toks[i].start = self.pos as i64;
                    self.toksuper = self.toknext as i64 - 1;
                    self.open += 1;
                    self.max_open = self.max_open.max(self.open);
                }
                b'}' | b']' => {
                    let ty = if c == b'}' { TokType::Object } else { TokType::Array };
                    if self.toknext < 1 {
                        return Err(JsmnError::Inval);
                    }
                    let t = self.first_open(toks, self.toknext - 1);
                    let tok = toks[t];
                    if tok.start != -1 && tok.end == -1 {
                        if tok.ty != ty {
                            return Err(JsmnError::Inval);
                        }
                        toks[t].end = self.pos as i64 + 1;
                        self.toksuper = tok.parent;
                        self.open -= 1;
                    } else if tok.ty != ty || self.toksuper == -1 {
                        return Err(JsmnError::Inval);
                    }
                }
                b'"' => {
                    self.parse_string(js, toks, limit)?;
                    count += 1;
                    if self.toksuper != -1 {
                        toks[self.toksuper as usize].size += 1;
                    }
                }
                b'\t' | b'\r' | b'\n' | b' ' => {}
                b':' => self.toksuper = self.toknext as i64 - 1,
                b',' => {
                    if self.toksuper != -1 {
                        let sup = toks[self.toksuper as usize];
                        if sup.ty != TokType::Array && sup.ty != TokType::Object {
                            self.toksuper = sup.parent;
                        }
                    }
                }
                b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                    // Strict mode: a primitive may not be an object key.
                    if self.toksuper != -1 {
                        let sup = toks[self.toksuper as usize];
                        if sup.ty == TokType::Object || (sup.ty == TokType::String && sup.size != 0) {
                            return Err(JsmnError::Inval);
                        }
                    }
                    self.parse_primitive(js, toks, limit)?;
                    count += 1;
                    if self.toksuper != -1 {
                        toks[self.toksuper as usize].size += 1;
                    }
                }
                _ => return Err(JsmnError::Inval),
            }
            self.pos += 1;
        }
        if self.open > 0 {
            return Err(JsmnError::Part);
        }
        Ok(count)
    }

    /// Where the scan of the string or primitive starting at `start` goes
    /// on: after what an earlier call already scanned of it.
    fn resume_at(&mut self, start: usize, first: usize) -> usize {
        match self.resume.take() {
            Some((s, at)) if s == start => at,
            _ => first,
        }
    }

    fn parse_primitive(&mut self, js: &[u8], toks: &mut [Tok], limit: usize) -> Result<(), JsmnError> {
        let start = self.pos;
        self.pos = self.resume_at(start, start);
        while self.pos < js.len() && js[self.pos] != 0 {
            match js[self.pos] {
                b'\t' | b'\r' | b'\n' | b' ' | b',' | b']' | b'}' => {
                    let Some(i) = self.alloc(toks, limit) else {
                        self.resume = Some((start, self.pos));
                        self.pos = start;
                        return Err(JsmnError::NoMem);
                    };
                    toks[i] = Tok { ty: TokType::Primitive, start: start as i64, end: self.pos as i64, size: 0, parent: self.toksuper };
                    self.pos -= 1;
                    return Ok(());
                }
                // C's `char` is signed: bytes from 0x80 compare below 32.
                b if !(32..127).contains(&b) => {
                    self.pos = start;
                    return Err(JsmnError::Inval);
                }
                _ => {}
            }
            self.pos += 1;
        }
        // Strict mode: a primitive must be followed by a delimiter. Each
        // byte was judged alone, so the next call starts where this ended.
        self.resume = Some((start, self.pos));
        self.pos = start;
        Err(JsmnError::Part)
    }

    fn parse_string(&mut self, js: &[u8], toks: &mut [Tok], limit: usize) -> Result<(), JsmnError> {
        let start = self.pos;
        self.pos = self.resume_at(start, start + 1);
        // Where the step under way began: an escape cut by the buffer's end
        // is scanned again from its backslash.
        let mut step = self.pos;
        while self.pos < js.len() && js[self.pos] != 0 {
            step = self.pos;
            let c = js[self.pos];
            if c == b'"' {
                let Some(i) = self.alloc(toks, limit) else {
                    self.resume = Some((start, self.pos));
                    self.pos = start;
                    return Err(JsmnError::NoMem);
                };
                toks[i] = Tok { ty: TokType::String, start: start as i64 + 1, end: self.pos as i64, size: 0, parent: self.toksuper };
                return Ok(());
            }
            if c == b'\\' && self.pos + 1 < js.len() {
                self.pos += 1;
                match js[self.pos] {
                    b'"' | b'/' | b'\\' | b'b' | b'f' | b'r' | b'n' | b't' => {}
                    b'u' => {
                        self.pos += 1;
                        let mut i = 0;
                        while i < 4 && self.pos < js.len() && js[self.pos] != 0 {
                            if !js[self.pos].is_ascii_hexdigit() {
                                self.pos = start;
                                return Err(JsmnError::Inval);
                            }
                            self.pos += 1;
                            i += 1;
                        }
                        self.pos -= 1;
                    }
                    _ => {
                        self.pos = start;
                        return Err(JsmnError::Inval);
                    }
                }
            }
            self.pos += 1;
        }
        self.resume = Some((start, step));
        self.pos = start;
        Err(JsmnError::Part)
    }
}

/// The token array lightningd keeps per plugin, with its growth rule.
///
/// lightningd starts with room for 9 tokens, doubles only while the first
/// root value is incomplete (v26.06; always in v23.02), and after a complete
/// value shrinks to that value's token count. The capacity decides whether
/// garbage *after* a complete message is ever scanned, so it is modelled.
#[derive(Clone, Debug)]
pub struct TokenPool {
    pub toks: Vec<Tok>,
}

impl Default for TokenPool {
    fn default() -> Self {
        TokenPool { toks: vec![Tok::UNDEFINED; 10] }
    }
}

impl TokenPool {
    pub fn reset(&mut self) {
        self.toks[0] = Tok::UNDEFINED;
    }

    pub fn grow(&mut self) {
        let n = self.toks.len() * 2;
        self.toks.resize(n, Tok::UNDEFINED);
    }

    /// Tokens usable by jsmn: one is kept as a terminator.
    pub fn limit(&self) -> usize {
        self.toks.len() - 1
    }

    /// Number of tokens in the value starting at token `i` (json_next).
    pub fn next(&self, i: usize) -> usize {
        next(&self.toks, i)
    }
}

/// `json_next`, without recursion: a value's tokens follow it in order,
/// each bringing `size` more.
fn next(toks: &[Tok], i: usize) -> usize {
    let mut t = i;
    let mut remaining = 1usize;
    while remaining > 0 && t < toks.len() {
        remaining = remaining - 1 + toks[t].size;
        t += 1;
    }
    t
}

/// CLN's check of a complete root value (`validate_jsmn_parse_output`):
/// object members must be string keys holding exactly one value, and every
/// string must be valid UTF-8.
pub fn validate(buf: &[u8], toks: &[Tok]) -> bool {
    let utf8 = |t: &Tok| std::str::from_utf8(&buf[t.start as usize..t.end as usize]).is_ok();
    // The containers being walked, with how many members each has left:
    // CLN recurses once per level; plugin input may nest without limit.
    let mut stack: Vec<(usize, bool)> = Vec::new();
    let mut p = 0;
    while p < toks.len() {
        // One datum at `p`.
        let t = toks[p];
        match t.ty {
            TokType::String | TokType::Undefined | TokType::Primitive => {
                if (t.ty == TokType::String && !utf8(&t)) || t.size != 0 {
                    return false;
                }
            }
            TokType::Array | TokType::Object => stack.push((t.size, t.ty == TokType::Object)),
        }
        p += 1;
        // Then to where the next datum starts, past an object's key.
        while let Some(top) = stack.last_mut() {
            if top.0 == 0 {
                stack.pop();
                continue;
            }
            top.0 -= 1;
            if top.1 {
                let Some(k) = toks.get(p) else { return false };
                if k.ty != TokType::String || k.size != 1 || !utf8(k) {
                    return false;
                }
                p += 1;
            }
            if p >= toks.len() {
                return false;
            }
            break;
        }
    }
    true
}

/// A complete JSON value as lightningd sees it: its bytes and its tokens.
/// Token offsets are relative to `buf`; token 0 is the root.
#[derive(Clone, Debug)]
pub struct Doc {
    buf: Vec<u8>,
    toks: Vec<Tok>,
}

/// A reference to one token of a [`Doc`].
#[derive(Clone, Copy)]
pub struct Node<'a> {
    doc: &'a Doc,
    idx: usize,
}

impl Doc {
    /// Builds a document from a buffer and the tokens of its first value.
    pub fn new(buf: Vec<u8>, toks: Vec<Tok>) -> Doc {
        Doc { buf, toks }
    }

    /// Tokenizes one complete value the way lightningd does; `None` if it
    /// is incomplete or invalid.
    pub fn parse(text: &[u8]) -> Option<Doc> {
        let mut pool = TokenPool::default();
        let mut parser = Parser::default();
        loop {
            let limit = pool.limit();
            match parser.parse(text, &mut pool.toks, limit) {
                Err(JsmnError::Inval) => return None,
                Err(JsmnError::NoMem) if pool.toks[0].end == -1 => pool.grow(),
                _ => break,
            }
        }
        let root = pool.toks[0];
        if root.ty == TokType::Undefined || root.end == -1 {
            return None;
        }
        let n = pool.next(0);
        if !validate(text, &pool.toks[..n]) {
            return None;
        }
        Some(Doc { buf: text.to_vec(), toks: pool.toks[..n].to_vec() })
    }

    pub fn root(&self) -> Node<'_> {
        Node { doc: self, idx: 0 }
    }

    /// The bytes the document was parsed from.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }
}

impl<'a> Node<'a> {
    fn tok(&self) -> Tok {
        self.doc.toks[self.idx]
    }

    pub fn ty(&self) -> TokType {
        self.tok().ty
    }

    pub fn is_object(&self) -> bool {
        self.ty() == TokType::Object
    }

    pub fn is_array(&self) -> bool {
        self.ty() == TokType::Array
    }

    pub fn is_string(&self) -> bool {
        self.ty() == TokType::String
    }

    /// Number of children: elements of an array, members of an object.
    pub fn size(&self) -> usize {
        self.tok().size
    }

    /// The token's contents: a string without its quotes, anything else as
    /// written (`json_strdup`).
    pub fn contents(&self) -> &'a [u8] {
        let t = self.tok();
        &self.doc.buf[t.start as usize..t.end as usize]
    }

    /// The contents as (lossy) text, for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.contents()).into_owned()
    }

    /// The token as written, quotes included (`json_tok_full`).
    pub fn full(&self) -> &'a [u8] {
        let t = self.tok();
        if t.ty == TokType::String {
            &self.doc.buf[t.start as usize - 1..t.end as usize + 1]
        } else {
            &self.doc.buf[t.start as usize..t.end as usize]
        }
    }

    pub fn full_text(&self) -> String {
        String::from_utf8_lossy(self.full()).into_owned()
    }

    /// The children in order; for an object, its key tokens.
    pub fn children(&self) -> impl Iterator<Item = Node<'a>> + 'a {
        let doc = self.doc;
        let mut t = self.idx + 1;
        (0..self.size()).map(move |_| {
            let n = Node { doc, idx: t };
            t = next(&doc.toks, t);
            n
        })
    }

    /// The token after this one in document order, if any.
    pub fn following(&self) -> Option<Node<'a>> {
        (self.idx + 1 < self.doc.toks.len()).then(|| Node { doc: self.doc, idx: self.idx + 1 })
    }

    /// The value of a key token.
    pub fn value(&self) -> Node<'a> {
        Node { doc: self.doc, idx: self.idx + 1 }
    }

    /// `json_get_member`: the first member whose key is exactly `key`,
    /// compared as raw bytes, so an escaped key never matches.
    pub fn get(&self, key: &str) -> Option<Node<'a>> {
        if !self.is_object() {
            return None;
        }
        self.children().find(|k| k.is_string() && k.contents() == key.as_bytes()).map(|k| k.value())
    }

    /// `json_tok_streq`: a string token with exactly these bytes.
    pub fn str_eq(&self, s: &str) -> bool {
        self.is_string() && self.contents() == s.as_bytes()
    }

    /// `json_to_bool`: only the primitives `true` and `false`.
    pub fn to_bool(&self) -> Option<bool> {
        if self.ty() != TokType::Primitive {
            return None;
        }
        match self.contents() {
            b"true" => Some(true),
            b"false" => Some(false),
            _ => None,
        }
    }

    /// `json_to_u64`: C's `strtoull(…, 0)` over the token's contents, which
    /// must consume all of them. The token type is not checked.
    pub fn to_u64(&self) -> Option<u64> {
        strtoull(self.contents())
    }

    /// `json_tok_is_null`: a primitive starting with `n`.
    pub fn is_null(&self) -> bool {
        self.ty() == TokType::Primitive && self.contents().first() == Some(&b'n')
    }

    /// The subtree as a `serde_json` value, when it is standard JSON.
    pub fn to_value(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(self.full()).ok()
    }
}

/// What C's `strto*(s, &end, 0)` reads: optional white space and sign,
/// then digits in base 16 (`0x`), 8 (leading `0`) or 10.
struct CInteger {
    negative: bool,
    /// The magnitude, saturated far above any 64-bit value.
    magnitude: u128,
    /// Whether any digit was read.
    digits: bool,
    /// Whether every byte was consumed.
    whole: bool,
}

fn c_integer(s: &[u8]) -> CInteger {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut negative = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        negative = s[i] == b'-';
        i += 1;
    }
    let hex = s.len() >= i + 3 && s[i] == b'0' && (s[i + 1] | 0x20) == b'x' && s[i + 2].is_ascii_hexdigit();
    let (radix, start) = if hex {
        (16, i + 2)
    } else if i < s.len() && s[i] == b'0' {
        (8, i)
    } else {
        (10, i)
    };
    let mut j = start;
    let mut magnitude: u128 = 0;
    while let Some(d) = s.get(j).and_then(|c| (*c as char).to_digit(radix)) {
        magnitude = (magnitude * radix as u128 + d as u128).min(u128::from(u64::MAX) * 4);
        j += 1;
    }
    CInteger { negative, magnitude, digits: j > start, whole: j == s.len() }
}

/// C's `strtoull(s, &end, 0)` requiring `end` at the end of `s`.
pub fn strtoull(s: &[u8]) -> Option<u64> {
    let n = c_integer(s);
    if !n.digits {
        // No digits: strtoull consumes nothing, so only an empty input
        // ends where it started.
        return s.is_empty().then_some(0);
    }
    let value = u64::try_from(n.magnitude).ok().filter(|_| n.whole)?;
    Some(if n.negative { value.wrapping_neg() } else { value })
}

/// C's `strtol(s, &end, 0)` as lightningd's int options use it; `Err` says
/// whether the text is not a number or out of range.
pub fn strtol(s: &str) -> Result<i64, StrtolError> {
    let n = c_integer(s.as_bytes());
    if !n.digits || !n.whole {
        return Err(StrtolError::NotANumber);
    }
    let v = if n.negative { -(n.magnitude as i128) } else { n.magnitude as i128 };
    i64::try_from(v).map_err(|_| StrtolError::OutOfRange)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrtolError {
    NotANumber,
    OutOfRange,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> Option<Doc> {
        Doc::parse(s.as_bytes())
    }

    #[test]
    fn first_duplicate_key_wins_and_escaped_keys_do_not_match() {
        let d = doc(r#"{"a":1,"a":2,"\u0062":3}"#).unwrap();
        assert_eq!(d.root().get("a").unwrap().contents(), b"1");
        assert!(d.root().get("b").is_none());
    }

    #[test]
    fn lax_primitives_and_stray_commas_parse_as_jsmn_does() {
        assert!(doc(r#"{"a":tru }"#).is_some());
        assert!(doc(r#"{"a":1.2.3}"#).is_some());
        assert!(doc(r#"{"a" 1}"#).is_none(), "a primitive cannot be a key");
        assert!(doc(r#"{"a":"\x"}"#).is_none());
        assert!(doc("{\"a\":\"\u{1}\"}").is_some(), "raw control bytes pass");
    }

    #[test]
    fn validation_rejects_non_string_keys_and_bad_utf8() {
        assert!(doc(r#"{"a","b"}"#).is_none());
        assert!(Doc::parse(b"{\"a\":\"\xff\"}").is_none());
        assert!(Doc::parse(b"{\"a\":1}\xff").is_none(), "jsmn scans past the first value");
        assert!(Doc::parse(b"{\"a\":1}\"\xff\"").is_some(), "only the first value is validated");
    }

    /// Feeds `js` to one parser a prefix at a time, as lightningd does
    /// with its reads; `resume` off is jsmn's own rescan from each string's
    /// or primitive's first byte.
    fn feed(js: &[u8], cuts: &[usize], resume: bool) -> Vec<(Result<usize, JsmnError>, usize, Vec<Tok>)> {
        let mut ends: Vec<usize> = cuts.iter().map(|c| c % (js.len() + 1)).chain([js.len()]).collect();
        ends.sort_unstable();
        let (mut p, mut toks) = (Parser::default(), vec![Tok::UNDEFINED; 64]);
        let mut out = Vec::new();
        for end in ends {
            if !resume {
                p.resume = None;
            }
            let r = p.parse(&js[..end], &mut toks, 63);
            out.push((r, p.pos(), toks[..p.toknext].to_vec()));
            if matches!(r, Err(JsmnError::Inval)) {
                break;
            }
        }
        out
    }

    proptest::proptest! {
        /// Every prefix in turn: a read may end after any byte, inside an
        /// escape or right after a backslash.
        #[test]
        fn resuming_a_cut_string_or_primitive_gives_jsmns_results(
            s in "[{}\\[\\]\":, \\\\0-9a-fnrtu\\x00x-]{0,120}",
            every in 1usize..4,
        ) {
            let js = s.as_bytes();
            let cuts: Vec<usize> = (0..js.len()).step_by(every).collect();
            proptest::prop_assert_eq!(feed(js, &cuts, true), feed(js, &cuts, false));
        }
    }

    #[test]
    fn a_long_string_cut_anywhere_tokenizes_as_if_whole() {
        let js = format!("{{\"a\":\"{}\\u00e9\\n{}\"}}", "x".repeat(5000), "y".repeat(5000));
        let cuts: Vec<usize> = (1..js.len()).step_by(7).collect();
        let cut = feed(js.as_bytes(), &cuts, true);
        let whole = feed(js.as_bytes(), &[], true);
        assert_eq!(cut.last(), whole.last());
        assert_eq!(cut, feed(js.as_bytes(), &cuts, false));
    }

    #[test]
    fn strtoull_matches_c() {
        assert_eq!(strtoull(b"0x10"), Some(16));
        assert_eq!(strtoull(b"010"), Some(8));
        assert_eq!(strtoull(b"+5"), Some(5));
        assert_eq!(strtoull(b""), Some(0));
        assert_eq!(strtoull(b"-1"), Some(u64::MAX));
        assert_eq!(strtoull(b"1x"), None);
        assert_eq!(strtoull(b"99999999999999999999"), None);
        assert_eq!(strtol("0x10"), Ok(16));
        assert_eq!(strtol("abc"), Err(StrtolError::NotANumber));
        assert_eq!(strtol("99999999999999999999"), Err(StrtolError::OutOfRange));
    }
}
