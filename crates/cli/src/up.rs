//! `sockit up`: every service on its default port, one table of where.
//!
//! Each service module offers `up(&UpContext)`, which starts it with its
//! defaults (and the shared `--bind`) and returns its rows. A service that
//! fails to start stops `up` with that service's error, since a user asked
//! for all of them.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use sockit_net::Shutdown;

use crate::common::{serve_until_signal, Listener, UpContext};
use crate::{chat, echo, http, time, transfer};

/// Flags of `sockit up`.
#[derive(Args, Debug, Clone)]
pub struct UpArgs {
    /// Address every service listens on (0.0.0.0 or :: for every interface).
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: String,
    /// Put every service on a free port chosen by the system instead of its
    /// default (to run beside another sockit, and for tests).
    #[arg(long)]
    pub any_port: bool,
}

/// Starts everything, prints the table, serves until Ctrl-C / SIGTERM.
pub async fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let ctx = UpContext { bind: args.bind, any_port: args.any_port, shutdown: shutdown.clone() };
    let mut rows: Vec<Listener> = Vec::new();
    rows.extend(echo::up(&ctx).await?);
    rows.extend(chat::up(&ctx).await?);
    rows.extend(http::up(&ctx).await?);
    rows.extend(transfer::up(&ctx).await?);
    rows.extend(time::up(&ctx).await?);
    print_table(&rows);
    serve_until_signal(&shutdown).await;
    Ok(ExitCode::SUCCESS)
}

fn print_table(rows: &[Listener]) {
    let w0 = rows.iter().map(|r| r.service.len()).max().unwrap_or(7).max(7);
    let w1 = rows.iter().map(|r| r.url.len()).max().unwrap_or(6).max(6);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "\n{:<w0$}  {:<w1$}  try it", "service", "listen");
    for r in rows {
        let _ = writeln!(err, "{:<w0$}  {:<w1$}  {}", r.service, r.url, r.try_it);
    }
    let _ = writeln!(err, "\nsockit is up; Ctrl-C stops everything.");
}
