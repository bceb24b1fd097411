//! The handshake (hello, SPAKE2 message, key confirmation) of a receiver
//! fed by arbitrary bytes after a valid sender hello: it must end with an
//! error (a fuzzer cannot forge the confirmation), never panic or hang.
//! The first input byte picks whether the receiver has a code.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockit_transfer::frame::{self, Kind};
use sockit_transfer::handshake::{handshake, Hello, Role, VERSION};

#[path = "memory.rs"]
mod memory;
use memory::Memory;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else { return };
    let with_code = mode & 1 == 1;
    let mut input = Vec::new();
    let hello = Hello { version: VERSION, role: 1, flags: (mode >> 1) & 3, nonce: [0; 32] };
    let _ = frame::write_frame(&mut input, Kind::Hello, &hello.encode());
    input.extend_from_slice(data);
    let code = with_code.then_some("fossil meadow lantern");
    let r = handshake(&mut Memory::new(input), Role::Receiver, code);
    assert!(r.is_err(), "a forged confirmation was accepted");
});
