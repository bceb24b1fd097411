//! `sockit chat serve`, `sockit chat join`, and `sockit bench chat`.
//!
//! The room itself lives in the sockit-chat crate; this module maps flags to
//! its [`sockit_chat::ChatConfig`], runs the terminal client, and drives the
//! load generator.

mod bench;
mod client;
mod serve;
mod show;

use std::process::ExitCode;

use clap::Subcommand;

use crate::common::Listener;

pub use bench::{bench, BenchArgs};
pub use serve::ServeArgs;

/// Chat subcommands.
#[derive(Subcommand, Debug)]
pub enum ChatCommand {
    /// Run a chat room server (TCP and UDP on the same port; nc, telnet and
    /// `sockit chat join` are clients; browsers use the web port).
    Serve(Box<ServeArgs>),
    /// Join a chat room from the terminal.
    Join(client::JoinArgs),
}

/// Runs a chat subcommand.
pub async fn run(cmd: ChatCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ChatCommand::Serve(args) => crate::common::serve(|s| serve::start(*args, s)).await,
        ChatCommand::Join(args) => client::run(args).await,
    }
}

/// `sockit up`: the chat server on its defaults.
pub async fn up(ctx: &crate::common::UpContext) -> anyhow::Result<Vec<Listener>> {
    let port = ctx.port(serve::DEFAULT_PORT).to_string();
    let web_port = ctx.port(serve::DEFAULT_WEB_PORT).to_string();
    // Used only when TLS flags are passed too (`up --tls`).
    let tls_port = ctx.port(serve::DEFAULT_TLS_PORT).to_string();
    let irc_port = ctx.port(serve::DEFAULT_IRC_PORT).to_string();
    let irc_tls_port = ctx.port(serve::DEFAULT_IRC_TLS_PORT).to_string();
    let flags = [
        "--port",
        &port,
        "--web-port",
        &web_port,
        "--tls-port",
        &tls_port,
        "--irc-port",
        &irc_port,
        "--irc-tls-port",
        &irc_tls_port,
    ];
    serve::start(ctx.args(&flags)?, ctx.shutdown.clone()).await
}
