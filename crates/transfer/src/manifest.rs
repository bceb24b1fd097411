//! The JSON messages of the protocol: the manifest, the receiver's resume
//! offer and the final summary, with the checks a receiver applies.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::safety::check_rel_path;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory (sent so empty ones exist on the other side).
    Dir,
}

/// One file or directory offered by the sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Relative path, `/`-separated, checked by [`check_rel_path`].
    pub path: String,
    /// File or directory.
    pub kind: EntryKind,
    /// Bytes (0 for directories).
    #[serde(default)]
    pub size: u64,
    /// Unix permission bits (`0o777` mask applied by the receiver).
    #[serde(default)]
    pub mode: u32,
    /// Modification time, seconds since the Unix epoch.
    #[serde(default)]
    pub mtime: i64,
    /// Nanoseconds part of the modification time.
    #[serde(default)]
    pub mtime_ns: u32,
}

/// The sender's list of everything in the session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Entries in sending order; a directory comes before what it holds.
    pub entries: Vec<Entry>,
    /// A message (`send --text`, `send -`): exactly one file, which the
    /// receiver prints and does not keep.
    #[serde(default, skip_serializing_if = "is_false")]
    pub message: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Caps a receiver puts on a manifest.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Most bytes in all files together.
    pub max_size: u64,
    /// Most entries (files and directories).
    pub max_files: usize,
}

impl Manifest {
    /// Bytes of all files together (saturating).
    pub fn total_size(&self) -> u64 {
        self.entries.iter().filter(|e| e.kind == EntryKind::File).fold(0u64, |a, e| a.saturating_add(e.size))
    }

    /// Number of files.
    pub fn file_count(&self) -> usize {
        self.entries.iter().filter(|e| e.kind == EntryKind::File).count()
    }

    /// Encodes as JSON.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decodes JSON and applies every check a receiver needs: safe paths, no
    /// duplicates, caps. Case-insensitive collisions are returned, not refused.
    pub fn decode(bytes: &[u8], caps: Caps) -> Result<(Manifest, Vec<(String, String)>)> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| Error::json("bad manifest", &e))?;
        if m.entries.len() > caps.max_files {
            return Err(Error::Refused(format!(
                "{} files and folders offered, over --max-files {}",
                m.entries.len(),
                caps.max_files
            )));
        }
        if m.message
            && !(m.entries.len() == 1 && m.entries[0].kind == EntryKind::File && !m.entries[0].path.contains('/'))
        {
            return Err(Error::Refused("a message must be exactly one file".into()));
        }
        let mut total: u64 = 0;
        for e in &m.entries {
            check_rel_path(&e.path)
                .map_err(|why| Error::Refused(format!("unsafe path {} in manifest: {why}", shown(&e.path))))?;
            if e.kind == EntryKind::File {
                total = total.checked_add(e.size).ok_or_else(|| Error::Refused("manifest sizes overflow".into()))?;
            }
        }
        if total > caps.max_size {
            return Err(Error::Refused(format!(
                "{} offered, over --max-size {}",
                crate::human_bytes(total),
                crate::human_bytes(caps.max_size)
            )));
        }
        let mut seen: HashMap<&str, ()> = HashMap::with_capacity(m.entries.len());
        let mut folded: HashMap<String, &str> = HashMap::with_capacity(m.entries.len());
        let mut collisions = Vec::new();
        for e in &m.entries {
            if seen.insert(&e.path, ()).is_some() {
                return Err(Error::Refused(format!("path {:?} appears twice in the manifest", e.path)));
            }
            if let Some(other) = folded.insert(e.path.to_lowercase(), &e.path) {
                collisions.push((other.to_string(), e.path.clone()));
            }
        }
        // A file must not sit where a folder of the manifest goes (`a` and `a/b`).
        let files: std::collections::HashSet<&str> =
            m.entries.iter().filter(|e| e.kind == EntryKind::File).map(|e| e.path.as_str()).collect();
        for e in &m.entries {
            for (i, _) in e.path.match_indices('/') {
                if files.contains(&e.path[..i]) {
                    return Err(Error::Refused(format!(
                        "{:?} is both a file and a folder in the manifest",
                        &e.path[..i]
                    )));
                }
            }
        }
        Ok((m, collisions))
    }
}

/// A peer's path, quoted and escaped for a terminal.
fn shown(path: &str) -> String {
    format!("\"{}\"", sockit_net::text::escape_untrusted(path))
}

/// What the receiver already has of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Have {
    /// Index into the manifest.
    pub index: u32,
    /// Bytes held (a `.part` prefix, or the whole file when `complete`).
    pub len: u64,
    /// BLAKE3 of those bytes, hex.
    pub hash: String,
    /// The final file already exists with the manifest's size.
    #[serde(default)]
    pub complete: bool,
}

/// The receiver's answer to the manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeOffer {
    /// Files it has something of.
    pub have: Vec<Have>,
}

impl ResumeOffer {
    /// Decodes and checks against the manifest (indexes, lengths).
    pub fn decode(bytes: &[u8], manifest: &Manifest) -> Result<ResumeOffer> {
        let r: ResumeOffer = serde_json::from_slice(bytes).map_err(|e| Error::json("bad resume offer", &e))?;
        for h in &r.have {
            let e =
                manifest.entries.get(h.index as usize).filter(|e| e.kind == EntryKind::File).ok_or_else(|| {
                    Error::Protocol(format!("resume offer names entry {} which is not a file", h.index))
                })?;
            if h.len > e.size || (h.complete && h.len != e.size) {
                return Err(Error::Protocol(format!("resume offer for {:?} has a bad length {}", e.path, h.len)));
            }
        }
        Ok(r)
    }
}

/// The receiver's final word, which the sender prints too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Files written and verified in this session.
    pub files_received: usize,
    /// Files the receiver already had (nothing sent).
    pub files_present: usize,
    /// Files that failed (digest mismatch, I/O error, skipped by the sender).
    pub files_failed: usize,
    /// File bytes received in this session.
    pub bytes_received: u64,
    /// Bytes not sent thanks to resume or files already present.
    pub bytes_resumed: u64,
    /// One line per failure.
    pub errors: Vec<String>,
    /// For a message session, where the verified message landed (the CLI
    /// prints it and removes it). Never sent.
    #[serde(skip)]
    pub message: Option<std::path::PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CAPS: Caps = Caps { max_size: u64::MAX, max_files: 1000 };

    fn file(path: &str, size: u64) -> Entry {
        Entry { path: path.into(), kind: EntryKind::File, size, mode: 0o644, mtime: 0, mtime_ns: 0 }
    }

    fn encoded(entries: Vec<Entry>) -> Vec<u8> {
        Manifest { entries, message: false }.encode()
    }

    #[test]
    fn hostile_paths_refused() {
        for p in ["../x", "/etc/x", "a/../../x", "C:/x", "c:x", "a\\b", "a/./b", "", "a//b", "a\0b", "x/"] {
            let err = Manifest::decode(&encoded(vec![file(p, 1)]), CAPS).unwrap_err();
            assert!(matches!(err, Error::Refused(_)), "{p:?}: {err}");
        }
    }

    #[test]
    fn caps_and_shapes() {
        let caps = Caps { max_size: 10, max_files: 2 };
        assert!(Manifest::decode(&encoded(vec![file("a", 11)]), caps).is_err());
        assert!(Manifest::decode(&encoded(vec![file("a", 1), file("b", 1), file("c", 1)]), caps).is_err());
        assert!(Manifest::decode(&encoded(vec![file("a", u64::MAX), file("b", 2)]), CAPS).is_err());
        assert!(Manifest::decode(&encoded(vec![file("a", 1), file("a", 1)]), CAPS).is_err());
        assert!(Manifest::decode(&encoded(vec![file("a", 1), file("a/b", 1)]), CAPS).is_err());
        let (_, coll) = Manifest::decode(&encoded(vec![file("A.txt", 1), file("a.TXT", 1)]), CAPS).unwrap();
        assert_eq!(coll, vec![("A.txt".to_string(), "a.TXT".to_string())]);
    }

    #[test]
    fn a_bad_manifest_is_reported_escaped() {
        let err = Manifest::decode(br#"{"entries":[{"path":"a","kind":"\u001b[2J\u202e"}]}"#, CAPS).unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("bad manifest") && !shown.contains('\x1b') && !shown.contains('\u{202e}'), "{shown:?}");
    }

    #[test]
    fn a_message_is_exactly_one_top_level_file() {
        let one = Manifest { entries: vec![file("message.txt", 5)], message: true }.encode();
        assert!(Manifest::decode(&one, CAPS).unwrap().0.message);
        let two = Manifest { entries: vec![file("a", 1), file("b", 1)], message: true }.encode();
        assert!(Manifest::decode(&two, CAPS).is_err());
        let deep = Manifest { entries: vec![file("d/a", 1)], message: true }.encode();
        assert!(Manifest::decode(&deep, CAPS).is_err());
        // An older sender's manifest has no field: not a message.
        assert!(!Manifest::decode(br#"{"entries":[]}"#, CAPS).unwrap().0.message);
    }

    #[test]
    fn resume_offer_checked() {
        let m = Manifest { entries: vec![file("a", 5)], message: false };
        let ok = br#"{"have":[{"index":0,"len":3,"hash":"00"}]}"#;
        assert!(ResumeOffer::decode(ok, &m).is_ok());
        assert!(ResumeOffer::decode(br#"{"have":[{"index":0,"len":6,"hash":""}]}"#, &m).is_err());
        assert!(ResumeOffer::decode(br#"{"have":[{"index":1,"len":0,"hash":""}]}"#, &m).is_err());
    }

    proptest! {
        #[test]
        fn manifest_round_trip(names in prop::collection::btree_set("[a-zA-Z0-9é_ -]{1,12}", 1..20), size in any::<u32>()) {
            let entries: Vec<Entry> = names.iter().map(|n| file(&format!("d/{n}"), size as u64)).collect();
            let m = Manifest { entries, message: false };
            let (back, _) = Manifest::decode(&m.encode(), CAPS).unwrap();
            prop_assert_eq!(back, m);
        }

        #[test]
        fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = Manifest::decode(&bytes, CAPS);
        }
    }
}
