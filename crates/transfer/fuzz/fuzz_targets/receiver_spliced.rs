//! A whole receiver session fed by arbitrary bytes over a real socket, so
//! data frames take the `splice(2)` path (socket → pipe → file) rather than
//! the buffered copy of the `receiver` target: it must end with an error or
//! a summary, never panic or hang, and never write outside `--out`.
#![no_main]

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use sockit_transfer::frame::{self, Kind};
use sockit_transfer::handshake::{Hello, VERSION};
use sockit_transfer::{Caps, NoProgress, ReceiveOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(root) = tempfile::tempdir() else { return };
    let out = root.path().join("out");
    let mut input = Vec::new();
    let hello = Hello { version: VERSION, role: 1, has_code: false, nonce: [0; 32] };
    let _ = frame::write_frame(&mut input, Kind::Hello, &hello.encode());
    input.extend_from_slice(data);
    let Ok((mut ours, mut theirs)) = UnixStream::pair() else { return };
    // A peer that sends everything, half-closes, and drains the replies.
    let peer = std::thread::spawn(move || {
        let _ = theirs.write_all(&input);
        let _ = theirs.shutdown(std::net::Shutdown::Write);
        let _ = std::io::copy(&mut theirs, &mut std::io::sink());
    });
    let _ = ours.set_read_timeout(Some(Duration::from_secs(5)));
    let opts = ReceiveOptions {
        out: out.clone(),
        code: None,
        overwrite: false,
        caps: Caps { max_size: 1 << 20, max_files: 100 },
    };
    let _ = sockit_transfer::receive_session(&mut ours, &opts, &NoProgress);
    drop(ours);
    let _ = peer.join();
    for e in std::fs::read_dir(root.path()).into_iter().flatten().flatten() {
        assert_eq!(e.file_name(), "out", "wrote outside --out");
    }
});
