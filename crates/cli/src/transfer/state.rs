//! The sender's resume key ([`sockit_transfer::claim`]), kept in its state
//! folder so that the same `sockit send` run again resumes: a receiver only
//! offers resume data for files it wrote for the same key.
//!
//! Where: `$SOCKIT_STATE_DIR`, else `$XDG_STATE_HOME/sockit`, else
//! `~/.local/state/sockit`; the file `transfer-resume-key` (32 random
//! bytes, mode 0600, folder 0700).

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Name of the key file in the state folder.
const KEY_FILE: &str = "transfer-resume-key";

/// This user's resume key, created on first use. When it cannot be kept,
/// a warning and a random key: the session works, but a rerun does not resume.
pub fn resume_key() -> [u8; 32] {
    match load_or_create() {
        Ok(key) => key,
        Err(e) => {
            tracing::warn!("{e:#} — an interrupted transfer will start over (set SOCKIT_STATE_DIR)");
            sockit_transfer::SendOptions::default().resume_key
        }
    }
}

fn state_dir() -> Option<PathBuf> {
    std::env::var_os("SOCKIT_STATE_DIR")
        .map(PathBuf::from)
        .or_else(|| dirs::state_dir().map(|d| d.join("sockit")))
        .or_else(|| dirs::home_dir().map(|h| h.join(".local/state/sockit")))
}

fn load_or_create() -> anyhow::Result<[u8; 32]> {
    let dir = state_dir().context("no state folder for the resume key")?;
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(KEY_FILE);
    if let Some(key) = read_key(&path)? {
        return Ok(key);
    }
    // Written under a private name and linked into place, so that two
    // senders starting at once end up with the same key.
    let tmp = dir.join(format!(".{KEY_FILE}.{}", std::process::id()));
    let key = sockit_transfer::SendOptions::default().resume_key;
    let write = || -> io::Result<()> {
        let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(&key)?;
        f.sync_all()?;
        match fs::hard_link(&tmp, &path) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
            _ => Ok(()),
        }
    };
    let written = write();
    let _ = fs::remove_file(&tmp);
    written.with_context(|| format!("cannot write {}", path.display()))?;
    read_key(&path)?.with_context(|| format!("{} vanished", path.display()))
}

/// The key in `path`, `None` when there is no such file.
fn read_key(path: &Path) -> anyhow::Result<Option<[u8; 32]>> {
    // Our own 0700 folder; still, a symlink planted there is not followed.
    if fs::symlink_metadata(path).is_ok_and(|m| !m.is_file()) {
        anyhow::bail!("{} is not a regular file — delete it", path.display());
    }
    let mut f = match OpenOptions::new().read(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut key = [0u8; 32];
    let mut rest = Vec::new();
    f.read_exact(&mut key)
        .and_then(|()| f.read_to_end(&mut rest))
        .ok()
        .filter(|&n| n == 0)
        .with_context(|| format!("{} is not a resume key (32 bytes) — delete it", path.display()))?;
    Ok(Some(key))
}
