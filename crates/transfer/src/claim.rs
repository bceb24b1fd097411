//! Resume claims: how a receiver knows that a `.part` (or a finished file)
//! was written for the sender now asking about it, so that it never tells
//! a sender anything about files that sender did not send.
//!
//! Every sender has a secret resume key (32 random bytes, kept in its state
//! folder, see the CLI). Right after the manifest it sends one claim per
//! file, in manifest order: `BLAKE3-keyed(key, CLAIM_LABEL ‖ path)`. The
//! receiver stores the claim's [`verifier`] on each `.part` it creates (see
//! [`crate::part`]), where it stays when the file is renamed into place.
//! On a later run the receiver offers a file's length and prefix hash only
//! when the claim it gets now has the verifier stored on that file: a
//! sender with another key, or a guesser naming paths, learns nothing,
//! not even whether the file exists.
//!
//! This is its own step (its own frame) so that it can move inside the
//! encrypted channel once there is one; until then a claim crosses the
//! wire in the clear, like everything else.

use crate::error::{Error, Result};
use crate::manifest::{EntryKind, Manifest};

/// Domain separation for claims.
const CLAIM_LABEL: &[u8] = b"sockit-transfer v2 resume claim\0";
/// Context for verifiers.
const VERIFIER_CONTEXT: &str = "sockit-transfer v2 resume verifier";

/// A sender's claim on one manifest path.
pub fn claim(key: &[u8; 32], path: &str) -> [u8; 32] {
    let mut h = blake3::Hasher::new_keyed(key);
    h.update(CLAIM_LABEL);
    h.update(path.as_bytes());
    *h.finalize().as_bytes()
}

/// What a receiver stores on a file for `claim`: a one-way function of it,
/// so that reading a file's attributes does not give out the claim.
pub fn verifier(claim: &[u8; 32]) -> [u8; 32] {
    blake3::derive_key(VERIFIER_CONTEXT, claim)
}

/// The `Claims` frame payload: 32 bytes per file of the manifest, in order.
pub fn encode(key: &[u8; 32], manifest: &Manifest) -> Vec<u8> {
    manifest.entries.iter().filter(|e| e.kind == EntryKind::File).flat_map(|e| claim(key, &e.path)).collect()
}

/// Decodes a `Claims` payload into one claim per manifest entry (`None`
/// for folders).
pub fn decode(payload: &[u8], manifest: &Manifest) -> Result<Vec<Option<[u8; 32]>>> {
    let files = manifest.file_count();
    if payload.len() != files.saturating_mul(32) {
        return Err(Error::Protocol(format!(
            "Claims frame of {} bytes for {files} files (expected 32 bytes per file)",
            payload.len()
        )));
    }
    let mut chunks = payload.chunks_exact(32);
    Ok(manifest
        .entries
        .iter()
        .map(|e| match e.kind {
            EntryKind::File => chunks.next().and_then(|c| c.try_into().ok()),
            EntryKind::Dir => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::manifest::Entry;
    use proptest::prelude::*;

    fn manifest(kinds: &[EntryKind]) -> Manifest {
        let entries = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| Entry { path: format!("p{i}"), kind: *k, size: 1, mode: 0, mtime: 0, mtime_ns: 0 })
            .collect();
        Manifest { entries, message: false }
    }

    #[test]
    fn claims_depend_on_key_and_path() {
        assert_ne!(claim(&[1; 32], "a"), claim(&[2; 32], "a"));
        assert_ne!(claim(&[1; 32], "a"), claim(&[1; 32], "b"));
        assert_ne!(verifier(&claim(&[1; 32], "a")), claim(&[1; 32], "a"));
    }

    #[test]
    fn round_trip_skips_folders() {
        let m = manifest(&[EntryKind::Dir, EntryKind::File, EntryKind::File]);
        let got = decode(&encode(&[9; 32], &m), &m).unwrap();
        assert_eq!(got, vec![None, Some(claim(&[9; 32], "p1")), Some(claim(&[9; 32], "p2"))]);
        assert!(decode(&[0; 33], &m).is_err());
        assert!(decode(&[], &m).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200), n in 0usize..6) {
            let m = manifest(&vec![EntryKind::File; n]);
            let _ = decode(&bytes, &m);
        }
    }
}
