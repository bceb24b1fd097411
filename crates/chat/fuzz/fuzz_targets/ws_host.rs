//! Arbitrary text as a `Host` header: never a panic; case never changes
//! the answer; a port never lets in a name that is refused without it; and
//! no subdomain of a foreign name ever gets in (DNS rebinding).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_chat::transport::ws::http::Hosts;

fuzz_target!(|data: &[u8]| {
    let Ok(host) = std::str::from_utf8(data) else { return };
    let hosts = Hosts::new(&["chat.example.org".to_string()]);
    let ok = hosts.allows(host);
    assert_eq!(ok, hosts.allows(&host.to_ascii_uppercase()), "{host:?}");
    if hosts.allows(&format!("{host}:80")) {
        assert!(ok, "{host:?} only with a port");
    }
    assert!(!hosts.allows(&format!("{host}.evil.example")), "{host:?}.evil.example");
});
