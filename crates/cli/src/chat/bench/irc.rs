//! `sockit bench chat --irc`: the same load spoken as an IRC client, so the
//! generator can load sockit's IRC port, ngircd and InspIRCd alike.
//!
//! Each member registers (`NICK m<i>`, `USER`, waits for `001`, answering
//! `PING`), then joins the channel and waits for the end of its `NAMES`
//! (`366`). Senders send `PRIVMSG #channel :B<run> idx seq time pad`;
//! readers find that text in `:nick!user@host PRIVMSG #channel :…` lines
//! and answer the server's `PING`s. Registration goes through the server's
//! lines with the IRC parser; the delivery path scans bytes, as the text
//! mode does, since it runs millions of times a second.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context};
use sockit_chat::transport::irc::message::{parse, Origin};
use sockit_chat::transport::irc::numeric::{RPL_ENDOFNAMES, RPL_WELCOME};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest a member may take to register and join.
pub const REGISTER_TIMEOUT: Duration = Duration::from_secs(60);

/// The nick of member `i`.
pub fn nick(i: usize) -> String {
    format!("m{i}")
}

/// Registers `s` as member `i` and, with a channel, joins it. Returns the
/// bytes read past the last line it waited for (the reader starts with them).
pub async fn register(s: &mut TcpStream, i: usize, channel: Option<&str>) -> anyhow::Result<Vec<u8>> {
    let nick = nick(i);
    s.write_all(format!("NICK {nick}\r\nUSER u{i} 0 * :sockit bench\r\n").as_bytes()).await?;
    let mut buf = Vec::with_capacity(4096);
    wait_for(s, &mut buf, &nick, |cmd, _| cmd == RPL_WELCOME).await.with_context(|| format!("{nick} registering"))?;
    let Some(chan) = channel else { return Ok(buf) };
    s.write_all(format!("JOIN {chan}\r\n").as_bytes()).await?;
    wait_for(s, &mut buf, &nick, |cmd, params| {
        cmd == RPL_ENDOFNAMES && params.get(1).is_some_and(|c| c.eq_ignore_ascii_case(chan))
    })
    .await
    .with_context(|| format!("{nick} joining {chan}"))?;
    Ok(buf)
}

/// Reads lines until one satisfies `done`, answering `PING` and failing on
/// `ERROR` or an error numeric (4xx/5xx). `buf` keeps what follows it.
async fn wait_for(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    nick: &str,
    done: impl Fn(&str, &[&str]) -> bool,
) -> anyhow::Result<()> {
    loop {
        while let Some(end) = memchr::memchr(b'\n', buf) {
            let line: Vec<u8> = buf.drain(..=end).collect();
            let Ok(m) = parse(&line, Origin::Server) else { continue };
            if m.is("PING") {
                let token = m.param(0).unwrap_or("");
                s.write_all(format!("PONG :{token}\r\n").as_bytes()).await?;
            } else if m.is("ERROR") {
                bail!("server closed the link: {}", m.param(0).unwrap_or(""));
            } else if m.command.starts_with(['4', '5']) && m.param(0).is_some_and(|n| n == nick || n == "*") {
                bail!("server refused: {}", String::from_utf8_lossy(&line).trim_end());
            } else if done(m.command, &m.params) {
                return Ok(());
            }
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            bail!("server closed the connection");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// One sender line.
pub fn privmsg(line: &mut String, channel: &str, text: std::fmt::Arguments<'_>) {
    use std::fmt::Write;
    let _ = write!(line, "PRIVMSG {channel} :{text}\r\n");
}

/// The send time in a delivered `… PRIVMSG #chan :B<run> idx seq ts pad`
/// line, if it is ours (`tag` is `B<run> `). Walks the line's words with
/// `memchr` rather than `memmem::find`, which builds a searcher per call:
/// at millions of lines a second that setup made the generator, not the
/// server, the bottleneck (3.5 CPU-s against 1.5 for the text format).
pub fn sent_at(line: &[u8], tag: &[u8]) -> Option<u64> {
    let mut rest = line;
    if rest.first() == Some(&b'@') {
        rest = past_word(rest)?;
    }
    if rest.first() == Some(&b':') {
        rest = past_word(rest)?;
    }
    let channel = rest.strip_prefix(b"PRIVMSG ")?;
    let text = past_word(channel)?.strip_prefix(b":")?;
    super::stamp(text.strip_prefix(tag)?)
}

/// What follows the first space of `b`.
fn past_word(b: &[u8]) -> Option<&[u8]> {
    memchr::memchr(b' ', b).map(|i| &b[i + 1..])
}

/// Answers a server's `PING` line on `w`; returns whether it was one.
pub fn answer_ping(line: &[u8], w: &mut impl Write) -> bool {
    let Some(token) = line.strip_prefix(b"PING ") else { return false };
    let token = token.strip_suffix(b"\r").unwrap_or(token);
    let mut pong = Vec::with_capacity(token.len() + 7);
    pong.extend_from_slice(b"PONG ");
    pong.extend_from_slice(token);
    pong.extend_from_slice(b"\r\n");
    // A PONG is tiny: the socket's send buffer takes it whole or the
    // connection is failing anyway.
    let _ = w.write_all(&pong);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_timestamp_in_privmsg_lines() {
        let tag = b"B7 ";
        assert_eq!(sent_at(b":m3!~u3@localhost PRIVMSG #bench :B7 3 9 12345 xx\r", tag), Some(12345));
        assert_eq!(sent_at(b"@time=x :m3!u@h PRIVMSG #bench :B7 0 0 1 ", tag), Some(1));
        assert_eq!(sent_at(b":m3!u@h PRIVMSG #bench :B8 0 0 1 x", tag), None);
        assert_eq!(sent_at(b":srv 353 m1 = #bench :m1 m2", tag), None);
        assert_eq!(sent_at(b":m3!u@h NOTICE #bench :B7 0 0 1 x", tag), None);
    }

    #[test]
    fn answers_pings() {
        let mut out = Vec::new();
        assert!(answer_ping(b"PING :irc.local\r", &mut out));
        assert_eq!(out, b"PONG :irc.local\r\n");
        assert!(!answer_ping(b":a PRIVMSG #b :PING x", &mut out));
        let mut line = String::new();
        privmsg(&mut line, "#b", format_args!("B1 {} x", 2));
        assert_eq!(line, "PRIVMSG #b :B1 2 x\r\n");
    }
}
