//! Arbitrary bytes, split at arbitrary points, through the line codec: never
//! a panic, never a line over the limit, and the same lines however split.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sockit_net::codec::{Line, LineCodec};
use tokio_util::codec::Decoder;

fn decode(chunks: &[&[u8]], max: usize) -> Vec<Line> {
    let mut codec = LineCodec::new(max);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for c in chunks {
        buf.extend_from_slice(c);
        while let Ok(Some(l)) = codec.decode(&mut buf) {
            out.push(l);
        }
    }
    while let Ok(Some(l)) = codec.decode_eof(&mut buf) {
        out.push(l);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let max = 1 + data[0] as usize % 64;
    let cut = 1 + data[1] as usize % (data.len() - 1);
    let body = &data[2..];
    let cut = cut.min(body.len());
    let whole = decode(&[body], max);
    let split = decode(&[&body[..cut], &body[cut..]], max);
    assert_eq!(whole, split);
    for l in whole {
        if let Line::Text(t) = l {
            assert!(t.len() <= max);
        }
    }
});
