//! Text from peers, made safe to show: every service that puts a peer's
//! words on a terminal or a page (chat lines, nicks, file names, error
//! messages, directory listings) escapes them here, so the rule lives in
//! one place.
//!
//! What is escaped, and why:
//! - C0 controls (except tab), DEL and C1 controls: cursor moves, colours,
//!   screen clears, terminal title and clipboard sequences.
//! - Bidirectional controls (U+061C, U+200E/F, U+202A–E, U+2066–9): they make
//!   a line display as something other than what it says (`gpj.exe` shown as
//!   `exe.jpg`).
//! - Invisible and layout characters: zero-width space/joiners (U+200B–D),
//!   word joiner and invisible operators (U+2060–4), U+FEFF, soft hyphen,
//!   Mongolian vowel separator, Hangul fillers, and the line/paragraph
//!   separators U+2028/9 (which break a line where no `\n` is).
//!
//! An escaped character becomes `\xNN` (ASCII) or `\u{NNNN}`, visible and
//! unambiguous. The original bytes are never needed back: this is for display.

use std::borrow::Cow;
use std::fmt::Write;

/// Replaces every character a peer could use to disguise or disrupt what a
/// reader sees (see the module docs) with a visible escape. Borrowed when
/// nothing needs escaping.
pub fn escape_untrusted(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            if (c as u32) < 0x80 {
                let _ = write!(out, "\\x{:02x}", c as u32);
            } else {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Escapes bytes that may not be UTF-8 (a file name, a peer's error text):
/// invalid sequences become `\xNN`, the rest as [`escape_untrusted`].
pub fn escape_untrusted_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(&escape_untrusted(chunk.valid()));
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// True for a character [`escape_untrusted`] escapes.
pub fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(
            c,
            '\u{00ad}'                      // soft hyphen
            | '\u{061c}'                    // Arabic letter mark
            | '\u{115f}' | '\u{1160}'       // Hangul fillers
            | '\u{180e}'                    // Mongolian vowel separator
            | '\u{200b}'..='\u{200f}'       // zero-width space/joiners, LRM, RLM
            | '\u{2028}'..='\u{202e}'       // line/paragraph separators, bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}'       // word joiner, invisible operators
            | '\u{2066}'..='\u{206f}'       // bidi isolates, deprecated format characters
            | '\u{3164}' | '\u{ffa0}'       // Hangul fillers
            | '\u{feff}'                    // zero-width no-break space (BOM)
            | '\u{fff9}'..='\u{fffb}'       // interlinear annotation
            | '\u{e0000}'..='\u{e007f}' // tag characters
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_terminal_and_layout_tricks() {
        assert_eq!(escape_untrusted("hi"), "hi");
        assert!(matches!(escape_untrusted("plain text, 中文"), Cow::Borrowed(_)));
        assert_eq!(escape_untrusted("a\x1b[2Jb\x07"), "a\\x1b[2Jb\\x07");
        assert_eq!(escape_untrusted("x\u{9b}y\u{202e}"), "x\\u{9b}y\\u{202e}");
        assert_eq!(escape_untrusted("tab\tok"), "tab\tok");
        assert_eq!(escape_untrusted("a\u{200b}b\u{200e}c\u{061c}"), "a\\u{200b}b\\u{200e}c\\u{61c}");
        assert_eq!(escape_untrusted("l1\u{2028}l2\u{2029}"), "l1\\u{2028}l2\\u{2029}");
        assert_eq!(escape_untrusted("\u{feff}bom"), "\\u{feff}bom");
    }

    #[test]
    fn escapes_invalid_bytes() {
        assert_eq!(escape_untrusted_bytes(b"ok\xff\x1b\xe2\x80\xaeend"), "ok\\xff\\x1b\\u{202e}end");
        assert_eq!(escape_untrusted_bytes("名前.txt".as_bytes()), "名前.txt");
    }

    proptest! {
        #[test]
        fn escaped_text_has_nothing_unsafe(s in "\\PC*|[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{200b}-\\u{200f}\\u{2028}-\\u{202e}a-z]*") {
            let e = escape_untrusted(&s);
            prop_assert!(!e.chars().any(is_unsafe));
        }

        #[test]
        fn escaped_bytes_have_nothing_unsafe(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let e = escape_untrusted_bytes(&b);
            prop_assert!(!e.chars().any(is_unsafe));
        }
    }
}
