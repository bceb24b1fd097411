//! Header negotiation: which content coding a client accepts
//! (`Accept-Encoding`), whether its cached copy is still good
//! (`If-None-Match`, `If-Modified-Since`), and whether the version it
//! expects is the current one (`If-Match`, `If-Unmodified-Since`).

use std::time::SystemTime;

/// A content coding we can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// Brotli (`br`).
    Brotli,
    /// Gzip (`gzip`).
    Gzip,
}

impl Coding {
    /// The token in `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
        }
    }

    /// The file-name suffix of a precompressed sibling.
    pub fn suffix(self) -> &'static str {
        match self {
            Coding::Brotli => ".br",
            Coding::Gzip => ".gz",
        }
    }
}

/// The codings a client accepts, best first (brotli wins ties: smaller).
pub fn accepted(header: &str) -> Vec<Coding> {
    let (mut br, mut gz, mut star) = (None, None, None);
    for item in header.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let mut q = 1.0f32;
        for p in parts {
            if let Some(v) = p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")) {
                q = v.trim().parse().unwrap_or(0.0);
            }
        }
        if name.eq_ignore_ascii_case("br") {
            br = Some(q);
        } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            gz = Some(q);
        } else if name == "*" {
            star = Some(q);
        }
    }
    let br = br.or(star).unwrap_or(0.0);
    let gz = gz.or(star).unwrap_or(0.0);
    let mut out = Vec::with_capacity(2);
    match (br > 0.0, gz > 0.0) {
        (true, true) if gz > br => out.extend([Coding::Gzip, Coding::Brotli]),
        (true, true) => out.extend([Coding::Brotli, Coding::Gzip]),
        (true, false) => out.push(Coding::Brotli),
        (false, true) => out.push(Coding::Gzip),
        (false, false) => {}
    }
    out
}

/// Whether an `If-None-Match` list matches `etag` (weak comparison, RFC 9110 §13.1.2).
pub fn none_match(header: &str, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let want = strip(etag);
    header.split(',').any(|t| t.trim() == "*" || strip(t) == want)
}

/// Whether an `If-Match` list matches `etag` (strong comparison, RFC 9110
/// §13.1.1: a weak tag on either side never matches; `*` matches any
/// current representation).
pub fn strong_match(header: &str, etag: &str) -> bool {
    let weak = |t: &str| t.starts_with("W/");
    header.split(',').map(str::trim).any(|t| t == "*" || (!weak(t) && !weak(etag) && t == etag.trim()))
}

/// `If-Unmodified-Since`: `Some(true)` when the file is unchanged since the
/// date, `None` when the date does not parse (the header is then ignored).
pub fn unmodified_since(header: &str, mtime: SystemTime) -> Option<bool> {
    let since = httpdate::parse_http_date(header.trim()).ok()?;
    Some(secs(mtime) <= secs(since))
}

/// Whether `If-Modified-Since` says the client's copy is current.
pub fn not_modified_since(header: &str, mtime: SystemTime) -> bool {
    match httpdate::parse_http_date(header.trim()) {
        // HTTP dates have whole seconds; compare at that precision.
        Ok(since) => secs(mtime) <= secs(since),
        Err(_) => false,
    }
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn accept_encoding() {
        assert_eq!(accepted("gzip, deflate, br"), [Coding::Brotli, Coding::Gzip]);
        assert_eq!(accepted("gzip"), [Coding::Gzip]);
        assert_eq!(accepted("br;q=0.5, gzip;q=0.9"), [Coding::Gzip, Coding::Brotli]);
        assert_eq!(accepted("br;q=0, gzip"), [Coding::Gzip]);
        assert_eq!(accepted("*"), [Coding::Brotli, Coding::Gzip]);
        assert_eq!(accepted("identity"), []);
        assert_eq!(accepted(""), []);
    }

    #[test]
    fn etags() {
        assert!(none_match("\"abc\"", "\"abc\""));
        assert!(none_match("\"x\", W/\"abc\"", "\"abc\""));
        assert!(none_match("*", "\"abc\""));
        assert!(!none_match("\"abd\"", "\"abc\""));
    }

    #[test]
    fn strong_etags() {
        assert!(strong_match("\"abc\"", "\"abc\""));
        assert!(strong_match("\"x\" , \"abc\"", "\"abc\""));
        assert!(strong_match("*", "\"abc\""));
        assert!(strong_match("*", "W/\"abc\""));
        assert!(!strong_match("W/\"abc\"", "\"abc\""));
        assert!(!strong_match("\"abc\"", "W/\"abc\""));
        assert!(!strong_match("\"abd\"", "\"abc\""));
        assert!(!strong_match("", "\"abc\""));
    }

    #[test]
    fn unmodified() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_500);
        assert_eq!(unmodified_since(&httpdate::fmt_http_date(t), t), Some(true));
        assert_eq!(unmodified_since(&httpdate::fmt_http_date(t - Duration::from_secs(5)), t), Some(false));
        assert_eq!(unmodified_since("soon", t), None);
    }

    #[test]
    fn modified_since() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_500);
        assert!(not_modified_since(&httpdate::fmt_http_date(t), t));
        assert!(!not_modified_since(&httpdate::fmt_http_date(t - Duration::from_secs(5)), t));
        assert!(!not_modified_since("yesterday", t));
    }
}
