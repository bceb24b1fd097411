//! UDP hardening against the real binary: no reflection loops (echo and the
//! time services), per-address rate limits that a flood of new sources
//! cannot switch off, replies capped relative to the request, and per-IP
//! connection limits over IPv6.
//!
//! The loop tests need a datagram whose source is spoofed (the server's own
//! address, or another server's): that takes a raw socket, so they run as
//! root (CI does) and say loudly that they were skipped otherwise.

#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use sockit_testkit::{bin, need, run_with_input, Sockit};

const T: Duration = Duration::from_secs(20);

fn start(args: &[&str], listeners: usize) -> Sockit {
    Sockit::start(&bin(), args, listeners)
}

/// Sends one datagram from a fresh socket on `from_ip` and waits up to
/// `wait` for one answer.
fn ask_from(from_ip: Ipv4Addr, to: SocketAddr, payload: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind((from_ip, 0)).unwrap();
    ask_on(&sock, to, payload, wait)
}

fn ask_on(sock: &UdpSocket, to: SocketAddr, payload: &[u8], wait: Duration) -> Option<Vec<u8>> {
    sock.set_read_timeout(Some(wait)).unwrap();
    sock.send_to(payload, to).unwrap();
    let mut buf = vec![0u8; 65_536];
    sock.recv_from(&mut buf).ok().map(|(n, _)| buf[..n].to_vec())
}

fn ask(to: SocketAddr, payload: &[u8]) -> Option<Vec<u8>> {
    ask_from(Ipv4Addr::LOCALHOST, to, payload, Duration::from_secs(1))
}

fn v4(addr: SocketAddr) -> SocketAddrV4 {
    match addr {
        SocketAddr::V4(a) => a,
        SocketAddr::V6(a) => panic!("expected IPv4, got {a}"),
    }
}

// ---------------------------------------------------------------- spoofing

/// A raw IPv4 socket (IPPROTO_RAW: we write the IP header); closed on drop.
struct RawSocket(i32);

impl Drop for RawSocket {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: our own descriptor, closed once.
        unsafe { libc::close(self.0) };
    }
}

/// A raw socket, or `None` (with a loud note) when this process may not
/// open one.
#[allow(unsafe_code)]
fn raw_socket(test: &str) -> Option<RawSocket> {
    // SAFETY: plain system calls on values we own.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
    if fd < 0 {
        eprintln!(
            "SKIPPED {test}: a spoofed source needs a raw socket (root / CAP_NET_RAW): {}",
            std::io::Error::last_os_error()
        );
        return None;
    }
    Some(RawSocket(fd))
}

/// Sends one UDP datagram whose IPv4 source is `from`, whoever owns it.
#[allow(unsafe_code)]
fn spoof(raw: &RawSocket, from: SocketAddrV4, to: SocketAddrV4, payload: &[u8]) {
    let udp_len = 8 + payload.len();
    let total = 20 + udp_len;
    let mut p = Vec::with_capacity(total);
    // IPv4 header: the kernel fills in the checksum and the id.
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, 64, libc::IPPROTO_UDP as u8, 0, 0]);
    p.extend_from_slice(&from.ip().octets());
    p.extend_from_slice(&to.ip().octets());
    // UDP header; checksum 0 means "none" over IPv4.
    p.extend_from_slice(&from.port().to_be_bytes());
    p.extend_from_slice(&to.port().to_be_bytes());
    p.extend_from_slice(&(udp_len as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    let dst = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr { s_addr: u32::from(*to.ip()).to_be() },
        sin_zero: [0; 8],
    };
    // SAFETY: `p` and `dst` outlive the call; the length is `dst`'s size.
    let sent = unsafe {
        libc::sendto(
            raw.0,
            p.as_ptr().cast(),
            p.len(),
            0,
            std::ptr::from_ref(&dst).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    assert_eq!(sent, total as isize, "raw send failed: {}", std::io::Error::last_os_error());
}

/// Proves that a spoofed datagram reaches `server` at all, so a test that
/// sees no loop cannot pass only because the kernel dropped the spoof: a
/// datagram with a source we own (but did not send from) gets its answer.
fn assert_spoofing_reaches(raw: &RawSocket, server: SocketAddr, payload: &[u8]) {
    let witness = UdpSocket::bind("127.0.0.1:0").unwrap();
    witness.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    spoof(raw, v4(witness.local_addr().unwrap()), v4(server), payload);
    let mut buf = [0u8; 1024];
    assert!(
        witness.recv_from(&mut buf).is_ok(),
        "a spoofed datagram to {server} was not answered: raw sends do not arrive"
    );
}

/// CPU time (user + system) a process has used so far.
#[allow(unsafe_code)]
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces): state is #3,
    // utime #14 and stime #15, in clock ticks.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<u64> = rest.split(' ').skip(11).take(2).map(|x| x.parse().unwrap()).collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis((f[0] + f[1]) * 1000 / hz)
}

/// Most CPU an idle server may use in the 2 s measured. A looping server is
/// CPU-bound: alone it used a core or more (2 s of CPU in 2 s), and even on
/// this 2-core machine at load 5 it got 0.55 s; a server that is not looping
/// uses a few milliseconds.
const IDLE_CPU: Duration = Duration::from_millis(150);

#[test]
fn a_datagram_spoofed_from_the_echo_server_itself_does_not_loop() {
    let Some(raw) = raw_socket("a_datagram_spoofed_from_the_echo_server_itself_does_not_loop") else { return };
    let s = start(&["echo", "--udp-only", "--port", "0"], 1);
    assert_spoofing_reaches(&raw, s.addr("udp"), b"control");
    let me = v4(s.addr("udp"));
    spoof(&raw, me, me, b"loop");
    let before = cpu_time(s.pid());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_time(s.pid()) - before;
    assert!(used < IDLE_CPU, "echo answered itself: {used:?} of CPU in 2 s");
    assert_eq!(ask(s.addr("udp"), b"still here").as_deref(), Some(&b"still here"[..]));
}

#[test]
fn two_echo_servers_do_not_ping_pong_a_spoofed_datagram() {
    let Some(raw) = raw_socket("two_echo_servers_do_not_ping_pong_a_spoofed_datagram") else { return };
    let a = start(&["echo", "--udp-only", "--port", "0"], 1);
    let b = start(&["echo", "--udp-only", "--port", "0"], 1);
    // One datagram to A "from" B: A answers B, B answers A, … until one of
    // them drops it. Arbitrary ports are no loop risk by themselves; the
    // per-address rate limit (64 at once) ends it.
    assert_spoofing_reaches(&raw, a.addr("udp"), b"control");
    spoof(&raw, v4(b.addr("udp")), v4(a.addr("udp")), b"ping");
    let (a0, b0) = (cpu_time(a.pid()), cpu_time(b.pid()));
    std::thread::sleep(Duration::from_secs(2));
    let (ua, ub) = (cpu_time(a.pid()) - a0, cpu_time(b.pid()) - b0);
    assert!(ua < IDLE_CPU && ub < IDLE_CPU, "servers kept answering each other: A {ua:?}, B {ub:?} of CPU in 2 s");
    // Both still serve real clients (the loop used another address's quota).
    assert!(ask_from(Ipv4Addr::new(127, 0, 0, 3), a.addr("udp"), b"x", Duration::from_secs(1)).is_some());
    assert!(ask_from(Ipv4Addr::new(127, 0, 0, 3), b.addr("udp"), b"x", Duration::from_secs(1)).is_some());
}

#[test]
fn time_services_refuse_a_datagram_spoofed_from_their_own_port() {
    let Some(raw) = raw_socket("time_services_refuse_a_datagram_spoofed_from_their_own_port") else { return };
    // Without a rate limit (as for load tests) nothing but the loop check
    // stands between a strftime server and its own answers: each answer
    // (a date, no `%`) is the next request's format, forever.
    let args = ["time", "serve", "--strftime-port", "0", "--no-daytime", "--no-time", "--no-sntp", "--no-rate-limit"];
    let s = start(&args, 1);
    assert_spoofing_reaches(&raw, s.addr("udp"), b"%%");
    let me = v4(s.addr("udp"));
    spoof(&raw, me, me, b"%Y-%m-%d");
    let before = cpu_time(s.pid());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_time(s.pid()) - before;
    assert!(used < IDLE_CPU, "strftime answered itself: {used:?} of CPU in 2 s");
    assert!(ask(s.addr("udp"), b"%%").is_some());
}

// ---------------------------------------------------------------- echo limits

#[test]
fn echo_udp_is_rate_limited_per_address_and_the_flag_turns_it_off() {
    let s = start(&["echo", "--udp-only", "--port", "0", "--udp-burst", "3", "--udp-rate", "0.01"], 1);
    let a = s.addr("udp");
    let me = Ipv4Addr::LOCALHOST;
    let sock = UdpSocket::bind((me, 0)).unwrap();
    for i in 0..3 {
        assert_eq!(ask_on(&sock, a, b"hi", Duration::from_secs(2)).as_deref(), Some(&b"hi"[..]), "datagram {i}");
    }
    assert_eq!(ask_on(&sock, a, b"hi", Duration::from_secs(1)), None, "the 4th within the burst window");
    // Per address, not per socket: another port of the same address is
    // limited too; another address is not.
    assert_eq!(ask_from(me, a, b"hi", Duration::from_secs(1)), None);
    assert_eq!(
        ask_from(Ipv4Addr::new(127, 0, 0, 9), a, b"other", Duration::from_secs(2)).as_deref(),
        Some(&b"other"[..])
    );

    let open = start(&["echo", "--udp-only", "--port", "0", "--no-rate-limit"], 1);
    let sock = UdpSocket::bind((me, 0)).unwrap();
    for i in 0..200 {
        assert!(ask_on(&sock, open.addr("udp"), b"load", Duration::from_secs(2)).is_some(), "datagram {i}");
    }
}

#[test]
fn echo_udp_still_works_with_socat_and_nc() {
    need("socat");
    need("nc");
    let s = start(&["echo", "--udp-only", "--port", "0"], 1);
    let a = s.addr("udp");
    let (st, out, err) =
        run_with_input(Command::new("socat").args(["-t", "2", "-", &format!("UDP:{a}")]), b"one datagram", T);
    assert!(st.success(), "socat failed: {err}");
    assert_eq!(out, b"one datagram");
    let (_, out, _) =
        run_with_input(Command::new("nc").args(["-u", "-w", "1", "127.0.0.1", &a.port().to_string()]), b"via nc\n", T);
    assert_eq!(out, b"via nc\n");
}

// ---------------------------------------------------------------- the limiter table

/// Sends one strftime and one SNTP request from each of `count` addresses in
/// 127.10.0.0/15 and returns how many addresses got both answers. Batches
/// wait for their answers, so the server's receive buffer never overflows
/// unnoticed. (A few sources are refused on purpose: a socket whose
/// ephemeral port happens to be the strftime port is a loop risk.)
fn flood_from_distinct_addresses(strftime: SocketAddr, sntp: SocketAddr, count: u32) -> u32 {
    let base = u32::from(Ipv4Addr::new(127, 10, 0, 0));
    let request = sntp_request();
    let mut answered = 0;
    let mut buf = [0u8; 512];
    for batch in (0..count).collect::<Vec<_>>().chunks(256) {
        let socks: Vec<UdpSocket> = batch
            .iter()
            .map(|i| {
                let s = UdpSocket::bind((Ipv4Addr::from(base + i), 0)).unwrap();
                s.send_to(b"%%", strftime).unwrap();
                s.send_to(&request, sntp).unwrap();
                s
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(1);
        for s in &socks {
            let mut got = 0;
            while got < 2 {
                // Past the deadline, still take what is already queued.
                let left = deadline.saturating_duration_since(Instant::now());
                s.set_read_timeout(Some(left.max(Duration::from_millis(1)))).unwrap();
                match s.recv_from(&mut buf) {
                    Ok(_) => got += 1,
                    Err(_) => break,
                }
            }
            answered += u32::from(got == 2);
        }
    }
    answered
}

fn sntp_request() -> [u8; 48] {
    let mut r = [0u8; 48];
    r[0] = 0b00_100_011; // LI 0, version 4, mode 3 (client)
    r[40..48].copy_from_slice(&0x1234_5678_9abc_def0u64.to_be_bytes());
    r
}

/// Stratum of an SNTP answer: 0 is a kiss-o'-death.
fn stratum(reply: &[u8]) -> u8 {
    assert_eq!(reply.len(), 48, "an SNTP reply");
    reply[1]
}

#[test]
fn a_flood_of_70k_new_sources_does_not_switch_the_limiter_off() {
    // The figure: 70,000 sources against a table of 65,536. On
    // Linux every 127.0.0.0/8 address is local, so no spoofing is needed.
    let s = start(
        &[
            "time",
            "serve",
            "--strftime-port",
            "0",
            "--sntp-port",
            "0",
            "--no-daytime",
            "--no-time",
            "--udp-burst",
            "2",
            "--udp-rate",
            "0.01",
            "--sntp-burst",
            "2",
            "--sntp-rate",
            "0.01",
        ],
        2,
    );
    let (strftime, sntp) = (s.addr_n("udp", 0), s.addr_n("udp", 1));
    let wait = Duration::from_secs(1);
    let abuser = Ipv4Addr::new(127, 0, 0, 2);
    let abuser_sock = UdpSocket::bind((abuser, 0)).unwrap();
    for i in 0..2 {
        assert!(ask_on(&abuser_sock, strftime, b"%%", wait).is_some(), "abuser's strftime {i}");
        assert_eq!(stratum(&ask_on(&abuser_sock, sntp, &sntp_request(), wait).unwrap()), 2, "abuser's sntp {i}");
    }
    assert_eq!(ask_on(&abuser_sock, strftime, b"%%", wait), None, "abuser limited before the flood");
    assert_eq!(stratum(&ask_on(&abuser_sock, sntp, &sntp_request(), wait).unwrap()), 0, "a kiss-o'-death");

    let (started, cpu) = (Instant::now(), cpu_time(s.pid()));
    let answered = flood_from_distinct_addresses(strftime, sntp, 70_000);
    eprintln!(
        "flood: {answered} of 70000 sources answered in {:?}, server CPU {:?}",
        started.elapsed(),
        cpu_time(s.pid()) - cpu
    );
    assert!(answered > 66_000, "the flood must overfill the 65,536-entry table; only {answered} sources got through");

    // A client new to the full table is limited like any other…
    let fresh = UdpSocket::bind((Ipv4Addr::new(127, 20, 0, 1), 0)).unwrap();
    let replies = (0..5).filter(|_| ask_on(&fresh, strftime, b"%%", wait).is_some()).count();
    assert_eq!(replies, 2, "a new client after the flood gets its burst of 2, not unlimited answers");
    let strata: Vec<Option<u8>> =
        (0..4).map(|_| ask_on(&fresh, sntp, &sntp_request(), wait).map(|r| stratum(&r))).collect();
    assert_eq!(strata, [Some(2), Some(2), Some(0), None], "sntp: burst, kiss-o'-death, silence");
    // …and the client limited before the flood still is.
    assert_eq!(ask_on(&abuser_sock, strftime, b"%%", wait), None, "abuser freed by the flood");
    let after = ask_on(&abuser_sock, sntp, &sntp_request(), wait).map(|r| stratum(&r));
    assert!(matches!(after, None | Some(0)), "abuser got time again after the flood: stratum {after:?}");
}

// ---------------------------------------------------------------- reply sizes

fn time_all() -> (Sockit, SocketAddr, SocketAddr, SocketAddr) {
    let s = start(
        &[
            "time",
            "serve",
            "--strftime-port",
            "0",
            "--daytime-port",
            "0",
            "--time-port",
            "0",
            "--no-sntp",
            "--no-rate-limit",
        ],
        5,
    );
    let (strftime, daytime, time) = (s.addr_n("udp", 0), s.addr_n("udp", 1), s.addr_n("udp", 2));
    (s, strftime, daytime, time)
}

#[test]
fn strftime_over_udp_no_longer_amplifies_sixteen_times() {
    let (_s, strftime, daytime, time) = time_all();
    // The request: 512 bytes of `%64a` (16 bytes out per byte in).
    let big = "%64a".repeat(128);
    let reply = ask(strftime, big.as_bytes()).expect("an answer");
    assert!(reply.len() + 28 <= 2 * (512 + 28), "{} bytes out for 512 in", reply.len());
    let text = String::from_utf8(reply).unwrap();
    assert!(text.starts_with("error: the answer is 8192 bytes"), "{text}");
    assert!(text.contains("pad the request to 4082 bytes"), "{text}");
    // Padding with NUL bytes, as the error says, gets the whole answer.
    let mut padded = big.into_bytes();
    padded.resize(4082, 0);
    let reply = ask(strftime, &padded).expect("the padded answer");
    assert_eq!(reply.len(), 8192);
    // Small requests are untouched: the defaults fit an empty datagram.
    let default = ask(strftime, b"").unwrap();
    assert_eq!(default.len(), 19, "{:?}", String::from_utf8_lossy(&default));
    assert_eq!(ask(strftime, b"%c").unwrap().len(), 24);
    let line = String::from_utf8(ask(daytime, b"").unwrap()).unwrap();
    assert!(line.ends_with("\r\n") && line.len() <= 32, "{line:?}");
    assert_eq!(ask(time, b"").unwrap().len(), 4);
}

#[test]
fn strftime_caps_with_python_and_nc_and_query_pads_by_itself() {
    need("python3");
    need("nc");
    let (_s, strftime, _, _) = time_all();
    let port = strftime.port();
    // python3: a small format as before; a big one gets the pad error, then
    // the answer once padded.
    let script = format!(
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(5)\n\
         a=('127.0.0.1',{port})\n\
         s.sendto(b'%A %H:%M',a); print(len(s.recv(65536)))\n\
         f=b'%64a'*16; s.sendto(f,a); e=s.recv(65536).decode(); print(e)\n\
         n=int(e.split('pad the request to ')[1].split()[0]); s.sendto(f+b'\\0'*(n-len(f)),a)\n\
         print(len(s.recv(65536)))"
    );
    let (st, out, err) = run_with_input(Command::new("python3").args(["-c", &script]), b"", T);
    assert!(st.success(), "python failed: {err}");
    let out = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].parse::<usize>().unwrap() >= "Monday 00:00".len(), "{out}");
    assert!(lines[1].starts_with("error: ") && lines[1].len() <= 2 * 64 + 28, "{out}");
    assert_eq!(lines[2], "1024", "{out}");
    // nc -u, as the README shows.
    let (_, out, _) =
        run_with_input(Command::new("nc").args(["-u", "-w", "1", "127.0.0.1", &port.to_string()]), b"%A %c\n", T);
    let text = String::from_utf8(out).unwrap();
    assert!(text.ends_with('\n') && text.len() > 30 && !text.starts_with("error"), "{text:?}");
    // sockit time query pads when told to.
    let out = Command::new(bin())
        .args(["time", "query", &strftime.to_string(), "--format", &"%64a".repeat(16)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim_end_matches('\n').len(), 1024);
}

// ---------------------------------------------------------------- per-IP over IPv6

#[test]
fn max_per_ip_holds_over_ipv6() {
    let s = start(&["echo", "--tcp-only", "--bind", "::1", "--port", "0", "--max-per-ip", "1"], 1);
    let a = s.addr("tcp");
    assert!(a.is_ipv6());
    let mut first = TcpStream::connect(a).unwrap();
    first.set_read_timeout(Some(T)).unwrap();
    first.write_all(b"one\n").unwrap();
    let mut line = String::new();
    BufReader::new(first.try_clone().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line, "one\n");
    let second = TcpStream::connect(a).unwrap();
    second.set_read_timeout(Some(T)).unwrap();
    let mut refusal = String::new();
    BufReader::new(second).read_line(&mut refusal).unwrap();
    assert_eq!(refusal, "error: too many connections from ::1: 1 is the limit per address\r\n");
}

#[test]
fn a_long_daytime_line_needs_a_long_enough_datagram() {
    let args = [
        "time",
        "serve",
        "--daytime-port",
        "0",
        "--no-strftime",
        "--no-time",
        "--no-sntp",
        "--daytime-format",
        "%A, %d %B %Y %H:%M:%S %Z",
    ];
    let s = start(&args, 2);
    let udp = s.addr("udp");
    assert!(s.wait_stderr("over UDP only datagrams of at least", T), "a warning at start-up");
    // 34 to 43 bytes with CRLF (`Friday, 01 May …` to `Wednesday, 30 September …`):
    // over the 32 an empty datagram allows, within the 48 a 10-byte one allows.
    assert_eq!(ask(udp, b""), None, "an over-cap line to an empty datagram");
    let line = String::from_utf8(ask(udp, &[0; 10]).expect("a padded request gets the line")).unwrap();
    assert!(line.ends_with("\r\n") && line.contains(", "), "{line:?}");
    // TCP is not capped.
    let mut tcp = String::new();
    BufReader::new(TcpStream::connect(s.addr("tcp")).unwrap()).read_line(&mut tcp).unwrap();
    assert_eq!(tcp.trim_end().len(), line.trim_end().len());
}
