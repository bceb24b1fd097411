//! `sockit up`: every service on its default port, one table of where.
//!
//! Each service module offers `up(&UpContext)`, which starts it with its
//! defaults (and the shared `--bind`) and returns its rows. A service that
//! fails to start stops `up` with that service's error, since a user asked
//! for all of them. `up --tls` passes `--tls` to every service whose own
//! flags have it (the stream services), so they all serve the one
//! self-signed certificate, whose fingerprint ends the table.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, FromArgMatches};
use sockit_net::Shutdown;

use crate::common::{serve_until_signal, Listener, UpContext};
use crate::tls_args::ServerTlsArgs;
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
    /// TLS on every stream service that has it (echo over TCP, https),
    /// with the self-signed certificate.
    #[arg(long)]
    pub tls: bool,
}

/// Starts everything, prints the table, serves until Ctrl-C / SIGTERM.
pub async fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let ctx = UpContext { bind: args.bind, any_port: args.any_port, tls: args.tls, shutdown: shutdown.clone() };
    let mut rows: Vec<Listener> = Vec::new();
    rows.extend(echo::up(&ctx).await?);
    rows.extend(chat::up(&ctx).await?);
    rows.extend(http::up(&ctx).await?);
    rows.extend(transfer::up(&ctx).await?);
    rows.extend(time::up(&ctx).await?);
    let certificate = if args.tls { Some(certificate_line()?) } else { None };
    print_table(&rows, certificate.as_deref());
    serve_until_signal(&shutdown).await;
    Ok(ExitCode::SUCCESS)
}

/// The certificate the `--tls` services serve: the self-signed one (what
/// `--tls` alone gives each of them), as `tls certificate PATH sha256 FP`.
fn certificate_line() -> anyhow::Result<String> {
    let command = ServerTlsArgs::augment_args(clap::Command::new("up")).no_binary_name(true);
    let flags = ServerTlsArgs::from_arg_matches(&command.try_get_matches_from(["--tls"])?)?;
    let tls = flags.server(&[])?.context("--tls gives a certificate")?;
    Ok(tls.announce_line())
}

/// The table, then `footer` (the certificate line under `--tls`).
fn print_table(rows: &[Listener], footer: Option<&str>) {
    let w0 = rows.iter().map(|r| r.service.len()).max().unwrap_or(7).max(7);
    let w1 = rows.iter().map(|r| r.url.len()).max().unwrap_or(6).max(6);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "\n{:<w0$}  {:<w1$}  try it", "service", "listen");
    for r in rows {
        let _ = writeln!(err, "{:<w0$}  {:<w1$}  {}", r.service, r.url, r.try_it);
    }
    if let Some(line) = footer {
        let _ = writeln!(err, "{line}");
    }
    let _ = writeln!(err, "\nsockit is up; Ctrl-C stops everything.");
}
