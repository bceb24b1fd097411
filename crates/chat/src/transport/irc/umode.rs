//! User modes. The one that exists is `i` (invisible): irssi, HexChat and
//! most clients set `+i` right after registering, and a server that
//! refused it made them print an error on every connect. It is kept and
//! reported (221, the `MODE` echo); it hides nobody, because sockit's text
//! and web members have no such notion and `/who` shows every member to
//! every one of them (README, IRC section).

/// A member's user modes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UserModes {
    invisible: bool,
}

/// What a `MODE nick FLAGS` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// The modes that changed, as the confirmation carries them (`+i`,
    /// `-i`); empty when nothing changed.
    pub applied: String,
    /// Letters that are not user modes here (answered with 501).
    pub unknown: bool,
}

impl UserModes {
    /// The modes as 221 shows them: `+i` or `+`.
    pub fn show(&self) -> &'static str {
        if self.invisible {
            "+i"
        } else {
            "+"
        }
    }

    /// Applies `flags` (`+i`, `-i`, `+iw`, `i` …; no sign means `+`).
    /// Setting a mode already set is no change.
    pub fn apply(&mut self, flags: &str) -> Change {
        let mut change = Change::default();
        let mut adding = true;
        let mut last_sign = None;
        for c in flags.chars() {
            match c {
                '+' => adding = true,
                '-' => adding = false,
                'i' if self.invisible != adding => {
                    self.invisible = adding;
                    if last_sign != Some(adding) {
                        change.applied.push(if adding { '+' } else { '-' });
                        last_sign = Some(adding);
                    }
                    change.applied.push('i');
                }
                'i' => {}
                _ => change.unknown = true,
            }
        }
        change
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn invisible_is_set_shown_and_cleared() {
        let mut m = UserModes::default();
        assert_eq!(m.show(), "+");
        assert_eq!(m.apply("+i"), Change { applied: "+i".into(), unknown: false });
        assert_eq!(m.show(), "+i");
        assert_eq!(m.apply("+i"), Change::default(), "already set: no change");
        assert_eq!(m.apply("-i+i-i"), Change { applied: "-i+i-i".into(), unknown: false });
        assert_eq!(m.show(), "+");
        assert_eq!(m.apply("i"), Change { applied: "+i".into(), unknown: false });
    }

    #[test]
    fn other_letters_are_unknown_and_do_not_stop_i() {
        let mut m = UserModes::default();
        assert_eq!(m.apply("+wi"), Change { applied: "+i".into(), unknown: true });
        assert_eq!(m.apply("-o"), Change { applied: String::new(), unknown: true });
        assert_eq!(m.show(), "+i");
    }

    proptest! {
        #[test]
        fn the_confirmation_replays_to_the_same_state(flags in ".{0,40}", start: bool) {
            let mut m = UserModes { invisible: start };
            let before = m;
            let change = m.apply(&flags);
            // Applying the confirmation to the old state gives the new one.
            let mut again = before;
            let replay = again.apply(&change.applied);
            prop_assert_eq!(again, m);
            prop_assert!(!replay.unknown);
            prop_assert!(change.applied.len() <= 2 * flags.len());
        }
    }
}
