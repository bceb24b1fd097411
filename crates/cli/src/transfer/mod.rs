//! `sockit send` / `sockit receive` (placeholder: not built yet).

use std::process::ExitCode;

use clap::Args;

use crate::common::Listener;

/// Flags of `sockit send`.
#[derive(Args, Debug, Clone)]
pub struct SendArgs {
    /// Files and folders to send.
    pub paths: Vec<std::path::PathBuf>,
}

/// Flags of `sockit receive`.
#[derive(Args, Debug, Clone)]
pub struct ReceiveArgs {}

/// Runs `sockit send`.
pub async fn send(_args: SendArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("send is not built yet in this version of sockit")
}

/// Runs `sockit receive`.
pub async fn receive(_args: ReceiveArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("receive is not built yet in this version of sockit")
}

/// `sockit up`: nothing yet.
pub async fn up(_ctx: &crate::up::UpContext) -> anyhow::Result<Vec<Listener>> {
    Ok(Vec::new())
}
