//! Text encodings on the wire: streaming transcoding with `encoding_rs`.
//!
//! Terminals and tutorial clients in China, Taiwan and Japan often speak GBK,
//! Big5 or Shift_JIS, while sockit works in UTF-8. A [`Recoder`] converts a
//! byte stream from one encoding to another chunk by chunk, keeping a
//! character split across two reads intact. Malformed input becomes U+FFFD;
//! characters the target cannot express become HTML numeric references
//! (`&#128512;`), encoding_rs's standard behaviour, so nothing is silently
//! dropped.

use encoding_rs::{CoderResult, Decoder, Encoder, Encoding, UTF_8};

/// An encoding name sockit does not know.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown encoding {0:?} — try utf-8, gbk, gb18030, big5, shift_jis, euc-kr, latin1")]
pub struct UnknownEncoding(pub String);

/// Looks up an encoding by any WHATWG label (`gbk`, `GB2312`, `big5`, `sjis`, `latin1`…).
pub fn lookup(label: &str) -> Result<&'static Encoding, UnknownEncoding> {
    Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| UnknownEncoding(label.to_string()))
}

/// Streaming conversion of bytes in one encoding to bytes in another.
pub struct Recoder {
    decoder: Decoder,
    encoder: Encoder,
    text: String,
}

impl std::fmt::Debug for Recoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recoder({} -> {})", self.decoder.encoding().name(), self.encoder.encoding().name())
    }
}

impl Recoder {
    /// Converts from `from` to `to`.
    pub fn new(from: &'static Encoding, to: &'static Encoding) -> Self {
        Recoder { decoder: from.new_decoder_without_bom_handling(), encoder: to.new_encoder(), text: String::new() }
    }

    /// UTF-8 (the terminal) to `wire`.
    pub fn to_wire(wire: &'static Encoding) -> Self {
        Self::new(UTF_8, wire)
    }

    /// `wire` to UTF-8 (the terminal).
    pub fn from_wire(wire: &'static Encoding) -> Self {
        Self::new(wire, UTF_8)
    }

    /// Whether this recoder changes nothing (UTF-8 to UTF-8).
    pub fn is_identity(&self) -> bool {
        self.decoder.encoding() == UTF_8 && self.encoder.encoding() == UTF_8
    }

    /// Converts `input`, appending to `out`. `last` marks the end of the
    /// stream, flushing any incomplete character (as U+FFFD).
    pub fn push(&mut self, input: &[u8], last: bool, out: &mut Vec<u8>) {
        self.text.clear();
        let mut rest = input;
        loop {
            let need = self.decoder.max_utf8_buffer_length(rest.len()).unwrap_or(rest.len() * 3 + 16);
            self.text.reserve(need);
            let (result, read, _) = self.decoder.decode_to_string(rest, &mut self.text, last);
            rest = &rest[read..];
            if result == CoderResult::InputEmpty {
                break;
            }
        }
        let mut src = self.text.as_str();
        loop {
            let need = self.encoder.max_buffer_length_from_utf8_if_no_unmappables(src.len()).unwrap_or(src.len() * 4);
            out.reserve(need + 16);
            let (result, read, _) = self.encoder.encode_from_utf8_to_vec(src, out, last);
            src = &src[read..];
            if result == CoderResult::InputEmpty {
                break;
            }
        }
    }

    /// Converts one whole message (no state carried in or out).
    pub fn convert(from: &'static Encoding, to: &'static Encoding, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len());
        Recoder::new(from, to).push(input, true, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn gbk_round_trip_across_split_reads() {
        let gbk = lookup("gbk").unwrap();
        let wire = Recoder::convert(UTF_8, gbk, "你好, sockit".as_bytes());
        assert_eq!(wire, b"\xc4\xe3\xba\xc3, sockit");
        let mut back = Recoder::from_wire(gbk);
        let mut out = Vec::new();
        back.push(&wire[..1], false, &mut out);
        back.push(&wire[1..], true, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "你好, sockit");
    }

    #[test]
    fn unknown_label_is_an_error() {
        assert!(lookup("klingon").is_err());
        assert_eq!(lookup("GB2312").unwrap().name(), "GBK");
    }

    proptest! {
        #[test]
        fn any_chunking_of_utf8_to_gb18030_round_trips(s in "\\PC{0,40}", cut in 0usize..200) {
            let gb = lookup("gb18030").unwrap();
            let bytes = s.as_bytes();
            let cut = cut % (bytes.len() + 1);
            let mut wire = Vec::new();
            let mut to = Recoder::to_wire(gb);
            to.push(&bytes[..cut], false, &mut wire);
            to.push(&bytes[cut..], true, &mut wire);
            let back = Recoder::convert(gb, UTF_8, &wire);
            prop_assert_eq!(String::from_utf8(back).unwrap(), s);
        }
    }
}
