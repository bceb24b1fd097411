//! The rules for nicks and room names. (Escaping what members say is
//! [`sockit_net::text`], shared with every service.)

use sockit_net::text::escape_untrusted;

/// Longest nick, in characters.
pub const MAX_NICK: usize = 32;
/// Longest room name, in characters.
pub const MAX_ROOM: usize = 32;

/// Why a nick or room name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The nick breaks the rules.
    #[error(
        "bad nick {0:?}: use 1-32 letters, digits or _ - . [ ] {{ }} | ^ (no spaces, not starting with a digit or '-')"
    )]
    Nick(String),
    /// The room name breaks the rules.
    #[error("bad room name {0:?}: use 1-32 letters, digits, '-', '_' or '.' (an optional leading '#')")]
    Room(String),
}

/// Checks a nick a member asked for. Default nicks (`ip:port`) are made by
/// the server and contain `:`, which chosen nicks may not, so they never clash.
pub fn validate_nick(nick: &str) -> Result<&str, NameError> {
    let n = nick.chars().count();
    let ok = (1..=MAX_NICK).contains(&n)
        && nick.chars().all(|c| c.is_alphanumeric() || "_-.[]{}|^".contains(c))
        && nick.chars().next().is_some_and(|c| !c.is_ascii_digit() && c != '-');
    if ok {
        Ok(nick)
    } else {
        Err(NameError::Nick(truncate(nick)))
    }
}

/// Normalises a room name: strips one leading `#`, lower-cases, checks the rules.
pub fn normalize_room(room: &str) -> Result<String, NameError> {
    let bare = room.strip_prefix('#').unwrap_or(room);
    let n = bare.chars().count();
    let ok = (1..=MAX_ROOM).contains(&n) && bare.chars().all(|c| c.is_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(bare.to_lowercase())
    } else {
        Err(NameError::Room(truncate(room)))
    }
}

/// The key nicks are compared by (case-insensitive).
pub fn nick_key(nick: &str) -> String {
    nick.to_lowercase()
}

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
        assert!(validate_nick("[bot]_1").is_ok());
        for bad in ["", "a b", "1abc", "-x", "a:b", "x\x1b", &"n".repeat(33)] {
            assert!(validate_nick(bad).is_err(), "{bad:?}");
        }
        assert_eq!(normalize_room("#Dev").unwrap(), "dev");
        assert_eq!(normalize_room("rust-lang.zh").unwrap(), "rust-lang.zh");
        for bad in ["", "#", "a b", "a/b", "a:b", &"r".repeat(33)] {
            assert!(normalize_room(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn valid_names_survive_normalisation(r in "[a-z0-9_.-]{1,32}") {
            prop_assert_eq!(normalize_room(&r).unwrap(), r.clone());
            prop_assert_eq!(normalize_room(&format!("#{r}")).unwrap(), r);
        }
    }
}
