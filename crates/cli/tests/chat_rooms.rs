//! Several rooms per member against the real binary: raw TCP text members
//! (std sockets), a TCP member in JSON mode and a python3 WebSocket member.
//! `/join` adds a room, `[room]` tags lines for members in several, `/part`
//! leaves one; topics, kicks, bans, invitations, keys, limits, moderation
//! and the per-member room limit, with the JSON fields of each notice.
#![allow(clippy::unwrap_used)]

mod chat_support;

use std::net::SocketAddr;

use chat_support::ws::{ws_join, WsMember};
use chat_support::{serve, Member};
use sockit_testkit::{bin, Sockit};

/// The next JSON line containing `needle` of a `/json` member.
fn json(m: &mut Member, needle: &str) -> serde_json::Value {
    let line = m.expect(needle);
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// Joins `room` and waits for the member's own join notice.
fn join(m: &mut Member, room: &str, nick: &str) {
    m.send(&format!("/join {room}"));
    m.expect(&format!("* {nick} joined {room}"));
}

#[test]
fn two_rooms_each_with_tags_part_and_a_websocket_member() {
    let s = Sockit::start(&bin(), &["chat", "serve", "--no-irc", "--port", "0", "--web-port", "0", "--no-history"], 3);
    let addr: SocketAddr = s.addr("tcp");
    let mut ann = Member::join(addr, "ann");
    let mut ben = Member::join(addr, "ben");
    let mut ws = ws_join(s.addr("http"));
    ws.event("joined lobby");
    ws.say("/nick web");
    ann.expect("is now known as web");
    join(&mut ann, "dev", "ann");
    ben.send("/join #DEV");
    // Members in two rooms see which room each line is from.
    assert_eq!(ann.expect("ben joined dev"), "[dev] * ben joined dev");
    let names = ben.expect("members of dev");
    assert_eq!(names, "[dev] * members of dev (2): @ann, ben", "the creator runs the room");
    ann.send("in dev");
    assert_eq!(ben.expect("in dev"), "[dev] <ann> in dev");
    // Joining a room you are in makes it current.
    ann.send("/join lobby");
    assert_eq!(ann.expect("current room"), "* current room: lobby");
    ann.send("in lobby");
    assert_eq!(ben.expect("in lobby"), "[lobby] <ann> in lobby");
    let msg = ws.event("in lobby");
    assert_eq!(
        (msg["type"].as_str(), msg["room"].as_str(), msg["from"].as_str()),
        (Some("msg"), Some("lobby"), Some("ann"))
    );
    ws.say("from the web");
    assert_eq!(ann.expect("from the web"), "[lobby] <web> from the web");
    // The web member joins dev: its own join and the names, as JSON.
    ws.say("/join dev");
    let joined = ws.event("web joined dev");
    assert_eq!(
        (joined["event"].as_str(), joined["room"].as_str(), joined["nick"].as_str()),
        (Some("join"), Some("dev"), Some("web"))
    );
    let names = ws.event("members of dev");
    assert_eq!(names["event"], "names");
    assert_eq!(names["members"][0], serde_json::json!({"nick": "ann", "op": true, "voice": false}));
    assert_eq!(names["members"].as_array().map(Vec::len), Some(3));
    ws.say("web in dev");
    assert_eq!(ben.expect("web in dev"), "[dev] <web> web in dev");
    // A /join of a room it is in makes it current: a structured notice.
    ws.say("/join lobby");
    let cur = ws.event("current room: lobby");
    assert_eq!((cur["event"].as_str(), cur["room"].as_str()), (Some("current"), Some("lobby")));
    // /part ROOM reason: ben is in one room again, and his lines are as before.
    ben.send("/part dev see you");
    assert_eq!(ann.expect("ben left dev"), "[dev] * ben left dev (see you)");
    let part = ws.event("ben left dev");
    assert_eq!((part["event"].as_str(), part["reason"].as_str()), (Some("part"), Some("see you")));
    assert_eq!(ben.expect("current room"), "* current room: lobby");
    ann.send("just the lobby now");
    assert_eq!(ben.expect("just the lobby"), "<ann> just the lobby now");
    // /part alone leaves the current room; in no room a line goes nowhere.
    ben.send("/part");
    assert_eq!(ben.expect("you left"), "* you left lobby; you are in no room: /join ROOM");
    ben.send("anyone?");
    assert_eq!(ben.expect("no room"), "! you are in no room: /join ROOM");
    // Quitting is told once, however many rooms are shared.
    ws.say("/quit");
    ws.event("bye");
    ann.expect("web left (quit)");
    ann.send("/rooms");
    assert_eq!(ann.expect("rooms:"), "* rooms: dev (1), lobby (1)");
    let seen = ann.lines.seen.iter().filter(|l| l.contains("web left")).count();
    assert_eq!(seen, 1, "{:#?}", ann.lines.seen);
}

#[test]
fn topic_kick_and_ban_by_mask() {
    let s = serve(&[]);
    let addr = s.addr("tcp");
    let mut ann = Member::join(addr, "ann");
    let mut ben = Member::join(addr, "ben");
    let mut cat = Member::join(addr, "cat");
    join(&mut ann, "dev", "ann");
    join(&mut ben, "dev", "ben");
    join(&mut cat, "dev", "cat");
    cat.send("/json");
    cat.expect("json mode");
    // +t (new rooms are +nt): only an operator sets the topic.
    ben.send("/topic #dev mine now");
    assert_eq!(ben.expect("operator"), "! you are not an operator of dev (+t: only operators set the topic)");
    ann.send("/topic Release day");
    assert_eq!(ben.expect("set the topic"), "[dev] * ann set the topic of dev: Release day");
    let t = json(&mut cat, "set the topic");
    assert_eq!(
        (t["event"].as_str(), t["topic"].as_str(), t["nick"].as_str()),
        (Some("topic"), Some("Release day"), Some("ann"))
    );
    ben.send("/topic");
    assert_eq!(ben.expect("topic of dev:"), "* topic of dev: Release day (set by ann)");
    ben.send("/rooms");
    assert_eq!(ben.expect("rooms:"), "* rooms: dev (3) \"Release day\", lobby (3)");
    // Kick: only operators; the target is told, and a line it meant for
    // the room is not sent elsewhere.
    ben.send("/kick ann");
    assert_eq!(ben.expect("operator"), "! you are not an operator of dev");
    ann.send("/kick ben spamming");
    assert_eq!(ben.expect("kicked"), "[dev] * ann kicked ben from dev (spamming)");
    let k = json(&mut cat, "kicked");
    assert_eq!(
        (k["event"].as_str(), k["target"].as_str(), k["reason"].as_str()),
        (Some("kick"), Some("ben"), Some("spamming"))
    );
    ben.send("still here?");
    assert_eq!(
        ben.expect("no longer"),
        "! you are no longer in dev; this line was not sent, your lines now go to lobby"
    );
    // Ban by mask: the member cannot come back until unbanned.
    ann.send("/ban B?N");
    let b = json(&mut cat, "set mode");
    assert_eq!((b["event"].as_str(), b["modes"].as_str()), (Some("mode"), Some("+b b?n!*@*")));
    ben.send("/join dev");
    assert_eq!(ben.expect("banned"), "! you are banned from dev");
    ann.send("/ban");
    assert_eq!(ann.expect("bans of"), "* bans of dev: b?n!*@* (by ann)");
    ann.send("/unban b?n!*@*");
    ann.expect("set mode -b b?n!*@* on dev");
    join(&mut ben, "dev", "ben");
}

#[test]
fn invite_key_limit_and_moderation() {
    let s = serve(&[]);
    let addr = s.addr("tcp");
    let mut ann = Member::join(addr, "ann");
    let mut ben = Member::join(addr, "ben");
    let mut cat = Member::join(addr, "cat");
    let mut dan = Member::join(addr, "dan");
    join(&mut ann, "dev", "ann");
    // Modes of others' rooms need op.
    join(&mut ben, "ops", "ben");
    ann.send("/mode #ops +m");
    assert_eq!(ann.expect("not in ops"), "! you are not in ops");
    ben.send("/part ops");
    ben.expect("current room: lobby");
    // +i: an invitation lets one in.
    ann.send("/mode +i");
    ann.expect("set mode +i on dev");
    ben.send("/join dev");
    assert_eq!(ben.expect("invite-only"), "! dev is invite-only (+i): ask an operator for /invite");
    ann.send("/invite ben");
    assert_eq!(ann.expect("invited"), "* invited ben to dev");
    assert_eq!(ben.expect("invited you"), "* ann invited you to dev (/join dev)");
    join(&mut ben, "dev", "ben");
    // +k: the key is needed.
    ann.send("/mode -i+k s3cret");
    ann.expect("set mode -i+k on dev");
    cat.send("/join dev");
    assert_eq!(cat.expect("key"), "! dev needs the right key (+k): /join dev KEY");
    cat.send("/join dev wrong");
    assert_eq!(cat.expect("key"), "! dev needs the right key (+k): /join dev KEY");
    cat.send("/join dev s3cret");
    cat.expect("* cat joined dev");
    // +l: the limit is hit.
    ann.send("/mode +l 3");
    ann.expect("set mode +l 3 on dev");
    dan.send("/join dev s3cret");
    assert_eq!(dan.expect("full"), "! dev is full (+l 3)");
    ann.send("/mode");
    assert_eq!(ann.expect("modes of"), "* modes of dev: +ntkl s3cret 3");
    dan.send("/mode #dev");
    assert_eq!(dan.expect("modes of"), "* modes of dev: +ntkl 3", "the key is for members only");
    // +m: without voice a member is refused, with voice it speaks.
    ann.send("/mode +m");
    ben.expect("set mode +m on dev");
    ben.send("muted line");
    assert_eq!(ben.expect("cannot speak"), "! you cannot speak in dev (+m: ask an operator for voice)");
    ann.send("/voice ben");
    ben.expect("set mode +v ben on dev");
    ben.send("voiced line");
    assert_eq!(cat.expect("line"), "[dev] <ben> voiced line", "the muted line never arrived");
    cat.send("/who");
    assert_eq!(cat.expect("members of"), "[dev] * members of dev (3): @ann, +ben, cat");
    ann.send("/op cat");
    cat.expect("set mode +o cat on dev");
    cat.send("op line");
    ben.expect("[dev] <cat> op line");
}

#[test]
fn max_rooms_per_member_away_and_whois() {
    let s = serve(&["--max-rooms-per-member", "3"]);
    let addr = s.addr("tcp");
    let mut ann = Member::join(addr, "ann");
    let mut ben = Member::join(addr, "ben");
    join(&mut ann, "r1", "ann");
    join(&mut ann, "r2", "ann");
    ann.send("/join r3");
    assert_eq!(ann.expect("limit"), "! you are in 3 rooms, the limit: /part one first");
    ann.send("/part r1");
    ann.expect("current room: r2");
    join(&mut ann, "r3", "ann");
    // Away: told to the other members, and to whoever writes privately.
    ann.send("/away at lunch");
    assert_eq!(ann.expect("away"), "* you are away: at lunch");
    assert_eq!(ben.expect("is away"), "* ann is away: at lunch");
    ben.send("/msg ann ping");
    assert_eq!(ben.expect("is away"), "* ann is away: at lunch");
    ben.send("/whois ann");
    let w = ben.expect("via tcp");
    assert!(w.starts_with("* ann is tcp@127.0.0.1 via tcp, in lobby, @r2, @r3; connected "), "{w}");
    assert!(w.ends_with("; away: at lunch"), "{w}");
    ann.send("/away");
    ann.expect("you are back");
    ben.expect("* ann is back");
}
