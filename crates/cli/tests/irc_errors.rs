//! The numerics an IRC member gets for each failure, as the Modern IRC
//! documents name them, and that the connection and its channels survive
//! every one (a PING round trip and a channel message after each group).
#![allow(clippy::unwrap_used)]

mod chat_support;

use chat_support::irc::{serve_irc, Irc};

/// The member is still served, and still in `#dev`, after its errors.
fn still_fine(c: &mut Irc, other: &mut Irc) {
    c.send("PING :fine");
    c.expect("PONG irc.sockit :fine");
    c.send("PRIVMSG #dev :still here");
    other.expect(&format!(":{}!{}@127.0.0.1 PRIVMSG #dev :still here", c.nick, c.nick));
}

#[test]
fn before_registration() {
    let s = serve_irc(&[], 0);
    let addr = s.addr("irc");
    let mut taken = Irc::join(addr, "taken", "");
    let mut c = Irc::connect(addr);
    c.send("JOIN #dev");
    c.expect(":irc.sockit 451 * :You have not registered");
    c.send("PRIVMSG taken :hi");
    c.expect(" 451 * ");
    c.send("NICK");
    c.expect(" 431 * :No nickname given");
    c.send("NICK 1abc");
    c.expect(" 432 * 1abc :Erroneous nickname");
    c.send("NICK xn--abc");
    c.expect(" 432 * xn--abc :Erroneous nickname");
    c.send("NICK _1-2");
    c.expect(" 432 * _1-2 :");
    c.send(&format!("NICK {}", "n".repeat(33)));
    c.expect(" 432 * nnnn");
    c.send("NICK TAKEN");
    c.expect(" 433 * TAKEN :nick TAKEN is taken");
    c.send("USER u 0 *");
    c.expect(" 461 * USER :Not enough parameters");
    c.send("PING");
    c.expect(" 409 * :No origin specified");
    c.send_raw(b"NICK caf\xe9\r\n");
    c.expect("FAIL NICK INVALID_UTF8 :");
    c.send(&format!("PRIVMSG x :{}", "x".repeat(600)));
    c.expect(" 417 * :Input line was too long");
    c.until_sync();
    let count = |needle: &str| c.lines.seen.iter().filter(|l| l.contains(needle)).count();
    assert_eq!((count(" 417 "), count("FAIL ")), (1, 1), "each bad line answered once");
    c.send("NICK fresh");
    c.send("USER u 0 * :Real");
    c.expect(" 001 fresh ");
    c.send("USER u 0 * :again");
    c.expect(" 462 fresh :You may not reregister");
    c.send("PASS secret");
    c.expect(" 462 fresh :You may not reregister");
    c.send("NICK taken");
    c.expect(" 433 fresh taken :nick taken is taken");
    taken.send("PING :x");
    taken.expect("PONG irc.sockit :x");
    // A nick free when asked but taken before USER: 433 then, and another works.
    let mut slow = Irc::connect(addr);
    slow.send("NICK dup");
    slow.until_sync();
    let _first = Irc::join(addr, "dup", "");
    slow.send("USER s 0 * :s");
    slow.expect(" 433 * dup :nick dup is taken");
    slow.send("NICK dup2");
    slow.expect(" 001 dup2 ");
}

#[test]
fn messages_and_nicks() {
    let s = serve_irc(&[], 0);
    let addr = s.addr("irc");
    let mut a = Irc::join(addr, "a", "");
    let mut b = Irc::join(addr, "b", "");
    a.join_channel("#dev");
    b.join_channel("#dev");
    a.send("PRIVMSG");
    a.expect(" 411 a :No recipient given (PRIVMSG)");
    a.send("PRIVMSG #dev");
    a.expect(" 412 a :No text to send");
    a.send("PRIVMSG b,b,b,b,b,b :five");
    for _ in 0..4 {
        b.expect(":a!a@127.0.0.1 PRIVMSG b :five");
    }
    a.expect(" 407 a b :Too many targets: at most 4 per message");
    assert_eq!(b.until_sync().iter().filter(|l| l.contains(":five")).count(), 0, "not a fifth");
    a.send("PRIVMSG nobody :hi");
    a.expect(" 401 a nobody :no such nick nobody");
    a.send("PRIVMSG #nowhere :hi");
    a.expect(" 403 a #nowhere :no such room nowhere");
    a.send("PRIVMSG #bad!name :hi");
    a.expect(" 403 a #bad!name :No such channel");
    // NOTICE is never answered with an error.
    a.send("NOTICE nobody :hi");
    a.send("NOTICE");
    a.send("WHOIS nobody");
    a.expect(" 401 a nobody :No such nick/channel");
    a.expect(" 318 a nobody ");
    a.send("WHOIS");
    a.expect(" 431 a :No nickname given");
    a.send("NICK");
    a.expect(" 431 a :No nickname given");
    a.send("NICK b");
    a.expect(" 433 a b :nick b is taken");
    a.send("NICK 9lives");
    a.expect(" 432 a 9lives :Erroneous nickname");
    a.send("NICK a\\b");
    a.expect(" 432 a a\\b :bad nick");
    a.send("FROBNICATE");
    a.expect(" 421 a FROBNICATE :Unknown command");
    a.send("MODE b");
    a.expect(" 502 a :Cant change mode for other users");
    a.send("MODE nobody");
    a.expect(" 401 a nobody ");
    a.send("MODE a");
    a.expect(" 221 a +");
    // +i (irssi and HexChat set it on connect) is kept and confirmed;
    // other user modes are unknown.
    a.send("MODE a +i");
    let confirm = a.expect(" MODE a +i");
    assert!(confirm.starts_with(":a!"), "{confirm}");
    a.send("MODE a");
    a.expect(" 221 a +i");
    a.send("MODE a +w");
    a.expect(" 501 a :Unknown MODE flag");
    a.send(&format!("PRIVMSG #dev :{}", "x".repeat(4096)));
    a.expect(" 417 a :Input line was too long");
    still_fine(&mut a, &mut b);
}

#[test]
fn channel_failures() {
    let s = serve_irc(&["--max-rooms-per-member", "3"], 0);
    let addr = s.addr("irc");
    let mut op = Irc::join(addr, "op", "");
    let mut b = Irc::join(addr, "b", "");
    let mut out = Irc::join(addr, "out", "");
    op.join_channel("#dev");
    b.join_channel("#dev");
    op.join_channel("#other");
    // Need more params.
    for cmd in ["JOIN", "PART", "TOPIC", "KICK", "KICK #dev", "INVITE", "INVITE b", "MODE"] {
        b.send(cmd);
        let word = cmd.split(' ').next().unwrap();
        b.expect(&format!(" 461 b {word} "));
    }
    // No such channel, not on channel.
    b.send("JOIN dev");
    b.expect(" 403 b dev :No such channel (channel names start with #)");
    b.send("JOIN #bad!name");
    b.expect(" 403 b #bad!name :");
    b.send("PART #nowhere");
    b.expect(" 403 b #nowhere :");
    b.send("PART #other");
    b.expect(" 442 b #other :you are not in other");
    b.send("TOPIC #other :mine");
    b.expect(" 442 b #other :");
    b.send("KICK #other op");
    b.expect(" 442 b #other :");
    b.send("INVITE out #other");
    b.expect(" 442 b #other :");
    // Operator needed.
    b.send("KICK #dev op");
    b.expect(" 482 b #dev :you are not an operator of dev");
    b.send("MODE #dev +m");
    b.expect(" 482 b #dev :");
    b.send("TOPIC #dev :mine");
    b.expect(" 482 b #dev :");
    // Not in the channel, already in it, no such nick.
    op.send("KICK #dev out");
    op.expect(" 441 op out #dev :out is not in dev");
    op.send("KICK #dev ghost");
    op.expect(" 401 op ghost :no such nick ghost");
    op.send("INVITE b #dev");
    op.expect(" 443 op b #dev :b is already in dev");
    op.send("INVITE ghost #dev");
    op.expect(" 401 op ghost :");
    op.send("MODE #dev +o ghost");
    op.expect(" 401 op ghost :");
    op.send("MODE #dev +o out");
    op.expect(" 441 op out #dev :");
    op.send("MODE #dev +x");
    op.expect(" 472 op x :is unknown mode char to me");
    op.send("MODE #dev +k");
    op.expect(" 461 op MODE :+k needs a key");
    op.send("MODE #dev +k one");
    op.expect("MODE #dev +k");
    op.send("MODE #dev +k two");
    op.expect(" 467 op #dev :dev already has a key");
    op.send("MODE #dev -k+nt");
    op.expect("MODE #dev -k");
    // Full, invite-only, banned, wrong key, cannot send.
    op.send("MODE #dev +l 2");
    op.expect("MODE #dev +l 2");
    out.send("JOIN #dev");
    out.expect(" 471 out #dev :dev is full (+l 2)");
    op.send("MODE #dev -l+i");
    op.expect("MODE #dev -l+i");
    out.send("JOIN #dev");
    out.expect(" 473 out #dev :");
    op.send("MODE #dev -i+b out!*@*");
    op.expect("MODE #dev -i+b out!*@*");
    out.send("JOIN #dev");
    out.expect(" 474 out #dev :you are banned from dev");
    op.send("MODE #dev -b+k out!*@* sesame");
    op.expect("MODE #dev -b+k out!*@*");
    out.send("JOIN #dev nope");
    out.expect(" 475 out #dev :");
    out.send("PRIVMSG #dev :from outside");
    out.expect(" 404 out #dev :you cannot speak in dev (+n: join it first)");
    op.send("MODE #dev +m");
    op.expect("MODE #dev +m");
    b.send("PRIVMSG #dev :muted");
    b.expect(" 404 b #dev :you cannot speak in dev (+m");
    op.send("MODE #dev -m");
    op.expect("MODE #dev -m");
    // Too many channels (--max-rooms-per-member 3).
    out.send("JOIN #a,#b,#c,#d");
    out.expect(" 405 out #d :you are in 3 rooms, the limit");
    out.send("PING :ok");
    out.expect("PONG irc.sockit :ok");
    still_fine(&mut b, &mut op);
}
