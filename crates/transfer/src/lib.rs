//! sockit-transfer: encrypted, verified, resumable file transfer.
//!
//! A session runs over one TCP connection, whichever side listened:
//!
//! 1. [`handshake`]: both send a hello (magic, version, role, flags,
//!    nonce), then agree on keys from the code with SPAKE2 and confirm them
//!    both ways ([`secure::handshake`]). Everything after is sealed
//!    ([`secure::SecureStream`]): AEAD frames, one key per direction.
//! 2. The sender sends the [`manifest::Manifest`] (relative paths, sizes,
//!    modes, mtimes) and one resume [`claim`] per file; the receiver checks
//!    the manifest ([`safety`]), checks free space, and answers with a
//!    [`manifest::ResumeOffer`]: for each `.part` it wrote for this
//!    sender's claim ([`part`]), its length and the BLAKE3 of that prefix.
//! 3. The sender streams each file from where the receiver's proven prefix
//!    ends, in large data frames ([`frame`]), then the file's BLAKE3 digest;
//!    the receiver hashes as it writes and renames `name.part` to `name`
//!    only when the digests match.
//! 4. The receiver answers with a [`manifest::Summary`] both sides print.
//!
//! The data path is blocking I/O on two threads per side, so hashing
//! overlaps with encryption, network and disk I/O: the sender hashes the
//! file through a memory map ([`mapped`]) while the other thread reads it
//! into the sealed-frame buffer and encrypts it in place; the receiver
//! opens each frame in place, a writer thread writes the plaintext into the
//! `.part` ([`splice`]'s copy path) and a checker hashes what landed.
//! Towards a receiver on the same host the sender keeps a small send
//! buffer ([`local`]).

pub mod claim;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod local;
pub mod manifest;
pub mod mapped;
pub mod part;
pub mod receive;
pub mod safety;
pub mod secure;
pub mod send;
pub mod splice;
pub mod walk;

pub use error::{Error, Result};
pub use manifest::{Caps, Summary};
pub use receive::{receive_session, ReceiveOptions};
pub use send::{send_session, SendOptions, SendReport};
pub use walk::{build as build_source, Source};

/// What a listening side tells a peer while another session runs.
pub const BUSY: &str = "busy: another transfer is in progress, try again";

/// The default port of the transfer service.
pub const DEFAULT_PORT: u16 = 5001;

/// How one file of a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    /// Sent (sender) or written and verified (receiver; the final path).
    Done(Option<std::path::PathBuf>),
    /// The receiver already had it whole (this many bytes); nothing was sent.
    Present(u64),
    /// It failed; why.
    Failed(String),
}

/// Progress events of a session. Called from the session's threads, so the
/// implementation must be cheap and thread-safe.
pub trait Progress: Send + Sync {
    /// The plan is known: files and their total bytes.
    fn begin(&self, _files: usize, _total: u64) {}
    /// A file starts at `offset` of `size` (bytes before `offset` were
    /// already on the receiver and are not sent).
    fn file_begin(&self, _path: &str, _size: u64, _offset: u64) {}
    /// `bytes` more file data moved.
    fn advance(&self, _bytes: u64) {}
    /// A file ended.
    fn file_end(&self, _path: &str, _outcome: &FileOutcome) {}
    /// Something worth telling the user (skipped entries, collisions).
    fn warn(&self, _message: &str) {}
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// `1.5 MiB`-style sizes for messages.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
