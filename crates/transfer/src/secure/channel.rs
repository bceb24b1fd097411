//! [`SecureStream`]: the session's byte stream, sealed frame by frame.
//!
//! The transfer protocol's own frames ([`crate::frame`]) run on top of it
//! unchanged; below, every byte travels in [`super::frames`] sealed frames
//! of up to 1 MiB. Writes collect into one frame buffer and go out when it
//! is full, on `flush`, or before we read (so a request is never stuck in
//! our buffer while we wait for its answer). File data is read straight
//! into the frame buffer ([`SecureStream::send_file`]) and sealed there in
//! place: one copy from the page cache, no more. Reads open a whole frame
//! in place and hand out its plaintext.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use super::frames::{self, FrameError, Opener, Sealer, HEADER, MAX_PLAIN};
use super::handshake::Keys;

/// A stream whose bytes are sealed both ways with the session's keys.
pub struct SecureStream<S> {
    inner: S,
    sealer: Sealer,
    opener: Opener,
    /// The frame being filled: header room, then plaintext.
    out: Vec<u8>,
    /// The frame being read: its plaintext is `inb[pos..end]`.
    inb: Vec<u8>,
    pos: usize,
    end: usize,
    /// A frame failed: nothing more is read (a stream with a forged frame
    /// in it cannot be trusted past that point).
    broken: bool,
    /// The final frame was sent.
    closed: bool,
}

fn invalid(e: FrameError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl<S: Read + Write> SecureStream<S> {
    /// Wraps a connection whose handshake produced `keys`.
    pub fn new(inner: S, keys: &Keys) -> SecureStream<S> {
        let mut out = Vec::with_capacity(HEADER + MAX_PLAIN + frames::TAG);
        out.resize(HEADER, 0);
        SecureStream {
            inner,
            sealer: Sealer::new(keys.cipher, &keys.send),
            opener: Opener::new(keys.cipher, &keys.recv),
            out,
            inb: Vec::new(),
            pos: 0,
            end: 0,
            broken: false,
            closed: false,
        }
    }

    /// The connection underneath (for socket options and shutdown).
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    fn pending(&self) -> usize {
        self.out.len() - HEADER
    }

    /// Seals and writes the frame being filled (if it holds anything, or
    /// always when it is the final one).
    fn push(&mut self, final_frame: bool) -> io::Result<()> {
        if self.closed || (self.pending() == 0 && !final_frame) {
            return Ok(());
        }
        self.sealer.seal(&mut self.out, final_frame).map_err(invalid)?;
        let r = self.inner.write_all(&self.out);
        self.out.truncate(HEADER);
        self.closed = final_frame;
        r
    }

    /// A full frame goes out only when more bytes follow, so the last bytes
    /// before [`SecureStream::finish`] always travel in the final frame.
    fn push_if_full(&mut self) -> io::Result<()> {
        if self.pending() == MAX_PLAIN {
            self.push(false)?;
        }
        Ok(())
    }

    /// Sends `len` bytes of `file` from `at`, read straight into the frame
    /// buffer and sealed there.
    pub fn send_file(&mut self, file: &File, mut at: u64, mut len: u64) -> io::Result<()> {
        while len > 0 {
            self.push_if_full()?;
            let room = MAX_PLAIN - self.pending();
            let take = room.min(usize::try_from(len).unwrap_or(room));
            let start = self.out.len();
            // Into the frame's spare capacity, not zeroed first (a `resize`
            // here was 3% of the sender's CPU): `File` reads straight into
            // uninitialised room through `read_to_end`.
            let mut reader = file;
            reader.seek(SeekFrom::Start(at))?;
            let got = reader.take(take as u64).read_to_end(&mut self.out);
            if got.as_ref().map_or(true, |&n| n != take) {
                self.out.truncate(start);
                return Err(got.err().unwrap_or_else(|| {
                    io::Error::new(io::ErrorKind::UnexpectedEof, "the file got shorter while it was being sent")
                }));
            }
            at += take as u64;
            len -= take as u64;
        }
        Ok(())
    }

    /// Sends what is buffered as the final frame: the peer then knows the
    /// stream ended here and was not cut. Reading goes on working.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        self.push(true)?;
        self.inner.flush()
    }

    /// Reads and opens the next frame; `false` at the end of the stream.
    fn next_frame(&mut self) -> io::Result<bool> {
        if self.broken {
            return Err(invalid(FrameError::Forged));
        }
        if self.opener.finished() {
            return Ok(false);
        }
        let mut header = [0u8; HEADER];
        let mut got = 0;
        while got < HEADER {
            match self.inner.read(&mut header[got..]) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the stream ended before the final frame (cut on the way)",
                    ))
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let h = frames::parse_header(header).inspect_err(|_| self.broken = true).map_err(invalid)?;
        self.inb.resize(h.len as usize, 0);
        self.inner.read_exact(&mut self.inb)?;
        match self.opener.open(header, &mut self.inb) {
            Ok(n) => {
                self.pos = 0;
                self.end = n;
                Ok(true)
            }
            Err(e) => {
                self.broken = true;
                Err(invalid(e))
            }
        }
    }
}

impl<S: Read + Write> Read for SecureStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.pos == self.end {
            // Our request goes out before we wait for its answer.
            self.flush()?;
            if !self.next_frame()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.end - self.pos);
        buf[..n].copy_from_slice(&self.inb[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl<S: Read + Write> Write for SecureStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the secure stream was finished"));
        }
        self.push_if_full()?;
        let n = buf.len().min(MAX_PLAIN - self.pending());
        self.out.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        self.push(false)?;
        self.inner.flush()
    }
}

impl<S: Read + Write> crate::splice::Wire for SecureStream<S> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secure::frames::Cipher;

    /// One direction of a connection in memory.
    struct Pipe {
        rx: io::Cursor<Vec<u8>>,
        tx: Vec<u8>,
    }
    impl Read for Pipe {
        fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
            self.rx.read(b)
        }
    }
    impl Write for Pipe {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.tx.write(b)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn keys(flip: bool) -> Keys {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let (send, recv) = if flip { (b, a) } else { (a, b) };
        Keys { cipher: Cipher::Aes256Gcm, send, recv }
    }

    /// What `write` produces on the wire, then read back by the peer.
    fn wire(write: impl FnOnce(&mut SecureStream<Pipe>)) -> Vec<u8> {
        let mut s = SecureStream::new(Pipe { rx: io::Cursor::new(Vec::new()), tx: Vec::new() }, &keys(false));
        write(&mut s);
        s.inner.tx
    }

    fn read_all(bytes: Vec<u8>) -> io::Result<Vec<u8>> {
        let mut r = SecureStream::new(Pipe { rx: io::Cursor::new(bytes), tx: Vec::new() }, &keys(true));
        let mut got = Vec::new();
        r.read_to_end(&mut got)?;
        Ok(got)
    }

    #[test]
    fn bytes_and_files_round_trip_over_frames() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..(3 * MAX_PLAIN + 17)).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let f = File::open(&path).unwrap();
        let bytes = wire(|s| {
            s.write_all(b"head").unwrap();
            s.send_file(&f, 5, data.len() as u64 - 5).unwrap();
            s.finish().unwrap();
        });
        let mut want = b"head".to_vec();
        want.extend_from_slice(&data[5..]);
        assert_eq!(read_all(bytes).unwrap(), want);
    }

    #[test]
    fn a_stream_cut_before_the_final_frame_is_an_error() {
        let bytes = wire(|s| {
            s.write_all(b"hello").unwrap();
            s.flush().unwrap();
        });
        let e = read_all(bytes).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn a_flipped_byte_is_an_error_and_stays_one() {
        let mut bytes = wire(|s| {
            s.write_all(&[9u8; 1000]).unwrap();
            s.finish().unwrap();
        });
        bytes[300] ^= 0x40;
        let mut r = SecureStream::new(Pipe { rx: io::Cursor::new(bytes), tx: Vec::new() }, &keys(true));
        let mut b = [0u8; 10];
        assert_eq!(r.read(&mut b).unwrap_err().kind(), io::ErrorKind::InvalidData);
        assert!(r.read(&mut b).is_err());
    }

    #[test]
    fn our_own_frames_reflected_back_do_not_open() {
        let bytes = wire(|s| {
            s.write_all(b"mine").unwrap();
            s.finish().unwrap();
        });
        // Read with our own keys (send = recv direction swapped back).
        let mut r = SecureStream::new(Pipe { rx: io::Cursor::new(bytes), tx: Vec::new() }, &keys(false));
        let mut got = Vec::new();
        assert!(r.read_to_end(&mut got).is_err());
    }
}
