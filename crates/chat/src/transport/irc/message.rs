//! One IRC message: parsing a received line and writing one to send, per
//! the Modern IRC client protocol and IRCv3 message-tags.
//!
//! ```text
//! [ "@" tags SPACE ] [ ":" source SPACE ] command *( SPACE param ) [ SPACE ":" trailing ] CRLF
//! ```
//!
//! Hand-written rather than `irc-proto` (the `irc` crate's parser), because a
//! server needs what that crate does not give: the byte limits (512 for the
//! message after the tags, 4,094 / 8,191 for the tags) as typed errors the
//! connection answers with `417`/`ERR_INPUTTOOLONG`, invalid UTF-8 as an
//! error instead of a panic (`From<&str>` there unwraps), runs of spaces
//! between parameters, and a borrowed parse with no allocation per
//! parameter string on the hot path (it owns every string and maps
//! commands into a client-side enum we would convert back).
//!
//! Rules, as the documents give them:
//! - a line ends in `\r\n` or a bare `\n` (both are accepted); `\r`, `\n`
//!   and NUL anywhere else are refused;
//! - leading spaces and runs of spaces between parts are tolerated, and
//!   trailing spaces after the last middle parameter are ignored;
//! - the command is letters, or exactly three digits (a numeric);
//! - at most 15 parameters: after 14 middle ones the rest of the line is
//!   the 15th even without `:` (RFC 2812's grammar);
//! - tag values are unescaped (`\:` `;`, `\s` space, `\\`, `\r`, `\n`; any
//!   other escaped character stands for itself, a lone trailing `\` is
//!   dropped); `key=` is the same as `key`; a key given twice keeps its
//!   last value.

use std::borrow::Cow;
use std::fmt;

/// Longest message after the tags, `\r\n` included.
pub const MAX_MESSAGE: usize = 512;
/// Longest tag data (between `@` and the space) a client may send, and a
/// server may add.
pub const MAX_TAG_DATA: usize = 4094;
/// Longest tag section on any line, the leading `@` and one trailing space included.
pub const MAX_TAG_SECTION: usize = 8191;
/// Longest line anyone may send: what a line reader should buffer at most.
pub const MAX_LINE: usize = MAX_TAG_SECTION + MAX_MESSAGE;
/// Most parameters a message carries.
pub const MAX_PARAMS: usize = 15;

/// Which tag limit a parsed line is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A line from a client: tag data at most [`MAX_TAG_DATA`] bytes.
    Client,
    /// A line from a server (client tags plus the server's): the tag
    /// section at most [`MAX_TAG_SECTION`] bytes.
    Server,
}

/// Why a line is not a message. The connection answers each (or, for
/// [`ParseError::Empty`], ignores the line as servers do).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing but spaces: ignored, not answered.
    #[error("empty line")]
    Empty,
    /// The message after the tags is over 512 bytes with its `\r\n`.
    #[error("input line too long")]
    TooLong,
    /// The tag data or tag section is over its limit.
    #[error("message tags too long")]
    TagsTooLong,
    /// The line is not UTF-8.
    #[error("line is not valid UTF-8")]
    InvalidUtf8,
    /// `\r`, `\n` or NUL inside the line.
    #[error("control character inside the line")]
    BadCharacter,
    /// No command, or one that is neither letters nor three digits.
    #[error("no valid command")]
    BadCommand,
    /// `:` with no source after it.
    #[error("empty source")]
    BadSource,
    /// A tag key with a character keys may not hold.
    #[error("malformed message tag")]
    BadTag,
}

/// Why a message cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// Over 512 bytes after the tags, or over 8,191 of tags.
    #[error("message too long")]
    TooLong,
    /// More than 15 parameters.
    #[error("too many parameters")]
    TooManyParams,
    /// A part that no line could carry: a middle parameter that is empty,
    /// holds a space or starts with `:`; `\r`, `\n` or NUL anywhere; a bad
    /// command, source or tag key.
    #[error("{0} cannot be written on an IRC line")]
    Invalid(&'static str),
}

/// One message tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag<'a> {
    /// `[+][vendor/]name`.
    pub key: &'a str,
    /// Unescaped value; empty when the tag had none.
    pub value: Cow<'a, str>,
}

/// One IRC message, borrowing from the line it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message<'a> {
    /// Message tags in line order, one per key.
    pub tags: Vec<Tag<'a>>,
    /// The source (`nick!user@host` or a server name), without its `:`.
    pub source: Option<&'a str>,
    /// The command as sent (compare with [`Message::is`]: commands are
    /// case-insensitive).
    pub command: &'a str,
    /// Parameters, the trailing one last and without its `:`.
    pub params: Vec<&'a str>,
}

impl<'a> Message<'a> {
    /// A message with no tags and no source.
    pub fn new(command: &'a str, params: Vec<&'a str>) -> Self {
        Message { tags: Vec::new(), source: None, command, params }
    }

    /// Whether the command is `cmd`, ignoring ASCII case.
    pub fn is(&self, cmd: &str) -> bool {
        self.command.eq_ignore_ascii_case(cmd)
    }

    /// Parameter `i`, if present.
    pub fn param(&self, i: usize) -> Option<&'a str> {
        self.params.get(i).copied()
    }

    /// The value of tag `key`, if present.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|t| t.key == key).map(|t| t.value.as_ref())
    }

    /// Appends the message and `\r\n` to `out`. On error `out` is unchanged.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), WriteError> {
        self.write_with(out, false)
    }

    /// [`Message::write`], the last parameter after a `:` even when it
    /// needs none when `colon` (what servers write for texts: `PRIVMSG
    /// #a :hi`, which naive parsers expect).
    pub fn write_with(&self, out: &mut Vec<u8>, colon: bool) -> Result<(), WriteError> {
        let start = out.len();
        let r = self.write_unchecked(out, colon);
        if r.is_err() {
            out.truncate(start);
        }
        r
    }

    /// The message as a line ending in `\r\n`.
    pub fn to_line(&self) -> Result<Vec<u8>, WriteError> {
        let mut out = Vec::with_capacity(64);
        self.write(&mut out)?;
        Ok(out)
    }

    fn write_unchecked(&self, out: &mut Vec<u8>, colon: bool) -> Result<(), WriteError> {
        if self.params.len() > MAX_PARAMS {
            return Err(WriteError::TooManyParams);
        }
        if !self.tags.is_empty() {
            let tags_start = out.len();
            out.push(b'@');
            for (i, t) in self.tags.iter().enumerate() {
                if !valid_key(t.key) {
                    return Err(WriteError::Invalid("tag key"));
                }
                if i > 0 {
                    out.push(b';');
                }
                out.extend_from_slice(t.key.as_bytes());
                if t.value.contains('\0') {
                    return Err(WriteError::Invalid("tag value"));
                }
                if !t.value.is_empty() {
                    out.push(b'=');
                    escape_value(&t.value, out);
                }
            }
            out.push(b' ');
            if out.len() - tags_start > MAX_TAG_SECTION {
                return Err(WriteError::TooLong);
            }
        }
        let rest_start = out.len();
        if let Some(src) = self.source {
            if src.is_empty() || src.bytes().any(|b| matches!(b, b' ' | b'\r' | b'\n' | 0)) {
                return Err(WriteError::Invalid("source"));
            }
            out.push(b':');
            out.extend_from_slice(src.as_bytes());
            out.push(b' ');
        }
        if !valid_command(self.command) {
            return Err(WriteError::Invalid("command"));
        }
        out.extend_from_slice(self.command.as_bytes());
        let last = self.params.len().checked_sub(1);
        for (i, p) in self.params.iter().enumerate() {
            if p.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
                return Err(WriteError::Invalid("parameter"));
            }
            let middle_ok = !p.is_empty() && !p.starts_with(':') && !p.contains(' ');
            out.push(b' ');
            if Some(i) == last {
                if !middle_ok || colon {
                    out.push(b':');
                }
            } else if !middle_ok {
                return Err(WriteError::Invalid("middle parameter"));
            }
            out.extend_from_slice(p.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        if out.len() - rest_start > MAX_MESSAGE {
            return Err(WriteError::TooLong);
        }
        Ok(())
    }
}

impl fmt::Display for Message<'_> {
    /// The line without `\r\n` (lossy if the message could not be written).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_line() {
            Ok(l) => f.write_str(String::from_utf8_lossy(&l[..l.len() - 2]).as_ref()),
            Err(e) => write!(f, "<{e}>"),
        }
    }
}

/// Parses one line (with or without its `\r\n` / `\n`).
pub fn parse(line: &[u8], origin: Origin) -> Result<Message<'_>, ParseError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = trim_start(line);
    let (tag_part, rest) = match line.strip_prefix(b"@") {
        Some(after) => {
            let end = after.iter().position(|&b| b == b' ').unwrap_or(after.len());
            let data = &after[..end];
            // Section = `@` + data + one space.
            let too_long = match origin {
                Origin::Client => data.len() > MAX_TAG_DATA,
                Origin::Server => data.len() + 2 > MAX_TAG_SECTION,
            };
            if too_long {
                return Err(ParseError::TagsTooLong);
            }
            (Some(data), trim_start(&after[end..]))
        }
        None => (None, line),
    };
    // The message after the tags, counted as if it ended in `\r\n`.
    if rest.len() + 2 > MAX_MESSAGE {
        return Err(ParseError::TooLong);
    }
    if line.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(ParseError::BadCharacter);
    }
    let line = std::str::from_utf8(line).map_err(|_| ParseError::InvalidUtf8)?;
    // Both parts are at byte offsets of `line` that fall on ASCII bytes.
    let rest = &line[line.len() - rest.len()..];
    let tags = match tag_part {
        Some(data) => parse_tags(&line[1..1 + data.len()])?,
        None => Vec::new(),
    };
    let mut rest = rest;
    if rest.is_empty() {
        return Err(if tags.is_empty() { ParseError::Empty } else { ParseError::BadCommand });
    }
    let mut source = None;
    if let Some(after) = rest.strip_prefix(':') {
        let end = after.find(' ').unwrap_or(after.len());
        if end == 0 {
            return Err(ParseError::BadSource);
        }
        source = Some(&after[..end]);
        rest = after[end..].trim_start_matches(' ');
    }
    let end = rest.find(' ').unwrap_or(rest.len());
    let command = &rest[..end];
    if !valid_command(command) {
        return Err(ParseError::BadCommand);
    }
    rest = &rest[end..];
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            break;
        }
        if let Some(trailing) = rest.strip_prefix(':') {
            params.push(trailing);
            break;
        }
        if params.len() == MAX_PARAMS - 1 {
            params.push(rest);
            break;
        }
        let end = rest.find(' ').unwrap_or(rest.len());
        params.push(&rest[..end]);
        rest = &rest[end..];
    }
    Ok(Message { tags, source, command, params })
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&c| c == b' ').count();
    &b[n..]
}

fn parse_tags(data: &str) -> Result<Vec<Tag<'_>>, ParseError> {
    let mut tags: Vec<Tag<'_>> = Vec::new();
    for item in data.split(';').filter(|s| !s.is_empty()) {
        let (key, raw) = item.split_once('=').unwrap_or((item, ""));
        if !valid_key(key) {
            return Err(ParseError::BadTag);
        }
        let value = unescape_value(raw);
        match tags.iter_mut().find(|t| t.key == key) {
            Some(t) => t.value = value,
            None => tags.push(Tag { key, value }),
        }
    }
    Ok(tags)
}

/// `[+][vendor/]name`: name is letters, digits and `-`; the vendor is a
/// host name (letters, digits, `-`, `.`).
fn valid_key(key: &str) -> bool {
    let key = key.strip_prefix('+').unwrap_or(key);
    let (vendor, name) = match key.rsplit_once('/') {
        Some((v, n)) => (Some(v), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let vendor_ok =
        vendor.is_none_or(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
    name_ok && vendor_ok
}

fn valid_command(c: &str) -> bool {
    let b = c.as_bytes();
    (!b.is_empty() && b.iter().all(u8::is_ascii_alphabetic)) || (b.len() == 3 && b.iter().all(u8::is_ascii_digit))
}

/// Unescapes a tag value (borrowed when it has no `\`).
pub fn unescape_value(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    Cow::Owned(out)
}

/// Appends `value` escaped for a tag.
pub fn escape_value(value: &str, out: &mut Vec<u8>) {
    for &b in value.as_bytes() {
        match b {
            b';' => out.extend_from_slice(b"\\:"),
            b' ' => out.extend_from_slice(b"\\s"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
