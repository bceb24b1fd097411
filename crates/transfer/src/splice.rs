//! Moving a data frame's bytes from the connection into the file, split
//! over two threads.
//!
//! The connection side ([`Intake`]) takes a frame's bytes off a TCP or Unix
//! socket with `splice(2)` into a pipe: the kernel only passes page
//! references, so this is cheap. The file side ([`Outlet`]), on a thread of
//! its own, splices them on from the pipe into the file: that is the one
//! copy of the data, into the file's page cache, and the costliest step of
//! the transfer. Pipes travel between the two and back (a pipe's lock is
//! held for a whole splice, so with one shared pipe the threads would take
//! turns); [`crate::mapped`] then hashes the bytes where they landed.
//!
//! From any other reader (in-memory streams in tests and the fuzz target)
//! the bytes are read into a buffer that travels to the file side instead;
//! a filesystem that takes no splice gets the pipe's bytes written through
//! a buffer.
//!
//! Written by hand because no crate offers socket-to-file splicing with the
//! split we need: a failed file write (disk full) fails that file only, and
//! the frame's bytes still leave the pipe so the session goes on.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

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
/// Pipes per session. While the file side empties one, the connection side
/// fills another (a pipe's lock is held for a whole splice, so one shared
/// pipe would make the two threads take turns), and the rest let the
/// socket run ahead of a writer that stalls for a moment (measured on
/// 2 GiB over loopback, median of 6 runs: 3 pipes 1.66 GB/s, 8 pipes 1.89,
/// 12 pipes 2.0–2.07, 24 pipes 1.94). A pipe holds page references, not
/// copies: 12 MiB in flight per session, whatever the file sizes.
const PIPES: usize = 12;
/// Bytes read at a time when copying through a buffer.
const PIECE: usize = 256 << 10;

/// A pipe that travels between the two sides: filled by [`Intake`], emptied
/// by [`Outlet`], then handed back.
#[derive(Debug)]
pub struct Pipe {
    r: File,
    w: File,
    cap: usize,
}

impl Pipe {
    /// A pipe of [`PIPE_SIZE`], or when the kernel refuses that size (a
    /// user's pipes are over `/proc/sys/fs/pipe-user-pages-soft`) one of
    /// whatever size it has if `any_size`, else none.
    fn new(any_size: bool) -> Option<Pipe> {
        let (r, w) = nix::unistd::pipe().ok()?;
        let (r, w) = (File::from(r), File::from(w));
        let cap = match fcntl(&w, FcntlArg::F_SETPIPE_SZ(PIPE_SIZE as i32)) {
            Ok(cap) => cap,
            Err(_) if any_size => fcntl(&w, FcntlArg::F_GETPIPE_SZ).ok()?,
            Err(_) => return None,
        };
        Some(Pipe { r, w, cap: usize::try_from(cap).ok().filter(|&c| c > 0)? })
    }
}

/// Some of a frame's bytes, on their way from [`Intake`] to [`Outlet`].
#[derive(Debug)]
pub enum Piece {
    /// This many bytes are waiting in this pipe.
    Piped(Pipe, usize),
    /// Bytes that were read into memory.
    Copied(Vec<u8>),
}

impl Piece {
    /// How many bytes of the frame this is.
    pub fn len(&self) -> usize {
        match self {
            Piece::Piped(_, n) => *n,
            Piece::Copied(v) => v.len(),
        }
    }

    /// Whether it holds no bytes (never made so; for completeness).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The connection side: takes frame bytes off the wire.
#[derive(Debug)]
pub struct Intake {
    /// Empty pipes coming back from the outlet; `None` when no pipe could
    /// be made or a splice was refused (then every frame is copied).
    free: Option<Receiver<Pipe>>,
    /// Copied pieces' buffers coming back from the outlet once written, so
    /// a copied transfer (encrypted, or a wire that cannot splice) reuses a
    /// few buffers instead of allocating and zeroing one per piece (that
    /// cost ~8% of an encrypted receiver's CPU: memset and page faults).
    spare: Receiver<Vec<u8>>,
}

/// The file side: puts each [`Piece`] into a file, in order.
#[derive(Debug)]
pub struct Outlet {
    /// Where emptied pipes go back to the intake; `None` once a pipe was
    /// lost for good, so that the intake fails when the rest run out
    /// instead of waiting for one that never comes.
    back: Option<SyncSender<Pipe>>,
    /// Set once the filesystem refused a splice: pipe bytes are then
    /// written through `buf`.
    no_splice: bool,
    buf: Vec<u8>,
    /// Where written copied buffers go back to the intake (see `spare`).
    spare: SyncSender<Vec<u8>>,
}

/// A connected intake and outlet (one pair per session; the pipes between
/// them are made here).
pub fn pair() -> (Intake, Outlet) {
    let (back, free) = sync_channel(PIPES);
    // The first pipe of any size; more only while they get the full size.
    let pipes: Vec<Pipe> = (0..PIPES).map_while(|i| Pipe::new(i == 0)).collect();
    let splicing = !pipes.is_empty();
    for p in pipes {
        let _ = back.send(p);
    }
    let (spare_back, spare) = sync_channel(PIPES);
    (
        Intake { free: splicing.then_some(free), spare },
        Outlet { back: Some(back), no_splice: false, buf: Vec::new(), spare: spare_back },
    )
}

fn writer_stopped() -> Error {
    Error::Protocol("the writer stopped".into())
}

impl Intake {
    /// Takes the next `len` bytes off `wire`, handing them to `emit` piece
    /// by piece (a pipe-full at most). `emit` fails when the file side is
    /// gone; that and any connection or protocol failure ends the session.
    pub fn take<W: Wire + ?Sized>(
        &mut self,
        wire: &mut W,
        len: u64,
        mut emit: impl FnMut(Piece) -> Result<()>,
    ) -> Result<()> {
        let mut left = len;
        while left > 0 {
            let piece = match self.splice_step(wire, left)? {
                Some(piece) => piece,
                None => self.copy_step(wire, left)?,
            };
            left -= piece.len() as u64;
            emit(piece)?;
        }
        Ok(())
    }

    /// One buffer-full read from `wire`, into a recycled buffer when one is
    /// back (only growth is zeroed: `read_exact` overwrites the rest).
    fn copy_step<W: Wire + ?Sized>(&mut self, wire: &mut W, left: u64) -> Result<Piece> {
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(PIECE);
        let mut buf = self.spare.try_recv().unwrap_or_default();
        if buf.len() < want {
            buf.resize(want, 0);
        } else {
            buf.truncate(want);
        }
        wire.read_exact(&mut buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => truncated(),
            _ => Error::net("while reading", e),
        })?;
        Ok(Piece::Copied(buf))
    }

    /// Up to a pipe-full from the socket into an empty pipe; `None` when
    /// splicing is not possible here (nothing was consumed; copy instead).
    fn splice_step<W: Wire + ?Sized>(&mut self, wire: &W, left: u64) -> Result<Option<Piece>> {
        let (Some(sock), Some(free)) = (wire.splice_fd(), self.free.as_ref()) else { return Ok(None) };
        let pipe = free.recv().map_err(|_| writer_stopped())?;
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(pipe.cap);
        loop {
            match splice(sock, None, &pipe.w, None, want, flags()) {
                Ok(0) => return Err(truncated()),
                Ok(n) => return Ok(Some(Piece::Piped(pipe, n))),
                Err(Errno::EINTR) => {}
                Err(Errno::EINVAL) => {
                    self.free = None;
                    return Ok(None);
                }
                // The session ends; the pipe goes with it.
                Err(e) => return Err(Error::net("while reading", io::Error::from(e))),
            }
        }
    }
}

/// What putting a piped piece did: the file error, if any, and whether the
/// pipe is empty again (only a failed read of the pipe itself leaves bytes).
type Put = (Option<String>, bool);

impl Outlet {
    /// Writes `piece` to `file` at its current offset; with no file (it
    /// failed earlier) the bytes are dropped. Either way they leave the
    /// pipe, which goes back to the intake. The error, if any, is a message
    /// for the user about this file.
    pub fn put(&mut self, piece: Piece, file: Option<&File>) -> Option<String> {
        let (pipe, n) = match (piece, file) {
            (Piece::Copied(bytes), Some(mut f)) => {
                let error = f.write_all(&bytes).err().map(|e| format!("write error: {e}"));
                let _ = self.spare.try_send(bytes);
                return error;
            }
            (Piece::Copied(bytes), None) => {
                let _ = self.spare.try_send(bytes);
                return None;
            }
            (Piece::Piped(pipe, n), _) => (pipe, n),
        };
        let (error, emptied) = match file {
            Some(f) if !self.no_splice => splice_out(&pipe.r, n, f, &mut self.buf, &mut self.no_splice),
            Some(f) => pipe_to_file(&pipe.r, n, f, &mut self.buf),
            None => drop_from_pipe(&pipe.r, n, &mut self.buf, None),
        };
        // A pipe that may still hold bytes is never reused: a fresh one
        // takes its place, and if none can be made the pool stops coming
        // back. The intake may be gone already (it ended the session); then
        // the pipe is simply dropped.
        match if emptied { Some(pipe) } else { Pipe::new(true) } {
            Some(p) => {
                if let Some(back) = &self.back {
                    let _ = back.try_send(p);
                }
            }
            None => self.back = None,
        }
        error
    }
}

/// Splices `n` bytes from the pipe `r` into `file`; sets `no_splice` (and
/// writes through `buf`) when the filesystem refuses.
fn splice_out(r: &File, n: usize, file: &File, buf: &mut Vec<u8>, no_splice: &mut bool) -> Put {
    let mut in_pipe = n;
    while in_pipe > 0 {
        match splice(r, None, file, None, in_pipe, flags()) {
            Ok(0) => return drop_from_pipe(r, in_pipe, buf, Some("short write")),
            Ok(k) => in_pipe -= k,
            Err(Errno::EINTR) => {}
            Err(Errno::EINVAL) => {
                *no_splice = true;
                return pipe_to_file(r, in_pipe, file, buf);
            }
            Err(e) => return drop_from_pipe(r, in_pipe, buf, Some(e.desc())),
        }
    }
    (None, true)
}

fn flags() -> SpliceFFlags {
    SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_MORE
}

fn truncated() -> Error {
    Error::Protocol("stream ended inside a frame (truncated frame) — run the same commands again to resume".into())
}

/// Writes the `n` bytes waiting in the pipe to `file` through `buf`.
fn pipe_to_file(mut r: &File, n: usize, mut file: &File, buf: &mut Vec<u8>) -> Put {
    buf.resize(n, 0);
    if let Err(e) = r.read_exact(&mut buf[..n]) {
        return (Some(format!("pipe error: {e}")), false);
    }
    (file.write_all(&buf[..n]).err().map(|e| format!("write error: {e}")), true)
}

/// Empties the `n` bytes waiting in the pipe; `why` the file refused them.
fn drop_from_pipe(mut r: &File, n: usize, buf: &mut Vec<u8>, why: Option<&str>) -> Put {
    buf.resize(n, 0);
    match r.read_exact(&mut buf[..n]) {
        Err(e) => (Some(format!("pipe error: {e}")), false),
        Ok(()) => (why.map(|why| format!("write error: {why}")), true),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::net::{TcpListener, TcpStream};

    /// A connected loopback pair: (sending end, receiving end).
    fn loopback() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let tx = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (rx, _) = l.accept().unwrap();
        (tx, rx)
    }

    /// Moves `len` bytes of `rx` into `file` (or drops them) with one
    /// intake and outlet on this thread; returns the kinds of pieces seen
    /// and what the outlet reported.
    fn pass<W: Wire>(rx: &mut W, len: u64, file: Option<&File>) -> (Vec<(bool, usize)>, Vec<String>) {
        let (mut intake, mut outlet) = pair();
        let (mut seen, mut errors) = (Vec::new(), Vec::new());
        intake
            .take(rx, len, |piece| {
                seen.push((matches!(piece, Piece::Piped(..)), piece.len()));
                errors.extend(outlet.put(piece, file));
                Ok(())
            })
            .unwrap();
        (seen, errors)
    }

    fn file_bytes(f: &File) -> Vec<u8> {
        let mut out = Vec::new();
        std::io::Seek::rewind(&mut &*f).unwrap();
        (&*f).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn splices_exactly_the_frame_and_leaves_the_rest() {
        let (mut tx, mut rx) = loopback();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let all = [data.as_slice(), b"next frame"].concat();
        let writer = std::thread::spawn(move || tx.write_all(&all).unwrap());
        let f = tempfile::tempfile().unwrap();
        let (seen, errors) = pass(&mut rx, data.len() as u64, Some(&f));
        writer.join().unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert!(seen.iter().all(|&(piped, _)| piped), "a socket is spliced");
        assert_eq!(seen.iter().map(|&(_, n)| n).sum::<usize>(), data.len());
        assert!(file_bytes(&f) == data, "file differs");
        let mut rest = [0; 10];
        rx.read_exact(&mut rest).unwrap();
        assert_eq!(&rest, b"next frame");
    }

    #[test]
    fn without_a_file_the_bytes_are_dropped() {
        let (mut tx, mut rx) = loopback();
        let writer = std::thread::spawn(move || tx.write_all(&[[7u8; 100_000].as_slice(), b"after"].concat()).unwrap());
        let (_, errors) = pass(&mut rx, 100_000, None);
        writer.join().unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        let mut rest = [0; 5];
        rx.read_exact(&mut rest).unwrap();
        assert_eq!(&rest, b"after");
    }

    #[test]
    fn a_refused_write_fails_the_file_and_still_consumes_the_frame() {
        let (mut tx, mut rx) = loopback();
        let writer = std::thread::spawn(move || tx.write_all(&[[1u8; 500_000].as_slice(), b"tail"].concat()).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let ro = File::create(dir.path().join("f")).and_then(|_| File::open(dir.path().join("f"))).unwrap();
        let (_, errors) = pass(&mut rx, 500_000, Some(&ro));
        assert!(!errors.is_empty() && errors.iter().all(|e| e.starts_with("write error")), "{errors:?}");
        writer.join().unwrap();
        let mut rest = [0; 4];
        rx.read_exact(&mut rest).unwrap();
        assert_eq!(&rest, b"tail");
    }

    #[test]
    fn a_stream_that_ends_inside_the_frame_is_a_truncated_frame() {
        let (mut tx, mut rx) = loopback();
        tx.write_all(&[0; 1000]).unwrap();
        drop(tx);
        let (mut intake, mut outlet) = pair();
        let f = tempfile::tempfile().unwrap();
        let e = intake
            .take(&mut rx, 5000, |p| {
                outlet.put(p, Some(&f));
                Ok(())
            })
            .unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
    }

    #[test]
    fn a_gone_file_side_stops_the_intake() {
        // More bytes than all the pipes hold, so they must run out.
        let len = (PIPES + 4) * PIPE_SIZE;
        let (mut tx, mut rx) = loopback();
        let writer = std::thread::spawn(move || {
            let _ = tx.write_all(&vec![3u8; len]);
        });
        let (mut intake, outlet) = pair();
        drop(outlet);
        // With the file side gone no pipe comes back: once the ones it had
        // are used, the intake must fail rather than wait forever.
        let e = intake.take(&mut rx, len as u64, |_| Ok(())).unwrap_err();
        assert!(e.to_string().contains("writer stopped"), "{e}");
        drop(rx);
        writer.join().unwrap();
    }

    #[test]
    fn pipes_come_back_and_are_reused() {
        // Far more pieces than pipes, all through one intake and outlet.
        let (mut tx, mut rx) = loopback();
        let data: Vec<u8> = (0..(PIPES as u32 * 3 + 1) << 20).map(|i| (i % 241) as u8).collect();
        let expected = data.clone();
        let writer = std::thread::spawn(move || tx.write_all(&data).unwrap());
        let f = tempfile::tempfile().unwrap();
        let (seen, errors) = pass(&mut rx, expected.len() as u64, Some(&f));
        writer.join().unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert!(seen.len() > PIPES, "only {} pieces", seen.len());
        assert!(file_bytes(&f) == expected, "file differs");
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
        let data: Vec<u8> = (0..600_000u32).map(|i| (i % 13) as u8).collect();
        let mut m = Mem(std::io::Cursor::new(data.clone()));
        let f = tempfile::tempfile().unwrap();
        let (seen, errors) = pass(&mut m, 600_000, Some(&f));
        assert!(errors.is_empty(), "{errors:?}");
        assert!(seen.iter().all(|&(piped, _)| !piped));
        assert!(file_bytes(&f) == data);
    }
}
