//! `sockit bench …`: load generators. Each prints a human summary and one
//! `key=value` line a script can parse (bench/*.sh compute ratios from it).

mod echo;
pub mod stats;

use std::process::ExitCode;

use clap::Subcommand;

/// Benchmarks.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Load an echo server: ping-pong round trips, bulk streaming, or idle connections.
    Echo(echo::EchoBenchArgs),
    /// Load a chat server: members, senders, delivery ratio and latency.
    Chat(crate::chat::BenchArgs),
    /// Load an SNTP server: requests/s and latency.
    Sntp(crate::time::BenchArgs),
}

/// Runs a benchmark.
pub async fn run(cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Echo(args) => echo::run(args).await,
        BenchCommand::Chat(args) => crate::chat::bench(args).await,
        BenchCommand::Sntp(args) => crate::time::bench(args).await,
    }
}
