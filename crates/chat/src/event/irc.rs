//! Events as IRC lines, for IRC members ([`crate::transport::irc`]).
//!
//! Rendered from the structured event, once per variant an event can have
//! (with or without the `@time=` tag, with or without the sender's client
//! tags), and cached in the [`super::Shared`] event like the text and JSON
//! renderings: at most four renderings per event however many IRC members
//! get it, and nearly every event has only the first two (client tags are
//! rare). Capabilities that decide *whether* a member gets a line
//! (`away-notify`, `echo-message`) pick the empty rendering or the
//! delivery, never a rendering of their own.
//!
//! - Room messages: `:nick!user@host PRIVMSG #room :text` (NOTICE for an
//!   IRC member's NOTICE), `/me` as CTCP `ACTION`; private messages are
//!   PRIVMSG to the recipient. Texts longer than a line are split.
//! - Notices: JOIN, PART, QUIT, NICK, TOPIC, MODE, KICK, INVITE and AWAY
//!   (only with `away-notify`) with the member's `nick!user@host` source;
//!   names notices render as nothing (IRC members get `353`/`366` from
//!   their own task); plain server notices and errors as
//!   `:server NOTICE * :text`.
//! - Every nick is shown in its IRC-safe form ([`to_irc`]), rooms as
//!   `#room`.

use std::borrow::Cow;
use std::sync::OnceLock;

use bytes::Bytes;

use super::{Event, Kind, NoticeKind};
use crate::transport::irc::line::{irc_text, write_fit, write_split};
use crate::transport::irc::message::{Message, Tag};
use crate::transport::irc::nick::to_irc;
use crate::transport::irc::SERVER_NAME;

/// The capabilities of an IRC member that change what it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IrcCaps {
    /// `server-time`: `@time=` on every event.
    pub time: bool,
    /// `message-tags`: the sender's client tags (`+…`) relayed.
    pub tags: bool,
    /// `away-notify`: AWAY lines of channel peers.
    pub away: bool,
    /// `echo-message`: its own messages come back.
    pub echo: bool,
}

/// What an IRC member's message carried besides its text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relay {
    /// Client-only tags (`+key`, value unescaped), relayed to members with
    /// `message-tags`.
    pub tags: Vec<(String, String)>,
    /// Sent as NOTICE, not PRIVMSG.
    pub notice: bool,
    /// A TAGMSG: tags and no text. Only IRC members with `message-tags`
    /// get it; every other rendering of it is empty.
    pub tagmsg: bool,
}

impl Relay {
    /// Whether `ev` is a TAGMSG.
    pub fn is_tagmsg(ev: &Event) -> bool {
        ev.relay.as_ref().is_some_and(|r| r.tagmsg)
    }
}

/// An event's IRC renderings: `[plain, time, tags, time + tags]`, and
/// what decides which one a member gets, worked out once per event (not
/// once per delivery: a 1,000-member channel asks 1,000 times).
#[derive(Debug, Default)]
pub struct Renderings {
    lines: [OnceLock<Bytes>; 4],
    /// An AWAY notice: only for members with `away-notify`.
    away: bool,
    /// A TAGMSG: only for members with `message-tags`.
    tagmsg: bool,
    /// It carries client tags, which `message-tags` members get.
    tags: bool,
}

/// What an event renders to for a member it has nothing for.
static NOTHING: Bytes = Bytes::from_static(b"");

impl Renderings {
    /// The (not yet rendered) renderings of `ev`.
    pub(super) fn of(ev: &Event) -> Renderings {
        Renderings {
            lines: Default::default(),
            away: ev.subject.as_ref().is_some_and(|s| s.event == NoticeKind::Away),
            tagmsg: Relay::is_tagmsg(ev),
            tags: ev.relay.as_ref().is_some_and(|r| !r.tags.is_empty()),
        }
    }

    /// Every variant preset to `bytes` (replies written by a member's task).
    pub(super) fn all(bytes: &Bytes) -> Renderings {
        let r = Renderings::default();
        for cell in &r.lines {
            let _ = cell.set(bytes.clone());
        }
        r
    }

    /// Which variant a member with `caps` gets; `None`: nothing.
    #[inline]
    fn slot(&self, caps: IrcCaps) -> Option<usize> {
        if (self.away && !caps.away) || (self.tagmsg && !caps.tags) {
            return None;
        }
        Some(usize::from(caps.time) | usize::from(caps.tags && self.tags) << 1)
    }

    /// The line for a member with `caps` if it is rendered already (the
    /// delivery fast path).
    #[inline]
    pub(super) fn ready(&self, caps: IrcCaps) -> Option<&Bytes> {
        match self.slot(caps) {
            None => Some(&NOTHING),
            Some(i) => self.lines[i].get(),
        }
    }

    /// `ev` (the event these are of) for a member with `caps`, rendered on
    /// first use.
    pub(super) fn line(&self, ev: &Event, caps: IrcCaps) -> &Bytes {
        match self.slot(caps) {
            None => &NOTHING,
            Some(i) => self.lines[i].get_or_init(|| Bytes::from(render(ev, caps.time, i & 2 != 0))),
        }
    }
}

/// `@time=` value: UTC, milliseconds, as server-time specifies.
pub fn server_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `nick!user@host` (the nick alone when the host is unknown, as for
/// history written before hosts were kept).
fn source(nick: &str, userhost: Option<&str>) -> String {
    let n = to_irc(nick);
    match userhost {
        Some(uh) => format!("{n}!{uh}"),
        None => n.into_owned(),
    }
}

/// Renders `ev` (the lines, `\r\n` each; empty when IRC has no line for it).
pub fn render(ev: &Event, time: bool, tags: bool) -> Vec<u8> {
    let stamp = time.then(|| server_time(ev.ts));
    let mut tag_list: Vec<Tag<'_>> = Vec::new();
    if let Some(t) = &stamp {
        tag_list.push(Tag { key: "time", value: Cow::Borrowed(t) });
    }
    if tags {
        for (k, v) in ev.relay.iter().flat_map(|r| r.tags.iter()) {
            tag_list.push(Tag { key: k, value: Cow::Borrowed(v) });
        }
    }
    let mut out = Vec::new();
    let userhost = ev.userhost.as_deref();
    let channel = ev.room.as_deref().map(|r| format!("#{r}"));
    let channel = channel.as_deref().unwrap_or("*");
    match ev.kind {
        Kind::Msg | Kind::Me | Kind::Private => {
            let src = source(ev.from.as_deref().unwrap_or("*"), userhost);
            let to = ev.to.as_deref().map(to_irc);
            let target = if ev.kind == Kind::Private { to.as_deref().unwrap_or("*") } else { channel };
            let command = match ev.relay.as_deref() {
                Some(r) if r.tagmsg => {
                    write_fit(
                        &Message { tags: tag_list, source: Some(&src), command: "TAGMSG", params: vec![target] },
                        &mut out,
                    );
                    return out;
                }
                Some(r) if r.notice => "NOTICE",
                _ => "PRIVMSG",
            };
            let m = Message { tags: tag_list, source: Some(&src), command, params: vec![target] };
            let wrap = if ev.kind == Kind::Me { ("\x01ACTION ", "\x01") } else { ("", "") };
            write_split(&m, &irc_text(&ev.text), wrap, &mut out);
        }
        Kind::Notice | Kind::Error => {
            let Some(s) = ev.subject.as_deref() else {
                let m = Message { tags: tag_list, source: Some(SERVER_NAME), command: "NOTICE", params: vec!["*"] };
                write_split(&m, &irc_text(&ev.text), ("", ""), &mut out);
                return out;
            };
            let src = source(s.nick.as_deref().unwrap_or("*"), userhost);
            let reason = s.reason.as_deref().map(irc_text);
            let target = s.target.as_deref().map(to_irc);
            let new = s.new.as_deref().map(to_irc);
            let topic = s.topic.as_deref().map(irc_text);
            let modes = s.modes.as_deref().map(irc_modes);
            let params: Vec<&str> = match s.event {
                NoticeKind::Join => vec![channel],
                NoticeKind::Part => std::iter::once(channel).chain(reason.as_deref()).collect(),
                NoticeKind::Quit => vec![reason.as_deref().unwrap_or("Quit")],
                NoticeKind::Nick => vec![new.as_deref().unwrap_or("*")],
                NoticeKind::Topic => vec![channel, topic.as_deref().unwrap_or("")],
                NoticeKind::Mode => {
                    std::iter::once(channel).chain(modes.iter().flat_map(|m| m.iter().map(String::as_str))).collect()
                }
                NoticeKind::Kick => {
                    let by = s.nick.as_deref().unwrap_or("");
                    vec![channel, target.as_deref().unwrap_or("*"), reason.as_deref().unwrap_or(by)]
                }
                NoticeKind::Invite => vec![target.as_deref().unwrap_or("*"), channel],
                NoticeKind::Away => reason.as_deref().into_iter().collect(),
                NoticeKind::Names | NoticeKind::Current => return out,
            };
            let command = match s.event {
                NoticeKind::Join => "JOIN",
                NoticeKind::Part => "PART",
                NoticeKind::Quit => "QUIT",
                NoticeKind::Nick => "NICK",
                NoticeKind::Topic => "TOPIC",
                NoticeKind::Mode => "MODE",
                NoticeKind::Kick => "KICK",
                NoticeKind::Invite => "INVITE",
                NoticeKind::Away => "AWAY",
                NoticeKind::Names | NoticeKind::Current => return out,
            };
            write_fit(&Message { tags: tag_list, source: Some(&src), command, params }, &mut out);
        }
    }
    out
}

/// A mode notice's `+o-v alice bob` as MODE parameters, with the nicks of
/// `o` and `v` in their IRC-safe form. (A key is never in the notice: the
/// hub hides it, so `+k` takes no argument here.)
fn irc_modes(modes: &str) -> Vec<String> {
    let mut words = modes.split(' ').filter(|w| !w.is_empty());
    let Some(letters) = words.next() else { return Vec::new() };
    let mut out = vec![letters.to_owned()];
    let mut add = true;
    for c in letters.chars() {
        match c {
            '+' => add = true,
            '-' => add = false,
            'o' | 'v' => out.extend(words.next().map(|n| to_irc(n).into_owned())),
            'b' => out.extend(words.next().map(str::to_owned)),
            'l' if add => out.extend(words.next().map(str::to_owned)),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notice;

    fn text(ev: &Event, time: bool) -> String {
        String::from_utf8(render(ev, time, false)).unwrap()
    }

    #[test]
    fn messages_and_notices() {
        let mut e = Event::new(Kind::Msg, "hi").by("127.0.0.1:5000").in_room("dev");
        e.userhost = Some("tcp@127.0.0.1".into());
        assert_eq!(text(&e, false), ":_127-0-0-1-5000!tcp@127.0.0.1 PRIVMSG #dev :hi\r\n");
        e.ts = 1_700_000_000_123;
        assert_eq!(
            text(&e, true),
            "@time=2023-11-14T22:13:20.123Z :_127-0-0-1-5000!tcp@127.0.0.1 PRIVMSG #dev :hi\r\n"
        );
        let me = Event::new(Kind::Me, "waves").by("bob").in_room("dev");
        assert_eq!(text(&me, false), ":bob PRIVMSG #dev :\x01ACTION waves\x01\r\n");
        let mut p = Event::new(Kind::Private, "psst").by("bob");
        p.to = Some("张三".into());
        assert_eq!(text(&p, false), ":bob PRIVMSG xn--ehq892b :psst\r\n");
        assert_eq!(text(&notice::join("dev", "bob"), false), ":bob JOIN #dev\r\n");
        assert_eq!(text(&notice::part("dev", "bob", "bye now"), false), ":bob PART #dev :bye now\r\n");
        assert_eq!(text(&notice::quit("bob", ""), false), ":bob QUIT :Quit\r\n");
        assert_eq!(text(&notice::nick("a.b", "rob"), false), format!(":{} NICK :rob\r\n", to_irc("a.b")));
        assert_eq!(text(&notice::topic("dev", "bob", "new topic"), false), ":bob TOPIC #dev :new topic\r\n");
        assert_eq!(
            text(&notice::mode("dev", "al", "+ov-b x.y bob *!*@1.2.3.4"), false),
            format!(":al MODE #dev +ov-b {} bob *!*@1.2.3.4\r\n", to_irc("x.y"))
        );
        assert_eq!(text(&notice::mode("dev", "al", "+kl 5"), false), ":al MODE #dev +kl 5\r\n");
        assert_eq!(text(&notice::kick("dev", "al", "bob", ""), false), ":al KICK #dev bob :al\r\n");
        assert_eq!(text(&notice::invite("dev", "al", "bob"), false), ":al INVITE bob #dev\r\n");
        assert_eq!(text(&notice::names("dev", None, &[]), false), "");
        assert_eq!(
            text(&Event::notice("server shutting down"), false),
            ":irc.sockit NOTICE * :server shutting down\r\n"
        );
    }

    #[test]
    fn variants_and_caps() {
        let away = notice::away("bob", Some("lunch"));
        let r = Renderings::of(&away);
        assert!(r.line(&away, IrcCaps::default()).is_empty(), "no away-notify, no line");
        let caps = IrcCaps { away: true, ..IrcCaps::default() };
        assert_eq!(&r.line(&away, caps)[..], b":bob AWAY :lunch\r\n");
        let mut tagged = Event::new(Kind::Msg, "x").by("bob").in_room("dev");
        tagged.relay =
            Some(Box::new(Relay { tags: vec![("+draft/reply".into(), "a b;c".into())], notice: true, tagmsg: false }));
        let r = Renderings::of(&tagged);
        let plain = r.line(&tagged, IrcCaps::default()).clone();
        assert_eq!(&plain[..], b":bob NOTICE #dev :x\r\n");
        let with = r.line(&tagged, IrcCaps { tags: true, ..IrcCaps::default() }).clone();
        assert_eq!(&with[..], b"@+draft/reply=a\\sb\\:c :bob NOTICE #dev :x\r\n");
        assert_eq!(r.line(&tagged, IrcCaps::default()).as_ptr(), plain.as_ptr(), "rendered once");
    }

    #[test]
    fn long_and_hostile_texts() {
        let e = Event::new(Kind::Msg, "x".repeat(8000)).by("bob").in_room("dev");
        let out = render(&e, true, false);
        let lines: Vec<&[u8]> = out.split_inclusive(|b| *b == b'\n').collect();
        assert!(lines.len() >= 16);
        for l in lines {
            let tags_end = l.iter().position(|b| *b == b' ').unwrap() + 1;
            assert!(l.len() - tags_end <= 512);
        }
        let e = Event::new(Kind::Msg, "a\r\nQUIT :x\0").by("bob").in_room("dev");
        assert_eq!(text(&e, false), ":bob PRIVMSG #dev :a\\x0d\\x0aQUIT :x\\x00\r\n");
    }
}
