//! Arbitrary bytes as a certificate file, a key file and a `--pin` value:
//! the loaders answer with a certificate list, a key or a clear error, and
//! never panic; every parsed certificate's validity check answers too.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sockit_net::tls::{files, Fingerprint};

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.pem");
    if let Ok(certs) = files::parse_certs(path, data) {
        for cert in &certs {
            let _ = files::check_validity(path, cert, 1_700_000_000);
        }
    }
    let _ = files::parse_key(path, data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(fp) = Fingerprint::parse(text) {
            assert_eq!(Fingerprint::parse(&fp.to_string()).ok(), Some(fp));
        }
    }
});
