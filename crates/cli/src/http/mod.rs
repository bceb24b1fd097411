//! `sockit http` (placeholder: not built yet).

use clap::Args;
use sockit_net::Shutdown;

use crate::common::Listener;

/// Flags of `sockit http`.
#[derive(Args, Debug, Clone)]
pub struct HttpArgs {
    /// Folder to serve.
    #[arg(default_value = ".")]
    pub dir: std::path::PathBuf,
}

/// Starts the HTTP server.
pub async fn start(_args: HttpArgs, _shutdown: Shutdown) -> anyhow::Result<Vec<Listener>> {
    anyhow::bail!("http is not built yet in this version of sockit")
}

/// `sockit up`: nothing yet.
pub async fn up(_ctx: &crate::up::UpContext) -> anyhow::Result<Vec<Listener>> {
    Ok(Vec::new())
}
