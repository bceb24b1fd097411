//! From a clean request path to something on disk, under the folder's
//! policies: symlinks that leave the root are refused (unless
//! `--follow-symlinks`), dotfiles hidden (unless `--hidden`), folders get
//! `index.html`, a listing, or a redirect to their `/` form.
//!
//! This runs on the blocking pool, only on cache misses: one `canonicalize`
//! per miss, never per hit.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::listing::{self, Policy, Row};

/// An open regular file.
#[derive(Debug)]
pub struct OpenFile {
    /// Canonical path.
    pub path: PathBuf,
    /// Open handle.
    pub file: File,
    /// Its metadata (taken from the handle).
    pub meta: Metadata,
}

/// Where a request leads.
#[derive(Debug)]
pub enum Found {
    /// A regular file.
    File(OpenFile),
    /// A folder asked for without its trailing slash.
    Redirect,
    /// A folder without `index.html`: its rows.
    Listing(Vec<Row>),
    /// Nothing we may serve.
    NotFound(&'static str),
}

/// The folder and its policies, as the resolver needs them.
#[derive(Debug, Clone)]
pub struct Root {
    /// Canonical root folder.
    pub dir: PathBuf,
    /// Serve dotfiles.
    pub hidden: bool,
    /// Follow symlinks out of the root.
    pub follow_symlinks: bool,
    /// Produce listings.
    pub listing: bool,
}

impl Root {
    /// Resolves `rel` (a clean path: see [`crate::path`]).
    pub fn find(&self, rel: impl AsRef<Path>, trailing_slash: bool) -> Found {
        let rel = rel.as_ref();
        let Some(canon) = self.inside(&self.dir.join(rel)) else { return Found::NotFound("missing or outside") };
        let Ok(meta) = std::fs::metadata(&canon) else { return Found::NotFound("unreadable") };
        if meta.is_dir() {
            if !trailing_slash {
                return Found::Redirect;
            }
            if let Some(index) = self.inside(&canon.join("index.html")) {
                if let Some(found) = open_file(index) {
                    return found;
                }
            }
            if !self.listing {
                return Found::NotFound("listing off");
            }
            let allowed = |p: &Path| self.inside(p).is_some();
            let policy = Policy { hidden: self.hidden, allowed: &allowed };
            return match listing::read_rows(&canon, policy) {
                Ok(rows) => Found::Listing(rows),
                Err(_) => Found::NotFound("unreadable folder"),
            };
        }
        if trailing_slash && !rel.as_os_str().is_empty() {
            return Found::NotFound("file asked for as a folder");
        }
        open_file(canon).unwrap_or(Found::NotFound("not a regular file"))
    }

    /// The canonical form of `path` if it exists and the policies allow it.
    pub fn inside(&self, path: &Path) -> Option<PathBuf> {
        let canon = std::fs::canonicalize(path).ok()?;
        match canon.strip_prefix(&self.dir) {
            Ok(rel) => {
                // A symlink may lead to a dotfile inside the root.
                let hidden = rel.components().any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
                (self.hidden || !hidden).then_some(canon)
            }
            Err(_) if self.follow_symlinks => Some(canon),
            Err(_) => {
                tracing::debug!(path = %path.display(), target = %canon.display(), "refused: symlink leads outside the root");
                None
            }
        }
    }
}

/// Opens a regular file.
pub fn open_file(path: PathBuf) -> Option<Found> {
    let file = File::open(&path).ok()?;
    let meta = file.metadata().ok()?;
    meta.is_file().then_some(Found::File(OpenFile { path, file, meta }))
}

/// Reads a whole (small) file.
pub fn read_all(mut file: &File, len: u64) -> io::Result<Bytes> {
    let mut buf = Vec::with_capacity(len as usize);
    file.read_to_end(&mut buf)?;
    Ok(buf.into())
}

/// A precompressed sibling (`x.css.br`) of `path`, if it is a regular file.
pub fn sibling(path: &Path, suffix: &str) -> Option<OpenFile> {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    let p = PathBuf::from(p);
    let file = File::open(&p).ok()?;
    let meta = file.metadata().ok()?;
    meta.is_file().then_some(OpenFile { path: p, file, meta })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(dir: &Path) -> Root {
        Root { dir: std::fs::canonicalize(dir).unwrap(), hidden: false, follow_symlinks: false, listing: true }
    }

    #[test]
    fn files_folders_symlinks_and_dotfiles() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"s").unwrap();
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/a.txt"), b"a").unwrap();
        std::fs::write(d.path().join(".env"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), d.path().join("leak")).unwrap();
        std::os::unix::fs::symlink(d.path().join("sub/a.txt"), d.path().join("ok-link")).unwrap();
        std::os::unix::fs::symlink(d.path().join(".env"), d.path().join("env-link")).unwrap();
        let r = root(d.path());
        assert!(matches!(r.find("sub/a.txt", false), Found::File(_)));
        assert!(matches!(r.find("sub", false), Found::Redirect));
        assert!(matches!(r.find("sub/a.txt", true), Found::NotFound(_)));
        assert!(matches!(r.find("leak", false), Found::NotFound(_)));
        assert!(matches!(r.find("ok-link", false), Found::File(_)));
        assert!(matches!(r.find("env-link", false), Found::NotFound(_)));
        assert!(matches!(r.find(".env", false), Found::NotFound(_)));
        match r.find("", true) {
            Found::Listing(rows) => {
                let names: Vec<_> = rows.iter().map(|r| r.name.to_str().unwrap()).collect();
                assert_eq!(names, ["sub", "ok-link"]);
            }
            other => panic!("{other:?}"),
        }
        let follow = Root { follow_symlinks: true, ..r.clone() };
        assert!(matches!(follow.find("leak", false), Found::File(_)));
        let hidden = Root { hidden: true, ..r };
        assert!(matches!(hidden.find(".env", false), Found::File(_)));
    }
}
