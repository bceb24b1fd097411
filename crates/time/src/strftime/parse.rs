//! Validating a strftime format into [`Item`]s.
//!
//! The grammar is glibc's: `%` [flag] [width] [`E`|`O`] conversion. What
//! glibc would copy through unchanged (an unknown conversion such as `%Q`, a
//! lone `%`) is an error here instead, so a typo gets an answer that says
//! so rather than a string that looks right.

use super::{Flag, FormatError, Item, Spec, MAX_FORMAT, MAX_WIDTH};

/// Conversions that print a number (padding flags apply).
pub(super) const NUMERIC: &[u8] = b"CdeGgHIjklmMSuUVwWyY";
/// Conversions that print a word or a fixed character.
pub(super) const TEXT: &[u8] = b"aAbBhpPZnt%";
/// Conversions that stand for a longer format (`%c`, `%D`, …).
pub(super) const COMPOSITE: &[u8] = b"cDFrRTxX";
/// Conversions after which `E` is allowed (POSIX; same output in the C locale).
const WITH_E: &[u8] = b"cCxXyY";
/// Conversions after which `O` is allowed (POSIX; same output in the C locale).
const WITH_O: &[u8] = b"deHImMSuUVwWy";

/// Parses and validates `format`.
pub(super) fn parse(format: &str) -> Result<Vec<Item>, FormatError> {
    if format.len() > MAX_FORMAT {
        return Err(FormatError::TooLong(format.len()));
    }
    if format.contains('\0') {
        return Err(FormatError::Nul);
    }
    let bytes = format.as_bytes();
    let mut items = Vec::new();
    let mut literal_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            i += 1;
            continue;
        }
        if literal_start < i {
            items.push(Item::Literal(format[literal_start..i].to_string()));
        }
        let (spec, next) = directive(format, i)?;
        items.push(Item::Spec(spec));
        i = next;
        literal_start = i;
    }
    if literal_start < bytes.len() {
        items.push(Item::Literal(format[literal_start..].to_string()));
    }
    Ok(items)
}

/// Parses the directive starting at `start` (a `%`); returns it and the index
/// after it.
fn directive(format: &str, start: usize) -> Result<(Spec, usize), FormatError> {
    let bytes = format.as_bytes();
    let mut i = start + 1;
    // The directive's text so far, for error messages (whole characters).
    let text = |end: usize| -> String {
        let end = (start + 1..=format.len()).find(|&e| e >= end && format.is_char_boundary(e)).unwrap_or(format.len());
        format[start..end].to_string()
    };
    let flag = match bytes.get(i).and_then(|&b| Flag::from_byte(b)) {
        Some(f) => {
            i += 1;
            f
        }
        None => Flag::None,
    };
    if bytes.get(i).is_some_and(|&b| Flag::from_byte(b).is_some()) {
        return Err(FormatError::TwoFlags(text(i + 1)));
    }
    let digits_start = i;
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let width = if i > digits_start {
        // Up to MAX_WIDTH; longer digit strings are rejected before parsing.
        let n = if i - digits_start > 3 { usize::MAX } else { format[digits_start..i].parse().unwrap_or(usize::MAX) };
        if n > MAX_WIDTH {
            return Err(FormatError::Width(text(i + 1)));
        }
        n
    } else {
        0
    };
    let modifier = match bytes.get(i) {
        Some(&m @ (b'E' | b'O')) => {
            i += 1;
            Some(m)
        }
        _ => None,
    };
    let Some(&conv) = bytes.get(i) else {
        return Err(if i == start + 1 { FormatError::LonePercent } else { FormatError::Incomplete(text(i)) });
    };
    let end = i + 1;
    let known = NUMERIC.contains(&conv)
        || TEXT.contains(&conv)
        || COMPOSITE.contains(&conv)
        || matches!(conv, b's' | b'z' | b'f');
    if !known {
        return Err(FormatError::Unknown(text(end)));
    }
    match modifier {
        Some(b'E') if !WITH_E.contains(&conv) => return Err(FormatError::Modifier(text(end))),
        Some(b'O') if !WITH_O.contains(&conv) => return Err(FormatError::Modifier(text(end))),
        _ => {}
    }
    // glibc's results for flags on these are surprising (`%-z` is `+0`),
    // so only the plain form is offered.
    let plain_only = match conv {
        b'z' | b'f' => flag != Flag::None || width > 0,
        b's' => flag != Flag::None,
        _ => false,
    };
    if plain_only {
        return Err(FormatError::NoFlags(text(end)));
    }
    Ok((Spec { conv, flag, width: width as u8 }, end))
}
