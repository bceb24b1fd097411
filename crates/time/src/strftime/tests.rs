//! Unit and property tests of the strftime validator and renderer.
//!
//! `golden.jsonl` holds Python's own answers: for four time zones, eleven
//! instants and ~110 formats, `time.strftime(format, time.localtime(unix))`
//! under `TZ=tz` (Python 3.11, glibc 2.36). Regenerate with
//! `gen_golden.py` beside this file if formats are added.

use std::time::{Duration, SystemTime};

use jiff::tz::TimeZone;
use proptest::prelude::*;

use super::*;

fn moment(unix: i64, tz: &TimeZone) -> Moment {
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(unix.unsigned_abs());
    Moment::at(when, tz)
}

fn zone(name: &str) -> TimeZone {
    if name.contains(',') {
        TimeZone::posix(name).unwrap()
    } else {
        TimeZone::get(name).unwrap()
    }
}

/// Pulls `"key": "value"` / `"key": 123` out of one golden line (a JSON
/// object of four flat fields, written by Python's json.dumps).
fn field(line: &str, key: &str) -> String {
    let start = line.find(&format!("\"{key}\": ")).unwrap() + key.len() + 4;
    let rest = &line[start..];
    if let Some(rest) = rest.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return out,
                '\\' => match chars.next().unwrap() {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    other => out.push(other),
                },
                c => out.push(c),
            }
        }
        panic!("unterminated string in {line}");
    }
    rest.split([',', '}']).next().unwrap().trim().to_string()
}

#[test]
fn matches_python_time_strftime() {
    let golden = include_str!("golden.jsonl");
    let mut checked = 0;
    let mut failures = Vec::new();
    for line in golden.lines() {
        let (tz, unix, fmt, want) =
            (field(line, "tz"), field(line, "unix"), field(line, "format"), field(line, "python"));
        let m = moment(unix.parse().unwrap(), &zone(&tz));
        let got = Format::parse(&fmt).unwrap_or_else(|e| panic!("{fmt:?} refused: {e}")).format(&m);
        if got != want {
            failures.push(format!("{tz} {unix} {fmt:?}: sockit {got:?}, python {want:?}"));
        }
        checked += 1;
    }
    assert!(checked > 4000, "golden file too short: {checked}");
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn refuses_what_glibc_would_copy_through() {
    for (fmt, why) in [
        ("%", "lone '%'"),
        ("abc%", "lone '%'"),
        ("%Q", "unknown directive \"%Q\""),
        ("%+4Y", "unknown directive \"%+\""),
        ("%-", "incomplete"),
        ("%5", "incomplete"),
        ("%E", "incomplete"),
        ("%:z", "unknown directive \"%:\""),
        ("%-^a", "more than one flag"),
        ("%65d", "over 64"),
        ("%1000000d", "over 64"),
        ("%Ea", "modifier"),
        ("%OY", "modifier"),
        ("%-z", "takes no flags"),
        ("%10f", "takes no flags"),
        ("%0s", "takes no flags"),
        ("%é", "unknown directive \"%é\""),
        ("a\0b", "NUL"),
    ] {
        let err = Format::parse(fmt).unwrap_err().to_string();
        assert!(err.contains(why), "{fmt:?}: {err:?} should mention {why:?}");
    }
    let long = "%c".repeat(1024);
    assert_eq!(Format::parse(&long).unwrap_err(), FormatError::TooLong(2048));
    assert_eq!(Format::parse_bytes(b"\xff%Y").unwrap_err(), FormatError::NotUtf8);
}

#[test]
fn microseconds_as_python_datetime() {
    let when = SystemTime::UNIX_EPOCH + Duration::new(1_763_770_806, 4_567_891);
    let m = Moment::at(when, &TimeZone::UTC);
    assert_eq!(Format::parse("%S.%f").unwrap().format(&m), "06.004567");
}

#[test]
fn answer_defaults_errors_and_line_endings() {
    let m = moment(1_763_770_806, &TimeZone::UTC);
    let ask = |d: &[u8]| {
        let mut r = Vec::new();
        answer(d, &m, &mut r);
        String::from_utf8(r).unwrap()
    };
    assert_eq!(ask(b""), "2025-11-22 00:20:06");
    assert_eq!(ask(b"\n"), "2025-11-22 00:20:06\n");
    assert_eq!(ask(b"%H:%M\r\n"), "00:20\r\n");
    assert_eq!(ask(b"%Q"), "error: unknown directive \"%Q\"", "short form: the full one is over the cap");
    assert_eq!(ask(b"%Q\0\0\0\0\0\0\0\0\0\0\0\0\0\0"), "error: unknown directive \"%Q\" (write %% for a percent sign)");
    assert!(ask(b"%").starts_with("error: "));
    assert!(ask(&b"%c".repeat(1024)).starts_with("error: format is 2048 bytes"));
}

#[test]
fn answers_are_capped_and_padding_lifts_the_cap() {
    let m = moment(1_763_770_806, &TimeZone::UTC);
    let ask = |d: &[u8]| {
        let mut r = Vec::new();
        answer(d, &m, &mut r);
        r
    };
    // The case: 512 bytes in, 8 KiB out; now twice in IPv4 bytes.
    let big = "%64a".repeat(128);
    let reply = ask(big.as_bytes());
    assert!(reply.len() <= sockit_net::reflect::reply_cap(512), "{} bytes", reply.len());
    let want = padding_asked(&reply).expect("a pad error");
    assert_eq!(want, (8192 - 28) / 2);
    let padded = ask(&pad_request(big.as_bytes(), want));
    assert_eq!(padded.len(), 8192);
    assert_eq!(&padded[..64], format!("{:>64}", "Sat").as_bytes());
    // Small ones: `%c%c` is 4 bytes in, 49 out; the error fits 36 bytes.
    let reply = ask(b"%c %c\n");
    assert_eq!(String::from_utf8_lossy(&reply), "error: pad the request to 11 bytes\n");
    assert_eq!(
        String::from_utf8(ask(&pad_request(b"%c %c\n", 11))).unwrap(),
        "Sat Nov 22 00:20:06 2025 Sat Nov 22 00:20:06 2025\n"
    );
    // Within the cap nothing changes, and NUL padding is invisible.
    assert_eq!(ask(b"%c"), b"Sat Nov 22 00:20:06 2025");
    assert_eq!(ask(b"%H:%M\n\0\0"), b"00:20\n");
    assert_eq!(ask(b"\0\0\0"), b"2025-11-22 00:20:06");
    assert_eq!(padding_asked(b"2025"), None);
    assert_eq!(padding_asked(b"error: pad to 99"), Some(99));
}

proptest! {
    /// However it is built, an answer never passes the cap.
    #[test]
    fn answers_never_pass_the_cap(
        parts in proptest::collection::vec(
            prop_oneof![Just("%c".to_string()), Just("%64a".to_string()), Just("%Q".to_string()), "[ -~]{0,4}"],
            0..40,
        ),
        nuls in 0usize..300, ending in 0usize..3,
    ) {
        let mut d = parts.concat().into_bytes();
        d.extend_from_slice(["", "\n", "\r\n"][ending].as_bytes());
        d.resize(d.len() + nuls, 0);
        let mut reply = Vec::new();
        answer(&d, &moment(1_763_770_806, &TimeZone::UTC), &mut reply);
        prop_assert!(!reply.is_empty());
        prop_assert!(reply.len() <= sockit_net::reflect::reply_cap(d.len()), "{} bytes for {}", reply.len(), d.len());
    }

    #[test]
    fn any_string_validates_without_panic_and_renders_bounded(s in ".{0,80}", unix in 0i64..8_000_000_000) {
        if let Ok(f) = Format::parse(&s) {
            let out = f.format(&moment(unix, &TimeZone::UTC));
            prop_assert!(out.len() <= s.len() * MAX_WIDTH.max(24) + 64);
        }
    }

    #[test]
    fn directive_soup_never_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("%".to_string()),
                "[-_0^#]?[0-9]{0,3}[EO]?[ -~]".prop_map(|d| format!("%{d}")),
                "[a-zA-Z%]".prop_map(|d| format!("%{d}")),
                ".{0,3}",
            ],
            0..12,
        ),
        unix in -100_000_000i64..10_000_000_000,
    ) {
        let s: String = parts.concat();
        let mut reply = Vec::new();
        answer(s.as_bytes(), &moment(unix.max(0), &zone("America/New_York")), &mut reply);
        prop_assert!(!reply.is_empty() || s.is_empty());
    }

    #[test]
    fn any_bytes_get_an_answer(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut reply = Vec::new();
        answer(&bytes, &moment(1_763_770_806, &TimeZone::UTC), &mut reply);
        prop_assert!(!reply.is_empty());
        prop_assert!(reply.len() <= sockit_net::reflect::reply_cap(bytes.len()));
    }
}
