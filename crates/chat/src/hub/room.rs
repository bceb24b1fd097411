//! One room's state: its members with their flags, topic, modes, bans and
//! invitations, and the glob matching of ban masks.

use super::member::{Gate, Mask};
use crate::event::MemberId;
use std::collections::{HashMap, HashSet};

/// Ban masks one room may hold (IRC's `MAXLIST`).
pub const MAX_BANS: usize = 100;
/// Longest topic, in characters (IRC's `TOPICLEN`); longer ones are cut.
pub const MAX_TOPIC: usize = 390;
/// Longest part, quit or kick reason and away message, in characters; longer ones are cut.
pub const MAX_REASON: usize = 200;
/// Longest room key (`+k`), in characters.
pub const MAX_KEY: usize = 23;

/// A room's topic and who set it when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    /// The text (escaped).
    pub text: String,
    /// The nick that set it.
    pub set_by: String,
    /// When, in milliseconds since the Unix epoch.
    pub set_at: i64,
}

/// A ban mask and who set it when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    /// `nick!user@host`, with `*` and `?` globs.
    pub mask: String,
    /// The nick that set it.
    pub set_by: String,
    /// When, in milliseconds since the Unix epoch.
    pub set_at: i64,
}

/// A room's modes (new rooms start `+nt`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Modes {
    /// `+t`: only operators set the topic.
    pub topic_lock: bool,
    /// `+m`: only operators and voiced members speak.
    pub moderated: bool,
    /// `+n`: no messages from outside (IRC members may otherwise send to a room they are not in).
    pub no_outside: bool,
    /// `+i`: joining needs an invitation.
    pub invite_only: bool,
    /// `+k KEY`: joining needs the key.
    pub key: Option<String>,
    /// `+l N`: at most N members.
    pub limit: Option<usize>,
}

impl Modes {
    /// The modes in IRC form, `+ntkl KEY 10`; the key only when `show_key`
    /// (members see it, outsiders do not).
    pub fn render(&self, show_key: bool) -> String {
        let mut letters = String::from("+");
        let mut args = Vec::new();
        for (on, c) in [(self.invite_only, 'i'), (self.moderated, 'm'), (self.no_outside, 'n'), (self.topic_lock, 't')]
        {
            if on {
                letters.push(c);
            }
        }
        if let Some(k) = &self.key {
            letters.push('k');
            if show_key {
                args.push(k.clone());
            }
        }
        if let Some(l) = self.limit {
            letters.push('l');
            args.push(l.to_string());
        }
        std::iter::once(letters).chain(args).collect::<Vec<_>>().join(" ")
    }
}

/// A member's place in a room.
pub(super) struct Seat {
    pub(super) op: bool,
    pub(super) voice: bool,
    pub(super) gate: Gate,
}

/// One room.
pub(super) struct Room {
    pub(super) seats: HashMap<MemberId, Seat>,
    pub(super) topic: Option<Topic>,
    pub(super) created_at: i64,
    pub(super) modes: Modes,
    pub(super) bans: Vec<Ban>,
    pub(super) invites: HashSet<MemberId>,
    /// Kept when empty (the default room).
    pub(super) persistent: bool,
}

impl Room {
    pub(super) fn new(modes: Modes, persistent: bool) -> Room {
        Room {
            seats: HashMap::new(),
            topic: None,
            created_at: crate::event::now_ms(),
            modes,
            bans: Vec::new(),
            invites: HashSet::new(),
            persistent,
        }
    }

    /// Whether a member with `mask` (`nick!user@host`, either nick form)
    /// is banned.
    pub(super) fn banned(&self, mask: &Mask) -> bool {
        let forms = std::iter::once(&mask.hub).chain(mask.irc.as_ref());
        forms.into_iter().any(|m| self.bans.iter().any(|b| mask_matches(&b.mask, m)))
    }

    /// Whether a seated member may speak, given its mask.
    pub(super) fn may_speak(&self, seat: &Seat, mask: &Mask) -> bool {
        seat.op || seat.voice || (!self.modes.moderated && !self.banned(mask))
    }

    pub(super) fn is_op(&self, id: MemberId) -> bool {
        self.seats.get(&id).is_some_and(|s| s.op)
    }
}

/// Completes a ban mask the way IRC servers do: `bob` → `bob!*@*`,
/// `*@1.2.3.4` → `*!*@1.2.3.4`, `bob!x` → `bob!x@*`; lower-cased, since
/// masks match case-insensitively. `None` for a mask with spaces or empty.
pub fn normalize_mask(mask: &str) -> Option<String> {
    if mask.is_empty() || mask.chars().any(|c| c.is_whitespace() || c.is_control()) || mask.chars().count() > 128 {
        return None;
    }
    let lower = mask.to_lowercase();
    let full = match (lower.find('!'), lower.find('@')) {
        (Some(_), Some(_)) => lower,
        (Some(_), None) => format!("{lower}@*"),
        (None, Some(_)) => format!("*!{lower}"),
        (None, None) => format!("{lower}!*@*"),
    };
    Some(full)
}

/// Whether `text` matches the glob `pattern` (`*` any run, `?` one
/// character), case-insensitively. The classic backtrack-to-the-last-star
/// loop: at most the product of the lengths (masks are at most 128
/// characters), never exponential.
pub fn mask_matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
    let t: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// `text` cut to `max` characters.
pub(super) fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => text[..at].to_string(),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn masks() {
        assert!(mask_matches("*!*@127.0.0.1", "bob!tcp@127.0.0.1"));
        assert!(mask_matches("B?B!*@*", "bob!tcp@::1"));
        assert!(!mask_matches("bob!*@*", "bobby!tcp@::1"));
        assert!(mask_matches("*", ""));
        assert!(!mask_matches("a*b*c", "aXbY"));
        assert!(mask_matches("*a", "*ba"), "a star in the text is just a character");
        assert_eq!(normalize_mask("Bob").as_deref(), Some("bob!*@*"));
        assert_eq!(normalize_mask("*@1.2.3.4").as_deref(), Some("*!*@1.2.3.4"));
        assert_eq!(normalize_mask("bob!x").as_deref(), Some("bob!x@*"));
        assert_eq!(normalize_mask("a b"), None);
        assert_eq!(cut("héllo", 2), "hé");
    }

    #[test]
    fn modes_render() {
        let m = Modes { topic_lock: true, no_outside: true, key: Some("k".into()), limit: Some(3), ..Modes::default() };
        assert_eq!(m.render(true), "+ntkl k 3");
        assert_eq!(m.render(false), "+ntkl 3");
        assert_eq!(Modes::default().render(true), "+");
    }

    proptest! {
        #[test]
        fn a_text_matches_itself_and_star(s in "[a-z0-9!@.*?]{0,30}") {
            let literal: String = s.chars().filter(|c| *c != '*' && *c != '?').collect();
            prop_assert!(mask_matches(&literal, &literal));
            prop_assert!(mask_matches("*", &s));
        }

        #[test]
        fn never_panics(p in "\\PC{0,40}", t in "\\PC{0,40}") {
            let _ = mask_matches(&p, &t);
            let _ = normalize_mask(&p);
        }
    }
}
