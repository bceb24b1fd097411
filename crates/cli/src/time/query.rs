//! `sockit time query`: ask a strftime, daytime, time or SNTP server.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::{Args, ValueEnum};
use sockit_time::client::{sntp_request, sntp_sample, ReplyError};
use sockit_time::timestamp::{self, NtpTimestamp};
use sockit_time::{rfc868, strftime};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpStream, UdpSocket};

/// Most bytes read from a daytime server (a line is ~30).
const MAX_ANSWER: usize = 64 * 1024;
/// Most NUL padding a strftime query adds when the server asks for it (the
/// largest answer, 8 KiB, needs 4,082 bytes).
const MAX_PADDED_REQUEST: usize = 8 * 1024;
/// Bytes in a daytime-over-UDP request: room for a 156-byte line.
const DAYTIME_REQUEST: usize = 64;
/// UDP tries before giving up (datagrams may be lost).
const UDP_TRIES: u32 = 3;

/// The protocol to speak.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// A strftime format over UDP (default port 9000).
    Strftime,
    /// Daytime, RFC 867 (default port 9013).
    Daytime,
    /// Time, RFC 868 (default port 9037).
    Time,
    /// SNTP (default port 9123): prints offset and round-trip delay.
    Sntp,
}

impl Proto {
    fn default_port(self) -> u16 {
        match self {
            Proto::Strftime => 9000,
            Proto::Daytime => 9013,
            Proto::Time => 9037,
            Proto::Sntp => 9123,
        }
    }
}

/// Flags of `sockit time query`.
#[derive(Args, Debug, Clone)]
pub struct QueryArgs {
    /// Server, HOST[:PORT] (the port defaults per protocol).
    #[arg(default_value = "127.0.0.1")]
    pub addr: String,
    /// Protocol.
    #[arg(long, value_enum, default_value_t = Proto::Strftime)]
    pub proto: Proto,
    /// strftime format to send (strftime only; empty: the server's default).
    #[arg(short, long, default_value = "", value_name = "FMT")]
    pub format: String,
    /// Use UDP for daytime and time (TCP by default).
    #[arg(short, long)]
    pub udp: bool,
    /// Seconds to wait for an answer.
    #[arg(long, default_value_t = 3.0, value_name = "SECS")]
    pub timeout: f64,
}

/// Asks the server and prints the answer on stdout.
pub async fn run(args: QueryArgs) -> anyhow::Result<ExitCode> {
    let addr = sockit_net::addr::resolve_peer(&args.addr, args.proto.default_port())?;
    let timeout = Duration::try_from_secs_f64(args.timeout).context("--timeout takes a number of seconds")?;
    match args.proto {
        Proto::Strftime => {
            let mut answer = udp_ask(addr, args.format.as_bytes(), timeout).await?;
            // A long answer needs a longer request (the server's amplification
            // cap): pad with NULs as much as it asks, once.
            if let Some(len) = strftime::padding_asked(&answer).filter(|&n| n <= MAX_PADDED_REQUEST) {
                answer = udp_ask(addr, &strftime::pad_request(args.format.as_bytes(), len), timeout).await?;
            }
            let text = String::from_utf8_lossy(&answer);
            if let Some(err) = text.strip_prefix("error:") {
                eprintln!("server refused the format:{err}");
                return Ok(ExitCode::FAILURE);
            }
            println!("{text}");
        }
        Proto::Daytime => {
            // RFC 867 ignores what the datagram holds; a padded one lets a
            // server send a line longer than an empty datagram's reply cap.
            let answer = if args.udp {
                udp_ask(addr, &[0; DAYTIME_REQUEST], timeout).await?
            } else {
                tcp_read(addr, timeout).await?
            };
            println!("{}", String::from_utf8_lossy(&answer).trim_end());
        }
        Proto::Time => {
            let answer = if args.udp { udp_ask(addr, b"", timeout).await? } else { tcp_read(addr, timeout).await? };
            let now = SystemTime::now();
            let unix = rfc868::to_unix(&answer, now)
                .with_context(|| format!("expected 4 bytes from a time server, got {}", answer.len()))?;
            let server = chrono::DateTime::from_timestamp(unix, 0).context("time out of range")?;
            println!("{}", server.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            println!("offset {:+} s (server minus this machine, 1 s resolution)", unix - timestamp::unix_of(now));
        }
        Proto::Sntp => return sntp(addr, timeout).await,
    }
    Ok(ExitCode::SUCCESS)
}

async fn sntp(addr: SocketAddr, timeout: Duration) -> anyhow::Result<ExitCode> {
    let socket = connected_udp(addr).await?;
    let per_try = timeout / UDP_TRIES;
    let mut buf = [0u8; 1024];
    for _ in 0..UDP_TRIES {
        let t1 = SystemTime::now();
        let sent = NtpTimestamp::from_system(t1);
        socket.send(&sntp_request(sent)).await.with_context(|| format!("sending to {addr}"))?;
        let deadline = tokio::time::Instant::now() + per_try;
        // Replies to an earlier try are stale (their origin differs): skip them.
        while let Ok(received) = tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
            let n = received.with_context(|| format!("no SNTP server at {addr}"))?;
            let t4 = SystemTime::now();
            match sntp_sample(&buf[..n], sent, t1, t4) {
                Ok(s) => {
                    let p = &s.packet;
                    let server = chrono::DateTime::<chrono::Utc>::from(s.server_time);
                    println!("server time  {}", server.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
                    println!("offset       {:+.6} s (server minus this machine)", s.offset);
                    println!("delay        {:.6} s round trip", s.delay);
                    println!(
                        "stratum {}, reference {}, leap {}, version {}",
                        p.stratum,
                        refid_text(p.stratum, p.reference_id),
                        p.leap,
                        p.version
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                Err(ReplyError::Mismatch) => continue,
                Err(ReplyError::Kiss(code)) if &code == b"RATE" => {
                    eprintln!("server sent kiss-o'-death RATE: this machine asks too often; wait and try again");
                    return Ok(ExitCode::FAILURE);
                }
                Err(e) => {
                    eprintln!("unusable reply from {addr}: {e}");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    }
    anyhow::bail!("no SNTP reply from {addr} within {timeout:?}")
}

/// A reference ID as people write it: text at stratum 0–1, an address above.
fn refid_text(stratum: u8, id: [u8; 4]) -> String {
    if stratum <= 1 {
        String::from_utf8_lossy(&id).trim_end_matches('\0').to_string()
    } else if id.iter().all(|b| b.is_ascii_uppercase() || *b == 0) {
        // sockit and others put a code such as LOCL here too.
        String::from_utf8_lossy(&id).trim_end_matches('\0').to_string()
    } else {
        std::net::Ipv4Addr::from(id).to_string()
    }
}

async fn connected_udp(addr: SocketAddr) -> anyhow::Result<UdpSocket> {
    let local: SocketAddr = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse()?;
    let socket = UdpSocket::bind(local).await.context("opening a UDP socket")?;
    socket.connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    Ok(socket)
}

/// Sends `payload` and returns the first answer, retrying on silence.
async fn udp_ask(addr: SocketAddr, payload: &[u8], timeout: Duration) -> anyhow::Result<Vec<u8>> {
    let socket = connected_udp(addr).await?;
    let mut buf = vec![0u8; sockit_net::udp::MAX_DATAGRAM];
    for _ in 0..UDP_TRIES {
        socket.send(payload).await.with_context(|| format!("sending to {addr}"))?;
        if let Ok(r) = tokio::time::timeout(timeout / UDP_TRIES, socket.recv(&mut buf)).await {
            let n = r.with_context(|| format!("nothing is listening at udp://{addr}"))?;
            buf.truncate(n);
            return Ok(buf);
        }
    }
    anyhow::bail!("no answer from udp://{addr} within {timeout:?}")
}

/// Connects and reads until the server closes.
async fn tcp_read(addr: SocketAddr, timeout: Duration) -> anyhow::Result<Vec<u8>> {
    let read = async {
        let stream = TcpStream::connect(addr).await.with_context(|| format!("connecting to tcp://{addr}"))?;
        let mut answer = Vec::new();
        stream.take(MAX_ANSWER as u64).read_to_end(&mut answer).await.context("reading the answer")?;
        anyhow::Ok(answer)
    };
    tokio::time::timeout(timeout, read)
        .await
        .with_context(|| format!("no answer from tcp://{addr} within {timeout:?}"))?
}
