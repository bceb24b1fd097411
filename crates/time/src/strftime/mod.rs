//! The strftime service: a datagram holding a format gets the local time
//! formatted with it.
//!
//! Formats behave as Python's `time.strftime` does on Linux (glibc, C
//! locale): every conversion glibc knows (`%a %A %b %B %c %C %d %D %e %F %g
//! %G %h %H %I %j %k %l %m %M %n %p %P %r %R %s %S %t %T %u %U %V %w %W %x %X
//! %y %Y %z %Z %%`), the flags `- _ 0 ^ #`, a field width, and the `E`/`O`
//! modifiers; plus `%f` (microseconds, six digits) from Python's
//! `datetime.strftime`. Formatting is a two-step affair — [`Format::parse`]
//! validates, [`Format::render`] cannot fail — so no input reaches a
//! formatter that might panic.

mod parse;
mod render;
mod reply;

pub use reply::{answer, pad_request, padding_asked};

use crate::moment::Moment;

/// Longest format accepted, in bytes. Bounds the rendered text as well: no
/// directive prints more than [`MAX_WIDTH`] bytes from at least 2, so a
/// rendering stays under 16 KiB (what is sent is capped tighter, see
/// [`answer`]).
pub const MAX_FORMAT: usize = 512;
/// Largest field width (`%64d`).
pub const MAX_WIDTH: usize = 64;
/// The format used for an empty datagram (Python's default-looking date
/// and time: `2026-11-22 00:20:06`).
pub const DEFAULT_FORMAT: &str = "%Y-%m-%d %X";

/// Why a format was refused. The text follows `error: ` in the reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Longer than [`MAX_FORMAT`].
    #[error("format is {0} bytes; the limit is {MAX_FORMAT}")]
    TooLong(usize),
    /// Not valid UTF-8.
    #[error("format is not valid UTF-8")]
    NotUtf8,
    /// Contains a NUL byte (Python refuses these too).
    #[error("format contains a NUL byte")]
    Nul,
    /// A `%` at the very end.
    #[error("format ends with a lone '%' (write %% for a percent sign)")]
    LonePercent,
    /// A directive cut off after its flag, width or modifier.
    #[error("incomplete directive {0:?} at the end of the format")]
    Incomplete(String),
    /// A conversion letter strftime does not know.
    #[error("unknown directive {0:?} (write %% for a percent sign)")]
    Unknown(String),
    /// Two flags in one directive.
    #[error("directive {0:?} has more than one flag (one of - _ 0 ^ #)")]
    TwoFlags(String),
    /// A width over [`MAX_WIDTH`].
    #[error("width in {0:?} is over {MAX_WIDTH}")]
    Width(String),
    /// `E` or `O` on a conversion that has no alternative form.
    #[error("modifier in {0:?} is not allowed there (E goes with c C x X y Y, O with d e H I m M S u U V w W y)")]
    Modifier(String),
    /// Flags or width on `%z`, `%f` (or flags on `%s`).
    #[error("directive {0:?} takes no flags or width")]
    NoFlags(String),
}

/// A padding or case flag (glibc's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// No flag: numbers padded with zeros (spaces for `%e %k %l`).
    None,
    /// `-`: no padding.
    NoPad,
    /// `_`: pad with spaces.
    Space,
    /// `0`: pad with zeros.
    Zero,
    /// `^`: upper case.
    Upper,
    /// `#`: swap case (upper for names, lower for `%p` and `%Z`).
    Swap,
}

impl Flag {
    fn from_byte(b: u8) -> Option<Flag> {
        Some(match b {
            b'-' => Flag::NoPad,
            b'_' => Flag::Space,
            b'0' => Flag::Zero,
            b'^' => Flag::Upper,
            b'#' => Flag::Swap,
            _ => return None,
        })
    }
}

/// One validated directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// The conversion letter (`Y`, `m`, …), known to be valid.
    pub conv: u8,
    /// The flag, if any.
    pub flag: Flag,
    /// Minimum field width (0: none).
    pub width: u8,
}

/// A piece of a format: text copied as is, or a directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// Literal text.
    Literal(String),
    /// A directive.
    Spec(Spec),
}

/// A validated format, ready to render any number of times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    items: Vec<Item>,
}

impl Format {
    /// Validates `format`; an error says what is wrong and where.
    pub fn parse(format: &str) -> Result<Format, FormatError> {
        parse::parse(format).map(|items| Format { items })
    }

    /// Validates a format given as bytes (a datagram).
    pub fn parse_bytes(format: &[u8]) -> Result<Format, FormatError> {
        if format.len() > MAX_FORMAT {
            return Err(FormatError::TooLong(format.len()));
        }
        Format::parse(std::str::from_utf8(format).map_err(|_| FormatError::NotUtf8)?)
    }

    /// The format's pieces.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// Appends `moment` formatted to `out`. Never fails, never panics.
    pub fn render(&self, moment: &Moment, out: &mut String) {
        for item in &self.items {
            match item {
                Item::Literal(s) => out.push_str(s),
                Item::Spec(spec) => render::spec(spec, moment, out),
            }
        }
    }

    /// `moment` formatted, as a new string.
    pub fn format(&self, moment: &Moment) -> String {
        let mut out = String::new();
        self.render(moment, &mut out);
        out
    }
}

#[cfg(test)]
mod tests;
