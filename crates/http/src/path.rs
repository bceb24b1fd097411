//! Request paths → safe relative paths under the served folder.
//!
//! The rules, in order (why: every check must see what the file system will
//! see, so decoding comes first and nothing is decoded twice):
//! 1. the raw path must start with `/`;
//! 2. percent-decode once (a `%25` stays a literal `%`: double encoding is a
//!    file name with a percent sign, never a second chance at `..`);
//! 3. the bytes must be valid UTF-8 — overlong forms such as `%c0%ae` are
//!    invalid UTF-8 and refused;
//! 4. NUL, other control bytes and backslashes are refused;
//! 5. empty and `.` segments collapse, a `..` segment is refused (never
//!    normalised: a path that needs `..` is not a path we serve).
//!
//! The result is `a/b/c` with no leading slash, no empty segment, no `.`/`..`.

use std::borrow::Cow;

use percent_encoding::percent_decode;

/// Why a request path was refused (all answered with 400 Bad Request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Not an origin-form path (`/…`).
    #[error("the path must start with /")]
    NotAbsolute,
    /// The decoded bytes are not UTF-8 (overlong forms included).
    #[error("the path is not valid UTF-8 once decoded")]
    NotUtf8,
    /// NUL, a control byte or a backslash.
    #[error("the path holds a forbidden character")]
    BadChar,
    /// A `..` segment.
    #[error("the path climbs out with ..")]
    DotDot,
}

/// A cleaned request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanPath<'a> {
    /// `a/b/c`: segments joined by single slashes, no leading slash; empty for
    /// the root.
    pub rel: Cow<'a, str>,
    /// Whether the request ended with `/` (a directory was asked for).
    pub trailing_slash: bool,
}

impl CleanPath<'_> {
    /// The segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.rel.split('/').filter(|s| !s.is_empty())
    }

    /// Whether any segment is a dotfile name (`.git`, `.env`).
    pub fn has_hidden(&self) -> bool {
        self.segments().any(|s| s.starts_with('.'))
    }
}

/// Cleans a raw request path (without the query string).
pub fn clean(raw: &str) -> Result<CleanPath<'_>, PathError> {
    let rest = raw.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
    let trailing_slash = rest.is_empty() || rest.ends_with('/');
    let decoded: Cow<'_, [u8]> = percent_decode(rest.as_bytes()).into();
    let text = match decoded {
        Cow::Borrowed(b) => Cow::Borrowed(std::str::from_utf8(b).map_err(|_| PathError::NotUtf8)?),
        Cow::Owned(v) => Cow::Owned(String::from_utf8(v).map_err(|_| PathError::NotUtf8)?),
    };
    if text.bytes().any(|b| b < 0x20 || b == 0x7f || b == b'\\') {
        return Err(PathError::BadChar);
    }
    let mut needs_rebuild = text.ends_with('/');
    for seg in text.split('/') {
        match seg {
            ".." => return Err(PathError::DotDot),
            "" | "." => needs_rebuild = true,
            _ => {}
        }
    }
    if !needs_rebuild {
        return Ok(CleanPath { rel: text, trailing_slash });
    }
    let mut out = String::with_capacity(text.len());
    for seg in text.split('/').filter(|s| !s.is_empty() && *s != ".") {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(seg);
    }
    Ok(CleanPath { rel: Cow::Owned(out), trailing_slash })
}

/// Characters escaped when a clean path goes back into a URL (`Location`,
/// listing links): everything but unreserved characters and `/`.
const URL_PATH: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes a path (or one segment) for use inside a URL.
pub fn encode(path: &str) -> String {
    percent_encoding::utf8_percent_encode(path, URL_PATH).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(raw: &str) -> String {
        clean(raw).unwrap().rel.into_owned()
    }

    #[test]
    fn plain_paths_pass_through() {
        assert_eq!(ok("/"), "");
        assert_eq!(ok("/a/b.txt"), "a/b.txt");
        assert_eq!(ok("//a//./b/"), "a/b");
        assert!(clean("/a/").unwrap().trailing_slash);
        assert_eq!(ok("/h%C3%A9llo%20w"), "héllo w");
        assert_eq!(ok("/%252e%252e/x"), "%2e%2e/x");
        assert!(matches!(clean("/plain").unwrap().rel, Cow::Borrowed(_)));
    }

    #[test]
    fn escapes_are_refused() {
        for raw in [
            "/..",
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/x",
            "/%2E%2E%2Fetc",
            "/a/%2e%2e%2f%2e%2e%2fetc",
            "/.%2e/x",
            "/%2e./x",
            "/..%2fx",
            "/a%2f..%2f..%2fb",
        ] {
            assert_eq!(clean(raw), Err(PathError::DotDot), "{raw}");
        }
        for raw in ["/a%00b", "/a\\..\\b", "/%5c..%5cb", "/a%0d%0ab", "/x%7f"] {
            assert_eq!(clean(raw), Err(PathError::BadChar), "{raw}");
        }
        for raw in ["/%c0%ae%c0%ae/x", "/%c0%af", "/%e0%80%ae", "/%ff"] {
            assert_eq!(clean(raw), Err(PathError::NotUtf8), "{raw}");
        }
        assert_eq!(clean("x"), Err(PathError::NotAbsolute));
        assert_eq!(clean(""), Err(PathError::NotAbsolute));
    }

    #[test]
    fn hidden_segments_are_seen() {
        assert!(clean("/a/.git/config").unwrap().has_hidden());
        assert!(clean("/%2eenv").unwrap().has_hidden());
        assert!(!clean("/a.b/c").unwrap().has_hidden());
    }

    #[test]
    fn encode_round_trips() {
        let name = "a b/ü?#%.txt";
        assert_eq!(encode(name), "a%20b/%C3%BC%3F%23%25.txt");
        assert_eq!(ok(&format!("/{}", encode(name))), name);
    }

    proptest! {
        #[test]
        fn clean_output_is_always_safe(raw in "/[a-zA-Z0-9./%\\\\ _-]{0,40}") {
            if let Ok(p) = clean(&raw) {
                prop_assert!(!p.rel.starts_with('/'));
                prop_assert!(!p.rel.contains('\\') && !p.rel.contains('\0'));
                for seg in p.rel.split('/') {
                    prop_assert!(seg != ".." && seg != ".");
                    prop_assert!(!seg.is_empty() || p.rel.is_empty());
                }
            }
        }

        #[test]
        fn any_text_is_handled(raw in "\\PC*") {
            let _ = clean(&raw);
            let _ = clean(&format!("/{raw}"));
        }

        #[test]
        fn clean_is_idempotent(raw in "/[a-z./]{0,30}") {
            if let Ok(p) = clean(&raw) {
                let raw2 = format!("/{}", encode(&p.rel));
                let again = clean(&raw2).unwrap();
                prop_assert_eq!(again.rel, p.rel);
            }
        }
    }
}
