//! `sockit time …`: serve strftime, daytime, time and SNTP; query them; and
//! the SNTP load generator behind `sockit bench sntp`.

mod bench;
mod query;
mod serve;

use std::process::ExitCode;

use clap::Subcommand;

pub use bench::{bench, BenchArgs};

use crate::common::Listener;

/// Time subcommands.
#[derive(Subcommand, Debug)]
pub enum TimeCommand {
    /// Serve strftime (UDP 9000), daytime (TCP+UDP 9013), time (TCP+UDP 9037)
    /// and SNTP (UDP 9123).
    Serve(serve::ServeArgs),
    /// Ask a time server: strftime, daytime, time or SNTP (offset and delay).
    Query(query::QueryArgs),
}

/// Runs a time subcommand.
pub async fn run(cmd: TimeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TimeCommand::Serve(args) => crate::common::serve(|s| serve::start(args, s)).await,
        TimeCommand::Query(args) => query::run(args).await,
    }
}

/// `sockit up`: every time service on its default port.
pub async fn up(ctx: &crate::common::UpContext) -> anyhow::Result<Vec<Listener>> {
    let [strftime, daytime, time, sntp] = [9000, 9013, 9037, 9123].map(|p| ctx.port(p).to_string());
    let flags = ["--strftime-port", &strftime, "--daytime-port", &daytime, "--time-port", &time, "--sntp-port", &sntp];
    serve::start(ctx.args(&flags)?, ctx.shutdown.clone()).await
}
