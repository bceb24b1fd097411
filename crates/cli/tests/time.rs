//! `sockit time serve` against the clients people use: python3's socket
//! module and time.strftime, nc, rdate (RFC 868 over TCP and UDP, and SNTP),
//! chronyd -Q, and sockit's own `time query`.
//!
//! The server announces its listeners in a fixed order: strftime udp,
//! daytime tcp, daytime udp, time tcp, time udp, sntp udp.

#![allow(clippy::unwrap_used)] // test helpers: a failure is a test failure

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, SystemTime};

use sockit_testkit::{bin, need, run_with_input, Sockit};

const ALL_ON_ANY_PORT: &[&str] =
    &["time", "serve", "--strftime-port", "0", "--daytime-port", "0", "--time-port", "0", "--sntp-port", "0"];

struct Time {
    s: Sockit,
}

impl Time {
    fn start(extra: &[&str]) -> Time {
        Time::start_env(extra, &[])
    }

    fn start_env(extra: &[&str], env: &[(&str, &str)]) -> Time {
        let mut cmd = Command::new(bin());
        cmd.args(ALL_ON_ANY_PORT).args(extra).envs(env.iter().copied());
        Time { s: Sockit::start_with(&mut cmd, 6) }
    }
    fn strftime(&self) -> SocketAddr {
        self.s.addr_n("udp", 0)
    }
    fn daytime_tcp(&self) -> SocketAddr {
        self.s.addr_n("tcp", 0)
    }
    fn daytime_udp(&self) -> SocketAddr {
        self.s.addr_n("udp", 1)
    }
    fn time_tcp(&self) -> SocketAddr {
        self.s.addr_n("tcp", 1)
    }
    fn time_udp(&self) -> SocketAddr {
        self.s.addr_n("udp", 2)
    }
    fn sntp(&self) -> SocketAddr {
        self.s.addr_n("udp", 3)
    }
}

/// Sends one datagram and waits for one answer. A missing answer is `None`
/// after 1 s: long for loopback, and where silence is expected a late
/// answer could only make the test pass wrongly, never fail by chance.
fn udp_ask(addr: SocketAddr, payload: &[u8]) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    sock.send_to(payload, addr).unwrap();
    let mut buf = vec![0u8; 65_536];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Parses a date printed in the C locale (`Sun Nov 22 00:27:27 2026`, zone
/// word removed) and checks it is within 2 s of now.
fn assert_near_now(text: &str, fmt: &str) {
    let t = chrono::NaiveDateTime::parse_from_str(text.trim(), fmt)
        .unwrap_or_else(|e| panic!("{text:?} does not parse as {fmt:?}: {e}"));
    let diff = (t.and_utc().timestamp() - unix_now()).abs();
    assert!(diff <= 2, "{text:?} is {diff} s from now");
}

const PYTHON_STRFTIME: &str = r#"
import socket, sys, time
addr = (sys.argv[1], int(sys.argv[2]))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
bad = []
for f in sys.argv[3:]:
    want = f if f else '%Y-%m-%d %X'
    for attempt in range(3):
        # Python's strftime reads time(2), the kernel's coarse clock, which
        # runs a few ms behind the precise one sockit reads: just after a
        # second boundary they differ by one second. A retry waits, so it
        # is not at that boundary again.
        if attempt:
            time.sleep(0.25)
        before = time.strftime(want)
        s.sendto(f.encode(), addr)
        got = s.recv(65535).decode()
        after = time.strftime(want)
        if got in (before, after):
            break
    else:
        bad.append((f, got, before))
print(len(sys.argv) - 3, "formats checked")
for b in bad:
    print("MISMATCH format=%r sockit=%r python=%r" % b)
sys.exit(1 if bad else 0)
"#;

/// Every directive, some flags and widths, and the empty datagram, compared
/// with Python's own time.strftime in the same time zone.
fn python_agrees(tz: Option<&str>) {
    need("python3");
    let env: Vec<(&str, &str)> = tz.map(|z| vec![("TZ", z)]).unwrap_or_default();
    let t = Time::start_env(&[], &env);
    let addr = t.strftime();
    let formats = [
        "",
        "%Y-%m-%d %H:%M:%S",
        "%X",
        "%x",
        "%c",
        "%A %a %B %b %h",
        "%j %U %W %w %u %V %G %g",
        "%Z %z",
        "%p %I %l %k",
        "%y %C %e %D %F %T %R %r",
        "%s",
        "%%",
        "%-d %_H %^a %#Z %10Y %-10d",
        "%Ec %Oy",
        "plain text",
        "day %j of %Y",
    ];
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(PYTHON_STRFTIME).arg(addr.ip().to_string()).arg(addr.port().to_string()).args(formats);
    cmd.envs(env.iter().copied());
    let (status, out, err) = run_with_input(&mut cmd, b"", Duration::from_secs(30));
    let out = String::from_utf8_lossy(&out);
    assert!(status.success(), "python3 disagrees:\n{out}\n{err}");
    assert!(out.contains(&format!("{} formats checked", formats.len())), "{out}");
}

#[test]
fn strftime_matches_python_in_utc() {
    python_agrees(None);
}

#[test]
fn strftime_matches_python_in_another_zone() {
    // A half-hour offset, so %z and %Z cannot pass by accident.
    python_agrees(Some("Asia/Kolkata"));
}

#[test]
fn strftime_bad_formats_get_errors_and_the_server_keeps_serving() {
    let t = Time::start(&[]);
    let long_c = "%c".repeat(1024);
    for bad in [&b"%"[..], b"%Q", long_c.as_bytes(), b"\xff\xfe%Y", b"%-^d", b"%99d"] {
        let reply = udp_ask(t.strftime(), bad).expect("an error reply");
        let text = String::from_utf8_lossy(&reply);
        assert!(text.starts_with("error: "), "{:?} got {text:?}", String::from_utf8_lossy(bad));
    }
    let reply = udp_ask(t.strftime(), b"%Y").expect("still serving");
    assert_eq!(String::from_utf8(reply).unwrap().parse::<i64>().unwrap() / 100, 20);
    assert!(t.s.stop(Duration::from_secs(10)).success());
}

#[test]
fn daytime_over_nc_tcp_and_udp() {
    need("nc");
    let t = Time::start(&[]);
    let a = t.daytime_tcp();
    let (status, out, err) = run_with_input(
        Command::new("nc").args([&a.ip().to_string(), &a.port().to_string()]),
        b"",
        Duration::from_secs(10),
    );
    assert!(status.success(), "nc: {err}");
    let line = String::from_utf8(out).unwrap();
    assert!(line.ends_with(" UTC\r\n") && line.lines().count() == 1, "{line:?}");
    assert_near_now(line.trim_end().trim_end_matches(" UTC"), "%a %b %e %H:%M:%S %Y");

    let a = t.daytime_udp();
    let (_, out, err) = run_with_input(
        Command::new("nc").args(["-u", "-w1", &a.ip().to_string(), &a.port().to_string()]),
        b"\n",
        Duration::from_secs(10),
    );
    let line = String::from_utf8(out).unwrap();
    assert!(line.ends_with(" UTC\r\n"), "nc -u got {line:?} ({err})");
    assert_near_now(line.trim_end().trim_end_matches(" UTC"), "%a %b %e %H:%M:%S %Y");
}

/// `rdate -p` prints the server's time like `Sun Nov 22 00:27:27 UTC 2026`.
fn rdate(args: &[&str]) -> String {
    need("rdate");
    let mut cmd = Command::new("rdate");
    cmd.args(args).env("TZ", "UTC");
    let (status, out, err) = run_with_input(&mut cmd, b"", Duration::from_secs(15));
    let out = String::from_utf8_lossy(&out).to_string();
    assert!(status.success(), "rdate {args:?} failed: {out} {err}");
    assert_near_now(&out.replace(" UTC ", " "), "%a %b %e %H:%M:%S %Y");
    out
}

#[test]
fn rdate_reads_rfc_868_over_tcp_and_udp() {
    let t = Time::start(&[]);
    let (tcp, udp) = (t.time_tcp(), t.time_udp());
    rdate(&["-p", "-o", &tcp.port().to_string(), "127.0.0.1"]);
    rdate(&["-p", "-u", "-o", &udp.port().to_string(), "127.0.0.1"]);
    // The raw answer: 4 bytes, seconds since 1900.
    let raw = udp_ask(udp, b"").expect("4 bytes");
    let secs = u32::from_be_bytes(raw.try_into().unwrap()) as i64;
    assert!((secs - 2_208_988_800 - unix_now()).abs() <= 2);
}

#[test]
fn rdate_and_chronyd_accept_sntp() {
    need("chronyd");
    let t = Time::start(&[]);
    let port = t.sntp().port().to_string();
    rdate(&["-p", "-n", "-o", &port, "127.0.0.1"]);
    let server = format!("server 127.0.0.1 port {port} iburst maxsamples 1");
    let (status, out, err) = run_with_input(
        Command::new("chronyd").args(["-Q", "-x", "-f", "/dev/null", "-t", "15", &server]),
        b"",
        Duration::from_secs(30),
    );
    let text = format!("{}{err}", String::from_utf8_lossy(&out));
    assert!(status.success(), "chronyd -Q failed: {text}");
    let wrong_by = text
        .lines()
        .find_map(|l| l.split("System clock wrong by ").nth(1))
        .unwrap_or_else(|| panic!("chronyd got no sample from sockit:\n{text}"));
    let secs: f64 = wrong_by.split_whitespace().next().unwrap().parse().unwrap();
    assert!(secs.abs() < 0.5, "chronyd measured {secs} s against the same clock");
}

fn sntp_request(first_byte: u8, len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len.max(1)];
    p[0] = first_byte;
    if len >= 48 {
        p[40..48].copy_from_slice(&[0xe0, 1, 2, 3, 4, 5, 6, 7]);
    }
    p.truncate(len);
    p
}

const CLIENT_V4: u8 = 0b00_100_011;
const SERVER_V4: u8 = 0b00_100_100;

#[test]
fn sntp_drops_bad_packets_and_keeps_serving() {
    let t = Time::start(&[]);
    let a = t.sntp();
    assert_eq!(udp_ask(a, &sntp_request(CLIENT_V4, 1)), None, "1 byte");
    assert_eq!(udp_ask(a, &vec![0u8; 2000]), None, "2000 zero bytes (version 0)");
    assert_eq!(udp_ask(a, &sntp_request(SERVER_V4, 48)), None, "server-mode packet");
    // A client header followed by 1952 bytes of extension fields: answered
    // from the header.
    let reply = udp_ask(a, &sntp_request(CLIENT_V4, 2000)).expect("reply to a long client packet");
    assert_eq!(reply.len(), 48);
    let reply = udp_ask(a, &sntp_request(0b00_011_011, 48)).expect("reply to v3");
    assert_eq!(reply[0], 0b00_011_100, "LI 0, the client's version (3), mode 4");
    assert_eq!(reply[1], 2, "stratum 2");
    assert_eq!(&reply[24..32], &[0xe0, 1, 2, 3, 4, 5, 6, 7], "origin = the request's transmit timestamp");
    let stamp = |at: usize| u64::from_be_bytes(reply[at..at + 8].try_into().unwrap());
    let (reference, receive, transmit) = (stamp(16), stamp(32), stamp(40));
    assert!(reference <= receive && receive <= transmit, "{reference:x} {receive:x} {transmit:x}");
    let receive_unix = (receive >> 32) as i64 - 2_208_988_800;
    assert!((receive_unix - unix_now()).abs() <= 2, "receive timestamp is {receive_unix}");
    assert!(t.s.stop(Duration::from_secs(10)).success());
}

#[test]
fn sntp_rate_limit_answers_kiss_of_death_rate() {
    let t = Time::start(&["--sntp-burst", "3", "--sntp-rate", "0.2"]);
    let a = t.sntp();
    for i in 0..3 {
        let r = udp_ask(a, &sntp_request(CLIENT_V4, 48)).unwrap_or_else(|| panic!("request {i} unanswered"));
        assert_eq!(r[1], 2, "request {i} within the burst gets time");
    }
    let kod = udp_ask(a, &sntp_request(CLIENT_V4, 48)).expect("a kiss-o'-death");
    assert_eq!((kod[0] >> 6, kod[0] & 7, kod[1]), (3, 4, 0), "LI 3, mode 4, stratum 0");
    assert_eq!(&kod[12..16], b"RATE");
    assert_eq!(udp_ask(a, &sntp_request(CLIENT_V4, 48)), None, "then silence");
    // sockit's own client says what happened.
    let (status, _, err) = run_with_input(
        Command::new(bin()).args(["time", "query", &a.to_string(), "--proto", "sntp"]),
        b"",
        Duration::from_secs(10),
    );
    assert!(!status.success() && err.contains("RATE"), "{err}");
}

#[test]
fn udp_services_drop_datagrams_over_the_per_client_limit() {
    let t = Time::start(&["--udp-burst", "2", "--udp-rate", "0.1"]);
    for addr in [t.strftime(), t.daytime_udp(), t.time_udp()] {
        assert!(udp_ask(addr, b"%%").is_some());
        assert!(udp_ask(addr, b"%%").is_some());
        assert_eq!(udp_ask(addr, b"%%"), None, "{addr}: third datagram within the burst window");
    }
    // TCP is governed by connection limits, not the datagram rate.
    let mut s = std::net::TcpStream::connect(t.time_tcp()).unwrap();
    let mut four = [0u8; 4];
    std::io::Read::read_exact(&mut s, &mut four).unwrap();
}

#[test]
fn query_speaks_every_protocol() {
    let t = Time::start(&[]);
    let q = |args: &[&str]| {
        let (status, out, err) =
            run_with_input(Command::new(bin()).args(["time", "query"]).args(args), b"", Duration::from_secs(10));
        assert!(status.success(), "query {args:?}: {err}");
        String::from_utf8(out).unwrap()
    };
    let out = q(&[&t.strftime().to_string(), "--format", "%Y|%%"]);
    assert!(out.trim_end().ends_with("|%") && out.len() == 7, "{out:?}");
    let out = q(&[&t.daytime_tcp().to_string(), "--proto", "daytime"]);
    assert!(out.trim_end().ends_with("UTC"), "{out:?}");
    let out = q(&[&t.daytime_udp().to_string(), "--proto", "daytime", "--udp"]);
    assert!(out.trim_end().ends_with("UTC"), "{out:?}");
    let out = q(&[&t.time_tcp().to_string(), "--proto", "time"]);
    assert!(out.contains("offset +0 s") || out.contains("offset +1 s") || out.contains("offset -1 s"), "{out}");
    let out = q(&[&t.sntp().to_string(), "--proto", "sntp"]);
    let offset: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("offset"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{out}"))
        .parse()
        .unwrap();
    assert!(offset.abs() < 0.1 && out.contains("delay") && out.contains("stratum 2"), "{out}");
    // A refused format is an error, not an answer.
    let (status, _, err) = run_with_input(
        Command::new(bin()).args(["time", "query", &t.strftime().to_string(), "--format", "%Q"]),
        b"",
        Duration::from_secs(10),
    );
    assert!(!status.success() && err.contains("unknown directive"), "{err}");
}

#[test]
fn disabled_services_are_not_announced_and_order_is_fixed() {
    let s = Sockit::start(
        &bin(),
        &["time", "serve", "--strftime-port", "0", "--sntp-port", "0", "--no-daytime", "--no-time"],
        2,
    );
    let schemes: Vec<&str> = s.listening.iter().map(|(scheme, _)| scheme.as_str()).collect();
    assert_eq!(schemes, ["udp", "udp"]);
    // The first is strftime, the second SNTP.
    let first = udp_ask(s.addr_n("udp", 0), b"%%").unwrap();
    assert_eq!(first, b"%");
    let second = udp_ask(s.addr_n("udp", 1), &sntp_request(CLIENT_V4, 48)).unwrap();
    assert_eq!(second.len(), 48);
    assert!(!s.stderr().contains("listening on tcp"));
}

#[test]
fn time_services_run_under_up() {
    // Other services announce first and their number may change; read the
    // table row instead of counting listeners.
    let s = Sockit::start(&bin(), &["up", "--any-port"], 1);
    assert!(s.wait_stderr("sockit is up", Duration::from_secs(20)), "{}", s.stderr());
    let stderr = s.stderr();
    let row = |service: &str| -> SocketAddr {
        let line = stderr
            .lines()
            .find(|l| l.split_whitespace().next() == Some(service))
            .unwrap_or_else(|| panic!("no {service} row in:\n{stderr}"));
        let url = line.split_whitespace().nth(1).unwrap();
        url.split_once("://").unwrap().1.parse().unwrap()
    };
    let reply = udp_ask(row("sntp"), &sntp_request(CLIENT_V4, 48)).expect("sntp under up");
    assert_eq!(reply.len(), 48);
    assert_eq!(udp_ask(row("strftime"), b"%%").unwrap(), b"%");
    assert!(s.stop(Duration::from_secs(10)).success());
}
