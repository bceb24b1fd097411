//! Chat over UDP does not amplify: an address must prove it receives (a
//! cookie it echoes back) before it is a member; until then it gets only
//! small, rate-limited challenges, causes nothing for anyone else and uses
//! up nobody's limits. Even a member's one datagram has a bounded answer.
//! Real peers: std sockets bound on 127.0.0.x, and `nc -u` as a person uses it.
#![allow(clippy::unwrap_used)]

mod chat_support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chat_support::{serve, token_of, Member, Nc, Udp, WAIT};
use sockit_testkit::{bin, free_port, need, Sockit};

/// Most bytes a challenge may take (docs/protocol.md).
const CHALLENGE_MAX: usize = 80;

/// Before: one 13-byte `/history 1000` from an unproven address got every
/// stored message back (30 × 2 KB here, ≈8 MB with a full history), each
/// spoofed port was announced to the room and took a `--max-per-ip` slot.
/// After: 150 sources on 11 addresses get only challenges (at most 2 per
/// address at once), nobody sees them, and real members from the same
/// address still get in up to the limit — which is then enforced.
#[test]
fn unproven_sources_get_only_small_challenges() {
    let s = serve(&["--max-per-ip", "3", "--flood-rate", "0", "--udp-timeout", "30"]);
    let (tcp, udp) = (s.addr("tcp"), s.addr("udp"));
    let mut a = Member::join(tcp, "alice");
    let big = "x".repeat(2000);
    for i in 0..30 {
        a.send(&format!("m{i} {big}"));
    }
    // A real UDP member from the same address, proven.
    let real = Udp::new("127.0.0.1", udp);
    real.handshake("/nick realu");
    a.expect("is now known as realu");
    let _ = real.drain(Duration::from_millis(300));

    // The flood: 100 ports on 127.0.0.1 and 5 on each of 127.0.0.2-11.
    let mut peers = Vec::new();
    for _ in 0..100 {
        peers.push(Udp::new("127.0.0.1", udp));
    }
    for host in 2..=11 {
        for _ in 0..5 {
            peers.push(Udp::new(&format!("127.0.0.{host}"), udp));
        }
    }
    let requests: [&[u8]; 3] = [b"/history 1000", b"#ping#", b"hi"];
    let mut sent = 0usize;
    for p in &peers {
        for r in requests {
            p.send(r);
            sent += r.len();
        }
    }
    let t0 = Instant::now();
    let mut per_ip: HashMap<IpAddr, usize> = HashMap::new();
    let mut received = 0usize;
    let deadline = Instant::now() + Duration::from_millis(1500);
    let mut buf = vec![0u8; 65536];
    for p in &peers {
        p.sock.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    }
    while Instant::now() < deadline {
        for p in &peers {
            while let Ok(n) = p.sock.recv(&mut buf) {
                let d = String::from_utf8_lossy(&buf[..n]).to_string();
                assert!(d.contains("#join#") && token_of(&d).is_some(), "not a challenge: {d:?}");
                assert!(n <= CHALLENGE_MAX, "challenge of {n} bytes: {d:?}");
                *per_ip.entry(p.sock.local_addr().unwrap().ip()).or_default() += 1;
                received += n;
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    for (ip, n) in &per_ip {
        // Burst 2, then 0.5/s.
        assert!(*n as f64 <= 2.0 + 0.5 * secs + 1.0, "{ip} got {n} challenges in {secs:.1}s");
    }
    eprintln!("flood: sent {sent} bytes in {} datagrams, got {received} bytes back", peers.len() * 3);
    assert!(received <= sent, "amplified: sent {sent}, got {received}");

    // Nobody was told of the strangers, and they are not members.
    assert!(!real.drain(Duration::from_millis(300)).iter().any(|d| String::from_utf8_lossy(d).contains("joined")));
    a.send("/who");
    let who = a.expect("members of lobby");
    assert_eq!(who, "* members of lobby (2): alice, realu");
    // Two join notices: alice's own and realu's; none for the strangers.
    assert_eq!(a.lines.seen.iter().filter(|l| l.contains(" joined ")).count(), 2, "{:#?}", a.lines.seen);

    // --max-per-ip 3: the strangers hold no slot, so one more real member
    // from 127.0.0.1 gets in, and the one after is refused.
    let mut b = Member::join(tcp, "bob");
    b.send("/who");
    assert_eq!(b.expect("members of"), "* members of lobby (3): alice, bob, realu");
    let mut c = Member::connect(tcp);
    let refused = c.expect("too many");
    assert!(refused.ends_with("from 127.0.0.1: 3 is the limit per address"), "{refused}");
}

/// Before: a UDP member's `/history 1000` sent every stored message back,
/// one datagram each. After: at most the newest 20, with a notice saying so.
#[test]
fn member_history_over_udp_is_bounded() {
    let s = serve(&["--flood-rate", "0"]);
    let mut a = Member::join(s.addr("tcp"), "alice");
    for i in 0..50 {
        a.send(&format!("m{i}"));
    }
    let u = Udp::new("127.0.0.1", s.addr("udp"));
    u.handshake("/nick udpm");
    a.expect("is now known as udpm");
    let _ = u.drain(Duration::from_millis(300));
    u.send(b"/history 1000");
    let got: Vec<String> =
        u.drain(Duration::from_millis(1500)).iter().map(|d| String::from_utf8_lossy(d).to_string()).collect();
    let history: Vec<&String> = got.iter().filter(|d| d.starts_with("[history")).collect();
    eprintln!("/history 1000 over UDP: {} datagrams", got.len());
    assert_eq!(history.len(), 20, "{got:#?}");
    assert!(history[0].ends_with("<alice> m30\n") && history[19].ends_with("<alice> m49\n"), "{history:#?}");
    assert!(got[0].contains("over UDP /history gives the last 20"), "{got:#?}");
    assert!(got.len() <= 21);
}

/// A person with `nc -u`: the first line gets the challenge, which says
/// what to paste; after pasting they are in the room and talk.
#[test]
fn nc_user_joins_by_pasting_the_cookie() {
    need("nc");
    let s = serve(&[]);
    let udp = s.addr("udp");
    let mut a = Member::join(s.addr("tcp"), "alice");
    let mut nc = Command::new("nc")
        .args(["-u", &udp.ip().to_string(), &udp.port().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = nc.stdin.take().unwrap();
    let out = nc.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines() {
            let Ok(l) = l else { break };
            let _ = tx.send(l);
        }
    });
    stdin.write_all(b"hello?\n").unwrap();
    let challenge = lines.recv_timeout(WAIT).unwrap();
    assert!(challenge.starts_with("* to join, send: #join#"), "{challenge}");
    // The unproven line went nowhere.
    assert!(!a.drain(Duration::from_millis(300)).iter().any(|l| l.contains("hello?")));
    stdin.write_all(format!("{}\n", token_of(&challenge).unwrap()).as_bytes()).unwrap();
    let joined = a.expect("joined lobby");
    assert!(joined.starts_with("* 127.0.0.1:"), "{joined}");
    stdin.write_all(b"hello again\n").unwrap();
    assert!(a.expect("hello again").ends_with("> hello again"));
    a.send("hi nc");
    let deadline = Instant::now() + WAIT;
    loop {
        let l = lines.recv_timeout(deadline.saturating_duration_since(Instant::now())).unwrap();
        if l == "<alice> hi nc" {
            break;
        }
    }
    let _ = nc.kill();
    let _ = nc.wait();
}

/// `sockit chat join --udp` does the handshake by itself, and again when a
/// restarted server challenges it: it gets back in with its nick and talks.
#[test]
fn join_client_rejoins_a_restarted_server() {
    let port = free_port().to_string();
    let args = ["chat", "serve", "--no-irc", "--port", &port, "--no-web", "--no-history"];
    let s1 = Sockit::start(&bin(), &args, 2);
    let addr = s1.addr("udp");
    let mut m = Member::join(s1.addr("tcp"), "tcpm");
    let mut cli = Nc::program(&bin(), &["chat", "join", &addr.to_string(), "--udp", "--name", "ucli"]);
    m.expect("is now known as ucli");
    cli.send("before");
    m.expect("<ucli> before");
    assert!(s1.stop(WAIT).success());
    let s2 = Sockit::start(&bin(), &args, 2);
    let mut m2 = Member::join(s2.addr("tcp"), "tcpm2");
    // Its next heartbeat draws a challenge; it answers with its setup lines.
    m2.expect("is now known as ucli");
    cli.expect("joining again");
    cli.send("after restart");
    m2.expect("<ucli> after restart");
    m2.send("hello ucli");
    assert!(cli.expect("hello ucli").ends_with("<tcpm2> hello ucli"));
}
