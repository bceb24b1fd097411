//! IRC nicks: which an IRC client may take, and the IRC-safe form under
//! which IRC clients see a member of another transport whose nick is not
//! one (docs/protocol.md, "Nicks seen by IRC clients").
//!
//! An IRC nick (Modern IRC, RFC 2812) is 1–[`NICKLEN`] characters: ASCII
//! letters, digits and ``[ ] \ ` _ ^ { | }`` and `-`, not starting with a
//! digit or `-`. Two prefixes are reserved for the mapped forms and refused
//! to IRC clients (`432`): `xn--` (any case) and `_` followed by a digit.
//!
//! The mapping ([`to_irc`]), for a nick that is not a valid IRC nick:
//! - a default nick of an IPv4 member, `127.0.0.1:50312`, becomes
//!   `_127-0-0-1-50312` (the four numbers and the port, `-` between);
//! - anything else (non-ASCII nicks such as `张三`, nicks with `.`, IPv6
//!   defaults such as `[::1]:50312`, a chosen nick that starts with a
//!   reserved prefix) becomes `xn--` and the Punycode (RFC 3492) of the
//!   nick, after each ASCII character IRC nicks may not hold (`.`, `:` …)
//!   is first replaced by a code point of plane 15's private use area
//!   (U+F0000 + its code), so that Punycode, which copies ASCII through,
//!   never copies one of them: `张三` → `xn--ehq892b`, `a.b` → `xn--ab-…`.
//!
//! Valid nicks are shown as they are. The mapping is injective (the three
//! kinds cannot meet: valid nicks avoid the reserved prefixes, and within
//! a kind the encoding decodes back), [`from_irc`] inverts it, and it
//! commutes with ASCII case folding, so nicks the hub holds apart are
//! never equal under `CASEMAPPING=ascii` either. A mapped form is always
//! made of IRC nick characters; it can be longer than `NICKLEN` when the
//! nick it stands for is long and non-ASCII (NICKLEN bounds the nicks a
//! client may choose, not the ones it is shown).

use std::borrow::Cow;
use std::net::SocketAddrV4;

use super::punycode;

/// The longest nick an IRC client may take (the hub's limit too).
pub const NICKLEN: usize = crate::text::MAX_NICK;

/// The prefix of mapped non-ASCII and other nicks.
const ACE: &str = "xn--";
/// Where a non-nick ASCII character goes before Punycode.
const PUA: u32 = 0xF0000;
/// Marks a character of the input that was itself in `PUA..=ESC`.
const ESC: u32 = 0xF0080;

fn special(b: u8) -> bool {
    b"[]\\`_^{|}".contains(&b)
}

fn nick_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || special(b) || b == b'-'
}

/// Whether `n` has the shape of an IRC nick, of any length: what may
/// appear where IRC lines carry a nick.
pub fn is_irc_safe(n: &str) -> bool {
    let b = n.as_bytes();
    b.first().is_some_and(|&c| c.is_ascii_alphabetic() || special(c)) && b.iter().all(|&c| nick_byte(c))
}

/// Whether `n` starts with a prefix kept for mapped forms.
pub fn is_reserved(n: &str) -> bool {
    let b = n.as_bytes();
    b.get(..ACE.len()).is_some_and(|p| p.eq_ignore_ascii_case(ACE.as_bytes()))
        || (b.first() == Some(&b'_') && b.get(1).is_some_and(u8::is_ascii_digit))
}

/// Whether an IRC client may take `n` as its nick.
pub fn is_valid(n: &str) -> bool {
    n.len() <= NICKLEN && is_irc_safe(n) && !is_reserved(n)
}

/// The form under which IRC clients see the member named `nick`.
pub fn to_irc(nick: &str) -> Cow<'_, str> {
    if is_valid(nick) {
        return Cow::Borrowed(nick);
    }
    if let Some(form) = ipv4_form(nick) {
        return Cow::Owned(form);
    }
    let mut pre = String::with_capacity(nick.len() * 2);
    for c in nick.chars() {
        let u = u32::from(c);
        if c.is_ascii() && !nick_byte(c as u8) {
            pre.push(char::from_u32(PUA + u).unwrap_or(c));
        } else if (PUA..=ESC).contains(&u) {
            pre.push(char::from_u32(ESC).unwrap_or(c));
            pre.push(c);
        } else {
            pre.push(c);
        }
    }
    match punycode::encode(&pre) {
        Some(p) => Cow::Owned(format!("{ACE}{p}")),
        // Only inputs of millions of characters overflow; no nick is one.
        None => Cow::Owned(format!("{ACE}-")),
    }
}

/// The member nick an IRC client means by `irc` (a form [`to_irc`] gave,
/// in any case): the decoded nick for a mapped form, `irc` itself for
/// anything else.
pub fn from_irc(irc: &str) -> Cow<'_, str> {
    match decode(irc) {
        Some(nick) if to_irc(&nick).eq_ignore_ascii_case(irc) => Cow::Owned(nick),
        _ => Cow::Borrowed(irc),
    }
}

fn decode(irc: &str) -> Option<String> {
    if let Some(rest) = irc.strip_prefix('_') {
        let parts: Vec<&str> = rest.split('-').collect();
        let [a, b, c, d, port] = parts.as_slice() else { return None };
        return Some(format!("{a}.{b}.{c}.{d}:{port}"));
    }
    let body = irc.get(..ACE.len()).filter(|p| p.eq_ignore_ascii_case(ACE)).and(irc.get(ACE.len()..))?;
    let pre = punycode::decode(body)?;
    let mut out = String::with_capacity(pre.len());
    let mut chars = pre.chars();
    while let Some(c) = chars.next() {
        let u = u32::from(c);
        if u == ESC {
            out.push(chars.next()?);
        } else if (PUA..PUA + 0x80).contains(&u) {
            out.push(char::from_u32(u - PUA)?);
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// `_A-B-C-D-PORT` for a canonical `A.B.C.D:PORT`.
fn ipv4_form(nick: &str) -> Option<String> {
    let addr: SocketAddrV4 = nick.parse().ok()?;
    if addr.to_string() != nick {
        return None;
    }
    let [a, b, c, d] = addr.ip().octets();
    Some(format!("_{a}-{b}-{c}-{d}-{}", addr.port()))
}

#[cfg(test)]
#[path = "nick_tests.rs"]
mod tests;
