//! Chat nodes sharing rooms through a real redis-server (issue #18), each
//! test with its own redis-server on a private loopback port.
#![allow(clippy::unwrap_used)]

mod chat_support;
mod cluster_support;

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use cluster_support::{node, web_node, Someone};
use sockit_testkit::redis::RedisServer;
use sockit_testkit::{bin, free_port, run_with_input};

const LOST: &str = "* history was lost on the server";
const NOT_DELIVERED: &str = "! not delivered: the cluster is unreachable";

#[test]
fn a_node_that_cannot_reach_redis_says_so_in_one_line_and_exits() {
    // A port nothing listens on.
    let url = format!("redis://127.0.0.1:{}/0", free_port());
    let (status, _, stderr) = run_with_input(
        Command::new(bin()).args(["chat", "serve", "--no-irc", "--no-web", "--port", "0", "--redis", &url]),
        b"",
        Duration::from_secs(20),
    );
    assert!(!status.success(), "exit status {status}; stderr {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, got {lines:#?}");
    assert!(lines[0].starts_with(&format!("sockit: cannot reach the chat cluster at {url}: ")), "{}", lines[0]);
    assert!(!stderr.contains("listening on"), "{stderr}");
}

#[test]
fn the_redis_url_may_come_from_the_environment() {
    let url = format!("redis://127.0.0.1:{}/0", free_port());
    let (status, _, stderr) = run_with_input(
        Command::new(bin()).args(["chat", "serve", "--no-irc", "--no-web", "--port", "0"]).env("SOCKIT_REDIS", &url),
        b"",
        Duration::from_secs(20),
    );
    assert!(!status.success());
    assert!(stderr.contains(&format!("cannot reach the chat cluster at {url}")), "{stderr}");
}

#[test]
fn history_files_are_refused_with_redis() {
    let (status, _, stderr) = run_with_input(
        Command::new(bin()).args(["chat", "serve", "--redis", "redis://127.0.0.1:1/0", "--history", "x.db"]),
        b"",
        Duration::from_secs(20),
    );
    assert!(!status.success());
    assert!(stderr.contains("--history") && stderr.contains("--redis"), "{stderr}");
}

#[test]
fn a_message_on_one_node_reaches_members_of_another() {
    let redis = RedisServer::start();
    let (a, b) = (node(&redis.url(), &[]), node(&redis.url(), &[]));
    let mut ann = Someone::tcp(a.addr("tcp"), "ann");
    let mut bob = Someone::tcp(b.addr("tcp"), "bob");
    // Sent until it arrives: bob's node may still be subscribing.
    say_until_heard(&mut ann, "hello from a", &mut bob);
    bob.send("hello from b");
    ann.expect("<bob> hello from b");
    // Nobody gets their own line back.
    let seen = ann.drain(Duration::from_millis(300));
    assert!(!seen.iter().any(|l| l.contains("<ann>")), "{seen:?}");
}

/// `who` sends `text-N` (N = 0, 1, …) every 100 ms until `to` hears one;
/// returns the line heard. Bounded: 15 s.
fn say_until_heard(who: &mut Someone, text: &str, to: &mut Someone) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut n = 0;
    while Instant::now() < deadline {
        who.send(&format!("{text}-{n}"));
        n += 1;
        if let Some(l) = (0..10).find_map(|_| to.next_within(Duration::from_millis(10)).filter(|l| l.contains(text))) {
            return l;
        }
    }
    panic!("{text:?} never arrived");
}

/// Sends `count` messages `m-NICK-I` from each of `senders` at once (one
/// thread each, a short pause every few lines; a UDP member paces every
/// line, since datagrams past its 64-datagram inbox are dropped, as UDP may,
/// and each line waits for Redis to number it).
fn burst(senders: Vec<(String, Someone)>, count: usize) -> Vec<(String, Someone)> {
    let threads: Vec<_> = senders
        .into_iter()
        .map(|(nick, mut s)| {
            std::thread::spawn(move || {
                for i in 0..count {
                    s.send(&format!("m-{nick}-{i}"));
                    if matches!(s, Someone::Udp(_)) {
                        std::thread::sleep(Duration::from_millis(3));
                    } else if i % 10 == 9 {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                (nick, s)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

/// Checks that each of `heard` (a member's nick and the `m-` lines it got)
/// has every message of `senders` but its own exactly once, and that all
/// saw them in one order.
fn same_order_exactly_once(heard: &[(String, Vec<String>)], senders: &[String], count: usize) {
    let total: Vec<String> = heard.iter().max_by_key(|(_, l)| l.len()).map(|(_, l)| l.clone()).unwrap();
    for (nick, lines) in heard {
        let want: HashSet<String> = senders
            .iter()
            .filter(|s| *s != nick)
            .flat_map(|s| (0..count).map(move |i| format!("<{s}> m-{s}-{i}")))
            .collect();
        let got: HashSet<String> = lines.iter().cloned().collect();
        assert_eq!(got.len(), lines.len(), "{nick} got duplicates");
        let missing: Vec<_> = want.difference(&got).take(5).collect();
        let extra: Vec<_> = got.difference(&want).take(5).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{nick}: missing {missing:?}, extra {extra:?}");
        // One order: the longest list without this member's own lines is its list.
        let own = format!("<{nick}> ");
        let expected: Vec<&String> = total.iter().filter(|l| !l.starts_with(&own)).collect();
        let mine: Vec<&String> = lines.iter().collect();
        if let Some(at) = expected.iter().zip(&mine).position(|(a, b)| a != b) {
            panic!("{nick} saw another order from line {at}: {:?} where others saw {:?}", mine[at], expected[at]);
        }
    }
}

#[test]
fn three_nodes_tcp_udp_and_websocket_members_see_1000_messages_once_in_one_order() {
    let redis = RedisServer::start();
    let (a, b, c) = (node(&redis.url(), &[]), node(&redis.url(), &[]), web_node(&redis.url()));
    let mut members = vec![
        ("ta".to_string(), Someone::tcp(a.addr("tcp"), "ta")),
        ("ub".to_string(), Someone::udp(b.addr("udp"), "ub")),
        ("tb".to_string(), Someone::tcp(b.addr("tcp"), "tb")),
        ("wc".to_string(), Someone::ws(c.addr("http"), "wc")),
        ("tc".to_string(), Someone::tcp(c.addr("tcp"), "tc")),
    ];
    // Every node is subscribed once a line from each end reaches the others.
    let (first, rest) = members.split_at_mut(1);
    for (_, m) in rest.iter_mut() {
        say_until_heard(&mut first[0].1, "warm", m);
    }
    for (_, m) in members.iter_mut() {
        m.drain(Duration::from_millis(200));
    }
    let listener = members.pop().unwrap();
    let senders: Vec<String> = members.iter().map(|(n, _)| n.clone()).collect();
    let count = 250;
    let mut members = burst(members, count);
    members.push(listener);
    let mut heard = Vec::new();
    for (nick, m) in members.iter_mut() {
        let want = if senders.contains(nick) { 3 * count } else { 4 * count };
        let mut others = Vec::new();
        let lines = m.collect("> m-", want, Duration::from_secs(30), &mut others);
        assert!(!others.iter().any(|l| l.starts_with('!')), "{nick} got errors: {others:?}");
        heard.push((nick.clone(), lines));
    }
    same_order_exactly_once(&heard, &senders, count);
}

#[test]
fn a_late_joiner_on_one_node_gets_what_was_written_through_another() {
    let redis = RedisServer::start();
    let (a, b) = (node(&redis.url(), &[]), node(&redis.url(), &[]));
    let mut ann = Someone::tcp(a.addr("tcp"), "ann");
    let mut watcher = Someone::tcp(a.addr("tcp"), "watcher");
    for i in 0..30 {
        ann.send(&format!("h-{i}"));
    }
    watcher.expect("<ann> h-29");
    // Joins after: its replay (the last 20) comes from the stream.
    let mut late = Someone::tcp(b.addr("tcp"), "late");
    let replay: Vec<String> = late.lines_seen().iter().filter(|l| l.contains("<ann> h-")).cloned().collect();
    let texts: Vec<String> = replay.iter().map(|l| l.rsplit(' ').next().unwrap().to_string()).collect();
    let want: Vec<String> = (10..30).map(|i| format!("h-{i}")).collect();
    assert_eq!(texts, want, "{replay:#?}");
    assert!(replay.iter().all(|l| l.starts_with("[history ")), "{replay:#?}");
    late.send("/history 25");
    let mut others = Vec::new();
    let again = late.collect("<ann> h-", 25, Duration::from_secs(10), &mut others);
    assert_eq!(again.first().map(|l| l.ends_with("h-5")), Some(true), "{again:#?}");
    assert_eq!(again.len(), 25);
    // Live lines from A keep coming after the replay, once each.
    ann.send("live");
    late.expect("<ann> live");
}

#[test]
fn killing_the_subscriptions_during_a_burst_loses_and_duplicates_nothing() {
    let redis = RedisServer::start();
    let (a, b) = (node(&redis.url(), &[]), node(&redis.url(), &[]));
    let mut members = vec![
        ("sa".to_string(), Someone::tcp(a.addr("tcp"), "sa")),
        ("sb".to_string(), Someone::tcp(b.addr("tcp"), "sb")),
        ("la".to_string(), Someone::tcp(a.addr("tcp"), "la")),
        ("lb".to_string(), Someone::tcp(b.addr("tcp"), "lb")),
    ];
    {
        let (first, rest) = members.split_at_mut(1);
        for (_, m) in rest.iter_mut() {
            say_until_heard(&mut first[0].1, "warm", m);
        }
    }
    for (_, m) in members.iter_mut() {
        m.drain(Duration::from_millis(200));
    }
    let listeners = members.split_off(2);
    let senders: Vec<String> = members.iter().map(|(n, _)| n.clone()).collect();
    let count = 400;
    let killer = {
        let port = redis.port();
        std::thread::spawn(move || {
            let r = RedisServer::attach(port);
            let mut killed = 0;
            for _ in 0..3 {
                std::thread::sleep(Duration::from_millis(150));
                killed += r.kill_pubsub_clients();
            }
            killed
        })
    };
    let mut members = burst(members, count);
    let killed = killer.join().unwrap();
    assert!(killed >= 2, "killed {killed} subscriptions");
    members.extend(listeners);
    let mut heard = Vec::new();
    for (nick, m) in members.iter_mut() {
        let want = if senders.contains(nick) { count } else { 2 * count };
        let mut others = Vec::new();
        let lines = m.collect("> m-", want, Duration::from_secs(30), &mut others);
        heard.push((nick.clone(), lines));
    }
    same_order_exactly_once(&heard, &senders, count);
}

#[test]
fn redis_restarted_empty_gives_one_history_lost_notice_and_chat_goes_on() {
    let mut redis = RedisServer::start();
    let (a, b) = (node(&redis.url(), &[]), node(&redis.url(), &[]));
    let mut ann = Someone::tcp(a.addr("tcp"), "ann");
    let mut bob = Someone::tcp(b.addr("tcp"), "bob");
    say_until_heard(&mut ann, "before", &mut bob);
    redis.start_again();
    let mut seen_ann = ann.drain(Duration::from_millis(100));
    let mut seen_bob = Vec::new();
    // Chat goes on: a line from A reaches B again, by itself.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut n = 0;
    'outer: while Instant::now() < deadline {
        ann.send(&format!("after-{n}"));
        n += 1;
        for _ in 0..10 {
            if let Some(l) = bob.next_within(Duration::from_millis(20)) {
                let heard = l.contains("<ann> after-");
                seen_bob.push(l);
                if heard {
                    break 'outer;
                }
            }
        }
    }
    assert!(seen_bob.iter().any(|l| l.contains("<ann> after-")), "{seen_bob:#?}");
    seen_ann.extend(ann.drain(Duration::from_secs(3)));
    seen_bob.extend(bob.drain(Duration::from_millis(500)));
    for (who, seen) in [("ann", &seen_ann), ("bob", &seen_bob)] {
        let lost = seen.iter().filter(|l| l.as_str() == LOST).count();
        assert_eq!(lost, 1, "{who} saw the notice {lost} times: {seen:#?}");
    }
    bob.send("and back");
    ann.expect("<bob> and back");
}

#[test]
fn redis_down_for_5_s_refuses_messages_keeps_members_and_recovers_by_itself() {
    let mut redis = RedisServer::start();
    let (a, b) = (node(&redis.url(), &[]), node(&redis.url(), &[]));
    let mut ann = Someone::tcp(a.addr("tcp"), "ann");
    let mut bob = Someone::tcp(b.addr("tcp"), "bob");
    say_until_heard(&mut ann, "before", &mut bob);
    redis.stop();
    let down = Instant::now();
    ann.send("while down");
    ann.expect(NOT_DELIVERED);
    bob.send("also while down");
    bob.expect(NOT_DELIVERED);
    // Still connected: local commands answer; history is in Redis.
    ann.send("/rooms");
    ann.expect("* rooms: lobby");
    ann.send("/history");
    ann.expect("! history not available: the cluster is unreachable");
    std::thread::sleep(Duration::from_secs(5).saturating_sub(down.elapsed()));
    bob.send("/rooms");
    bob.expect("* rooms: lobby");
    redis.start_again();
    let heard = say_until_heard(&mut ann, "after", &mut bob);
    assert!(heard.starts_with("<ann> after-"), "{heard}");
    bob.send("back");
    ann.expect("<bob> back");
    let seen: Vec<String> = ann.drain(Duration::from_millis(200));
    assert!(!seen.iter().any(|l| l.contains("while down")), "never delivered later: {seen:?}");
    assert!(!ann.lines_seen().iter().any(|l| l == "<EOF>") && !bob.lines_seen().iter().any(|l| l == "<EOF>"));
}

#[test]
fn joins_parts_nick_changes_and_quits_reach_the_other_nodes_once() {
    let redis = RedisServer::start();
    let (a, b) = (node(&redis.url(), &[]), node(&redis.url(), &[]));
    let mut ann = Someone::tcp(a.addr("tcp"), "ann");
    let mut bob = Someone::tcp(b.addr("tcp"), "bob");
    say_until_heard(&mut ann, "warm", &mut bob);
    bob.send("/join dev");
    bob.expect("bob joined dev");
    ann.send("/join dev");
    // In two rooms now: bob's lines are tagged with the room.
    bob.expect("[dev] * ann joined dev");
    ann.send("/nick anna");
    bob.expect("* ann is now known as anna");
    ann.send("/part dev");
    bob.expect("[dev] * anna left dev");
    let mut carol = Someone::tcp(a.addr("tcp"), "carol");
    bob.expect("is now known as carol");
    carol.send("/quit");
    let quit = bob.expect("* carol left");
    assert!(quit.contains("quit"), "{quit}");
    // Each once, though a quit of a member in two rooms goes out on both.
    ann.send("/join dev");
    bob.expect("[dev] * anna joined dev");
    ann.send("/nick ann");
    let seen = bob.drain(Duration::from_millis(500));
    let nicks = seen.iter().filter(|l| l.contains("anna is now known as ann")).count();
    assert_eq!(nicks, 1, "{seen:#?}");
}

#[test]
fn a_half_dead_subscription_is_found_by_its_probe_and_reopened() {
    let redis = RedisServer::start();
    let proxy = cluster_support::Proxy::start(redis.port());
    let (a, b) = (node(&redis.url(), &[]), node(&proxy.url(), &[]));
    let mut ann = Someone::tcp(a.addr("tcp"), "ann");
    let mut bob = Someone::tcp(b.addr("tcp"), "bob");
    say_until_heard(&mut ann, "warm", &mut bob);
    bob.drain(Duration::from_millis(200));
    assert_eq!(proxy.freeze_subscriptions(), 1);
    for i in 0..20 {
        ann.send(&format!("during-{i}"));
        std::thread::sleep(Duration::from_millis(50));
    }
    // Nothing comes through the frozen connection: the probe finds it
    // (within 1 s + 3 s), the node reopens it and reads back what it missed.
    assert!(b.wait_stderr("a probe did not come back", Duration::from_secs(10)), "{}", b.stderr());
    let mut others = Vec::new();
    let got = bob.collect("<ann> during-", 20, Duration::from_secs(10), &mut others);
    let want: Vec<String> = (0..20).map(|i| format!("<ann> during-{i}")).collect();
    assert_eq!(got, want);
    ann.send("after");
    bob.expect("<ann> after");
    let dups = bob.drain(Duration::from_millis(300));
    assert!(!dups.iter().any(|l| l.contains("during-")), "{dups:?}");
}

#[test]
fn a_room_stream_is_capped_at_the_history_limit() {
    let redis = RedisServer::start();
    let a = node(&redis.url(), &["--history-max-per-room", "100"]);
    let mut ann = Someone::tcp(a.addr("tcp"), "ann");
    let mut watcher = Someone::tcp(a.addr("tcp"), "watcher");
    for i in 0..1000 {
        ann.send(&format!("c-{i}"));
    }
    watcher.expect("<ann> c-999");
    let len: i64 = redis.command(&["XLEN", "sockit:{lobby}:log"]).text().unwrap().parse().unwrap();
    // `MAXLEN ~` trims whole stream nodes (100 entries each by default).
    assert!((100..=200).contains(&len), "XLEN {len}");
    watcher.send("/history 1000");
    let mut others = Vec::new();
    let got = watcher.collect("[history ", 101, Duration::from_secs(1), &mut others);
    assert_eq!(got.len(), 100, "at most the cap, however many are asked for");
    assert!(got.last().unwrap().ends_with("c-999"), "{:?}", got.last());
}

#[test]
fn sockit_up_takes_the_cluster_from_the_environment() {
    let url = format!("redis://127.0.0.1:{}/0", free_port());
    let (status, _, stderr) = run_with_input(
        Command::new(bin()).args(["up", "--any-port"]).env("SOCKIT_REDIS", &url),
        b"",
        Duration::from_secs(30),
    );
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains(&format!("sockit: cannot reach the chat cluster at {url}: ")), "{stderr}");
}

#[test]
fn an_irc_member_talks_with_members_of_another_node_and_its_echo_comes_once() {
    use chat_support::irc::Irc;
    let redis = RedisServer::start();
    let (a, b) = (cluster_support::irc_node(&redis.url()), node(&redis.url(), &[]));
    let mut irka = Irc::join(a.addr("irc"), "irka", "echo-message");
    irka.join_channel("#lobby");
    let mut bob = Someone::tcp(b.addr("tcp"), "bob");
    // bob's node may still be subscribing: say it until it is heard.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut heard = false;
    let mut n = 0;
    while !heard && Instant::now() < deadline {
        irka.send(&format!("PRIVMSG #lobby :from irc {n}"));
        n += 1;
        heard = bob.next_within(Duration::from_millis(100)).is_some_and(|l| l.starts_with("<irka> from irc"));
    }
    assert!(heard, "bob never heard irka");
    irka.drain(Duration::from_millis(300));
    bob.send("hello irc");
    irka.expect("PRIVMSG #lobby :hello irc");
    irka.send("PRIVMSG #lobby :one echo");
    bob.expect("<irka> one echo");
    // echo-message: its own line comes back through the cluster, once.
    irka.expect("PRIVMSG #lobby :one echo");
    bob.send("after the echo");
    irka.expect("PRIVMSG #lobby :after the echo");
    let echoes = irka.lines.seen.iter().filter(|l| l.contains("PRIVMSG #lobby :one echo")).count();
    assert_eq!(echoes, 1, "{:#?}", irka.lines.seen);
}

#[test]
fn a_last_line_arrives_before_its_senders_quit_on_every_node() {
    let redis = RedisServer::start();
    let (a, b) = (node(&redis.url(), &[]), node(&redis.url(), &[]));
    let mut carl = Someone::tcp(a.addr("tcp"), "carl");
    let mut bob = Someone::tcp(b.addr("tcp"), "bob");
    say_until_heard(&mut carl, "warm", &mut bob);
    for i in 0..5 {
        let mut ann = Someone::tcp(a.addr("tcp"), &format!("ann{i}"));
        bob.expect(&format!("is now known as ann{i}"));
        carl.expect(&format!("is now known as ann{i}"));
        // One write: the message, then the quit.
        ann.send(&format!("bye {i}\n/quit"));
        for who in [&mut carl, &mut bob] {
            let first = who.expect(&format!("ann{i}"));
            assert_eq!(first, format!("<ann{i}> bye {i}"), "the message first");
            who.expect(&format!("* ann{i} left (quit)"));
        }
    }
}
