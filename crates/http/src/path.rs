//! Request paths → safe relative paths under the served folder.
//!
//! The rules, in order (why: every check must see what the file system will
//! see, so decoding comes first and nothing is decoded twice):
//! 1. the raw path must start with `/`;
//! 2. percent-decode once (a `%25` stays a literal `%`: double encoding is a
//!    file name with a percent sign, never a second chance at `..`);
//! 3. NUL is refused (no file name holds one);
//! 4. empty and `.` segments collapse, a `..` segment is refused (never
//!    normalised: a path that needs `..` is not a path we serve).
//!
//! The result is raw bytes, `a/b/c` with no leading slash, no empty segment,
//! no `.`/`..`. They need not be UTF-8 and may hold controls or a
//! backslash: on Unix a file name is any bytes but `/` and NUL, and the
//! kernel gives no other byte a meaning (an overlong `%c0%ae` is two odd
//! bytes, not a dot). So every name a listing shows can be asked for, as
//! `python -m http.server` does; the bytes are escaped wherever they are
//! shown ([`sockit_net::text::escape_untrusted_bytes`]).

use std::borrow::Cow;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use percent_encoding::percent_decode;

/// Why a request path was refused (all answered with 400 Bad Request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Not an origin-form path (`/…`).
    #[error("the path must start with /")]
    NotAbsolute,
    /// A NUL byte.
    #[error("the path holds a NUL byte")]
    BadChar,
    /// A `..` segment.
    #[error("the path climbs out with ..")]
    DotDot,
}

/// A cleaned request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanPath<'a> {
    /// `a/b/c`: segments joined by single slashes, no leading slash; empty for
    /// the root. Raw bytes (not necessarily UTF-8).
    pub rel: Cow<'a, [u8]>,
    /// Whether the request ended with `/` (a directory was asked for).
    pub trailing_slash: bool,
}

impl CleanPath<'_> {
    /// The segments.
    pub fn segments(&self) -> impl Iterator<Item = &[u8]> {
        self.rel.split(|&b| b == b'/').filter(|s| !s.is_empty())
    }

    /// Whether any segment is a dotfile name (`.git`, `.env`).
    pub fn has_hidden(&self) -> bool {
        self.segments().any(|s| s.starts_with(b"."))
    }

    /// The path relative to the served folder.
    pub fn as_path(&self) -> &Path {
        Path::new(OsStr::from_bytes(&self.rel))
    }

    /// A text key naming exactly these bytes: the path itself when it is
    /// UTF-8, else a form no UTF-8 path can take (a leading NUL, which no
    /// clean path holds, then the percent-encoded bytes).
    pub fn key(&self) -> Cow<'_, str> {
        match std::str::from_utf8(&self.rel) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => Cow::Owned(format!("\0bytes {}", encode(&self.rel))),
        }
    }
}

/// Cleans a raw request path (without the query string).
pub fn clean(raw: &str) -> Result<CleanPath<'_>, PathError> {
    let rest = raw.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
    let trailing_slash = rest.is_empty() || rest.ends_with('/');
    let bytes: Cow<'_, [u8]> = percent_decode(rest.as_bytes()).into();
    if bytes.contains(&0) {
        return Err(PathError::BadChar);
    }
    let mut needs_rebuild = bytes.ends_with(b"/");
    for seg in bytes.split(|&b| b == b'/') {
        match seg {
            b".." => return Err(PathError::DotDot),
            b"" | b"." => needs_rebuild = true,
            _ => {}
        }
    }
    if !needs_rebuild {
        return Ok(CleanPath { rel: bytes, trailing_slash });
    }
    let mut out = Vec::with_capacity(bytes.len());
    for seg in bytes.split(|&b| b == b'/').filter(|s| !s.is_empty() && *s != b".") {
        if !out.is_empty() {
            out.push(b'/');
        }
        out.extend_from_slice(seg);
    }
    Ok(CleanPath { rel: Cow::Owned(out), trailing_slash })
}

/// Characters escaped when a clean path goes back into a URL (`Location`,
/// listing links): everything but unreserved characters and `/`.
const URL_PATH: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes a path (or one segment), any bytes, for use inside a URL.
pub fn encode(path: &[u8]) -> String {
    percent_encoding::percent_encode(path, URL_PATH).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(raw: &str) -> String {
        String::from_utf8(clean(raw).unwrap().rel.into_owned()).unwrap()
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
        for raw in ["/a%00b", "/%00", "/x/%00/y"] {
            assert_eq!(clean(raw), Err(PathError::BadChar), "{raw}");
        }
        assert_eq!(clean("x"), Err(PathError::NotAbsolute));
        assert_eq!(clean(""), Err(PathError::NotAbsolute));
    }

    #[test]
    fn any_bytes_but_nul_are_a_name() {
        // Not UTF-8, overlong forms, controls, backslashes: odd names, kept
        // as the bytes they are (none of them is a separator or a dot).
        for (raw, bytes) in [
            ("/caf%e9.txt", &b"caf\xe9.txt"[..]),
            ("/%c0%ae%c0%ae/x", b"\xc0\xae\xc0\xae/x"),
            ("/%ff", b"\xff"),
            ("/a%0d%0ab", b"a\r\nb"),
            ("/x%7f", b"x\x7f"),
            ("/a\\..\\b", b"a\\..\\b"),
            ("/%5c..%5cb", b"\\..\\b"),
        ] {
            assert_eq!(&*clean(raw).unwrap().rel, bytes, "{raw}");
        }
        let p = clean("/a/%ff").unwrap();
        assert_eq!(p.key(), "\0bytes a/%FF");
        assert_eq!(clean("/a/b").unwrap().key(), "a/b");
        assert_eq!(p.as_path(), Path::new(OsStr::from_bytes(b"a/\xff")));
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
        assert_eq!(encode(name.as_bytes()), "a%20b/%C3%BC%3F%23%25.txt");
        assert_eq!(ok(&format!("/{}", encode(name.as_bytes()))), name);
        assert_eq!(encode(b"\xff\n"), "%FF%0A");
    }

    proptest! {
        #[test]
        fn clean_output_is_always_safe(raw in "/[a-zA-Z0-9./%\\\\ _-]{0,40}") {
            if let Ok(p) = clean(&raw) {
                prop_assert!(!p.rel.starts_with(b"/"));
                prop_assert!(!p.rel.contains(&0));
                for seg in p.rel.split(|&b| b == b'/') {
                    prop_assert!(seg != b".." && seg != b".");
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
        fn clean_is_idempotent(raw in "/[a-z./%0-9a-fA-F]{0,30}") {
            if let Ok(p) = clean(&raw) {
                let raw2 = format!("/{}", encode(&p.rel));
                let again = clean(&raw2).unwrap();
                prop_assert_eq!(again.rel, p.rel);
            }
        }
    }
}
