//! `sockit time serve` / `sockit time query` (placeholder: not built yet).

use std::process::ExitCode;

use clap::Subcommand;

use crate::common::Listener;

/// Time subcommands.
#[derive(Subcommand, Debug)]
pub enum TimeCommand {
    /// Serve strftime, daytime, time and SNTP.
    Serve,
    /// Ask a time server.
    Query,
}

/// Runs a time subcommand.
pub async fn run(_cmd: TimeCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("time is not built yet in this version of sockit")
}

/// `sockit up`: nothing yet.
pub async fn up(_ctx: &crate::up::UpContext) -> anyhow::Result<Vec<Listener>> {
    Ok(Vec::new())
}

/// Flags of this service's load generator (placeholder).
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Server address.
    pub addr: String,
}

/// Runs this service's load generator (placeholder).
pub async fn bench(_args: BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("this benchmark is not built yet")
}
