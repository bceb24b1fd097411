//! The sealed-frame decoder fed by arbitrary bytes: every frame must fail
//! to open (the fuzzer has no key), never panic, hang or allocate past the
//! 1 MiB frame bound. Also checks that a real frame round-trips and that any
//! change the fuzzer makes to it is refused.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use sockit_transfer::secure::frames::{Cipher, Opener, Sealer, HEADER};
use sockit_transfer::secure::{Keys, SecureStream};

#[path = "memory.rs"]
mod memory;
use memory::Memory;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else { return };
    let cipher = if mode & 1 == 0 { Cipher::Aes256Gcm } else { Cipher::ChaCha20Poly1305 };
    // Arbitrary bytes as the peer's sealed stream: nothing opens.
    let keys = Keys { cipher, send: [1; 32], recv: [2; 32] };
    let mut s = SecureStream::new(Memory::new(data.to_vec()), &keys);
    let mut out = Vec::new();
    let r = s.read_to_end(&mut out);
    assert!(r.is_err() && out.is_empty(), "unkeyed bytes opened");

    // A real frame of `data`, then one byte of it changed.
    let mut frame = vec![0u8; HEADER];
    frame.extend_from_slice(&data[..data.len().min(4096)]);
    let plain = frame[HEADER..].to_vec();
    Sealer::new(cipher, &[3; 32]).seal(&mut frame, mode & 2 != 0).unwrap();
    let open = |f: &[u8]| {
        let mut h = [0u8; HEADER];
        h.copy_from_slice(&f[..HEADER]);
        let mut body = f[HEADER..].to_vec();
        Opener::new(cipher, &[3; 32]).open(h, &mut body).map(|n| body[..n].to_vec())
    };
    assert_eq!(open(&frame).unwrap(), plain);
    let at = usize::from(mode) * 7 % frame.len();
    frame[at] ^= 1 | mode;
    assert!(open(&frame).is_err(), "a changed frame opened");
});
