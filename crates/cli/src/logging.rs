//! Logging set-up: `tracing` to stderr; `-v` for more, `-q` for warnings only,
//! `RUST_LOG` wins over both.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the stderr subscriber.
pub fn init(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        // Its own report of a failed write is an `eprintln!`, which panics
        // when stderr is a closed pipe (`sockit … 2>&1 | head -1`) and would
        // take the logging task down with it. A lost log line is better.
        .log_internal_errors(false)
        .try_init();
}
