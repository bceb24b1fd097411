//! The `sockit` binary: parses the command line and hands each subcommand to
//! its module. Services live in the library crates; this crate only wires
//! flags to them, prints, and draws progress.

mod bench;
mod chat;
mod cli;
mod common;
mod echo;
mod http;
mod logging;
mod netcat;
mod time;
mod tls_args;
mod transfer;
mod up;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    logging::init(cli.verbose, cli.quiet);
    // Before anything can build a TLS config: no code path may find rustls
    // without a process-level crypto provider.
    sockit_net::tls::install_default_provider();
    // Servers hold thousands of sockets; the default soft limit is often 1024.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::debug!(error = %e, "could not raise the open-file limit");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sockit: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(cli.command.run());
    // A blocked stdin reader must not hold the process open after the work is done.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sockit: {e:#}");
            ExitCode::FAILURE
        }
    }
}
