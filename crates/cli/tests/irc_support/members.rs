//! The other members of the scenario, who watch what the IRC client does.
//! Against sockit: an nc-style text member (a std TCP socket on the chat
//! text port) and a WebSocket member (python3, chat_support::ws). Against
//! ngircd both are raw IRC sockets, so the same scenario can be checked on
//! a known-good ircd. Rooms are named without `#` here; each kind adds what
//! it needs.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::chat_support::ws::{ws_join, WsMember};
use crate::chat_support::{Member, Proc};

use super::server::{Server, Target};
use super::WAIT;

/// One watching member.
pub struct Other {
    /// Its nick.
    pub nick: String,
    /// The nick IRC clients see it under (its IRC-safe form on sockit).
    pub irc_nick: String,
    kind: Kind,
    /// The room its plain lines go to (text and WebSocket members).
    current: Option<String>,
}

enum Kind {
    Text(Member),
    Ws(Proc),
    Irc(RawIrc),
}

impl Other {
    /// The nc-style member: sockit's text port, or raw IRC on ngircd.
    pub fn text(server: &Server, nick: &str) -> Other {
        let kind = match server.target {
            Target::Sockit => Kind::Text(Member::join(server.text.unwrap(), nick)),
            Target::Ngircd => Kind::Irc(RawIrc::register(server.irc, nick)),
        };
        Other { nick: nick.to_string(), irc_nick: nick.to_string(), kind, current: None }
    }

    /// A text member that keeps its default nick (`127.0.0.1:PORT`), which
    /// is no IRC nick: IRC clients see it as `_127-0-0-1-PORT`
    /// (docs/protocol.md, "Nicks seen by IRC clients"). On ngircd, a raw
    /// IRC member called `anon`.
    pub fn anonymous(server: &Server) -> Other {
        match server.target {
            Target::Sockit => {
                let m = Member::join(server.text.unwrap(), "");
                let own = m.lines.seen.iter().find(|l| l.ends_with(" joined lobby")).cloned().unwrap();
                let nick = own.trim_start_matches("* ").trim_end_matches(" joined lobby").to_string();
                let irc_nick = format!("_{}", nick.replace(['.', ':'], "-"));
                Other { nick, irc_nick, kind: Kind::Text(m), current: None }
            }
            Target::Ngircd => Other::text(server, "anon"),
        }
    }

    /// The WebSocket member (raw IRC on ngircd, which has no WebSocket; a
    /// second text member when sockit runs without its plain web port).
    pub fn web(server: &Server, nick: &str) -> Other {
        let kind = match server.target {
            Target::Sockit if server.web.is_none() => Kind::Text(Member::join(server.text.unwrap(), nick)),
            Target::Sockit => {
                let mut ws = ws_join(server.web.unwrap());
                ws.event("joined lobby");
                ws.say(&format!("/nick {nick}"));
                ws.event(&format!("is now known as {nick}"));
                Kind::Ws(ws)
            }
            Target::Ngircd => Kind::Irc(RawIrc::register(server.irc, nick)),
        };
        Other { nick: nick.to_string(), irc_nick: nick.to_string(), kind, current: None }
    }

    /// Joins `room` and waits until the server confirms it.
    pub fn join(&mut self, room: &str) {
        let nick = self.nick.clone();
        match &mut self.kind {
            Kind::Text(m) => {
                m.send(&format!("/join {room}"));
                m.expect(&format!("* {nick} joined {room}"));
            }
            Kind::Ws(p) => {
                p.say(&format!("/join {room}"));
                ws_event(p, &format!("own join of {room}"), |v| is_event(v, "join", room) && v["nick"] == nick);
            }
            Kind::Irc(irc) => {
                irc.send(&format!("JOIN #{room}"));
                irc.expect(&[" 366 ", &format!("#{room}")]);
            }
        }
        self.current = Some(room.to_string());
    }

    /// Makes `room` the one plain lines go to (text and WebSocket members).
    fn make_current(&mut self, room: &str) {
        if self.current.as_deref() == Some(room) {
            return;
        }
        match &mut self.kind {
            Kind::Text(m) => {
                m.send(&format!("/join {room}"));
                m.expect(&format!("* current room: {room}"));
            }
            Kind::Ws(p) => {
                p.say(&format!("/join {room}"));
                p.event(&format!("current room: {room}"));
            }
            Kind::Irc(_) => {}
        }
        self.current = Some(room.to_string());
    }

    /// Says `text` in `room`.
    pub fn say(&mut self, room: &str, text: &str) {
        self.make_current(room);
        match &mut self.kind {
            Kind::Text(m) => m.send(text),
            Kind::Ws(p) => p.say(text),
            Kind::Irc(irc) => {
                // As IRC clients do, a text too long for one line goes in pieces.
                for piece in pieces(text, 400) {
                    irc.send(&format!("PRIVMSG #{room} :{piece}"));
                }
            }
        }
    }

    /// Does `/me text` in `room` (an ACTION for IRC clients).
    pub fn act(&mut self, room: &str, text: &str) {
        self.make_current(room);
        match &mut self.kind {
            Kind::Text(m) => m.send(&format!("/me {text}")),
            Kind::Ws(p) => p.say(&format!("/me {text}")),
            Kind::Irc(irc) => irc.send(&format!("PRIVMSG #{room} :\u{1}ACTION {text}\u{1}")),
        }
    }

    /// Sends `text` privately to `to` (as its IRC clients know it).
    pub fn private(&mut self, to: &str, text: &str) {
        match &mut self.kind {
            Kind::Text(m) => m.send(&format!("/msg {to} {text}")),
            Kind::Ws(p) => p.say(&format!("/msg {to} {text}")),
            Kind::Irc(irc) => irc.send(&format!("PRIVMSG {to} :{text}")),
        }
    }

    /// Gives `nick` operator status in `room`; waits for the mode change.
    pub fn op(&mut self, room: &str, nick: &str) {
        self.make_current(room);
        match &mut self.kind {
            Kind::Text(m) => {
                m.send(&format!("/op {nick}"));
                m.expect(&format!("set mode +o {nick}"));
            }
            Kind::Ws(p) => {
                p.say(&format!("/op {nick}"));
                p.event(&format!("+o {nick}"));
            }
            Kind::Irc(irc) => {
                irc.send(&format!("MODE #{room} +o {nick}"));
                irc.expect(&[&format!(" MODE #{room} +o {nick}")]);
            }
        }
    }

    /// Kicks `nick` out of `room` with `reason` (the member must be an operator).
    pub fn kick(&mut self, room: &str, nick: &str, reason: &str) {
        self.make_current(room);
        match &mut self.kind {
            Kind::Text(m) => m.send(&format!("/kick {nick} {reason}")),
            Kind::Ws(p) => p.say(&format!("/kick {nick} {reason}")),
            Kind::Irc(irc) => irc.send(&format!("KICK #{room} {nick} :{reason}")),
        }
        let me = self.nick.clone();
        self.sees_kick(room, &me, nick, reason);
    }

    /// Waits until `nick` is seen joining `room`.
    pub fn sees_join(&mut self, room: &str, nick: &str) {
        match &mut self.kind {
            Kind::Text(m) => {
                let l = m.expect(&format!("* {nick} joined {room}"));
                assert_eq!(l, format!("[{room}] * {nick} joined {room}"), "a member of several rooms sees the tag");
            }
            Kind::Ws(p) => {
                ws_event(p, &format!("{nick} joining {room}"), |v| is_event(v, "join", room) && v["nick"] == nick)
            }
            Kind::Irc(irc) => {
                irc.expect(&[&format!(":{nick}!"), " JOIN ", &format!("#{room}")]);
            }
        }
    }

    /// Waits until `from` is seen saying `text` in `room`.
    pub fn sees_msg(&mut self, room: &str, from: &str, text: &str) {
        match &mut self.kind {
            Kind::Text(m) => {
                let l = m.expect(text);
                assert_eq!(l, format!("[{room}] <{from}> {text}"));
            }
            Kind::Ws(p) => ws_event(p, &format!("{from}'s message in {room}"), |v| {
                v["type"] == "msg" && v["room"] == room && v["from"] == from && v["text"] == text
            }),
            Kind::Irc(irc) => {
                irc.expect(&[&format!(":{from}!"), &format!(" PRIVMSG #{room} :{text}")]);
            }
        }
    }

    /// Waits until `from` is seen doing `/me text` in `room`.
    pub fn sees_action(&mut self, room: &str, from: &str, text: &str) {
        match &mut self.kind {
            Kind::Text(m) => {
                let l = m.expect(text);
                assert_eq!(l, format!("[{room}] * {from} {text}"));
            }
            Kind::Ws(p) => ws_event(p, &format!("{from}'s action in {room}"), |v| {
                v["type"] == "me" && v["room"] == room && v["from"] == from && v["text"] == text
            }),
            Kind::Irc(irc) => {
                irc.expect(&[&format!(":{from}!"), &format!(" PRIVMSG #{room} :\u{1}ACTION {text}\u{1}")]);
            }
        }
    }

    /// Waits until `from` is seen telling this member `text` privately.
    pub fn sees_private(&mut self, from: &str, text: &str) {
        let me = self.nick.clone();
        match &mut self.kind {
            Kind::Text(m) => {
                let l = m.expect(text);
                assert_eq!(l, format!("<{from} -> {me}> {text}"));
            }
            Kind::Ws(p) => ws_event(p, &format!("{from}'s private message"), |v| {
                v["type"] == "private" && v["from"] == from && v["to"] == me && v["text"] == text
            }),
            Kind::Irc(irc) => {
                irc.expect(&[&format!(":{from}!"), &format!(" PRIVMSG {me} :{text}")]);
            }
        }
    }

    /// Waits until `nick` is seen setting the topic of `room` to `topic`.
    pub fn sees_topic(&mut self, room: &str, nick: &str, topic: &str) {
        match &mut self.kind {
            Kind::Text(m) => {
                let l = m.expect("set the topic");
                assert_eq!(l, format!("[{room}] * {nick} set the topic of {room}: {topic}"));
            }
            Kind::Ws(p) => ws_event(p, &format!("{nick} setting the topic of {room}"), |v| {
                is_event(v, "topic", room) && v["nick"] == nick && v["topic"] == topic
            }),
            Kind::Irc(irc) => {
                irc.expect(&[&format!(":{nick}!"), &format!(" TOPIC #{room} :{topic}")]);
            }
        }
    }

    /// Waits until `by` is seen kicking `target` out of `room` for `reason`.
    pub fn sees_kick(&mut self, room: &str, by: &str, target: &str, reason: &str) {
        match &mut self.kind {
            Kind::Text(m) => {
                let l = m.expect("kicked");
                assert_eq!(l, format!("[{room}] * {by} kicked {target} from {room} ({reason})"));
            }
            Kind::Ws(p) => ws_event(p, &format!("{by} kicking {target} out of {room}"), |v| {
                is_event(v, "kick", room) && v["nick"] == by && v["target"] == target && v["reason"] == reason
            }),
            Kind::Irc(irc) => {
                irc.expect(&[&format!(":{by}!"), &format!(" KICK #{room} {target} :{reason}")]);
            }
        }
    }

    /// Waits until `old` is seen taking the nick `new`.
    pub fn sees_nick(&mut self, old: &str, new: &str) {
        match &mut self.kind {
            Kind::Text(m) => {
                m.expect(&format!("* {old} is now known as {new}"));
            }
            Kind::Ws(p) => ws_event(p, &format!("{old} becoming {new}"), |v| {
                v["event"] == "nick" && v["nick"] == old && v["new"] == new
            }),
            Kind::Irc(irc) => {
                irc.expect(&[&format!(":{old}!"), " NICK ", new]);
            }
        }
    }

    /// Waits until `nick` is seen quitting with a reason containing `reason`
    /// (clients decorate it: ii quotes it).
    pub fn sees_quit(&mut self, nick: &str, reason: &str) {
        match &mut self.kind {
            Kind::Text(m) => {
                let l = m.expect(&format!("* {nick} left ("));
                assert!(l.contains(reason), "quit line without the reason {reason:?}: {l}");
            }
            Kind::Ws(p) => ws_event(p, &format!("{nick} quitting"), |v| {
                v["event"] == "quit" && v["nick"] == nick && v["reason"].as_str().is_some_and(|r| r.contains(reason))
            }),
            Kind::Irc(irc) => {
                let l = irc.expect(&[&format!(":{nick}!"), " QUIT "]);
                assert!(l.contains(reason), "QUIT without the reason {reason:?}: {l}");
            }
        }
    }

    /// Asserts that nothing this member received (up to now, after a short
    /// settle) contained `text`: for lines meant for a room it is not in.
    pub fn never_saw(&mut self, text: &str) {
        let seen: Vec<String> = match &mut self.kind {
            Kind::Text(m) => {
                m.drain(Duration::from_millis(300));
                m.lines.seen.clone()
            }
            Kind::Ws(p) => {
                p.lines.drain(Duration::from_millis(300));
                p.lines.seen.clone()
            }
            Kind::Irc(irc) => {
                irc.drain(Duration::from_millis(300));
                irc.seen.clone()
            }
        };
        assert!(!seen.iter().any(|l| l.contains(text)), "{} saw {text:?} though it should not: {seen:#?}", self.nick);
    }
}

/// `text` cut at character boundaries into pieces of at most `max` bytes.
fn pieces(text: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut end = max;
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    out.push(rest);
    out
}

fn is_event(v: &serde_json::Value, event: &str, room: &str) -> bool {
    v["event"] == event && v["room"] == room
}

/// Waits for a WebSocket JSON message that satisfies `pred`.
fn ws_event(p: &mut Proc, what: &str, pred: impl Fn(&serde_json::Value) -> bool) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        // Every message line starts with "TEXT "; event() parses it.
        if pred(&p.event("TEXT ")) {
            return;
        }
    }
    panic!("the WebSocket member never saw {what}; saw {:#?}", p.lines.seen);
}

/// A raw IRC connection (std socket) that answers PING by itself.
pub struct RawIrc {
    w: TcpStream,
    rx: mpsc::Receiver<String>,
    /// Lines received so far.
    pub seen: Vec<String>,
}

impl RawIrc {
    /// Connects, registers as `nick` and waits for 001.
    pub fn register(addr: SocketAddr, nick: &str) -> RawIrc {
        let w = TcpStream::connect(addr).unwrap();
        let r = w.try_clone().unwrap();
        let mut pong = w.try_clone().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(r).lines().map_while(Result::ok) {
                if let Some(arg) = line.strip_prefix("PING ") {
                    let _ = pong.write_all(format!("PONG {arg}\r\n").as_bytes());
                }
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut irc = RawIrc { w, rx, seen: Vec::new() };
        irc.send(&format!("NICK {nick}"));
        irc.send(&format!("USER {nick} 0 * :raw member {nick}"));
        irc.expect(&[" 001 "]);
        irc
    }

    /// Sends one line (CRLF added).
    pub fn send(&mut self, line: &str) {
        self.w.write_all(format!("{line}\r\n").as_bytes()).unwrap();
    }

    /// Waits for a line containing every piece; returns it.
    pub fn expect(&mut self, pieces: &[&str]) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if pieces.iter().all(|p| l.contains(p)) {
                        return l;
                    }
                }
                Err(_) => panic!("no IRC line with {pieces:?}; saw {:#?}", self.seen),
            }
        }
    }

    /// Takes what arrives within `d`.
    pub fn drain(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        while let Ok(l) = self.rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            self.seen.push(l);
        }
    }
}
