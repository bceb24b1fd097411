//! `sockit connect` / `sockit listen` against nc, python3 and sockit echo.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use sockit_testkit::{bin, free_port, need, random_bytes, run_with_input, Sockit};

const T: Duration = Duration::from_secs(20);

/// A python3 TCP server on port 0 that prints its port, reads until the
/// client half-closes, checks what it got, then answers and closes. Proves
/// that `connect` half-closes on stdin EOF and still reads the answer.
fn python_server(expect_hex: &str, reply_hex: &str) -> (std::process::Child, u16) {
    let script = format!(
        "import socket,sys\n\
         l=socket.socket(); l.bind(('127.0.0.1',0)); l.listen(1)\n\
         print(l.getsockname()[1], flush=True)\n\
         c,_=l.accept(); c.settimeout(10); d=b''\n\
         while True:\n  x=c.recv(65536)\n  if not x: break\n  d+=x\n\
         ok = d == bytes.fromhex('{expect_hex}')\n\
         c.sendall(bytes.fromhex('{reply_hex}') if ok else b'MISMATCH:'+d.hex().encode()); c.close()\n"
    );
    let mut child = Command::new("python3").args(["-c", &script]).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    let mut out = child.stdout.take().unwrap();
    let mut b = [0u8; 1];
    while out.read(&mut b).unwrap() == 1 && b[0] != b'\n' {
        line.push(b[0] as char);
    }
    (child, line.trim().parse().unwrap())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn connect_half_closes_on_stdin_eof_and_reads_the_answer() {
    need("python3");
    let (mut py, port) = python_server(&hex(b"question\n"), &hex(b"answer after EOF\n"));
    let (st, out, err) =
        run_with_input(Command::new(bin()).args(["connect", &format!("127.0.0.1:{port}")]), b"question\n", T);
    let _ = py.wait();
    assert!(st.success(), "connect failed: {err}");
    assert_eq!(String::from_utf8_lossy(&out), "answer after EOF\n");
}

#[test]
fn connect_to_nc_listen_both_directions() {
    need("nc");
    let port = free_port().to_string();
    let mut nc = Command::new("nc")
        .args(["-N", "-l", "127.0.0.1", &port])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut nc_in = nc.stdin.take().unwrap();
    nc_in.write_all(b"from nc\n").unwrap();
    drop(nc_in);
    // nc -l may need a moment to listen; retry connecting briefly.
    let mut result = None;
    for _ in 0..50 {
        let r = run_with_input(Command::new(bin()).args(["connect", &format!("127.0.0.1:{port}")]), b"to nc\n", T);
        if r.0.success() {
            result = Some(r);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, out, _) = result.expect("could not connect to nc -l");
    assert_eq!(out, b"from nc\n");
    let mut got = Vec::new();
    nc.stdout.take().unwrap().read_to_end(&mut got).unwrap();
    assert_eq!(got, b"to nc\n");
    assert!(nc.wait().unwrap().success());
}

#[test]
fn listen_with_nc_both_directions() {
    need("nc");
    let mut listen = Sockit::start(&bin(), &["listen", "--port", "0"], 1);
    let port = listen.addr("tcp").port().to_string();
    let mut stdin = listen.stdin();
    stdin.write_all(b"from sockit\n").unwrap();
    drop(stdin);
    let mut stdout = listen.stdout();
    let (st, out, err) = run_with_input(Command::new("nc").args(["-N", "127.0.0.1", &port]), b"from nc\n", T);
    assert!(st.success(), "nc failed: {err}");
    assert_eq!(out, b"from sockit\n");
    let mut got = Vec::new();
    stdout.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"from nc\n");
    assert!(listen.wait(T).success());
}

#[test]
fn gbk_round_trip_with_encoding_flag() {
    need("python3");
    // 你好 in GBK on the wire; the server answers 世界 in GBK.
    let (mut py, port) = python_server("c4e3bac3", "cac0bde7");
    let (st, out, err) = run_with_input(
        Command::new(bin()).args(["connect", &format!("127.0.0.1:{port}"), "--encoding", "gbk"]),
        "你好".as_bytes(),
        T,
    );
    let _ = py.wait();
    assert!(st.success(), "connect failed: {err}");
    assert_eq!(String::from_utf8_lossy(&out), "世界");
}

#[test]
fn binary_data_passes_unchanged_through_connect() {
    let echo = Sockit::start(&bin(), &["echo", "--port", "0", "--tcp-only"], 1);
    let data = random_bytes(512 * 1024, 3);
    let (st, out, err) = run_with_input(Command::new(bin()).args(["connect", &echo.addr("tcp").to_string()]), &data, T);
    assert!(st.success(), "connect failed: {err}");
    assert!(out == data, "got {} bytes back, content differs", out.len());
}

#[test]
fn crlf_flag_sends_crlf_line_endings() {
    need("python3");
    let (mut py, port) = python_server(&hex(b"a\r\nb\r\n"), &hex(b"ok"));
    let (st, out, _) =
        run_with_input(Command::new(bin()).args(["connect", "--crlf", &format!("127.0.0.1:{port}")]), b"a\nb\n", T);
    let _ = py.wait();
    assert!(st.success());
    assert_eq!(out, b"ok");
}

#[test]
fn udp_connect_gets_the_echo() {
    let echo = Sockit::start(&bin(), &["echo", "--port", "0", "--udp-only"], 1);
    let (st, out, err) = run_with_input(
        Command::new(bin()).args(["connect", "--udp", "-w", "1", &echo.addr("udp").to_string()]),
        b"ping over udp",
        T,
    );
    assert!(st.success(), "connect --udp failed: {err}");
    assert_eq!(out, b"ping over udp");
}

#[test]
fn unix_connect_talks_to_unix_echo() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.sock");
    let _echo = Sockit::start(&bin(), &["echo", "--unix", path.to_str().unwrap()], 1);
    let (st, out, _) =
        run_with_input(Command::new(bin()).args(["connect", "--unix", path.to_str().unwrap()]), b"unix bytes", T);
    assert!(st.success());
    assert_eq!(out, b"unix bytes");
}

#[test]
fn refused_connection_exits_1_with_a_message() {
    let port = free_port();
    let (st, _, err) = run_with_input(Command::new(bin()).args(["connect", &format!("127.0.0.1:{port}")]), b"", T);
    assert_eq!(st.code(), Some(1));
    assert!(err.contains(&format!("cannot connect to 127.0.0.1:{port}")), "stderr: {err}");
}

#[test]
fn wait_flag_times_out_with_status_3() {
    // A listener that never answers nor closes.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let hold = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        std::thread::sleep(Duration::from_secs(4));
        drop(s);
    });
    let mut cmd = Command::new(bin());
    cmd.args(["connect", "-w", "1", &addr.to_string()]);
    // Keep stdin open (no EOF) by giving it a pipe we hold.
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let _stdin = child.stdin.take();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "connect -w 1 did not time out");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(3));
    hold.join().unwrap();
}

#[test]
fn listen_keep_serves_peers_one_after_another() {
    let mut listen = Sockit::start(&bin(), &["listen", "--port", "0", "--keep"], 1);
    drop(listen.stdin()); // nothing to send: each peer is only heard
    let mut stdout = listen.stdout();
    for msg in [&b"first peer\n"[..], b"second peer\n"] {
        let mut c = TcpStream::connect(listen.addr("tcp")).unwrap();
        c.write_all(msg).unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).expect("sockit should close each finished conversation");
        assert!(rest.is_empty());
    }
    let mut got = vec![0u8; "first peer\nsecond peer\n".len()];
    stdout.read_exact(&mut got).unwrap();
    assert_eq!(got, b"first peer\nsecond peer\n");
}

#[test]
fn piped_input_is_delivered_even_after_the_peer_half_closes() {
    need("python3");
    // The server speaks first and half-closes at once, then reads until EOF
    // and reports what it got on its stdout.
    let script = "import socket\n\
         l=socket.socket(); l.bind(('127.0.0.1',0)); l.listen(1)\n\
         print(l.getsockname()[1], flush=True)\n\
         c,_=l.accept(); c.settimeout(10); c.sendall(b'server done\\n'); c.shutdown(socket.SHUT_WR); d=b''\n\
         while True:\n  x=c.recv(65536)\n  if not x: break\n  d+=x\n\
         print(d.decode(), flush=True)\n";
    let mut py = Command::new("python3").args(["-c", script]).stdout(Stdio::piped()).spawn().unwrap();
    let mut py_out = py.stdout.take().unwrap();
    let mut port = String::new();
    let mut b = [0u8; 1];
    while py_out.read(&mut b).unwrap() == 1 && b[0] != b'\n' {
        port.push(b[0] as char);
    }
    let mut sockit = Command::new(bin())
        .args(["connect", &format!("127.0.0.1:{}", port.trim())])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = sockit.stdout.take().unwrap();
    let mut first = vec![0u8; "server done\n".len()];
    out.read_exact(&mut first).unwrap();
    assert_eq!(first, b"server done\n");
    // Only well after the peer's EOF reached us does our input arrive.
    std::thread::sleep(Duration::from_millis(500));
    let mut stdin = sockit.stdin.take().unwrap();
    stdin.write_all(b"late but delivered").unwrap();
    drop(stdin);
    assert!(sockit.wait().unwrap().success());
    let mut report = String::new();
    py_out.read_to_string(&mut report).unwrap();
    assert_eq!(report.trim(), "late but delivered");
    let _ = py.wait();
}
