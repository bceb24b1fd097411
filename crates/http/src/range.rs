//! `Range: bytes=…` (RFC 9110 §14): one range is served as 206, several are
//! answered with the whole file (allowed, and it keeps multipart out), a
//! syntactically bad header is ignored, an unsatisfiable one is 416.

/// What a `Range` header asks of a representation of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAsk {
    /// Send everything (no header, bad syntax, several ranges).
    Full,
    /// Send bytes `start..end` (end exclusive, never empty).
    Part {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// No byte of the ranges exists: 416.
    Unsatisfiable,
}

/// Parses a `Range` header value against a length.
pub fn parse(header: &str, len: u64) -> RangeAsk {
    let Some(spec) = header.trim().strip_prefix("bytes=") else { return RangeAsk::Full };
    if spec.contains(',') {
        return RangeAsk::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return RangeAsk::Full };
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Too many digits for u64 means "past the end".
        Some(s.parse().unwrap_or(u64::MAX))
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // bytes=-N: the last N bytes.
        return match num(last) {
            Some(0) => RangeAsk::Unsatisfiable,
            Some(_) if len == 0 => RangeAsk::Unsatisfiable,
            Some(n) => RangeAsk::Part { start: len.saturating_sub(n), end: len },
            None => RangeAsk::Full,
        };
    }
    let Some(start) = num(first) else { return RangeAsk::Full };
    let end = if last.is_empty() {
        len
    } else {
        match num(last) {
            Some(l) if l >= start => l.saturating_add(1).min(len),
            _ => return RangeAsk::Full,
        }
    };
    if start >= len {
        RangeAsk::Unsatisfiable
    } else {
        RangeAsk::Part { start, end }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn forms() {
        assert_eq!(parse("bytes=0-9", 100), RangeAsk::Part { start: 0, end: 10 });
        assert_eq!(parse("bytes=90-", 100), RangeAsk::Part { start: 90, end: 100 });
        assert_eq!(parse("bytes=-5", 100), RangeAsk::Part { start: 95, end: 100 });
        assert_eq!(parse("bytes=-500", 100), RangeAsk::Part { start: 0, end: 100 });
        assert_eq!(parse("bytes=50-5000", 100), RangeAsk::Part { start: 50, end: 100 });
        assert_eq!(parse("bytes=100-", 100), RangeAsk::Unsatisfiable);
        assert_eq!(parse("bytes=200-300", 100), RangeAsk::Unsatisfiable);
        assert_eq!(parse("bytes=-0", 100), RangeAsk::Unsatisfiable);
        assert_eq!(parse("bytes=0-1,5-6", 100), RangeAsk::Full);
        assert_eq!(parse("bytes=9-1", 100), RangeAsk::Full);
        assert_eq!(parse("items=0-1", 100), RangeAsk::Full);
        assert_eq!(parse("bytes=a-b", 100), RangeAsk::Full);
        assert_eq!(parse("bytes=-", 100), RangeAsk::Full);
        assert_eq!(parse("bytes=99999999999999999999999-", 100), RangeAsk::Unsatisfiable);
    }

    proptest! {
        #[test]
        fn any_text_is_handled(h in "\\PC*", len in 0u64..5000) {
            if let RangeAsk::Part { start, end } = parse(&h, len) {
                prop_assert!(start < end && end <= len);
            }
        }

        #[test]
        fn parts_are_inside(h in "bytes=[0-9]{0,4}-[0-9]{0,4}", len in 0u64..5000) {
            if let RangeAsk::Part { start, end } = parse(&h, len) {
                prop_assert!(start < end && end <= len);
            }
        }
    }
}
