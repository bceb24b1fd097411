//! `sockit chat serve --tls` against real peers, all on loopback: `socat
//! OPENSSL:` and python3's ssl module as line members over TLS, `nc` as a
//! plain member in the same room, and headless Chromium loading the page
//! over https (trusting the certificate by its SPKI fingerprint) and talking
//! over wss.
#![allow(clippy::unwrap_used)]

mod chat_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use chat_support::browser::Browser;
use chat_support::{Proc, WAIT};
use sockit_testkit::{bin, need, Sockit};

/// A chat server with `--tls` whose self-signed certificate lives in a
/// scratch data directory.
struct TlsChat {
    sockit: Sockit,
    dir: tempfile::TempDir,
}

impl TlsChat {
    fn start(extra: &[&str]) -> TlsChat {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec![
            "chat",
            "serve",
            "--no-irc",
            "--port",
            "0",
            "--web-port",
            "0",
            "--tls-port",
            "0",
            "--no-history",
            "--tls",
        ];
        args.extend_from_slice(extra);
        let mut cmd = Command::new(bin());
        cmd.args(&args).env("XDG_DATA_HOME", dir.path()).env("HOME", dir.path());
        let sockit = Sockit::start_with(&mut cmd, 4);
        assert!(sockit.wait_stderr("tls certificate ", WAIT), "{}", sockit.stderr());
        TlsChat { sockit, dir }
    }

    fn cert(&self) -> PathBuf {
        self.dir.path().join("sockit/tls/cert.pem")
    }
}

/// An nc TCP member.
fn nc_join(addr: SocketAddr) -> Proc {
    need("nc");
    Proc::spawn(Command::new("nc").arg(addr.ip().to_string()).arg(addr.port().to_string()))
}

/// A socat member over TLS, verifying the server against its certificate.
fn socat_join(addr: SocketAddr, cafile: &std::path::Path) -> Proc {
    need("socat");
    Proc::spawn(Command::new("socat").arg("-").arg(format!("OPENSSL:{addr},cafile={}", cafile.display())))
}

/// The listeners are announced with their schemes, TLS beside the plain ones.
#[test]
fn tls_listeners_are_announced() {
    let s = TlsChat::start(&[]);
    let schemes: Vec<&str> = s.sockit.listening.iter().map(|(scheme, _)| scheme.as_str()).collect();
    assert_eq!(schemes, ["tcp", "udp", "tls", "https"], "{}", s.sockit.stderr());
    assert_ne!(s.sockit.addr("tls").port(), s.sockit.addr("tcp").port());
    assert!(s.sockit.stop(WAIT).success());
}

/// `socat OPENSSL:` joins over TLS (verifying the certificate) and shares
/// the room with a plain nc member, both ways; JSON mode works over TLS too.
#[test]
fn socat_joins_over_tls_and_shares_the_room_with_nc() {
    let s = TlsChat::start(&[]);
    let mut nc = nc_join(s.sockit.addr("tcp"));
    nc.expect("joined lobby");
    nc.send("/nick plain");
    nc.expect("is now known as plain");
    let mut tls = socat_join(s.sockit.addr("tls"), &s.cert());
    tls.expect("joined lobby");
    tls.send("/nick secure");
    tls.expect("is now known as secure");
    nc.expect("is now known as secure");
    tls.send("hello from tls");
    nc.expect("<secure> hello from tls");
    nc.send("hello from tcp");
    tls.expect("<plain> hello from tcp");
    // The line protocol is the TCP one: JSON mode, and the idle partial line.
    tls.send("/json");
    nc.send("json please");
    let l = tls.expect("json please");
    assert!(l.starts_with('{') && l.contains("\"from\":\"plain\""), "{l}");
    let stdin = tls.child.stdin.as_mut().unwrap();
    stdin.write_all(b"{\"text\": \"no newline\"}").unwrap();
    stdin.flush().unwrap();
    nc.expect("<secure> no newline");
    drop(tls);
    nc.expect("secure left");
    assert!(s.sockit.stop(WAIT).success());
}

/// A TLS member that handshakes and then never reads: python3's ssl with a
/// 4 KiB receive buffer. While a plain member floods the room, the reader
/// members (one over TLS, one plain) get every line and the staller is cut
/// after `--send-timeout`.
const PY_STALL: &str = r#"
import socket, ssl, sys, time
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((host, port))
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s)
t.sendall(b"/nick stalled\n")
print("READY", flush=True)
sys.stdin.readline()
"#;

#[test]
fn tls_member_that_never_reads_is_cut_while_others_go_on() {
    need("python3");
    let s = TlsChat::start(&[
        "--send-queue",
        "1024",
        "--socket-buffer",
        "4096",
        "--send-timeout",
        "1",
        "--flood-rate",
        "0",
    ]);
    let tls_addr = s.sockit.addr("tls");
    let mut watcher = nc_join(s.sockit.addr("tcp"));
    watcher.expect("joined lobby");
    let mut reader = socat_join(tls_addr, &s.cert());
    reader.expect("joined lobby");
    let mut stalled = Proc::spawn(Command::new("python3").args([
        "-u",
        "-c",
        PY_STALL,
        &tls_addr.ip().to_string(),
        &tls_addr.port().to_string(),
    ]));
    stalled.expect("READY");
    watcher.expect("is now known as stalled");
    // 600 lines of 4 KB: 2.4 MB, far past what the kernel, rustls and the
    // bridge can hold for the staller, far under the 8 MiB backlog (so the
    // cut is the send timeout's, the not-reading rule).
    let mut flood = TcpStream::connect(s.sockit.addr("tcp")).unwrap();
    let body = "y".repeat(4000);
    let mut all = String::new();
    for i in 0..600 {
        all.push_str(&format!("{i} {body}\n"));
    }
    let writer = std::thread::spawn(move || {
        flood.write_all(all.as_bytes()).unwrap();
        flood
    });
    let expect_all = |p: &mut Proc| {
        for i in [0, 299, 599] {
            p.expect(&format!("> {i} yyyy"));
        }
    };
    expect_all(&mut reader);
    expect_all(&mut watcher);
    // The cut comes after --send-timeout, before or after the last line.
    let cut = "stalled left (send queue exceeded)";
    if !watcher.lines.seen.iter().any(|l| l.contains(cut)) {
        watcher.expect(cut);
    }
    let _flood = writer.join().unwrap();
    // The readers are still members.
    reader.send("still here");
    watcher.expect("still here");
    drop(stalled);
    assert!(s.sockit.stop(WAIT).success());
}

/// A client that opens a TCP connection and never starts the handshake is
/// cut after `--tls-handshake-timeout`, and until then it holds its slot of
/// `--max-per-ip`.
#[test]
fn unfinished_handshake_is_cut_and_counts_against_the_limits() {
    let s = TlsChat::start(&["--tls-handshake-timeout", "1", "--max-per-ip", "1"]);
    let addr = s.sockit.addr("tls");
    let started = Instant::now();
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // Over the per-IP limit: closed at once, without a handshake.
    let mut second = TcpStream::connect(addr).unwrap();
    second.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    second.write_all(&client_hello_probe()).ok();
    let mut buf = [0u8; 1];
    assert!(matches!(second.read(&mut buf), Ok(0) | Err(_)), "a connection over the limit got an answer");
    // The idle one is cut by the server, not kept.
    let n = idle.read(&mut buf);
    let waited = started.elapsed();
    assert!(matches!(n, Ok(0) | Err(_)) && waited < Duration::from_secs(12), "{n:?} after {waited:?}");
    assert!(waited >= Duration::from_millis(900), "cut after {waited:?}, before the timeout");
    // Its slot is free again: a real client joins.
    let mut tls = socat_join(addr, &s.cert());
    tls.expect("joined lobby");
    // The https listener bounds its handshakes the same way.
    let started = Instant::now();
    let mut idle = TcpStream::connect(s.sockit.addr("https")).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let n = idle.read(&mut buf);
    let waited = started.elapsed();
    assert!(matches!(n, Ok(0) | Err(_)) && waited < Duration::from_secs(12), "{n:?} after {waited:?}");
    assert!(waited >= Duration::from_millis(900), "cut after {waited:?}, before the timeout");
    assert!(s.sockit.stop(WAIT).success());
}

/// Bytes that are not a finished handshake (a TLS record header only).
fn client_hello_probe() -> Vec<u8> {
    vec![0x16, 0x03, 0x01, 0x00, 0x05]
}

/// base64(SHA-256(SubjectPublicKeyInfo DER)): what Chromium's
/// `--ignore-certificate-errors-spki-list` takes, computed with openssl.
fn spki_fingerprint(cert: &std::path::Path) -> String {
    need("openssl");
    let script = format!(
        "openssl x509 -in '{}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64",
        cert.display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pin = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(pin.len(), 44, "{pin}");
    pin
}

/// Headless Chromium trusts the self-signed certificate by its SPKI
/// fingerprint, loads the chat page over https, and the page (over wss)
/// exchanges messages with a socat member over TLS.
#[test]
fn chromium_chats_over_https_and_wss_with_a_tls_member() {
    need("chromium");
    need("python3");
    let s = TlsChat::start(&[]);
    let pin = spki_fingerprint(&s.cert());
    let mut tls = socat_join(s.sockit.addr("tls"), &s.cert());
    tls.expect("joined lobby");
    tls.send("/nick secure");
    tls.expect("is now known as secure");
    let web = s.sockit.addr("https");
    let url = format!("https://{web}/");
    let mut browser = Browser::open_with(&url, &[&format!("--ignore-certificate-errors-spki-list={pin}")]);
    browser.wait("document.getElementById('status').textContent === 'connected'", "the page to connect");
    let loaded = browser.text("location.href + ' ' + ws.url");
    assert!(loaded.contains(&format!("{url} wss://{web}/ws")), "{loaded}");
    browser.type_text("/nick browser");
    browser.key("Enter");
    tls.expect("is now known as browser");
    browser.type_text("hello from chromium");
    browser.key("Enter");
    tls.expect("<browser> hello from chromium");
    tls.send("hello back over tls");
    browser.wait("document.getElementById('log').textContent.includes('<secure> hello back over tls')", "the reply");
    drop(browser);
    tls.expect("browser left");
    assert!(s.sockit.stop(WAIT).success());
}

/// On SIGTERM a TLS member is told, as a TCP member is, and the server
/// exits cleanly.
#[test]
fn tls_members_are_told_on_shutdown() {
    let mut s = TlsChat::start(&[]);
    let mut tls = socat_join(s.sockit.addr("tls"), &s.cert());
    tls.expect("joined lobby");
    s.sockit.signal(libc::SIGTERM);
    tls.expect("* server shutting down");
    assert!(tls.wait_exit(WAIT).success());
    assert!(s.sockit.wait(WAIT).success());
}

/// A wss member (python3's ssl, a 4 KiB receive buffer) that upgrades, sets
/// its nick and then never reads.
const PY_WSS_STALL: &str = r#"
import base64, os, socket, ssl, struct, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((host, port))
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s)
key = base64.b64encode(os.urandom(16)).decode()
t.sendall(("GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (host, port, key)).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    buf += t.recv(1)
if b" 101 " not in buf.split(b"\r\n")[0]:
    sys.exit("bad handshake: %r" % buf)
payload = b'{"text": "/nick wssstall"}'
mask = os.urandom(4)
t.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
print("READY", flush=True)
sys.stdin.readline()
"#;

/// The send-queue rules hold for wss members too: one that never reads is
/// cut after `--send-timeout` while a TLS line member gets everything.
#[test]
fn wss_member_that_never_reads_is_cut_while_others_go_on() {
    need("python3");
    let s = TlsChat::start(&[
        "--send-queue",
        "1024",
        "--socket-buffer",
        "4096",
        "--send-timeout",
        "1",
        "--flood-rate",
        "0",
    ]);
    let web = s.sockit.addr("https");
    let mut reader = socat_join(s.sockit.addr("tls"), &s.cert());
    reader.expect("joined lobby");
    let mut stalled = Proc::spawn(Command::new("python3").args([
        "-u",
        "-c",
        PY_WSS_STALL,
        &web.ip().to_string(),
        &web.port().to_string(),
    ]));
    stalled.expect("READY");
    reader.expect("is now known as wssstall");
    let mut flood = TcpStream::connect(s.sockit.addr("tcp")).unwrap();
    let body = "z".repeat(4000);
    let mut all = String::new();
    for i in 0..600 {
        all.push_str(&format!("{i} {body}\n"));
    }
    let writer = std::thread::spawn(move || {
        flood.write_all(all.as_bytes()).unwrap();
        flood
    });
    for i in [0, 299, 599] {
        reader.expect(&format!("> {i} zzzz"));
    }
    let cut = "wssstall left (send queue exceeded)";
    if !reader.lines.seen.iter().any(|l| l.contains(cut)) {
        reader.expect(cut);
    }
    let _flood = writer.join().unwrap();
    drop(stalled);
    assert!(s.sockit.stop(WAIT).success());
}

/// A key and a self-signed certificate for 127.0.0.1 in `dir`: `NAME.crt`, `NAME.key`.
fn cert_pair(dir: &std::path::Path, name: &str) -> (PathBuf, PathBuf) {
    need("openssl");
    let key = dir.join(format!("{name}.key"));
    let crt = dir.join(format!("{name}.crt"));
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key.to_str().unwrap()]);
    run(&[
        "req",
        "-x509",
        "-new",
        "-key",
        key.to_str().unwrap(),
        "-subj",
        "/CN=test",
        "-days",
        "2",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-out",
        crt.to_str().unwrap(),
    ]);
    (crt, key)
}

/// Whether `curl` fetches the chat page from `web` trusting only `ca`.
fn page_verifies_with(web: SocketAddr, ca: &std::path::Path) -> bool {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5", "--cacert", ca.to_str().unwrap(), &format!("https://{web}/")])
        .output()
        .unwrap();
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("<html")
}

/// SIGHUP reloads `--tls-cert`/`--tls-key` for both TLS listeners (line
/// members and https): new handshakes get the new certificate, a member
/// connected before stays in the room.
#[test]
fn sighup_reloads_the_certificate_on_both_tls_listeners() {
    need("curl");
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = cert_pair(dir.path(), "live");
    let old_crt = dir.path().join("old.crt");
    std::fs::copy(&crt, &old_crt).unwrap();
    let mut cmd = Command::new(bin());
    cmd.args(["chat", "serve", "--no-irc", "--port", "0", "--web-port", "0", "--tls-port", "0", "--no-history"])
        .args(["--tls-cert", crt.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    let s = Sockit::start_with(&mut cmd, 4);
    let web = s.addr("https");
    assert!(page_verifies_with(web, &old_crt));
    let mut before = socat_join(s.addr("tls"), &old_crt);
    before.expect("joined lobby");

    let (new_crt, new_key) = cert_pair(dir.path(), "next");
    std::fs::copy(&new_key, &key).unwrap();
    std::fs::copy(&new_crt, &crt).unwrap();
    s.signal(libc::SIGHUP);
    assert!(s.wait_stderr("reloaded the TLS certificate", WAIT), "{}", s.stderr());
    // Two acceptors reload on the same signal, each in its own task.
    let deadline = Instant::now() + WAIT;
    while !page_verifies_with(web, &new_crt) {
        assert!(Instant::now() < deadline, "https still serves the old certificate: {}", s.stderr());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!page_verifies_with(web, &old_crt), "https still serves the old certificate");
    let mut after = socat_join(s.addr("tls"), &new_crt);
    after.expect("joined lobby");
    before.expect("joined lobby");
    before.send("from before the reload");
    after.expect("from before the reload");
    assert!(s.stop(WAIT).success());
}
