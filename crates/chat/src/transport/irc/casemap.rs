//! Case-insensitive comparison of IRC names: `CASEMAPPING=ascii`.
//!
//! `ascii` and not `rfc1459` because that is what the hub actually does:
//! it compares nicks by their lower case (and refuses look-alikes), and
//! `[`, `]`, `\`, `~` are not the upper case of `{`, `}`, `|`, `^` there,
//! so `[bob]` and `{bob}` are two members. For the ASCII names IRC clients
//! use, the hub's lower-casing is exactly ASCII's: `A`–`Z` to `a`–`z`.
//! (Non-ASCII room names from other transports are lower-cased by the hub
//! beyond that, which only ever merges names that no IRC client could
//! tell apart under `ascii` anyway, since it leaves them alone.)

use std::borrow::Cow;

/// The ISUPPORT `CASEMAPPING` value.
pub const CASEMAPPING: &str = "ascii";

/// `s` folded under [`CASEMAPPING`]: `A`–`Z` lowered, everything else kept
/// (borrowed when nothing changes).
pub fn fold(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// Whether `a` and `b` are the same name under [`CASEMAPPING`].
pub fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ascii_only() {
        assert_eq!(fold("BoB[]"), "bob[]");
        assert!(matches!(fold("bob"), Cow::Borrowed(_)));
        assert!(same("NICK", "nick"));
        assert!(!same("[bob]", "{bob}"), "rfc1459 would fold these; ascii does not");
        assert_eq!(fold("ÉCOLE"), "École", "non-ASCII letters are left alone");
    }

    proptest! {
        #[test]
        fn fold_is_idempotent_and_agrees_with_same(a in any::<String>(), b in "[A-Za-z\\[\\]{}|^~]{0,6}") {
            let once = fold(&a).into_owned();
            let twice = fold(&once).into_owned();
            prop_assert_eq!(twice, once.clone());
            prop_assert!(same(&a, &once));
            prop_assert_eq!(same(&a, &b), fold(&a) == fold(&b));
        }
    }
}
