//! The command line: one subcommand per service, dispatched to its module.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::common::serve;
use crate::{bench, chat, echo, http, netcat, time, transfer, up};

/// sockit — echo, netcat, chat, static HTTP, file transfer and time, in one binary.
#[derive(Parser, Debug)]
#[command(name = "sockit", version, about, propagate_version = true)]
pub struct Cli {
    /// More logging (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors (no access logs).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start every service on its default port and print where each listens.
    Up(up::UpArgs),
    /// Echo server over TCP, UDP or a Unix socket (RFC 862).
    Echo(echo::EchoArgs),
    /// Connect to HOST:PORT: stdin to the socket, the socket to stdout (like nc).
    Connect(netcat::ConnectArgs),
    /// Listen for one peer: stdin to it, it to stdout (like nc -l).
    Listen(netcat::ListenArgs),
    /// Chat room server and terminal client.
    #[command(subcommand)]
    Chat(chat::ChatCommand),
    /// Serve a folder over HTTP, with listings and templates.
    Http(http::HttpArgs),
    /// Send files and folders to a receiver.
    Send(transfer::SendArgs),
    /// Receive files and folders from a sender.
    Receive(transfer::ReceiveArgs),
    /// Time services (strftime, daytime, time, SNTP) and a client.
    #[command(subcommand)]
    Time(time::TimeCommand),
    /// Load generators that measure a server.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

impl Command {
    /// Runs the subcommand to completion.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Command::Up(args) => up::run(args).await,
            Command::Echo(args) => serve(|s| echo::start(args, s)).await,
            Command::Connect(args) => netcat::connect(args).await,
            Command::Listen(args) => netcat::listen(args).await,
            Command::Chat(cmd) => chat::run(cmd).await,
            Command::Http(args) => serve(|s| http::start(args, s)).await,
            Command::Send(args) => transfer::send(args).await,
            Command::Receive(args) => transfer::receive(args).await,
            Command::Time(cmd) => time::run(cmd).await,
            Command::Bench(cmd) => bench::run(cmd).await,
            Command::Completions { shell } => {
                clap_complete::generate(shell, &mut Cli::command(), "sockit", &mut std::io::stdout());
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}
