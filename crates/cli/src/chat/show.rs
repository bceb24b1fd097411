//! How the terminal client shows an event: local time, coloured nick.

use chrono::TimeZone;
use sockit_chat::{Event, Kind};

const RESET: &str = "\x1b[0m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";

/// One event as a terminal line (no newline). Every field is escaped again
/// here: our server escapes what members send, but the client must not
/// trust whatever server it is pointed at.
pub fn event_line(ev: &Event, color: bool) -> String {
    use sockit_net::text::escape_untrusted as esc;
    let time = chrono::Local
        .timestamp_millis_opt(ev.ts)
        .single()
        .map(|t| if ev.history { t.format("%m-%d %H:%M").to_string() } else { t.format("%H:%M:%S").to_string() })
        .unwrap_or_default();
    let from = ev.from.as_deref().unwrap_or("?");
    let text = esc(&ev.text);
    let nick = |n: &str| {
        let n = esc(n);
        if color {
            format!("{}{n}{RESET}", nick_color(&n))
        } else {
            n.into_owned()
        }
    };
    let body = match ev.kind {
        Kind::Msg => format!("<{}> {text}", nick(from)),
        Kind::Me => format!("* {} {text}", nick(from)),
        Kind::Private => format!("<{} -> {}> {text}", nick(from), nick(ev.to.as_deref().unwrap_or("?"))),
        Kind::Notice if color => format!("{DIM}* {text}{RESET}"),
        Kind::Notice => format!("* {text}"),
        Kind::Error if color => format!("{RED}! {text}{RESET}"),
        Kind::Error => format!("! {text}"),
    };
    let mark = if ev.history { "history " } else { "" };
    if color {
        format!("{DIM}{mark}{time}{RESET} {body}")
    } else {
        format!("{mark}{time} {body}")
    }
}

/// A stable colour per nick, so a conversation is easy to follow.
fn nick_color(nick: &str) -> &'static str {
    const COLORS: [&str; 6] = ["\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[34m", "\x1b[35m", "\x1b[36m"];
    let h = nick.bytes().fold(5381u32, |h, b| h.wrapping_mul(33) ^ u32::from(b));
    COLORS[h as usize % COLORS.len()]
}

/// A line that is not JSON (before `/json` took effect, or an old server):
/// shown as is, with control characters escaped.
pub fn raw_line(line: &str, color: bool) -> String {
    let safe = sockit_net::text::escape_untrusted(line);
    if color {
        format!("{DIM}{safe}{RESET}")
    } else {
        safe.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines() {
        let mut e = Event::new(Kind::Msg, "hi").by("alice");
        e.ts = 0;
        let s = event_line(&e, false);
        assert!(s.ends_with(" <alice> hi"), "{s}");
        let c = event_line(&e, true);
        assert!(c.contains("alice\x1b[0m> hi"), "{c}");
        assert_eq!(nick_color("bob"), nick_color("bob"));
        // A hostile server's raw controls are escaped all the same.
        let mut e = Event::new(Kind::Private, "\x1b[2J\u{202e}").by("a\u{200b}");
        e.to = Some("b\x07".into());
        let s = event_line(&e, false);
        assert!(s.ends_with("<a\\u{200b} -> b\\x07> \\x1b[2J\\u{202e}"), "{s}");
    }
}
