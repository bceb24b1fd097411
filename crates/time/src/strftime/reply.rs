//! The strftime datagram service: what a request may carry (a format, one
//! line ending, NUL padding) and how large its answer may be.
//!
//! A UDP source address is unproven, so an answer is capped by
//! [`sockit_net::reflect::reply_cap`]: at most `max(32, 2 × request + 28)`
//! bytes, twice the request in IPv4 bytes. Formats grow (`%c` is 2 bytes in,
//! 24 out; `%64a` 4 in, 64 out), so a client that wants a long answer pads
//! its request with NUL bytes, which are set aside before the format is read.
//! A format whose answer would pass the cap gets `error: … pad the request to
//! M bytes …` instead, short enough to fit; [`padding_asked`] reads the M
//! back, and `sockit time query` retries with that much padding.

use sockit_net::reflect::reply_cap;

use super::{Format, DEFAULT_FORMAT};
use crate::moment::Moment;

/// The words before the size in the "pad" error; [`padding_asked`] looks
/// for them.
const PAD_TO: &str = "pad the request to ";

/// Answers one strftime datagram: the formatted time, or `error: …`, never
/// longer than [`reply_cap`] of the datagram's length.
///
/// Trailing NUL bytes are padding and are set aside first. An empty format
/// means [`DEFAULT_FORMAT`]. One trailing line ending (`\n` or `\r\n`, as
/// `nc -u` sends) is set aside before formatting and put back after, so
/// `echo '%H:%M' | nc -u HOST 9000` prints a whole line and a bare newline
/// gets the default format.
pub fn answer(datagram: &[u8], moment: &Moment, reply: &mut Vec<u8>) {
    let cap = reply_cap(datagram.len());
    let unpadded = match datagram.iter().rposition(|&b| b != 0) {
        Some(last) => &datagram[..=last],
        None => &[],
    };
    let (body, ending): (&[u8], &[u8]) = if let Some(b) = unpadded.strip_suffix(b"\r\n") {
        (b, b"\r\n")
    } else if let Some(b) = unpadded.strip_suffix(b"\n") {
        (b, b"\n")
    } else {
        (unpadded, b"")
    };
    let body = if body.is_empty() { DEFAULT_FORMAT.as_bytes() } else { body };
    let start = reply.len();
    match Format::parse_bytes(body) {
        Ok(format) => {
            let mut out = String::new();
            format.render(moment, &mut out);
            let len = out.len() + ending.len();
            if len <= cap {
                reply.extend_from_slice(out.as_bytes());
            } else {
                push_fitting(reply, &too_long(len, datagram.len()), cap - ending.len());
            }
        }
        Err(e) => push_fitting(reply, &error_forms(&e), cap - ending.len()),
    }
    reply.extend_from_slice(ending);
    debug_assert!(reply.len() - start <= cap);
}

/// The error for an answer of `len` bytes to a request of `request` bytes,
/// longest form first.
fn too_long(len: usize, request: usize) -> [String; 3] {
    // The smallest request whose cap holds `len`: 2 × m + 28 >= len.
    let pad = len.saturating_sub(sockit_net::reflect::IPV4_UDP_HEADER).div_ceil(2).max(request + 1);
    [
        format!("error: the answer is {len} bytes, over twice the request; {PAD_TO}{pad} bytes with NUL bytes"),
        format!("error: {PAD_TO}{pad} bytes"),
        format!("error: pad to {pad}"),
    ]
}

/// Appends the first of `forms` (longest first) that fits in `room` bytes,
/// else as much of the last as fits, cut on a char boundary.
fn push_fitting<S: AsRef<str>>(reply: &mut Vec<u8>, forms: &[S], room: usize) {
    if let Some(form) = forms.iter().map(AsRef::as_ref).find(|f| f.len() <= room) {
        reply.extend_from_slice(form.as_bytes());
        return;
    }
    let last = forms.last().map_or("", AsRef::as_ref);
    let mut end = room.min(last.len());
    while !last.is_char_boundary(end) {
        end -= 1;
    }
    reply.extend_from_slice(&last.as_bytes()[..end]);
}

/// An error line and its short form (the part before the explanation in
/// parentheses), for a small request.
fn error_forms(e: &super::FormatError) -> Vec<String> {
    let full = format!("error: {e}");
    match full.split_once(" (").map(|(short, _)| short.to_string()) {
        Some(short) => vec![full, short],
        None => vec![full],
    }
}

/// The request size an `error: … pad the request to M bytes` answer asks
/// for, if `reply` is one.
pub fn padding_asked(reply: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(reply).ok()?.strip_prefix("error: ")?;
    let (_, after) = text.split_once(PAD_TO).or_else(|| text.split_once("pad to "))?;
    after.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// `format` padded with NUL bytes to `len` bytes (unchanged if longer).
pub fn pad_request(format: &[u8], len: usize) -> Vec<u8> {
    let mut out = format.to_vec();
    out.resize(len.max(format.len()), 0);
    out
}
