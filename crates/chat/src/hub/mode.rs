//! Room mode changes (`+o alice`, `-v bob`, `+b *!*@1.2.3.4`, `+k key`,
//! `+l 10`, `+t +m +n +i`): parsing IRC's `+ov-l alice bob` form into a list
//! of changes, and writing applied changes back in that form. Pure (fuzzed).

use super::error::{ErrorCode, HubError};

/// Changes taking an argument one request may hold (IRC's `MODES`).
pub const MAX_MODE_ARGS: usize = 6;

/// A room mode letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `o`: operator (takes a nick).
    Op,
    /// `v`: voice (takes a nick).
    Voice,
    /// `b`: ban mask (takes a mask; without one, lists the bans).
    Ban,
    /// `k`: key (`+k` takes the key).
    Key,
    /// `l`: member limit (`+l` takes the number).
    Limit,
    /// `t`: topic settable by operators only.
    TopicLock,
    /// `m`: moderated.
    Moderated,
    /// `n`: no messages from outside.
    NoOutside,
    /// `i`: invite only.
    InviteOnly,
}

impl Mode {
    /// The mode for `c`, if there is one.
    pub fn from_letter(c: char) -> Option<Mode> {
        Some(match c {
            'o' => Mode::Op,
            'v' => Mode::Voice,
            'b' => Mode::Ban,
            'k' => Mode::Key,
            'l' => Mode::Limit,
            't' => Mode::TopicLock,
            'm' => Mode::Moderated,
            'n' => Mode::NoOutside,
            'i' => Mode::InviteOnly,
            _ => return None,
        })
    }

    /// Its letter.
    pub fn letter(self) -> char {
        match self {
            Mode::Op => 'o',
            Mode::Voice => 'v',
            Mode::Ban => 'b',
            Mode::Key => 'k',
            Mode::Limit => 'l',
            Mode::TopicLock => 't',
            Mode::Moderated => 'm',
            Mode::NoOutside => 'n',
            Mode::InviteOnly => 'i',
        }
    }

    /// Whether `+X` (`add`) or `-X` takes an argument.
    fn takes_arg(self, add: bool) -> bool {
        match self {
            Mode::Op | Mode::Voice | Mode::Ban => true,
            Mode::Key | Mode::Limit => add,
            _ => false,
        }
    }
}

/// One change: `+o alice` is `{ add: true, mode: Op, arg: Some("alice") }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeChange {
    /// `+` (true) or `-`.
    pub add: bool,
    /// Which mode.
    pub mode: Mode,
    /// Its argument (nick, mask, key, limit), if it takes one.
    pub arg: Option<String>,
}

impl ModeChange {
    /// A change of a mode that takes no argument.
    pub fn flag(add: bool, mode: Mode) -> Self {
        ModeChange { add, mode, arg: None }
    }

    /// A change with an argument.
    pub fn with(add: bool, mode: Mode, arg: &str) -> Self {
        ModeChange { add, mode, arg: Some(arg.to_string()) }
    }
}

/// Parses `+ov-l` with its arguments in order (`["alice", "bob"]`). `+b`
/// with no mask left is a ban-list query and comes back as a `Ban` change
/// without an argument. Arguments left over are ignored, as IRC servers do.
pub fn parse_modes(flags: &str, args: &[&str]) -> Result<Vec<ModeChange>, HubError> {
    let mut add = true;
    let mut args = args.iter();
    let mut changes = Vec::new();
    let mut with_arg = 0;
    if flags.is_empty() {
        return Err(HubError::new(ErrorCode::NeedMoreParams, "usage: /mode [#ROOM] [+-modes [args]]"));
    }
    for c in flags.chars() {
        match c {
            '+' => add = true,
            '-' => add = false,
            _ => {
                let Some(mode) = Mode::from_letter(c) else {
                    let shown = sockit_net::text::escape_untrusted(&c.to_string()).into_owned();
                    return Err(HubError::new(
                        ErrorCode::UnknownMode,
                        format!("unknown mode {shown} (known: o v b k l t m n i)"),
                    ));
                };
                if !mode.takes_arg(add) {
                    changes.push(ModeChange::flag(add, mode));
                    continue;
                }
                match args.next() {
                    Some(a) => {
                        with_arg += 1;
                        if with_arg > MAX_MODE_ARGS {
                            return Err(HubError::new(
                                ErrorCode::Other,
                                format!("at most {MAX_MODE_ARGS} mode changes with an argument at once"),
                            ));
                        }
                        changes.push(ModeChange::with(add, mode, a));
                    }
                    None if mode == Mode::Ban => changes.push(ModeChange::flag(add, mode)),
                    None => {
                        let what = match mode {
                            Mode::Op | Mode::Voice => "a nick",
                            Mode::Key => "a key",
                            _ => "a number",
                        };
                        let sign = if add { '+' } else { '-' };
                        return Err(HubError::new(
                            ErrorCode::NeedMoreParams,
                            format!("{sign}{} needs {what}", mode.letter()),
                        ));
                    }
                }
            }
        }
    }
    Ok(changes)
}

/// Applied changes in IRC form (`+o-v alice bob`); a key is not shown
/// (`+k`), so the notice does not hand it to everyone watching.
pub fn render_changes(changes: &[ModeChange]) -> String {
    let mut letters = String::new();
    let mut args = Vec::new();
    let mut sign = None;
    for c in changes {
        if sign != Some(c.add) {
            letters.push(if c.add { '+' } else { '-' });
            sign = Some(c.add);
        }
        letters.push(c.mode.letter());
        if let Some(a) = &c.arg {
            if c.mode != Mode::Key {
                args.push(a.clone());
            }
        }
    }
    std::iter::once(letters).chain(args).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_irc_form() {
        let c = parse_modes("+ov-l+m", &["alice", "bob"]).unwrap();
        assert_eq!(
            c,
            vec![
                ModeChange::with(true, Mode::Op, "alice"),
                ModeChange::with(true, Mode::Voice, "bob"),
                ModeChange::flag(false, Mode::Limit),
                ModeChange::flag(true, Mode::Moderated),
            ]
        );
        assert_eq!(render_changes(&c), "+ov-l+m alice bob");
        assert_eq!(parse_modes("+b", &[]).unwrap(), vec![ModeChange::flag(true, Mode::Ban)]);
        assert_eq!(render_changes(&[ModeChange::with(true, Mode::Key, "secret")]), "+k");
        assert_eq!(parse_modes("+o", &[]).unwrap_err().code, ErrorCode::NeedMoreParams);
        assert_eq!(parse_modes("+x", &[]).unwrap_err().text, "unknown mode x (known: o v b k l t m n i)");
        let seven = ["a"; 7];
        assert!(parse_modes("+vvvvvvv", &seven).is_err(), "past MAX_MODE_ARGS");
        assert!(parse_modes("+vvvvvv", &seven[..6]).is_ok());
    }

    proptest! {
        #[test]
        fn never_panics_and_round_trips(flags in "[+\\-ovbkltmnixyz]{0,12}", args in proptest::collection::vec("[a-z]{1,5}", 0..8)) {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            if let Ok(changes) = parse_modes(&flags, &refs) {
                let shown = render_changes(&changes);
                let mut parts = shown.split(' ');
                let letters = parts.next().unwrap_or("");
                let rest: Vec<&str> = parts.collect();
                if !changes.iter().any(|c| c.mode == Mode::Key && c.arg.is_some()) && !letters.is_empty() {
                    prop_assert_eq!(parse_modes(letters, &rest).unwrap(), changes);
                }
            }
        }
    }
}
