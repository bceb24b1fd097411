//! Events members receive, and their wire renderings (text line, JSON
//! line, IRC lines: [`irc`]). An event is rendered at most once per format,
//! however many members receive it: the bytes are cached in the event and
//! shared (`Bytes` clones).

pub mod irc;

use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};
use encoding_rs::{Encoding, UTF_8};
use serde::{Deserialize, Serialize};
use sockit_net::encoding::Recoder;
use sockit_net::text::{escape_untrusted, is_unsafe};

/// A member's identity inside one server run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberId(pub u64);

/// What kind of event (the JSON `type` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A room message: `<nick> text`.
    Msg,
    /// An action (`/me`): `* nick text`.
    Me,
    /// A private message: `<from -> to> text`.
    Private,
    /// A notice from the server: `* text`.
    Notice,
    /// An error for this member: `! text`.
    Error,
}

/// One event. Fields are the JSON schema of docs/protocol.md.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    /// The kind.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// The room (messages, actions, room notices).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub room: Option<String>,
    /// Who sent it (messages, actions, private messages).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub from: Option<String>,
    /// The recipient of a private message.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub to: Option<String>,
    /// The text, control characters already escaped — except in messages
    /// of IRC members, which keep IRC's formatting codes and CTCP's `\x01`
    /// for IRC clients; the text and JSON renderings escape them.
    pub text: String,
    /// Server time, milliseconds since the Unix epoch.
    pub ts: i64,
    /// True when replayed from history.
    #[serde(skip_serializing_if = "is_false", default)]
    pub history: bool,
    /// What a structured notice is about, and its subject (JSON fields
    /// `event`, `nick`, `new`, … beside the others; see [`crate::notice`]).
    /// Boxed: most events (messages) have none, and an event is copied
    /// into history and held in backlogs, so it stays small.
    #[serde(flatten, skip_serializing_if = "Option::is_none", default)]
    pub subject: Option<Box<Subject>>,
    /// `user@host` of the member who sent or caused it, for the
    /// `nick!user@host` source IRC lines carry (not in JSON). Shared by all
    /// of that member's events.
    #[serde(skip)]
    pub userhost: Option<Arc<str>>,
    /// What an IRC member's message carried beyond its text (client tags,
    /// NOTICE rather than PRIVMSG); boxed, as nearly no event has it.
    #[serde(skip)]
    pub relay: Option<Box<irc::Relay>>,
}

/// The subject of a structured notice: which kind, and the fields that
/// kind has (the rest absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// What the notice is about (JSON `event`).
    pub event: NoticeKind,
    /// The member the notice is about (the actor: who joined, kicked, set).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nick: Option<String>,
    /// A nick change's new nick.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub new: Option<String>,
    /// Who a kick or invite is aimed at.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub target: Option<String>,
    /// Why (part, quit, kick) or the away message.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// A room's topic (topic, names).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub topic: Option<String>,
    /// Mode changes in IRC form (`+o alice`, `+b *!*@1.2.3.4`, `+k`, `+l 10`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub modes: Option<String>,
    /// A room's members (names).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub members: Option<Vec<NameEntry>>,
}

impl Subject {
    /// A subject of `event` with no fields yet.
    pub fn new(event: NoticeKind) -> Self {
        Subject { event, nick: None, new: None, target: None, reason: None, topic: None, modes: None, members: None }
    }

    fn texts(&self) -> [&Option<String>; 6] {
        [&self.nick, &self.new, &self.target, &self.reason, &self.topic, &self.modes]
    }

    fn needs_escape(&self) -> bool {
        let unsafe_in = |s: &str| s.chars().any(is_unsafe);
        self.texts().iter().any(|f| f.as_deref().is_some_and(unsafe_in))
            || self.members.iter().flatten().any(|m| unsafe_in(&m.nick))
    }

    fn escaped(&self) -> Subject {
        let esc = |f: &Option<String>| f.as_deref().map(|s| escape_untrusted(s).into_owned());
        Subject {
            event: self.event,
            nick: esc(&self.nick),
            new: esc(&self.new),
            target: esc(&self.target),
            reason: esc(&self.reason),
            topic: esc(&self.topic),
            modes: esc(&self.modes),
            members: self.members.as_ref().map(|list| {
                list.iter().map(|m| NameEntry { nick: escape_untrusted(&m.nick).into_owned(), ..m.clone() }).collect()
            }),
        }
    }
}

/// What a structured notice is about: the JSON `event` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoticeKind {
    /// `nick` joined `room`.
    Join,
    /// `nick` left `room` (`reason`).
    Part,
    /// `nick` left the server (`reason`); sent once per recipient.
    Quit,
    /// `nick` is now known as `new`.
    Nick,
    /// `nick` set the `topic` of `room`.
    Topic,
    /// `nick` changed `modes` of `room`.
    Mode,
    /// `nick` kicked `target` from `room` (`reason`).
    Kick,
    /// `nick` invited `target` to `room`.
    Invite,
    /// The `members` and `topic` of `room`.
    Names,
    /// `nick` is away (`reason` is the message) or back (no `reason`).
    Away,
    /// This member's plain lines now go to `room` (none: it is in no room).
    Current,
}

/// One member in a room's names list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameEntry {
    /// The nick.
    pub nick: String,
    /// A room operator (`@`).
    pub op: bool,
    /// Has voice (`+`).
    pub voice: bool,
}

impl NameEntry {
    /// The nick with its IRC-style mark: `@` for an operator, `+` for voice.
    pub fn marked(&self) -> String {
        let mark = if self.op {
            "@"
        } else if self.voice {
            "+"
        } else {
            ""
        };
        format!("{mark}{}", self.nick)
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Event {
    /// An event of `kind` with `text`, stamped now.
    pub fn new(kind: Kind, text: impl Into<String>) -> Self {
        Event {
            kind,
            room: None,
            from: None,
            to: None,
            text: text.into(),
            ts: now_ms(),
            history: false,
            subject: None,
            userhost: None,
            relay: None,
        }
    }

    /// A server notice (`* text`).
    pub fn notice(text: impl Into<String>) -> Self {
        Self::new(Kind::Notice, text)
    }

    /// An error for one member (`! text`).
    pub fn error(text: impl Into<String>) -> Self {
        Self::new(Kind::Error, text)
    }

    /// Sets the room.
    pub fn in_room(mut self, room: &str) -> Self {
        self.room = Some(room.to_string());
        self
    }

    /// Sets the sender.
    pub fn by(mut self, nick: &str) -> Self {
        self.from = Some(nick.to_string());
        self
    }

    /// Whether any field holds a character [`escape_untrusted`] would escape.
    fn needs_escape(&self) -> bool {
        let unsafe_in = |s: &str| s.chars().any(is_unsafe);
        unsafe_in(&self.text)
            || [&self.from, &self.to, &self.room].iter().any(|f| f.as_deref().is_some_and(unsafe_in))
            || self.subject.as_ref().is_some_and(|s| s.needs_escape())
    }

    /// This event with every field escaped.
    fn escaped(&self) -> Event {
        let esc = |f: &Option<String>| f.as_deref().map(|s| escape_untrusted(s).into_owned());
        Event {
            text: escape_untrusted(&self.text).into_owned(),
            from: esc(&self.from),
            to: esc(&self.to),
            room: esc(&self.room),
            subject: self.subject.as_ref().map(|s| Box::new(s.escaped())),
            ..self.clone()
        }
    }

    /// The text line (newline included). Every field is escaped here, the
    /// one place all events pass on their way to any member (text, JSON,
    /// UDP, WebSocket), whatever made them: message text is escaped when
    /// sent, names are checked, and this catches the rest (error echoes,
    /// history stored by older versions).
    pub fn to_text_line(&self) -> Vec<u8> {
        if irc::Relay::is_tagmsg(self) {
            return Vec::new();
        }
        if self.needs_escape() {
            return self.escaped().to_text_line();
        }
        let from = self.from.as_deref().unwrap_or("?");
        let body = match self.kind {
            Kind::Msg => format!("<{from}> {}", self.text),
            Kind::Me => format!("* {from} {}", self.text),
            Kind::Private => format!("<{from} -> {}> {}", self.to.as_deref().unwrap_or("?"), self.text),
            Kind::Notice => format!("* {}", self.text),
            Kind::Error => format!("! {}", self.text),
        };
        let mut line = if self.history {
            let local = chrono::DateTime::from_timestamp_millis(self.ts)
                .map(|t| t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default();
            format!("[history {local}] {body}")
        } else {
            body
        };
        line.push('\n');
        line.into_bytes()
    }

    /// The text line with its room in front (`[dev] <alice> hi`), for a
    /// member in several rooms; events of no room are as [`Event::to_text_line`],
    /// and so is the `current room: dev` notice, which names its room.
    pub fn to_tagged_line(&self) -> Vec<u8> {
        let line = self.to_text_line();
        let names_its_room = self.subject.as_ref().is_some_and(|s| s.event == NoticeKind::Current);
        match &self.room {
            Some(room) if !line.is_empty() && !names_its_room => {
                let room = escape_untrusted(room);
                let mut tagged = Vec::with_capacity(room.len() + 3 + line.len());
                tagged.push(b'[');
                tagged.extend_from_slice(room.as_bytes());
                tagged.extend_from_slice(b"] ");
                tagged.extend_from_slice(&line);
                tagged
            }
            _ => line,
        }
    }

    /// The JSON line (newline included), every field escaped as in
    /// [`Event::to_text_line`].
    pub fn to_json_line(&self) -> Vec<u8> {
        if irc::Relay::is_tagmsg(self) {
            return Vec::new();
        }
        if self.needs_escape() {
            return self.escaped().to_json_line();
        }
        // Serialising plain strings and numbers cannot fail.
        let mut v = serde_json::to_vec(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

/// Line formats a connection can use. More may come: match it with a
/// wildcard arm outside this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// `<nick> text` lines.
    Text,
    /// One JSON object per line.
    Json,
    /// IRC lines, for a client with these capabilities ([`irc`]).
    Irc(irc::IrcCaps),
}

/// An event on its way to many members: the event, who caused it (members
/// do not receive their own messages), and its renderings, made once.
#[derive(Debug)]
pub struct Shared {
    /// The event.
    pub event: Event,
    /// The member whose message this is (`None` for server notices).
    pub origin: Option<MemberId>,
    text: OnceLock<Bytes>,
    tagged: OnceLock<Bytes>,
    json: OnceLock<Bytes>,
    /// IRC renderings, allocated when an IRC member first needs one.
    irc: OnceLock<Box<irc::Renderings>>,
}

impl Shared {
    /// Wraps an event for fan-out.
    pub fn new(event: Event, origin: Option<MemberId>) -> Arc<Self> {
        Arc::new(Shared {
            event,
            origin,
            text: OnceLock::new(),
            tagged: OnceLock::new(),
            json: OnceLock::new(),
            irc: OnceLock::new(),
        })
    }

    /// Bytes that go out as they are whatever the member's format: the
    /// replies an IRC member's task has already written as IRC lines, sent
    /// through its writer shard so they stay in order with room events.
    pub fn raw(bytes: Bytes) -> Arc<Self> {
        let set = |b: &Bytes| {
            let cell = OnceLock::new();
            let _ = cell.set(b.clone());
            cell
        };
        Arc::new(Shared {
            event: Event::notice(""),
            origin: None,
            text: set(&bytes),
            tagged: set(&bytes),
            json: set(&bytes),
            irc: {
                let cell = OnceLock::new();
                let _ = cell.set(Box::new(irc::Renderings::all(&bytes)));
                cell
            },
        })
    }

    /// The event in `format`, rendered on first use.
    #[inline]
    pub fn line(&self, format: Format) -> &Bytes {
        // Text and IRC lines are the hot case (a 1,000-member room copies
        // one 1,000 times): once rendered, found without leaving the
        // shard's loop.
        match format {
            Format::Text => {
                if let Some(line) = self.text.get() {
                    return line;
                }
            }
            Format::Irc(caps) => {
                if let Some(line) = self.irc.get().and_then(|r| r.ready(caps)) {
                    return line;
                }
            }
            Format::Json => {}
        }
        self.line_slow(format)
    }

    #[cold]
    fn line_slow(&self, format: Format) -> &Bytes {
        match format {
            Format::Text => self.text.get_or_init(|| Bytes::from(self.event.to_text_line())),
            Format::Json => self.json.get_or_init(|| Bytes::from(self.event.to_json_line())),
            Format::Irc(caps) => {
                self.irc.get_or_init(|| Box::new(irc::Renderings::of(&self.event))).line(&self.event, caps)
            }
        }
    }

    /// The text line with its `[room] ` in front, rendered on first use.
    pub fn tagged_line(&self) -> &Bytes {
        self.tagged.get_or_init(|| Bytes::from(self.event.to_tagged_line()))
    }

    /// Whether member `id` should see this event: not its own messages
    /// (it typed them), but its own private messages (the sender's echo);
    /// never an IRC TAGMSG (only IRC members have a rendering for it).
    pub fn is_for(&self, id: MemberId) -> bool {
        self.is_for_style(id, &Style::default())
    }

    /// [`Shared::is_for`] for a member receiving in `style`: an IRC member
    /// with `echo-message` gets its own room messages back too, and one
    /// with `message-tags` gets TAGMSGs.
    #[inline]
    pub fn is_for_style(&self, id: MemberId, style: &Style) -> bool {
        // The common case first: someone else's event, no IRC-only relay.
        if self.event.relay.is_none() && self.origin != Some(id) {
            return true;
        }
        let theirs = self.origin != Some(id) || self.event.kind == Kind::Private;
        let tagmsg = self.event.relay.is_some() && irc::Relay::is_tagmsg(&self.event);
        match style.format {
            Format::Irc(c) => {
                (theirs || (c.echo && matches!(self.event.kind, Kind::Msg | Kind::Me))) && (c.tags || !tagmsg)
            }
            _ => theirs && !tagmsg,
        }
    }
}

/// How one member wants its events: line format and character encoding.
/// Writer shards keep a copy per member, so it is small and `Copy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Text or JSON lines.
    pub format: Format,
    /// Transcode to this encoding (`/encoding`); `None` is UTF-8 as rendered.
    pub encoding: Option<&'static Encoding>,
    /// The member is in several rooms: text lines of room events start
    /// with `[room] ` (JSON lines carry `room` anyway). Kept by whoever
    /// knows the member's rooms (its writer shard, or its session).
    pub tagged: bool,
}

impl Default for Style {
    fn default() -> Self {
        Style { format: Format::Text, encoding: None, tagged: false }
    }
}

impl Style {
    /// `ev`'s shared rendering in this style (before any transcoding).
    pub fn line<'a>(&self, ev: &'a Shared) -> &'a Bytes {
        if self.tagged && self.format == Format::Text && ev.event.room.is_some() {
            ev.tagged_line()
        } else {
            ev.line(self.format)
        }
    }

    /// Appends `ev` in this style to `buf`. UTF-8 members (nearly all) get
    /// the shared rendering copied as is; only `/encoding` members pay for
    /// transcoding.
    pub fn append(&self, ev: &Shared, buf: &mut BytesMut) {
        let line = self.line(ev);
        match self.encoding {
            None => buf.extend_from_slice(line),
            Some(enc) => buf.extend_from_slice(&Recoder::convert(UTF_8, enc, line)),
        }
    }

    /// `ev` in this style as one buffer (a datagram, a WebSocket message).
    pub fn bytes(&self, ev: &Shared) -> Bytes {
        let line = self.line(ev);
        match self.encoding {
            None => line.clone(),
            Some(enc) => Bytes::from(Recoder::convert(UTF_8, enc, line)),
        }
    }
}

/// What a JSON-mode client sends: `{"text": "a line, maybe /command"}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ClientLine {
    /// Exactly what a text-mode member would type.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rendering() {
        let e = Event::new(Kind::Msg, "hi").by("alice").in_room("lobby");
        assert_eq!(e.to_text_line(), b"<alice> hi\n");
        let mut p = Event::new(Kind::Private, "psst").by("alice");
        p.to = Some("bob".into());
        assert_eq!(p.to_text_line(), b"<alice -> bob> psst\n");
        assert_eq!(Event::notice("alice joined lobby").to_text_line(), b"* alice joined lobby\n");
        assert_eq!(Event::error("slow down").to_text_line(), b"! slow down\n");
        assert_eq!(Event::new(Kind::Me, "waves").by("al").to_text_line(), b"* al waves\n");
    }

    #[test]
    fn json_rendering_round_trips() {
        let mut e = Event::new(Kind::Msg, "你好 \"q\"").by("alice").in_room("lobby");
        e.ts = 1_700_000_000_000;
        let line = e.to_json_line();
        assert_eq!(
            std::str::from_utf8(&line).unwrap(),
            "{\"type\":\"msg\",\"room\":\"lobby\",\"from\":\"alice\",\"text\":\"你好 \\\"q\\\"\",\"ts\":1700000000000}\n"
        );
        let back: Event = serde_json::from_slice(&line).unwrap();
        assert_eq!(back.text, e.text);
        assert!(!back.history);
    }

    #[test]
    fn every_field_is_escaped_on_the_wire() {
        let mut e = Event::error("no such nick \u{202e}evil\u{200b}");
        assert_eq!(e.to_text_line(), "! no such nick \\u{202e}evil\\u{200b}\n".as_bytes());
        e = Event::new(Kind::Private, "a\u{2028}b\u{200e}").by("x\u{61c}");
        e.to = Some("y\u{202e}".into());
        let line = String::from_utf8(e.to_json_line()).unwrap();
        assert!(!line.trim_end().chars().any(is_unsafe) && !line.contains("\\u2028"), "{line}");
        let back: Event = serde_json::from_str(&line).unwrap();
        assert_eq!(back.text, "a\\u{2028}b\\u{200e}");
        assert_eq!(back.from.as_deref(), Some("x\\u{61c}"));
        assert_eq!(back.to.as_deref(), Some("y\\u{202e}"));
    }

    #[test]
    fn shared_renders_once() {
        let s = Shared::new(Event::notice("x"), None);
        let a = s.line(Format::Text).clone();
        let b = s.line(Format::Text).clone();
        assert_eq!(a.as_ptr(), b.as_ptr());
    }
}
