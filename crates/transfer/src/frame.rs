//! Framing of the transfer protocol: `kind:u8, length:u32 BE, payload`.
//!
//! Why our own framing rather than `sockit_net::codec::frame_codec`: the data
//! path runs on blocking threads with pooled buffers, and a data frame's 5-byte
//! header is written from the same buffer as its payload (one `write` per
//! frame, no copy). The maxima are explicit per kind, so a peer cannot make us
//! allocate more than [`MAX_DATA`] for data or [`MAX_MANIFEST`] for the
//! manifest; anything over is a protocol error that ends the session.

use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;

use crate::error::{Error, Result};

/// Bytes of a frame header.
pub const HEADER: usize = 5;
/// Largest data frame payload (also the sender's chunk size upper bound).
pub const MAX_DATA: u32 = 4 << 20;
/// Largest manifest or resume payload (JSON). `--max-files` bounds it further.
pub const MAX_MANIFEST: u32 = 64 << 20;
/// Largest payload of every other frame.
pub const MAX_CONTROL: u32 = 64 << 10;

/// Frame kinds (the first byte of every frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Both sides, first: magic, version, role, nonce.
    Hello = 1,
    /// Both sides, after the hellos: the SPAKE2 message ([`crate::secure::handshake`]).
    Pake = 12,
    /// Both sides, after the Pake frames: the key confirmation MAC.
    Confirm = 13,
    /// Sender → receiver: the JSON manifest.
    Manifest = 3,
    /// Receiver → sender: what it already has (JSON).
    Resume = 4,
    /// Sender → receiver: a file's data starts (index u32, offset u64).
    FileStart = 5,
    /// Sender → receiver: file bytes.
    Data = 6,
    /// Sender → receiver: the file's BLAKE3 digest (32 bytes).
    FileEnd = 7,
    /// Sender → receiver: a file will not be sent (index u32, reason).
    Skip = 8,
    /// Sender → receiver: no more files.
    Done = 9,
    /// Receiver → sender: the outcome (JSON).
    Summary = 10,
    /// Sender → receiver, right after the manifest: one 32-byte resume
    /// claim per file ([`crate::claim`]).
    Claims = 11,
    /// Either side: a fatal error message (UTF-8); the session ends.
    Error = 15,
}

impl Kind {
    /// The kind for a byte, if it names one.
    pub fn from_byte(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Hello,
            3 => Kind::Manifest,
            4 => Kind::Resume,
            5 => Kind::FileStart,
            6 => Kind::Data,
            7 => Kind::FileEnd,
            8 => Kind::Skip,
            9 => Kind::Done,
            10 => Kind::Summary,
            11 => Kind::Claims,
            12 => Kind::Pake,
            13 => Kind::Confirm,
            15 => Kind::Error,
            _ => return None,
        })
    }

    /// The largest payload allowed for this kind.
    pub fn max_len(self) -> u32 {
        match self {
            Kind::Data => MAX_DATA,
            Kind::Manifest | Kind::Resume | Kind::Summary | Kind::Claims => MAX_MANIFEST,
            _ => MAX_CONTROL,
        }
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The frame kind.
    pub kind: Kind,
    /// Payload length (already checked against the kind's maximum).
    pub len: u32,
}

/// Parses and checks a header.
pub fn parse_header(b: [u8; HEADER]) -> Result<Header> {
    let kind = Kind::from_byte(b[0]).ok_or_else(|| {
        Error::Protocol(format!("unknown frame kind {} — is the other side a sockit of another version?", b[0]))
    })?;
    let len = u32::from_be_bytes([b[1], b[2], b[3], b[4]]);
    if len > kind.max_len() {
        return Err(Error::Protocol(format!(
            "{kind:?} frame of {len} bytes is over the limit of {} bytes",
            kind.max_len()
        )));
    }
    Ok(Header { kind, len })
}

/// Encodes a header.
pub fn header_bytes(kind: Kind, len: u32) -> [u8; HEADER] {
    let l = len.to_be_bytes();
    [kind as u8, l[0], l[1], l[2], l[3]]
}

/// Reads one header; `Ok(None)` on a clean end of stream before it.
pub fn read_header(r: &mut impl Read) -> Result<Option<Header>> {
    let mut b = [0u8; HEADER];
    let mut got = 0;
    while got < HEADER {
        match r.read(&mut b[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(Error::Protocol("stream ended inside a frame header (truncated frame)".into())),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::net("while reading", e)),
        }
    }
    parse_header(b).map(Some)
}

/// Reads a payload of `len` bytes into `buf` (resized).
pub fn read_payload(r: &mut impl Read, len: u32, buf: &mut Vec<u8>) -> Result<()> {
    // Reused buffers are not zeroed again: only growth is (read_exact
    // overwrites all of it anyway).
    let len = len as usize;
    if buf.len() < len {
        buf.resize(len, 0);
    } else {
        buf.truncate(len);
    }
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => Error::Protocol("stream ended inside a frame (truncated frame)".into()),
        _ => Error::net("while reading", e),
    })
}

/// Reads a whole control frame; end of stream is [`Error::Closed`].
pub fn read_frame(r: &mut impl Read, during: &'static str) -> Result<(Kind, Vec<u8>)> {
    let h = read_header(r)?.ok_or(Error::Closed(during))?;
    let mut payload = Vec::new();
    read_payload(r, h.len, &mut payload)?;
    if h.kind == Kind::Error {
        return Err(peer_error(&payload));
    }
    Ok((h.kind, payload))
}

/// Reads a control frame and insists on its kind.
pub fn expect(r: &mut impl Read, kind: Kind, during: &'static str) -> Result<Vec<u8>> {
    let (got, payload) = read_frame(r, during)?;
    if got != kind {
        return Err(Error::Protocol(format!("expected a {kind:?} frame {during}, got {got:?}")));
    }
    Ok(payload)
}

/// Writes one frame (header and payload).
pub fn write_frame(w: &mut impl Write, kind: Kind, payload: &[u8]) -> Result<()> {
    let len = u32::try_from(payload.len()).ok().filter(|l| *l <= kind.max_len()).ok_or_else(|| {
        Error::Refused(format!("{kind:?} frame of {} bytes is over the protocol limit", payload.len()))
    })?;
    let mut frame = Vec::with_capacity(HEADER + payload.len());
    frame.extend_from_slice(&header_bytes(kind, len));
    frame.extend_from_slice(payload);
    w.write_all(&frame).map_err(|e| Error::net("while writing", e))
}

/// Tells the peer why we stop (best effort: the connection may be gone).
pub fn send_error(w: &mut impl Write, message: &str) {
    let mut m = message.as_bytes();
    if m.len() > MAX_CONTROL as usize {
        m = &m[..MAX_CONTROL as usize];
    }
    let _ = write_frame(w, Kind::Error, m);
    let _ = w.flush();
}

/// The peer's Error frame as an error, its text escaped: it will be shown
/// on a terminal, and a peer must not be able to move the cursor, change
/// colours or reorder the line (`sockit_net::text::escape_untrusted`).
pub fn peer_error(payload: &[u8]) -> Error {
    Error::PeerRefused(sockit_net::text::escape_untrusted_bytes(payload))
}

/// Tells the peer why we stop without reading what it sent, and does it so
/// the message arrives: after the Error frame we half-close and read (and
/// drop) what the peer still sends until it closes, for at most
/// [`REFUSAL_LINGER`]. Closing a socket with unread bytes makes Linux send
/// a reset, which can destroy our message in the peer's receive queue.
pub fn refuse(s: &mut impl Write, fd: Option<OwnedFd>, message: &str) {
    send_error(s, message);
    let Some(fd) = fd else { return };
    let reader = std::fs::File::from(fd);
    let sock = socket2::SockRef::from(&reader);
    let _ = sock.shutdown(std::net::Shutdown::Write);
    let until = std::time::Instant::now() + REFUSAL_LINGER;
    let mut sink = [0u8; 16 << 10];
    while let Some(left) = until.checked_duration_since(std::time::Instant::now()).filter(|d| !d.is_zero()) {
        let _ = sock.set_read_timeout(Some(left));
        match (&reader).read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// How long [`refuse`] waits for the peer to take its refusal and close.
pub const REFUSAL_LINGER: std::time::Duration = std::time::Duration::from_secs(2);

/// `FileStart` payload: index and offset.
pub fn encode_start(index: u32, offset: u64) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&index.to_be_bytes());
    b[4..].copy_from_slice(&offset.to_be_bytes());
    b
}

/// Decodes a `FileStart` payload.
pub fn decode_start(p: &[u8]) -> Result<(u32, u64)> {
    let b: [u8; 12] =
        p.try_into().map_err(|_| Error::Protocol(format!("FileStart of {} bytes, expected 12", p.len())))?;
    let index = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let mut o = [0u8; 8];
    o.copy_from_slice(&b[4..]);
    Ok((index, u64::from_be_bytes(o)))
}

/// Decodes a `FileEnd` payload (a 32-byte BLAKE3 digest).
pub fn decode_digest(p: &[u8]) -> Result<[u8; 32]> {
    p.try_into().map_err(|_| Error::Protocol(format!("FileEnd of {} bytes, expected a 32-byte digest", p.len())))
}

/// `Skip` payload: index and a reason.
pub fn encode_skip(index: u32, reason: &str) -> Vec<u8> {
    let mut b = index.to_be_bytes().to_vec();
    b.extend_from_slice(reason.as_bytes());
    b.truncate(MAX_CONTROL as usize);
    b
}

/// Decodes a `Skip` payload.
pub fn decode_skip(p: &[u8]) -> Result<(u32, String)> {
    if p.len() < 4 {
        return Err(Error::Protocol("Skip frame shorter than 4 bytes".into()));
    }
    let index = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
    Ok((index, sockit_net::text::escape_untrusted_bytes(&p[4..])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn header_limits() {
        assert!(parse_header(header_bytes(Kind::Data, MAX_DATA)).is_ok());
        assert!(parse_header(header_bytes(Kind::Data, MAX_DATA + 1)).is_err());
        assert!(parse_header(header_bytes(Kind::Hello, MAX_CONTROL + 1)).is_err());
        assert!(parse_header([0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn truncated_frames_are_errors() {
        let mut r: &[u8] = &[6, 0, 0];
        assert!(matches!(read_header(&mut r), Err(Error::Protocol(_))));
        let mut r: &[u8] = &[6, 0, 0, 0, 9, 1, 2];
        let h = read_header(&mut r).unwrap().unwrap();
        let mut buf = Vec::new();
        assert!(matches!(read_payload(&mut r, h.len, &mut buf), Err(Error::Protocol(_))));
        let mut r: &[u8] = &[];
        assert!(read_header(&mut r).unwrap().is_none());
    }

    proptest! {
        #[test]
        fn frames_round_trip(kind in prop::sample::select(vec![Kind::Hello, Kind::Data, Kind::Manifest, Kind::Done]),
                             payload in prop::collection::vec(any::<u8>(), 0..2000)) {
            let mut wire = Vec::new();
            write_frame(&mut wire, kind, &payload).unwrap();
            let mut r = wire.as_slice();
            let (k, p) = read_frame(&mut r, "in test").unwrap();
            prop_assert_eq!(k, kind);
            prop_assert_eq!(p, payload);
        }

        #[test]
        fn start_and_skip_round_trip(index in any::<u32>(), offset in any::<u64>(), reason in ".{0,40}") {
            prop_assert_eq!(decode_start(&encode_start(index, offset)).unwrap(), (index, offset));
            // The reason is shown on a terminal: it comes back escaped.
            let shown = sockit_net::text::escape_untrusted(&reason).into_owned();
            prop_assert_eq!(decode_skip(&encode_skip(index, &reason)).unwrap(), (index, shown));
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let mut r = bytes.as_slice();
            while let Ok((_, _)) = read_frame(&mut r, "in test") {}
        }
    }
}
