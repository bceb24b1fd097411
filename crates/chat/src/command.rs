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

/// The commands (see `/help`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// `/nick NAME`
    Nick(&'a str),
    /// `/join ROOM`
    Join(&'a str),
    /// `/who`: members of the current room.
    Who,
    /// `/rooms`: rooms and their sizes.
    Rooms,
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
    /// `/quit [reason]`
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
        "join" => Command::Join(one_word("/join ROOM")?),
        "who" | "names" => none(Command::Who)?,
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
        "quit" | "exit" | "part" => Command::Quit,
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
        Command::Who => "/who",
        Command::Rooms => "/rooms",
        Command::Json => "/json",
        Command::Text => "/text",
        _ => "/help",
    }
}

/// The `/help` text, one notice per line.
pub const HELP: &[&str] = &[
    "commands:",
    "  /nick NAME         change your nick (unique; letters, digits, _-.[]{}|^)",
    "  /join ROOM         move to ROOM (created on demand; default lobby)",
    "  /who               who is in this room",
    "  /rooms             rooms and how many are in each",
    "  /msg NICK text     private message",
    "  /me action         * nick action",
    "  /history [N]       the last N messages of this room (default 20)",
    "  /json              switch this connection to JSON lines (/text switches back)",
    "  /encoding NAME     your terminal's encoding (gbk, big5, shift_jis, latin1 …)",
    "  /quit              leave",
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
