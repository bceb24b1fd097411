//! `sockit echo` against real peers: nc, socat, python3 and std sockets.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use sockit_testkit::{bin, need, random_bytes, run_with_input, Sockit};

const T: Duration = Duration::from_secs(20);

fn echo(args: &[&str], listeners: usize) -> Sockit {
    let mut all = vec!["echo", "--port", "0"];
    all.extend_from_slice(args);
    Sockit::start(&bin(), &all, listeners)
}

#[test]
fn announces_tcp_and_udp_on_the_same_port_first() {
    let s = echo(&[], 2);
    assert_eq!(s.addr("tcp").port(), s.addr("udp").port());
    assert!(s.addr("tcp").ip().is_loopback(), "binds 127.0.0.1 by default");
    let first = s.stderr().lines().next().unwrap_or_default().to_string();
    assert!(first.starts_with("listening on tcp://127.0.0.1:"), "first stderr line: {first}");
}

#[test]
fn tcp_with_nc_and_socat() {
    need("nc");
    need("socat");
    let s = echo(&[], 2);
    let a = s.addr("tcp");
    let port = a.port().to_string();
    let (st, out, err) = run_with_input(Command::new("nc").args(["-N", "127.0.0.1", &port]), b"hello nc\n", T);
    assert!(st.success(), "nc failed: {err}");
    assert_eq!(out, b"hello nc\n");
    let (st, out, err) =
        run_with_input(Command::new("socat").args(["-", &format!("TCP:{a}")]), "héllo socat".as_bytes(), T);
    assert!(st.success(), "socat failed: {err}");
    assert_eq!(out, "héllo socat".as_bytes());
}

#[test]
fn udp_with_socat_nc_and_python() {
    need("socat");
    need("nc");
    need("python3");
    let s = echo(&[], 2);
    let a = s.addr("udp");
    let (st, out, err) =
        run_with_input(Command::new("socat").args(["-t", "2", "-", &format!("UDP:{a}")]), b"one datagram", T);
    assert!(st.success(), "socat failed: {err}");
    assert_eq!(out, b"one datagram");
    let (_, out, _) =
        run_with_input(Command::new("nc").args(["-u", "-w", "1", "127.0.0.1", &a.port().to_string()]), b"via nc\n", T);
    assert_eq!(out, b"via nc\n");
    let script = format!(
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(5)\n\
         s.sendto(b'py-udp',('127.0.0.1',{}))\nprint(s.recvfrom(100)[0].decode())",
        a.port()
    );
    let (st, out, err) = run_with_input(Command::new("python3").args(["-c", &script]), b"", T);
    assert!(st.success(), "python failed: {err}");
    assert_eq!(String::from_utf8_lossy(&out).trim(), "py-udp");
}

#[test]
fn python_client_sending_without_newline() {
    need("python3");
    let s = echo(&["--upper"], 2);
    let script = format!(
        "import socket\ns=socket.create_connection(('127.0.0.1',{}))\ns.settimeout(5)\n\
         s.sendall(b'hello, server')\nprint(s.recv(1024).decode())",
        s.addr("tcp").port()
    );
    let (st, out, err) = run_with_input(Command::new("python3").args(["-c", &script]), b"", T);
    assert!(st.success(), "python failed: {err}");
    assert_eq!(String::from_utf8_lossy(&out).trim(), "HELLO, SERVER");
}

#[test]
fn one_mebibyte_of_random_bytes_round_trips_exactly() {
    let s = echo(&["--tcp-only"], 1);
    let data = random_bytes(1 << 20, 7);
    let mut stream = TcpStream::connect(s.addr("tcp")).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sent = data.clone();
    let w = std::thread::spawn(move || {
        writer.write_all(&sent).unwrap();
        writer.shutdown(std::net::Shutdown::Write).unwrap();
    });
    stream.set_read_timeout(Some(T)).unwrap();
    let mut back = Vec::new();
    stream.read_to_end(&mut back).unwrap();
    w.join().unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "echoed bytes differ");
}

#[test]
fn unix_socket_with_socat() {
    need("socat");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("echo.sock");
    let s = Sockit::start(&bin(), &["echo", "--unix", path.to_str().unwrap()], 1);
    assert_eq!(s.listening[0], ("unix".to_string(), path.display().to_string()));
    let (st, out, err) =
        run_with_input(Command::new("socat").args(["-", &format!("UNIX-CONNECT:{}", path.display())]), b"over unix", T);
    assert!(st.success(), "socat failed: {err}");
    assert_eq!(out, b"over unix");
}

#[test]
fn connection_over_the_limit_gets_a_clear_refusal() {
    let s = echo(&["--tcp-only", "--max-connections", "2"], 1);
    let a = s.addr("tcp");
    let mut held = Vec::new();
    for i in 0..2u8 {
        let mut c = TcpStream::connect(a).unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        c.write_all(&[b'a' + i]).unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
        assert_eq!(b[0], b'a' + i);
        held.push(c);
    }
    let mut third = TcpStream::connect(a).unwrap();
    third.set_read_timeout(Some(T)).unwrap();
    let mut text = String::new();
    third.read_to_string(&mut text).unwrap();
    assert_eq!(text, "error: server full: 2 connections is the limit, try again later\r\n");
    // The held connections still work.
    held[0].write_all(b"z").unwrap();
    let mut b = [0u8; 1];
    held[0].read_exact(&mut b).unwrap();
    assert_eq!(&b, b"z");
}

#[test]
fn per_ip_limit_refuses_the_extra_connection() {
    let s = echo(&["--tcp-only", "--max-per-ip", "1"], 1);
    let _first = TcpStream::connect(s.addr("tcp")).unwrap();
    let mut second = TcpStream::connect(s.addr("tcp")).unwrap();
    second.set_read_timeout(Some(T)).unwrap();
    let mut text = String::new();
    second.read_to_string(&mut text).unwrap();
    assert_eq!(text, "error: too many connections from 127.0.0.1: 1 is the limit per address\r\n");
}

#[test]
fn overlong_line_gets_an_error_and_the_connection_survives() {
    let s = echo(&["--tcp-only", "--lines", "--max-line", "16"], 1);
    let mut c = TcpStream::connect(s.addr("tcp")).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    c.write_all(b"short\n").unwrap();
    c.write_all(&[b'x'; 100]).unwrap();
    c.write_all(b"\nafter\n").unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).unwrap();
    assert_eq!(text, "short\nerror: line longer than 16 bytes\nafter\n");
}

#[test]
fn idle_timeout_closes_silent_connections() {
    let s = echo(&["--tcp-only", "--idle-timeout", "1"], 1);
    let mut c = TcpStream::connect(s.addr("tcp")).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut b = [0u8; 8];
    let n = c.read(&mut b).unwrap();
    assert_eq!(n, 0, "expected the server to close");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_secs(5), "closed after {waited:?}");
}

#[test]
fn sigterm_with_clients_connected_exits_zero_within_the_deadline() {
    let s = echo(&[], 2);
    let mut clients: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(s.addr("tcp")).unwrap()).collect();
    for c in &mut clients {
        c.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
    }
    let started = Instant::now();
    let status = s.stop(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}");
    assert!(started.elapsed() < Duration::from_secs(6), "took {:?}", started.elapsed());
    // Clients see the connection end rather than hang.
    let mut b = [0u8; 1];
    clients[0].set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(matches!(clients[0].read(&mut b), Ok(0) | Err(_)));
}

#[test]
fn a_taken_port_gives_one_line_naming_port_and_flag() {
    let first = echo(&["--tcp-only"], 1);
    let port = first.addr("tcp").port().to_string();
    let out = Command::new(bin()).args(["echo", "--tcp-only", "--port", &port]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim(), format!("sockit: port {port} is in use on 127.0.0.1 — pick another with --port"));
}

#[test]
fn ipv6_loopback_works() {
    let s = Sockit::start(&bin(), &["echo", "--bind", "::1", "--port", "0", "--tcp-only"], 1);
    let a = s.addr("tcp");
    assert!(a.is_ipv6());
    let mut c = TcpStream::connect(a).unwrap();
    c.write_all(b"v6").unwrap();
    let mut b = [0u8; 2];
    c.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"v6");
}

#[test]
fn udp_only_answers_each_datagram() {
    let s = echo(&["--udp-only", "--upper"], 1);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for msg in [&b"first"[..], b"second", &[0xff, 0x00, b'a']] {
        sock.send_to(msg, s.addr("udp")).unwrap();
        let mut buf = [0u8; 64];
        let (n, _) = sock.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], msg.to_ascii_uppercase().as_slice());
    }
}

#[test]
fn out_of_file_descriptors_backs_off_and_recovers() {
    // With 32 descriptors the server runs out after ~20 connections; accept
    // then fails with EMFILE, which must be logged and retried with backoff,
    // not spun on, and service must resume once clients leave.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &format!("ulimit -n 32 && exec {} echo --tcp-only --port 0", bin())]);
    let s = Sockit::start_with(&mut cmd, 1);
    let a = s.addr("tcp");
    let mut clients = Vec::new();
    for _ in 0..40 {
        match TcpStream::connect(a) {
            Ok(c) => clients.push(c),
            Err(_) => break,
        }
    }
    assert!(s.wait_stderr("accept failed; backing off", Duration::from_secs(10)), "stderr:\n{}", s.stderr());
    drop(clients);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = (|| -> std::io::Result<[u8; 2]> {
            let mut c = TcpStream::connect(a)?;
            c.set_read_timeout(Some(Duration::from_secs(2)))?;
            c.write_all(b"ok")?;
            let mut b = [0u8; 2];
            c.read_exact(&mut b)?;
            Ok(b)
        })();
        if let Ok(b) = attempt {
            assert_eq!(&b, b"ok");
            break;
        }
        assert!(Instant::now() < deadline, "server did not recover after EMFILE");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Backoff, not a spin: a 1 s pause at most between attempts means few log lines.
    let warnings = s.stderr().matches("accept failed").count();
    assert!(warnings < 200, "{warnings} accept warnings: the loop is spinning");
}

#[test]
fn binding_all_interfaces_prints_the_lan_addresses() {
    let s = Sockit::start(&bin(), &["echo", "--bind", "0.0.0.0", "--port", "0", "--tcp-only"], 1);
    let port = s.addr("tcp").port();
    assert!(s.wait_stderr("listening on tcp://0.0.0.0:", Duration::from_secs(5)));
    let lan: Vec<_> = sockit_net::lan_addresses().into_iter().filter(|ip| ip.is_ipv4()).collect();
    std::thread::sleep(Duration::from_millis(200));
    for ip in &lan {
        let line = format!("  reachable at tcp://{ip}:{port}");
        assert!(s.stderr().contains(&line), "missing {line:?} in:\n{}", s.stderr());
    }
    // Loopback is what `listening on` already says; it is not repeated.
    assert!(!s.stderr().contains("reachable at tcp://127."));
}
