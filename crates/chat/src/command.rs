//! Parsing one input line into a message or a command. Pure and total: any
//! string gives an [`Input`] or a [`ParseError`] the member can read (fuzzed).

/// Most lines `/history N` returns.
pub const MAX_HISTORY: usize = 1000;

/// What one line from a member asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<'a> {
    /// A message to the current room (`//text` sends `/text`).
    Say(&'a str),
    /// A blank line: ignored.
    Empty,
    /// A heartbeat (`#ping#`, UDP members; harmless elsewhere).
    Ping,
    /// A `/command`.
    Command(Command<'a>),
}

use crate::hub::Mode;

/// The commands (see `/help`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// `/nick NAME`
    Nick(&'a str),
    /// `/join ROOM [KEY]`: adds the room (or makes it current).
    Join {
        /// The room.
        room: &'a str,
        /// Its key, for a `+k` room.
        key: Option<&'a str>,
    },
    /// `/part [ROOM] [reason]`: the words after `/part`; the session
    /// decides whether the first names one of its rooms.
    Part(&'a str),
    /// `/who [#ROOM]`: members of the current room (or ROOM).
    Who(Option<&'a str>),
    /// `/rooms`: rooms, their sizes and topics.
    Rooms,
    /// `/topic [#ROOM] [TEXT]`: show or set the topic.
    Topic {
        /// `#ROOM`, if given.
        room: Option<&'a str>,
        /// The new topic.
        text: Option<&'a str>,
    },
    /// `/kick [#ROOM] NICK [reason]`
    Kick {
        /// `#ROOM`, if given.
        room: Option<&'a str>,
        /// Who.
        nick: &'a str,
        /// Why (may be empty).
        reason: &'a str,
    },
    /// `/ban [#ROOM] [MASK|NICK]` (without one: the ban list), `/unban [#ROOM] MASK`.
    Ban {
        /// `#ROOM`, if given.
        room: Option<&'a str>,
        /// The mask or nick.
        mask: Option<&'a str>,
        /// Ban (true) or unban.
        add: bool,
    },
    /// `/op`, `/deop`, `/voice`, `/devoice [#ROOM] NICK`.
    Grant {
        /// `#ROOM`, if given.
        room: Option<&'a str>,
        /// Who.
        nick: &'a str,
        /// [`Mode::Op`] or [`Mode::Voice`].
        mode: Mode,
        /// Give (true) or take.
        add: bool,
    },
    /// `/mode [#ROOM] [+-modes [args]]`: show or change modes.
    Mode {
        /// `#ROOM`, if given.
        room: Option<&'a str>,
        /// `+-modes args…`, if given.
        changes: Option<&'a str>,
    },
    /// `/invite NICK [#ROOM]`
    Invite {
        /// Who.
        nick: &'a str,
        /// `#ROOM`, if given.
        room: Option<&'a str>,
    },
    /// `/away [TEXT]`: set (or, without text, clear) an away message.
    Away(Option<&'a str>),
    /// `/whois NICK`
    Whois(&'a str),
    /// `/msg NICK text`: a private message.
    Msg {
        /// Recipient nick.
        to: &'a str,
        /// The message.
        text: &'a str,
    },
    /// `/me action`
    Me(&'a str),
    /// `/history [N]`
    History(Option<usize>),
    /// `/json`: switch this connection to JSON lines.
    Json,
    /// `/text`: back to text lines.
    Text,
    /// `/encoding NAME`
    Encoding(&'a str),
    /// `/quit [reason]` (`/exit`)
    Quit,
    /// `/help`
    Help,
}

/// A line that is not a valid command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No such command.
    #[error("unknown command /{0} (try /help)")]
    Unknown(String),
    /// Right command, wrong arguments.
    #[error("usage: {0}")]
    Usage(&'static str),
}

/// Splits off a leading `#ROOM` argument (commands act on the current
/// room unless one is given; the `#` tells a room from a nick or text).
fn room_arg(args: &str) -> (Option<&str>, &str) {
    if !args.starts_with('#') {
        return (None, args);
    }
    match args.split_once(char::is_whitespace) {
        Some((room, rest)) => (Some(room), rest.trim_start()),
        None => (Some(args), ""),
    }
}

/// The first word of `args` and the rest (trimmed).
fn first_word(args: &str) -> (&str, &str) {
    match args.split_once(char::is_whitespace) {
        Some((w, rest)) => (w, rest.trim()),
        None => (args, ""),
    }
}

fn some(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// Parses one line (already decoded to UTF-8, `\r\n` stripped).
pub fn parse(line: &str) -> Result<Input<'_>, ParseError> {
    if line == "#ping#" {
        return Ok(Input::Ping);
    }
    let Some(rest) = line.strip_prefix('/') else {
        return Ok(if line.trim().is_empty() { Input::Empty } else { Input::Say(line) });
    };
    if rest.starts_with('/') {
        return Ok(Input::Say(rest));
    }
    let (name, args) = match rest.split_once(char::is_whitespace) {
        Some((n, a)) => (n, a.trim()),
        None => (rest, ""),
    };
    let one_word = |usage| {
        if args.is_empty() || args.contains(char::is_whitespace) {
            Err(ParseError::Usage(usage))
        } else {
            Ok(args)
        }
    };
    let none = |cmd| if args.is_empty() { Ok(cmd) } else { Err(ParseError::Usage(usage_of(&cmd))) };
    let cmd = match name.to_ascii_lowercase().as_str() {
        "nick" => Command::Nick(one_word("/nick NAME")?),
        "join" => match first_word(args) {
            ("", _) => return Err(ParseError::Usage("/join ROOM [KEY]")),
            (room, key) if !key.contains(char::is_whitespace) => Command::Join { room, key: some(key) },
            _ => return Err(ParseError::Usage("/join ROOM [KEY]")),
        },
        "part" => Command::Part(args),
        "who" | "names" => match room_arg(args) {
            (room, "") => Command::Who(room),
            _ => return Err(ParseError::Usage("/who [#ROOM]")),
        },
        "topic" => {
            let (room, text) = room_arg(args);
            Command::Topic { room, text: some(text) }
        }
        "kick" => {
            let (room, rest) = room_arg(args);
            match first_word(rest) {
                ("", _) => return Err(ParseError::Usage("/kick [#ROOM] NICK [reason]")),
                (nick, reason) => Command::Kick { room, nick, reason },
            }
        }
        "ban" | "unban" => {
            let add = name.eq_ignore_ascii_case("ban");
            let usage = if add { "/ban [#ROOM] [MASK|NICK]" } else { "/unban [#ROOM] MASK" };
            match room_arg(args) {
                (room, mask) if !mask.contains(char::is_whitespace) && (add || !mask.is_empty()) => {
                    Command::Ban { room, mask: some(mask), add }
                }
                _ => return Err(ParseError::Usage(usage)),
            }
        }
        "op" | "deop" | "voice" | "devoice" => {
            let lower = name.to_ascii_lowercase();
            let (mode, add, usage) = match lower.as_str() {
                "op" => (Mode::Op, true, "/op [#ROOM] NICK"),
                "deop" => (Mode::Op, false, "/deop [#ROOM] NICK"),
                "voice" => (Mode::Voice, true, "/voice [#ROOM] NICK"),
                _ => (Mode::Voice, false, "/devoice [#ROOM] NICK"),
            };
            match room_arg(args) {
                (room, nick) if !nick.is_empty() && !nick.contains(char::is_whitespace) => {
                    Command::Grant { room, nick, mode, add }
                }
                _ => return Err(ParseError::Usage(usage)),
            }
        }
        "mode" => {
            let (room, changes) = room_arg(args);
            if !changes.is_empty() && !changes.starts_with(['+', '-']) {
                return Err(ParseError::Usage("/mode [#ROOM] [+-modes [args]]"));
            }
            Command::Mode { room, changes: some(changes) }
        }
        "invite" => match first_word(args) {
            (nick, room)
                if !nick.is_empty()
                    && (room.is_empty() || (room.starts_with('#') && !room.contains(char::is_whitespace))) =>
            {
                Command::Invite { nick, room: some(room) }
            }
            _ => return Err(ParseError::Usage("/invite NICK [#ROOM]")),
        },
        "away" => Command::Away(some(args)),
        "whois" => Command::Whois(one_word("/whois NICK")?),
        "rooms" | "list" => none(Command::Rooms)?,
        "msg" | "query" => {
            let (to, text) = args.split_once(char::is_whitespace).ok_or(ParseError::Usage("/msg NICK text"))?;
            let text = text.trim();
            if text.is_empty() {
                return Err(ParseError::Usage("/msg NICK text"));
            }
            Command::Msg { to, text }
        }
        "me" if !args.is_empty() => Command::Me(args),
        "me" => return Err(ParseError::Usage("/me action")),
        "history" if args.is_empty() => Command::History(None),
        "history" => match args.parse::<usize>() {
            Ok(n @ 1..=MAX_HISTORY) => Command::History(Some(n)),
            _ => return Err(ParseError::Usage("/history [N] with N from 1 to 1000")),
        },
        "json" => none(Command::Json)?,
        "text" => none(Command::Text)?,
        "encoding" => Command::Encoding(one_word("/encoding NAME (utf-8, gbk, big5, shift_jis, latin1 …)")?),
        "quit" | "exit" => Command::Quit,
        "help" | "?" => Command::Help,
        _ => {
            let shown: String = sockit_net::text::escape_untrusted(name).chars().take(32).collect();
            return Err(ParseError::Unknown(shown));
        }
    };
    Ok(Input::Command(cmd))
}

fn usage_of(cmd: &Command<'_>) -> &'static str {
    match cmd {
        Command::Rooms => "/rooms",
        Command::Json => "/json",
        Command::Text => "/text",
        _ => "/help",
    }
}

/// The `/help` text, one notice per line.
pub const HELP: &[&str] = &[
    "commands (#ROOM: another of your rooms than the current one):",
    "  /nick NAME         change your nick (unique; letters, digits, _-.[]{}|^)",
    "  /join ROOM [KEY]   join ROOM too and talk there (created on demand, you run it)",
    "  /part [ROOM] [why] leave ROOM (default: the current one)",
    "  /who [#ROOM]       who is in this room (@ operator, + voice)",
    "  /rooms             rooms, how many are in each, their topics",
    "  /topic [#ROOM] [TEXT]  show or set the topic",
    "  /kick [#ROOM] NICK [why], /ban [#ROOM] [MASK|NICK], /unban [#ROOM] MASK",
    "  /op, /deop, /voice, /devoice [#ROOM] NICK",
    "  /mode [#ROOM] [+-modes [args]]  show or set modes: +t +m +n +i +k KEY +l N",
    "  /invite NICK [#ROOM], /away [TEXT], /whois NICK",
    "  /msg NICK text     private message",
    "  /me action         * nick action",
    "  /history [N]       the last N messages of this room (default 20)",
    "  /json              switch this connection to JSON lines (/text switches back)",
    "  /encoding NAME     your terminal's encoding (gbk, big5, shift_jis, latin1 …)",
    "  /quit [reason]     leave the server",
    "  //text             send a line that starts with /",
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn messages_and_commands() {
        assert_eq!(parse("hello"), Ok(Input::Say("hello")));
        assert_eq!(parse("   "), Ok(Input::Empty));
        assert_eq!(parse("//etc"), Ok(Input::Say("/etc")));
        assert_eq!(parse("#ping#"), Ok(Input::Ping));
        assert_eq!(parse("/nick bob"), Ok(Input::Command(Command::Nick("bob"))));
        assert_eq!(parse("/NICK  bob "), Ok(Input::Command(Command::Nick("bob"))));
        assert_eq!(parse("/msg bob hi there"), Ok(Input::Command(Command::Msg { to: "bob", text: "hi there" })));
        assert_eq!(parse("/history 5"), Ok(Input::Command(Command::History(Some(5)))));
        assert_eq!(parse("/history"), Ok(Input::Command(Command::History(None))));
        assert_eq!(parse("/me waves"), Ok(Input::Command(Command::Me("waves"))));
        assert_eq!(parse("/quit bye all"), Ok(Input::Command(Command::Quit)));
        let cmd = |l| match parse(l) {
            Ok(Input::Command(c)) => c,
            other => panic!("{l}: {other:?}"),
        };
        assert_eq!(cmd("/join #dev"), Command::Join { room: "#dev", key: None });
        assert_eq!(cmd("/join dev s3cret"), Command::Join { room: "dev", key: Some("s3cret") });
        assert_eq!(cmd("/part"), Command::Part(""));
        assert_eq!(cmd("/part dev bye all"), Command::Part("dev bye all"));
        assert_eq!(cmd("/topic #dev  new topic "), Command::Topic { room: Some("#dev"), text: Some("new topic") });
        assert_eq!(cmd("/topic"), Command::Topic { room: None, text: None });
        assert_eq!(cmd("/kick bob spam"), Command::Kick { room: None, nick: "bob", reason: "spam" });
        assert_eq!(cmd("/kick #dev bob"), Command::Kick { room: Some("#dev"), nick: "bob", reason: "" });
        assert_eq!(cmd("/ban"), Command::Ban { room: None, mask: None, add: true });
        assert_eq!(cmd("/unban #d *!*@h"), Command::Ban { room: Some("#d"), mask: Some("*!*@h"), add: false });
        assert_eq!(cmd("/devoice bob"), Command::Grant { room: None, nick: "bob", mode: Mode::Voice, add: false });
        assert_eq!(cmd("/mode +ov a b"), Command::Mode { room: None, changes: Some("+ov a b") });
        assert_eq!(cmd("/mode #dev"), Command::Mode { room: Some("#dev"), changes: None });
        assert_eq!(cmd("/invite bob #dev"), Command::Invite { nick: "bob", room: Some("#dev") });
        assert_eq!(cmd("/away gone for lunch"), Command::Away(Some("gone for lunch")));
        assert_eq!(cmd("/away"), Command::Away(None));
        assert_eq!(cmd("/whois bob"), Command::Whois("bob"));
        assert_eq!(cmd("/who #dev"), Command::Who(Some("#dev")));
    }

    #[test]
    fn errors_are_readable() {
        assert_eq!(parse("/xyz").unwrap_err().to_string(), "unknown command /xyz (try /help)");
        assert_eq!(parse("/nick").unwrap_err(), ParseError::Usage("/nick NAME"));
        assert_eq!(parse("/nick a b").unwrap_err(), ParseError::Usage("/nick NAME"));
        assert_eq!(parse("/msg bob").unwrap_err(), ParseError::Usage("/msg NICK text"));
        assert!(parse("/history 0").is_err());
        assert!(parse("/history 99999").is_err());
        assert!(parse("/who x").is_err());
        assert_eq!(parse("/join").unwrap_err(), ParseError::Usage("/join ROOM [KEY]"));
        assert_eq!(parse("/join a b c").unwrap_err(), ParseError::Usage("/join ROOM [KEY]"));
        assert_eq!(parse("/kick").unwrap_err(), ParseError::Usage("/kick [#ROOM] NICK [reason]"));
        assert_eq!(parse("/unban").unwrap_err(), ParseError::Usage("/unban [#ROOM] MASK"));
        assert_eq!(parse("/op").unwrap_err(), ParseError::Usage("/op [#ROOM] NICK"));
        assert_eq!(parse("/mode o").unwrap_err(), ParseError::Usage("/mode [#ROOM] [+-modes [args]]"));
        assert_eq!(parse("/invite bob dev").unwrap_err(), ParseError::Usage("/invite NICK [#ROOM]"));
        assert_eq!(parse("/\x1b[2J").unwrap_err().to_string(), "unknown command /\\x1b[2J (try /help)");
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,64}|/[a-z]{0,8}( [\\PC]{0,20}){0,3}") {
            let _ = parse(&s);
        }

        #[test]
        fn plain_text_is_a_message(s in "[^/#\\s][\\PC]{0,40}") {
            prop_assert_eq!(parse(&s), Ok(Input::Say(&s)));
        }
    }
}
