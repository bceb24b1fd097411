//! A peer for the fuzz targets: reads come from the fuzzer's bytes, writes
//! go nowhere. Shared by the targets with `#[path]` (each target is a binary
//! of its own).

use std::io::{self, Read, Write};

/// Plays `input` as what the peer sent; swallows what we send.
pub struct Memory(io::Cursor<Vec<u8>>);

impl Memory {
    /// A peer that will have sent `input`, then closed.
    pub fn new(input: Vec<u8>) -> Memory {
        Memory(io::Cursor::new(input))
    }
}

impl Read for Memory {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Memory {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
