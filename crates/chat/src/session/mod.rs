//! One member's state and its reaction to one input line, shared by the
//! line transports (TCP, TLS, UDP, WebSocket): decoding (UTF-8 or the
//! member's `/encoding`), JSON mode, flood control, commands, and rendering
//! events in the member's format. The transports only move bytes. Room
//! commands are in [`rooms`].
//!
//! A member may be in several rooms; its plain lines go to its *current*
//! one. The session keeps its own view of its rooms — each with the
//! [`Gate`] the registry keeps current — so a message costs one atomic load
//! and no registry round trip. Only when a gate says the member was put out
//! of a room (kicked) does the session ask the registry again.

mod rooms;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use encoding_rs::UTF_8;
use sockit_net::encoding::{lookup, Recoder};

use crate::command::{parse, Command, Input, HELP, MAX_HISTORY};
use crate::event::{ClientLine, Event, Format, Kind, MemberId, Shared, Style};
use crate::fanout::{Pacing, Pending, Sink};
use crate::hub::{Activity, Registration, Seated};
use crate::room_bus::{NOT_DELIVERED, NO_HISTORY};
use crate::service::Chat;
use sockit_net::rate::TokenBucket;
use sockit_net::text::escape_untrusted;

/// Whether the member stays after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep going.
    Continue,
    /// The member asked to leave (`/quit`).
    Quit,
}

/// A member of the chat: registered with the hub while this value lives.
pub struct Session {
    chat: Chat,
    id: MemberId,
    nick: String,
    /// `user@host`, carried by its messages for IRC members.
    userhost: Arc<str>,
    /// The rooms it is in, in join order.
    rooms: Vec<Seated>,
    /// Where its plain lines go.
    current: Option<Seated>,
    activity: Activity,
    /// Format and encoding; the member's writer shard keeps a copy.
    style: Style,
    bucket: TokenBucket,
    warned: bool,
    reason: &'static str,
    /// WebSocket members speak JSON in UTF-8 only: `/text` and `/encoding`
    /// would break the page (and a text frame is UTF-8 by definition).
    json_only: bool,
    /// History still on its way to the member, when its transport paces
    /// history (TCP, WebSocket); `None` sends it all at once (UDP).
    pacing: Option<Pacing>,
}

impl Session {
    /// Registers a member of `transport` (`tcp`, `tls`, `udp`, `ws`)
    /// arriving from `peer`, in the default room; its events (room
    /// traffic, private messages) go to `sink`.
    pub async fn start(chat: &Chat, peer: SocketAddr, sink: Sink, transport: &'static str) -> Result<Session, String> {
        let welcome = chat.hub.register(Registration::new(peer, sink, transport)).await.map_err(|e| e.text)?;
        let cfg = &chat.config;
        Ok(Session {
            chat: chat.clone(),
            id: welcome.id,
            nick: welcome.nick,
            userhost: welcome.userhost,
            rooms: welcome.room.iter().cloned().collect(),
            current: welcome.room,
            activity: welcome.activity,
            style: Style::default(),
            bucket: TokenBucket::new(cfg.flood_burst, cfg.flood_rate),
            warned: false,
            reason: "connection closed",
            json_only: false,
            pacing: None,
        })
    }

    /// Fixes this member to JSON mode in UTF-8 (WebSocket members): every
    /// line is a JSON object and `/text` and `/encoding` are refused.
    pub fn json_only(&mut self) {
        self.set_style(Style { format: Format::Json, encoding: None, tagged: false });
        self.json_only = true;
    }

    /// Counts this member's history replies in `pacing`, which its writer
    /// counts down as it sends them: a new history is refused while
    /// [`MAX_HISTORY`] messages are still outstanding (so at most twice
    /// that wait), and asking again and again without reading cannot pile
    /// up history.
    pub fn pace_history(&mut self, pacing: Pacing) {
        self.pacing = Some(pacing);
    }

    fn set_style(&mut self, style: Style) {
        self.style = style;
        self.chat.fanout.set_style(self.id, style);
    }

    /// The member's id in this server run.
    pub fn id(&self) -> MemberId {
        self.id
    }

    /// The member's nick.
    pub fn nick(&self) -> &str {
        &self.nick
    }

    /// Sets why the member is leaving (told to the room when it drops).
    pub fn set_reason(&mut self, reason: &'static str) {
        self.reason = reason;
    }

    /// The last `--replay` messages of the current room, marked as history.
    pub async fn replay(&self, out: &mut Vec<Arc<Shared>>) {
        let n = self.chat.config.replay;
        if n > 0 {
            self.history(n, out).await;
        }
    }

    async fn history(&self, n: usize, out: &mut Vec<Arc<Shared>>) {
        if let Some(p) = &self.pacing {
            // At most one full history may still be on its way when a new
            // one is asked for: 2 × MAX_HISTORY messages outstanding at most.
            let waiting = p.outstanding();
            if waiting >= MAX_HISTORY {
                out.push(err(format!(
                    "history not sent: {waiting} messages of your last history are still on their way; ask again when they have arrived"
                )));
                return;
            }
        }
        let Some(room) = &self.current else {
            out.push(err(NO_ROOM));
            return;
        };
        let events = match self.chat.recent(&room.room, n).await {
            Ok(events) => events,
            Err(_) => {
                out.push(err(NO_HISTORY));
                return;
            }
        };
        if let Some(p) = &self.pacing {
            p.add(events.len());
        }
        for e in events {
            out.push(Shared::new(e, None));
        }
    }

    /// Handles one input line (without its newline). Replies for this member
    /// only are appended to `out`.
    pub async fn handle(&mut self, raw: &[u8], out: &mut Vec<Arc<Shared>>) -> Flow {
        if raw == b"#ping#" {
            // A heartbeat in any mode (UDP members in JSON mode send it raw).
            return Flow::Continue;
        }
        let text: Cow<'_, str> = match self.style.encoding {
            Some(enc) => Cow::Owned(String::from_utf8_lossy(&Recoder::convert(enc, UTF_8, raw)).into_owned()),
            None => {
                match std::str::from_utf8(raw) {
                    Ok(s) => Cow::Borrowed(s),
                    Err(_) => {
                        out.push(err("invalid UTF-8 in your line; it was dropped (say /encoding NAME if your terminal is not UTF-8)"));
                        return Flow::Continue;
                    }
                }
            }
        };
        let owned;
        let line: &str = match self.style.format {
            Format::Text | Format::Irc(_) => &text,
            Format::Json => match serde_json::from_str::<ClientLine>(&text) {
                Ok(l) => {
                    owned = l.text;
                    &owned
                }
                Err(e) => {
                    out.push(err(format!("invalid JSON line ({e}); send {{\"text\": \"...\"}}")));
                    return Flow::Continue;
                }
            },
        };
        let input = match parse(line) {
            Ok(i) => i,
            Err(e) => {
                out.push(err(e.to_string()));
                return Flow::Continue;
            }
        };
        if matches!(input, Input::Ping | Input::Empty) {
            return Flow::Continue;
        }
        self.activity.touch();
        if !self.bucket.take() {
            if !self.warned {
                self.warned = true;
                let cfg = &self.chat.config;
                out.push(err(format!(
                    "slow down: at most {} lines/s (burst {}); dropped lines are not sent",
                    cfg.flood_rate, cfg.flood_burst
                )));
            }
            return Flow::Continue;
        }
        self.warned = false;
        match input {
            Input::Say(t) => self.say(Kind::Msg, t, out).await,
            Input::Command(c) => return self.command(c, out).await,
            Input::Ping | Input::Empty => {}
        }
        Flow::Continue
    }

    /// Reports an error to this member alone (appended to `out`).
    pub fn error(&self, text: impl Into<String>, out: &mut Vec<Arc<Shared>>) {
        out.push(err(text));
    }

    /// Reports an over-long line.
    pub fn too_long(&self, out: &mut Vec<Arc<Shared>>) {
        out.push(err(format!("line too long (max {} bytes); it was dropped", self.chat.config.max_line)));
    }

    /// Sends a message to the current room, if the member may speak there.
    async fn say(&mut self, kind: Kind, text: &str, out: &mut Vec<Arc<Shared>>) {
        let Some(room) = &self.current else {
            out.push(err(NO_ROOM));
            return;
        };
        if !room.gate.may_speak() {
            let (was, closed) = (room.room.clone(), room.gate.is_closed());
            if closed {
                // Put out of the room by someone else (a kick): the line
                // was meant for that room, so it goes nowhere.
                self.resync().await;
                out.push(err(match &self.current {
                    Some(now) => {
                        format!("you are no longer in {was}; this line was not sent, your lines now go to {}", now.room)
                    }
                    None => format!("you are no longer in {was}; this line was not sent. {NO_ROOM}"),
                }));
            } else if let Err(e) = self.chat.hub.check_send(self.id, &was).await {
                out.push(err(e.text));
            }
            return;
        }
        let mut event = Event::new(kind, escape_untrusted(text)).by(&self.nick).in_room(&room.room);
        event.userhost = Some(self.userhost.clone());
        if self.chat.publish_room(&room.room, event, self.id, true).await.is_err() {
            out.push(err(NOT_DELIVERED));
        }
    }

    /// Takes the registry's word for which rooms the member is in.
    async fn resync(&mut self) {
        let m = self.chat.hub.membership(self.id).await;
        self.current = m.current.and_then(|c| m.rooms.iter().find(|s| s.room == c).cloned());
        self.rooms = m.rooms;
    }

    async fn command(&mut self, cmd: Command<'_>, out: &mut Vec<Arc<Shared>>) -> Flow {
        let hub = &self.chat.hub;
        match cmd {
            Command::Nick(n) => match hub.nick(self.id, n).await {
                Ok(_) => self.nick = n.to_string(),
                Err(e) => out.push(err(e.text)),
            },
            Command::Msg { to, text } => match hub.private(self.id, to, &escape_untrusted(text)).await {
                Ok((event, away)) => {
                    // To yourself: the hub's delivery is the one copy you get.
                    if event.from.is_none() || event.from != event.to {
                        if let Some(away) = away {
                            out.push(notice(format!("{} is away: {away}", event.to.as_deref().unwrap_or("?"))));
                        }
                        out.push(Shared::new(event, None));
                    }
                }
                Err(e) => out.push(err(e.text)),
            },
            Command::Me(action) => self.say(Kind::Me, action, out).await,
            Command::History(n) => self.history(n.unwrap_or(self.chat.config.replay.max(1)), out).await,
            Command::Json => {
                self.set_style(Style { format: Format::Json, ..self.style });
                out.push(notice("json mode: one JSON object per line both ways; send {\"text\": \"...\"}"));
            }
            Command::Text | Command::Encoding(_) if self.json_only => {
                out.push(err("this connection speaks JSON in UTF-8 only (WebSocket)"));
            }
            Command::Text => {
                self.set_style(Style { format: Format::Text, ..self.style });
                out.push(notice("text mode"));
            }
            Command::Encoding(name) => match lookup(name) {
                Ok(enc) => {
                    self.set_style(Style { encoding: (enc != UTF_8).then_some(enc), ..self.style });
                    out.push(notice(format!("encoding is now {}", enc.name())));
                }
                Err(e) => out.push(err(e.to_string())),
            },
            Command::Quit => {
                self.reason = "quit";
                out.push(notice("bye"));
                return Flow::Quit;
            }
            Command::Help => out.extend(HELP.iter().map(|l| notice(*l))),
            room_command => self.room_command(room_command, out).await,
        }
        Flow::Continue
    }

    /// Sends `replies` to this member through its writer shard, in order
    /// with its room's events (TCP members, whose shard writes for them).
    pub fn deliver(&self, replies: &mut Vec<Arc<Shared>>) {
        for ev in replies.drain(..) {
            self.chat.fanout.direct(self.id, ev);
        }
    }

    /// Stops room delivery to this member and takes back what its send
    /// queue still held (for its last write before closing).
    pub async fn detach(&self) -> Pending {
        self.chat.fanout.detach(self.id).await
    }

    /// Appends `ev`, in this member's format and encoding, to `buf`.
    pub fn render_into(&self, ev: &Shared, buf: &mut BytesMut) {
        if ev.is_for(self.id) {
            self.style_now().append(ev, buf);
        }
    }

    /// The member's style with `tagged` as its rooms are now (a member
    /// whose own task renders has no shard to keep it).
    fn style_now(&self) -> Style {
        let live = self.rooms.iter().filter(|s| !s.gate.is_closed()).count();
        Style { tagged: live > 1, ..self.style }
    }

    /// `ev` as one datagram in this member's format, or `None` if not for it.
    pub fn render(&self, ev: &Shared) -> Option<Bytes> {
        ev.is_for(self.id).then(|| self.style_now().bytes(ev))
    }

    /// A notice for this member alone, rendered in its format.
    pub fn local(&self, ev: Event) -> Bytes {
        self.style.bytes(&Shared::new(ev, None))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Off its shard first, so it is not written to after it has gone.
        self.chat.fanout.forget(self.id);
        self.chat.hub.leave(self.id, self.reason);
    }
}

/// What a member in no room is told when it talks.
const NO_ROOM: &str = "you are in no room: /join ROOM";

fn err(text: impl Into<String>) -> Arc<Shared> {
    Shared::new(Event::error(text), None)
}

fn notice(text: impl Into<String>) -> Arc<Shared> {
    Shared::new(Event::notice(text), None)
}
