use super::*;
use proptest::prelude::*;

fn p(line: &str) -> Message<'_> {
    parse(line.as_bytes(), Origin::Client).expect("parses")
}

#[test]
fn parses_the_parts() {
    let m = p("@time=2024-01-01T00:00:00.000Z;+draft/x=a\\sb\\:c :nick!u@h PRIVMSG #chan :hello there\r\n");
    assert_eq!(m.tag("time"), Some("2024-01-01T00:00:00.000Z"));
    assert_eq!(m.tag("+draft/x"), Some("a b;c"));
    assert_eq!(m.source, Some("nick!u@h"));
    assert!(m.is("privmsg"));
    assert_eq!(m.params, ["#chan", "hello there"]);

    let m = p("NICK bob\n");
    assert_eq!((m.command, m.params.as_slice()), ("NICK", &["bob"][..]));
    let m = p("001 bob :Welcome");
    assert_eq!(m.params, ["bob", "Welcome"]);
    // Leading spaces, runs of spaces, trailing spaces.
    let m = p("   USER  bob 0   *  :Bob B  ");
    assert_eq!(m.params, ["bob", "0", "*", "Bob B  "]);
    let m = p("JOIN #a   ");
    assert_eq!(m.params, ["#a"]);
    // An empty trailing parameter and a colon inside a middle one.
    let m = p("TOPIC #a :");
    assert_eq!(m.params, ["#a", ""]);
    let m = p("MODE a:b :x");
    assert_eq!(m.params, ["a:b", "x"]);
    // Tags: `key=` is `key`; the last of a repeated key wins; escapes.
    let m = p("@a=;b;a=2;c=x\\\\y\\r\\n\\z\\ PING");
    assert_eq!(m.tags.len(), 3);
    assert_eq!(m.tag("a"), Some("2"));
    assert_eq!(m.tag("b"), Some(""));
    assert_eq!(m.tag("c"), Some("x\\y\r\nz"));
}

#[test]
fn fifteen_params_at_most() {
    let line = format!("CMD {} rest of it", (1..=14).map(|i| i.to_string()).collect::<Vec<_>>().join(" "));
    let m = p(&line);
    assert_eq!(m.params.len(), 15);
    assert_eq!(m.params[14], "rest of it");
    let too_many = Message::new("CMD", vec!["x"; 16]);
    assert_eq!(too_many.to_line(), Err(WriteError::TooManyParams));
}

#[test]
fn refuses_what_is_not_a_message() {
    let e = |b: &[u8]| parse(b, Origin::Client).expect_err("refused");
    assert_eq!(e(b""), ParseError::Empty);
    assert_eq!(e(b"   \r\n"), ParseError::Empty);
    assert_eq!(e(b"PRIVMSG #a :\xff\xfe"), ParseError::InvalidUtf8);
    assert_eq!(e(b"PRIVMSG #a :a\0b"), ParseError::BadCharacter);
    assert_eq!(e(b"PRIVMSG #a :a\rb"), ParseError::BadCharacter);
    assert_eq!(e(b"12 x"), ParseError::BadCommand);
    assert_eq!(e(b"PRIV-MSG x"), ParseError::BadCommand);
    assert_eq!(e(b": PING"), ParseError::BadSource);
    assert_eq!(e(b":src"), ParseError::BadCommand);
    assert_eq!(e(b"@a=b"), ParseError::BadCommand);
    assert_eq!(e(b"@a$=b PING"), ParseError::BadTag);
    assert_eq!(e(b"@/a PING"), ParseError::BadTag);
}

#[test]
fn message_limit_is_512_bytes_with_crlf() {
    // `PRIVMSG #a :` is 12 bytes; 510 bytes fit, with CRLF 512.
    let fits = format!("PRIVMSG #a :{}", "x".repeat(510 - 12));
    assert_eq!(p(&fits).params[1].len(), 498);
    assert_eq!(p(&format!("{fits}\r\n")).params[1].len(), 498);
    let over = format!("{fits}x");
    assert_eq!(parse(over.as_bytes(), Origin::Client), Err(ParseError::TooLong));
    // 4 KiB line: refused with a typed error, not a panic.
    let big = format!("PRIVMSG #a :{}", "y".repeat(4096));
    assert_eq!(parse(big.as_bytes(), Origin::Server), Err(ParseError::TooLong));
    // Tags do not count against the 512.
    let tagged = format!("@k={} {fits}", "v".repeat(1000));
    assert!(parse(tagged.as_bytes(), Origin::Client).is_ok());
    // The writer keeps the same limit.
    // A text with a space: the writer adds the `:`, 12 + 498 + 2 = 512.
    let text = format!("{} ", "x".repeat(497));
    let m = Message::new("PRIVMSG", vec!["#a", &text]);
    assert_eq!(m.to_line().map(|l| l.len()), Ok(512));
    let long = format!("{text}x");
    assert_eq!(Message::new("PRIVMSG", vec!["#a", &long]).to_line(), Err(WriteError::TooLong));
}

#[test]
fn tag_limits() {
    // Client: tag data at most 4094 bytes.
    let data = |n: usize| format!("k={}", "v".repeat(n - 2));
    let line = |n: usize| format!("@{} PING x", data(n));
    assert!(parse(line(4094).as_bytes(), Origin::Client).is_ok());
    assert_eq!(parse(line(4095).as_bytes(), Origin::Client), Err(ParseError::TagsTooLong));
    // Server: the section (`@`, data, space) at most 8191 bytes.
    assert!(parse(line(4095).as_bytes(), Origin::Server).is_ok());
    assert!(parse(line(8189).as_bytes(), Origin::Server).is_ok());
    assert_eq!(parse(line(8190).as_bytes(), Origin::Server), Err(ParseError::TagsTooLong));
    let value = "v".repeat(8189 - 2);
    let ok = Message { tags: vec![Tag { key: "k", value: value.as_str().into() }], ..Message::new("PING", vec!["x"]) };
    assert!(ok.to_line().is_ok());
    let value = "v".repeat(8190 - 2);
    let over =
        Message { tags: vec![Tag { key: "k", value: value.as_str().into() }], ..Message::new("PING", vec!["x"]) };
    assert_eq!(over.to_line(), Err(WriteError::TooLong));
}

#[test]
fn writer_adds_a_colon_only_when_needed() {
    let w = |m: Message<'_>| String::from_utf8(m.to_line().expect("writes")).expect("utf8");
    assert_eq!(w(Message::new("JOIN", vec!["#a"])), "JOIN #a\r\n");
    assert_eq!(w(Message::new("PRIVMSG", vec!["#a", "hi there"])), "PRIVMSG #a :hi there\r\n");
    assert_eq!(w(Message::new("PRIVMSG", vec!["#a", ":)"])), "PRIVMSG #a ::)\r\n");
    assert_eq!(w(Message::new("TOPIC", vec!["#a", ""])), "TOPIC #a :\r\n");
    let m = Message {
        tags: vec![Tag { key: "time", value: "a b;c\\".into() }, Tag { key: "+x", value: "".into() }],
        source: Some("srv"),
        ..Message::new("001", vec!["bob", "Welcome"])
    };
    assert_eq!(w(m), "@time=a\\sb\\:c\\\\;+x :srv 001 bob Welcome\r\n");
    let bad = |m: Message<'_>| m.to_line().expect_err("refused");
    assert_eq!(bad(Message::new("PRIVMSG", vec!["a b", "x"])), WriteError::Invalid("middle parameter"));
    assert_eq!(bad(Message::new("PRIVMSG", vec!["", "x"])), WriteError::Invalid("middle parameter"));
    assert_eq!(bad(Message::new("PRIVMSG", vec!["#a", "x\ny"])), WriteError::Invalid("parameter"));
    assert_eq!(bad(Message::new("1234", vec![])), WriteError::Invalid("command"));
    assert_eq!(bad(Message { source: Some("a b"), ..Message::new("X", vec![]) }), WriteError::Invalid("source"));
    let mut out = b"keep".to_vec();
    assert!(Message::new("", vec![]).write(&mut out).is_err());
    assert_eq!(out, b"keep", "a failed write leaves the buffer as it was");
}

/// An owned message for the property tests.
#[derive(Debug, Clone)]
struct Owned {
    tags: Vec<(String, String)>,
    source: Option<String>,
    command: String,
    params: Vec<String>,
    last: Option<String>,
}

impl Owned {
    fn message(&self) -> Message<'_> {
        let mut params: Vec<&str> = self.params.iter().map(String::as_str).collect();
        params.extend(self.last.as_deref());
        Message {
            tags: self.tags.iter().map(|(k, v)| Tag { key: k, value: v.as_str().into() }).collect(),
            source: self.source.as_deref(),
            command: &self.command,
            params,
        }
    }
}

fn text() -> impl Strategy<Value = String> {
    // Anything but CR, LF, NUL: spaces, `:`, `;`, `\`, `@` and non-ASCII included.
    proptest::string::string_regex("[^\r\n\0]{0,40}").expect("regex")
}

fn owned() -> impl Strategy<Value = Owned> {
    let key = "\\+?([a-z0-9.-]{1,8}/)?[A-Za-z0-9-]{1,10}";
    let tags = proptest::collection::btree_map(key, text(), 0..4).prop_map(|m| m.into_iter().collect::<Vec<_>>());
    let source = proptest::option::of("[^ \r\n\0]{1,20}");
    let command = prop_oneof!["[A-Za-z]{1,10}", "[0-9]{3}"];
    let middle = "[^ :\r\n\0][^ \r\n\0]{0,6}";
    let params = proptest::collection::vec(middle, 0..=14);
    (tags, source, command, params, proptest::option::of(text()))
        .prop_map(|(tags, source, command, params, last)| Owned { tags, source, command, params, last })
}

proptest! {
    #[test]
    fn parse_inverts_write(o in owned()) {
        let m = o.message();
        let line = match m.to_line() {
            Err(WriteError::TooLong) => {
                // Only when it really is: non-ASCII text is up to 4 bytes a character.
                let size: usize = o.source.as_ref().map_or(0, |s| s.len() + 2) + o.command.len()
                    + o.params.iter().map(|p| p.len() + 1).sum::<usize>() + o.last.as_ref().map_or(0, |l| l.len() + 2);
                prop_assert!(size + 2 > MAX_MESSAGE);
                return Ok(());
            }
            other => other.expect("small messages write"),
        };
        let back = parse(&line, Origin::Client).expect("written lines parse");
        prop_assert_eq!(back, m);
    }

    #[test]
    fn tag_escaping_round_trips(v in any::<String>()) {
        let mut out = Vec::new();
        escape_value(&v, &mut out);
        prop_assert!(!out.iter().any(|b| matches!(b, b' ' | b';' | b'\r' | b'\n')));
        let escaped = String::from_utf8(out).expect("utf8 in, utf8 out");
        prop_assert_eq!(unescape_value(&escaped), v.as_str());
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse(&bytes, Origin::Client);
        let _ = parse(&bytes, Origin::Server);
    }
}
