//! `sockit chat serve` against real clients: nc, python3 raw TCP and UDP
//! sockets, std sockets, and `sockit chat join`.
#![allow(clippy::unwrap_used)]

mod chat_support;

use std::io::Read;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use chat_support::{serve, Member, Proc, WAIT};
use sockit_testkit::{bin, need, run_with_input, Sockit};

/// Two nc members and a python3 member that sends without newlines (one
/// message per send(), Chinese included) all see each other; /quit closes.
#[test]
fn nc_and_raw_python_members_exchange_messages() {
    need("nc");
    need("python3");
    let s = serve(&[]);
    let addr = s.addr("tcp");
    let nc = |_: &str| Proc::spawn(Command::new("nc").arg(addr.ip().to_string()).arg(addr.port().to_string()));
    let mut a = nc("a");
    a.expect("joined lobby");
    a.send("/nick ncA");
    a.expect("is now known as ncA");
    let mut b = nc("b");
    b.expect("joined lobby");
    b.send("/nick ncB");
    b.expect("is now known as ncB");
    let script = r#"
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.settimeout(0.2)
got = b""
def pump(secs):
    global got
    end = time.time() + secs
    while time.time() < end:
        try:
            d = s.recv(65536)
            if not d:
                return True
            got += d
        except socket.timeout:
            pass
    return False
s.sendall("/nick py".encode())
pump(0.5)
s.sendall("你好，世界 from py".encode())
end = time.time() + 8
while b"hello from ncA" not in got and time.time() < end:
    pump(0.2)
s.sendall(b"/quit")
closed = pump(5)
sys.stdout.write(got.decode("utf-8", "replace"))
print("CLOSED" if closed else "OPEN")
"#;
    let py = std::thread::spawn(move || {
        run_with_input(
            Command::new("python3").args(["-c", script, &addr.ip().to_string(), &addr.port().to_string()]),
            b"",
            Duration::from_secs(20),
        )
    });
    a.expect("is now known as py");
    assert_eq!(a.expect("from py"), "<py> 你好，世界 from py");
    assert_eq!(b.expect("from py"), "<py> 你好，世界 from py");
    a.send("hello from ncA 中文");
    assert_eq!(b.expect("hello from ncA"), "<ncA> hello from ncA 中文");
    let (status, out, _) = py.join().unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(status.success());
    assert!(out.contains("<ncA> hello from ncA 中文"), "{out}");
    assert!(out.contains("* bye"), "{out}");
    assert!(out.trim_end().ends_with("CLOSED"), "python member was not disconnected after /quit: {out}");
    a.expect("py left (quit)");
    // nc's /quit: the server says bye and closes the connection (nc itself
    // stays until its stdin ends, as nc does).
    b.send("/quit");
    b.expect("* bye");
    a.expect("ncB left (quit)");
}

/// A UDP python3 member with #ping# heartbeats and a TCP member see each
/// other; once the heartbeats stop, the member is dropped and the room told.
#[test]
fn udp_member_with_heartbeats_then_eviction() {
    need("python3");
    let s = serve(&["--udp-timeout", "1"]);
    let tcp = s.addr("tcp");
    let udp = s.addr("udp");
    assert_eq!(tcp.port(), udp.port());
    let mut t = Member::join(tcp, "tcpm");
    let script = r##"
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
addr = (sys.argv[1], int(sys.argv[2]))
s.settimeout(0.1)
got = []
def pump(secs):
    end = time.time() + secs
    while time.time() < end:
        s.sendto(b"#ping#", addr)
        try:
            while True:
                got.append(s.recvfrom(65536)[0].decode())
        except socket.timeout:
            pass
# The server proves our address first: it answers a stranger with a
# cookie, which we send back.
end = time.time() + 8
token = None
while token is None and time.time() < end:
    s.sendto(b"#ping#", addr)
    try:
        d = s.recvfrom(65536)[0].decode()
        if "#join#" in d:
            token = d[d.index("#join#"):].split(" ")[0]
    except socket.timeout:
        pass
s.sendto(token.encode() + b"\n/nick udpy\n", addr)
pump(0.3)
s.sendto("hi from udp 你好".encode(), addr)
# Longer than the 1 s timeout: the heartbeats keep us in.
end = time.time() + 8
while not any("hi from tcp" in g for g in got) and time.time() < end:
    pump(0.3)
pump(1.5)
print("".join(got))
"##;
    let py = std::thread::spawn(move || {
        run_with_input(
            Command::new("python3").args(["-c", script, &udp.ip().to_string(), &udp.port().to_string()]),
            b"",
            Duration::from_secs(20),
        )
    });
    t.expect("is now known as udpy");
    assert_eq!(t.expect("hi from udp"), "<udpy> hi from udp 你好");
    t.send("hi from tcp");
    let (status, out, _) = py.join().unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(status.success());
    assert!(out.contains("<tcpm> hi from tcp\n"), "{out}");
    assert!(!out.contains("timed out"), "evicted despite heartbeats: {out}");
    let t0 = Instant::now();
    t.expect("* udpy left (timed out)");
    assert!(t0.elapsed() < Duration::from_secs(5));
    // The room is still fine.
    let mut u = Member::join(tcp, "other");
    u.send("still here");
    t.expect("<other> still here");
}

/// Flood, over-long line, invalid UTF-8, unknown command, duplicate nick and
/// bad room name each get their `!` error; the connection and room survive.
#[test]
fn errors_are_reported_and_connection_survives() {
    let s = serve(&["--flood-burst", "5", "--flood-rate", "2", "--max-line", "1000"]);
    let addr = s.addr("tcp");
    let mut a = Member::join(addr, "alice");
    let mut b = Member::join(addr, "bob");
    a.expect("is now known as bob");

    let ok = |a: &mut Member, b: &mut Member, tag: &str| {
        std::thread::sleep(Duration::from_millis(600));
        a.send(&format!("still alive {tag}"));
        assert_eq!(b.expect(&format!("still alive {tag}")), format!("<alice> still alive {tag}"));
    };
    a.send(&"x".repeat(5000));
    assert_eq!(a.expect("line too long"), "! line too long (max 1000 bytes); it was dropped");
    ok(&mut a, &mut b, "1");
    a.send_raw(b"bad \xff\xfe bytes\n");
    assert!(a.expect("invalid UTF-8").starts_with("! invalid UTF-8"));
    ok(&mut a, &mut b, "2");
    a.send("/xyz");
    assert_eq!(a.expect("unknown command"), "! unknown command /xyz (try /help)");
    ok(&mut a, &mut b, "3");
    a.send("/nick BOB");
    assert_eq!(a.expect("taken"), "! nick BOB is taken");
    ok(&mut a, &mut b, "4");
    a.send("/join bad/room");
    assert!(a.expect("bad room name").starts_with("! bad room name \"bad/room\""));
    ok(&mut a, &mut b, "5");
    // Flood: a burst of 5 passes, the rest is refused with one warning.
    std::thread::sleep(Duration::from_millis(2600));
    let burst: String = (0..20).map(|i| format!("flood {i}\n")).collect();
    a.send_raw(burst.as_bytes());
    assert!(a.expect("slow down").starts_with("! slow down"));
    let got = b.drain(Duration::from_millis(400));
    let flood = got.iter().filter(|l| l.contains("flood")).count();
    assert!((5..=6).contains(&flood), "{flood} flood lines passed: {got:#?}");
    std::thread::sleep(Duration::from_millis(1500));
    ok(&mut a, &mut b, "6");
    // Control characters are escaped before they reach anyone.
    a.send("\x1b[2Jclear\x07");
    assert_eq!(b.expect("clear"), "<alice> \\x1b[2Jclear\\x07");
}

/// JSON mode: one object per line both ways; `/encoding gbk` transcodes.
#[test]
fn json_mode_and_gbk_encoding() {
    let s = serve(&[]);
    let addr = s.addr("tcp");
    let mut j = Member::join(addr, "jay");
    let mut g = Member::join(addr, "gee");
    j.send("/json");
    j.expect("json mode");
    j.send(r#"{"text":"hello \"json\" 你好"}"#);
    assert_eq!(g.expect("json"), "<jay> hello \"json\" 你好");
    g.send("back at you");
    let line = j.expect("back at you");
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["type"], "msg");
    assert_eq!(v["from"], "gee");
    assert_eq!(v["room"], "lobby");
    assert_eq!(v["text"], "back at you");
    assert!(v["ts"].as_i64().unwrap() > 1_600_000_000_000);
    j.send("not json");
    assert!(j.expect("invalid JSON").contains("\"type\":\"error\""));
    // GBK: 你好 is C4E3 BAC3.
    g.send("/encoding gbk");
    g.expect("encoding is now GBK");
    g.send_raw(b"\xc4\xe3\xba\xc3 gbk\n");
    assert!(j.expect("gbk").contains("你好 gbk"));
    j.send(r#"{"text":"你好 back"}"#);
    let mut raw = Vec::new();
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        // The reader thread decodes lossily; compare the GBK bytes instead.
        if let Some(l) = g.lines.next_within(Duration::from_millis(200)) {
            raw.push(l);
            if raw.last().unwrap().contains("back") {
                break;
            }
        }
    }
    let last = raw.last().unwrap();
    assert!(last.starts_with("<jay> ") && last.ends_with(" back") && !last.contains("你好"), "{raw:?}");
}

/// Rooms, /who, /rooms, /msg and /me. `/join` adds a room (it used to
/// move): `/part lobby` after it is what a move was.
#[test]
fn rooms_private_messages_and_actions() {
    let s = serve(&[]);
    let addr = s.addr("tcp");
    let mut a = Member::join(addr, "ann");
    let mut b = Member::join(addr, "ben");
    let mut c = Member::join(addr, "cat");
    a.send("/join #Dev");
    a.expect("* ann joined dev");
    a.send("/part lobby");
    b.expect("* ann left lobby");
    a.expect("* current room: dev");
    a.send("only dev hears this");
    c.send("/join dev");
    a.expect("cat joined dev");
    c.send("/part lobby");
    c.expect("current room: dev");
    c.send("/who");
    // ann made dev, so ann runs it.
    assert_eq!(c.expect("members of"), "* members of dev (2): @ann, cat");
    c.send("/rooms");
    assert_eq!(c.expect("rooms:"), "* rooms: dev (2), lobby (1)");
    b.send("/msg ANN psst");
    assert_eq!(a.expect("psst"), "<ben -> ann> psst");
    assert_eq!(b.expect("psst"), "<ben -> ann> psst");
    b.send("/msg nobody hi");
    b.expect("! no such nick nobody");
    a.send("/me waves");
    assert_eq!(c.expect("waves"), "* ann waves");
    // ben stayed in the lobby: he saw neither dev message.
    b.send("/who");
    b.expect("members of lobby (1)");
    assert!(!b.lines.seen.iter().any(|l| l.contains("only dev") || l.contains("waves")), "{:#?}", b.lines.seen);
}

/// History survives a restart; replay on join is marked; `/history 5`
/// returns the last five; shutdown tells members.
#[test]
fn history_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let db = db.to_str().unwrap();
    let s = Sockit::start(&bin(), &["chat", "serve", "--no-irc", "--port", "0", "--no-web", "--history", db], 2);
    let addr = s.addr("tcp");
    let mut a = Member::join(addr, "hist");
    let mut b = Member::join(addr, "");
    for i in 0..8 {
        a.send(&format!("message {i}"));
    }
    b.expect("message 7");
    let status = s.stop(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    a.expect("* server shutting down");
    a.expect("<EOF>");

    let s = Sockit::start(&bin(), &["chat", "serve", "--no-irc", "--port", "0", "--no-web", "--history", db], 2);
    let mut c = Member::join(s.addr("tcp"), "");
    // Replay (default 20) comes first, then the join notice.
    let mut replayed = c.lines.seen.clone();
    replayed.extend(c.drain(Duration::from_millis(300)));
    let hist: Vec<&String> = replayed.iter().filter(|l| l.starts_with("[history ")).collect();
    assert_eq!(hist.len(), 8, "{replayed:#?}");
    assert!(hist[0].ends_with("<hist> message 0") && hist[7].ends_with("<hist> message 7"), "{hist:#?}");
    c.send("/history 5");
    let mut last5 = Vec::new();
    for i in 3..8 {
        last5.push(c.expect(&format!("message {i}")));
    }
    assert!(last5.iter().all(|l| l.starts_with("[history ")));
    let more = c.drain(Duration::from_millis(300));
    assert!(!more.iter().any(|l| l.contains("message")), "{more:#?}");
}

/// kill -9 loses at most the last batch: messages sent a moment before the
/// crash are all there after a restart.
#[test]
fn kill_9_keeps_committed_history() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let db = db.to_str().unwrap();
    let s = Sockit::start(
        &bin(),
        &["chat", "serve", "--no-irc", "--port", "0", "--no-web", "--history", db, "--flood-rate", "0"],
        2,
    );
    let addr = s.addr("tcp");
    let mut a = Member::join(addr, "crash");
    let mut b = Member::join(addr, "");
    for i in 0..200 {
        a.send(&format!("before crash {i}"));
    }
    b.expect("before crash 199");
    std::thread::sleep(Duration::from_millis(200));
    s.kill();
    let s = Sockit::start(&bin(), &["chat", "serve", "--no-irc", "--port", "0", "--no-web", "--history", db], 2);
    let mut c = Member::join(s.addr("tcp"), "");
    c.send("/history 1000");
    for i in 0..200 {
        c.expect(&format!("before crash {i}"));
    }
}

/// Per-IP and total member limits refuse with a `!` line.
#[test]
fn member_limits_refuse_clearly() {
    let s = serve(&["--max-per-ip", "2"]);
    let addr = s.addr("tcp");
    let _a = Member::join(addr, "");
    let _b = Member::join(addr, "");
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    let mut text = String::new();
    let _ = c.read_to_string(&mut text);
    assert_eq!(text, "! too many connections from 127.0.0.1: 2 is the limit per address\n");
}

/// `sockit chat join` from a script: sends stdin lines, prints events plainly.
#[test]
fn join_client_plain_mode() {
    let s = serve(&[]);
    let addr = s.addr("tcp");
    let mut m = Member::join(addr, "tcpm");
    m.send("/join dev");
    m.expect("joined dev");
    let mut cli =
        Proc::spawn(Command::new(bin()).args(["chat", "join", &addr.to_string(), "--name", "cli", "--room", "dev"]));
    m.expect("cli joined dev");
    cli.send("hello from cli");
    // tcpm is in the lobby and dev: lines of either say which.
    assert_eq!(m.expect("hello from cli"), "[dev] <cli> hello from cli");
    m.send("hi cli 你好");
    let line = cli.expect("hi cli");
    assert!(line.ends_with(" <tcpm> hi cli 你好"), "{line}");
    assert!(!line.contains('\x1b'), "colour on a pipe: {line:?}");
    drop(cli.child.stdin.take());
    assert!(cli.wait_exit(WAIT).success());
    m.expect("cli left (quit)");
}

/// `sockit chat join --udp`: heartbeats keep it in past the timeout.
#[test]
fn join_client_udp() {
    let s = serve(&["--udp-timeout", "3"]);
    let addr = s.addr("udp");
    let mut m = Member::join(s.addr("tcp"), "tcpm");
    let mut cli = Proc::spawn(Command::new(bin()).args(["chat", "join", &addr.to_string(), "--udp", "--name", "ucli"]));
    m.expect("is now known as ucli");
    // Longer than the timeout: only the client's heartbeats keep it in.
    std::thread::sleep(Duration::from_millis(4500));
    cli.send("over udp");
    assert_eq!(m.expect("over udp"), "<ucli> over udp");
    m.send("to udp");
    assert!(cli.expect("to udp").ends_with("<tcpm> to udp"));
    assert!(!m.lines.seen.iter().any(|l| l.contains("timed out")), "{:#?}", m.lines.seen);
    drop(cli.child.stdin.take());
    assert!(cli.wait_exit(WAIT).success());
    m.expect("ucli left (quit)");
}

/// The client reconnects with backoff when the server restarts, and gets
/// its nick and room back.
#[test]
fn join_client_reconnects_after_restart() {
    let port = sockit_testkit::free_port().to_string();
    let args = ["chat", "serve", "--no-irc", "--port", port.as_str(), "--no-web", "--no-history"];
    let s = Sockit::start(&bin(), &args, 2);
    let addr = s.addr("tcp");
    let mut cli = Proc::spawn(Command::new(bin()).args([
        "chat",
        "join",
        &addr.to_string(),
        "--name",
        "phoenix",
        "--room",
        "ash",
    ]));
    let mut m = Member::join(addr, "watcher");
    m.send("/join ash");
    m.expect("joined ash");
    // The client is in before the restart (its first connect may need a
    // retry on a busy machine).
    wait_for_member(&mut m, "ash", "phoenix", || format!("the client did not join: {:#?}", cli.lines.seen));
    assert!(s.stop(WAIT).success());
    cli.expect("server shutting down");
    cli.expect("disconnected");
    let s = Sockit::start(&bin(), &args, 2);
    let mut m = Member::join(s.addr("tcp"), "watcher");
    m.send("/join ash");
    m.expect("joined ash");
    wait_for_member(&mut m, "ash", "phoenix", || format!("the client did not come back: {:#?}", cli.lines.seen));
    cli.expect("reconnected");
    cli.send("back again");
    assert_eq!(m.expect("back again"), "[ash] <phoenix> back again", "the watcher is in lobby and ash");
}

/// Asks `/who` until `nick` is among the members of `room` (within [`WAIT`]).
fn wait_for_member(m: &mut Member, room: &str, nick: &str, why: impl Fn() -> String) {
    let deadline = Instant::now() + WAIT;
    loop {
        m.send("/who");
        if m.expect(&format!("members of {room}")).contains(nick) {
            return;
        }
        assert!(Instant::now() < deadline, "{}", why());
        std::thread::sleep(Duration::from_millis(100));
    }
}
