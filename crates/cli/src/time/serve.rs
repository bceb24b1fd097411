//! `sockit time serve`: strftime, daytime, time and SNTP, each on its own port.
//!
//! Listeners are opened and announced in a fixed order, skipping disabled
//! ones: strftime udp, daytime tcp, daytime udp, time tcp, time udp, sntp
//! udp. Scripts and tests rely on that order to tell the lines apart.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use clap::Args;
use sockit_net::rate::RateLimit;
use sockit_net::reflect::{reply_cap, DatagramGate, REPLY_FLOOR};
use sockit_net::{announce, bind_tcp, bind_udp, resolve_bind, ConnInfo, DatagramServer, Shutdown, StreamServer};
use sockit_time::daytime::{self, Daytime};
use sockit_time::sntp::{packet, Outcome, Responder, SntpConfig, MAX_TRACKED_CLIENTS};
use sockit_time::{rfc868, strftime, Moment};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{LimitArgs, Listener, UdpRateArgs};

/// How long a daytime/time TCP peer gets to take its answer and hang up.
const TCP_GRACE: Duration = Duration::from_secs(2);

/// Flags of `sockit time serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on (0.0.0.0 or :: for every interface).
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: String,
    /// UDP port of the strftime service (0: any free port).
    #[arg(long, default_value_t = 9000, value_name = "PORT")]
    pub strftime_port: u16,
    /// TCP and UDP port of daytime, RFC 867 (standard: 13).
    #[arg(long, default_value_t = 9013, value_name = "PORT")]
    pub daytime_port: u16,
    /// TCP and UDP port of time, RFC 868 (standard: 37).
    #[arg(long, default_value_t = 9037, value_name = "PORT")]
    pub time_port: u16,
    /// UDP port of the SNTP server (standard: 123).
    #[arg(long, default_value_t = 9123, value_name = "PORT")]
    pub sntp_port: u16,
    /// Do not serve strftime.
    #[arg(long)]
    pub no_strftime: bool,
    /// Do not serve daytime.
    #[arg(long)]
    pub no_daytime: bool,
    /// Do not serve time (RFC 868).
    #[arg(long)]
    pub no_time: bool,
    /// Do not serve SNTP.
    #[arg(long)]
    pub no_sntp: bool,
    /// strftime format of the daytime line.
    #[arg(long, default_value = daytime::DEFAULT_FORMAT, value_name = "FMT")]
    pub daytime_format: String,
    /// SNTP stratum to announce, 1–15 (2: this host's clock is kept by NTP).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=15))]
    pub stratum: u8,
    /// SNTP reference ID: up to 4 ASCII characters (GPS, LOCL) or an IPv4 address.
    #[arg(long, default_value = "LOCL", value_name = "ID", value_parser = parse_refid)]
    pub refid: RefId,
    /// Announce an unsynchronised clock (leap indicator 3): clients will not
    /// set their clocks from this server.
    #[arg(long)]
    pub unsynchronised: bool,
    /// SNTP requests per second allowed per client (IPv6: per /64), on
    /// average; over it a client gets kiss-o'-death RATE.
    #[arg(long, default_value_t = 0.5, value_name = "PER_SEC")]
    pub sntp_rate: f64,
    /// SNTP requests a client may send at once before the rate applies.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub sntp_burst: u32,
    /// The per-address limit of strftime, daytime and time over UDP
    /// (`--no-rate-limit` lifts SNTP's too).
    #[command(flatten)]
    pub udp: UdpRateArgs,
    /// Tasks reading the SNTP socket at once (0: one per CPU core, at most 4).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub sntp_workers: usize,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// A parsed `--refid`.
#[derive(Debug, Clone, Copy)]
pub struct RefId(pub [u8; 4]);

fn parse_refid(s: &str) -> Result<RefId, String> {
    if let Ok(ip) = s.parse::<Ipv4Addr>() {
        return Ok(RefId(ip.octets()));
    }
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("give up to 4 ASCII characters (GPS, LOCL) or an IPv4 address".into());
    }
    let mut id = [0u8; 4];
    id[..s.len()].copy_from_slice(s.as_bytes());
    Ok(RefId(id))
}

impl ServeArgs {
    fn sntp_config(&self) -> anyhow::Result<SntpConfig> {
        let rate_limit = self.udp.limit(self.sntp_rate, self.sntp_burst, "sntp")?;
        Ok(SntpConfig {
            stratum: if self.unsynchronised { 16 } else { self.stratum },
            reference_id: self.refid.0,
            leap: if self.unsynchronised { packet::LEAP_UNSYNCHRONISED } else { packet::LEAP_NONE },
            rate_limit,
            ..SntpConfig::default()
        })
    }
}

/// Binds and spawns every enabled listener; returns where they listen.
pub async fn start(args: ServeArgs, shutdown: Shutdown) -> anyhow::Result<Vec<Listener>> {
    let daytime = Daytime::new(&args.daytime_format)
        .map_err(|e| anyhow::anyhow!("--daytime-format {:?}: {e}", args.daytime_format))?;
    let sntp = args.sntp_config()?;
    let udp_limit = args.udp.udp_limit()?;
    let mut rows = Vec::new();
    let mut push = |service: &'static str, scheme: &str, local: SocketAddr, try_it: String| {
        announce(scheme, &local);
        rows.push(Listener { service, url: format!("{scheme}://{local}"), try_it });
    };
    let limits = args.limits.limits();

    if !args.no_strftime {
        let socket = bind_udp(resolve_bind(&args.bind, args.strftime_port)?, "--strftime-port")?;
        let local = socket.local_addr().context("reading the bound address")?;
        push("strftime", "udp", local, format!("echo '%A %H:%M' | nc -u -w1 {} {}", local.ip(), local.port()));
        let server = DatagramServer::new(socket, shutdown.clone());
        let mut allowed = udp_gate(local, udp_limit);
        shutdown.spawn(server.run(move |data, from, reply| {
            if allowed(from) {
                strftime::answer(data, &Moment::now(), reply);
                tracing::debug!(%from, format = %String::from_utf8_lossy(data), "strftime");
            }
        }));
    }

    if !args.no_daytime {
        let (tcp, udp) = bind_pair(&args.bind, args.daytime_port, "--daytime-port")?;
        let local = tcp.local_addr().context("reading the bound address")?;
        push("daytime", "tcp", local, format!("nc {} {}", local.ip(), local.port()));
        let local = udp.local_addr().context("reading the bound address")?;
        push("daytime", "udp", local, format!("echo | nc -u -w1 {} {}", local.ip(), local.port()));
        let sample = daytime.line(&Moment::now()).len();
        if sample > REPLY_FLOOR {
            tracing::warn!(
                "--daytime-format makes {sample}-byte lines: over UDP only datagrams of at least {} bytes get one \
                 (an empty one, as RFC 867 clients send, gets {REPLY_FLOOR} bytes at most)",
                sample.saturating_sub(sockit_net::reflect::IPV4_UDP_HEADER).div_ceil(2)
            );
        }
        let line = daytime.clone();
        let server = StreamServer::new(tcp, limits.clone(), shutdown.clone());
        shutdown.spawn(server.run(move |stream, info| {
            let text = line.line(&Moment::now());
            answer_and_close(stream, info, text.into_bytes())
        }));
        let server = DatagramServer::new(udp, shutdown.clone());
        let mut allowed = udp_gate(local, udp_limit);
        shutdown.spawn(server.run(move |data, from, reply| {
            if allowed(from) {
                // The default line (30 bytes) fits the cap of any datagram; a
                // longer --daytime-format needs a request long enough.
                let line = daytime.line(&Moment::now());
                if line.len() <= reply_cap(data.len()) {
                    reply.extend_from_slice(line.as_bytes());
                } else {
                    tracing::debug!(%from, len = data.len(), "daytime line over the reply cap for this request: dropped");
                }
            }
        }));
    }

    if !args.no_time {
        let (tcp, udp) = bind_pair(&args.bind, args.time_port, "--time-port")?;
        let local = tcp.local_addr().context("reading the bound address")?;
        push("time", "tcp", local, format!("rdate -p -o {} {}", local.port(), local.ip()));
        let local = udp.local_addr().context("reading the bound address")?;
        push("time", "udp", local, format!("rdate -p -u -o {} {}", local.port(), local.ip()));
        let server = StreamServer::new(tcp, limits.clone(), shutdown.clone());
        shutdown.spawn(
            server.run(|stream, info| answer_and_close(stream, info, rfc868::encode(SystemTime::now()).to_vec())),
        );
        let server = DatagramServer::new(udp, shutdown.clone());
        let mut allowed = udp_gate(local, udp_limit);
        // 4 bytes: within the cap of any request (even an empty one).
        shutdown.spawn(server.run(move |_data, from, reply| {
            if allowed(from) {
                reply.extend_from_slice(&rfc868::encode(SystemTime::now()));
            }
        }));
    }

    if !args.no_sntp {
        let socket = bind_udp(resolve_bind(&args.bind, args.sntp_port)?, "--sntp-port")?;
        let local = socket.local_addr().context("reading the bound address")?;
        push("sntp", "udp", local, format!("sockit time query {local} --proto sntp"));
        let responder = Arc::new(Responder::new(sntp));
        let socket = Arc::new(socket);
        // Several tasks on one socket: each datagram is read by exactly one,
        // so a burst is spread over the cores.
        for _ in 0..sntp_workers(args.sntp_workers) {
            let responder = responder.clone();
            let server = DatagramServer::new(socket.clone(), shutdown.clone());
            shutdown.spawn(server.run(move |data, from, reply| {
                // The receive timestamp first, the transmit timestamp last.
                let received = SystemTime::now();
                match responder.answer(data, from.ip(), received, Instant::now(), reply, SystemTime::now) {
                    Outcome::Replied => {}
                    Outcome::KissOfDeath => {
                        tracing::info!(%from, "sntp client over its rate limit: sent kiss-o'-death RATE")
                    }
                    Outcome::Dropped(why) => tracing::debug!(%from, len = data.len(), why, "sntp request dropped"),
                }
            }));
        }
    }
    Ok(rows)
}

/// The gate for a UDP service that answers any datagram (strftime, daytime,
/// time) on the socket at `local`: loop-risk sources (our own port, service
/// ports) are dropped, and over the per-client limit a datagram is dropped,
/// so a spoofed source cannot use the server as an amplifier at full speed.
fn udp_gate(local: SocketAddr, limit: Option<RateLimit>) -> impl FnMut(SocketAddr) -> bool {
    let mut gate = DatagramGate::new(local, limit, MAX_TRACKED_CLIENTS);
    move |from| match gate.admit(from, Instant::now()) {
        Ok(()) => true,
        Err(why) => {
            tracing::debug!(%from, ?why, "datagram dropped");
            false
        }
    }
}

/// `--sntp-workers`, with 0 meaning one per core (at most 4).
fn sntp_workers(asked: usize) -> usize {
    if asked > 0 {
        return asked;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// A TCP listener and a UDP socket on the same port; with port 0, the UDP
/// socket takes the port the kernel gave TCP when it can.
fn bind_pair(bind: &str, port: u16, flag: &str) -> anyhow::Result<(tokio::net::TcpListener, tokio::net::UdpSocket)> {
    let addr = resolve_bind(bind, port)?;
    let tcp = bind_tcp(addr, flag)?;
    let mut same = addr;
    same.set_port(tcp.local_addr().context("reading the bound address")?.port());
    let udp = match bind_udp(same, flag) {
        Ok(s) => s,
        Err(_) if port == 0 => bind_udp(addr, flag)?,
        Err(e) => return Err(e.into()),
    };
    Ok((tcp, udp))
}

/// Sends `answer`, closes our side, and waits briefly for the peer to hang
/// up, so it reads the answer instead of a reset (RFC 867/868: the server
/// closes after answering; anything the client sent is discarded).
async fn answer_and_close(mut stream: TcpStream, info: ConnInfo, answer: Vec<u8>) {
    let result = tokio::time::timeout(TCP_GRACE, async {
        stream.write_all(&answer).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 512];
        while stream.read(&mut sink).await? > 0 {}
        std::io::Result::Ok(())
    })
    .await;
    if let Ok(Err(e)) = result {
        tracing::debug!(peer = %info.peer, error = %e, "time connection ended early");
    }
    tracing::debug!(peer = %info.peer, "answered");
}
