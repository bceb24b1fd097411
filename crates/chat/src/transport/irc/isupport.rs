//! The `005 RPL_ISUPPORT` tokens, built from the server's settings so that
//! they say what the server does, and split over as many `005` lines as
//! the limits need: at most 13 tokens a line (the nick first and the
//! closing text last make 15 parameters) and within 512 bytes.

use super::casemap::CASEMAPPING;
use super::nick::NICKLEN;

/// The settings the tokens come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `NETWORK`: the network's name.
    pub network: String,
    /// `NICKLEN`.
    pub nicklen: usize,
    /// `CHANNELLEN`: the longest channel name, `#` included.
    pub channellen: usize,
    /// `CHANLIMIT=#:N`: channels one client may be in.
    pub chanlimit: usize,
    /// `MAXTARGETS`: targets of one PRIVMSG/NOTICE.
    pub maxtargets: usize,
    /// `TOPICLEN`.
    pub topiclen: usize,
    /// `KICKLEN`.
    pub kicklen: usize,
    /// `AWAYLEN`.
    pub awaylen: usize,
    /// `MODES`: mode changes with a parameter in one MODE command.
    pub modes: usize,
}

impl Default for Settings {
    /// The hub's name limits and the room spec's default of 20 rooms.
    fn default() -> Self {
        Settings {
            network: "sockit".to_owned(),
            nicklen: NICKLEN,
            channellen: crate::text::MAX_ROOM + 1,
            chanlimit: 20,
            maxtargets: 4,
            topiclen: 390,
            kicklen: 255,
            awaylen: 200,
            modes: 4,
        }
    }
}

/// Most tokens on one `005` line.
pub const TOKENS_PER_LINE: usize = 13;
/// Closing text of each `005` line.
pub const TRAILER: &str = "are supported by this server";

/// The tokens, `KEY=VALUE` each, in a fixed order.
pub fn tokens(s: &Settings) -> Vec<String> {
    vec![
        "CHANTYPES=#".to_owned(),
        "PREFIX=(ov)@+".to_owned(),
        "CHANMODES=b,k,l,imnt".to_owned(),
        format!("CASEMAPPING={CASEMAPPING}"),
        format!("NICKLEN={}", s.nicklen),
        format!("CHANNELLEN={}", s.channellen),
        format!("CHANLIMIT=#:{}", s.chanlimit),
        format!("MAXTARGETS={}", s.maxtargets),
        format!("TOPICLEN={}", s.topiclen),
        format!("KICKLEN={}", s.kicklen),
        format!("AWAYLEN={}", s.awaylen),
        format!("MODES={}", s.modes),
        format!("NETWORK={}", escape_value(&s.network)),
        // Lines that are not UTF-8 are refused (`FAIL … INVALID_UTF8`).
        "UTF8ONLY".to_owned(),
    ]
}

/// The parameters of each `005` line for `nick`: nick, tokens, [`TRAILER`].
/// A line holds at most [`TOKENS_PER_LINE`] tokens and at most `budget`
/// bytes of them (what is left of 512 after the source, command, nick and
/// trailer: the connection computes it; 300 is always safe).
pub fn lines(s: &Settings, nick: &str, budget: usize) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut cur: Vec<String> = Vec::new();
    let mut used = 0;
    for t in tokens(s) {
        if !cur.is_empty() && (cur.len() == TOKENS_PER_LINE || used + 1 + t.len() > budget) {
            out.push(close(nick, std::mem::take(&mut cur)));
            used = 0;
        }
        used += t.len() + 1;
        cur.push(t);
    }
    if !cur.is_empty() {
        out.push(close(nick, cur));
    }
    out
}

fn close(nick: &str, tokens: Vec<String>) -> Vec<String> {
    let mut p = Vec::with_capacity(tokens.len() + 2);
    p.push(nick.to_owned());
    p.extend(tokens);
    p.push(TRAILER.to_owned());
    p
}

/// A token value as the spec escapes it: `\x20` for a space, `\x5C` for
/// `\`, `\x3D` for `=`, and any other byte that is not printable ASCII.
pub fn escape_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_graphic() && b != b'\\' && b != b'=' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::irc::message::{Message, MAX_MESSAGE};

    #[test]
    fn honest_tokens() {
        let t = tokens(&Settings::default());
        for want in [
            "CHANTYPES=#",
            "PREFIX=(ov)@+",
            "CHANMODES=b,k,l,imnt",
            "CASEMAPPING=ascii",
            "NICKLEN=32",
            "CHANNELLEN=33",
            "CHANLIMIT=#:20",
            "NETWORK=sockit",
        ] {
            assert!(t.iter().any(|x| x == want), "{want} in {t:?}");
        }
        let s = Settings { network: "my net=1\\".into(), chanlimit: 5, ..Settings::default() };
        let t = tokens(&s);
        assert!(t.contains(&"NETWORK=my\\x20net\\x3D1\\x5C".to_owned()), "{t:?}");
        assert!(t.contains(&"CHANLIMIT=#:5".to_owned()));
    }

    #[test]
    fn split_by_count_and_bytes() {
        let s = Settings::default();
        let all = tokens(&s);
        let two = lines(&s, "bob", 400);
        assert_eq!(two.len(), 2, "14 tokens: 13 on the first line");
        assert_eq!(two[0].len(), 15, "nick + 13 + trailer = the 15-parameter limit");
        let many = lines(&s, "bob", 40);
        assert!(many.len() > 3);
        let mut seen = Vec::new();
        for l in &many {
            assert_eq!((l[0].as_str(), l[l.len() - 1].as_str()), ("bob", TRAILER));
            let toks = &l[1..l.len() - 1];
            assert!(toks.len() <= TOKENS_PER_LINE);
            assert!(toks.len() == 1 || toks.iter().map(|t| t.len() + 1).sum::<usize>() <= 40);
            seen.extend(toks.iter().cloned());
            let params: Vec<&str> = l.iter().map(String::as_str).collect();
            let m = Message { source: Some("irc.example.org"), ..Message::new("005", params) };
            assert!(m.to_line().is_ok_and(|l| l.len() <= MAX_MESSAGE));
        }
        assert_eq!(seen, all, "every token once, in order");
    }
}
