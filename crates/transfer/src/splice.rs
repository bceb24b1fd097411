//! Moving a data frame's bytes from the connection into the file.
//!
//! From a TCP socket the bytes go with `splice(2)`, socket → pipe → file, so
//! they never pass through our memory: the kernel copies them once, into the
//! file's page cache, and [`crate::mapped`] hashes them there. From any other
//! reader (in-memory streams in tests and the fuzz target, or a filesystem
//! that cannot take a splice) they are read into a buffer and written.
//!
//! Written by hand because no crate offers socket-to-file splicing with the
//! split we need: a failed file write (disk full) fails that file only, and
//! the frame's bytes are still read off the connection so the session goes on.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};

use nix::errno::Errno;
use nix::fcntl::{fcntl, splice, FcntlArg, SpliceFFlags};

use crate::error::{Error, Result};

/// A connection a session runs on.
pub trait Wire: Read + Write {
    /// The socket's descriptor, when bytes can be spliced from it.
    fn splice_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
}

impl Wire for std::net::TcpStream {
    fn splice_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.as_fd())
    }
}

impl Wire for std::os::unix::net::UnixStream {
    fn splice_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.as_fd())
    }
}

/// Pipe capacity asked for (Linux's default limit for unprivileged users).
const PIPE_SIZE: usize = 1 << 20;
/// Bytes read at a time when copying through a buffer.
const PIECE: usize = 256 << 10;

/// What became of a frame's bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Landed {
    /// All of them are in the file.
    Written,
    /// Writing the file failed (the message says why); the rest of the
    /// frame was read off the connection and dropped.
    Failed(String),
}

/// Moves frame payloads from a connection into files; one per session.
#[derive(Debug, Default)]
pub struct Mover {
    /// The pipe bytes pass through and its capacity, made on first use.
    pipe: Option<(File, File, usize)>,
    /// Set once a splice was refused: from then on every frame is copied.
    no_splice: bool,
    buf: Vec<u8>,
}

/// Bytes of a frame consumed by one step, and a file error if one happened.
type Step = (u64, Option<String>);

impl Mover {
    /// A mover that splices when it can.
    pub fn new() -> Mover {
        Mover::default()
    }

    /// Moves the next `len` bytes of `wire` to `file` at its current offset,
    /// calling `landed(n)` each time `n` more bytes are in the file (at most
    /// a pipe-full, so they are still in the CPU cache); with no file (it
    /// failed earlier) they are read and dropped. `Err` is a connection or
    /// protocol failure that ends the session.
    pub fn copy<W: Wire + ?Sized>(
        &mut self,
        wire: &mut W,
        file: Option<&File>,
        len: u64,
        mut landed: impl FnMut(u64),
    ) -> Result<Landed> {
        let mut file = file;
        let mut failed = None;
        let mut left = len;
        while left > 0 {
            let step = match file {
                Some(f) if !self.no_splice => self.splice_step(wire, f, left)?,
                _ => None,
            };
            let (n, error) = match step {
                Some(step) => step,
                None => self.copy_step(wire, file, left)?,
            };
            match error {
                Some(e) => {
                    file = None;
                    failed.get_or_insert(e);
                }
                None if file.is_some() => landed(n),
                None => {}
            }
            left -= n;
        }
        Ok(failed.map_or(Landed::Written, Landed::Failed))
    }

    /// One pipe-full from the socket into `file`; `None` when splicing is
    /// not possible here (nothing was consumed; copy instead).
    fn splice_step<W: Wire + ?Sized>(&mut self, wire: &W, file: &File, left: u64) -> Result<Option<Step>> {
        let Some(sock) = wire.splice_fd() else { return Ok(None) };
        if self.pipe.is_none() {
            let (r, w) = nix::unistd::pipe().map_err(|e| Error::io("cannot make a pipe", e.into()))?;
            let (r, w) = (File::from(r), File::from(w));
            // A larger pipe means fewer splices; the default (64 KiB) works too.
            let cap = fcntl(&w, FcntlArg::F_SETPIPE_SZ(PIPE_SIZE as i32)).map_or(64 << 10, |c| c as usize);
            self.pipe = Some((r, w, cap));
        }
        let Some((r, w, cap)) = self.pipe.as_mut() else { return Ok(None) };
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(*cap);
        let n = loop {
            match splice(sock, None, &*w, None, want, flags()) {
                Ok(0) => return Err(truncated()),
                Ok(n) => break n,
                Err(Errno::EINTR) => {}
                Err(Errno::EINVAL) => {
                    self.no_splice = true;
                    return Ok(None);
                }
                Err(e) => return Err(Error::net("while reading", io::Error::from(e))),
            }
        };
        // Now out of the pipe into the file; whatever the file refuses is
        // still taken out of the pipe, so the next frame starts clean.
        let mut in_pipe = n;
        while in_pipe > 0 {
            match splice(&*r, None, file, None, in_pipe, flags()) {
                Ok(0) => return Ok(Some((n as u64, drop_from_pipe(r, in_pipe, &mut self.buf, "short write")))),
                Ok(k) => in_pipe -= k,
                Err(Errno::EINTR) => {}
                Err(Errno::EINVAL) => {
                    // This filesystem takes no splice: write through a buffer.
                    self.no_splice = true;
                    return Ok(Some((n as u64, pipe_to_file(r, in_pipe, file, &mut self.buf))));
                }
                Err(e) => return Ok(Some((n as u64, drop_from_pipe(r, in_pipe, &mut self.buf, e.desc())))),
            }
        }
        Ok(Some((n as u64, None)))
    }

    /// One buffer-full read from `wire` and written to `file` (if any).
    fn copy_step<W: Wire + ?Sized>(&mut self, wire: &mut W, file: Option<&File>, left: u64) -> Result<Step> {
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(PIECE);
        self.buf.resize(PIECE, 0);
        wire.read_exact(&mut self.buf[..n]).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => truncated(),
            _ => Error::net("while reading", e),
        })?;
        let error = file.and_then(|mut f| f.write_all(&self.buf[..n]).err()).map(|e| format!("write error: {e}"));
        Ok((n as u64, error))
    }
}

fn flags() -> SpliceFFlags {
    SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_MORE
}

fn truncated() -> Error {
    Error::Protocol("stream ended inside a frame (truncated frame)".into())
}

/// Writes the `n` bytes waiting in the pipe to `file` through `buf`.
fn pipe_to_file(mut r: &File, n: usize, mut file: &File, buf: &mut Vec<u8>) -> Option<String> {
    buf.resize(n, 0);
    if let Err(e) = r.read_exact(&mut buf[..n]) {
        return Some(format!("pipe error: {e}"));
    }
    file.write_all(&buf[..n]).err().map(|e| format!("write error: {e}"))
}

/// Empties the `n` bytes waiting in the pipe after the file refused them.
fn drop_from_pipe(mut r: &File, n: usize, buf: &mut Vec<u8>, why: &str) -> Option<String> {
    buf.resize(n, 0);
    let _ = r.read_exact(&mut buf[..n]);
    Some(format!("write error: {why}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::net::{TcpListener, TcpStream};

    /// Sends `data` then `tail` over loopback and moves `data.len()` bytes
    /// of it into a file with `mover`; returns the file's bytes and what is
    /// left on the wire.
    fn through(data: &[u8], tail: &[u8], to_file: bool) -> (Landed, Vec<u8>, Vec<u8>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut tx = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut rx, _) = l.accept().unwrap();
        let all = [data, tail].concat();
        let writer = std::thread::spawn(move || tx.write_all(&all).unwrap());
        let f = tempfile::tempfile().unwrap();
        let mut reported = 0;
        let landed = Mover::new().copy(&mut rx, to_file.then_some(&f), data.len() as u64, |n| reported += n).unwrap();
        // Every landed byte is reported once; dropped bytes are not.
        assert_eq!(reported, if to_file { data.len() as u64 } else { 0 });
        writer.join().unwrap();
        let mut rest = vec![0; tail.len()];
        rx.read_exact(&mut rest).unwrap();
        let mut file = Vec::new();
        std::io::Seek::rewind(&mut &f).unwrap();
        (&f).read_to_end(&mut file).unwrap();
        (landed, file, rest)
    }

    #[test]
    fn splices_exactly_the_frame_and_leaves_the_rest() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let (landed, file, rest) = through(&data, b"next frame", true);
        assert_eq!(landed, Landed::Written);
        assert!(file == data, "file differs");
        assert_eq!(rest, b"next frame");
    }

    #[test]
    fn without_a_file_the_bytes_are_dropped() {
        let (landed, file, rest) = through(&[7; 100_000], b"after", false);
        assert_eq!(landed, Landed::Written);
        assert!(file.is_empty());
        assert_eq!(rest, b"after");
    }

    #[test]
    fn a_refused_write_fails_the_file_and_still_consumes_the_frame() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut tx = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut rx, _) = l.accept().unwrap();
        let writer = std::thread::spawn(move || tx.write_all(&[[1u8; 500_000].as_slice(), b"tail"].concat()).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let ro = File::create(dir.path().join("f")).and_then(|_| File::open(dir.path().join("f"))).unwrap();
        let landed = Mover::new().copy(&mut rx, Some(&ro), 500_000, |_| {}).unwrap();
        assert!(matches!(landed, Landed::Failed(_)), "{landed:?}");
        writer.join().unwrap();
        let mut rest = [0; 4];
        rx.read_exact(&mut rest).unwrap();
        assert_eq!(&rest, b"tail");
    }

    #[test]
    fn a_stream_that_ends_inside_the_frame_is_a_truncated_frame() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut tx = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut rx, _) = l.accept().unwrap();
        tx.write_all(&[0; 1000]).unwrap();
        drop(tx);
        let f = tempfile::tempfile().unwrap();
        let e = Mover::new().copy(&mut rx, Some(&f), 5000, |_| {}).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
    }

    #[test]
    fn in_memory_wires_are_copied() {
        struct Mem(std::io::Cursor<Vec<u8>>);
        impl Read for Mem {
            fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
                self.0.read(b)
            }
        }
        impl Write for Mem {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        impl Wire for Mem {}
        let mut m = Mem(std::io::Cursor::new(vec![9; 600_000]));
        let f = tempfile::tempfile().unwrap();
        assert_eq!(Mover::new().copy(&mut m, Some(&f), 600_000, |_| {}).unwrap(), Landed::Written);
        assert_eq!(f.metadata().unwrap().len(), 600_000);
    }
}
