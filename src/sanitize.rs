//! Plugin text made safe to show: a plugin chooses its log messages, ids,
//! method names and stderr, and none of it may drive the terminal that
//! shows a report or the CI system that reads one.
//!
//! Control characters become visible escapes (`\x1b`, `\r`, `\u{202e}`), so
//! a screen clear, a hyperlink or a line overwrite shows as text. Under
//! GitHub Actions, where the runner executes lines that start with `::`
//! (after leading whitespace) and `##[` anywhere, those are broken up too.

/// Whether `c` must not reach a terminal as itself: C0 and C1 controls,
/// DEL, and the invisible direction and zero-width marks that reorder or
/// hide text.
fn hidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{061c}' | '\u{feff}')
}

fn push_escape(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

/// One line of plugin text: every control character escaped, newlines too.
pub fn text(s: &str) -> String {
    if !s.chars().any(hidden) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hidden(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// Text that may span lines: newlines kept, every other control character
/// escaped (a `\r` would let a line overwrite what came before it).
pub fn lines(s: &str) -> String {
    if !s.chars().any(|c| c != '\n' && hidden(c)) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c != '\n' && hidden(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// Text made inert for the GitHub Actions runner, line by line: no line
/// starts with `::` (leading whitespace ignored), and no `##[` anywhere.
pub fn actions(s: &str) -> String {
    if !s.contains("::") && !s.contains("##[") {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let line = line.replace("##[", "#\\x23[");
        let body = line.trim_start();
        if body.starts_with("::") {
            out.push_str(&line[..line.len() - body.len()]);
            out.push_str("\\x3a");
            out.push_str(&body[1..]);
        } else {
            out.push_str(&line);
        }
    }
    out
}

/// True when stdout is read by the GitHub Actions runner.
pub fn in_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_become_visible() {
        assert_eq!(text("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(text("x\ry\nz\u{7f}"), "x\\ry\\nz\\x7f");
        assert_eq!(text("\u{9b}31m \u{202e}txt"), "\\u{9b}31m \\u{202e}txt");
        assert_eq!(text("plain: café 中"), "plain: café 中");
        // An OSC 8 hyperlink loses its escape and its terminator.
        assert_eq!(text("\x1b]8;;http://x\x07link"), "\\x1b]8;;http://x\\x07link");
    }

    #[test]
    fn lines_keep_newlines_only() {
        assert_eq!(lines("a\nb\r\x1bc"), "a\nb\\r\\x1bc");
    }

    #[test]
    fn workflow_commands_cannot_start_a_line() {
        assert_eq!(actions("::add-mask::secret"), "\\x3a:add-mask::secret");
        assert_eq!(actions("ok\n   ::error ::x"), "ok\n   \\x3a:error ::x");
        assert_eq!(actions("text ##[group]x"), "text #\\x23[group]x");
        assert_eq!(actions("std::io is fine mid-line"), "std::io is fine mid-line");
        for s in ["::a", " \t::b", "x\n::c", "##[d"] {
            let out = actions(s);
            assert!(out.lines().all(|l| !l.trim_start().starts_with("::") && !l.contains("##[")), "{out}");
        }
    }
}
