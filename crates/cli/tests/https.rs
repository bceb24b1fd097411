//! `sockit http --tls` and `sockit up --tls` against real peers: curl over
//! HTTP/1.1 and HTTP/2, `openssl s_client`, plain HTTP, garbage and stalled
//! handshakes on raw sockets; all on loopback.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use sockit_testkit::{need, random_bytes, run_with_input, Sockit};

mod http_support;
mod tls_support;
use http_support::{curl_url, fixture, raw, status_of, Fixture, Resp};
use tls_support::{announced_fingerprint, s, Scratch};

const T: Duration = Duration::from_secs(30);

/// `sockit http SITE --port 0 --tls EXTRA…`, its certificate kept in `scratch`.
fn https(scratch: &Scratch, fx: &Fixture, extra: &[&str]) -> Sockit {
    let mut cmd = scratch.sockit();
    cmd.args(["http", fx.site.to_str().unwrap(), "--port", "0", "--tls"]).args(extra);
    Sockit::start_with(&mut cmd, 1)
}

/// curl over https, trusting the self-signed certificate, as `localhost`.
fn get(scratch: &Scratch, server: &Sockit, path: &str, args: &[&str]) -> Resp {
    let ca = scratch.self_signed_cert();
    let port = server.addr("https").port();
    let url = format!("https://localhost:{port}{path}");
    let pin = resolve(port);
    let mut all = vec!["--cacert", s(&ca), "--resolve", &pin];
    all.extend_from_slice(args);
    curl_url(&url, &all)
}

/// curl's `--resolve` value sending `localhost:PORT` to 127.0.0.1 (not ::1,
/// where nothing listens).
fn resolve(port: u16) -> String {
    format!("localhost:{port}:127.0.0.1")
}

/// The protocol of curl's status line: `HTTP/1.1` or `HTTP/2`.
fn version(r: &Resp) -> &str {
    r.head.split_whitespace().next().unwrap()
}

#[test]
fn curl_over_http1_and_http2_gets_the_same_bytes_ranges_and_304() {
    let scratch = Scratch::new();
    let fx = fixture();
    let server = https(&scratch, &fx, &["--compress", "--templates"]);
    assert!(server.stderr().lines().next().unwrap().starts_with("listening on https://127.0.0.1:"));
    announced_fingerprint(&server);
    for (flag, proto) in [("--http1.1", "HTTP/1.1"), ("--http2", "HTTP/2")] {
        let one = get(&scratch, &server, "/1k.bin", &[flag]);
        assert_eq!((one.status, version(&one)), (200, proto), "{one:?}");
        assert!(one.body == fx.one_k, "{proto}: the 1 KiB file changed on the way");
        let big = get(&scratch, &server, "/big.txt", &[flag]);
        assert!(big.body == fx.big_text.as_bytes(), "{proto}: big.txt changed on the way");

        let part = get(&scratch, &server, "/1k.bin", &[flag, "-r", "100-199"]);
        assert_eq!(part.status, 206, "{proto}: {part:?}");
        assert_eq!(part.header("content-range").unwrap(), "bytes 100-199/1024");
        assert!(part.body == fx.one_k[100..200]);

        let etag = one.header("etag").unwrap();
        let again = get(&scratch, &server, "/1k.bin", &[flag, "-H", &format!("If-None-Match: {etag}")]);
        assert_eq!(again.status, 304, "{proto}: {again:?}");
        assert!(again.body.is_empty());

        // The rest of the features are the plain server's, unchanged.
        let packed = get(&scratch, &server, "/big.txt", &[flag, "--compressed"]);
        assert!(packed.header("content-encoding").is_some(), "{proto}: not compressed: {}", packed.head);
        assert!(packed.body == fx.big_text.as_bytes(), "{proto}: decompressed bytes differ");
        let page = get(&scratch, &server, "/welcome.html", &[flag]).text();
        assert!(page.contains("Hello 127.0.0.1 port "), "{proto}: template not filled: {page}");
        let listing = get(&scratch, &server, "/docs/", &[flag]).text();
        assert!(listing.contains("zeta.txt") && !listing.contains(".hidden-note"), "{proto}: {listing}");
        let missing = get(&scratch, &server, "/nope.txt", &[flag]);
        assert_eq!(missing.status, 404);
    }
    // A limit, over TLS too: more header fields than --max-headers (64) is 431.
    let mut many = vec!["--http1.1"];
    let headers: Vec<String> = (0..100).map(|i| format!("X-H{i}: v")).collect();
    for h in &headers {
        many.extend(["-H", h.as_str()]);
    }
    assert_eq!(get(&scratch, &server, "/hello.txt", &many).status, 431);
}

#[test]
fn openssl_s_client_negotiates_h2_verifies_and_tls_1_1_is_refused() {
    need("openssl");
    let scratch = Scratch::new();
    let fx = fixture();
    let server = https(&scratch, &fx, &[]);
    let addr = server.addr("https").to_string();
    let ca = scratch.self_signed_cert();
    let s_client = |extra: &[&str]| {
        let mut cmd = Command::new("openssl");
        cmd.args(["s_client", "-connect", &addr, "-CAfile", s(&ca), "-verify_return_error"]).args(extra);
        let (st, out, err) = run_with_input(&mut cmd, b"", T);
        (st.success(), format!("{}{err}", String::from_utf8_lossy(&out)))
    };
    let (ok, text) = s_client(&["-alpn", "h2", "-verify_hostname", "localhost"]);
    assert!(ok, "{text}");
    assert!(text.contains("ALPN protocol: h2"), "{text}");
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    let (ok, text) = s_client(&["-alpn", "http/1.1", "-tls1_2"]);
    assert!(ok && text.contains("ALPN protocol: http/1.1") && text.contains("TLSv1.2"), "{text}");
    let (ok, text) = s_client(&["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    assert!(!ok, "TLS 1.1 must be refused: {text}");
    assert!(text.contains("alert") && !text.contains("ALPN protocol: h2"), "{text}");
}

#[test]
fn plain_http_on_the_tls_port_gets_a_400_that_says_use_https() {
    let scratch = Scratch::new();
    let fx = fixture();
    let server = https(&scratch, &fx, &[]);
    let port = server.addr("https").port();
    // curl, as a user who forgot the s: the Host they typed, our port.
    let r = curl_url(&format!("http://localhost:{port}/hello.txt"), &["--resolve", &resolve(port)]);
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.text(), format!("This port speaks HTTPS: use https://localhost:{port}/\n"));
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    // A raw request without Host: our own address; a Host with odd bytes is not echoed.
    let text = raw(server.addr("https"), b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(status_of(&text), 400, "{text}");
    assert!(text.ends_with(&format!("use https://127.0.0.1:{port}/\n")), "{text}");
    let text = raw(server.addr("https"), b"GET / HTTP/1.1\r\nHost: <b>evil</b>\r\n\r\n");
    assert!(text.ends_with(&format!("use https://127.0.0.1:{port}/\n")), "{text}");
    // The port still speaks HTTPS.
    assert_eq!(get(&scratch, &server, "/hello.txt", &[]).text(), "hello, world\n");
}

/// Reads until the server closes (or `limit`); returns the bytes and how long it took.
fn read_until_closed(c: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    c.set_read_timeout(Some(limit)).unwrap();
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    (got, started.elapsed())
}

#[test]
fn garbage_and_a_stalled_handshake_are_closed_within_the_handshake_timeout() {
    let scratch = Scratch::new();
    let fx = fixture();
    let server = https(&scratch, &fx, &["--tls-handshake-timeout", "1"]);
    let addr = server.addr("https");
    // Garbage: closed at once, not a word said.
    let mut garbage = TcpStream::connect(addr).unwrap();
    garbage.write_all(&[0u8, 0xff, 0x13, 0x37]).unwrap();
    // The server may have closed on the first four bytes already: then
    // this write is reset, which is the behaviour under test, not a failure.
    let _ = garbage.write_all(&random_bytes(4096, 9));
    let (got, _) = read_until_closed(&mut garbage, T);
    assert!(got.is_empty(), "garbage got an answer: {got:?}");
    // A silent client, half a ClientHello, half a request line: each cut by
    // the 1 s handshake timeout (the last with its 400).
    let mut silent = TcpStream::connect(addr).unwrap();
    let mut half_hello = TcpStream::connect(addr).unwrap();
    half_hello.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
    let mut half_get = TcpStream::connect(addr).unwrap();
    half_get.write_all(b"GET / HT").unwrap();
    for (name, c) in [("silent", &mut silent), ("half hello", &mut half_hello)] {
        let (got, took) = read_until_closed(c, T);
        assert!(got.is_empty(), "{name}: {got:?}");
        assert!(took < Duration::from_secs(15), "{name}: cut after {took:?}");
    }
    let (got, took) = read_until_closed(&mut half_get, T);
    assert_eq!(status_of(&String::from_utf8_lossy(&got)), 400);
    assert!(took < Duration::from_secs(15), "half request: cut after {took:?}");
    assert_eq!(get(&scratch, &server, "/hello.txt", &[]).status, 200);
}

#[test]
fn a_thousand_unfinished_handshakes_leave_others_served() {
    let _ = rlimit::increase_nofile_limit(8192);
    let scratch = Scratch::new();
    let fx = fixture();
    // Long enough that the other client is surely served while the
    // thousand are pending, even on a loaded machine.
    let server = https(&scratch, &fx, &["--tls-handshake-timeout", "8"]);
    let addr = server.addr("https");
    let mut stalled = Vec::new();
    for i in 0..1000 {
        let mut c = TcpStream::connect(addr).unwrap();
        match i % 3 {
            0 => c.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap(),
            1 => c.write_all(b"GET /").unwrap(),
            _ => {}
        }
        stalled.push(c);
    }
    // 127.0.0.1 holds its 1,000 per-address slots: another address is served.
    let other = get(&scratch, &server, "/1k.bin", &["--interface", "127.0.0.2", "--http2"]);
    assert!(other.status == 200 && other.body == fx.one_k, "{other:?}");
    let started = Instant::now();
    for c in &mut stalled {
        read_until_closed(c, T);
    }
    assert!(started.elapsed() < T, "stalled handshakes were not cut");
    drop(stalled);
    // Their slots came back: 127.0.0.1 is served again (retried while the
    // server notices the closes).
    let deadline = Instant::now() + T;
    loop {
        let ca = scratch.self_signed_cert();
        let url = format!("https://localhost:{}/hello.txt", addr.port());
        let pin = resolve(addr.port());
        let out = Command::new("curl")
            .args(["-sf", "--max-time", "5", "--resolve", &pin, "--cacert", s(&ca), &url])
            .output()
            .unwrap();
        if out.status.success() {
            assert_eq!(out.stdout, b"hello, world\n");
            break;
        }
        assert!(Instant::now() < deadline, "127.0.0.1 was not served again");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn unfinished_handshakes_count_against_the_connection_limit() {
    let scratch = Scratch::new();
    let fx = fixture();
    let server = https(&scratch, &fx, &["--max-connections", "3", "--tls-handshake-timeout", "20"]);
    let addr = server.addr("https");
    let stalled: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    // The fourth is closed (no plain-text 503 a TLS client could not read).
    let mut fourth = TcpStream::connect(addr).unwrap();
    let (got, took) = read_until_closed(&mut fourth, T);
    assert!(got.is_empty() && took < Duration::from_secs(10), "{got:?} after {took:?}");
    drop(stalled);
    let deadline = Instant::now() + T;
    let url = format!("https://localhost:{}/hello.txt", addr.port());
    let ca = scratch.self_signed_cert();
    let pin = resolve(addr.port());
    let curl = || {
        Command::new("curl")
            .args(["-sf", "-o", "/dev/null", "--max-time", "5", "--resolve", &pin, "--cacert", s(&ca), &url])
            .status()
            .unwrap()
    };
    while !curl().success() {
        assert!(Instant::now() < deadline, "a slot did not come back");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn up_tls_serves_https_and_tls_echo_and_shows_the_fingerprint() {
    let scratch = Scratch::new();
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(cwd.path().join("index.html"), "<p>up over https</p>\n").unwrap();
    let mut cmd = scratch.sockit();
    cmd.args(["up", "--any-port", "--tls"]).current_dir(cwd.path());
    let server = Sockit::start_with(&mut cmd, 1);
    assert!(server.wait_stderr("sockit is up", T), "no table:\n{}", server.stderr());
    let text = server.stderr();
    let fp = announced_fingerprint(&server);
    let table = &text[text.find("\nservice ").unwrap()..];
    // The URL of `service`'s row with `scheme` (chat has tls:// and https:// rows too).
    let url = |service: &str, scheme: &str| {
        table
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(service))
            .find_map(|l| l.split_whitespace().find(|w| w.starts_with(scheme)))
            .map(String::from)
    };
    let https_url = url("http", "https://").unwrap_or_else(|| panic!("no https row:\n{table}"));
    let tls_url = url("echo", "tls://").unwrap_or_else(|| panic!("no tls row:\n{table}"));
    assert!(table.contains(&format!("sha256 {fp}")), "the table must end with the fingerprint:\n{table}");
    assert!(table.lines().any(|l| l.starts_with("http ") && l.contains("https://")), "{table}");
    // Chat takes --tls too: its line members on tls:// and its page on https://.
    assert!(table.lines().any(|l| l.starts_with("chat ") && l.contains("tls://")), "{table}");
    assert!(table.lines().any(|l| l.starts_with("chat web") && l.contains("https://")), "{table}");

    let ca = scratch.self_signed_cert();
    let port: u16 = https_url.rsplit(':').next().unwrap().parse().unwrap();
    let out = Command::new("curl")
        .args([
            "-sf",
            "--max-time",
            "10",
            "--http2",
            "--resolve",
            &resolve(port),
            "--cacert",
            s(&ca),
            "-w",
            "%{http_version}",
        ])
        .arg(format!("{}/", https_url.replace("127.0.0.1", "localhost")))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "<p>up over https</p>\n2");

    let tls_addr: SocketAddr = tls_url.trim_start_matches("tls://").parse().unwrap();
    let mut connect = scratch.sockit();
    connect.args(["connect", "--pin", &fp, &tls_addr.to_string()]);
    let (st, out, err) = run_with_input(&mut connect, b"echo over tls\n", T);
    assert!(st.success(), "{err}");
    assert_eq!(out, b"echo over tls\n");
    // UDP echo stays on beside it (datagrams have no TLS): `nc -u` keeps working.
    let udp_url = url("echo", "udp://").unwrap_or_else(|| panic!("no udp echo row under --tls:\n{table}"));
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    udp.send_to(b"datagram", udp_url.trim_start_matches("udp://")).unwrap();
    let mut buf = [0u8; 64];
    let n = udp.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"datagram");
    assert!(server.stop(T).success());
}

#[test]
fn sighup_reloads_the_https_certificate_and_sigterm_does_not_wait_for_handshakes() {
    let scratch = Scratch::new();
    let fx = fixture();
    let (crt, key) = scratch.pair("live", "DNS:localhost");
    let (next_crt, next_key) = scratch.pair("next", "DNS:localhost");
    let mut cmd = scratch.sockit();
    cmd.args(["http", fx.site.to_str().unwrap(), "--port", "0", "--tls-cert", s(&crt), "--tls-key", s(&key)]);
    let server = Sockit::start_with(&mut cmd, 1);
    let port = server.addr("https").port();
    let url = format!("https://localhost:{port}/hello.txt");
    let fetch = |ca: &std::path::Path| {
        Command::new("curl")
            .args(["-sf", "-o", "/dev/null", "--max-time", "5", "--resolve", &resolve(port), "--cacert", s(ca), &url])
            .status()
            .unwrap()
            .success()
    };
    assert!(fetch(&crt));
    assert!(!fetch(&next_crt), "a certificate not served yet must not verify");
    std::fs::copy(&next_key, &key).unwrap();
    std::fs::copy(&next_crt, &crt).unwrap();
    server.signal(libc::SIGHUP);
    assert!(server.wait_stderr("reloaded the TLS certificate", T), "{}", server.stderr());
    assert!(fetch(&next_crt), "new handshakes must get the new certificate");

    // A handshake that never comes, and a plain request that never ends:
    // SIGTERM does not wait for either.
    let _silent = TcpStream::connect(server.addr("https")).unwrap();
    let mut half = TcpStream::connect(server.addr("https")).unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    assert!(server.stop(T).success());
    assert!(started.elapsed() < Duration::from_secs(4), "shutdown waited {:?}", started.elapsed());
}

#[test]
fn a_client_silent_after_its_handshake_is_cut_by_the_http_timeouts() {
    let scratch = Scratch::new();
    let fx = fixture();
    // HTTP/1.1 (and no ALPN, which is HTTP/1.1): the header timeout, from
    // the end of the handshake, well before the 60 s idle check.
    let h1 = https(&scratch, &fx, &["--header-timeout", "1", "--idle-timeout", "60"]);
    for alpn in ["http/1.1", ""] {
        let (chosen, secs) = silent_after_handshake(&scratch, h1.addr("https"), alpn);
        assert_eq!(chosen, if alpn.is_empty() { "None" } else { alpn });
        assert!((0.5..10.0).contains(&secs), "{alpn:?}: closed after {secs} s");
    }
    // h2: the idle check (1x to 2x, then a graceful close of at most one
    // more period).
    let h2 = https(&scratch, &fx, &["--idle-timeout", "1"]);
    let (chosen, secs) = silent_after_handshake(&scratch, h2.addr("https"), "h2");
    assert_eq!(chosen, "h2");
    assert!((0.5..15.0).contains(&secs), "h2: closed after {secs} s");
}

/// python3's ssl: a handshake offering `alpn` (none when empty), then
/// silence; returns the protocol chosen and the seconds until the server
/// closed (at most 40).
fn silent_after_handshake(scratch: &Scratch, addr: SocketAddr, alpn: &str) -> (String, f64) {
    need("python3");
    let script = format!(
        "import socket,ssl,time\n\
         c=ssl.create_default_context(cafile={ca:?})\n\
         if {alpn:?}: c.set_alpn_protocols([{alpn:?}])\n\
         s=c.wrap_socket(socket.create_connection(('127.0.0.1',{port})),server_hostname='localhost')\n\
         t=time.time(); s.settimeout(40)\n\
         while s.recv(4096): pass\n\
         print(s.selected_alpn_protocol(), time.time()-t)\n",
        ca = s(&scratch.self_signed_cert()),
        port = addr.port(),
    );
    let (st, out, err) = run_with_input(Command::new("python3").args(["-c", &script]), b"", T * 2);
    assert!(st.success(), "{err}");
    let text = String::from_utf8(out).unwrap();
    let (chosen, secs) = text.trim().split_once(' ').unwrap();
    (chosen.to_string(), secs.parse().unwrap())
}
