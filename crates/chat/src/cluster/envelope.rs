//! A room event as it travels between nodes: what the append script
//! stores in the room's stream and publishes on the room's channel.
//!
//! A numbered event's channel message is one line of text,
//! `OFFSET EPOCH NODE MEMBER BODY`: four space-separated tokens (decimal,
//! token, token, decimal) then the body, a JSON object
//! `{"ev": EVENT, "uh": "user@host", "rl": {"tags": [[k, v]], "notice": b, "tagmsg": b}}`
//! (`uh` and `rl` optional) where EVENT is the event in the JSON-mode schema.
//! The stream entry has the same values as fields `o`, `epoch`, `node`,
//! `member`, `ev` (docs/protocol.md, Cluster). Both come from Redis, so
//! both are parsed as untrusted bytes ([`Envelope::parse`], with a fuzz
//! target and property tests): a bad one is dropped and logged, never
//! delivered half-read.
//!
//! Room notices a node relays to the others ([`Relayed`]: joins, parts,
//! quits, nick and away changes of its members) travel on the same room
//! channels, unnumbered and not stored: `n NODE SEQ BODY`, the body
//! `{"ev": NOTICE, "uh": "user@host", "rooms": ["dev", …]}`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::event::irc::Relay;
use crate::event::{Event, Kind, NoticeKind};

/// Longest envelope accepted from Redis (a member's line is at most
/// `--max-line`, 8 KiB by default, plus its JSON and IRC tags).
pub const MAX_ENVELOPE: usize = 256 * 1024;
/// Longest epoch or node token accepted.
const MAX_TOKEN: usize = 64;

/// One numbered room event.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// Its place in the room (1, 2, …; per epoch).
    pub offset: u64,
    /// The epoch it was numbered in.
    pub epoch: Arc<str>,
    /// The node it was written through.
    pub node: Arc<str>,
    /// The member who wrote it, as that node numbers its members.
    pub member: u64,
    /// The event (a room message or action).
    pub event: Event,
}

/// Why an envelope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad cluster envelope: {0}")]
pub struct BadEnvelope(pub &'static str);

/// The body: the event, plus what its JSON schema leaves out.
#[derive(Serialize, Deserialize)]
struct Body {
    ev: Event,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    uh: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    rl: Option<RelayWire>,
}

/// [`Relay`] on the wire (it has no serde form of its own: it never
/// reaches a member as JSON).
#[derive(Serialize, Deserialize)]
struct RelayWire {
    #[serde(default)]
    tags: Vec<(String, String)>,
    #[serde(default)]
    notice: bool,
    #[serde(default)]
    tagmsg: bool,
}

/// The body of `event` (what the append script is given).
pub fn body(event: &Event) -> String {
    let body = BodyRef {
        ev: event,
        uh: event.userhost.as_deref(),
        rl: event.relay.as_ref().map(|r| RelayWire { tags: r.tags.clone(), notice: r.notice, tagmsg: r.tagmsg }),
    };
    // Plain strings, numbers and booleans: serialising cannot fail.
    serde_json::to_string(&body).unwrap_or_default()
}

#[derive(Serialize)]
struct BodyRef<'a> {
    ev: &'a Event,
    #[serde(skip_serializing_if = "Option::is_none")]
    uh: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rl: Option<RelayWire>,
}

impl Envelope {
    /// Parses a channel message (`OFFSET EPOCH NODE MEMBER BODY`).
    pub fn parse(bytes: &[u8]) -> Result<Envelope, BadEnvelope> {
        if bytes.len() > MAX_ENVELOPE {
            return Err(BadEnvelope("too long"));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| BadEnvelope("not UTF-8"))?;
        let mut parts = text.splitn(5, ' ');
        let mut next = || parts.next().ok_or(BadEnvelope("too few fields"));
        let (offset, epoch, node, member, body) = (next()?, next()?, next()?, next()?, next()?);
        Self::from_fields(offset.as_bytes(), epoch.as_bytes(), node.as_bytes(), member.as_bytes(), body.as_bytes())
    }

    /// Builds an envelope from a stream entry's fields (`o`, `epoch`,
    /// `node`, `member`, `ev`), checking each as [`Envelope::parse`] does.
    pub fn from_fields(
        offset: &[u8],
        epoch: &[u8],
        node: &[u8],
        member: &[u8],
        body: &[u8],
    ) -> Result<Envelope, BadEnvelope> {
        let offset = number(offset).filter(|o| *o > 0).ok_or(BadEnvelope("bad offset"))?;
        let member = number(member).ok_or(BadEnvelope("bad member"))?;
        let epoch = token(epoch).ok_or(BadEnvelope("bad epoch"))?;
        let node = token(node).ok_or(BadEnvelope("bad node"))?;
        if body.len() > MAX_ENVELOPE {
            return Err(BadEnvelope("too long"));
        }
        let body: Body = serde_json::from_slice(body).map_err(|_| BadEnvelope("bad body"))?;
        let mut event = body.ev;
        if !matches!(event.kind, Kind::Msg | Kind::Me) {
            // Only members' room messages are numbered: never let a stored
            // entry pass for a server notice or an error.
            return Err(BadEnvelope("not a room message"));
        }
        event.history = false;
        event.userhost = body.uh.map(Arc::from);
        event.relay = body.rl.map(|r| Box::new(Relay { tags: r.tags, notice: r.notice, tagmsg: r.tagmsg }));
        Ok(Envelope { offset, epoch: epoch.into(), node: node.into(), member, event })
    }

    /// The channel message for this envelope (the inverse of [`Envelope::parse`]).
    pub fn line(&self) -> String {
        format!("{} {} {} {} {}", self.offset, self.epoch, self.node, self.member, body(&self.event))
    }
}

/// Most rooms one relayed notice names (a quit names all the member's rooms).
pub const MAX_RELAY_ROOMS: usize = 1000;

/// A room notice relayed from another node: not numbered, not stored,
/// delivered when it arrives (so not ordered with the room's messages).
#[derive(Debug, Clone)]
pub struct Relayed {
    /// The node it comes from.
    pub node: Arc<str>,
    /// That node's number for it (the same notice arrives once per room
    /// channel it was sent on; this tells the copies apart).
    pub seq: u64,
    /// The rooms it is for.
    pub rooms: Vec<String>,
    /// The notice.
    pub event: Event,
}

#[derive(Serialize, Deserialize)]
struct NoticeBody {
    ev: Event,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    uh: Option<String>,
    #[serde(default)]
    rooms: Vec<String>,
}

impl Relayed {
    /// The channel message relaying `event` (a notice about a member of
    /// `node`) to `rooms`.
    pub fn line(node: &str, seq: u64, rooms: &[Arc<str>], event: &Event) -> String {
        let body = NoticeBody {
            ev: event.clone(),
            uh: event.userhost.as_deref().map(str::to_string),
            rooms: rooms.iter().map(|r| r.to_string()).collect(),
        };
        format!("n {node} {seq} {}", serde_json::to_string(&body).unwrap_or_default())
    }

    /// Whether a channel message is a relayed notice (not a numbered event).
    pub fn is_relayed(bytes: &[u8]) -> bool {
        bytes.starts_with(b"n ")
    }

    /// Parses a relayed notice; only the kinds a node relays are accepted.
    pub fn parse(bytes: &[u8]) -> Result<Relayed, BadEnvelope> {
        if bytes.len() > MAX_ENVELOPE {
            return Err(BadEnvelope("too long"));
        }
        let rest = bytes.strip_prefix(b"n ").ok_or(BadEnvelope("not a relayed notice"))?;
        let text = std::str::from_utf8(rest).map_err(|_| BadEnvelope("not UTF-8"))?;
        let mut parts = text.splitn(3, ' ');
        let mut next = || parts.next().ok_or(BadEnvelope("too few fields"));
        let (node, seq, body) = (next()?, next()?, next()?);
        let node = token(node.as_bytes()).ok_or(BadEnvelope("bad node"))?;
        let seq = number(seq.as_bytes()).ok_or(BadEnvelope("bad number"))?;
        let body: NoticeBody = serde_json::from_str(body).map_err(|_| BadEnvelope("bad body"))?;
        let relayed = matches!(
            body.ev.subject.as_ref().map(|s| s.event),
            Some(NoticeKind::Join | NoticeKind::Part | NoticeKind::Quit | NoticeKind::Nick | NoticeKind::Away)
        );
        if body.ev.kind != Kind::Notice || !relayed {
            return Err(BadEnvelope("not a relayed kind of notice"));
        }
        if body.rooms.is_empty() || body.rooms.len() > MAX_RELAY_ROOMS {
            return Err(BadEnvelope("bad room list"));
        }
        let mut event = body.ev;
        event.history = false;
        event.userhost = body.uh.map(Arc::from);
        Ok(Relayed { node: node.into(), seq, rooms: body.rooms, event })
    }
}

fn number(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

fn token(b: &[u8]) -> Option<&str> {
    let ok = !b.is_empty() && b.len() <= MAX_TOKEN && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-');
    ok.then(|| std::str::from_utf8(b).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(text: &str) -> Envelope {
        let mut event = Event::new(Kind::Msg, text).by("ann").in_room("dev");
        event.userhost = Some(Arc::from("ann@127.0.0.1"));
        Envelope { offset: 7, epoch: "e1f2".into(), node: "00ab".into(), member: 3, event }
    }

    #[test]
    fn round_trips() {
        let mut e = sample("hello world  with  spaces");
        e.event.relay = Some(Box::new(Relay { tags: vec![("+a".into(), "b c".into())], notice: true, tagmsg: false }));
        let back = Envelope::parse(e.line().as_bytes()).unwrap();
        assert_eq!((back.offset, &*back.epoch, &*back.node, back.member), (7, "e1f2", "00ab", 3));
        assert_eq!(back.event.text, "hello world  with  spaces");
        assert_eq!(back.event.userhost.as_deref(), Some("ann@127.0.0.1"));
        assert_eq!(back.event.relay.as_deref(), e.event.relay.as_deref());
        assert_eq!(back.event.room.as_deref(), Some("dev"));
    }

    #[test]
    fn refuses_what_is_not_a_room_message() {
        for bad in [
            &b""[..],
            b"1 e n 1",
            b"0 e n 1 {}",
            b"x e n 1 {}",
            b"1 e n 1 {}",
            b"1 e n -1 {\"ev\":{\"type\":\"msg\",\"text\":\"a\",\"ts\":1}}",
            b"1 e\x00 n 1 {\"ev\":{\"type\":\"msg\",\"text\":\"a\",\"ts\":1}}",
            b"1 e n 1 {\"ev\":{\"type\":\"error\",\"text\":\"a\",\"ts\":1}}",
            b"99999999999999999999999 e n 1 {\"ev\":{\"type\":\"msg\",\"text\":\"a\",\"ts\":1}}",
        ] {
            assert!(Envelope::parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(Envelope::parse(b"1 e n 1 {\"ev\":{\"type\":\"msg\",\"text\":\"a\",\"ts\":1}}").is_ok());
        assert!(Envelope::parse(&vec![b'1'; MAX_ENVELOPE + 1]).is_err());
    }

    #[test]
    fn relayed_notices_round_trip_and_only_some_kinds_pass() {
        let rooms: Vec<Arc<str>> = vec![Arc::from("dev"), Arc::from("lobby")];
        let mut ev = crate::notice::quit("ann", "bye");
        ev.userhost = Some(Arc::from("ann@h"));
        let line = Relayed::line("ab12", 9, &rooms, &ev);
        assert!(Relayed::is_relayed(line.as_bytes()));
        let back = Relayed::parse(line.as_bytes()).unwrap();
        assert_eq!(
            (&*back.node, back.seq, back.rooms.as_slice()),
            ("ab12", 9, &["dev".to_string(), "lobby".to_string()][..])
        );
        assert_eq!(back.event.text, ev.text);
        assert_eq!(back.event.userhost.as_deref(), Some("ann@h"));
        for bad in [
            Relayed::line("ab12", 1, &rooms, &Event::notice("server shutting down")),
            Relayed::line("ab12", 1, &rooms, &crate::notice::topic("dev", "ann", "t")),
            Relayed::line("ab12", 1, &[], &ev),
            Relayed::line("a b", 1, &rooms, &ev),
        ] {
            assert!(Relayed::parse(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(Envelope::parse(line.as_bytes()).is_err(), "never taken for a numbered event");
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_cleanly(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Envelope::parse(&data);
            let _ = Relayed::parse(&data);
            let mut n = b"n ".to_vec();
            n.extend_from_slice(&data);
            let _ = Relayed::parse(&n);
        }

        #[test]
        fn any_event_round_trips(text in "\\PC{0,80}", offset in 1u64.., member in any::<u64>(), me in any::<bool>()) {
            let mut e = sample(&text);
            e.offset = offset;
            e.member = member;
            if me {
                e.event.kind = Kind::Me;
            }
            let back = Envelope::parse(e.line().as_bytes()).unwrap();
            prop_assert_eq!(back.offset, offset);
            prop_assert_eq!(back.member, member);
            prop_assert_eq!(back.event.text, text);
            prop_assert_eq!(back.event.kind, e.event.kind);
        }
    }
}
