//! `sockit bench echo`: three loads on an echo server.
//!
//! - ping-pong (default): every connection writes `--size` bytes, waits for
//!   them back, and repeats; reports round trips/s and latency percentiles.
//! - `--stream`: every connection writes `--size` chunks as fast as it can
//!   while reading the echo; reports echoed bytes/s.
//! - `--hold`: opens `--connections` and holds them idle for `--secs`, then
//!   checks each still echoes one byte; the caller measures server memory.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::stats::Latency;

/// Idle connections checked at once at the end of `--hold`.
const CHECK_PARALLEL: usize = 256;

/// Flags of `sockit bench echo`.
#[derive(Args, Debug, Clone)]
pub struct EchoBenchArgs {
    /// Echo server, HOST:PORT.
    pub addr: String,
    /// Concurrent connections.
    #[arg(short, long, default_value_t = 1)]
    pub connections: usize,
    /// Bytes per message (ping-pong) or per write (stream).
    #[arg(short, long, default_value_t = 64)]
    pub size: usize,
    /// Seconds to run (or to hold, with --hold).
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
    /// Stream bulk data instead of ping-pong.
    #[arg(long, conflicts_with = "hold")]
    pub stream: bool,
    /// Hold idle connections instead of sending.
    #[arg(long)]
    pub hold: bool,
}

/// Runs the benchmark and prints its results.
pub async fn run(args: EchoBenchArgs) -> anyhow::Result<ExitCode> {
    let addr = sockit_net::addr::resolve_peer(&args.addr, 9999)?;
    let secs = Duration::try_from_secs_f64(args.secs).context("--secs takes a number of seconds")?;
    let started = Instant::now();
    let conns = super::open_all(addr, args.connections, super::CONNECT_PARALLEL).await?;
    eprintln!("opened {} connections in {:.2?}", conns.len(), started.elapsed());
    if args.hold {
        return hold(conns, secs).await;
    }
    let deadline = Instant::now() + secs;
    let bytes = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(conns.len());
    for stream in conns {
        let bytes = bytes.clone();
        let size = args.size;
        if args.stream {
            tasks.push(tokio::spawn(async move {
                stream_one(stream, size, deadline, bytes).await.map(|_| Latency::default())
            }));
        } else {
            tasks.push(tokio::spawn(async move { ping_pong(stream, size, deadline, bytes).await }));
        }
    }
    let mut latency = Latency::default();
    let mut errors = 0;
    for t in tasks {
        match t.await {
            Ok(Ok(l)) => latency.merge(&l),
            _ => errors += 1,
        }
    }
    let elapsed = secs.as_secs_f64();
    let total = bytes.load(Ordering::Relaxed);
    let mb_s = total as f64 / elapsed / 1e6;
    if args.stream {
        println!("stream: {} connections, {} B writes: {mb_s:.1} MB/s echoed", args.connections, args.size);
        println!(
            "mode=stream connections={} size={} secs={elapsed} bytes={total} mb_per_sec={mb_s:.1} errors={errors}",
            args.connections, args.size
        );
    } else {
        let rts = latency.count();
        let per_s = rts as f64 / elapsed;
        println!(
            "ping-pong: {} connections, {} B: {per_s:.0} round trips/s, p50 {} µs, p99 {} µs",
            args.connections,
            args.size,
            latency.quantile_us(0.5),
            latency.quantile_us(0.99)
        );
        println!(
            "mode=pingpong connections={} size={} secs={elapsed} round_trips={rts} rt_per_sec={per_s:.0} mb_per_sec={mb_s:.1} {} errors={errors}",
            args.connections,
            args.size,
            latency.summary()
        );
    }
    Ok(if errors == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn ping_pong(
    mut s: TcpStream,
    size: usize,
    deadline: Instant,
    bytes: Arc<AtomicU64>,
) -> std::io::Result<Latency> {
    let msg = vec![b'x'; size];
    let mut back = vec![0u8; size];
    let mut latency = Latency::default();
    while Instant::now() < deadline {
        let t = Instant::now();
        s.write_all(&msg).await?;
        s.read_exact(&mut back).await?;
        latency.record(t.elapsed());
        bytes.fetch_add(size as u64, Ordering::Relaxed);
    }
    Ok(latency)
}

async fn stream_one(s: TcpStream, size: usize, deadline: Instant, bytes: Arc<AtomicU64>) -> std::io::Result<()> {
    let (mut r, mut w) = s.into_split();
    let writer = tokio::spawn(async move {
        let chunk = vec![b'x'; size];
        while Instant::now() < deadline {
            w.write_all(&chunk).await?;
        }
        w.shutdown().await
    });
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = tokio::select! {
            n = r.read(&mut buf) => n?,
            _ = tokio::time::sleep_until(deadline.into()) => break,
        };
        if n == 0 {
            break;
        }
        bytes.fetch_add(n as u64, Ordering::Relaxed);
    }
    writer.abort();
    Ok(())
}

async fn hold(conns: Vec<TcpStream>, secs: Duration) -> anyhow::Result<ExitCode> {
    let n = conns.len();
    println!("holding {n} idle connections for {secs:?}");
    tokio::time::sleep(secs).await;
    let mut alive = 0usize;
    let mut checks = Vec::with_capacity(n);
    let gate = Arc::new(Semaphore::new(CHECK_PARALLEL));
    for mut s in conns {
        let gate = gate.clone();
        checks.push(tokio::spawn(async move {
            let _slot = gate.acquire_owned().await;
            let mut b = [0u8; 1];
            let ok = s.write_all(b"!").await.is_ok()
                && matches!(tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut b)).await, Ok(Ok(_)));
            ok && b[0] == b'!'
        }));
    }
    for c in checks {
        alive += usize::from(c.await.unwrap_or(false));
    }
    println!("mode=hold connections={n} alive={alive}");
    Ok(if alive == n { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
