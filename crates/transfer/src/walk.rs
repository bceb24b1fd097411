//! Building the sender's manifest from the paths on its command line.
//!
//! Each path is sent under its own name (`send dir` arrives as `dir/…`, like
//! `scp -r`). Folders are walked recursively, empty ones included. Symlinks
//! are skipped with a warning unless `follow_symlinks`, in which case the
//! walk follows them and refuses to loop. Special files (sockets, FIFOs,
//! devices) and names that are not UTF-8 are skipped with a warning.

use std::collections::HashSet;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::manifest::{Entry, EntryKind, Manifest};

/// Deepest folder nesting walked.
const MAX_DEPTH: usize = 256;

/// What a sender offers: the manifest and, per entry, the local path.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// The manifest to send.
    pub manifest: Manifest,
    /// Local path of each manifest entry (same order).
    pub local: Vec<PathBuf>,
}

/// Walks `paths` into a [`Source`]; `warn` hears about skipped entries.
pub fn build(paths: &[PathBuf], follow_symlinks: bool, warn: &mut dyn FnMut(String)) -> io::Result<Source> {
    let mut w = Walker { src: Source::default(), follow: follow_symlinks, warn, seen_dirs: HashSet::new() };
    let mut names = HashSet::new();
    for p in paths {
        let name = top_name(p)?;
        if !names.insert(name.clone()) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("two of the paths are named {name:?}")));
        }
        let meta = fs::symlink_metadata(p).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
        w.visit(p, name, meta, 0)?;
    }
    Ok(w.src)
}

fn top_name(p: &Path) -> io::Result<String> {
    let name = match p.file_name() {
        Some(n) => n.to_os_string(),
        None => fs::canonicalize(p)?.file_name().map(|n| n.to_os_string()).unwrap_or_default(),
    };
    name.into_string().ok().filter(|n| !n.is_empty()).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{}: cannot send a path without a UTF-8 name", p.display()))
    })
}

struct Walker<'a> {
    src: Source,
    follow: bool,
    warn: &'a mut dyn FnMut(String),
    /// Folders on the current path from the top (loop detection).
    seen_dirs: HashSet<(u64, u64)>,
}

impl Walker<'_> {
    fn visit(&mut self, local: &Path, rel: String, meta: Metadata, depth: usize) -> io::Result<()> {
        let meta = if meta.file_type().is_symlink() {
            if !self.follow {
                (self.warn)(format!("skipping symlink {} (use --follow-symlinks to send its target)", local.display()));
                return Ok(());
            }
            match fs::metadata(local) {
                Ok(m) => m,
                Err(e) => {
                    (self.warn)(format!("skipping broken symlink {}: {e}", local.display()));
                    return Ok(());
                }
            }
        } else {
            meta
        };
        if meta.is_file() {
            self.push(local, rel, EntryKind::File, &meta);
        } else if meta.is_dir() {
            if depth >= MAX_DEPTH || !self.seen_dirs.insert((meta.dev(), meta.ino())) {
                (self.warn)(format!("skipping {}: folder loop or nesting over {MAX_DEPTH}", local.display()));
                return Ok(());
            }
            self.push(local, rel.clone(), EntryKind::Dir, &meta);
            let mut children: Vec<_> = fs::read_dir(local)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", local.display())))?
                .collect::<io::Result<_>>()?;
            children.sort_by_key(|c| c.file_name());
            for c in children {
                let Ok(name) = c.file_name().into_string() else {
                    (self.warn)(format!("skipping {}: name is not UTF-8", c.path().display()));
                    continue;
                };
                if let Err(why) = crate::safety::check_rel_path(&name) {
                    (self.warn)(format!("skipping {}: {why}", c.path().display()));
                    continue;
                }
                let meta = c.metadata()?;
                self.visit(&c.path(), format!("{rel}/{name}"), meta, depth + 1)?;
            }
            // Only ancestors count as a loop; the same folder reached twice by
            // different links is sent twice.
            self.seen_dirs.remove(&(meta.dev(), meta.ino()));
        } else {
            (self.warn)(format!("skipping {}: not a regular file or folder", local.display()));
        }
        Ok(())
    }

    fn push(&mut self, local: &Path, path: String, kind: EntryKind, meta: &Metadata) {
        let (mtime, mtime_ns) = match meta.modified().map(|t| t.duration_since(UNIX_EPOCH)) {
            Ok(Ok(d)) => (i64::try_from(d.as_secs()).unwrap_or(i64::MAX), d.subsec_nanos()),
            _ => (meta.mtime(), u32::try_from(meta.mtime_nsec()).unwrap_or(0)),
        };
        let size = if kind == EntryKind::File { meta.len() } else { 0 };
        let mode = meta.permissions().mode() & 0o777;
        self.src.manifest.entries.push(Entry { path, kind, size, mode, mtime, mtime_ns });
        self.src.local.push(local.to_path_buf());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_tree_with_empty_dirs_and_skips_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("top");
        fs::create_dir_all(root.join("empty")).unwrap();
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("a/b/f.txt"), "hi").unwrap();
        std::os::unix::fs::symlink("a", root.join("link")).unwrap();
        let mut warnings = Vec::new();
        let src = build(std::slice::from_ref(&root), false, &mut |w| warnings.push(w)).unwrap();
        let paths: Vec<_> = src.manifest.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["top", "top/a", "top/a/b", "top/a/b/f.txt", "top/empty"]);
        assert_eq!(warnings.len(), 1);
        let src = build(&[root], true, &mut |_| {}).unwrap();
        assert!(src.manifest.entries.iter().any(|e| e.path == "top/link/b/f.txt"));
    }
}
