//! IRC members on `sockit chat serve`, by hand over std TCP: registration
//! and CAP negotiation, each capability's effect, IRC, nc and WebSocket
//! members in one room, topics, kicks, bans, channel modes, and the bounds
//! (slow reader, flood pacing, long and invalid lines, PING timeout). The
//! error numerics are in irc_errors.rs.
#![allow(clippy::unwrap_used)]

mod chat_support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use chat_support::irc::{serve_irc, Irc};
use chat_support::ws::{ws_join, WsMember};
use chat_support::Member;
use sockit_testkit::{bin, Sockit};

/// `127.0.0.1:PORT` as IRC clients see it.
fn irc_form(m: &Member) -> String {
    let port = m.local_port();
    format!("_127-0-0-1-{port}")
}

#[test]
fn registration_with_cap_negotiation() {
    let s = serve_irc(&[], 0);
    let addr = s.addr("irc");
    let mut c = Irc::connect(addr);
    // Before registration: CAP, PASS (ignored), PING answered; the rest 451.
    c.send("CAP LS 302");
    c.send("PASS whatever");
    c.send("NICK alice");
    c.send("USER al 0 * :Alice Example");
    assert_eq!(
        c.expect(" LS "),
        ":irc.sockit CAP * LS :server-time message-tags echo-message multi-prefix away-notify cap-notify"
    );
    c.send("JOIN #dev");
    c.expect(" 451 alice :You have not registered");
    c.send("PING :early");
    c.expect("PONG irc.sockit :early");
    c.send("CAP REQ :server-time multi-prefix");
    c.expect("CAP alice ACK :server-time multi-prefix");
    c.send("CAP REQ :sasl");
    c.expect("CAP alice NAK :sasl");
    assert!(!c.drain(Duration::from_millis(300)).iter().any(|l| l.contains(" 001 ")), "held until CAP END");
    c.send("CAP END");
    let welcome = c.expect(" 001 ");
    assert_eq!(welcome, ":irc.sockit 001 alice :Welcome to the sockit IRC network, alice!al@127.0.0.1");
    for code in ["002", "003", "004"] {
        c.expect(&format!(" {code} alice "));
    }
    let isupport = c.expect(" 005 alice ");
    for token in ["CHANTYPES=#", "PREFIX=(ov)@+", "CASEMAPPING=ascii", "CHANLIMIT=#:20", "NICKLEN=32", "NETWORK=sockit"]
    {
        assert!(isupport.contains(token), "{token} in {isupport}");
    }
    c.expect(" 005 alice UTF8ONLY ");
    for code in ["251", "252", "254", "255", "265", "266", "375", "372", "376"] {
        c.expect(&format!(" {code} alice "));
    }
    // CAP after registration: LIST and a change, no hold.
    c.send("CAP LIST");
    c.expect("CAP alice LIST :server-time multi-prefix cap-notify");
    c.send("CAP REQ :echo-message");
    c.expect("CAP alice ACK :echo-message");
    c.send("LUSERS");
    c.expect(" 251 alice :There are 1 users");
    c.send("MOTD");
    c.expect(" 376 alice ");
    c.send("QUIT :done");
    c.expect("ERROR :Closing Link: 127.0.0.1 (Quit: done)");
    c.expect("<EOF>");
}

#[test]
fn irc_nc_and_websocket_members_share_a_room() {
    let s = Sockit::start(
        &bin(),
        &["chat", "serve", "--port", "0", "--web-port", "0", "--irc-port", "0", "--no-history"],
        4,
    );
    let mut nc = Member::join(s.addr("tcp"), "");
    let nc_irc = irc_form(&nc);
    let mut ws = ws_join(s.addr("http"));
    ws.event("joined lobby");
    ws.say("/nick web");
    nc.expect("is now known as web");
    let mut alice = Irc::join(s.addr("irc"), "alice", "");
    let mut bob = Irc::join(s.addr("irc"), "bob", "");
    // An IRC member starts in no channel; #lobby is where the others are.
    let names = alice.join_channel("#lobby").join(" ");
    assert!(names.contains(&nc_irc) && names.contains("web") && names.contains("alice"), "{names}");
    assert!(!names.contains("127.0.0.1:"), "other members in their IRC-safe form: {names}");
    nc.expect("alice joined lobby");
    bob.send("JOIN #LOBBY");
    bob.expect(" 366 bob #lobby ");
    alice.expect(":bob!bob@127.0.0.1 JOIN #lobby");
    // nc → IRC and WebSocket.
    nc.send("hello from nc");
    assert_eq!(alice.expect("hello from nc"), format!(":{nc_irc}!tcp@127.0.0.1 PRIVMSG #lobby :hello from nc"));
    ws.event("hello from nc");
    // IRC → nc, WebSocket and the other IRC member.
    alice.send("PRIVMSG #lobby :hi from irc");
    assert_eq!(nc.expect("hi from irc"), "<alice> hi from irc");
    assert_eq!(ws.event("hi from irc")["from"], "alice");
    bob.expect(":alice!alice@127.0.0.1 PRIVMSG #lobby :hi from irc");
    // WebSocket → IRC.
    ws.say("from the browser");
    bob.expect(":web!ws@127.0.0.1 PRIVMSG #lobby :from the browser");
    // ACTION ↔ /me, both ways.
    alice.send("PRIVMSG #lobby :\x01ACTION waves\x01");
    assert_eq!(nc.expect("waves"), "* alice waves");
    nc.send("/me nods");
    bob.expect(&format!(":{nc_irc}!tcp@127.0.0.1 PRIVMSG #lobby :\x01ACTION nods\x01"));
    // Private messages by the IRC-safe form, and back.
    bob.send(&format!("PRIVMSG {nc_irc} :psst"));
    assert_eq!(nc.expect("psst"), format!("<bob -> 127.0.0.1:{}> psst", nc.local_port()));
    nc.send("/msg bob hush");
    bob.expect(&format!(":{nc_irc}!tcp@127.0.0.1 PRIVMSG bob :hush"));
    // WHOIS and WHO accept and show the IRC-safe form.
    bob.send(&format!("WHOIS {nc_irc}"));
    bob.expect(&format!(" 311 bob {nc_irc} tcp 127.0.0.1 * :"));
    bob.expect(&format!(" 312 bob {nc_irc} irc.sockit :sockit chat (connected by tcp)"));
    bob.expect(" 318 bob ");
    bob.send("WHO #lobby");
    let who: Vec<String> = bob.until_sync().into_iter().filter(|l| l.contains(" 352 ")).collect();
    assert_eq!(who.len(), 4, "{who:?}");
    assert!(who.iter().any(|l| l.contains(&format!(" {nc_irc} H :0"))), "{who:?}");
    // A nick change reaches everyone.
    alice.send("NICK al");
    bob.expect(":alice!alice@127.0.0.1 NICK :al");
    alice.expect(":alice!alice@127.0.0.1 NICK :al");
    nc.expect("alice is now known as al");
    // A long nc line reaches IRC split into lines that fit.
    let long: String = (0..300).map(|i| format!("w{i} ")).collect();
    nc.send(long.trim_end());
    let mut got: Vec<String> = Vec::new();
    while !got.last().is_some_and(|l| l.ends_with("w299")) {
        let l = bob.expect("PRIVMSG #lobby :w");
        assert!(l.len() + 2 <= 512, "{}", l.len());
        got.push(l.split_once(" :").unwrap().1.to_owned());
    }
    assert!(got.len() >= 3, "{got:?}");
    assert_eq!(got.join(" "), long.trim_end(), "split at spaces");
    // Quitting: the others see why.
    bob.send("QUIT :gone fishing");
    alice.expect(":bob!bob@127.0.0.1 QUIT :Quit: gone fishing");
    nc.expect("bob left (Quit: gone fishing)");
}

#[test]
fn each_capability_changes_what_a_client_gets() {
    let s = serve_irc(&[], 0);
    let addr = s.addr("irc");
    let mut all = Irc::join(addr, "all", "server-time message-tags echo-message multi-prefix away-notify");
    let mut plain = Irc::join(addr, "plain", "");
    let mut nc = Member::join(s.addr("tcp"), "ncm");
    nc.send("/join dev");
    nc.expect("joined dev");
    all.join_channel("#dev");
    plain.join_channel("#dev");
    // server-time on one, not the other; echo-message only to its sender.
    all.send("PRIVMSG #dev :timed");
    let echoed = all.expect("PRIVMSG #dev :timed");
    assert!(echoed.starts_with("@time=") && echoed.contains("Z :all!all@127.0.0.1 PRIVMSG"), "{echoed}");
    assert_eq!(plain.expect("timed"), ":all!all@127.0.0.1 PRIVMSG #dev :timed");
    plain.send("PRIVMSG #dev :no echo");
    all.expect("no echo");
    assert!(!plain.until_sync().iter().any(|l| l.contains("no echo")), "no echo without echo-message");
    // message-tags: client tags to those who asked, TAGMSG to them only.
    let mut tags = Irc::join(addr, "tags", "message-tags");
    tags.join_channel("#dev");
    all.send("@+draft/react=yes;+x=a\\sb PRIVMSG #dev :tagged");
    assert_eq!(tags.expect(":tagged"), "@+draft/react=yes;+x=a\\sb :all!all@127.0.0.1 PRIVMSG #dev :tagged");
    assert_eq!(plain.expect(":tagged"), ":all!all@127.0.0.1 PRIVMSG #dev :tagged");
    assert_eq!(nc.expect("tagged"), "[dev] <all> tagged");
    all.send("@+typing=active TAGMSG #dev");
    assert_eq!(tags.expect("TAGMSG"), "@+typing=active :all!all@127.0.0.1 TAGMSG #dev");
    assert!(!plain.until_sync().iter().any(|l| l.contains("TAGMSG")));
    nc.send("/who");
    assert!(nc.expect("members of").contains("ncm"), "no empty line reached the nc member first");
    // multi-prefix: `@+` for an op with voice.
    let mut op = Irc::join(addr, "op", "");
    op.join_channel("#fresh");
    op.send("MODE #fresh +v op");
    op.expect("MODE #fresh +v op");
    all.send("NAMES #fresh");
    assert!(all.expect(" 353 all = #fresh ").ends_with(":@+op"));
    plain.send("NAMES #fresh");
    assert!(plain.expect(" 353 plain = #fresh ").ends_with(":@op"));
    all.send("WHO #fresh");
    all.expect(" 352 all #fresh op 127.0.0.1 irc.sockit op H@+ :0 op real");
    // away-notify: AWAY lines to those who asked; 301 and WHO's G for all.
    plain.send("AWAY :lunch");
    plain.expect(" 306 plain ");
    all.expect(":plain!plain@127.0.0.1 AWAY :lunch");
    tags.send("PRIVMSG plain :are you there");
    tags.expect(" 301 tags plain :lunch");
    assert!(!tags.until_sync().iter().any(|l| l.contains(" AWAY ")), "no away-notify, no AWAY line");
    tags.send("WHO plain");
    tags.expect(" 352 tags #dev plain 127.0.0.1 irc.sockit plain G :0");
    plain.send("AWAY");
    plain.expect(" 305 plain ");
    all.expect(":plain!plain@127.0.0.1 AWAY");
}

#[test]
fn topics_kicks_bans_and_channel_modes() {
    let s = serve_irc(&[], 0);
    let addr = s.addr("irc");
    let mut op = Irc::join(addr, "op", "");
    let mut bob = Irc::join(addr, "bob", "");
    let mut nc = Member::join(s.addr("tcp"), "");
    let names = op.join_channel("#dev");
    assert!(names[0].ends_with(":@op"), "the creator is op: {names:?}");
    op.send("MODE #dev");
    op.expect(" 324 op #dev +nt");
    op.expect(" 329 op #dev ");
    // Topic: set by the op, told to all, shown to whoever joins.
    op.send("TOPIC #dev :Welcome, all");
    op.expect(":op!op@127.0.0.1 TOPIC #dev :Welcome, all");
    bob.send("JOIN #dev");
    bob.expect(" 332 bob #dev :Welcome, all");
    bob.expect(" 333 bob #dev op ");
    bob.expect(" 366 bob #dev ");
    nc.send("/join dev");
    nc.expect("topic of dev: Welcome, all");
    // +t: not bob; -t: bob too.
    bob.send("TOPIC #dev :mine");
    bob.expect(" 482 bob #dev :");
    op.send("MODE #dev -t");
    bob.expect(":op!op@127.0.0.1 MODE #dev -t");
    bob.send("TOPIC #dev :mine");
    op.expect(":bob!bob@127.0.0.1 TOPIC #dev :mine");
    assert!(nc.expect("set the topic").contains("bob set the topic of dev: mine"));
    // Kick: the nc member, by its IRC-safe form; it is told, all see it.
    let nc_irc = irc_form(&nc);
    op.send(&format!("KICK #dev {nc_irc} :out you go"));
    bob.expect(&format!(":op!op@127.0.0.1 KICK #dev {nc_irc} :out you go"));
    nc.expect("op kicked 127.0.0.1");
    // Ban by mask: bob leaves, is banned, cannot come back.
    op.send("MODE #dev +b bob!*@*");
    bob.expect("MODE #dev +b bob!*@*");
    op.send("KICK #dev bob");
    bob.expect(":op!op@127.0.0.1 KICK #dev bob :op");
    bob.send("JOIN #dev");
    bob.expect(" 474 bob #dev :");
    bob.send("PRIVMSG #dev :let me in");
    bob.expect(" 404 bob #dev :");
    op.send("MODE #dev b");
    op.expect(" 367 op #dev bob!*@* op ");
    op.expect(" 368 op #dev ");
    op.send("MODE #dev -b bob!*@*");
    op.expect("MODE #dev -b bob!*@*");
    // +i: only with an invitation.
    op.send("MODE #dev +i");
    op.expect("MODE #dev +i");
    bob.send("JOIN #dev");
    bob.expect(" 473 bob #dev :");
    op.send("INVITE bob #dev");
    op.expect(" 341 op bob #dev");
    bob.expect(":op!op@127.0.0.1 INVITE bob #dev");
    bob.join_channel("#dev");
    op.send("MODE #dev -i+k sesame");
    op.expect("MODE #dev -i+k");
    // +k: the key, or 475.
    let mut eve = Irc::join(addr, "eve", "");
    eve.send("JOIN #dev");
    eve.expect(" 475 eve #dev :");
    eve.send("JOIN #dev wrong");
    eve.expect(" 475 eve #dev :");
    eve.send("JOIN #dev sesame");
    eve.expect(" 366 eve #dev ");
    op.send("MODE #dev");
    op.expect(" 324 op #dev +nk sesame");
    // +l: full at the limit.
    op.send("MODE #dev -k+l 3");
    op.expect("MODE #dev -k+l 3");
    let mut dan = Irc::join(addr, "dan", "");
    dan.send("JOIN #dev");
    dan.expect(" 471 dan #dev :");
    // +m: voice to speak; +n: no outside messages (-n lets them in).
    op.send("MODE #dev +m");
    op.expect("MODE #dev +m");
    eve.send("PRIVMSG #dev :quiet?");
    eve.expect(" 404 eve #dev :");
    op.send("MODE #dev +v eve");
    eve.expect("MODE #dev +v eve");
    eve.send("PRIVMSG #dev :voiced");
    op.expect(":eve!eve@127.0.0.1 PRIVMSG #dev :voiced");
    op.send("MODE #dev -m");
    op.expect("MODE #dev -m");
    dan.send("PRIVMSG #dev :from outside");
    dan.expect(" 404 dan #dev :");
    op.send("MODE #dev -n");
    op.expect("MODE #dev -n");
    dan.send("PRIVMSG #dev :from outside");
    op.expect(":dan!dan@127.0.0.1 PRIVMSG #dev :from outside");
    // LIST shows it with its topic.
    dan.send("LIST");
    dan.expect(" 322 dan #dev 3 :mine");
    dan.expect(" 323 dan ");
    // PART and JOIN 0.
    eve.send("PART #dev :bye");
    op.expect(":eve!eve@127.0.0.1 PART #dev :bye");
    bob.join_channel("#other");
    bob.send("JOIN 0");
    op.expect(":bob!bob@127.0.0.1 PART #dev :Left all channels");
    bob.expect(":bob!bob@127.0.0.1 PART #other :Left all channels");
}

#[test]
fn ctcp_unknown_commands_and_bad_lines_leave_the_connection_and_room_up() {
    let s = serve_irc(&[], 0);
    let addr = s.addr("irc");
    let mut a = Irc::join(addr, "a", "");
    let mut b = Irc::join(addr, "b", "");
    a.join_channel("#dev");
    b.join_channel("#dev");
    // CTCP relayed as it is.
    a.send("PRIVMSG b :\x01VERSION\x01");
    b.expect(":a!a@127.0.0.1 PRIVMSG b :\x01VERSION\x01");
    b.send("NOTICE a :\x01VERSION sockit-test 1.0\x01");
    a.expect(":b!b@127.0.0.1 NOTICE a :\x01VERSION sockit-test 1.0\x01");
    // Unknown commands.
    a.send("FROBNICATE now");
    a.expect(" 421 a FROBNICATE :Unknown command");
    // A 4 KiB line (and a 10 KiB one): 417, then all goes on.
    a.send(&format!("PRIVMSG #dev :{}", "x".repeat(4096)));
    a.expect(" 417 a :Input line was too long");
    a.send(&format!("PRIVMSG #dev :{}", "y".repeat(10 * 1024)));
    a.expect(" 417 a :Input line was too long");
    // Invalid UTF-8.
    a.send_raw(b"PRIVMSG #dev :caf\xe9\r\n");
    a.expect("FAIL PRIVMSG INVALID_UTF8 :");
    // Controls that are not IRC formatting are escaped; colours are kept.
    a.send("PRIVMSG #dev :\x02bold\x02 \x1b[2J");
    b.expect(":a!a@127.0.0.1 PRIVMSG #dev :\x02bold\x02 \\x1b[2J");
    a.send("PRIVMSG #dev :still here");
    b.expect(":a!a@127.0.0.1 PRIVMSG #dev :still here");
    assert!(!b.lines.seen.iter().any(|l| l.contains("xxxx") || l.contains("caf")), "no bad line reached the room");
}

#[test]
fn a_reader_that_stops_is_cut_and_the_room_goes_on() {
    let s = serve_irc(
        &[
            "--flood-rate",
            "0",
            "--send-queue",
            "4096",
            "--send-backlog",
            "65536",
            "--send-timeout",
            "1",
            "--socket-buffer",
            "4096",
        ],
        0,
    );
    let addr = s.addr("irc");
    // The stalled member: a small receive buffer, and it never reads after joining.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&addr.into()).unwrap();
    let mut slow = TcpStream::from(sock);
    slow.write_all(b"NICK slow\r\nUSER slow 0 * :slow\r\nJOIN #dev\r\n").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(slow.try_clone().unwrap());
    let mut l = String::new();
    while !l.contains(" 366 slow #dev ") {
        l.clear();
        assert!(r.read_line(&mut l).unwrap() > 0, "closed before joining");
    }
    let mut watcher = Irc::join(addr, "watcher", "");
    watcher.join_channel("#dev");
    let mut talker = Member::join(s.addr("tcp"), "talker");
    talker.send("/join dev");
    talker.expect("joined dev");
    let line = "z".repeat(400);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut sent = 0;
    while !watcher.lines.seen.iter().any(|l| l.contains("QUIT :SendQ exceeded")) {
        assert!(Instant::now() < deadline, "slow member never cut");
        for _ in 0..50 {
            talker.send(&line);
            sent += 1;
        }
        watcher.drain(Duration::from_millis(100));
    }
    assert!(sent >= 50);
    drop(r);
    talker.send("after the cut");
    watcher.expect(":talker!tcp@127.0.0.1 PRIVMSG #dev :after the cut");
}

#[test]
fn floods_are_paced_not_dropped_and_join_bursts_are_not_slowed() {
    let s = serve_irc(&["--flood-burst", "5", "--flood-rate", "10"], 0);
    let addr = s.addr("irc");
    let mut a = Irc::join(addr, "a", "");
    let mut b = Irc::join(addr, "b", "");
    // A join burst: 15 channels, then MODE and WHO each (as irssi does): not paced.
    let start = Instant::now();
    let chans: Vec<String> = (0..15).map(|i| format!("#c{i}")).collect();
    a.send(&format!("JOIN {}", chans.join(",")));
    for c in &chans {
        a.send(&format!("MODE {c}"));
        a.send(&format!("WHO {c}"));
    }
    a.expect(" 315 a #c14 ");
    assert!(start.elapsed() < Duration::from_secs(2), "join burst took {:?}", start.elapsed());
    b.join_channel("#c0");
    // 25 messages at once: 5 go at once, the rest at 10/s, none lost.
    let start = Instant::now();
    let burst: String = (0..25).map(|i| format!("PRIVMSG #c0 :m{i}\r\n")).collect();
    a.send_raw(burst.as_bytes());
    for i in 0..25 {
        b.expect(&format!("PRIVMSG #c0 :m{i}"));
    }
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(1500), "not paced: {took:?}");
    assert!(took < Duration::from_secs(8), "{took:?}");
    a.send("PING :alive");
    a.expect("PONG irc.sockit :alive");
}

#[test]
fn silent_clients_are_pinged_then_timed_out() {
    let s = serve_irc(&["--irc-ping", "1"], 0);
    let addr = s.addr("irc");
    // Never registers.
    let mut idle = Irc::connect(addr);
    idle.expect("ERROR :Closing Link: 127.0.0.1 (Registration timed out)");
    // A text member watches (it has no PING to answer).
    let mut w = Member::join(s.addr("tcp"), "watch");
    let mut quiet = Irc::join(addr, "quiet", "");
    quiet.join_channel("#lobby");
    // Answering keeps it.
    for _ in 0..2 {
        quiet.expect("PING :irc.sockit");
        quiet.send("PONG :irc.sockit");
    }
    // Then it stops.
    quiet.expect("PING :irc.sockit");
    quiet.expect("ERROR :Closing Link: 127.0.0.1 (Ping timeout: 2 seconds)");
    quiet.expect("<EOF>");
    w.expect("quiet left (Ping timeout: 2 seconds)");
}

#[test]
fn up_and_tls_list_the_irc_listeners() {
    let s = Sockit::start(
        &bin(),
        &[
            "chat",
            "serve",
            "--port",
            "0",
            "--no-web",
            "--no-history",
            "--irc-port",
            "0",
            "--tls",
            "--tls-port",
            "0",
            "--irc-tls-port",
            "0",
        ],
        5,
    );
    let schemes: Vec<&str> = s.listening.iter().map(|(sch, _)| sch.as_str()).collect();
    assert_eq!(schemes, ["tcp", "udp", "tls", "irc", "ircs"]);
    let ircs = s.addr("ircs");
    // A TLS client registers like a plain one.
    sockit_testkit::need("openssl");
    let out = std::process::Command::new("openssl")
        .args(["s_client", "-quiet", "-connect", &ircs.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn();
    let mut child = out.unwrap();
    child.stdin.as_mut().unwrap().write_all(b"NICK tls\r\nUSER t 0 * :t\r\nWHOIS tls\r\nQUIT\r\n").unwrap();
    let done = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&done.stdout);
    assert!(text.contains(" 001 tls "), "{text}");
    assert!(text.contains("sockit chat (connected by ircs)"), "{text}");
}

#[test]
fn sockit_up_lists_the_irc_listener_with_a_try_it_command() {
    let s = Sockit::start(&bin(), &["up", "--any-port"], 2);
    assert!(s.wait_stderr("sockit is up", Duration::from_secs(20)), "no table:\n{}", s.stderr());
    let err = s.stderr();
    let row = err.lines().find(|l| l.starts_with("chat irc")).unwrap_or_else(|| panic!("no irc row:\n{err}"));
    assert!(row.contains("irc://127.0.0.1:") && row.contains("irssi -c 127.0.0.1 -p "), "{row}");
    let addr = row.split_whitespace().find_map(|w| w.strip_prefix("irc://")).unwrap().parse().unwrap();
    let mut c = Irc::join(addr, "upper", "");
    c.send("QUIT");
    c.expect("ERROR :Closing Link");
}

#[test]
fn who_replies_stop_at_a_thousand_lines() {
    let s = serve_irc(&["--max-per-ip", "2000", "--announce-limit", "10", "--flood-rate", "0"], 0);
    // 1,001 nc members in the lobby (connected, never reading: a few join
    // notices fit their socket buffers).
    let tcp = s.addr("tcp");
    let members: Vec<TcpStream> = (0..1001).map(|_| TcpStream::connect(tcp).unwrap()).collect();
    let mut c = Irc::join(s.addr("irc"), "counter", "");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        c.send("LUSERS");
        let l = c.expect(" 251 counter ");
        if l.contains("There are 1002 users") {
            break;
        }
        assert!(Instant::now() < deadline, "members did not all register: {l}");
        std::thread::sleep(Duration::from_millis(100));
    }
    c.send("WHO #lobby");
    let lines = c.until_sync();
    assert_eq!(lines.iter().filter(|l| l.contains(" 352 ")).count(), 1000, "WHO_MAX lines");
    assert!(lines.last().unwrap().contains(" 315 counter #lobby "));
    drop(members);
}
