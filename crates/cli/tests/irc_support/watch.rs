//! Waiting for text to show up in what a client writes: files (ii's `out`,
//! WeeChat's logs) and screens (tmux capture-pane). Every wait is bounded
//! by [`WAIT`](super::WAIT) and fails with what was there instead.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::WAIT;

/// Calls `probe` every 50 ms until it returns `Some`, for at most `WAIT`;
/// on time-out panics with `what` and the last `show()`.
pub fn poll<T>(what: &str, mut probe: impl FnMut() -> Option<T>, show: impl Fn() -> String) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {WAIT:?} waiting for {what}; there was:\n{}", show());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The index of the first line at or after `from` that contains every piece.
pub fn find_line(text: &str, from: usize, pieces: &[&str]) -> Option<usize> {
    text.lines().enumerate().skip(from).find(|(_, l)| pieces.iter().all(|p| l.contains(p))).map(|(i, _)| i)
}

/// A file a client appends to, read with a cursor so that each expected
/// line is looked for only after the previous one of this file.
pub struct FileWatch {
    path: PathBuf,
    next_line: usize,
}

impl FileWatch {
    /// Watches `path` (which need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> FileWatch {
        FileWatch { path: path.into(), next_line: 0 }
    }

    /// The watched file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits for a line (after the previous match) containing every piece;
    /// returns it.
    pub fn expect(&mut self, pieces: &[&str]) -> String {
        let path = self.path.clone();
        let from = self.next_line;
        let (i, line) = poll(
            &format!("a line with {pieces:?} in {}", path.display()),
            || {
                let text = std::fs::read_to_string(&path).ok()?;
                let i = find_line(&text, from, pieces)?;
                Some((i, text.lines().nth(i).unwrap_or_default().to_string()))
            },
            || std::fs::read_to_string(&path).unwrap_or_else(|e| format!("({e})")),
        );
        self.next_line = i + 1;
        line
    }

    /// Everything in the file now.
    pub fn contents(&self) -> String {
        std::fs::read_to_string(&self.path).unwrap_or_default()
    }
}

/// Waits until `path` exists.
pub fn wait_exists(path: &Path) {
    poll(&format!("{} to exist", path.display()), || path.exists().then_some(()), String::new);
}

/// The write ends of the FIFOs a client reads its commands from, kept open
/// for the client's life. Opening, writing and closing for each line races
/// the reader: ii and WeeChat close and reopen a FIFO when its last writer
/// goes, and a line written just before that close is lost with the pipe.
/// With a writer held open, the reader never sees end-of-file.
#[derive(Default)]
pub struct Fifos {
    open: std::collections::HashMap<PathBuf, std::fs::File>,
}

impl Fifos {
    /// Writes `line` and a newline into the FIFO at `path`, once it exists
    /// and its reader (the client) has it open: ENXIO (no reader yet) is
    /// retried, so the open never blocks past the deadline. A pipe whose
    /// reader went away (a channel the client left) is opened again once.
    pub fn write(&mut self, path: &Path, line: &str) {
        let bytes = format!("{line}\n");
        for _ in 0..2 {
            let f = self.open.entry(path.to_path_buf()).or_insert_with(|| open_writer(path));
            // The descriptor is non-blocking; a client's lines are far
            // smaller than a pipe's 64 KiB, so a full pipe is a stuck client.
            match f.write_all(bytes.as_bytes()) {
                Ok(()) => return,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                    self.open.remove(path);
                }
                Err(e) => panic!("cannot write to {}: {e}", path.display()),
            }
        }
        panic!("{} has no reader", path.display());
    }
}

/// Opens the write end of the FIFO at `path` once a reader has it open.
fn open_writer(path: &Path) -> std::fs::File {
    wait_exists(path);
    poll(
        &format!("{} to have a reader", path.display()),
        || std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(path).ok(),
        String::new,
    )
}
