//! A whole receiver session (after the key agreement: the plaintext the
//! sealed channel delivers) fed by arbitrary bytes: it
//! must end with an error or a summary, never panic or hang, and never write
//! outside its `--out` folder. The first input byte picks the wire: an
//! in-memory stream (data frames are copied through a buffer) or a real
//! socket pair (data frames take the `splice(2)` path, socket → pipe → file).
#![no_main]

use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use sockit_transfer::{Caps, NoProgress, ReceiveOptions};

#[path = "memory.rs"]
mod memory;
use memory::Memory;

/// No socket to splice from: frames are copied.
impl sockit_transfer::splice::Wire for Memory {}

/// Runs a session over a socket pair whose other end sends `input`,
/// half-closes, and drains the replies.
fn over_socket(input: Vec<u8>, opts: &ReceiveOptions) {
    let Ok((mut ours, mut theirs)) = UnixStream::pair() else { return };
    let peer = std::thread::spawn(move || {
        let _ = theirs.write_all(&input);
        let _ = theirs.shutdown(std::net::Shutdown::Write);
        let _ = io::copy(&mut theirs, &mut io::sink());
    });
    let _ = ours.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = sockit_transfer::receive::receive_on(&mut ours, opts, &NoProgress);
    drop(ours);
    let _ = peer.join();
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else { return };
    let Ok(root) = tempfile::tempdir() else { return };
    let out = root.path().join("out");
    let input = data.to_vec();
    let opts = ReceiveOptions {
        out: out.clone(),
        code: None,
        overwrite: false,
        caps: Caps { max_size: 1 << 20, max_files: 100 },
    };
    if mode & 1 == 0 {
        let _ = sockit_transfer::receive::receive_on(&mut Memory::new(input), &opts, &NoProgress);
    } else {
        over_socket(input, &opts);
    }
    for e in std::fs::read_dir(root.path()).into_iter().flatten().flatten() {
        assert_eq!(e.file_name(), "out", "wrote outside --out");
    }
});
