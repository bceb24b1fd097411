//! `sockit bench chat`: a room full of members, some of them senders.
//! Lines look like `<nick> B<run> sender seq send_time_us padding`.
//!
//! Opens `--members` TCP connections to one room (works against any server
//! that relays `<nick> text` lines, such as `ncat --chat`; with `--target`
//! spread over several servers, the nodes of one chat cluster), lets the first
//! `--senders` each send `--rate` messages per second for `--secs`, and has
//! every member read everything. Each message carries its send time (one
//! clock: this process), so every delivery gives a latency sample. A message
//! should reach every member but its sender: expected deliveries are
//! `sent × (members − 1)`.
//!
//! The generator runs on the same machine as the server, so its own cost is
//! part of every latency it reports. Reading is therefore kept cheap: one
//! reader thread per core, each a plain readiness loop over its members'
//! sockets (mio: one `epoll_wait` for many deliveries, then one `recv` per
//! ready socket; no task, waker or timer per member), and one histogram per
//! thread.
//!
//! `--irc` speaks IRC instead ([`irc`]): members register and join
//! `--channel`, and the same lines travel as `PRIVMSG`. `--senders 0` is
//! the idle mode: members connect (over IRC: register, join nothing), stay
//! `--secs`, and the result is how many the server kept.

use std::io::{ErrorKind, Read};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::bench::stats::Latency;

mod irc;

/// Flags of `sockit bench chat`.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Chat server, HOST[:PORT] (default port 7000, or 6667 with --irc).
    pub addr: String,
    /// Members in the room (senders included).
    #[arg(long, default_value_t = 100)]
    pub members: usize,
    /// Members that send (0: idle mode, members only connect and stay).
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
    /// Speak IRC: register each member, join --channel, send PRIVMSG.
    #[arg(long)]
    pub irc: bool,
    /// Connections opened at once (ngircd listens with a backlog of 10: use 8).
    #[arg(long, default_value_t = crate::bench::CONNECT_PARALLEL)]
    pub connect_parallel: usize,
    /// The IRC channel (with --irc).
    #[arg(long, default_value = "#bench")]
    pub channel: String,
    /// Another chat server (a node of the same cluster), repeatable:
    /// members (senders too) are spread over ADDR and these in turn.
    /// Text members only.
    #[arg(long = "target", value_name = "HOST[:PORT]")]
    pub targets: Vec<String>,
}

/// What one reader thread saw.
#[derive(Default)]
struct Received {
    delivered: u64,
    latency: Latency,
    closed: usize,
}

/// Runs the benchmark and prints its results.
pub async fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let port = if args.irc { IRC_PORT } else { super::serve::DEFAULT_PORT };
    let addr = sockit_net::addr::resolve_peer(&args.addr, port)?;
    let mut addrs = vec![addr];
    for t in &args.targets {
        addrs.push(sockit_net::addr::resolve_peer(t, port)?);
    }
    anyhow::ensure!(addrs.len() == 1 || !args.irc, "--target spreads text members over servers; not with --irc");
    anyhow::ensure!(args.members >= 2, "--members must be at least 2");
    anyhow::ensure!(args.senders <= args.members, "--senders must be 0..=members");
    anyhow::ensure!(!args.irc || args.channel.starts_with('#'), "--channel starts with #");
    anyhow::ensure!(args.rate > 0.0, "--rate must be positive");
    let secs = Duration::try_from_secs_f64(args.secs).context("--secs takes seconds")?;
    let drain = Duration::try_from_secs_f64(args.drain).context("--drain takes seconds")?;
    let settle = Duration::try_from_secs_f64(args.settle).context("--settle takes seconds")?;
    let clock = Instant::now();
    let run_id = clock.elapsed().as_nanos() as u32 ^ std::process::id();

    let t = Instant::now();
    let (conns, early) = if args.irc {
        let channel = (args.senders > 0).then_some(args.channel.as_str());
        let (conns, early) = register_all(addr, args.members, args.connect_parallel, channel).await?;
        let joined = if channel.is_some() { format!(" and joined {}", args.channel) } else { String::new() };
        eprintln!("connected, registered{joined} {} members in {:.2?}", conns.len(), t.elapsed());
        (conns, early)
    } else {
        let conns = open_spread(&addrs, args.members, args.connect_parallel).await?;
        eprintln!("connected {} members to {} server(s) in {:.2?}", conns.len(), addrs.len(), t.elapsed());
        let early = vec![Vec::new(); conns.len()];
        (conns, early)
    };
    if args.senders == 0 {
        return idle(conns, early, &args, settle + secs).await;
    }
    let start_at = Instant::now() + settle;
    let stop_at = start_at + secs;
    let read_until = stop_at + drain;
    let buf_size = if args.members > 2000 { 4096 } else { 32 * 1024 };
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(conns.len());
    let mut groups: Vec<Vec<(std::net::TcpStream, Vec<u8>)>> = (0..threads).map(|_| Vec::new()).collect();
    let mut writers = Vec::with_capacity(args.senders);
    for (i, (s, early)) in conns.into_iter().zip(early).enumerate() {
        let s = s.into_std()?;
        if i < args.senders {
            // The sender's writing side: a second handle on the same socket,
            // driven by this runtime's timers.
            writers.push(TcpStream::from_std(s.try_clone()?)?);
        }
        groups[i % threads].push((s, early));
    }
    let readers: Vec<_> = groups
        .into_iter()
        .map(|group| {
            let cfg = ReadCfg { run_id, clock, until: read_until, buf_size, irc: args.irc };
            std::thread::spawn(move || read_group(group, cfg))
        })
        .collect();
    let mut senders = Vec::with_capacity(args.senders);
    let sent_total = Arc::new(AtomicU64::new(0));
    for (i, w) in writers.into_iter().enumerate() {
        let channel = args.irc.then(|| args.channel.clone());
        let cfg = SendCfg { idx: i, rate: args.rate, size: args.size, run_id, channel };
        senders.push(tokio::spawn(send_member(w, cfg, clock, start_at, stop_at, sent_total.clone())));
    }
    let mut send_errors = 0;
    let mut idle = Vec::with_capacity(args.senders);
    for s in senders {
        match s.await {
            // Senders stay members (and keep reading) until the end.
            Ok(Ok(w)) => idle.push(w),
            _ => send_errors += 1,
        }
    }
    let sent = sent_total.load(Ordering::Relaxed);
    let mut total = Received::default();
    for r in readers {
        let got = tokio::task::spawn_blocking(move || r.join()).await;
        if let Ok(Ok(Ok(got))) = got {
            total.delivered += got.delivered;
            total.latency.merge(&got.latency);
            total.closed += got.closed;
        }
    }
    let closed = total.closed;
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

/// Opens `n` members spread over `addrs` in turn: member `i` goes to
/// `addrs[i % len]`, so senders (the first members) are spread too.
async fn open_spread(addrs: &[std::net::SocketAddr], n: usize, parallel: usize) -> anyhow::Result<Vec<TcpStream>> {
    if let [one] = addrs {
        return crate::bench::open_all(*one, n, parallel).await;
    }
    let mut per = Vec::with_capacity(addrs.len());
    for (k, a) in addrs.iter().enumerate() {
        let count = n / addrs.len() + usize::from(k < n % addrs.len());
        per.push(crate::bench::open_all(*a, count, parallel).await?.into_iter());
    }
    Ok((0..n).filter_map(|i| per[i % addrs.len()].next()).collect())
}

/// The IRC port `--irc` defaults to.
const IRC_PORT: u16 = 6667;

/// Connects `n` members over IRC and registers (with a channel, also
/// joins) each right after its connect, as a client does — a server may
/// drop connections left unregistered — at most `parallel` at once; each
/// gets [`irc::REGISTER_TIMEOUT`] once connected.
async fn register_all(
    addr: std::net::SocketAddr,
    n: usize,
    parallel: usize,
    channel: Option<&str>,
) -> anyhow::Result<(Vec<TcpStream>, Vec<Vec<u8>>)> {
    let gate = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let mut pending = Vec::with_capacity(n);
    for i in 0..n {
        let gate = gate.clone();
        let channel = channel.map(str::to_owned);
        pending.push(tokio::spawn(async move {
            let _slot = gate.acquire_owned().await;
            let mut s = TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
            s.set_nodelay(true)?;
            let early = tokio::time::timeout(irc::REGISTER_TIMEOUT, irc::register(&mut s, i, channel.as_deref()))
                .await
                .map_err(|_| anyhow::anyhow!("{} took over {:?} to register", irc::nick(i), irc::REGISTER_TIMEOUT))??;
            anyhow::Ok((s, early))
        }));
    }
    let (mut conns, mut early) = (Vec::with_capacity(pending.len()), Vec::with_capacity(pending.len()));
    for p in pending {
        let (s, e) = p.await??;
        conns.push(s);
        early.push(e);
    }
    Ok((conns, early))
}

/// Idle mode: holds every member for `hold` (reading and, over IRC,
/// answering PINGs) and reports how many the server kept.
async fn idle(
    conns: Vec<TcpStream>,
    early: Vec<Vec<u8>>,
    args: &BenchArgs,
    hold: Duration,
) -> anyhow::Result<ExitCode> {
    let n = conns.len();
    let until = Instant::now() + hold;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(n);
    let mut groups: Vec<Vec<(std::net::TcpStream, Vec<u8>)>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, (s, e)) in conns.into_iter().zip(early).enumerate() {
        groups[i % threads].push((s.into_std()?, e));
    }
    // Run id 0 never matches: nothing is sent, every line is read and dropped.
    let cfg = ReadCfg { run_id: 0, clock: Instant::now(), until, buf_size: 4096, irc: args.irc };
    let readers: Vec<_> = groups.into_iter().map(|g| std::thread::spawn(move || read_group(g, cfg))).collect();
    let mut closed = 0;
    for r in readers {
        match tokio::task::spawn_blocking(move || r.join()).await {
            Ok(Ok(Ok(got))) => closed += got.closed,
            _ => anyhow::bail!("a reader thread failed"),
        }
    }
    println!("chat idle: {n} members held for {hold:?}, {closed} disconnected");
    println!("members={n} senders=0 idle_secs={} disconnected={closed}", hold.as_secs_f64());
    Ok(if closed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// What one sender sends.
struct SendCfg {
    idx: usize,
    rate: f64,
    size: usize,
    run_id: u32,
    /// The IRC channel, with --irc.
    channel: Option<String>,
}

async fn send_member(
    mut w: TcpStream,
    SendCfg { idx, rate, size, run_id, channel }: SendCfg,
    clock: Instant,
    start_at: Instant,
    stop_at: Instant,
    sent: Arc<AtomicU64>,
) -> std::io::Result<TcpStream> {
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
        let now = clock.elapsed().as_micros();
        match &channel {
            Some(c) => irc::privmsg(&mut line, c, format_args!("B{run_id} {idx} {seq} {now} {pad}")),
            None => {
                let _ = writeln!(line, "B{run_id} {idx} {seq} {now} {pad}");
            }
        }
        w.write_all(line.as_bytes()).await?;
        sent.fetch_add(1, Ordering::Relaxed);
        seq += 1;
    }
    Ok(w)
}

/// What every reader needs to know.
#[derive(Clone, Copy)]
struct ReadCfg {
    run_id: u32,
    clock: Instant,
    until: Instant,
    buf_size: usize,
    /// Lines are IRC (`PRIVMSG` deliveries, `PING`s to answer).
    irc: bool,
}

/// One member's socket and the partial line it holds.
struct Member {
    stream: mio::net::TcpStream,
    buf: Vec<u8>,
    have: usize,
    open: bool,
}

/// One reader thread: waits for any of its members' sockets to be readable
/// and reads each ready one, until `cfg.until` or every socket closed.
fn read_group(group: Vec<(std::net::TcpStream, Vec<u8>)>, cfg: ReadCfg) -> std::io::Result<Received> {
    let mut poll = mio::Poll::new()?;
    let mut members = Vec::with_capacity(group.len());
    for (i, (s, early)) in group.into_iter().enumerate() {
        s.set_nonblocking(true)?;
        let mut stream = mio::net::TcpStream::from_std(s);
        poll.registry().register(&mut stream, mio::Token(i), mio::Interest::READABLE)?;
        let mut buf = vec![0u8; cfg.buf_size.max(early.len() + 1)];
        buf[..early.len()].copy_from_slice(&early);
        members.push(Member { stream, buf, have: early.len(), open: true });
    }
    let tag = if cfg.irc { format!("B{} ", cfg.run_id) } else { format!("> B{} ", cfg.run_id) };
    let proto = if cfg.irc { Proto::Irc } else { Proto::Text };
    let mut got = Received::default();
    let mut events = mio::Events::with_capacity(1024);
    let mut open = members.len();
    while open > 0 {
        let Some(left) = cfg.until.checked_duration_since(Instant::now()) else { break };
        match poll.poll(&mut events, Some(left)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        let now_us = cfg.clock.elapsed().as_micros() as u64;
        for ev in events.iter() {
            let Some(m) = members.get_mut(ev.token().0) else { continue };
            if m.open && !read_member(m, (proto, tag.as_bytes()), now_us, &mut got) {
                m.open = false;
                open -= 1;
                got.closed += 1;
                let _ = poll.registry().deregister(&mut m.stream);
            }
        }
    }
    Ok(got)
}

/// Reads what `m`'s socket holds (until it would block: readiness is
/// edge-triggered) and records a latency sample per line of ours. Returns
/// false when the connection closed or failed.
fn read_member(m: &mut Member, (proto, tag): (Proto, &[u8]), now_us: u64, got: &mut Received) -> bool {
    loop {
        if m.have == m.buf.len() {
            // A line longer than the buffer: not ours; drop it.
            m.have = 0;
        }
        let space = m.buf.len() - m.have;
        let n = match m.stream.read(&mut m.buf[m.have..]) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return false,
        };
        m.have += n;
        let mut start = 0;
        while let Some(i) = memchr_nl(&m.buf[start..m.have]) {
            let line = &m.buf[start..start + i];
            let ts = match proto {
                Proto::Text => sent_at(line, tag),
                Proto::Irc if irc::answer_ping(line, &mut m.stream) => None,
                Proto::Irc => irc::sent_at(line, tag),
            };
            if let Some(ts) = ts {
                got.delivered += 1;
                got.latency.record(Duration::from_micros(now_us.saturating_sub(ts)));
            }
            start += i + 1;
        }
        m.buf.copy_within(start..m.have, 0);
        m.have -= start;
        if n < space {
            // Drained: new data will raise a new readiness edge.
            return true;
        }
    }
}

/// How delivered lines look.
#[derive(Clone, Copy)]
enum Proto {
    /// `<nick> text`.
    Text,
    /// `:nick!user@host PRIVMSG #chan :text`.
    Irc,
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
    stamp(rest)
}

/// The send time in `idx seq ts …`, the part of a line after its `B<run> `.
fn stamp(rest: &[u8]) -> Option<u64> {
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
