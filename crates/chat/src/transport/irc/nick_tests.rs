use super::*;
use crate::transport::irc::casemap::fold;
use proptest::prelude::*;

#[test]
fn which_nicks_irc_clients_may_take() {
    for ok in ["bob", "Bob", "[bot]", "a-1", "_x", "`q", "\\o", "x_", "{|}^", &"n".repeat(NICKLEN)] {
        assert!(is_valid(ok), "{ok}");
    }
    for bad in ["", "1bob", "-bob", "a.b", "a b", "a:b", "张三", "xn--abc", "XN--abc", "_1", "_9z", &"n".repeat(33)] {
        assert!(!is_valid(bad), "{bad}");
    }
    assert!(is_valid("_a1") && is_valid("xn-abc"), "only the exact reserved prefixes are reserved");
}

#[test]
fn the_documented_forms() {
    assert_eq!(to_irc("alice"), "alice");
    assert!(matches!(to_irc("alice"), Cow::Borrowed(_)));
    assert_eq!(to_irc("127.0.0.1:50312"), "_127-0-0-1-50312");
    assert_eq!(to_irc("255.255.255.255:65535").len(), 22);
    assert_eq!(to_irc("张三"), "xn--ehq892b");
    assert_eq!(to_irc("José"), "xn--Jos-dma");
    let dotted = to_irc("a.b");
    assert!(dotted.starts_with("xn--ab-"), "{dotted}");
    let v6 = to_irc("[::1]:50312");
    assert!(v6.starts_with("xn--[1]50312-"), "{v6}");
    // A chosen nick in the reserved space is mapped too, not shown as is.
    assert_eq!(to_irc("xn--abc"), "xn--xn--abc-");
    // Non-canonical IPv4 text is not a default nick: the general form.
    assert!(to_irc("127.000.0.1:5").starts_with("xn--"));
    for n in ["127.0.0.1:50312", "张三", "José", "a.b", "[::1]:50312", "xn--abc", "_1x", "ok"] {
        let irc = to_irc(n);
        assert!(is_irc_safe(&irc), "{n} → {irc}");
        assert_eq!(from_irc(&irc), n);
        assert_eq!(from_irc(&irc.to_ascii_uppercase()).to_lowercase(), n.to_lowercase(), "any case");
    }
    // Forms no member could have are passed through for the hub to refuse.
    assert_eq!(from_irc("_0127-0-0-1-5"), "_0127-0-0-1-5");
    assert_eq!(from_irc("xn--bob-"), "xn--bob-", "not canonical: bob is shown as bob");
    assert_eq!(from_irc("xn--$$"), "xn--$$");
}

/// Nicks as the hub has them: chosen (sockit's rules) or `ip:port`.
fn member_nick() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z_\\[\\]{}|^.-][A-Za-z0-9_\\[\\]{}|^.-]{0,31}",
        "[\\p{L}\\p{N}_.-]{1,32}",
        any::<std::net::SocketAddr>().prop_map(|a| a.to_string()),
        "(xn--|_[0-9])[a-z0-9]{0,8}",
        any::<String>(),
    ]
}

proptest! {
    #[test]
    fn mapping_is_injective_irc_safe_and_inverted(a in member_nick(), b in member_nick()) {
        let (ia, ib) = (to_irc(&a), to_irc(&b));
        prop_assert!(is_irc_safe(&ia), "{:?} → {:?}", a, ia);
        if a != b {
            prop_assert_ne!(&ia, &ib);
        }
        prop_assert_eq!(from_irc(&ia), a.as_str());
        // Folding commutes with the mapping: hub-distinct nicks stay distinct for clients.
        prop_assert_eq!(fold(&ia).into_owned(), to_irc(&a.to_ascii_lowercase()).into_owned());
        if fold(&ia) == fold(&ib) {
            prop_assert_eq!(a.to_lowercase(), b.to_lowercase());
        }
    }

    #[test]
    fn defaults_fit_nicklen(addr in any::<std::net::SocketAddrV4>()) {
        let irc = to_irc(&addr.to_string()).into_owned();
        prop_assert!(is_irc_safe(&irc) && irc.len() <= NICKLEN && is_reserved(&irc));
    }
}
