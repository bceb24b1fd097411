//! Rendering validated directives, the way glibc does in the C locale.
//!
//! Every function here is total: the parser only lets through what is
//! handled below, and arithmetic is on values a [`Moment`] keeps in range.

use std::fmt::Write;

use super::{Flag, Spec};
use crate::moment::Moment;

const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Appends one directive.
pub(super) fn spec(spec: &Spec, m: &Moment, out: &mut String) {
    let Spec { conv, flag, width } = *spec;
    let width = usize::from(width);
    // Numbers: (value, minimum digits, pads with spaces by default).
    let number = |v: i64, digits: usize, space: bool, out: &mut String| pad_number(out, v, digits, space, flag, width);
    match conv {
        b'C' => number(i64::from(m.year.div_euclid(100)), 2, false, out),
        b'd' => number(m.day.into(), 2, false, out),
        b'e' => number(m.day.into(), 2, true, out),
        b'G' => number(m.iso_year.into(), 1, false, out),
        b'g' => number(m.iso_year.rem_euclid(100).into(), 2, false, out),
        b'H' => number(m.hour.into(), 2, false, out),
        b'I' => number(hour12(m).into(), 2, false, out),
        b'j' => number(m.yday.into(), 3, false, out),
        b'k' => number(m.hour.into(), 2, true, out),
        b'l' => number(hour12(m).into(), 2, true, out),
        b'm' => number(m.month.into(), 2, false, out),
        b'M' => number(m.minute.into(), 2, false, out),
        b'S' => number(m.second.into(), 2, false, out),
        b'u' => number(if m.weekday == 0 { 7 } else { m.weekday.into() }, 1, false, out),
        b'U' => number(week_number(m, m.weekday).into(), 2, false, out),
        b'V' => number(m.iso_week.into(), 2, false, out),
        b'w' => number(m.weekday.into(), 1, false, out),
        b'W' => number(week_number(m, (m.weekday + 6) % 7).into(), 2, false, out),
        b'y' => number(m.year.rem_euclid(100).into(), 2, false, out),
        b'Y' => number(m.year.into(), 1, false, out),
        b'a' => text(out, &name(&WEEKDAYS, m.weekday)[..3], flag, width, Case::Name),
        b'A' => text(out, name(&WEEKDAYS, m.weekday), flag, width, Case::Name),
        b'b' | b'h' => text(out, &name(&MONTHS, m.month - 1)[..3], flag, width, Case::Name),
        b'B' => text(out, name(&MONTHS, m.month - 1), flag, width, Case::Name),
        b'p' => text(out, if m.hour < 12 { "AM" } else { "PM" }, flag, width, Case::AmPm),
        b'P' => text(out, if m.hour < 12 { "am" } else { "pm" }, flag, width, Case::Fixed),
        b'Z' => text(out, &m.zone, flag, width, Case::AmPm),
        b'n' => text(out, "\n", flag, width, Case::Fixed),
        b't' => text(out, "\t", flag, width, Case::Fixed),
        b'%' => text(out, "%", flag, width, Case::Fixed),
        b's' => {
            let s = m.unix.to_string();
            text(out, &s, Flag::None, width, Case::Fixed)
        }
        b'z' => {
            let sign = if m.offset_secs < 0 { '-' } else { '+' };
            let mins = m.offset_secs.unsigned_abs() / 60;
            let _ = write!(out, "{sign}{:02}{:02}", mins / 60, mins % 60);
        }
        b'f' => {
            let _ = write!(out, "{:06}", m.nanos / 1000);
        }
        b'c' => {
            // glibc ignores the width of %c, and `#` leaves it alone.
            let s = composite(m, conv);
            let s = if flag == Flag::Upper { s.to_uppercase() } else { s };
            out.push_str(&s);
        }
        _ => {
            // %D %F %r %R %T %x %X: digits, colons and AM/PM, so case flags
            // change nothing; the width pads the whole.
            let s = composite(m, conv);
            text(out, &s, flag, width, Case::Fixed);
        }
    }
}

fn name(names: &[&'static str], index: u8) -> &'static str {
    names.get(usize::from(index)).copied().unwrap_or("?")
}

fn hour12(m: &Moment) -> u8 {
    match m.hour % 12 {
        0 => 12,
        h => h,
    }
}

/// `%U` (weeks start on Sunday) and `%W` (on Monday): days before the first
/// such day of the year are in week 0. `days_since_start` is how far today is
/// past the week's first day.
fn week_number(m: &Moment, days_since_start: u8) -> u16 {
    (m.yday - 1 + 7 - u16::from(days_since_start)) / 7
}

/// The longer format a composite conversion stands for, rendered.
fn composite(m: &Moment, conv: u8) -> String {
    let (h, mi, s) = (m.hour, m.minute, m.second);
    let y2 = m.year.rem_euclid(100);
    match conv {
        b'c' => format!(
            "{} {} {:>2} {h:02}:{mi:02}:{s:02} {}",
            &name(&WEEKDAYS, m.weekday)[..3],
            &name(&MONTHS, m.month - 1)[..3],
            m.day,
            m.year
        ),
        b'D' | b'x' => format!("{:02}/{:02}/{y2:02}", m.month, m.day),
        b'F' => format!("{}-{:02}-{:02}", m.year, m.month, m.day),
        b'r' => format!("{:02}:{mi:02}:{s:02} {}", hour12(m), if h < 12 { "AM" } else { "PM" }),
        b'R' => format!("{h:02}:{mi:02}"),
        _ => format!("{h:02}:{mi:02}:{s:02}"), // T, X
    }
}

/// How `^` and `#` change a word.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Case {
    /// Day and month names: both flags upper-case.
    Name,
    /// `%p`, `%Z`: `^` upper-cases, `#` lower-cases.
    AmPm,
    /// Unaffected.
    Fixed,
}

/// Appends a word, case-changed per the flag, padded on the left to `width`
/// (with zeros under `0`, else spaces).
fn text(out: &mut String, s: &str, flag: Flag, width: usize, case: Case) {
    let s = match (case, flag) {
        (Case::Name | Case::AmPm, Flag::Upper) | (Case::Name, Flag::Swap) => s.to_uppercase(),
        (Case::AmPm, Flag::Swap) => s.to_lowercase(),
        _ => s.to_string(),
    };
    let fill = if flag == Flag::Zero { '0' } else { ' ' };
    out.extend(std::iter::repeat_n(fill, width.saturating_sub(s.chars().count())));
    out.push_str(&s);
}

/// Appends a number glibc-style: padded to `digits` (or `width` if larger)
/// with zeros, or spaces for `_` and the space-padded conversions; `-` pads
/// only to `width`, with spaces.
fn pad_number(out: &mut String, v: i64, digits: usize, space: bool, flag: Flag, width: usize) {
    let body = v.unsigned_abs().to_string();
    let sign = if v < 0 { "-" } else { "" };
    let len = body.len() + sign.len();
    let zeros = match flag {
        Flag::Zero => true,
        Flag::Space | Flag::NoPad => false,
        Flag::None | Flag::Upper | Flag::Swap => !space,
    };
    let target = if flag == Flag::NoPad { width } else { digits.max(width) };
    let fill = target.saturating_sub(len);
    if zeros {
        out.push_str(sign);
        out.extend(std::iter::repeat_n('0', fill));
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(sign);
    }
    out.push_str(&body);
}
