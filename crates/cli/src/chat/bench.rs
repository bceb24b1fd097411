//! `sockit bench chat`: a room full of members, some of them senders.
//! Lines look like `<nick> B<run> sender seq send_time_us padding`.
//!
//! Opens `--members` TCP connections to one room (works against any server
//! that relays `<nick> text` lines, such as `ncat --chat`), lets the first
//! `--senders` each send `--rate` messages per second for `--secs`, and has
//! every member read everything. Each message carries its send time (one
//! clock: this process), so every delivery gives a latency sample. A message
//! should reach every member but its sender: expected deliveries are
//! `sent × (members − 1)`.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::bench::stats::Latency;

/// Flags of `sockit bench chat`.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Chat server, HOST[:PORT].
    pub addr: String,
    /// Members in the room (senders included).
    #[arg(long, default_value_t = 100)]
    pub members: usize,
    /// Members that send.
    #[arg(long, default_value_t = 10)]
    pub senders: usize,
    /// Messages per second per sender.
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
    /// Bytes of padding per message (the line is about 40 bytes more).
    #[arg(long, default_value_t = 16)]
    pub size: usize,
    /// Seconds to wait after the last send for deliveries still in flight.
    #[arg(long, default_value_t = 2.0)]
    pub drain: f64,
    /// Seconds to wait after connecting, before sending (join notices settle).
    #[arg(long, default_value_t = 1.0)]
    pub settle: f64,
}

#[derive(Default)]
struct Received {
    delivered: u64,
    latency: Latency,
    closed: bool,
}

/// Runs the benchmark and prints its results.
pub async fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let addr = sockit_net::addr::resolve_peer(&args.addr, super::serve::DEFAULT_PORT)?;
    anyhow::ensure!(args.members >= 2, "--members must be at least 2");
    anyhow::ensure!(args.senders >= 1 && args.senders <= args.members, "--senders must be 1..=members");
    anyhow::ensure!(args.rate > 0.0, "--rate must be positive");
    let secs = Duration::try_from_secs_f64(args.secs).context("--secs takes seconds")?;
    let drain = Duration::try_from_secs_f64(args.drain).context("--drain takes seconds")?;
    let settle = Duration::try_from_secs_f64(args.settle).context("--settle takes seconds")?;
    let clock = Instant::now();
    let run_id = clock.elapsed().as_nanos() as u32 ^ std::process::id();

    let t = Instant::now();
    let conns = crate::bench::open_all(addr, args.members).await?;
    eprintln!("connected {} members in {:.2?}", conns.len(), t.elapsed());
    let start_at = Instant::now() + settle;
    let stop_at = start_at + secs;
    let read_until = stop_at + drain;
    let buf_size = if args.members > 2000 { 4096 } else { 32 * 1024 };
    let mut readers = Vec::with_capacity(conns.len());
    let mut writers = Vec::with_capacity(conns.len());
    for s in conns {
        let (r, w) = s.into_split();
        readers.push(tokio::spawn(read_member(r, run_id, clock, read_until, buf_size)));
        writers.push(w);
    }
    let mut idle = writers.split_off(args.senders);
    let mut senders = Vec::with_capacity(args.senders);
    let sent_total = Arc::new(AtomicU64::new(0));
    for (i, w) in writers.into_iter().enumerate() {
        let cfg = (i, args.rate, args.size, run_id);
        senders.push(tokio::spawn(send_member(w, cfg, clock, start_at, stop_at, sent_total.clone())));
    }
    let mut send_errors = 0;
    for s in senders {
        match s.await {
            // Senders stay members (and keep reading) until the end.
            Ok(Ok(w)) => idle.push(w),
            _ => send_errors += 1,
        }
    }
    let sent = sent_total.load(Ordering::Relaxed);
    let mut total = Received::default();
    let mut closed = 0;
    for r in readers {
        if let Ok(got) = r.await {
            total.delivered += got.delivered;
            total.latency.merge(&got.latency);
            closed += usize::from(got.closed);
        }
    }
    for w in &mut idle {
        let _ = w.shutdown().await;
    }
    let expected = sent * (args.members as u64 - 1);
    let ratio = if expected == 0 { 0.0 } else { total.delivered as f64 / expected as f64 };
    let per_s = total.delivered as f64 / secs.as_secs_f64();
    let offered = args.senders as f64 * args.rate * (args.members - 1) as f64;
    println!(
        "chat: {} members, {} senders x {}/s for {:?}: {per_s:.0} deliveries/s (offered {offered:.0}/s), delivered {}/{} = {ratio:.4}, p50 {:.2} ms, p99 {:.2} ms, {closed} members disconnected",
        args.members,
        args.senders,
        args.rate,
        secs,
        total.delivered,
        expected,
        total.latency.quantile_us(0.5) as f64 / 1000.0,
        total.latency.quantile_us(0.99) as f64 / 1000.0,
    );
    println!(
        "members={} senders={} rate={} secs={} sent={sent} expected={expected} delivered={} ratio={ratio:.4} deliveries_per_sec={per_s:.0} {} disconnected={closed} send_errors={send_errors}",
        args.members,
        args.senders,
        args.rate,
        args.secs,
        total.delivered,
        total.latency.summary()
    );
    Ok(if ratio >= 0.999 && send_errors == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn send_member(
    mut w: OwnedWriteHalf,
    (idx, rate, size, run_id): (usize, f64, usize, u32),
    clock: Instant,
    start_at: Instant,
    stop_at: Instant,
    sent: Arc<AtomicU64>,
) -> std::io::Result<OwnedWriteHalf> {
    // Spread senders over one period so they do not all fire together.
    let period = Duration::from_secs_f64(1.0 / rate);
    let offset = period.mul_f64((idx as f64 * 0.618_034).fract());
    let mut tick = tokio::time::interval_at((start_at + offset).into(), period);
    let pad = "x".repeat(size);
    let mut seq = 0u64;
    let mut line = String::with_capacity(64 + size);
    loop {
        let at = tick.tick().await;
        if at.into_std() >= stop_at {
            break;
        }
        use std::fmt::Write;
        line.clear();
        let _ = writeln!(line, "B{run_id} {idx} {seq} {} {pad}", clock.elapsed().as_micros());
        w.write_all(line.as_bytes()).await?;
        sent.fetch_add(1, Ordering::Relaxed);
        seq += 1;
    }
    Ok(w)
}

async fn read_member(mut r: OwnedReadHalf, run_id: u32, clock: Instant, until: Instant, buf_size: usize) -> Received {
    let mut got = Received::default();
    let tag = format!("> B{run_id} ");
    let tag = tag.as_bytes();
    let mut buf = vec![0u8; buf_size];
    let mut have = 0usize;
    let deadline = tokio::time::Instant::from_std(until);
    loop {
        if have == buf.len() {
            // A line longer than the buffer: not ours; drop it.
            have = 0;
        }
        let n = tokio::select! {
            r = r.read(&mut buf[have..]) => match r {
                Ok(0) | Err(_) => { got.closed = true; break }
                Ok(n) => n,
            },
            _ = tokio::time::sleep_until(deadline) => break,
        };
        have += n;
        let now_us = clock.elapsed().as_micros() as u64;
        let mut start = 0;
        while let Some(i) = memchr_nl(&buf[start..have]) {
            let line = &buf[start..start + i];
            if let Some(ts) = sent_at(line, tag) {
                got.delivered += 1;
                got.latency.record(Duration::from_micros(now_us.saturating_sub(ts)));
            }
            start += i + 1;
        }
        buf.copy_within(start..have, 0);
        have -= start;
    }
    got
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', b)
}

/// The send time in a line `<nick> B<run> idx seq ts pad`, if it is ours.
/// Cheap on purpose: it runs for every delivery, millions of times a second.
///
/// `ncat --chat` prefixes `<userN> ` once per read, not per line, so lines
/// that arrived together reach members unprefixed: those count too.
fn sent_at(line: &[u8], tag: &[u8]) -> Option<u64> {
    let rest = if line.first() == Some(&b'<') {
        let gt = memchr::memchr(b'>', line)?;
        line.get(gt..)?.strip_prefix(tag)?
    } else {
        // The tag is `> B<run> `: without its `> `.
        line.strip_prefix(tag.get(2..)?)?
    };
    let a = memchr::memchr(b' ', rest)?;
    let rest = &rest[a + 1..];
    let b = memchr::memchr(b' ', rest)?;
    let rest = &rest[b + 1..];
    let mut ts = 0u64;
    let mut digits = 0;
    for &c in rest.iter().take_while(|c| c.is_ascii_digit()) {
        ts = ts.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
        digits += 1;
    }
    (digits > 0).then_some(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_timestamp() {
        let tag = b"> B7 ";
        assert_eq!(sent_at(b"<127.0.0.1:5> B7 3 9 12345 xx", tag), Some(12345));
        assert_eq!(sent_at(b"<user1> B7 0 0 1 ", tag), Some(1));
        assert_eq!(sent_at(b"* joined", tag), None);
        assert_eq!(sent_at(b"<a> B8 0 0 1 x", tag), None);
        assert_eq!(sent_at(b"B7 0 1 42 x", tag), Some(42));
        assert_eq!(sent_at(b"B8 0 1 42 x", tag), None);
    }
}
