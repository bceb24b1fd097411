//! Messages: `sockit send --text "…"` and `sockit send -` (standard input).
//! The sender spools the message into a private file, which travels like
//! any file (sealed, BLAKE3-verified); the receiver prints it and removes
//! it (croc `-t`, wormhole `send --text`).

use std::fs;
use std::io::{IsTerminal, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// A spooled message: a private folder with one file, removed on drop.
pub struct Spool {
    dir: PathBuf,
    file: PathBuf,
}

impl Spool {
    fn create(name: &str) -> anyhow::Result<(Spool, fs::File)> {
        let tag: u64 =
            sockit_transfer::SendOptions::default().resume_key[..8].iter().fold(0, |a, b| a << 8 | u64::from(*b));
        let dir = std::env::temp_dir().join(format!("sockit-message-{tag:016x}"));
        fs::DirBuilder::new().mode(0o700).create(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let file = dir.join(name);
        let spool = Spool { dir, file };
        let f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&spool.file)
            .with_context(|| format!("cannot create {}", spool.file.display()))?;
        Ok((spool, f))
    }

    /// `--text TEXT`.
    pub fn text(text: &str) -> anyhow::Result<Spool> {
        let (spool, mut f) = Spool::create("message.txt")?;
        f.write_all(text.as_bytes()).context("cannot spool the message")?;
        Ok(spool)
    }

    /// `-`: standard input until it ends.
    pub async fn stdin() -> anyhow::Result<Spool> {
        let (spool, mut f) = Spool::create("stdin")?;
        tokio::task::spawn_blocking(move || std::io::copy(&mut std::io::stdin().lock(), &mut f))
            .await
            .context("the stdin thread failed")?
            .context("cannot read standard input")?;
        Ok(spool)
    }

    /// The spooled file.
    pub fn path(&self) -> &Path {
        &self.file
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Prints a received message on stdout and removes its file: as is when
/// stdout is a pipe or file, escaped on a terminal (the sender's bytes must
/// not move the cursor or reorder the line).
pub fn print(path: &Path) -> anyhow::Result<()> {
    let bytes = fs::read(path).with_context(|| format!("cannot read the message at {}", path.display()))?;
    let _ = fs::remove_file(path);
    let mut out = std::io::stdout().lock();
    if out.is_terminal() {
        // Line by line, so that the message's own line breaks stay.
        for line in bytes.split(|b| *b == b'\n') {
            writeln!(out, "{}", sockit_net::text::escape_untrusted_bytes(line))?;
        }
    } else {
        out.write_all(&bytes)?;
    }
    out.flush()?;
    Ok(())
}
