//! `sockit chat serve` and `sockit chat join` (placeholder: not built yet).

use std::process::ExitCode;

use clap::Subcommand;

use crate::common::Listener;

/// Chat subcommands.
#[derive(Subcommand, Debug)]
pub enum ChatCommand {
    /// Run a chat room server.
    Serve,
    /// Join a chat room from the terminal.
    Join,
}

/// Runs a chat subcommand.
pub async fn run(_cmd: ChatCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("chat is not built yet in this version of sockit")
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
