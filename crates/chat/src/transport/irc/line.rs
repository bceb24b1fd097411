//! Fitting what the server says into IRC's 512-byte lines: text made safe
//! for an IRC client's terminal, long texts split over several lines, and
//! long reasons and topics cut to fit. Used by the event rendering
//! ([`crate::event::irc`]) and the connection's replies alike.

use std::borrow::Cow;

use sockit_net::text::{escape_untrusted, is_unsafe};

use super::message::{Message, MAX_MESSAGE};

/// IRC's formatting codes (bold, colour, hex colour, reset, monospace,
/// reverse, italics, strike-through, underline) and CTCP's delimiter: IRC
/// clients render or parse them, so they reach IRC clients as they are.
fn is_formatting(c: char) -> bool {
    matches!(c, '\x01' | '\x02' | '\x03' | '\x04' | '\x0f' | '\x11' | '\x16' | '\x1d' | '\x1e' | '\x1f')
}

/// `text` as an IRC client may see it: IRC formatting codes kept, every
/// other character [`escape_untrusted`] escapes (controls, bidi, invisible
/// characters; `\r`, `\n` and NUL included, so the result fits on a line).
pub fn irc_text(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| is_unsafe(c) && !is_formatting(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut buf = [0u8; 4];
    for c in text.chars() {
        if is_formatting(c) {
            out.push(c);
        } else {
            out.push_str(&escape_untrusted(c.encode_utf8(&mut buf)));
        }
    }
    Cow::Owned(out)
}

/// The longest prefix of `s` of at most `max` bytes ending on a character
/// boundary.
pub fn cut_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Bytes of `m` after its tags, `\r\n` included, with its last parameter
/// left out (but its ` :` counted).
fn fixed_len(m: &Message<'_>) -> usize {
    let mut n = 2;
    if let Some(s) = m.source {
        n += 1 + s.len() + 1;
    }
    n += m.command.len();
    let last = m.params.len().saturating_sub(1);
    for p in &m.params[..last] {
        n += 1 + p.len();
    }
    if !m.params.is_empty() {
        n += 2;
    }
    n
}

/// Whether `command`'s last parameter is a text, written after `:`
/// always, as IRC servers write it. NICK too: ngircd, InspIRCd and
/// solanum send `:old!u@h NICK :new`, and ii takes the new nick from
/// after the `:` (without it, ii keeps its old nick).
fn text_last(command: &str) -> bool {
    matches!(
        command,
        "PRIVMSG"
            | "NOTICE"
            | "NICK"
            | "PART"
            | "QUIT"
            | "TOPIC"
            | "KICK"
            | "AWAY"
            | "ERROR"
            | "PONG"
            | "PING"
            | "CAP"
            | "301"
            | "319"
            | "322"
            | "332"
            | "353"
            | "372"
    )
}

/// Appends `m` to `out`, its last parameter cut (at a character boundary)
/// as far as the 512-byte limit needs. Returns false when even that cannot
/// be written (a part no line can carry), and `out` is then unchanged.
pub fn write_fit(m: &Message<'_>, out: &mut Vec<u8>) -> bool {
    let colon = text_last(m.command);
    if m.write_with(out, colon).is_ok() {
        return true;
    }
    let Some(last) = m.params.last() else { return false };
    let room = MAX_MESSAGE.saturating_sub(fixed_len(m));
    let mut cut = m.clone();
    let at = cut.params.len() - 1;
    cut.params[at] = cut_bytes(last, room);
    cut.write_with(out, colon).is_ok()
}

/// Pieces of `text`, each at most `budget` bytes (at least 1 byte: a
/// character longer than the budget still goes, alone): cut at the last
/// space in a piece's second half when there is one — that space is the
/// line break and is dropped — else at a character boundary. An empty
/// text is one empty piece.
pub fn split_text(text: &str, budget: usize) -> Vec<&str> {
    let budget = budget.max(4);
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.len() > budget {
        let mut end = cut_bytes(rest, budget).len();
        if end == 0 {
            end = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        // A space right at the cut may be the break too; the byte after a
        // piece is only looked at when it is that (ASCII) space, since
        // slicing through it would split a character otherwise.
        let window = if rest.as_bytes().get(end) == Some(&b' ') { &rest[..=end] } else { &rest[..end] };
        match window.rfind(' ').filter(|&i| i >= end / 2 && i > 0) {
            Some(space) => {
                pieces.push(&rest[..space]);
                rest = &rest[space + 1..];
            }
            None => {
                pieces.push(&rest[..end]);
                rest = &rest[end..];
            }
        }
    }
    pieces.push(rest);
    pieces
}

/// Appends one line per piece of `text`: `m` is the message with every
/// parameter but the text (its last, which [`split_text`] cuts to what the
/// line leaves room for), `wrap` the bytes around each piece (CTCP
/// `ACTION`). Lines that cannot be written are left out.
pub fn write_split(m: &Message<'_>, text: &str, wrap: (&str, &str), out: &mut Vec<u8>) {
    let mut probe = m.clone();
    probe.params.push("");
    let room = MAX_MESSAGE.saturating_sub(fixed_len(&probe) + wrap.0.len() + wrap.1.len());
    for piece in split_text(text, room) {
        let body = if wrap.0.is_empty() && wrap.1.is_empty() {
            Cow::Borrowed(piece)
        } else {
            Cow::Owned(format!("{}{piece}{}", wrap.0, wrap.1))
        };
        let mut line = m.clone();
        line.params.push(&body);
        write_fit(&line, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::irc::message::{parse, Origin};
    use proptest::prelude::*;

    #[test]
    fn formatting_survives_controls_do_not() {
        assert_eq!(irc_text("\x02bold\x02 \x0304red"), "\x02bold\x02 \x0304red");
        assert_eq!(irc_text("\x01ACTION waves\x01"), "\x01ACTION waves\x01");
        assert_eq!(irc_text("a\r\nb\0\x1b[2J\u{202e}"), "a\\x0d\\x0ab\\x00\\x1b[2J\\u{202e}");
        assert!(matches!(irc_text("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn long_texts_split_short_reasons_cut() {
        let text = "word ".repeat(300);
        let m = Message { source: Some("bob!u@h"), ..Message::new("PRIVMSG", vec!["#dev"]) };
        let mut out = Vec::new();
        write_split(&m, &text, ("", ""), &mut out);
        let lines: Vec<&[u8]> = out.split_inclusive(|b| *b == b'\n').collect();
        assert!(lines.len() >= 3, "{}", lines.len());
        let mut pieces = Vec::new();
        for l in &lines {
            assert!(l.len() <= MAX_MESSAGE);
            let p = parse(l, Origin::Server).unwrap();
            pieces.push(p.params[1].to_owned());
        }
        assert_eq!(pieces.join(" "), text, "split at spaces, each space a line break");
        let long = "é".repeat(400);
        let m = Message { source: Some("irc.sockit"), ..Message::new("332", vec!["bob", "#dev", &long]) };
        let mut out = Vec::new();
        assert!(write_fit(&m, &mut out));
        assert!(out.len() <= MAX_MESSAGE && out.len() > 500);
        assert!(std::str::from_utf8(&out).is_ok());
    }

    proptest! {
        #[test]
        fn split_pieces_fit_and_join(text in "\\PC{0,600}", budget in 1usize..300) {
            let pieces = split_text(&text, budget);
            let squeeze = |s: &str| s.replace(' ', "");
            prop_assert_eq!(squeeze(&pieces.concat()), squeeze(&text));
            prop_assert!(pieces.concat().len() + pieces.len() > text.len(), "at most one space lost per cut");
            for p in &pieces {
                prop_assert!(p.len() <= budget.max(4) || p.chars().count() == 1);
            }
        }

        #[test]
        fn irc_text_is_one_line(text in any::<String>()) {
            let t = irc_text(&text);
            prop_assert!(!t.contains(['\r', '\n', '\0']));
        }
    }
}
