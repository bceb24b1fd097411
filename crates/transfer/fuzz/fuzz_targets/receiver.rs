//! A whole receiver session fed by arbitrary bytes after a valid hello: it
//! must end with an error or a summary, never panic, and never write outside
//! its `--out` folder.
#![no_main]

use std::io::{self, Read, Write};

use libfuzzer_sys::fuzz_target;
use sockit_transfer::frame::{self, Kind};
use sockit_transfer::handshake::{Hello, VERSION};
use sockit_transfer::{Caps, NoProgress, ReceiveOptions};

struct Wire {
    input: Vec<u8>,
    pos: usize,
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.input.len() - self.pos);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// In-memory: no socket to splice from, so frames are copied.
impl sockit_transfer::splice::Wire for Wire {}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(root) = tempfile::tempdir() else { return };
    let out = root.path().join("out");
    let mut input = Vec::new();
    let hello = Hello { version: VERSION, role: 1, has_code: false, nonce: [0; 32] };
    let _ = frame::write_frame(&mut input, Kind::Hello, &hello.encode());
    input.extend_from_slice(data);
    let mut wire = Wire { input, pos: 0 };
    let opts = ReceiveOptions {
        out: out.clone(),
        code: None,
        overwrite: false,
        caps: Caps { max_size: 1 << 20, max_files: 100 },
    };
    let _ = sockit_transfer::receive_session(&mut wire, &opts, &NoProgress);
    for e in std::fs::read_dir(root.path()).into_iter().flatten().flatten() {
        assert_eq!(e.file_name(), "out", "wrote outside --out");
    }
});
