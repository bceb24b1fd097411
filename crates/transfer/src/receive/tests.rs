//! The writer and checker threads on their own, fed items by hand.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::NoProgress;
use std::fs::OpenOptions;

/// One file as the socket side would hand it on.
struct Sent {
    entry: Entry,
    /// Its `.part`.
    part: File,
    pieces: Vec<Vec<u8>>,
    /// The digest the sender claims; the bytes' own when `None`.
    digest: Option<[u8; 32]>,
}

fn sent(out: &Path, name: &str, data: &[u8], writable: bool) -> Sent {
    let p = out.join(part_name(name));
    File::create(&p).unwrap();
    let part = OpenOptions::new().read(true).write(writable).open(&p).unwrap();
    let entry = Entry {
        path: name.into(),
        kind: EntryKind::File,
        size: data.len() as u64,
        mode: 0o644,
        mtime: 1_700_000_000,
        mtime_ns: 0,
    };
    Sent { entry, part, pieces: data.chunks(700_000).map(<[u8]>::to_vec).collect(), digest: None }
}

/// Runs the writer and the checker over `files`, in order.
fn run(out: &Path, files: Vec<Sent>) -> HashMap<usize, Outcome> {
    let entries: Vec<Entry> = files.iter().map(|f| f.entry.clone()).collect();
    let (to_write, write_rx) = sync_channel::<Item<Piece>>(WRITE_AHEAD);
    let (to_check, check_rx) = sync_channel::<Item<Landed>>(CHECK_AHEAD);
    let (_, outlet) = splice::pair();
    std::thread::scope(|scope| {
        let checker = scope.spawn(|| check_stage(check_rx, &entries, false, &NoProgress));
        scope.spawn(move || write_stage(write_rx, outlet, to_check));
        for (index, f) in files.into_iter().enumerate() {
            let (target, part) = (out.join(&f.entry.path), out.join(part_name(&f.entry.path)));
            let hasher = Box::new(blake3::Hasher::new());
            to_write.send(Item::Start { index, offset: 0, file: f.part, part, target, hasher }).unwrap();
            let mut digest = blake3::Hasher::new();
            for p in f.pieces {
                digest.update(&p);
                to_write.send(Item::Data(Piece::Copied(p))).unwrap();
            }
            to_write.send(Item::End(f.digest.unwrap_or(*digest.finalize().as_bytes()))).unwrap();
        }
        drop(to_write);
        checker.join().unwrap()
    })
}

#[test]
fn a_failed_write_fails_that_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    // The first `.part` cannot be written to (as on a full disk).
    let outcomes = run(out, vec![sent(out, "a.bin", &big, false), sent(out, "b.bin", &big, true)]);
    let a = &outcomes[&0];
    assert!(a.error.as_deref().is_some_and(|e| e.starts_with("write error")), "{a:?}");
    assert!(a.placed.is_none() && !out.join("a.bin").exists());
    let b = &outcomes[&1];
    assert!(b.error.is_none(), "{b:?}");
    assert_eq!(b.bytes, big.len() as u64);
    assert!(fs::read(out.join("b.bin")).unwrap() == big, "b.bin differs");
}

#[test]
fn bytes_that_do_not_match_the_digest_are_not_placed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let data = vec![5u8; 1 << 20];
    let good = sent(out, "c.bin", &data, true);
    let bad = Sent { digest: Some(*blake3::hash(b"other bytes").as_bytes()), ..sent(out, "d.bin", &data, true) };
    let outcomes = run(out, vec![good, bad]);
    assert!(outcomes[&0].error.is_none(), "{:?}", outcomes[&0]);
    assert!(fs::read(out.join("c.bin")).unwrap() == data);
    let d = &outcomes[&1];
    assert!(d.error.as_deref().is_some_and(|e| e.contains("digest mismatch")), "{d:?}");
    assert!(!out.join("d.bin").exists() && !out.join("d.bin.part").exists());
}
