//! `sockit bench …`: load generators. Each prints a human summary and one
//! `key=value` line a script can parse (bench/*.sh compute ratios from it).

mod echo;
pub mod stats;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Connects opened at once, so a burst of thousands does not overflow the
/// server's listen backlog.
pub const CONNECT_PARALLEL: usize = 256;

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

/// Opens `n` TCP connections to `addr` (no-delay), at most `parallel`
/// connecting at once (usually [`CONNECT_PARALLEL`]; fewer for a server
/// with a short listen backlog, which otherwise drops handshakes that the
/// client then retries for seconds).
pub async fn open_all(addr: SocketAddr, n: usize, parallel: usize) -> anyhow::Result<Vec<TcpStream>> {
    let gate = Arc::new(Semaphore::new(parallel.max(1)));
    let mut pending = Vec::with_capacity(n);
    for _ in 0..n {
        let gate = gate.clone();
        pending.push(tokio::spawn(async move {
            let _slot = gate.acquire_owned().await;
            let s = TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            std::io::Result::Ok(s)
        }));
    }
    let mut conns = Vec::with_capacity(n);
    for p in pending {
        conns.push(p.await?.with_context(|| format!("connecting to {addr}"))?);
    }
    Ok(conns)
}
