//! `sockit bench sntp`: a closed-loop SNTP load generator.
//!
//! `--concurrency` clients, each with its own UDP socket, send a request,
//! wait for the matching reply (origin timestamp = our transmit timestamp),
//! and repeat until `--secs` are up. Reports replies/s and latency
//! percentiles; a request unanswered within `--timeout-ms` counts as lost and
//! the client moves on. Kiss-o'-death replies are counted apart: they mean the
//! server's rate limit, not its speed, is being measured.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use clap::Args;
use sockit_time::client::{sntp_request, sntp_sample, ReplyError};
use sockit_time::timestamp::NtpTimestamp;
use tokio::net::UdpSocket;

use crate::bench::stats::Latency;

/// Flags of `sockit bench sntp`.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// SNTP server, HOST[:PORT] (default port 9123).
    pub addr: String,
    /// Seconds to run.
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
    /// Clients asking at once, each with its own socket.
    #[arg(short, long, default_value_t = 16)]
    pub concurrency: usize,
    /// Milliseconds to wait for a reply before counting it lost.
    #[arg(long, default_value_t = 1000)]
    pub timeout_ms: u64,
}

#[derive(Default)]
struct Tally {
    latency: Latency,
    ok: u64,
    lost: u64,
    kod: u64,
    bad: u64,
}

/// Runs the load and prints a summary and one `key=value` line.
pub async fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let addr = sockit_net::addr::resolve_peer(&args.addr, 9123)?;
    let secs = Duration::try_from_secs_f64(args.secs).context("--secs takes a number of seconds")?;
    anyhow::ensure!(args.concurrency >= 1, "--concurrency must be at least 1");
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let deadline = Instant::now() + secs;
    let mut tasks = Vec::with_capacity(args.concurrency);
    for _ in 0..args.concurrency {
        let local: SocketAddr = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse()?;
        let socket = UdpSocket::bind(local).await.context("opening a UDP socket")?;
        socket.connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
        tasks.push(tokio::spawn(client(socket, deadline, timeout)));
    }
    let mut total = Tally::default();
    for t in tasks {
        let one = t.await.context("a load task failed")?;
        total.latency.merge(&one.latency);
        total.ok += one.ok;
        total.lost += one.lost;
        total.kod += one.kod;
        total.bad += one.bad;
    }
    let elapsed = secs.as_secs_f64();
    let per_s = total.ok as f64 / elapsed;
    println!(
        "sntp: {} clients, {elapsed} s: {per_s:.0} replies/s, p50 {} µs, p99 {} µs, lost {}, kiss-o'-death {}, bad {}",
        args.concurrency,
        total.latency.quantile_us(0.5),
        total.latency.quantile_us(0.99),
        total.lost,
        total.kod,
        total.bad
    );
    println!(
        "mode=sntp concurrency={} secs={elapsed} replies={} rps={per_s:.0} {} lost={} kod={} bad={}",
        args.concurrency,
        total.ok,
        total.latency.summary(),
        total.lost,
        total.kod,
        total.bad
    );
    Ok(if total.ok > 0 && total.bad == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn client(socket: UdpSocket, deadline: Instant, timeout: Duration) -> Tally {
    let mut tally = Tally::default();
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        let t1 = SystemTime::now();
        let sent = NtpTimestamp::from_system(t1);
        let start = Instant::now();
        if socket.send(&sntp_request(sent)).await.is_err() {
            tally.bad += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        let wait_until = tokio::time::Instant::from_std(start + timeout);
        loop {
            let n = match tokio::time::timeout_at(wait_until, socket.recv(&mut buf)).await {
                Err(_) => {
                    tally.lost += 1;
                    break;
                }
                Ok(Err(_)) => {
                    // ICMP port unreachable: nothing listens (yet).
                    tally.bad += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    break;
                }
                Ok(Ok(n)) => n,
            };
            match sntp_sample(&buf[..n], sent, t1, SystemTime::now()) {
                Ok(_) => {
                    tally.latency.record(start.elapsed());
                    tally.ok += 1;
                    break;
                }
                Err(ReplyError::Mismatch) => continue, // a late reply to a lost request
                Err(ReplyError::Kiss(_)) => {
                    tally.kod += 1;
                    break;
                }
                Err(_) => {
                    tally.bad += 1;
                    break;
                }
            }
        }
    }
    tally
}
