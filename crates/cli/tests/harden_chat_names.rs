//! Names that look like another are refused (nicks and rooms), and
//! invisible, bidi and layout characters from peers reach every member
//! escaped, in every place chat puts peer text: messages, `/me`, `/msg`,
//! error echoes, JSON mode and UDP. Real peers: `nc`, std TCP and UDP sockets.
#![allow(clippy::unwrap_used)]

mod chat_support;

use std::time::Duration;

use chat_support::{serve, Member, Nc, Udp};
use sockit_testkit::need;

/// Before: `оbserver` (Cyrillic о), `ｏｂｓｅｒｖｅｒ`, `𝐨𝐛𝐬𝐞𝐫𝐯𝐞𝐫` and a Hebrew
/// nick were all accepted beside `observer`. After: refused, as are rooms
/// that pass for another; single-script names like `张三` still work.
#[test]
fn look_alike_nicks_and_rooms_are_refused() {
    need("nc");
    let s = serve(&[]);
    let tcp = s.addr("tcp");
    let _observer = Member::join(tcp, "observer");
    let _ace = Member::join(tcp, "ace");
    let mut nc = Nc::spawn(&[&tcp.ip().to_string(), &tcp.port().to_string()]);
    nc.expect("joined lobby");
    for (nick, why) in [
        ("оbserver", "use letters of one script"),
        ("ｏｂｓｅｒｖｅｒ", "no fullwidth, mathematical or other look-alike forms"),
        ("𝐨𝐛𝐬𝐞𝐫𝐯𝐞𝐫", "no fullwidth, mathematical or other look-alike forms"),
        ("שלום", "right-to-left letters are not allowed"),
        ("obs\u{200b}erver", "bad nick"),
        ("асе", "looks like ace, which is taken"),
        ("0bserver", "bad nick"),
        ("Observer", "nick Observer is taken"),
        ("observer_", ""),
    ] {
        nc.send(&format!("/nick {nick}"));
        if why.is_empty() {
            nc.expect(&format!("is now known as {nick}"));
        } else {
            let line = nc.expect("! ");
            assert!(line.contains(why), "/nick {nick}: {line}");
        }
    }
    nc.send("/nick 张三");
    nc.expect("is now known as 张三");
    for (room, why) in [
        ("1obby", "looks like lobby; join lobby"),
        ("dеv", "use letters of one script"),
        ("ｄｅｖ", "look-alike forms"),
        ("מרכז", "right-to-left"),
    ] {
        nc.send(&format!("/join {room}"));
        let line = nc.expect("! ");
        assert!(line.contains(why), "/join {room}: {line}");
    }
    nc.send("/join r00m");
    nc.expect("joined r00m");
    let mut other = Member::join(tcp, "");
    other.send("/join room");
    assert_eq!(other.expect("! "), "! room name room looks like r00m, which exists; join r00m");
    other.send("/join 中文");
    other.expect("joined 中文");
}

const TRICKS: &str = "a\u{200e}b\u{202e}c\u{200b}d\u{2028}e";
const ESCAPED: &str = "a\\u{200e}b\\u{202e}c\\u{200b}d\\u{2028}e";
/// One word (U+2028 is white space, which ends a command's argument).
const WORD: &str = "a\u{200e}b\u{202e}c\u{200b}d";
const WORD_ESCAPED: &str = "a\\u{200e}b\\u{202e}c\\u{200b}d";

fn has_raw_tricks(bytes: &[u8]) -> bool {
    let s = String::from_utf8_lossy(bytes);
    s.contains(['\u{200e}', '\u{202e}', '\u{200b}', '\u{2028}'])
}

/// Before: the text of a message was escaped, but an error echo (`/msg`
/// to an unknown nick) gave the raw characters back. After: every place —
/// messages, `/me`, `/msg`, error echoes, JSON mode, UDP — sends them
/// escaped, and no raw U+200E/U+202E/U+200B/U+2028 byte reaches anyone.
#[test]
fn invisible_and_bidi_characters_arrive_escaped_everywhere() {
    need("nc");
    let s = serve(&[]);
    let tcp = s.addr("tcp");
    let mut reader = Nc::spawn(&[&tcp.ip().to_string(), &tcp.port().to_string()]);
    reader.expect("joined lobby");
    reader.send("/nick reader");
    reader.expect("is now known as reader");
    let mut json = Member::join(tcp, "jsonm");
    json.send("/json");
    json.expect("json mode");
    let udp = Udp::new("127.0.0.1", s.addr("udp"));
    udp.handshake("/nick udpm");
    reader.expect("is now known as udpm");
    let mut sender = Nc::spawn(&[&tcp.ip().to_string(), &tcp.port().to_string()]);
    sender.expect("joined lobby");
    sender.send("/nick sender");
    reader.expect("is now known as sender");

    sender.send(&format!("msg {TRICKS}"));
    assert_eq!(reader.expect("<sender> msg"), format!("<sender> msg {ESCAPED}"));
    sender.send(&format!("/me acts {TRICKS}"));
    assert_eq!(reader.expect("* sender acts"), format!("* sender acts {ESCAPED}"));
    sender.send(&format!("/msg reader private {TRICKS}"));
    assert_eq!(reader.expect("private"), format!("<sender -> reader> private {ESCAPED}"));
    // Error echoes of what the sender typed.
    sender.send(&format!("/msg {WORD} hi"));
    assert_eq!(sender.expect("no such nick"), format!("! no such nick {WORD_ESCAPED}"));
    sender.send(&format!("/nick {WORD}"));
    assert!(sender.expect("bad nick").contains(WORD_ESCAPED));
    sender.send(&format!("/join {WORD}"));
    assert!(sender.expect("bad room name").contains(WORD_ESCAPED));
    sender.send(&format!("/encoding {WORD}"));
    assert!(sender.expect("unknown encoding").contains(WORD_ESCAPED));
    sender.send(&format!("/x{WORD}"));
    assert!(sender.expect("unknown command").contains(WORD_ESCAPED));
    sender.send(&format!("/nick{TRICKS}"));
    assert!(sender.expect("unknown command").contains("nicka"));
    sender.send("/history 3");
    assert!(sender.expect("[history").contains(ESCAPED));
    sender.send("done");
    reader.expect("<sender> done");

    // JSON mode: the text field holds the escape, not the character
    // (serde_json would write U+2028 raw).
    json.expect("\"text\":\"done\"");
    for line in json.lines.seen.iter().filter(|l| l.contains("msg ") || l.contains("acts ")) {
        assert!(line.contains(&ESCAPED.replace('\\', "\\\\")), "{line}");
    }
    // UDP: the same.
    let got: Vec<Vec<u8>> = udp.drain(Duration::from_millis(500));
    let got_text: Vec<String> = got.iter().map(|d| String::from_utf8_lossy(d).to_string()).collect();
    assert!(got_text.iter().any(|d| d == &format!("<sender> msg {ESCAPED}\n")), "{got_text:#?}");

    for l in reader.seen.iter().chain(&sender.seen).chain(&got) {
        assert!(!has_raw_tricks(l), "raw character reached a member: {:?}", String::from_utf8_lossy(l));
    }
    for l in &json.lines.seen {
        assert!(!has_raw_tricks(l.as_bytes()), "raw character in JSON: {l:?}");
    }
}
