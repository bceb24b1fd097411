//! Hashing file bytes where they lie, in the page cache, instead of copying
//! them into a buffer first.
//!
//! Why: on a fast link the transfer is CPU-bound, and a copy of the data
//! costs about as much as hashing it. The sender sends with `sendfile(2)` and
//! the receiver writes with `splice(2)` ([`crate::splice`]), so a read into a
//! buffer would be the only copy left on either side, just for BLAKE3. A
//! read-only memory map lets BLAKE3 read the page cache directly (what
//! `b3sum` does).
//!
//! The hazard of a map is the one `b3sum` and ripgrep accept: if another
//! program truncates the file while we read it, touching the lost pages
//! raises `SIGBUS` and the process dies. We check the file's length before
//! every range and only ever touch bytes inside it, so only a truncation
//! racing with the hash itself can hit this; the receiver keeps its `.part`
//! and the next run resumes. Small files are read with `pread` instead:
//! mapping them costs more than the copy.

use std::borrow::Borrow;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Files shorter than this are read into a buffer rather than mapped.
pub const MIN_MAP: u64 = 1 << 20;
/// Bytes mapped at a time. Mapped pages count in the process's RSS until
/// unmapped, so a window (not the whole file) keeps memory flat.
const WINDOW: u64 = 8 << 20;
/// Bytes read at a time when not mapping (stays in the CPU cache).
const PIECE: usize = 256 << 10;

/// Hashes ranges of one file, front to back, through a sliding read-only map
/// (or `pread` into a buffer for small files and when mapping fails).
pub struct RangeHasher<F: Borrow<File>> {
    /// The file, owned or borrowed.
    file: F,
    /// Where the ranges end: the file's expected length. The file may still
    /// be shorter (the receiver is writing it); only written bytes are read.
    end: u64,
    /// The mapped window and the file offset it starts at.
    window: Option<(u64, memmap2::Mmap)>,
    buf: Vec<u8>,
}

impl<F: Borrow<File>> RangeHasher<F> {
    /// A hasher for ranges of `file` that end at or before `end`.
    pub fn new(file: F, end: u64) -> RangeHasher<F> {
        RangeHasher { file, end, window: None, buf: Vec::new() }
    }

    /// The file back (any mapped window is dropped).
    pub fn into_file(self) -> F {
        self.file
    }

    /// Feeds bytes `from..to` of the file to `hasher`. An error (the file is
    /// shorter than `to`, a read failed) is a message for the user.
    pub fn hash(&mut self, hasher: &mut blake3::Hasher, from: u64, to: u64) -> Result<(), String> {
        let len = self.file.borrow().metadata().map_err(|e| format!("read error: {e}"))?.len();
        if len < to || to > self.end {
            return Err("the file shrank while being read (changed by another program?)".into());
        }
        let mut pos = from;
        while pos < to {
            let left = usize::try_from(to - pos).unwrap_or(usize::MAX);
            match self.mapped(pos) {
                Some((start, map)) => {
                    let at = (pos - start) as usize;
                    let end = map.len().min(at.saturating_add(left));
                    hasher.update(&map[at..end]);
                    pos += (end - at) as u64;
                }
                None => {
                    self.buf.resize(PIECE, 0);
                    let n = PIECE.min(left);
                    read_exact_at(self.file.borrow(), &mut self.buf[..n], pos)?;
                    hasher.update(&self.buf[..n]);
                    pos += n as u64;
                }
            }
        }
        Ok(())
    }

    /// The mapped window holding offset `pos`, mapping the next one if
    /// needed; `None` means read instead.
    fn mapped(&mut self, pos: u64) -> Option<(u64, &memmap2::Mmap)> {
        if self.end < MIN_MAP || pos >= self.end {
            return None;
        }
        let held = matches!(&self.window, Some((start, map)) if pos >= *start && pos < *start + map.len() as u64);
        if !held {
            self.window = None; // unmap the old window first
            let len = usize::try_from(WINDOW.min(self.end - pos)).ok()?;
            let mut options = memmap2::MmapOptions::new();
            options.offset(pos).len(len);
            // SAFETY: the map is read-only and lent out only inside `hash`,
            // which touches only bytes below the file length it just checked
            // (a window may reach past the current end of a file still being
            // written; those pages are never touched until written). The one
            // hazard, another program truncating the file meanwhile (SIGBUS),
            // is the documented cost in the module docs.
            #[allow(unsafe_code)]
            let map = unsafe { options.map(self.file.borrow()) }.ok()?;
            // BLAKE3 walks the window once, front to back: read ahead.
            let _ = map.advise(memmap2::Advice::Sequential);
            self.window = Some((pos, map));
        }
        self.window.as_ref().map(|(start, map)| (*start, map))
    }
}

/// `pread` until `buf` is full; a short file is an error.
fn read_exact_at(f: &File, buf: &mut [u8], pos: u64) -> Result<(), String> {
    let mut got = 0;
    while got < buf.len() {
        match f.read_at(&mut buf[got..], pos + got as u64) {
            Ok(0) => return Err("the file shrank while being read (changed by another program?)".into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read error: {e}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Write;

    fn file_of(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 4096) as u8).collect();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&data).unwrap();
        (f, data)
    }

    #[test]
    fn mapped_and_read_ranges_hash_like_the_bytes() {
        // Below and above MIN_MAP, across window edges, in uneven ranges.
        for len in [0, 1, 4096, MIN_MAP as usize - 1, (WINDOW as usize) * 2 + 12345] {
            let (f, data) = file_of(len);
            let mut h = blake3::Hasher::new();
            let mut r = RangeHasher::new(f.as_file(), len as u64);
            let step = 3 << 20 | 17;
            let mut pos = 0;
            while pos < len {
                let to = (pos + step).min(len);
                r.hash(&mut h, pos as u64, to as u64).unwrap();
                pos = to;
            }
            assert_eq!(h.finalize(), blake3::hash(&data), "len {len}");
        }
    }

    #[test]
    fn a_file_shorter_than_the_range_is_an_error_not_a_crash() {
        let (f, _) = file_of(MIN_MAP as usize * 3);
        let mut r = RangeHasher::new(f.as_file(), MIN_MAP * 4);
        let mut h = blake3::Hasher::new();
        r.hash(&mut h, 0, MIN_MAP).unwrap();
        let e = r.hash(&mut h, MIN_MAP, MIN_MAP * 4).unwrap_err();
        assert!(e.contains("shrank"), "{e}");
        f.as_file().set_len(MIN_MAP / 2).unwrap();
        assert!(r.hash(&mut h, MIN_MAP, MIN_MAP * 2).is_err());
    }
}
