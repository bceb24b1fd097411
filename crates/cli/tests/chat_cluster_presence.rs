//! Nicks, presence and private messages across chat nodes sharing one
//! real redis-server (issue #18, part 2), each test with its own
//! redis-server on a private loopback port.

mod chat_support;

use std::time::{Duration, Instant};

use chat_support::Member;
use sockit_testkit::redis::{RedisServer, Reply};
use sockit_testkit::{bin, Sockit};

/// A chat node of the cluster at `redis` (TCP+UDP on port 0, no web, no IRC).
fn node(redis: &str) -> Sockit {
    node_with(redis, &[])
}

/// [`node`] with `extra` flags.
fn node_with(redis: &str, extra: &[&str]) -> Sockit {
    let mut args = vec!["chat", "serve", "--no-irc", "--no-web", "--no-history", "--port", "0", "--redis", redis];
    args.extend_from_slice(extra);
    Sockit::start(&bin(), &args, 2)
}

/// Asks `/who` until its answer satisfies `ok` (at most `within`, one
/// question a second); returns the last answer and when it came.
fn who_until(m: &mut Member, within: Duration, ok: impl Fn(&str) -> bool) -> (String, Instant) {
    let deadline = Instant::now() + within;
    loop {
        m.send("/who");
        let line = m.expect("members of lobby");
        if ok(&line) || Instant::now() >= deadline {
            return (line, Instant::now());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Sends `ask` until the next line is `want` (at most `within`); the
/// test fails with what came instead.
fn ask_until(m: &mut Member, ask: &str, want: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        m.send(ask);
        if m.lines.next_within(Duration::from_secs(5)).is_some_and(|l| l == want) {
            return;
        }
        assert!(Instant::now() < deadline, "no {want:?} for {ask:?} within {within:?}: {:#?}", m.lines.seen);
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// What became of one member's `/nick wanted`: `Some(true)` it got it,
/// `Some(false)` refused as taken, `None` neither within the wait.
fn nick_outcome(m: &mut Member, was: &str, wanted: &str) -> Option<bool> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Some(line) = m.lines.next_within(deadline.saturating_duration_since(Instant::now())) {
        if line == format!("* {was} is now known as {wanted}") {
            return Some(true);
        }
        if line.starts_with("! ") && line.contains(&format!("nick {wanted} is taken")) {
            return Some(false);
        }
    }
    None
}

#[test]
fn two_nodes_racing_for_one_nick_exactly_one_wins_each_time() {
    let redis = RedisServer::start();
    // 100 renames each: past flood control's burst.
    let (a, b) = (node_with(&redis.url(), &["--flood-rate", "0"]), node_with(&redis.url(), &["--flood-rate", "0"]));
    let mut ann = Member::join(a.addr("tcp"), "ann");
    let mut bob = Member::join(b.addr("tcp"), "bob");
    let (mut ann_nick, mut bob_nick) = ("ann".to_string(), "bob".to_string());
    let mut wins = [0, 0];
    for i in 0..100 {
        let wanted = format!("race{i}");
        // Back to back, the first sender alternating.
        if i % 2 == 0 {
            ann.send(&format!("/nick {wanted}"));
            bob.send(&format!("/nick {wanted}"));
        } else {
            bob.send(&format!("/nick {wanted}"));
            ann.send(&format!("/nick {wanted}"));
        }
        let got_a = nick_outcome(&mut ann, &ann_nick, &wanted);
        let got_b = nick_outcome(&mut bob, &bob_nick, &wanted);
        match (got_a, got_b) {
            (Some(true), Some(false)) => {
                wins[0] += 1;
                ann_nick = wanted;
            }
            (Some(false), Some(true)) => {
                wins[1] += 1;
                bob_nick = wanted;
            }
            other => panic!("round {i}: {other:?}; ann saw {:#?}, bob saw {:#?}", ann.lines.seen, bob.lines.seen),
        }
    }
    assert_eq!(wins[0] + wins[1], 100);
    // One claim per member is left in Redis: the old nicks were given back.
    let mut left = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        left = claims(&redis, "sockit:nick:race*");
        if left.len() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    left.sort();
    let mut want = vec![format!("sockit:nick:{ann_nick}"), format!("sockit:nick:{bob_nick}")];
    want.sort();
    assert_eq!(left, want);
}

/// The keys matching `pattern`.
fn claims(redis: &RedisServer, pattern: &str) -> Vec<String> {
    match redis.command(&["KEYS", pattern]) {
        Reply::Array(Some(keys)) => keys.iter().filter_map(Reply::text).collect(),
        other => panic!("KEYS answered {other:?}"),
    }
}

#[test]
fn a_node_killed_with_sigkill_has_its_members_vanish_from_who_within_30_s() {
    let redis = RedisServer::start();
    let (a, b) = (node(&redis.url()), node(&redis.url()));
    let mut ann = Member::join(a.addr("tcp"), "ann");
    let mut bob = Member::join(b.addr("tcp"), "bob");
    let _cat = Member::join(b.addr("tcp"), "cat");
    // Both nodes' members are counted on each node.
    let (line, _) = who_until(&mut ann, Duration::from_secs(10), |l| l.contains("bob") && l.contains("cat"));
    assert!(line.contains("members of lobby (3)"), "{line}");
    let (line, _) = who_until(&mut bob, Duration::from_secs(10), |l| l.contains("ann"));
    assert!(line.contains("members of lobby (3)"), "{line}");
    ann.send("/rooms");
    ann.expect("lobby (3)");

    b.kill();
    let killed = Instant::now();
    let (line, at) = who_until(&mut ann, Duration::from_secs(45), |l| !l.contains("bob") && !l.contains("cat"));
    assert!(!line.contains("bob") && !line.contains("cat"), "still listed 45 s after kill -9: {line}");
    assert!(line.contains("members of lobby (1)"), "{line}");
    assert!(at.duration_since(killed) <= Duration::from_secs(32), "took {:?}", at.duration_since(killed));
    // The node that stayed is up and serves; the dead node's nicks are free.
    ann.send("/rooms");
    ann.expect("lobby (1)");
    let _bob_again = Member::join(a.addr("tcp"), "bob");
}

#[test]
fn a_private_message_reaches_a_member_on_another_node() {
    let redis = RedisServer::start();
    let (a, b) = (node(&redis.url()), node(&redis.url()));
    let mut ann = Member::join(a.addr("tcp"), "ann");
    let mut bob = Member::join(b.addr("tcp"), "bob");
    ann.send("/msg bob psst, over here");
    ann.expect("<ann -> bob> psst, over here");
    bob.expect("<ann -> bob> psst, over here");
    bob.send("/msg ANN got it");
    bob.expect("<bob -> ANN> got it");
    ann.expect("<bob -> ann> got it");
    ann.send("/msg nobody hello?");
    ann.expect("! no such nick nobody");
    // Control characters are escaped on the way, as on one node.
    ann.send("/msg bob bell\x07");
    bob.expect("<ann -> bob> bell\\x07");
}

#[test]
fn new_nicks_are_refused_while_redis_is_stopped_and_accepted_again_after() {
    let mut redis = RedisServer::start();
    let (a, b) = (node(&redis.url()), node(&redis.url()));
    let mut ann = Member::join(a.addr("tcp"), "ann");
    let _bob = Member::join(b.addr("tcp"), "bob");
    who_until(&mut ann, Duration::from_secs(10), |l| l.contains("bob"));
    redis.stop();
    ann.send("/msg bob are you there?");
    ann.expect("! not delivered: the cluster is unreachable");
    ann.send("/nick zed");
    ann.expect("! nick zed cannot be taken now: the chat cluster is unreachable; try again later");
    // A new member needs a nick too: it is told why and let go.
    let mut late = Member::connect(a.addr("tcp"));
    late.expect("the chat cluster is unreachable");
    late.expect("<EOF>");
    // The member that was there stays, with its nick.
    ann.send("/who");
    ann.expect("members of lobby (1): ann");
    ann.send("/rooms");
    ann.expect("rooms: lobby (1)");

    redis.start_again();
    ask_until(&mut ann, "/nick zed", "* ann is now known as zed", Duration::from_secs(20));
    let _late = Member::join(a.addr("tcp"), "");
    // Redis came back empty: within a heartbeat the other node's members
    // and claims are there again.
    let (line, _) = who_until(&mut ann, Duration::from_secs(15), |l| l.contains("bob"));
    assert!(line.contains("bob"), "bob not back 15 s after Redis: {line}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while claims(&redis, "sockit:nick:bob").is_empty() {
        assert!(Instant::now() < deadline, "bob's claim was not taken again");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn irc_names_who_list_and_privmsg_count_and_reach_other_nodes() {
    let redis = RedisServer::start();
    let a = chat_support::irc::serve_irc(&["--redis", &redis.url()], 0);
    let b = node(&redis.url());
    let mut bob = Member::join(b.addr("tcp"), "bob");
    let mut ann = chat_support::irc::Irc::join(a.addr("irc"), "ann", "");
    ann.join_channel("#lobby");
    // bob (on the other node) is in #lobby's names, WHO and LIST.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        ann.send("NAMES #lobby");
        let line = ann.expect(" 353 ");
        if line.contains("bob") {
            assert!(line.contains("ann"), "{line}");
            break;
        }
        assert!(Instant::now() < deadline, "bob never listed: {line}");
        std::thread::sleep(Duration::from_millis(200));
    }
    ann.send("WHO #lobby");
    ann.expect(" 352 ann #lobby tcp 127.0.0.1 irc.sockit bob H ");
    ann.expect(" 315 ");
    ann.send("LIST");
    ann.expect(" 322 ann #lobby 2 ");
    // Private messages both ways.
    ann.send("PRIVMSG bob :hello from irc");
    bob.expect("<ann -> bob> hello from irc");
    bob.send("/msg ann hello from tcp");
    ann.expect("PRIVMSG ann :hello from tcp");
    // A nick held on the other node is refused at registration (433).
    let mut dup = chat_support::irc::Irc::connect(a.addr("irc"));
    dup.send("NICK bob");
    dup.send("USER bob 0 * :bob");
    dup.expect(" 433 ");
}

#[test]
fn a_node_stopped_cleanly_takes_its_members_and_nicks_out_at_once() {
    let redis = RedisServer::start();
    let (a, b) = (node(&redis.url()), node(&redis.url()));
    let mut ann = Member::join(a.addr("tcp"), "ann");
    let _bob = Member::join(b.addr("tcp"), "bob");
    who_until(&mut ann, Duration::from_secs(10), |l| l.contains("bob"));
    let status = b.stop(Duration::from_secs(10));
    assert!(status.success(), "{status}");
    let (line, _) = who_until(&mut ann, Duration::from_secs(5), |l| !l.contains("bob"));
    assert!(line.contains("members of lobby (1): ann"), "{line}");
    assert!(claims(&redis, "sockit:nick:bob").is_empty(), "bob's claim was given back");
    let _bob_here = Member::join(a.addr("tcp"), "bob");
}

#[test]
fn a_default_nick_another_node_holds_gets_a_suffix() {
    let redis = RedisServer::start();
    let a = node(&redis.url());
    // One client port may reach two nodes: its `ip:port` is then held
    // elsewhere already (here by a made-up node).
    let port = sockit_testkit::free_port();
    let held = format!("sockit:nick:127.0.0.1:{port}");
    redis.command(&["SET", &held, "0123456789abcdef", "PX", "60000"]);
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into()).unwrap();
    sock.connect(&a.addr("tcp").into()).unwrap();
    let stream: std::net::TcpStream = sock.into();
    let mut m = Member::from_stream(stream);
    m.expect(&format!("127.0.0.1:{port}-2 joined lobby"));
    assert_eq!(claims(&redis, &format!("{held}-2")).len(), 1);
}

#[test]
fn rooms_and_their_members_are_seen_from_every_node() {
    let redis = RedisServer::start();
    let (a, b) = (node(&redis.url()), node(&redis.url()));
    let mut ann = Member::join(a.addr("tcp"), "ann");
    let mut bob = Member::join(b.addr("tcp"), "bob");
    bob.send("/join dev");
    bob.expect("members of dev (1): @bob");
    // A room that only the other node has: listed, with its member.
    ask_until(&mut ann, "/who #dev", "* members of dev (1): @bob", Duration::from_secs(10));
    ann.send("/rooms");
    ann.expect("rooms: dev (1), lobby (2)");
    // Joining it there answers with the members of both nodes.
    ann.send("/join dev");
    ann.expect("members of dev (2): @ann, @bob");
}
