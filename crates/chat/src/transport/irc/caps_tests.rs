use super::*;

fn verbs(r: &[Reply]) -> Vec<String> {
    r.iter().map(|r| format!("{} {}", r.command, r.params.join(" | "))).collect()
}

#[test]
fn ls_302_req_end() {
    let mut s = CapState::new();
    assert!(!s.holds_registration());
    let r = s.handle(&["LS", "302"], "*", false);
    assert_eq!(verbs(&r), ["CAP * | LS | server-time message-tags echo-message multi-prefix away-notify cap-notify"]);
    assert!(s.holds_registration());
    assert_eq!(s.version(), 302);
    assert!(s.has(Cap::CapNotify), "302 turns cap-notify on");
    let r = s.handle(&["REQ", "server-time echo-message multi-prefix"], "*", false);
    assert_eq!(verbs(&r), ["CAP * | ACK | server-time echo-message multi-prefix"]);
    assert!(s.has(Cap::ServerTime) && s.has(Cap::EchoMessage) && !s.has(Cap::AwayNotify));
    let r = s.handle(&["LIST"], "*", false);
    assert_eq!(verbs(&r), ["CAP * | LIST | server-time echo-message multi-prefix cap-notify"]);
    assert!(s.handle(&["END"], "*", false).is_empty());
    assert!(!s.holds_registration());
}

#[test]
fn req_is_all_or_nothing() {
    let mut s = CapState::new();
    s.handle(&["REQ", "server-time"], "*", false);
    assert!(s.holds_registration(), "REQ alone holds registration too");
    let r = s.handle(&["REQ", "away-notify sasl"], "*", false);
    assert_eq!(verbs(&r), ["CAP * | NAK | away-notify sasl"]);
    assert!(!s.has(Cap::AwayNotify), "nothing of a NAKed list is applied");
    let r = s.handle(&["REQ", "-server-time away-notify"], "bob", true);
    assert_eq!(verbs(&r), ["CAP bob | ACK | -server-time away-notify"]);
    assert!(!s.has(Cap::ServerTime) && s.has(Cap::AwayNotify));
    assert_eq!(verbs(&s.handle(&["REQ", ""], "bob", true)), ["CAP bob | NAK | "]);
    assert_eq!(verbs(&s.handle(&["REQ", "Server-Time"], "bob", true)), ["CAP bob | NAK | Server-Time"]);
}

#[test]
fn cap_notify_cannot_be_dropped_by_302_clients() {
    let mut old = CapState::new();
    old.handle(&["LS"], "*", false);
    assert_eq!(old.version(), 301);
    assert!(!old.has(Cap::CapNotify));
    old.handle(&["REQ", "cap-notify"], "*", false);
    assert_eq!(verbs(&old.handle(&["REQ", "-cap-notify"], "*", false)), ["CAP * | ACK | -cap-notify"]);
    let mut new = CapState::new();
    new.handle(&["LS", "303"], "*", false);
    assert_eq!(new.version(), 302);
    assert_eq!(verbs(&new.handle(&["REQ", "-cap-notify"], "*", false)), ["CAP * | NAK | -cap-notify"]);
}

#[test]
fn after_registration_nothing_is_held() {
    let mut s = CapState::new();
    s.handle(&["LS", "302"], "bob", true);
    assert!(!s.holds_registration());
    s.handle(&["REQ", "message-tags"], "bob", true);
    assert!(!s.holds_registration() && s.has(Cap::MessageTags));
}

#[test]
fn errors() {
    let mut s = CapState::new();
    assert_eq!(verbs(&s.handle(&[], "*", false)), ["461 * | CAP | Not enough parameters"]);
    assert_eq!(verbs(&s.handle(&["FOO"], "*", false)), ["410 * | FOO | Invalid CAP command"]);
    assert_eq!(verbs(&s.handle(&["ls"], "*", false)).len(), 1, "subcommands are case-insensitive");
}

#[test]
fn long_lists_split_for_302_only() {
    let names = ["server-time", "message-tags", "echo-message"];
    let mut s = CapState::new();
    s.handle(&["LS", "302"], "*", false);
    let r = s.lines("*", "LS", &names, 25);
    assert_eq!(
        verbs(&r),
        ["CAP * | LS | * | server-time message-tags", "CAP * | LS | echo-message"],
        "every line but the last has `*`"
    );
    let mut old = CapState::new();
    old.handle(&["LS"], "*", false);
    assert_eq!(old.lines("*", "LS", &names, 25).len(), 1);
    for n in OFFERED {
        assert_eq!(Cap::from_name(n.name()), Some(n));
    }
}
