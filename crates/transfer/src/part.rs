//! The receiver's own files on disk: how a `.part` is created, how an
//! existing file is looked at, and how the receiver recognises a file it
//! wrote for a given sender (see [`crate::claim`]).
//!
//! DESIGN.md: "never write through a link or into something that is not a
//! regular file we created; never tell a peer anything about files it did
//! not send". So:
//! - A new `.part` is always a new inode: whatever holds the name (a hard
//!   link to a file outside `--out`, a symlink, a FIFO) is unlinked first,
//!   which removes that name only and never touches another name's data,
//!   and the file is created with `O_CREAT | O_EXCL | O_NOFOLLOW`. It gets
//!   the sender's resume verifier in the extended attribute [`XATTR`], on
//!   the open descriptor.
//! - An existing file is only ever read or written through a descriptor
//!   opened with `O_NOFOLLOW | O_NONBLOCK` (a FIFO cannot stall us), and
//!   only used when `fstat` on that descriptor says: a regular file, one
//!   link, owned by us, the same inode `lstat` saw, and it carries the
//!   verifier of this sender's claim for this path.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// The extended attribute that binds a file to the sender it was written
/// for: the [`crate::claim::verifier`] of that sender's claim.
pub const XATTR: &str = "user.sockit.resume";

/// Which inode a file is, to notice it being swapped between two opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

/// An existing file that passed every check, open.
#[derive(Debug)]
pub struct Own {
    /// The open descriptor (the checks were made on it).
    pub file: File,
    /// Its size.
    pub len: u64,
    /// Its inode.
    pub id: FileId,
}

/// Opens `path` (read-only, or read-write with `write`) if it is a regular
/// file with one link, owned by us, whose [`XATTR`] is `verifier`;
/// `None` for anything else (missing, a symlink, a hard link, someone
/// else's file, a file we did not write for this sender).
pub fn open_bound(path: &Path, verifier: &[u8; 32], write: bool) -> Option<Own> {
    // lstat first, so that no device or FIFO is ever opened at all.
    let seen = fs::symlink_metadata(path).ok().filter(|m| m.file_type().is_file())?;
    let file = OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let m = file.metadata().ok()?;
    let id = FileId { dev: m.dev(), ino: m.ino() };
    let own = m.file_type().is_file()
        && m.nlink() == 1
        && m.uid() == rustix::process::geteuid().as_raw()
        && id == FileId { dev: seen.dev(), ino: seen.ino() };
    if !own || binding(&file) != Some(*verifier) {
        return None;
    }
    // A regular file after all: back to ordinary blocking I/O for the
    // writer and the hasher.
    nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty())).ok()?;
    Some(Own { len: m.len(), file, id })
}

/// The [`XATTR`] of an open file, if it has one of the right length.
pub fn binding(file: &File) -> Option<[u8; 32]> {
    let mut v = [0u8; 32];
    match rustix::fs::fgetxattr(file, XATTR, &mut v[..]) {
        Ok(32) => Some(v),
        _ => None,
    }
}

/// Creates `path` as a new, empty file (read-write, mode 0600) bound to
/// `verifier`, unlinking whatever had that name. Returns the file and
/// whether the binding could be stored (a filesystem without user extended
/// attributes cannot: that file will not be resumable).
pub fn create_fresh(path: &Path, verifier: &[u8; 32]) -> io::Result<(File, bool)> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let file = OpenOptions::new()
        .read(true) // the checker hashes what was written
        .write(true)
        .create_new(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .mode(0o600)
        .open(path)?;
    let bound = rustix::fs::fsetxattr(&file, XATTR, verifier, rustix::fs::XattrFlags::empty()).is_ok();
    Ok((file, bound))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const V: [u8; 32] = [7; 32];

    #[test]
    fn a_fresh_file_is_bound_and_found_again() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.part");
        let (f, bound) = create_fresh(&p, &V).unwrap();
        assert!(bound, "the test filesystem keeps user xattrs");
        drop(f);
        fs::write(&p, b"abc").unwrap();
        let own = open_bound(&p, &V, false).unwrap();
        assert_eq!(own.len, 3);
        assert!(open_bound(&p, &[8; 32], false).is_none(), "another sender's verifier");
    }

    #[test]
    fn links_and_foreign_files_are_not_ours() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        let (f, _) = create_fresh(&outside, &V).unwrap();
        drop(f);
        fs::write(&outside, b"secret").unwrap();
        let hard = dir.path().join("hard.part");
        fs::hard_link(&outside, &hard).unwrap();
        let soft = dir.path().join("soft.part");
        std::os::unix::fs::symlink(&outside, &soft).unwrap();
        let plain = dir.path().join("plain.part");
        fs::write(&plain, b"planted").unwrap();
        // Even carrying the right verifier, a hard link or symlink is refused.
        assert!(open_bound(&hard, &V, false).is_none());
        assert!(open_bound(&soft, &V, false).is_none());
        assert!(open_bound(&plain, &V, false).is_none(), "no binding");
        // Creating fresh replaces the names, never the outside data.
        for p in [&hard, &soft, &plain] {
            let (mut f, _) = create_fresh(p, &V).unwrap();
            std::io::Write::write_all(&mut f, b"new bytes").unwrap();
        }
        assert_eq!(fs::read(&outside).unwrap(), b"secret");
        assert_eq!(fs::metadata(&outside).unwrap().nlink(), 1);
        assert!(fs::symlink_metadata(&soft).unwrap().is_file());
    }

    #[test]
    fn a_folder_or_fifo_is_never_opened() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("d.part");
        fs::create_dir(&d).unwrap();
        assert!(open_bound(&d, &V, false).is_none());
        assert!(create_fresh(&d, &V).is_err(), "a folder is not unlinked");
        let fifo = dir.path().join("f.part");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert!(open_bound(&fifo, &V, true).is_none());
    }
}
