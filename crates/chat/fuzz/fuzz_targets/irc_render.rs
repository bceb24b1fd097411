//! Arbitrary texts, nicks, rooms, reasons and mode strings in every kind of
//! event, rendered as IRC lines in every variant: never a panic, every line
//! parses back as one server message of at most 512 bytes after its tags,
//! and no text carries a line break or NUL into it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_chat::event::irc::{render, Relay};
use sockit_chat::event::{Event, Kind};
use sockit_chat::notice;
use sockit_chat::transport::irc::message::{parse, Origin, MAX_MESSAGE};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut f = text.splitn(4, '\u{1f}');
    let (body, nick, room, extra) =
        (f.next().unwrap_or(""), f.next().unwrap_or("bob"), f.next().unwrap_or("dev"), f.next().unwrap_or(""));
    let mut events = vec![
        Event::new(Kind::Msg, body).by(nick).in_room(room),
        Event::new(Kind::Me, body).by(nick).in_room(room),
        notice::join(room, nick),
        notice::part(room, nick, extra),
        notice::quit(nick, extra),
        notice::nick(nick, extra),
        notice::topic(room, nick, body),
        notice::mode(room, nick, extra),
        notice::kick(room, nick, extra, body),
        notice::invite(room, nick, extra),
        notice::away(nick, Some(body)),
        Event::notice(body),
    ];
    let mut private = Event::new(Kind::Private, body).by(nick);
    private.to = Some(extra.to_owned());
    events.push(private);
    let mut tagged = Event::new(Kind::Msg, body).by(nick).in_room(room);
    tagged.relay = Some(Box::new(Relay { tags: vec![("+x".into(), extra.into())], notice: true, tagmsg: false }));
    events.push(tagged);
    for (i, mut ev) in events.into_iter().enumerate() {
        if i % 2 == 0 {
            ev.userhost = Some("user@127.0.0.1".into());
        }
        for (time, tags) in [(false, false), (true, false), (false, true), (true, true)] {
            let out = render(&ev, time, tags);
            for line in out.split_inclusive(|b| *b == b'\n') {
                assert!(line.ends_with(b"\r\n"), "{line:?}");
                let body = &line[..line.len() - 2];
                assert!(!body.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)), "{line:?}");
                let after_tags = match line.first() {
                    Some(b'@') => &line[line.iter().position(|b| *b == b' ').map_or(line.len(), |p| p + 1)..],
                    _ => line,
                };
                assert!(after_tags.len() <= MAX_MESSAGE, "{} bytes", after_tags.len());
                parse(line, Origin::Server).unwrap_or_else(|e| panic!("{e}: {line:?}"));
            }
        }
    }
});
