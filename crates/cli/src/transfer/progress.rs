//! Progress on stderr: indicatif bars (total and current file, with rate and
//! ETA) on a terminal, one plain line per file otherwise, nothing with
//! `--quiet` but warnings. Summaries in words or as JSON (`--json`).
//! Every name and message goes through `sockit_net::text::escape_untrusted`
//! on its way to the terminal: on the receiver they come from the peer.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use sockit_net::text::escape_untrusted as esc;
use sockit_transfer::{human_bytes, FileOutcome, Progress};
use tracing::level_filters::LevelFilter;

/// How to show progress.
enum Mode {
    Bars { total: ProgressBar, file: ProgressBar },
    Lines,
    Quiet,
}

/// The CLI's [`Progress`].
pub struct CliProgress {
    mode: Mode,
    verb: &'static str,
}

/// Whether `-q` (or `RUST_LOG` at warn) is in force: the global flag lives in
/// the top-level CLI, so read it back from the logging level.
pub fn quiet() -> bool {
    LevelFilter::current() < LevelFilter::INFO
}

impl CliProgress {
    /// Bars on a terminal, lines otherwise, nothing when quiet. `verb` is
    /// `sent` or `received`.
    pub fn new(verb: &'static str) -> CliProgress {
        let mode = if quiet() {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            let total = multi.add(ProgressBar::new(0));
            total.set_style(
                ProgressStyle::with_template(
                    "{prefix:>8} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} ({msg})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            total.set_prefix("total");
            let file = multi.add(ProgressBar::new(0));
            file.set_style(
                ProgressStyle::with_template("{prefix:>8} [{bar:30}] {bytes}/{total_bytes} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            file.set_prefix("file");
            total.enable_steady_tick(Duration::from_millis(200));
            Mode::Bars { total, file }
        } else {
            Mode::Lines
        };
        CliProgress { mode, verb }
    }

    /// Removes the bars before the summary is printed.
    pub fn finish(&self) {
        if let Mode::Bars { total, file } = &self.mode {
            file.finish_and_clear();
            total.finish_and_clear();
        }
    }

    fn line(&self, text: String) {
        match &self.mode {
            Mode::Bars { total, .. } => total.println(text),
            Mode::Lines => eprintln!("{text}"),
            Mode::Quiet => {}
        }
    }
}

impl Progress for CliProgress {
    fn begin(&self, files: usize, total: u64) {
        if let Mode::Bars { total: bar, .. } = &self.mode {
            bar.set_length(total);
            bar.set_message(format!("{files} files"));
        }
    }

    fn file_begin(&self, path: &str, size: u64, offset: u64) {
        let path = esc(path);
        match &self.mode {
            Mode::Bars { total, file } => {
                total.inc(offset);
                file.set_length(size);
                file.set_position(offset);
                file.set_message(path.to_string());
            }
            Mode::Lines if offset > 0 => {
                eprintln!("resuming {path} at {} of {}", human_bytes(offset), human_bytes(size))
            }
            _ => {}
        }
    }

    fn advance(&self, bytes: u64) {
        if let Mode::Bars { total, file } = &self.mode {
            total.inc(bytes);
            file.inc(bytes);
        }
    }

    fn file_end(&self, path: &str, outcome: &FileOutcome) {
        let path = esc(path);
        match outcome {
            FileOutcome::Done(Some(to)) => {
                self.line(format!("{} {path} → {}", self.verb, esc(&to.display().to_string())))
            }
            FileOutcome::Done(None) => self.line(format!("{} {path}", self.verb)),
            FileOutcome::Present(size) => {
                if let Mode::Bars { total, .. } = &self.mode {
                    total.inc(*size);
                }
                self.line(format!("already there: {path}"))
            }
            FileOutcome::Failed(why) => tracing::warn!("{path}: {}", esc(why)),
        }
    }

    fn warn(&self, message: &str) {
        tracing::warn!("{}", esc(message));
    }
}

/// Bytes per second over `secs`, for summaries.
pub fn rate(bytes: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        bytes as f64 / secs
    } else {
        0.0
    }
}
