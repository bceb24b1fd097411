//! Compression: which types are worth it, and gzip/brotli of a buffer or a
//! stream (async-compression).

use std::io;

use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder};
use async_compression::Level;
use bytes::Bytes;
use futures::TryStreamExt;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use tokio::io::{AsyncBufRead, AsyncReadExt};
use tokio_util::io::ReaderStream;

use crate::body::Body;
use crate::budget::Permits;
use crate::negotiate::Coding;

/// Brotli quality for on-the-fly work (11 is the maximum, and far too slow
/// per request); gzip keeps zlib's default 6.
const BROTLI_QUALITY: i32 = 5;

/// Whether a content type is text-like enough to compress.
pub fn compressible(content_type: &str) -> bool {
    let ct = content_type.split(';').next().unwrap_or("").trim();
    ct.starts_with("text/")
        || matches!(
            ct,
            "application/javascript"
                | "application/json"
                | "application/xml"
                | "application/xhtml+xml"
                | "application/wasm"
                | "image/svg+xml"
                | "application/manifest+json"
        )
}

fn level(coding: Coding) -> Level {
    match coding {
        Coding::Brotli => Level::Precise(BROTLI_QUALITY),
        Coding::Gzip => Level::Default,
    }
}

/// Compresses a buffer.
pub async fn buffer(coding: Coding, data: &[u8]) -> io::Result<Bytes> {
    let mut out = Vec::with_capacity(data.len() / 3 + 64);
    match coding {
        Coding::Brotli => BrotliEncoder::with_quality(data, level(coding)).read_to_end(&mut out).await?,
        Coding::Gzip => GzipEncoder::with_quality(data, level(coding)).read_to_end(&mut out).await?,
    };
    Ok(out.into())
}

/// Compresses a reader as a streamed body, which keeps `permits` (the
/// budget its encoder's memory is counted as) while it lives.
pub fn stream<R: AsyncBufRead + Send + Unpin + 'static>(coding: Coding, reader: R, permits: Permits) -> Body {
    match coding {
        Coding::Brotli => frames(BrotliEncoder::with_quality(reader, level(coding)), permits),
        Coding::Gzip => frames(GzipEncoder::with_quality(reader, level(coding)), permits),
    }
}

fn frames<R: tokio::io::AsyncRead + Send + 'static>(reader: R, permits: Permits) -> Body {
    let s = ReaderStream::with_capacity(reader, 64 << 10);
    Body::Stream(StreamBody::new(s.map_ok(Frame::data)).boxed_unsync(), Some(permits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gzip_round_trip() {
        let text = "hello ".repeat(1000);
        let gz = buffer(Coding::Gzip, text.as_bytes()).await.unwrap();
        assert!(gz.len() < text.len() / 10);
        let mut back = String::new();
        async_compression::tokio::bufread::GzipDecoder::new(&gz[..]).read_to_string(&mut back).await.unwrap();
        assert_eq!(back, text);
        let br = buffer(Coding::Brotli, text.as_bytes()).await.unwrap();
        assert!(br.len() < text.len() / 10);
    }

    #[test]
    fn types() {
        assert!(compressible("text/html; charset=utf-8"));
        assert!(compressible("application/json"));
        assert!(!compressible("image/png"));
    }
}
