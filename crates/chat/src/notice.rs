//! Structured notices: one constructor per [`NoticeKind`], so the text a
//! line member reads (`* bob joined dev`) and the fields a JSON, web or IRC
//! member reads (`"event":"join","room":"dev","nick":"bob"`) are made in one
//! place and cannot disagree.

use crate::event::{Event, NameEntry, NoticeKind, Subject};

/// What a member in no room is told when it sends a plain line.
pub const NO_ROOM: &str = "you are in no room: /join ROOM";

/// Names a names notice lists before summarising the rest: a text line of
/// 10,000 nicks would be unreadable, and a JSON one bigger than a send queue.
pub const NAMES_SHOWN: usize = 200;

fn structured(text: String, subject: Subject) -> Event {
    let mut ev = Event::notice(text);
    ev.subject = Some(Box::new(subject));
    ev
}

/// A subject of `kind` about `nick`.
fn about(kind: NoticeKind, nick: &str) -> Subject {
    Subject { nick: Some(nick.to_string()), ..Subject::new(kind) }
}

fn with_reason(text: String, reason: &str) -> String {
    if reason.is_empty() {
        text
    } else {
        format!("{text} ({reason})")
    }
}

fn some(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// `* bob joined dev`.
pub fn join(room: &str, nick: &str) -> Event {
    structured(format!("{nick} joined {room}"), about(NoticeKind::Join, nick)).in_room(room)
}

/// `* bob left dev (reason)`; without a reason `* bob left dev`.
pub fn part(room: &str, nick: &str, reason: &str) -> Event {
    let subject = Subject { reason: some(reason), ..about(NoticeKind::Part, nick) };
    structured(with_reason(format!("{nick} left {room}"), reason), subject).in_room(room)
}

/// `* bob left (reason)`: the member left the server (sent once to each
/// member sharing a room with it, so no room).
pub fn quit(nick: &str, reason: &str) -> Event {
    let subject = Subject { reason: some(reason), ..about(NoticeKind::Quit, nick) };
    structured(with_reason(format!("{nick} left"), reason), subject)
}

/// `* bob is now known as rob`.
pub fn nick(old: &str, new: &str) -> Event {
    let subject = Subject { new: Some(new.to_string()), ..about(NoticeKind::Nick, old) };
    structured(format!("{old} is now known as {new}"), subject)
}

/// `* bob set the topic of dev: TEXT` (an empty topic clears it:
/// `* bob cleared the topic of dev`).
pub fn topic(room: &str, nick: &str, topic: &str) -> Event {
    let text = if topic.is_empty() {
        format!("{nick} cleared the topic of {room}")
    } else {
        format!("{nick} set the topic of {room}: {topic}")
    };
    let subject = Subject { topic: Some(topic.to_string()), ..about(NoticeKind::Topic, nick) };
    structured(text, subject).in_room(room)
}

/// `* alice set mode +o bob on dev`.
pub fn mode(room: &str, nick: &str, modes: &str) -> Event {
    let subject = Subject { modes: Some(modes.to_string()), ..about(NoticeKind::Mode, nick) };
    structured(format!("{nick} set mode {modes} on {room}"), subject).in_room(room)
}

/// `* alice kicked bob from dev (reason)`.
pub fn kick(room: &str, nick: &str, target: &str, reason: &str) -> Event {
    let text = with_reason(format!("{nick} kicked {target} from {room}"), reason);
    let subject = Subject { target: Some(target.to_string()), reason: some(reason), ..about(NoticeKind::Kick, nick) };
    structured(text, subject).in_room(room)
}

/// `* alice invited you to dev (/join dev)`: sent to the target alone.
pub fn invite(room: &str, nick: &str, target: &str) -> Event {
    let subject = Subject { target: Some(target.to_string()), ..about(NoticeKind::Invite, nick) };
    structured(format!("{nick} invited you to {room} (/join {room})"), subject).in_room(room)
}

/// `* members of dev (2): @ann, cat`, with the list (at most
/// [`NAMES_SHOWN`] names, text and JSON alike) and the topic.
pub fn names(room: &str, topic: Option<&str>, members: &[NameEntry]) -> Event {
    let shown = &members[..members.len().min(NAMES_SHOWN)];
    let mut list = shown.iter().map(NameEntry::marked).collect::<Vec<_>>().join(", ");
    if members.len() > shown.len() {
        list.push_str(&format!(" … and {} more", members.len() - shown.len()));
    }
    let subject =
        Subject { topic: topic.map(str::to_string), members: Some(shown.to_vec()), ..Subject::new(NoticeKind::Names) };
    structured(format!("members of {room} ({}): {list}", members.len()), subject).in_room(room)
}

/// `* bob is away: lunch`, or `* bob is back` when `text` is `None`.
pub fn away(nick: &str, text: Option<&str>) -> Event {
    let line = match text {
        Some(t) => format!("{nick} is away: {t}"),
        None => format!("{nick} is back"),
    };
    let subject = Subject { reason: text.map(str::to_string), ..about(NoticeKind::Away, nick) };
    structured(line, subject)
}

/// `* current room: dev` — where this member's plain lines now go — or,
/// with no `room`, `* you left LEFT; …` (it is in no room now).
pub fn current(room: Option<&str>, left: &str) -> Event {
    let subject = Subject::new(NoticeKind::Current);
    match room {
        Some(room) => structured(format!("current room: {room}"), subject).in_room(room),
        None => structured(format!("you left {left}; {}", NO_ROOM), subject),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(ev: &Event) -> serde_json::Value {
        serde_json::from_slice(&ev.to_json_line()).unwrap()
    }

    #[test]
    fn texts_and_fields_agree() {
        assert_eq!(join("dev", "bob").to_text_line(), b"* bob joined dev\n");
        let v = json(&join("dev", "bob"));
        assert_eq!(
            (v["type"].as_str(), v["event"].as_str(), v["nick"].as_str()),
            (Some("notice"), Some("join"), Some("bob"))
        );
        assert_eq!(v["room"], "dev");
        assert_eq!(part("dev", "bob", "").to_text_line(), b"* bob left dev\n");
        assert_eq!(json(&part("dev", "bob", "later"))["reason"], "later");
        assert_eq!(quit("bob", "quit").to_text_line(), b"* bob left (quit)\n");
        assert!(json(&quit("bob", "quit"))["room"].is_null());
        let v = json(&nick("bob", "rob"));
        assert_eq!((v["nick"].as_str(), v["new"].as_str()), (Some("bob"), Some("rob")));
        assert_eq!(topic("dev", "al", "hi there").to_text_line(), b"* al set the topic of dev: hi there\n");
        assert_eq!(mode("dev", "al", "+o bob").to_text_line(), b"* al set mode +o bob on dev\n");
        let v = json(&kick("dev", "al", "bob", "spam"));
        assert_eq!((v["target"].as_str(), v["reason"].as_str()), (Some("bob"), Some("spam")));
        assert_eq!(kick("dev", "al", "bob", "spam").to_text_line(), b"* al kicked bob from dev (spam)\n");
        assert_eq!(json(&invite("dev", "al", "bob"))["event"], "invite");
        assert_eq!(away("bob", Some("lunch")).to_text_line(), b"* bob is away: lunch\n");
        assert!(json(&away("bob", None))["reason"].is_null());
        // Old clients: type and text as before, the rest optional.
        let plain = json(&Event::notice("x"));
        assert!(plain["event"].is_null() && plain["members"].is_null());
        // And back: a plain event has no subject, a structured one its fields.
        let back: Event = serde_json::from_slice(&Event::notice("x").to_json_line()).unwrap();
        assert!(back.subject.is_none());
        let back: Event = serde_json::from_slice(&kick("dev", "al", "bob", "x").to_json_line()).unwrap();
        assert_eq!(back.subject.map(|s| (s.event, s.target)), Some((NoticeKind::Kick, Some("bob".into()))));
    }

    #[test]
    fn names_are_capped_and_marked() {
        let one = |nick: &str, op, voice| NameEntry { nick: nick.into(), op, voice };
        let ev = names("dev", Some("t"), &[one("ann", true, false), one("cat", false, true), one("dan", false, false)]);
        assert_eq!(ev.to_text_line(), b"* members of dev (3): @ann, +cat, dan\n");
        let v = json(&ev);
        assert_eq!(v["members"][0], serde_json::json!({"nick": "ann", "op": true, "voice": false}));
        assert_eq!(v["topic"], "t");
        let many: Vec<NameEntry> = (0..NAMES_SHOWN + 5).map(|i| one(&format!("n{i}"), false, false)).collect();
        let ev = names("big", None, &many);
        assert_eq!(ev.subject.and_then(|s| s.members).map(|m| m.len()), Some(NAMES_SHOWN));
        assert!(ev.text.ends_with("… and 5 more"), "{}", ev.text);
    }

    #[test]
    fn tagged_lines_name_the_room() {
        assert_eq!(join("dev", "bob").to_tagged_line(), b"[dev] * bob joined dev\n");
        assert_eq!(quit("bob", "x").to_tagged_line(), b"* bob left (x)\n");
    }
}
