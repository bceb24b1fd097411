//! The daytime protocol (RFC 867): one human-readable line with the date and
//! time, then (over TCP) the server closes.
//!
//! RFC 867 leaves the format open; sockit sends the C library's `ctime()`
//! form that inetd's built-in daytime service sends, plus the zone name, and
//! ends the line with CRLF as RFC 867's examples do:
//! `Sun Nov 22 00:20:06 2026 UTC\r\n`. `--daytime-format` changes it.

use crate::moment::Moment;
use crate::strftime::{Format, FormatError};

/// The default line format (strftime), without the line ending.
pub const DEFAULT_FORMAT: &str = "%a %b %e %H:%M:%S %Y %Z";

/// Renders daytime lines with a validated format.
#[derive(Debug, Clone)]
pub struct Daytime {
    format: Format,
}

impl Daytime {
    /// A daytime renderer with `format` (strftime, validated here).
    pub fn new(format: &str) -> Result<Daytime, FormatError> {
        Ok(Daytime { format: Format::parse(format)? })
    }

    /// The line for `moment`, CRLF-terminated.
    pub fn line(&self, moment: &Moment) -> String {
        let mut s = self.format.format(moment);
        s.push_str("\r\n");
        s
    }
}

impl Default for Daytime {
    fn default() -> Self {
        Daytime::new(DEFAULT_FORMAT).expect("the default daytime format is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn ctime_form_with_zone() {
        let m = Moment::at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_762_646_400), &jiff::tz::TimeZone::UTC);
        assert_eq!(Daytime::default().line(&m), "Sun Nov  9 00:00:00 2025 UTC\r\n");
        assert!(Daytime::new("%Q").is_err());
    }
}
