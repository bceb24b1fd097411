//! The registry against fake sinks (forwarded members whose events land in
//! a channel the test reads).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::*;
use crate::event::{NoticeKind, Shared};
use crate::fanout::ForwardTx;

fn hub_with(config: ChatConfig) -> Hub {
    let fanout = Fanout::start(2, config.send_queue, config.batch_window);
    Hub::start(Arc::new(config), fanout)
}

fn hub(max_per_ip: usize) -> Hub {
    hub_with(ChatConfig { max_per_ip, ..ChatConfig::default() })
}

fn peer(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

type Rx = mpsc::UnboundedReceiver<Arc<Shared>>;

fn sink() -> (Sink, Rx) {
    let (tx, rx): (ForwardTx, _) = mpsc::unbounded_channel();
    (Sink::Forward(tx), rx)
}

async fn next_text(rx: &mut Rx) -> String {
    next(rx).await.event.text.clone()
}

async fn next(rx: &mut Rx) -> Arc<Shared> {
    tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("an event in time").expect("open")
}

/// What `rx` holds now (after the registry and shards caught up).
async fn drained(hub: &Hub, rx: &mut Rx) -> Vec<String> {
    // A round trip through the registry, then a moment for the shards.
    let _ = hub.list().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut got = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        got.push(ev.event.text.clone());
    }
    got
}

fn subject(ev: &Shared) -> Option<crate::event::Subject> {
    ev.event.subject.as_deref().cloned()
}

fn reg(port: u16, sink: Sink) -> Registration {
    Registration::new(peer(port), sink, "tcp")
}

/// A member registered with `nick`, its join and nick notices read.
async fn member(hub: &Hub, port: u16, nick: &str) -> (Welcome, Rx) {
    let (s, mut rx) = sink();
    let w = hub.register(reg(port, s)).await.unwrap();
    hub.nick(w.id, nick).await.unwrap();
    let _ = drained(hub, &mut rx).await;
    (w, rx)
}

#[tokio::test]
async fn nicks_rooms_and_leaving() {
    let hub = hub(10);
    let (s1, mut r1) = sink();
    let (s2, mut r2) = sink();
    let a = hub.register(reg(1, s1)).await.unwrap();
    assert_eq!(a.nick, "127.0.0.1:1");
    assert_eq!(a.room.as_ref().map(|s| &*s.room), Some("lobby"));
    assert_eq!(next_text(&mut r1).await, "127.0.0.1:1 joined lobby");
    let b = hub.register(reg(2, s2)).await.unwrap();
    assert_eq!(next_text(&mut r1).await, "127.0.0.1:2 joined lobby");
    assert_eq!(next_text(&mut r2).await, "127.0.0.1:2 joined lobby");
    assert_eq!(hub.nick(a.id, "Al").await.unwrap(), "127.0.0.1:1");
    let taken = hub.nick(b.id, "al").await.unwrap_err();
    assert_eq!((taken.code, taken.text.as_str()), (ErrorCode::NickInUse, "nick al is taken"));
    assert_eq!(hub.nick(b.id, "x y").await.unwrap_err().code, ErrorCode::ErroneousNick);
    assert_eq!(next_text(&mut r1).await, "127.0.0.1:1 is now known as Al");
    assert_eq!(next_text(&mut r2).await, "127.0.0.1:1 is now known as Al");
    // Joining adds a room: b stays in the lobby too.
    let dev = hub.join(b.id, "#Dev", None).await.unwrap();
    assert_eq!((&*dev.room, dev.fresh), ("dev", true));
    assert_eq!(
        dev.names,
        vec![NameEntry { nick: "127.0.0.1:2".into(), op: true, voice: false }],
        "the creator runs it"
    );
    assert_eq!(next_text(&mut r2).await, "127.0.0.1:2 joined dev");
    assert!(drained(&hub, &mut r1).await.is_empty(), "the lobby hears nothing of dev");
    let summary = |n: &str, c| RoomSummary { name: Arc::from(n), members: c, topic: None };
    assert_eq!(hub.list().await, vec![summary("dev", 1), summary("lobby", 2)]);
    let names = hub.names("lobby").await.unwrap().names;
    assert_eq!(names.iter().map(|n| n.nick.as_str()).collect::<Vec<_>>(), ["127.0.0.1:2", "Al"]);
    let (ev, away) = hub.private(a.id, "127.0.0.1:2", "psst").await.unwrap();
    assert_eq!((ev.to.as_deref(), away), (Some("127.0.0.1:2"), None));
    assert_eq!(next_text(&mut r2).await, "psst");
    hub.leave(b.id, "quit");
    assert_eq!(next_text(&mut r1).await, "127.0.0.1:2 left (quit)");
    assert_eq!(hub.list().await, vec![summary("lobby", 1)], "an empty room goes, the lobby stays");
    assert_eq!(hub.private(a.id, "127.0.0.1:2", "gone?").await.unwrap_err().code, ErrorCode::NoSuchNick);
}

#[tokio::test]
async fn quit_and_nick_reach_each_neighbour_once() {
    let hub = hub(10);
    let (a, mut ra) = member(&hub, 1, "ann").await;
    let (b, mut rb) = member(&hub, 2, "ben").await;
    let (c, mut rc) = member(&hub, 3, "cat").await;
    for room in ["dev", "ops"] {
        hub.join(a.id, room, None).await.unwrap();
        hub.join(b.id, room, None).await.unwrap();
    }
    hub.part(c.id, "lobby", "").await.unwrap();
    let _ = (drained(&hub, &mut ra).await, drained(&hub, &mut rb).await, drained(&hub, &mut rc).await);
    hub.nick(b.id, "bob").await.unwrap();
    assert_eq!(drained(&hub, &mut ra).await, ["ben is now known as bob"], "three shared rooms, one notice");
    assert!(drained(&hub, &mut rc).await.is_empty(), "no shared room");
    hub.leave(b.id, "bye");
    let got = drained(&hub, &mut ra).await;
    assert_eq!(got, ["bob left (bye)"]);
    // A member in no room hears its own nick change alone.
    hub.nick(c.id, "cy").await.unwrap();
    assert_eq!(drained(&hub, &mut rc).await, ["cat is now known as cy"]);
}

#[tokio::test]
async fn join_part_current_and_the_room_limit() {
    let hub = hub_with(ChatConfig { max_rooms_per_member: 3, ..ChatConfig::default() });
    let (a, mut ra) = member(&hub, 1, "ann").await;
    hub.join(a.id, "dev", None).await.unwrap();
    hub.join(a.id, "ops", None).await.unwrap();
    let full = hub.join(a.id, "more", None).await.unwrap_err();
    assert_eq!(full.code, ErrorCode::TooManyChannels);
    assert_eq!(full.text, "you are in 3 rooms, the limit: /part one first");
    // Already in: only made current.
    let again = hub.join(a.id, "#DEV", None).await.unwrap();
    assert!(!again.fresh);
    assert_eq!(hub.membership(a.id).await.current.as_deref(), Some("dev"));
    let _ = drained(&hub, &mut ra).await;
    // Leaving the current room: the most recently joined one left is current.
    assert_eq!(hub.part(a.id, "dev", "later").await.unwrap().as_deref(), Some("ops"));
    assert_eq!(drained(&hub, &mut ra).await, ["ann left dev (later)"], "it sees its own part");
    assert_eq!(hub.part(a.id, "dev", "").await.unwrap_err().code, ErrorCode::NoSuchChannel, "empty: gone");
    assert_eq!(hub.set_current(a.id, "lobby").await.unwrap().as_ref(), "lobby");
    hub.part(a.id, "lobby", "").await.unwrap();
    assert_eq!(hub.part(a.id, "lobby", "").await.unwrap_err().code, ErrorCode::NotOnChannel, "the lobby stays");
    assert_eq!(hub.set_current(a.id, "lobby").await.unwrap_err().code, ErrorCode::NotOnChannel);
    assert_eq!(hub.part(a.id, "ops", "").await.unwrap(), None, "in no room");
    let m = hub.membership(a.id).await;
    assert!(m.rooms.is_empty() && m.current.is_none());
    assert!(hub.join(a.id, "more", None).await.is_ok(), "room for rooms again");
}

#[tokio::test]
async fn topic_needs_op_under_plus_t() {
    let hub = hub(10);
    let (a, mut ra) = member(&hub, 1, "ann").await;
    let (b, _rb) = member(&hub, 2, "ben").await;
    hub.join(a.id, "dev", None).await.unwrap();
    hub.join(b.id, "dev", None).await.unwrap();
    let _ = drained(&hub, &mut ra).await;
    let refused = hub.topic(b.id, "dev", Some("mine")).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::ChanOpNeeded);
    let t = hub.topic(a.id, "#dev", Some("release \u{202e}day")).await.unwrap().unwrap();
    assert_eq!((t.text.as_str(), t.set_by.as_str()), ("release \\u{202e}day", "ann"));
    let ev = next(&mut ra).await;
    assert_eq!(ev.event.subject.as_ref().map(|s| s.event), Some(NoticeKind::Topic));
    assert_eq!(ev.event.text, "ann set the topic of dev: release \\u{202e}day");
    assert_eq!(hub.topic(b.id, "dev", None).await.unwrap().map(|t| t.text), Some(t.text.clone()));
    assert_eq!(hub.list().await[0].topic.as_deref(), Some(t.text.as_str()));
    // -t: anyone in the room may set it; outsiders never.
    hub.mode(a.id, "dev", parse_modes("-t", &[]).unwrap()).await.unwrap();
    hub.topic(b.id, "dev", Some("ours")).await.unwrap();
    let (c, _rc) = member(&hub, 3, "cat").await;
    assert_eq!(hub.topic(c.id, "dev", Some("x")).await.unwrap_err().code, ErrorCode::NotOnChannel);
    let long = "t".repeat(MAX_TOPIC + 50);
    let cut = hub.topic(a.id, "dev", Some(&long)).await.unwrap().unwrap();
    assert_eq!(cut.text.chars().count(), MAX_TOPIC, "topics are cut to MAX_TOPIC");
}

#[tokio::test]
async fn kick_closes_the_gate_and_tells_the_target() {
    let hub = hub(10);
    let (a, _ra) = member(&hub, 1, "ann").await;
    let (b, mut rb) = member(&hub, 2, "ben").await;
    hub.join(a.id, "dev", None).await.unwrap();
    let info = hub.join(b.id, "dev", None).await.unwrap();
    assert!(info.gate.may_speak());
    assert_eq!(hub.kick(b.id, "dev", "ann", "").await.unwrap_err().code, ErrorCode::ChanOpNeeded);
    assert_eq!(hub.kick(a.id, "dev", "nobody", "").await.unwrap_err().code, ErrorCode::NoSuchNick);
    let _ = drained(&hub, &mut rb).await;
    hub.kick(a.id, "dev", "BEN", "spam").await.unwrap();
    let ev = next(&mut rb).await;
    assert_eq!(ev.event.text, "ann kicked ben from dev (spam)");
    assert_eq!(subject(&ev).map(|s| (s.target, s.reason)), Some((Some("ben".into()), Some("spam".into()))));
    assert!(info.gate.is_closed() && !info.gate.may_speak());
    let m = hub.membership(b.id).await;
    assert_eq!(m.current.as_deref(), Some("lobby"), "back to the room it joined before");
    assert_eq!(hub.kick(a.id, "dev", "ben", "").await.unwrap_err().code, ErrorCode::UserNotInChannel);
}

#[tokio::test]
async fn bans_invites_keys_limits() {
    let hub = hub(10);
    let (a, _ra) = member(&hub, 1, "ann").await;
    let (b, _rb) = member(&hub, 2, "ben").await;
    let (c, mut rc) = member(&hub, 3, "cat").await;
    hub.join(a.id, "dev", None).await.unwrap();
    let done = hub.mode(a.id, "dev", vec![ModeChange::with(true, Mode::Ban, "Ben")]).await.unwrap();
    assert_eq!(done.applied, vec![ModeChange::with(true, Mode::Ban, "ben!*@*")]);
    assert_eq!(hub.bans("dev").await.unwrap()[0].mask, "ben!*@*");
    let banned = hub.join(b.id, "dev", None).await.unwrap_err();
    assert_eq!((banned.code, banned.text.as_str()), (ErrorCode::BannedFromChan, "you are banned from dev"));
    assert_eq!(
        hub.mode(b.id, "dev", vec![ModeChange::flag(true, Mode::InviteOnly)]).await.unwrap_err().code,
        ErrorCode::NotOnChannel
    );
    // +i: only an invitation lets one in (once).
    hub.mode(a.id, "dev", parse_modes("+i-b", &["*!*@*"]).unwrap()).await.unwrap();
    hub.mode(a.id, "dev", parse_modes("-b", &["ben!*@*"]).unwrap()).await.unwrap();
    assert_eq!(hub.join(c.id, "dev", None).await.unwrap_err().code, ErrorCode::InviteOnlyChan);
    assert_eq!(hub.invite(a.id, "nobody", "dev").await.unwrap_err().code, ErrorCode::NoSuchNick);
    assert_eq!(hub.invite(a.id, "ann", "dev").await.unwrap_err().code, ErrorCode::UserOnChannel);
    let _ = drained(&hub, &mut rc).await;
    assert_eq!(hub.invite(a.id, "cat", "dev").await.unwrap(), "cat");
    let inv = next(&mut rc).await;
    assert_eq!(
        (subject(&inv).map(|s| s.event), inv.event.text.as_str()),
        (Some(NoticeKind::Invite), "ann invited you to dev (/join dev)")
    );
    hub.join(c.id, "dev", None).await.unwrap();
    hub.part(c.id, "dev", "").await.unwrap();
    assert_eq!(hub.join(c.id, "dev", None).await.unwrap_err().code, ErrorCode::InviteOnlyChan, "used up");
    // +k and +l.
    hub.mode(a.id, "dev", parse_modes("-i+kl", &["s3cret", "2"]).unwrap()).await.unwrap();
    assert_eq!(hub.mode_query(a.id, "dev").await.unwrap().modes, "+ntkl s3cret 2");
    assert_eq!(hub.mode_query(c.id, "dev").await.unwrap().modes, "+ntkl 2", "outsiders do not see the key");
    let keyset = hub.mode(a.id, "dev", parse_modes("+k", &["other"]).unwrap()).await.unwrap();
    assert_eq!(keyset.errors[0].code, ErrorCode::KeySet);
    assert_eq!(hub.join(c.id, "dev", None).await.unwrap_err().code, ErrorCode::BadChannelKey);
    assert_eq!(hub.join(c.id, "dev", Some("wrong")).await.unwrap_err().code, ErrorCode::BadChannelKey);
    hub.join(c.id, "dev", Some("s3cret")).await.unwrap();
    let full = hub.join(b.id, "dev", Some("s3cret")).await.unwrap_err();
    assert_eq!((full.code, full.text.as_str()), (ErrorCode::ChannelIsFull, "dev is full (+l 2)"));
}

#[tokio::test]
async fn a_ban_of_the_irc_safe_form_keeps_the_member_out() {
    let hub = hub(10);
    let (a, _ra) = member(&hub, 1, "ann").await;
    // A default nick (its address) and a non-ASCII one: IRC shows both in another form.
    let (s, _rb) = sink();
    let b = hub.register(reg(2, s)).await.unwrap();
    let (c, _rc) = member(&hub, 3, "张三").await;
    hub.join(a.id, "dev", None).await.unwrap();
    let irc_b = crate::transport::irc::nick::to_irc(&b.nick).into_owned();
    assert_ne!(irc_b, *b.nick);
    for ban in [format!("{irc_b}!*@*"), format!("{}!*@*", crate::transport::irc::nick::to_irc("张三"))] {
        hub.mode(a.id, "dev", vec![ModeChange::with(true, Mode::Ban, &ban)]).await.unwrap();
    }
    for id in [b.id, c.id] {
        assert_eq!(hub.join(id, "dev", None).await.unwrap_err().code, ErrorCode::BannedFromChan);
    }
    // The hub form still works too.
    let (d, _rd) = member(&hub, 4, "dan").await;
    hub.mode(a.id, "dev", vec![ModeChange::with(true, Mode::Ban, "dan")]).await.unwrap();
    assert_eq!(hub.join(d.id, "dev", None).await.unwrap_err().code, ErrorCode::BannedFromChan);
}

#[tokio::test]
async fn ban_list_is_bounded() {
    let hub = hub(10);
    let (a, _ra) = member(&hub, 1, "ann").await;
    hub.join(a.id, "dev", None).await.unwrap();
    for i in 0..MAX_BANS {
        let done = hub.mode(a.id, "dev", vec![ModeChange::with(true, Mode::Ban, &format!("n{i}"))]).await.unwrap();
        assert_eq!(done.applied.len(), 1);
    }
    let done = hub.mode(a.id, "dev", vec![ModeChange::with(true, Mode::Ban, "one-more")]).await.unwrap();
    assert!(done.errors[0].text.starts_with("the ban list of dev is full (100 masks)"), "{:?}", done.errors);
}

#[tokio::test]
async fn moderation_voice_and_check_send() {
    let hub = hub(10);
    let (a, mut ra) = member(&hub, 1, "ann").await;
    let (b, _rb) = member(&hub, 2, "ben").await;
    let (c, _rc) = member(&hub, 3, "cat").await;
    hub.join(a.id, "dev", None).await.unwrap();
    let gate = hub.join(b.id, "dev", None).await.unwrap().gate;
    let _ = drained(&hub, &mut ra).await;
    hub.mode(a.id, "dev", parse_modes("+m", &[]).unwrap()).await.unwrap();
    assert_eq!(drained(&hub, &mut ra).await, ["ann set mode +m on dev"]);
    assert!(!gate.may_speak() && !gate.is_closed());
    let muted = hub.check_send(b.id, "dev").await.unwrap_err();
    assert_eq!(muted.code, ErrorCode::CannotSendToChan);
    assert_eq!(muted.text, "you cannot speak in dev (+m: ask an operator for voice)");
    assert!(hub.check_send(a.id, "dev").await.is_ok(), "operators speak");
    hub.mode(a.id, "dev", vec![ModeChange::with(true, Mode::Voice, "ben")]).await.unwrap();
    assert!(gate.may_speak());
    let names = hub.names("dev").await.unwrap().names;
    assert_eq!(names.iter().map(NameEntry::marked).collect::<Vec<_>>(), ["@ann", "+ben"]);
    // Outsiders: +n refuses them; -n lets them (IRC members) send.
    assert_eq!(hub.check_send(c.id, "dev").await.unwrap_err().text, "you cannot speak in dev (+n: join it first)");
    hub.mode(a.id, "dev", parse_modes("-mn", &[]).unwrap()).await.unwrap();
    assert_eq!(hub.check_send(c.id, "dev").await.unwrap().as_ref(), "dev");
    // A ban mutes a member who is in.
    hub.mode(a.id, "dev", parse_modes("-v+b", &["ben", "*!tcp@127.0.0.1"]).unwrap()).await.unwrap();
    assert!(!gate.may_speak());
    assert_eq!(hub.check_send(b.id, "dev").await.unwrap_err().text, "you cannot speak in dev (you are banned)");
    // Op by mode; errors per change, the rest applied.
    let done = hub.mode(a.id, "dev", parse_modes("+oo", &["ben", "cat"]).unwrap()).await.unwrap();
    assert_eq!(done.applied, vec![ModeChange::with(true, Mode::Op, "ben")]);
    assert_eq!(done.errors[0].code, ErrorCode::UserNotInChannel);
    assert!(gate.may_speak(), "operators speak even when banned");
}

#[tokio::test]
async fn away_whois_who() {
    let hub = hub(10);
    let (a, mut ra) = member(&hub, 1, "ann").await;
    let (b, _rb) = member(&hub, 2, "ben").await;
    hub.join(b.id, "dev", None).await.unwrap();
    let _ = drained(&hub, &mut ra).await;
    hub.away(b.id, Some("lunch")).await.unwrap();
    let ev = next(&mut ra).await;
    assert_eq!(
        (ev.event.text.as_str(), subject(&ev).and_then(|s| s.reason)),
        ("ben is away: lunch", Some("lunch".into()))
    );
    let (_, away) = hub.private(a.id, "ben", "hi").await.unwrap();
    assert_eq!(away.as_deref(), Some("lunch"));
    let w = hub.whois("BEN").await.unwrap();
    assert_eq!((w.nick.as_str(), w.transport, w.away.as_deref()), ("ben", "tcp", Some("lunch")));
    assert_eq!(w.ident, Ident { user: "tcp".into(), host: "127.0.0.1".into(), realname: String::new() });
    let rooms: Vec<(&str, bool)> = w.rooms.iter().map(|r| (&*r.room, r.op)).collect();
    assert_eq!(rooms, [("lobby", false), ("dev", true)]);
    assert!(w.last_active <= crate::event::now_ms() && w.connected_at > 0);
    assert_eq!(hub.whois("nobody").await.unwrap_err().code, ErrorCode::NoSuchNick);
    let who = hub.who("#dev").await;
    assert_eq!(who.len(), 1);
    assert!(who[0].op && who[0].away && who[0].room.as_deref() == Some("dev"));
    assert_eq!(hub.who("ann").await[0].nick, "ann");
    assert!(hub.who("nobody").await.is_empty());
    hub.away(b.id, None).await.unwrap();
    assert_eq!(next_text(&mut ra).await, "ben is back");
}

#[tokio::test]
async fn a_member_may_register_without_landing() {
    let hub = hub(10);
    let (s, mut rx) = sink();
    let w = hub
        .register(Registration {
            land: false,
            ident: Ident::of("irc", peer(9).ip()),
            ..Registration::new(peer(9), s, "irc")
        })
        .await
        .unwrap();
    assert!(w.room.is_none());
    assert!(drained(&hub, &mut rx).await.is_empty());
    assert_eq!(hub.names("lobby").await.unwrap().names.len(), 0);
    hub.join(w.id, "#lobby", None).await.unwrap();
    assert!(!hub.names("lobby").await.unwrap().names[0].op, "nobody runs the lobby");
}

#[tokio::test]
async fn look_alike_nicks_and_rooms_are_refused() {
    let hub = hub(10);
    let a = hub.register(reg(1, sink().0)).await.unwrap();
    let b = hub.register(reg(2, sink().0)).await.unwrap();
    hub.nick(a.id, "ace").await.unwrap();
    // All-Cyrillic асе passes the script rules but looks like ace.
    assert_eq!(hub.nick(b.id, "асе").await.unwrap_err().text, "nick асе looks like ace, which is taken");
    hub.nick(a.id, "ace2").await.unwrap();
    hub.nick(b.id, "асе").await.unwrap();
    assert_eq!(hub.join(a.id, "1obby", None).await.unwrap_err().text, "room name 1obby looks like lobby; join lobby");
    hub.join(a.id, "r00m", None).await.unwrap();
    assert_eq!(
        hub.join(b.id, "room", None).await.unwrap_err().text,
        "room name room looks like r00m, which exists; join r00m"
    );
    hub.join(a.id, "dev", None).await.unwrap();
    assert_eq!(hub.join(b.id, "dеv", None).await.unwrap_err().text.split(':').next(), Some("bad room name \"dеv\""));
    hub.leave(b.id, "quit");
    // The look is released with the nick.
    hub.nick(a.id, "асе").await.unwrap();
}

#[tokio::test]
async fn per_ip_limit_counts_ipv6_per_64() {
    let hub = hub(1);
    let v6 = |s: &str| SocketAddr::new(s.parse().unwrap(), 1);
    hub.register(Registration::new(v6("2001:db8::1"), sink().0, "tcp")).await.unwrap();
    let err = hub.register(Registration::new(v6("2001:db8::ffff:2"), sink().0, "tcp")).await.unwrap_err();
    assert_eq!(err.text, "too many members from 2001:db8::: 1 is the limit per address");
    assert_eq!(err.code, ErrorCode::ServerFull);
    assert!(hub.register(Registration::new(v6("2001:db8:0:1::1"), sink().0, "tcp")).await.is_ok());
}

#[tokio::test]
async fn per_ip_limit_and_release() {
    let hub = hub(1);
    let a = hub.register(reg(1, sink().0)).await.unwrap();
    let err = hub.register(reg(2, sink().0)).await.unwrap_err();
    assert_eq!(err.text, "too many members from 127.0.0.1: 1 is the limit per address");
    hub.leave(a.id, "quit");
    assert!(hub.register(reg(3, sink().0)).await.is_ok());
}

#[tokio::test]
async fn reasons_away_messages_and_keys_are_bounded() {
    let hub = hub(10);
    let (a, mut ra) = member(&hub, 1, "ann").await;
    let (b, mut rb) = member(&hub, 2, "ben").await;
    hub.join(a.id, "dev", None).await.unwrap();
    hub.join(b.id, "dev", None).await.unwrap();
    let _ = drained(&hub, &mut ra).await;
    let long = "r".repeat(MAX_REASON * 2);
    hub.part(b.id, "dev", &long).await.unwrap();
    let ev = next(&mut ra).await;
    assert_eq!(subject(&ev).and_then(|s| s.reason).map(|r| r.chars().count()), Some(MAX_REASON));
    hub.away(b.id, Some(&long)).await.unwrap();
    let ev = next(&mut ra).await;
    assert_eq!(subject(&ev).and_then(|s| s.reason).map(|r| r.chars().count()), Some(MAX_REASON));
    let too_long = "k".repeat(MAX_KEY + 1);
    let done = hub.mode(a.id, "dev", vec![ModeChange::with(true, Mode::Key, &too_long)]).await.unwrap();
    assert_eq!(done.errors[0].text, "bad key: 1-23 characters, no spaces or commas");
    let done = hub.mode(a.id, "dev", vec![ModeChange::with(true, Mode::Key, &too_long[1..])]).await.unwrap();
    assert!(done.errors.is_empty());
    let _ = drained(&hub, &mut rb).await;
}

#[tokio::test]
async fn irc_members_register_with_a_nick_and_their_events_carry_user_at_host() {
    let hub = hub(10);
    let (a, _ra) = member(&hub, 1, "alice").await;
    let irc = |port: u16, nick: &str, s: Sink| Registration {
        land: false,
        nick: Some(nick.to_string()),
        ident: Ident { user: "u".into(), host: "127.0.0.1".into(), realname: "R".into() },
        ..Registration::new(peer(port), s, "irc")
    };
    assert_eq!(hub.register(irc(2, "ALICE", sink().0)).await.unwrap_err().code, ErrorCode::NickInUse);
    assert_eq!(hub.register(irc(2, "a b", sink().0)).await.unwrap_err().code, ErrorCode::ErroneousNick);
    assert_eq!(hub.check_nick("alice").await.unwrap_err().code, ErrorCode::NickInUse);
    assert!(hub.check_nick("bob").await.is_ok());
    let (s, mut rx) = sink();
    let w = hub.register(irc(2, "bob", s)).await.unwrap();
    assert_eq!((w.nick.as_str(), &*w.userhost), ("bob", "u@127.0.0.1"));
    assert!(drained(&hub, &mut rx).await.is_empty(), "no nick notice, no room");
    hub.join(w.id, "#dev", None).await.unwrap();
    let join = next(&mut rx).await;
    assert_eq!(join.event.userhost.as_deref(), Some("u@127.0.0.1"));
    let (ev, _) = hub.private(a.id, "bob", "hi").await.unwrap();
    assert_eq!(ev.userhost.as_deref(), Some("tcp@127.0.0.1"));
    let stats = hub.stats().await;
    assert_eq!((stats.members, stats.peak), (2, 2));
    hub.leave(a.id, "bye");
    assert_eq!(hub.stats().await.peak, 2, "the peak stays");
}

#[tokio::test]
async fn above_the_announce_limit_a_member_still_sees_its_own_join_and_part() {
    let hub = hub_with(ChatConfig { announce_limit: 1, ..ChatConfig::default() });
    let (a, mut ra) = member(&hub, 1, "ann").await;
    let (b, mut rb) = member(&hub, 2, "ben").await;
    hub.join(a.id, "dev", None).await.unwrap();
    assert!(drained(&hub, &mut ra).await.contains(&"ann joined dev".to_string()));
    hub.join(b.id, "dev", None).await.unwrap();
    assert_eq!(drained(&hub, &mut rb).await, ["ben joined dev"], "told to itself alone");
    assert!(drained(&hub, &mut ra).await.is_empty(), "not announced to the room");
    hub.part(b.id, "dev", "").await.unwrap();
    assert_eq!(drained(&hub, &mut rb).await, ["ben left dev"]);
    assert!(drained(&hub, &mut ra).await.is_empty());
}
