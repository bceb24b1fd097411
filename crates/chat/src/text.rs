//! The rules for nicks and room names. (Escaping what members say is
//! [`sockit_net::text`], shared with every service.)
//!
//! Names must not be able to pass for another (`оbserver` with a Cyrillic
//! `о` beside `observer`), so, after Unicode's security mechanisms
//! (UTS #39, as ergo does for IRC nicks):
//! - every character is an ASCII letter or digit, one of the allowed ASCII
//!   punctuation marks, or a letter or digit that UTS #39 allows in
//!   identifiers: that refuses fullwidth and mathematical forms (`ａｌｉｃｅ`,
//!   `𝐚𝐥𝐢𝐜𝐞`), which are not NFKC-stable, and obsolete or exotic scripts;
//! - no right-to-left letters (Hebrew, Arabic …): inside a left-to-right
//!   line they reorder the text around them;
//! - one script per name (UTS #39 single-script, where Han with kana or
//!   Hangul counts as one, so `张三`, `たなか太郎` and `김철수` work but
//!   `pаypal` with a Cyrillic `а` does not);
//! - two names whose confusable skeletons ([`skeleton`]) are equal are the
//!   same name: the registry refuses the second (`nick X looks like Y, which
//!   is taken`, and the same for rooms).
//!
//! Invisible, bidi and control characters are refused by the first rule:
//! none is a letter or digit.

use sockit_net::text::escape_untrusted;
use unicode_bidi::BidiClass;
use unicode_security::{GeneralSecurityProfile, MixedScript};

/// Longest nick, in characters.
pub const MAX_NICK: usize = 32;
/// Longest room name, in characters.
pub const MAX_ROOM: usize = 32;
/// ASCII punctuation a nick may hold (IRC's set).
const NICK_PUNCT: &str = "_-.[]{}|^";
/// ASCII punctuation a room name may hold.
const ROOM_PUNCT: &str = "-_.";

/// Why a nick or room name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The nick breaks the rules.
    #[error(
        "bad nick \"{0}\": use 1-32 letters, digits or _ - . [ ] {{ }} | ^ (no spaces, not starting with a digit or '-')"
    )]
    Nick(String),
    /// The room name breaks the rules.
    #[error("bad room name \"{0}\": use 1-32 letters, digits, '-', '_' or '.' (an optional leading '#')")]
    Room(String),
    /// A name with a look-alike form, a right-to-left letter, or mixed scripts.
    #[error("bad {kind} \"{name}\": {why}")]
    LookAlike {
        /// `nick` or `room name`.
        kind: &'static str,
        /// The name, escaped.
        name: String,
        /// What to do instead.
        why: &'static str,
    },
}

const FORM: &str = "use plain letters and digits (no fullwidth, mathematical or other look-alike forms)";
const RTL: &str = "right-to-left letters are not allowed in names (they reorder the text around them)";
const MIXED: &str = "use letters of one script (it mixes scripts, e.g. Latin with Cyrillic or Greek look-alikes)";

/// Checks the characters of a name; `None` when they are fine.
fn look_alike(name: &str, punct: &str) -> Option<&'static str> {
    for c in name.chars() {
        if c.is_ascii() {
            continue;
        }
        if !c.is_alphanumeric() || !c.identifier_allowed() {
            return Some(FORM);
        }
        if matches!(unicode_bidi::bidi_class(c), BidiClass::R | BidiClass::AL | BidiClass::AN) {
            return Some(RTL);
        }
    }
    let letters: String = name.chars().filter(|c| !punct.contains(*c)).collect();
    if !letters.as_str().is_single_script() {
        return Some(MIXED);
    }
    None
}

/// Checks a nick a member asked for. Default nicks (`ip:port`) are made by
/// the server and contain `:`, which chosen nicks may not, so they never clash.
pub fn validate_nick(nick: &str) -> Result<&str, NameError> {
    let n = nick.chars().count();
    let ok = (1..=MAX_NICK).contains(&n)
        && nick.chars().all(|c| c.is_alphanumeric() || NICK_PUNCT.contains(c))
        && nick.chars().next().is_some_and(|c| !c.is_ascii_digit() && c != '-');
    if !ok {
        return Err(NameError::Nick(truncate(nick)));
    }
    match look_alike(nick, NICK_PUNCT) {
        Some(why) => Err(NameError::LookAlike { kind: "nick", name: truncate(nick), why }),
        None => Ok(nick),
    }
}

/// Normalises a room name: strips one leading `#`, lower-cases, checks the rules.
pub fn normalize_room(room: &str) -> Result<String, NameError> {
    let bare = room.strip_prefix('#').unwrap_or(room);
    let n = bare.chars().count();
    let ok = (1..=MAX_ROOM).contains(&n) && bare.chars().all(|c| c.is_alphanumeric() || ROOM_PUNCT.contains(c));
    if !ok {
        return Err(NameError::Room(truncate(room)));
    }
    if let Some(why) = look_alike(bare, ROOM_PUNCT) {
        return Err(NameError::LookAlike { kind: "room name", name: truncate(room), why });
    }
    let lower = bare.to_lowercase();
    // Lower-casing can change a character's length but never the rules
    // (`İ` becomes `i̇`, whose dot is a combining mark): check again.
    if lower.chars().count() > MAX_ROOM || look_alike(&lower, ROOM_PUNCT).is_some() {
        return Err(NameError::Room(truncate(room)));
    }
    Ok(lower)
}

/// The key nicks are compared by (case-insensitive).
pub fn nick_key(nick: &str) -> String {
    nick.to_lowercase()
}

/// What a name looks like, case aside: the UTS #39 confusable skeleton of
/// the lower-cased skeleton (so `Iobby`, `lobby` and `ⅼobby` agree). Two
/// names with one skeleton may not both be in use.
pub fn skeleton(name: &str) -> String {
    let once = skeleton_tweaked(name);
    skeleton_tweaked(&once.to_lowercase())
}

/// The UTS #39 skeleton without its `m` → `rn` mapping, as ergo does:
/// `m` is too common in ASCII nicks (IRC users) to clash with every `rn`.
fn skeleton_tweaked(s: &str) -> String {
    // `m` is a starter with no decomposition, so skeletons of the pieces
    // between them are the skeleton of the whole, minus that one mapping.
    s.split('m').map(|piece| unicode_security::skeleton(piece).collect::<String>()).collect::<Vec<_>>().join("m")
}

/// The name as shown in an error: escaped (so the `"…"` around it is all
/// the quoting needed) and cut to 40 characters.
fn truncate(s: &str) -> String {
    let t: String = escape_untrusted(s).chars().take(40).collect();
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nick_and_room_rules() {
        assert!(validate_nick("alice").is_ok());
        assert!(validate_nick("张三").is_ok());
        assert!(validate_nick("たなか太郎").is_ok());
        assert!(validate_nick("김철수").is_ok());
        assert!(validate_nick("Дмитрий").is_ok());
        assert!(validate_nick("[bot]_1").is_ok());
        for bad in ["", "a b", "1abc", "-x", "a:b", "x\x1b", &"n".repeat(33)] {
            assert!(validate_nick(bad).is_err(), "{bad:?}");
        }
        assert_eq!(normalize_room("#Dev").unwrap(), "dev");
        assert_eq!(normalize_room("rust-lang.zh").unwrap(), "rust-lang.zh");
        assert_eq!(normalize_room("中文").unwrap(), "中文");
        for bad in ["", "#", "a b", "a/b", "a:b", &"r".repeat(33)] {
            assert!(normalize_room(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn look_alikes_are_refused() {
        for (bad, why) in [
            ("оbserver", MIXED),        // Cyrillic о
            ("pаypal", MIXED),          // Cyrillic а
            ("ｏｂｓｅｒｖｅｒ", FORM), // fullwidth
            ("𝐨𝐛𝐬𝐞𝐫𝐯𝐞𝐫", FORM),         // mathematical bold
            ("ⅼobby", FORM),            // small roman numeral fifty
            ("שלום", RTL),              // Hebrew
            ("مرحبا", RTL),             // Arabic
            ("ob\u{200b}server", ""),   // zero-width space: not a letter
            ("ob\u{200e}server", ""),   // LRM
            ("e\u{301}", ""),           // combining accent
        ] {
            let e = validate_nick(bad).unwrap_err();
            if !why.is_empty() {
                assert!(e.to_string().ends_with(why), "{bad:?}: {e}");
            }
            assert!(normalize_room(bad).is_err(), "room {bad:?}");
        }
        assert_eq!(skeleton("observer"), skeleton("Observer"));
        assert_eq!(skeleton("lobby"), skeleton("Iobby"));
        assert_eq!(skeleton("ace"), skeleton("асе"), "all-Cyrillic look-alike");
        assert_ne!(skeleton("alice"), skeleton("bob"));
        assert_eq!(skeleton("r00m"), skeleton("room"));
        assert_ne!(skeleton("modem"), skeleton("rnodern"), "ergo's tweak: m is not rn");
    }

    proptest! {
        #[test]
        fn valid_names_survive_normalisation(r in "[a-z0-9_.-]{1,32}") {
            prop_assert_eq!(normalize_room(&r).unwrap(), r.clone());
            prop_assert_eq!(normalize_room(&format!("#{r}")).unwrap(), r);
        }

        #[test]
        fn accepted_names_are_safe(s in "\\PC{1,12}") {
            if let Ok(n) = validate_nick(&s) {
                prop_assert!(!n.chars().any(sockit_net::text::is_unsafe));
                prop_assert!(n.is_single_script());
            }
            if let Ok(r) = normalize_room(&s) {
                prop_assert!(!r.chars().any(sockit_net::text::is_unsafe));
                prop_assert_eq!(normalize_room(&r).unwrap(), r.clone(), "normalising is idempotent");
            }
        }
    }
}
