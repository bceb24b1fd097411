//! Receiver safety: which names are acceptable, where files may be written,
//! how much space there is, and how to place a finished file without
//! overwriting anything.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Longest accepted relative path, bytes.
pub const MAX_PATH: usize = 4096;
/// Longest accepted path component, bytes.
pub const MAX_COMPONENT: usize = 255;

/// Checks a manifest path: relative, `/`-separated, no `..`, `.`, empty
/// components, NUL or other control characters, bidi controls, invisible or
/// layout characters (`sockit_net::text::is_unsafe`), backslashes or drive
/// letters.
/// Returns why it is refused.
pub fn check_rel_path(p: &str) -> Result<(), &'static str> {
    if p.is_empty() {
        return Err("empty path");
    }
    if p.len() > MAX_PATH {
        return Err("path too long");
    }
    if p.bytes().any(|b| b == 0) {
        return Err("contains NUL");
    }
    if p.chars().any(char::is_control) {
        return Err("contains control characters");
    }
    if p.chars().any(sockit_net::text::is_unsafe) {
        // They make a name show as another (`gpj.exe` shown as `exe.jpg`).
        return Err("contains bidirectional, invisible or layout characters");
    }
    if p.starts_with('/') {
        return Err("absolute path");
    }
    if p.contains('\\') {
        return Err("contains a backslash");
    }
    let b = p.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return Err("drive letter");
    }
    for c in p.split('/') {
        match c {
            "" => return Err("empty component"),
            "." | ".." => return Err("`.` or `..` component"),
            _ if c.len() > MAX_COMPONENT => return Err("component too long"),
            _ => {}
        }
    }
    Ok(())
}

/// Joins a checked relative path to `root`, creating the missing parent
/// folders, and refuses when an existing parent is a symlink or not a folder
/// (so a pre-existing link inside `--out` cannot lead writes outside it).
pub fn prepare_parent(root: &Path, rel: &str) -> io::Result<PathBuf> {
    let mut path = root.to_path_buf();
    let mut parts = rel.split('/').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            path.push(part);
            break;
        }
        path.push(part);
        ensure_dir(&path)?;
    }
    Ok(path)
}

/// Creates `path` as a folder unless it is one; a symlink or file there is an
/// error.
pub fn ensure_dir(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a folder (symlinks are not followed)", path.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(path) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => ensure_dir(path),
            other => other,
        },
        Err(e) => Err(e),
    }
}

/// Bytes available to an unprivileged user on the filesystem holding `dir`.
pub fn free_space(dir: &Path) -> io::Result<u64> {
    let st = nix::sys::statvfs::statvfs(dir).map_err(io::Error::from)?;
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Ok((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
}

/// `name (n).ext` for `name.ext` (the choice of browsers and croc when a
/// name is taken).
pub fn numbered(path: &Path, n: u32) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem} ({n}).{}", ext.to_string_lossy()),
        None => format!("{stem} ({n})"),
    };
    path.with_file_name(name)
}

/// Moves a finished `.part` file to `target`. Without `overwrite` an existing
/// file is kept and the new one gets the first free `name (n).ext`; the move
/// never replaces anything (`renameat2(RENAME_NOREPLACE)`, or a hard link
/// where that is not supported). Returns where the file went.
pub fn place(part: &Path, target: &Path, overwrite: bool) -> io::Result<PathBuf> {
    if overwrite {
        if fs::symlink_metadata(target).map(|m| m.is_dir()).unwrap_or(false) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "a folder has that name"));
        }
        fs::rename(part, target)?;
        return Ok(target.to_path_buf());
    }
    for n in 0..10_000u32 {
        let candidate = if n == 0 { target.to_path_buf() } else { numbered(target, n) };
        match rename_noreplace(part, &candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(io::ErrorKind::AlreadyExists, "no free name (tried 10000)"))
}

fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
        match renameat2(AT_FDCWD, from, AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE) {
            Ok(()) => return Ok(()),
            Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOSYS) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // Filesystems without RENAME_NOREPLACE: link() also refuses to replace.
    fs::hard_link(from, to)?;
    fs::remove_file(from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_ordinary_paths() {
        for p in ["a", "a/b.txt", "ünï/cødé ✓.txt", "x..y", ".hidden/f", "日本/ファイル.txt"] {
            assert!(check_rel_path(p).is_ok(), "{p}");
        }
    }

    #[test]
    fn disguised_names_refused() {
        for p in
            ["evil\u{202e}gpj.exe", "a\u{200b}b", "x\u{2066}y", "soft\u{ad}hyphen", "line\u{2028}sep", "\u{feff}bom"]
        {
            assert_eq!(check_rel_path(p), Err("contains bidirectional, invisible or layout characters"), "{p:?}");
        }
    }

    #[test]
    fn numbered_names() {
        assert_eq!(numbered(Path::new("d/a.txt"), 1), Path::new("d/a (1).txt"));
        assert_eq!(numbered(Path::new("d/Makefile"), 2), Path::new("d/Makefile (2)"));
    }

    #[test]
    fn place_keeps_both() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.txt");
        fs::write(&target, "old").unwrap();
        let part = dir.path().join("a.txt.part");
        fs::write(&part, "new").unwrap();
        let went = place(&part, &target, false).unwrap();
        assert_eq!(went, dir.path().join("a (1).txt"));
        assert_eq!(fs::read_to_string(&target).unwrap(), "old");
        fs::write(&part, "newer").unwrap();
        assert_eq!(place(&part, &target, true).unwrap(), target);
        assert_eq!(fs::read_to_string(&target).unwrap(), "newer");
    }

    #[test]
    fn symlinked_parent_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        assert!(prepare_parent(dir.path(), "link/x").is_err());
        assert!(prepare_parent(dir.path(), "ok/x").is_ok());
        assert!(free_space(dir.path()).unwrap() > 0);
    }

    proptest! {
        #[test]
        fn accepted_paths_stay_inside(p in "[a-z./\\\\:]{0,12}") {
            if check_rel_path(&p).is_ok() {
                let joined = Path::new("/root").join(&p);
                prop_assert!(joined.starts_with("/root"));
                prop_assert!(joined.components().all(|c| !matches!(c, std::path::Component::ParentDir)));
            }
        }
    }
}
