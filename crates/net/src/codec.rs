//! Framing: turning a byte stream into messages.
//!
//! TCP is a byte stream, not a message stream: one `send()` of "hello\n" may
//! arrive as "hel" + "lo\n", and two sends may arrive as one `recv()`. Any
//! protocol over TCP must therefore say where a message ends. sockit uses two
//! ways, both bounded so a peer cannot make us buffer without end:
//!
//! - **Lines** ([`LineCodec`]): text ending in `\n` (a preceding `\r` is
//!   dropped). A line longer than the limit yields [`Line::TooLong`] once and
//!   the rest of it is skipped up to the next newline; the connection goes on.
//! - **Length-prefixed frames** ([`frame_codec`]): a 4-byte big-endian length,
//!   then that many bytes. Binary-safe. An over-long length is an error that
//!   ends the connection, since after it the stream cannot be re-synchronised.
//!
//! Why our own line codec rather than tokio-util's `LinesCodec` /
//! `AnyDelimiterCodec`: those report an over-long line as an `Err`, and
//! `FramedRead` ends the stream after any decoder error, so the connection
//! could not survive it; they also yield `String` (failing on invalid UTF-8,
//! which we want to report per line) and cannot hand over a partial line,
//! which the chat service needs for clients that never send a newline.

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

/// One decoded line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// The line's bytes without `\r\n` / `\n`. Not checked for UTF-8.
    Text(Bytes),
    /// A line exceeded the limit; it is being skipped up to its newline.
    TooLong,
}

/// Newline-delimited, length-bounded line codec (see the module docs).
#[derive(Debug, Clone)]
pub struct LineCodec {
    max: usize,
    /// Bytes of the buffer already searched for a newline.
    scanned: usize,
    /// Inside an over-long line: skip until the next newline.
    discarding: bool,
}

impl LineCodec {
    /// A codec accepting lines of at most `max` bytes (newline excluded).
    pub fn new(max: usize) -> Self {
        LineCodec { max, scanned: 0, discarding: false }
    }

    /// The longest line accepted.
    pub fn max_length(&self) -> usize {
        self.max
    }

    /// Hands over whatever partial line is buffered (for "idle partial line
    /// counts as a line"). Returns `None` when nothing is buffered or the
    /// buffered bytes belong to an over-long line being skipped.
    pub fn take_partial(&mut self, buf: &mut BytesMut) -> Option<Line> {
        self.scanned = 0;
        if buf.is_empty() || self.discarding {
            buf.clear();
            return None;
        }
        let line = strip_cr(buf.split().freeze());
        if line.len() > self.max {
            return Some(Line::TooLong);
        }
        Some(Line::Text(line))
    }
}

fn strip_cr(mut line: Bytes) -> Bytes {
    if line.last() == Some(&b'\r') {
        line.truncate(line.len() - 1);
    }
    line
}

impl Decoder for LineCodec {
    type Item = Line;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Line>, Self::Error> {
        match memchr::memchr(b'\n', &buf[self.scanned..]) {
            Some(i) => {
                let end = self.scanned + i;
                self.scanned = 0;
                if self.discarding {
                    buf.advance(end + 1);
                    self.discarding = false;
                    // Already reported when the overflow was seen; go on.
                    return self.decode(buf);
                }
                let mut line = buf.split_to(end + 1);
                line.truncate(end);
                let line = strip_cr(line.freeze());
                if line.len() > self.max {
                    return Ok(Some(Line::TooLong));
                }
                Ok(Some(Line::Text(line)))
            }
            None if self.discarding => {
                buf.clear();
                self.scanned = 0;
                Ok(None)
            }
            // One byte of slack for a `\r` waiting for its `\n`.
            None if buf.len() > self.max + 1 => {
                buf.clear();
                self.scanned = 0;
                self.discarding = true;
                Ok(Some(Line::TooLong))
            }
            None => {
                self.scanned = buf.len();
                Ok(None)
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Line>, Self::Error> {
        match self.decode(buf)? {
            Some(line) => Ok(Some(line)),
            None => Ok(self.take_partial(buf)),
        }
    }
}

impl<T: AsRef<[u8]>> Encoder<T> for LineCodec {
    type Error = std::io::Error;

    fn encode(&mut self, line: T, dst: &mut BytesMut) -> Result<(), Self::Error> {
        let line = line.as_ref();
        dst.reserve(line.len() + 1);
        dst.extend_from_slice(line);
        dst.extend_from_slice(b"\n");
        Ok(())
    }
}

/// A length-prefixed frame codec: 4-byte big-endian length, then the payload,
/// at most `max` bytes (tokio-util's `LengthDelimitedCodec`, never unbounded).
pub fn frame_codec(max: usize) -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder().length_field_type::<u32>().max_frame_length(max).new_codec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(codec: &mut LineCodec, chunks: &[&[u8]]) -> Vec<Line> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for c in chunks {
            buf.extend_from_slice(c);
            while let Some(l) = codec.decode(&mut buf).unwrap() {
                out.push(l);
            }
        }
        while let Some(l) = codec.decode_eof(&mut buf).unwrap() {
            out.push(l);
        }
        out
    }

    fn text(s: &str) -> Line {
        Line::Text(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn crlf_lf_and_tail() {
        let mut c = LineCodec::new(16);
        assert_eq!(decode_all(&mut c, &[b"a\r\nb", b"c\n", b"tail"]), vec![text("a"), text("bc"), text("tail")]);
    }

    #[test]
    fn overlong_line_is_reported_once_and_skipped() {
        let mut c = LineCodec::new(4);
        let got = decode_all(&mut c, &[b"ok\n012345", b"6789", b"xx\nnext\n"]);
        assert_eq!(got, vec![text("ok"), Line::TooLong, text("next")]);
        let mut c = LineCodec::new(4);
        assert_eq!(decode_all(&mut c, &[b"12345\nab\n"]), vec![Line::TooLong, text("ab")]);
        let mut c = LineCodec::new(4);
        assert_eq!(decode_all(&mut c, &[b"1234\r\n"]), vec![text("1234")]);
    }

    #[test]
    fn partial_line_can_be_taken() {
        let mut c = LineCodec::new(8);
        let mut buf = BytesMut::from(&b"hel"[..]);
        assert_eq!(c.decode(&mut buf).unwrap(), None);
        assert_eq!(c.take_partial(&mut buf), Some(text("hel")));
        buf.extend_from_slice(b"lo\n");
        assert_eq!(c.decode(&mut buf).unwrap(), Some(text("lo")));
    }

    #[test]
    fn frames_round_trip_and_reject_oversize() {
        let mut c = frame_codec(8);
        let mut buf = BytesMut::new();
        c.encode(Bytes::from_static(b"abc"), &mut buf).unwrap();
        assert_eq!(&buf[..], b"\0\0\0\x03abc");
        assert_eq!(c.decode(&mut buf).unwrap().unwrap(), &b"abc"[..]);
        let mut big = BytesMut::from(&b"\0\0\0\x09"[..]);
        assert!(c.decode(&mut big).is_err());
    }

    proptest! {
        /// However the stream is split, the same lines come out, and every
        /// line that fits comes out unchanged.
        #[test]
        fn chunking_does_not_change_lines(lines in proptest::collection::vec("[a-z\r]{0,12}", 0..20), cuts in proptest::collection::vec(0usize..200, 0..10)) {
            let mut stream: Vec<u8> = Vec::new();
            for l in &lines { stream.extend_from_slice(l.as_bytes()); stream.push(b'\n'); }
            let whole = decode_all(&mut LineCodec::new(8), &[&stream]);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (stream.len() + 1)).collect();
            cuts.sort_unstable();
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut at = 0;
            for c in cuts { chunks.push(&stream[at..c]); at = c; }
            chunks.push(&stream[at..]);
            let split = decode_all(&mut LineCodec::new(8), &chunks);
            prop_assert_eq!(&whole, &split);
            for (l, got) in lines.iter().zip(&whole) {
                let body = l.strip_suffix('\r').unwrap_or(l);
                if body.len() <= 8 { prop_assert_eq!(got, &text(body)); } else { prop_assert_eq!(got, &Line::TooLong); }
            }
        }

        /// Arbitrary bytes never panic and never yield a line over the limit.
        #[test]
        fn arbitrary_bytes_are_bounded(data in proptest::collection::vec(any::<u8>(), 0..512), max in 1usize..64) {
            for line in decode_all(&mut LineCodec::new(max), &[&data]) {
                if let Line::Text(t) = line { prop_assert!(t.len() <= max); }
            }
        }
    }
}
