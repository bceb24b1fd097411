//! Arbitrary request heads (plain HTTP on an HTTPS port) through the URL
//! builder of its 400: never a panic, only plain host bytes echoed, always
//! our port.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_http::https::authority;

fuzz_target!(|data: &[u8]| {
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], 8443));
    let a = authority(data, local);
    assert!(a.ends_with(":8443"), "{a:?}");
    assert!(a.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)), "{a:?}");
});
