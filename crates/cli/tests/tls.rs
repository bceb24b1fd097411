//! TLS against real peers: `openssl s_client` / `s_server`, `ncat --ssl`,
//! python3's ssl module, and sockit's own client, all on loopback.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sockit_testkit::{free_port, need, random_bytes, run_with_input, Sockit};

mod tls_support;
use tls_support::{announced_fingerprint, fingerprint_of, s, Peer, Scratch};

const T: Duration = Duration::from_secs(30);

fn echo_tls(scratch: &Scratch, extra: &[&str]) -> Sockit {
    let mut cmd = scratch.sockit();
    cmd.args(["echo", "--port", "0", "--tls"]).args(extra);
    Sockit::start_with(&mut cmd, 1)
}

/// `sockit connect` with TLS flags; returns (exit code, stdout, stderr).
fn connect(scratch: &Scratch, flags: &[&str], target: &str, input: &[u8]) -> (i32, Vec<u8>, String) {
    let mut cmd = scratch.sockit();
    cmd.arg("connect").args(flags).arg(target);
    let (st, out, err) = run_with_input(&mut cmd, input, T);
    (st.code().unwrap_or(-1), out, err)
}

/// [`connect`], retried while the peer is not listening yet (`ncat -l`
/// takes one connection, so it cannot be probed first).
fn connect_retry(scratch: &Scratch, flags: &[&str], target: &str, input: &[u8]) -> (i32, Vec<u8>, String) {
    let deadline = Instant::now() + T;
    loop {
        let r = connect(scratch, flags, target, input);
        if !r.2.contains("cannot connect to") || Instant::now() > deadline {
            return r;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn announce_lines_and_the_certificate_is_kept_across_restarts() {
    let scratch = Scratch::new();
    let first = echo_tls(&scratch, &[]);
    assert_eq!(first.listening[0].0, "tls");
    let lines: Vec<String> = first.stderr().lines().map(String::from).collect();
    assert!(lines[0].starts_with("listening on tls://127.0.0.1:"), "{lines:?}");
    let fp = announced_fingerprint(&first);
    let text = first.stderr();
    assert!(text.contains(&format!("tls certificate {} sha256 {fp}", s(&scratch.self_signed_cert()))), "{text}");
    drop(first);
    let again = echo_tls(&scratch, &[]);
    assert_eq!(announced_fingerprint(&again), fp, "the self-signed certificate must be kept");
}

#[test]
fn openssl_s_client_verifies_our_server_and_tls_1_1_is_refused() {
    let scratch = Scratch::new();
    let server = echo_tls(&scratch, &[]);
    let addr = server.addr("tls").to_string();
    let ca = scratch.self_signed_cert();
    for name in ["localhost", "127.0.0.1"] {
        let check = if name == "localhost" { "-verify_hostname" } else { "-verify_ip" };
        let args = ["s_client", "-connect", &addr, "-CAfile", s(&ca), "-verify_return_error", "-quiet", check, name];
        let (line, err) = s_client_line(&args, "verified\n");
        assert_eq!(line, "verified\n", "s_client ({name}): {err}");
        assert!(err.contains("verify return:1"), "{err}");
    }
    // A wrong host name fails openssl's own check.
    let (st, _, err) = run_with_input(
        Command::new("openssl").args([
            "s_client",
            "-connect",
            &addr,
            "-CAfile",
            s(&ca),
            "-verify_return_error",
            "-verify_hostname",
            "elsewhere.example",
        ]),
        b"",
        T,
    );
    assert!(!st.success(), "a wrong name must not verify: {err}");
    // TLS 1.1, offered with every cipher openssl has: refused.
    let (st, out, err) = run_with_input(
        Command::new("openssl").args(["s_client", "-connect", &addr, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]),
        b"",
        T,
    );
    let all = format!("{}{err}", String::from_utf8_lossy(&out));
    assert!(!st.success(), "TLS 1.1 must be refused: {all}");
    assert!(all.contains("alert") && !all.contains("Cipher is ECDHE"), "{all}");
    // TLS 1.2 is still spoken.
    let (st, _, err) = run_with_input(
        Command::new("openssl").args([
            "s_client",
            "-connect",
            &addr,
            "-tls1_2",
            "-CAfile",
            s(&ca),
            "-verify_return_error",
        ]),
        b"",
        T,
    );
    assert!(st.success(), "TLS 1.2 must work: {err}");
}

#[test]
fn ncat_ssl_verify_round_trips_random_bytes_through_echo_tls() {
    need("ncat");
    let scratch = Scratch::new();
    let server = echo_tls(&scratch, &[]);
    let port = server.addr("tls").port().to_string();
    let data = random_bytes(3 * 1024 * 1024 + 7, 11);
    let ca = scratch.self_signed_cert();
    let (st, out, err) = run_with_input(
        Command::new("ncat").args(["--ssl", "--ssl-verify", "--ssl-trustfile", s(&ca), "localhost", &port]),
        &data,
        T,
    );
    assert!(st.success(), "ncat failed: {err}");
    assert_eq!(out.len(), data.len());
    assert!(out == data, "bytes changed on the way");
}

#[test]
fn connect_against_openssl_s_server() {
    let scratch = Scratch::new();
    let (crt, key) = scratch.pair("server", "DNS:localhost,IP:127.0.0.1");
    let port = free_port();
    let _server = Peer(
        Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                &format!("127.0.0.1:{port}"),
                "-cert",
                s(&crt),
                "-key",
                s(&key),
                "-rev",
                "-quiet",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_listening(port);
    let target = format!("localhost:{port}");
    let (code, out, err) = connect(&scratch, &["--tls-ca", s(&crt)], &target, b"hello\n");
    assert_eq!((code, out.as_slice()), (0, &b"olleh\n"[..]), "{err}");
    let (code, out, err) = connect(&scratch, &["--tls-ca", s(&crt)], &format!("127.0.0.1:{port}"), b"by ip\n");
    assert_eq!((code, out.as_slice()), (0, &b"pi yb\n"[..]), "{err}");

    let fp = fingerprint_of(&crt);
    let (code, out, err) = connect(&scratch, &["--pin", &fp], &target, b"pinned\n");
    assert_eq!((code, out.as_slice()), (0, &b"dennip\n"[..]), "{err}");

    // --insecure works and says loudly that it verified nothing.
    let (code, out, err) = connect(&scratch, &["--insecure"], &target, b"blind\n");
    assert_eq!((code, out.as_slice()), (0, &b"dnilb\n"[..]), "{err}");
    assert!(err.contains("NOT verified"), "{err}");
    // A pin that is not a fingerprint is a usage error.
    let (code, _, err) = connect(&scratch, &["--pin", "AB:CD"], &target, b"");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("expected a SHA-256 fingerprint"), "{err}");

    // Not trusted by the system store: a clean failure that says why.
    let (code, out, err) = connect(&scratch, &["--tls"], &target, b"x\n");
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("unknown issuer"), "{err}");
    // A wrong pin.
    let wrong = fp.replace(&fp[..2], if &fp[..2] == "00" { "11" } else { "00" });
    let (code, _, err) = connect(&scratch, &["--pin", &wrong], &target, b"x\n");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("pin mismatch") && err.contains(&fp), "{err}");
    // The right CA but a name the certificate does not carry.
    let (code, _, err) = connect(&scratch, &["--tls-ca", s(&crt), "--sni", "elsewhere.example"], &target, b"x\n");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("wrong name") && err.contains("elsewhere.example") && err.contains("localhost"), "{err}");
}

#[test]
fn connect_against_ncat_ssl_listen() {
    need("ncat");
    let scratch = Scratch::new();
    let (crt, key) = scratch.pair("ncat", "DNS:localhost");
    let target = format!("localhost:{}", free_port());
    let port = target.rsplit(':').next().unwrap().to_string();
    let listen = |reply: &'static [u8]| -> Peer {
        let mut child = Command::new("ncat")
            .args(["--ssl", "-l", "--ssl-cert", s(&crt), "--ssl-key", s(&key), "127.0.0.1", &port])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(reply).unwrap();
        drop(stdin);
        Peer(child)
    };
    let mut nc = listen(b"from ncat\n");
    let (code, out, err) = connect_retry(&scratch, &["--tls-ca", s(&crt)], &target, b"to ncat\n");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, b"from ncat\n");
    let mut got = Vec::new();
    nc.0.stdout.take().unwrap().read_to_end(&mut got).unwrap();
    assert_eq!(got, b"to ncat\n");
    drop(nc);

    let nc = listen(b"pinned\n");
    let (code, out, err) = connect_retry(&scratch, &["--pin", &fingerprint_of(&crt)], &target, b"x\n");
    assert_eq!((code, out.as_slice()), (0, &b"pinned\n"[..]), "{err}");
    drop(nc);

    let nc = listen(b"never\n");
    let (code, out, err) = connect_retry(&scratch, &["--tls"], &target, b"x\n");
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty() && err.contains("unknown issuer"), "{err}");
    drop(nc);

    let nc = listen(b"never\n");
    let wrong = format!("127.0.0.1:{port}");
    let (code, _, err) = connect_retry(&scratch, &["--tls-ca", s(&crt)], &wrong, b"x\n");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("wrong name") && err.contains("127.0.0.1"), "{err}");
    drop(nc);
}

#[test]
fn listen_tls_and_connect_tls_talk_and_keep_serves_the_next_peer() {
    let scratch = Scratch::new();
    let mut cmd = scratch.sockit();
    cmd.args(["listen", "--port", "0", "--tls", "--keep"]);
    let mut listen = Sockit::start_with(&mut cmd, 1);
    let fp = announced_fingerprint(&listen);
    let target = listen.addr("tls").to_string();
    // Nothing to send: each peer gets our EOF at once and closes after sending.
    drop(listen.stdin());
    let mut stdout = BufReader::new(listen.stdout());
    for (i, word) in ["first\n", "second\n"].iter().enumerate() {
        let (code, _, err) = connect(&scratch, &["--pin", &fp], &target, word.as_bytes());
        assert_eq!(code, 0, "peer {i}: {err}");
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, *word);
    }
}

#[test]
fn sighup_reloads_for_new_handshakes_and_old_connections_stay() {
    let scratch = Scratch::new();
    let (crt, key) = scratch.pair("live", "DNS:localhost");
    let old_fp = fingerprint_of(&crt);
    let mut cmd = scratch.sockit();
    cmd.args(["echo", "--port", "0", "--tls-cert", s(&crt), "--tls-key", s(&key)]);
    let server = Sockit::start_with(&mut cmd, 1);
    assert_eq!(announced_fingerprint(&server), old_fp);
    let addr = server.addr("tls").to_string();

    // A connection made before the reload.
    let mut old = Peer(
        Command::new("openssl")
            .args(["s_client", "-connect", &addr, "-quiet", "-CAfile", s(&crt), "-verify_return_error"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut old_in = old.0.stdin.take().unwrap();
    let mut old_out = BufReader::new(old.0.stdout.take().unwrap());
    old_in.write_all(b"before\n").unwrap();
    let mut line = String::new();
    old_out.read_line(&mut line).unwrap();
    assert_eq!(line, "before\n");

    // A broken pair on disk (new key, old certificate): logged, old pair kept.
    let (new_crt, new_key) = scratch.pair("next", "DNS:localhost");
    std::fs::copy(&new_key, &key).unwrap();
    server.signal(libc::SIGHUP);
    assert!(server.wait_stderr("TLS reload failed", T), "{}", server.stderr());
    assert!(server.stderr().contains("does not match the certificate"), "{}", server.stderr());
    let (code, _, err) = connect(&scratch, &["--pin", &old_fp], &addr, b"still old\n");
    assert_eq!(code, 0, "the old pair must still be served: {err}");

    // The matching certificate arrives: new handshakes get it.
    std::fs::copy(&new_crt, &crt).unwrap();
    let new_fp = fingerprint_of(&crt);
    assert_ne!(new_fp, old_fp);
    server.signal(libc::SIGHUP);
    assert!(server.wait_stderr("reloaded the TLS certificate", T), "{}", server.stderr());
    let (code, out, err) = connect(&scratch, &["--pin", &new_fp], &addr, b"new\n");
    assert_eq!((code, out.as_slice()), (0, &b"new\n"[..]), "{err}");
    let (code, _, err) = connect(&scratch, &["--pin", &old_fp], &addr, b"x\n");
    assert_eq!(code, 1, "the old certificate must be gone for new handshakes: {err}");

    // The old connection is still up.
    old_in.write_all(b"after\n").unwrap();
    line.clear();
    old_out.read_line(&mut line).unwrap();
    assert_eq!(line, "after\n");
    drop(old_in);
    drop(old);
}

#[test]
fn bad_certificate_files_stop_the_server_with_one_clear_line() {
    let scratch = Scratch::new();
    let (crt, key) = scratch.pair("a", "DNS:localhost");
    let (_, other_key) = scratch.pair("b", "DNS:localhost");
    let missing = scratch.path("missing.pem");
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec![s(&missing), s(&key)], format!("cannot read {}", s(&missing))),
        (vec![s(&crt), s(&other_key)], format!("{} does not match the certificate in {}", s(&other_key), s(&crt))),
        (vec![s(&key), s(&key)], format!("{}: no certificate found", s(&key))),
        (vec![s(&crt), s(&crt)], format!("{}: no private key found", s(&crt))),
    ];
    for (files, expected) in cases {
        let mut cmd = scratch.sockit();
        cmd.args(["echo", "--port", "0", "--tls-cert", files[0], "--tls-key", files[1]]);
        let (st, _, err) = run_with_input(&mut cmd, b"", T);
        assert_eq!(st.code(), Some(1), "{err}");
        assert!(err.contains(&expected), "expected {expected:?} in {err:?}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
}

#[test]
fn garbage_stalls_and_a_thousand_unfinished_handshakes_leave_others_served() {
    let _ = rlimit::increase_nofile_limit(8192);
    let scratch = Scratch::new();
    // Long enough that the other client below is surely served while the
    // thousand are still pending, even on a loaded CI machine.
    let server = echo_tls(&scratch, &["--tls-handshake-timeout", "8"]);
    let addr = server.addr("tls");
    let ca = scratch.self_signed_cert();

    // Garbage instead of a ClientHello: the connection is closed.
    let mut garbage = TcpStream::connect(addr).unwrap();
    garbage.set_read_timeout(Some(T)).unwrap();
    garbage.write_all(&random_bytes(4096, 5)).unwrap();
    let mut sink = Vec::new();
    let _ = garbage.read_to_end(&mut sink);

    // 1,000 connections that never finish (half of them sent a partial hello).
    let mut stalled = Vec::new();
    for i in 0..1000 {
        let mut c = TcpStream::connect(addr).unwrap();
        if i % 2 == 0 {
            c.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
        }
        stalled.push(c);
    }
    // Another client (another loopback address: 127.0.0.1 holds its 1,000
    // per-address slots) is served meanwhile.
    python_tls_echo(addr, "127.0.0.2", &ca, b"served while stalled");

    // The stalled ones are cut by the handshake timeout.
    let started = Instant::now();
    for c in &mut stalled {
        c.set_read_timeout(Some(T)).unwrap();
        let mut b = [0u8; 64];
        loop {
            match c.read(&mut b) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
    assert!(started.elapsed() < T, "stalled handshakes were not cut");
    drop(stalled);
    // Their slots came back: 127.0.0.1 is served again.
    python_tls_echo(addr, "127.0.0.1", &ca, b"served after");
}

#[test]
fn unfinished_handshakes_count_against_the_connection_limit() {
    let scratch = Scratch::new();
    let server = echo_tls(&scratch, &["--max-connections", "3", "--tls-handshake-timeout", "20"]);
    let addr = server.addr("tls");
    let ca = scratch.self_signed_cert();
    let stalled: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    // The fourth is refused while the three hold their slots.
    let (st, _, err) = run_with_input(
        Command::new("openssl").args([
            "s_client",
            "-connect",
            &addr.to_string(),
            "-CAfile",
            s(&ca),
            "-verify_return_error",
        ]),
        b"",
        T,
    );
    assert!(!st.success(), "a fourth connection must be refused: {err}");
    drop(stalled);
    python_tls_echo(addr, "127.0.0.1", &ca, b"a slot is free again");
}

/// One TLS round trip from python3's ssl module, bound to `source`,
/// verifying against `ca` as `localhost`. Retries briefly while slots free up.
fn python_tls_echo(addr: SocketAddr, source: &str, ca: &Path, payload: &[u8]) {
    need("python3");
    let script = format!(
        "import socket,ssl,sys\n\
         ctx=ssl.create_default_context(cafile={ca:?})\n\
         raw=socket.create_connection(('{ip}',{port}),timeout=10,source_address=('{source}',0))\n\
         s=ctx.wrap_socket(raw,server_hostname='localhost')\n\
         s.sendall(bytes.fromhex('{hex}')); got=b''\n\
         while len(got)<{len}:\n  x=s.recv(65536)\n  if not x: break\n  got+=x\n\
         sys.stdout.write(got.hex())\n",
        ca = s(ca),
        ip = addr.ip(),
        port = addr.port(),
        hex = payload.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        len = payload.len(),
    );
    let deadline = Instant::now() + T;
    loop {
        let (st, out, err) = run_with_input(Command::new("python3").args(["-c", &script]), b"", T);
        let hex = String::from_utf8_lossy(&out);
        if st.success() && hex == payload.iter().map(|b| format!("{b:02x}")).collect::<String>() {
            return;
        }
        assert!(Instant::now() < deadline, "python3 TLS client from {source} was not served: {err}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs `openssl ARGS`, writes `line`, reads one line back (within [`T`]),
/// then closes; returns the line and openssl's stderr.
fn s_client_line(args: &[&str], line: &str) -> (String, String) {
    need("openssl");
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(line.as_bytes()).unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut got = String::new();
        let _ = BufReader::new(out).read_line(&mut got);
        let _ = tx.send(got);
    });
    let got = rx.recv_timeout(T).unwrap_or_default();
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    (got, err)
}

fn wait_listening(port: u16) {
    let deadline = Instant::now() + T;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn connect_handshake_is_bounded_by_w() {
    let scratch = Scratch::new();
    // A server that accepts and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let hold = std::thread::spawn(move || silent.accept().map(|(_held, _)| std::thread::sleep(Duration::from_secs(6))));
    let started = Instant::now();
    let (code, _, err) = connect(&scratch, &["--insecure", "-w", "1"], &addr.to_string(), b"");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("TLS handshake not finished within"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    let _ = hold.join();
}

#[test]
fn sigterm_does_not_wait_for_unfinished_handshakes() {
    let scratch = Scratch::new();
    let server = echo_tls(&scratch, &[]);
    let _stalled = TcpStream::connect(server.addr("tls")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let status = server.stop(T);
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(4), "shutdown waited {:?} for a handshake", started.elapsed());
}
