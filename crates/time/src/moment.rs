//! A moment in local time, broken down the way C's `struct tm` is, so the
//! strftime renderer can be a pure function of it.
//!
//! The time zone comes from jiff, which reads `TZ` (an IANA name, a path or a
//! POSIX rule such as `EST5EDT`) and otherwise `/etc/localtime`, the same
//! sources glibc's `localtime()` uses; so `%Z` prints the abbreviation Python
//! prints (`UTC`, `CET`, `EDT` …).

use std::time::SystemTime;

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// Local civil time at one instant, with everything strftime prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moment {
    /// Seconds since the Unix epoch (UTC).
    pub unix: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
    /// Year (proleptic Gregorian).
    pub year: i32,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–59.
    pub second: u8,
    /// Day of the week, 0 = Sunday … 6 = Saturday (C's `tm_wday`).
    pub weekday: u8,
    /// Day of the year, 1–366.
    pub yday: u16,
    /// ISO 8601 week-based year (`%G`).
    pub iso_year: i32,
    /// ISO 8601 week number, 1–53 (`%V`).
    pub iso_week: u8,
    /// Offset from UTC in seconds, east positive.
    pub offset_secs: i32,
    /// Time-zone abbreviation (`UTC`, `CEST`, `-03`).
    pub zone: String,
}

impl Moment {
    /// The current time in the system time zone.
    pub fn now() -> Moment {
        Moment::at(SystemTime::now(), &TimeZone::system())
    }

    /// `when` in the time zone `tz`. Instants jiff cannot represent (before
    /// year -9999 or after 9999) are clamped to its range.
    pub fn at(when: SystemTime, tz: &TimeZone) -> Moment {
        let ts = Timestamp::try_from(when).unwrap_or(if when < SystemTime::UNIX_EPOCH {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        });
        Moment::from_zoned(&Zoned::new(ts, tz.clone()))
    }

    /// Breaks down a jiff [`Zoned`].
    pub fn from_zoned(z: &Zoned) -> Moment {
        let ts = z.timestamp();
        let iso = z.date().iso_week_date();
        let info = z.time_zone().to_offset_info(ts);
        Moment {
            unix: ts.as_second(),
            nanos: ts.subsec_nanosecond().unsigned_abs(),
            year: i32::from(z.year()),
            month: z.month().unsigned_abs(),
            day: z.day().unsigned_abs(),
            hour: z.hour().unsigned_abs(),
            minute: z.minute().unsigned_abs(),
            second: z.second().unsigned_abs(),
            weekday: z.weekday().to_sunday_zero_offset().unsigned_abs(),
            yday: z.day_of_year().unsigned_abs(),
            iso_year: i32::from(iso.year()),
            iso_week: iso.week().unsigned_abs(),
            offset_secs: z.offset().seconds(),
            zone: info.abbreviation().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn breaks_down_a_known_instant() {
        // 2025-11-22 00:20:06 UTC, a Saturday.
        let when = SystemTime::UNIX_EPOCH + Duration::new(1_763_770_806, 123_456_789);
        let m = Moment::at(when, &TimeZone::UTC);
        assert_eq!((m.year, m.month, m.day, m.hour, m.minute, m.second), (2025, 11, 22, 0, 20, 6));
        assert_eq!((m.weekday, m.yday, m.iso_year, m.iso_week), (6, 326, 2025, 47));
        assert_eq!((m.offset_secs, m.zone.as_str(), m.nanos), (0, "UTC", 123_456_789));
    }

    #[test]
    fn posix_rule_zone_has_its_abbreviation() {
        let tz = TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap();
        let summer = SystemTime::UNIX_EPOCH + Duration::from_secs(1_751_328_000); // 2025-07-01
        let m = Moment::at(summer, &tz);
        assert_eq!((m.zone.as_str(), m.offset_secs), ("EDT", -4 * 3600));
    }
}
