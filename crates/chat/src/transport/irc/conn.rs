//! One IRC connection: lines in, registration, then the member's commands
//! until it quits, stops answering PINGs, stops reading, or the server
//! stops.
//!
//! - **Lines**: at most [`MAX_LINE`] bytes are buffered for one line (tags
//!   and message at their limits); a longer line, or one whose message
//!   passes 512 bytes, gets `417 ERR_INPUTTOOLONG`, a line that is not
//!   UTF-8 `FAIL <command> INVALID_UTF8` (the server says `UTF8ONLY`);
//!   either way the connection goes on. Unlike text members, a partial
//!   line is never taken as a line: IRC clients end theirs.
//! - **Output**: until registration the task writes its replies itself;
//!   from then on the member's writer shard writes everything, exactly as
//!   for a TCP member (same send queue, backlog and `--send-timeout`), so
//!   a member that stops reading is cut (`ERROR :Closing Link: … (SendQ
//!   exceeded)`) and nobody else waits for it.
//! - **PING**: after [`crate::ChatConfig::irc_ping`] of silence the server
//!   sends `PING`; as long again without a line and the member is gone
//!   (`Ping timeout`). Registration must be done within that time too.
//! - **Flood control** as RFC 1459 §8.10 has it: lines beyond a burst are
//!   not dropped but read later, at `--flood-rate` a second — the
//!   connection's input waits in its socket. Messages (PRIVMSG, NOTICE,
//!   TAGMSG) take from a bucket of `--flood-burst` like any member's lines;
//!   every other command from a bucket [`COMMAND_BURST_FACTOR`] times as
//!   large, so a client's join burst (JOIN, then MODE and WHO for each
//!   channel) is not slowed; PONG is free.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use sockit_net::codec::{Line, LineCodec};
use sockit_net::rate::TokenBucket;
use sockit_net::{ConnInfo, Peer};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::codec::Decoder;

use super::client::{style_of, Client};
use super::message::{parse, Origin, ParseError, MAX_LINE};
use super::numeric::*;
use super::register::{welcome, Handshake, Step};
use super::reply::{Ctx, Out};
use super::SERVER_NAME;
use crate::fanout::{Cut, Pacing, Sink};
use crate::hub::{ErrorCode, Registration};
use crate::service::Chat;
use crate::session::Flow;
use crate::transport::tcp::{bound_send_buffer, write_all, FLUSH_GRACE, LAST_WORD};
use crate::wire::Wire;

/// How much larger the bucket of commands other than messages is than
/// `--flood-burst`.
pub const COMMAND_BURST_FACTOR: u32 = 5;

/// Serves one connection of the IRC listener.
pub async fn serve_connection(chat: Chat, stream: TcpStream, info: ConnInfo) {
    bound_send_buffer(&chat, &stream);
    serve_wire(chat, Wire::Tcp(stream), info, "irc").await;
}

/// Serves one connection of the IRC TLS listener (the handshake, then the
/// member on its socket pair, as TLS line members are served).
pub async fn serve_tls_connection(chat: Chat, stream: TcpStream, info: ConnInfo, tls: sockit_net::tls::ServerTls) {
    crate::transport::tls::serve_bridged(chat, stream, info, tls, |chat, wire, info| {
        serve_wire(chat, wire, info, "ircs")
    })
    .await;
}

/// Reading lines off the member's socket.
struct Input {
    codec: LineCodec,
    buf: BytesMut,
}

impl Input {
    fn next(&mut self) -> Option<Line> {
        let line = self.codec.decode(&mut self.buf).ok().flatten();
        if line.is_none() {
            crate::wire::shed(&mut self.buf);
        }
        line
    }

    /// Reads what is there; false at end of input.
    async fn fill(&mut self, stream: &Wire) -> io::Result<bool> {
        stream.readable().await?;
        match stream.try_read_append(&mut self.buf) {
            Ok(0) => Ok(false),
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(true),
            Err(e) => Err(e),
        }
    }
}

/// The two flood buckets, and the line held back until its bucket has a
/// token again (flood delays lines; it does not drop them).
struct Pace {
    say: TokenBucket,
    other: TokenBucket,
    held: Option<Line>,
    /// When the held line may go.
    wake: Option<Instant>,
}

impl Pace {
    fn new(chat: &Chat) -> Pace {
        let cfg = &chat.config;
        Pace {
            say: TokenBucket::new(cfg.flood_burst, cfg.flood_rate),
            other: TokenBucket::new(cfg.flood_burst.saturating_mul(COMMAND_BURST_FACTOR), cfg.flood_rate),
            held: None,
            wake: None,
        }
    }

    /// The next line that may be handled now: the held one or the next
    /// complete one of `input`. `None` when there is none yet, or when it
    /// must wait (it is then held until [`Pace::wait`] ends).
    fn next(&mut self, input: &mut Input) -> Option<Line> {
        let line = self.held.take().or_else(|| input.next())?;
        match self.take(&line) {
            None => Some(line),
            Some(wait) => {
                self.held = Some(line);
                self.wake = Some(Instant::now() + wait);
                None
            }
        }
    }

    /// Whether a line is held back (no more input is read meanwhile).
    fn holding(&self) -> bool {
        self.held.is_some()
    }

    /// Ends when the held line may go.
    async fn wait(&self) {
        match self.wake {
            Some(at) if self.held.is_some() => tokio::time::sleep_until(at).await,
            _ => std::future::pending().await,
        }
    }

    /// Takes what `line` costs; `Some(wait)` when it must wait first.
    fn take(&mut self, line: &Line) -> Option<Duration> {
        let Line::Text(bytes) = line else { return None };
        let bucket = match command_word(bytes) {
            w if w.eq_ignore_ascii_case(b"PONG") => return None,
            w if [&b"PRIVMSG"[..], b"NOTICE", b"TAGMSG"].iter().any(|c| w.eq_ignore_ascii_case(c)) => &mut self.say,
            _ => &mut self.other,
        };
        if bucket.take() {
            None
        } else {
            Some(bucket.wait().max(Duration::from_millis(1)))
        }
    }
}

/// The command of a raw line (after any tags and source), for pacing.
fn command_word(line: &[u8]) -> &[u8] {
    let mut rest = line;
    for marker in [b'@', b':'] {
        let trimmed = trim(rest);
        rest = match trimmed.first() {
            Some(&b) if b == marker => trimmed.iter().position(|&c| c == b' ').map_or(&[][..], |i| &trimmed[i..]),
            _ => trimmed,
        };
    }
    let rest = trim(rest);
    &rest[..rest.iter().position(|&c| c == b' ').unwrap_or(rest.len())]
}

fn trim(b: &[u8]) -> &[u8] {
    &b[b.iter().take_while(|&&c| c == b' ').count()..]
}

/// What one raw line is: a message, nothing (empty), or an error to answer.
fn answer_bad_line(line: &Line, nick: &str, out: &mut Out) -> Option<()> {
    let bytes = match line {
        Line::Text(b) => b,
        Line::TooLong => {
            out.numeric(nick, ERR_INPUTTOOLONG, &["Input line was too long"]);
            return Some(());
        }
    };
    match parse(bytes, Origin::Client) {
        Ok(_) | Err(ParseError::Empty) => None,
        Err(ParseError::TooLong | ParseError::TagsTooLong) => {
            out.numeric(nick, ERR_INPUTTOOLONG, &["Input line was too long"]);
            Some(())
        }
        Err(ParseError::InvalidUtf8) => {
            let cmd = String::from_utf8_lossy(command_word(bytes)).to_ascii_uppercase();
            let cmd = if cmd.bytes().all(|b| b.is_ascii_alphanumeric()) && !cmd.is_empty() { cmd } else { "*".into() };
            out.server(FAIL, &[&cmd, "INVALID_UTF8", "Message rejected: it is not valid UTF-8"]);
            Some(())
        }
        Err(e) => {
            out.numeric(nick, ERR_UNKNOWNERROR, &["*", &format!("Malformed line: {e}")]);
            Some(())
        }
    }
}

/// How the connection ends.
enum End {
    Quit,
    Eof,
    Shutdown,
    PingTimeout,
    TooSlow(Cut),
    Broken,
}

/// Serves one IRC member on `stream` (`transport`: `irc` or `ircs`).
pub async fn serve_wire(chat: Chat, stream: Wire, info: ConnInfo, transport: &'static str) {
    let Peer::Ip(peer) = info.peer else { return };
    let stream = Arc::new(stream);
    let mut input = Input { codec: LineCodec::new(MAX_LINE), buf: BytesMut::new() };
    let mut pace = Pace::new(&chat);
    let stop = info.shutdown.triggered();
    tokio::pin!(stop);
    let registered = register(&chat, &stream, peer, transport, &mut input, &mut pace, &mut stop).await;
    let Some((mut client, dropped)) = registered else { return };
    tracing::debug!(%peer, nick = %client.nick, "IRC member registered");
    let end = run(&chat, &stream, &mut client, dropped, &mut input, &mut pace, &mut stop).await;
    let host = peer.ip().to_string();
    let closing = |why: &str| format!("Closing Link: {host} ({why})");
    match end {
        End::TooSlow(cut) => {
            client.set_reason("SendQ exceeded");
            let mut last = BytesMut::new();
            if cut.mid_line {
                last.put_slice(b"\r\n");
            }
            let mut out = Out::default();
            out.raw(format!("ERROR :{}\r\n", closing("SendQ exceeded")).as_bytes());
            last.put_slice(&out.take());
            write_all(&stream, &last, Instant::now() + LAST_WORD).await;
            return;
        }
        End::Broken => return,
        End::Quit => {
            let why = client.reason.clone();
            client.out.raw(format!("ERROR :{}\r\n", closing(&why)).as_bytes());
        }
        End::Shutdown => {
            client.set_reason("Server shutting down");
            client.out.raw(format!("ERROR :{}\r\n", closing("Server shutting down")).as_bytes());
        }
        End::PingTimeout => {
            let why = format!("Ping timeout: {} seconds", chat.config.irc_ping.as_secs() * 2);
            client.out.raw(format!("ERROR :{}\r\n", closing(&why)).as_bytes());
            client.set_reason(why);
        }
        End::Eof => client.set_reason("Remote host closed the connection"),
    }
    client.flush();
    // What its shard still held, then close.
    let rest = chat.fanout.detach(client.id).await;
    let deadline = Instant::now() + FLUSH_GRACE;
    write_all(&stream, &rest.bytes, deadline).await;
    let style = client.style();
    let mut buf = BytesMut::new();
    for ev in rest.events {
        if ev.is_for_style(client.id, &style) {
            style.append(&ev, &mut buf);
        }
    }
    write_all(&stream, &buf, deadline).await;
    tracing::debug!(%peer, nick = %client.nick, "IRC member left");
}

/// Until the connection has registered: its replies written here. Returns
/// the member and what tells when its shard lets go of it, or `None` when
/// it left or could not register.
async fn register(
    chat: &Chat,
    stream: &Arc<Wire>,
    peer: SocketAddr,
    transport: &'static str,
    input: &mut Input,
    pace: &mut Pace,
    stop: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
) -> Option<(Client, oneshot::Receiver<Cut>)> {
    let mut hs = Handshake::default();
    let mut out = Out::default();
    let deadline = Instant::now() + chat.config.irc_ping;
    let host = peer.ip().to_string();
    loop {
        if let Some(line) = pace.next(input) {
            let answered = answer_bad_line(&line, hs.shown_nick(), &mut out).is_some();
            let step = match (&line, answered) {
                (Line::Text(bytes), false) => match parse(bytes, Origin::Client) {
                    Ok(m) => hs.handle(&chat.hub, &m, &mut out).await,
                    Err(_) => Step::More,
                },
                _ => Step::More,
            };
            match step {
                Step::More => {}
                Step::Quit => {
                    out.raw(format!("ERROR :Closing Link: {host} (Quit)\r\n").as_bytes());
                    write_all(stream, &out.take(), Instant::now() + FLUSH_GRACE).await;
                    return None;
                }
                Step::Ready => {
                    write_all(stream, &out.take(), Instant::now() + FLUSH_GRACE).await;
                    let nick = hs.nick.clone().unwrap_or_default();
                    let (dropped_tx, dropped) = oneshot::channel();
                    let pacing = Pacing::default();
                    let reg = Registration {
                        peer,
                        sink: Sink::Tcp { stream: stream.clone(), dropped: dropped_tx, pacing },
                        ident: hs.ident(&host),
                        transport,
                        land: false,
                        nick: Some(nick.clone()),
                        style: style_of(&hs.caps),
                    };
                    match chat.hub.register(reg).await {
                        Ok(w) => {
                            let mut client = Client::new(chat.clone(), w.id, w.nick, w.userhost, hs.caps, w.activity);
                            let stats = chat.hub.stats().await;
                            welcome(&chat.config, stats, &client.nick, &client.userhost.clone(), &mut client.out);
                            client.flush();
                            return Some((client, dropped));
                        }
                        Err(e) if matches!(e.code, ErrorCode::NickInUse | ErrorCode::ErroneousNick) => {
                            // Taken in between: the client picks another, as after any 433.
                            let ctx = Ctx { command: "NICK", target: Some(&nick), ..Ctx::default() };
                            out.hub_error("*", &e, ctx);
                            hs.nick = None;
                        }
                        Err(e) => {
                            out.raw(format!("ERROR :Closing Link: {host} ({})\r\n", e.text).as_bytes());
                            write_all(stream, &out.take(), Instant::now() + FLUSH_GRACE).await;
                            return None;
                        }
                    }
                }
            }
            if !out.is_empty() {
                write_all(stream, &out.take(), Instant::now() + FLUSH_GRACE).await;
            }
            continue;
        }
        tokio::select! {
            biased;
            _ = stop.as_mut() => return None,
            r = input.fill(stream), if !pace.holding() => match r {
                Ok(true) => {}
                _ => return None,
            },
            _ = pace.wait() => {}
            _ = tokio::time::sleep_until(deadline) => {
                let line = format!("ERROR :Closing Link: {host} (Registration timed out)\r\n");
                write_all(stream, line.as_bytes(), Instant::now() + LAST_WORD).await;
                return None;
            }
        }
    }
}

/// A registered member's loop.
async fn run(
    chat: &Chat,
    stream: &Wire,
    client: &mut Client,
    mut dropped: oneshot::Receiver<Cut>,
    input: &mut Input,
    pace: &mut Pace,
    stop: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
) -> End {
    let ping = chat.config.irc_ping;
    let mut last_input = Instant::now();
    let mut pinged = false;
    loop {
        if let Some(line) = pace.next(input) {
            last_input = Instant::now();
            pinged = false;
            let nick = client.nick.clone();
            let mut flow = Flow::Continue;
            if answer_bad_line(&line, &nick, &mut client.out).is_none() {
                if let Line::Text(bytes) = &line {
                    if let Ok(m) = parse(bytes, Origin::Client) {
                        flow = client.handle(&m).await;
                    }
                }
            }
            if flow == Flow::Quit {
                return End::Quit;
            }
            client.flush();
            continue;
        }
        let check = last_input + ping * if pinged { 2 } else { 1 };
        tokio::select! {
            biased;
            _ = stop.as_mut() => return End::Shutdown,
            r = &mut dropped => return match r {
                Ok(cut) => End::TooSlow(cut),
                Err(_) => End::Broken,
            },
            r = input.fill(stream), if !pace.holding() => match r {
                Ok(true) => {}
                Ok(false) => return End::Eof,
                Err(_) => return End::Broken,
            },
            _ = pace.wait() => {}
            _ = tokio::time::sleep_until(check) => {
                if pinged {
                    return End::PingTimeout;
                }
                pinged = true;
                client.out.server("PING", &[SERVER_NAME]);
                client.flush();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_words() {
        assert_eq!(command_word(b"PRIVMSG #a :x"), b"PRIVMSG");
        assert_eq!(command_word(b"@+a=b :me!u@h privmsg #a :x"), b"privmsg");
        assert_eq!(command_word(b"  PING"), b"PING");
        assert_eq!(command_word(b"@tags-only"), b"");
        assert_eq!(command_word(b""), b"");
    }

    #[test]
    fn bad_lines_are_answered() {
        let mut out = Out::default();
        assert!(answer_bad_line(&Line::Text("PING x".into()), "bob", &mut out).is_none());
        assert!(answer_bad_line(&Line::Text("   ".into()), "bob", &mut out).is_none());
        assert!(answer_bad_line(&Line::TooLong, "bob", &mut out).is_some());
        let long = format!("PRIVMSG #a :{}", "x".repeat(600));
        assert!(answer_bad_line(&Line::Text(long.into()), "bob", &mut out).is_some());
        assert!(answer_bad_line(&Line::Text(b"PRIVMSG #a :\xff\xfe"[..].into()), "bob", &mut out).is_some());
        let text = String::from_utf8(out.take().to_vec()).unwrap();
        assert_eq!(
            text,
            ":irc.sockit 417 bob :Input line was too long\r\n:irc.sockit 417 bob :Input line was too long\r\n:irc.sockit FAIL PRIVMSG INVALID_UTF8 :Message rejected: it is not valid UTF-8\r\n"
        );
    }
}
