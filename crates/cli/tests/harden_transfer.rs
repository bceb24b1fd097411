//! Hardening of `sockit send` / `sockit receive` against hostile peers and
//! planted files, against the real binary:
//! - a `.part` that is a hard link or symlink to a file outside `--out` is
//!   never written through (nor is a final name with `--overwrite`);
//! - the resume offer names nothing the sender did not write: planted
//!   `.part`s and existing files get no length and no hash;
//! - a listener survives silent, abandoned and refused sessions, cuts off a
//!   peer without a valid hello, and tells a second sender it is busy;
//! - disguised names (bidi, invisible characters) are refused, and a
//!   receiver's words reach the sender's terminal escaped.
//!
//! The hostile peers speak the protocol by hand over the real handshake and
//! sealed channel (`sockit_transfer`'s pieces); the crowd is python3.
#![allow(clippy::unwrap_used)]

mod transfer_support;

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sockit_testkit::{bin, need, random_bytes, run_with_input, Sockit};
use sockit_transfer::frame::{self, Kind};
use sockit_transfer::handshake::{handshake, Hello, Role};
use sockit_transfer::secure::SecureStream;
use std::io::Write;
use transfer_support::{json_line, T};

/// A peer speaking the transfer protocol by hand, over the real handshake
/// and sealed channel (`--no-code`), from `sockit_transfer`'s own pieces.
///
/// `peer_sender(PORT, ENTRIES, [])` sends the manifest ENTRIES (JSON list)
/// and random claims, and returns the answer frame as `KIND BODY`;
/// `["hangup"]` closes right after the hello (`["hangup", "2"]`: as a
/// receiver would).
fn peer_sender(port: u16, entries: &str, extra: &[&str]) -> (bool, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    if extra.first() == Some(&"hangup") {
        let role = extra.get(1).map_or(1, |r| r.parse().unwrap());
        let (_, hello) = frame::read_frame(&mut s, "peer hello").unwrap();
        let theirs = Hello::decode(&hello).unwrap();
        let ours = Hello { version: theirs.version, role, flags: 0, nonce: [9; 32] };
        frame::write_frame(&mut s, Kind::Hello, &ours.encode()).unwrap();
        return (true, String::new());
    }
    let keys = match handshake(&mut s, Role::Sender, None) {
        Ok(k) => k,
        Err(e) => return (false, e.to_string()),
    };
    let mut c = SecureStream::new(&mut s, &keys);
    let entries: serde_json::Value = serde_json::from_str(entries).unwrap();
    let files = entries.as_array().unwrap().iter().filter(|e| e["kind"] == "file").count();
    frame::write_frame(&mut c, Kind::Manifest, serde_json::json!({ "entries": entries }).to_string().as_bytes())
        .unwrap();
    frame::write_frame(&mut c, Kind::Claims, &random_bytes(32 * files, 77)).unwrap();
    c.flush().unwrap();
    let Ok(Some(h)) = frame::read_header(&mut c) else { return (false, "no answer".into()) };
    let mut body = Vec::new();
    frame::read_payload(&mut c, h.len, &mut body).unwrap();
    let _ = c.finish();
    drop(c);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let _ = std::io::copy(&mut s, &mut std::io::sink());
    (true, format!("{} {}", h.kind as u8, String::from_utf8_lossy(&body)))
}

/// A manifest entry for a file.
fn file_entry(path: &str, size: usize) -> String {
    serde_json::json!({"path": path, "kind": "file", "size": size, "mode": 0o644, "mtime": 0}).to_string()
}

/// `sockit ARGS…` with its own state folder (the sender's resume key).
fn sockit(state: &Path, args: &[&str]) -> (bool, Vec<u8>, String) {
    let (status, out, err) = run_with_input(Command::new(bin()).args(args).env("SOCKIT_STATE_DIR", state), b"", T);
    (status.success(), out, err)
}

/// A listening receiver writing into `out`.
fn receiver(out: &Path, extra: &[&str]) -> Sockit {
    let mut args = vec!["receive", "--out", out.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-code"];
    args.extend_from_slice(extra);
    Sockit::start(&bin(), &args, 1)
}

// ---- item 6: never write through a link ----

#[test]
fn a_planted_part_link_is_never_written_through() {
    let tmp = tempfile::tempdir().unwrap();
    let (outside, out, src, state) =
        (tmp.path().join("outside"), tmp.path().join("out"), tmp.path().join("src"), tmp.path().join("state"));
    for d in [&outside, &out, &src] {
        fs::create_dir(d).unwrap();
    }
    let secret = random_bytes(3000, 1);
    fs::write(outside.join("secret.bin"), &secret).unwrap();
    fs::write(outside.join("linked.bin"), b"linked, not to be touched\n").unwrap();
    fs::hard_link(outside.join("secret.bin"), out.join("a.bin.part")).unwrap();
    std::os::unix::fs::symlink(outside.join("linked.bin"), out.join("b.bin.part")).unwrap();
    let (a, b) = (random_bytes(5000, 2), random_bytes(5000, 3));
    fs::write(src.join("a.bin"), &a).unwrap();
    fs::write(src.join("b.bin"), &b).unwrap();

    let mut rx = receiver(&out, &[]);
    let to = rx.addr("tcp").to_string();
    let (sa, sb) = (src.join("a.bin"), src.join("b.bin"));
    let (ok, stdout, err) =
        sockit(&state, &["send", sa.to_str().unwrap(), sb.to_str().unwrap(), "--to", &to, "--no-code", "--json"]);
    assert!(ok, "{err}");
    assert!(rx.wait(T).success(), "{}", rx.stderr());
    let j = json_line(&stdout);
    assert_eq!((j["bytes_sent"].as_u64(), j["bytes_resumed"].as_u64()), (Some(10_000), Some(0)), "{j}");
    // The outside files are byte-identical, and the hard link is gone.
    assert!(fs::read(outside.join("secret.bin")).unwrap() == secret, "written through the hard link");
    assert_eq!(fs::metadata(outside.join("secret.bin")).unwrap().nlink(), 1);
    assert_eq!(fs::read(outside.join("linked.bin")).unwrap(), b"linked, not to be touched\n");
    assert!(fs::read(out.join("a.bin")).unwrap() == a && fs::read(out.join("b.bin")).unwrap() == b);

    // --overwrite replaces the final names, never what they linked to.
    fs::remove_file(out.join("a.bin")).unwrap();
    fs::remove_file(out.join("b.bin")).unwrap();
    fs::hard_link(outside.join("secret.bin"), out.join("a.bin")).unwrap();
    std::os::unix::fs::symlink(outside.join("linked.bin"), out.join("b.bin")).unwrap();
    let mut rx = receiver(&out, &["--overwrite"]);
    let to = rx.addr("tcp").to_string();
    let (ok, _, err) = sockit(&state, &["send", sa.to_str().unwrap(), sb.to_str().unwrap(), "--to", &to, "--no-code"]);
    assert!(ok, "{err}");
    assert!(rx.wait(T).success(), "{}", rx.stderr());
    assert!(fs::read(outside.join("secret.bin")).unwrap() == secret);
    assert_eq!(fs::read(outside.join("linked.bin")).unwrap(), b"linked, not to be touched\n");
    assert!(fs::symlink_metadata(out.join("b.bin")).unwrap().is_file());
    assert!(fs::read(out.join("a.bin")).unwrap() == a && fs::read(out.join("b.bin")).unwrap() == b);
}

// ---- item 7: the resume offer tells nothing about files the sender did not write ----

#[test]
fn the_resume_offer_names_nothing_the_sender_did_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    let (outside, out) = (tmp.path().join("outside"), tmp.path().join("out"));
    fs::create_dir(&outside).unwrap();
    fs::create_dir(&out).unwrap();
    let secret = random_bytes(3000, 4);
    fs::write(outside.join("secret.bin"), &secret).unwrap();
    // What a guesser might name: a finished file, a .part, a hard link out.
    fs::write(out.join("guess.txt"), random_bytes(100, 5)).unwrap();
    fs::write(out.join("guess2.bin.part"), random_bytes(500, 6)).unwrap();
    fs::hard_link(outside.join("secret.bin"), out.join("link.bin.part")).unwrap();

    let rx = receiver(&out, &[]);
    let entries = format!(
        "[{},{},{}]",
        file_entry("guess.txt", 100),
        file_entry("guess2.bin", 1000),
        file_entry("link.bin", 3000)
    );
    let (ok, said) = peer_sender(rx.addr("tcp").port(), &entries, &[]);
    assert!(ok);
    // Kind 4 (Resume) with nothing in it: no length, no hash, not even existence.
    assert!(said.starts_with("4 "), "{said}");
    let offer: serde_json::Value = serde_json::from_str(said[2..].trim()).unwrap();
    assert_eq!(offer["have"], serde_json::json!([]), "the receiver told a stranger about its files: {said}");
    assert!(fs::read(outside.join("secret.bin")).unwrap() == secret);
}

/// A `.part` one sender left is not offered to another (another resume
/// key), even when that one's file matches its prefix: it is sent whole.
/// And a finished file counts as "already there" only for its own sender.
#[test]
fn a_part_is_offered_only_to_the_sender_that_wrote_it() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("data.bin");
    let data = random_bytes(4 << 20, 8);
    fs::write(&f, &data).unwrap();
    let out = tmp.path().join("out");
    let (alice, mallory) = (tmp.path().join("alice"), tmp.path().join("mallory"));
    let part = out.join("data.bin.part");

    // Alice's first run, killed at ~40%.
    let rx = receiver(&out, &[]);
    let to = rx.addr("tcp").to_string();
    let mut tx = Command::new(bin())
        .args(["send", f.to_str().unwrap(), "--to", &to, "--no-code", "--rate-limit", "1M"])
        .env("SOCKIT_STATE_DIR", &alice)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + T;
    while fs::metadata(&part).map(|m| m.len()).unwrap_or(0) < (4 << 20) * 2 / 5 {
        assert!(Instant::now() < deadline, "the .part never grew");
        std::thread::sleep(Duration::from_millis(20));
    }
    tx.kill().unwrap();
    let _ = tx.wait();
    drop(rx);
    let have = fs::metadata(&part).unwrap().len();

    // Another sender (its own key) sending a file of that name learns nothing.
    let mut rx = receiver(&out, &[]);
    let to = rx.addr("tcp").to_string();
    let other = tmp.path().join("other/data.bin");
    fs::create_dir_all(other.parent().unwrap()).unwrap();
    fs::write(&other, &data[..(1 << 20)]).unwrap();
    let (ok, stdout, err) = sockit(&mallory, &["send", other.to_str().unwrap(), "--to", &to, "--no-code", "--json"]);
    assert!(ok, "{err}");
    assert!(rx.wait(T).success());
    let j = json_line(&stdout);
    assert_eq!((j["bytes_resumed"].as_u64(), j["bytes_sent"].as_u64()), (Some(0), Some(1 << 20)), "{j}");
    assert_eq!(fs::read(out.join("data.bin")).unwrap().len(), 1 << 20);
    assert!(!part.exists());

    // Alice again: what she sent is present (her own file, not Mallory's),
    // so she sends hers whole, kept beside it; a rerun then finds both there.
    let mut rx = receiver(&out, &[]);
    let to = rx.addr("tcp").to_string();
    let (ok, stdout, err) = sockit(&alice, &["send", f.to_str().unwrap(), "--to", &to, "--no-code", "--json"]);
    assert!(ok, "{err}");
    assert!(rx.wait(T).success());
    let j = json_line(&stdout);
    assert_eq!(j["bytes_sent"].as_u64(), Some(4 << 20), "{j} (had {have})");
    assert!(fs::read(out.join("data (1).bin")).unwrap() == data);
    let mut rx = receiver(&out, &[]);
    let to = rx.addr("tcp").to_string();
    let (ok, stdout, err) = sockit(&alice, &["send", f.to_str().unwrap(), "--to", &to, "--no-code", "--json"]);
    assert!(ok, "{err}");
    assert!(rx.wait(T).success());
    let j = json_line(&stdout);
    assert_eq!((j["bytes_sent"].as_u64(), j["files_present"].as_u64()), (Some(0), Some(1)), "{j}");
}

// ---- item 8: a listener that is hard to stop or stall ----

/// Sends `f` to `to` and checks it arrived; returns how long the send took.
fn real_send(state: &Path, f: &Path, to: &str) -> Duration {
    let started = Instant::now();
    let (ok, _, err) = sockit(state, &["send", f.to_str().unwrap(), "--to", to, "--no-code"]);
    assert!(ok, "the real sender failed: {err}");
    started.elapsed()
}

#[test]
fn a_silent_connection_does_not_hold_up_a_real_sender() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("note.txt");
    fs::write(&f, b"through\n").unwrap();
    let out = tmp.path().join("out");
    let mut rx = receiver(&out, &[]);
    let to = rx.addr("tcp").to_string();
    let _silent = TcpStream::connect(&to).unwrap();
    let took = real_send(&tmp.path().join("state"), &f, &to);
    assert!(took < Duration::from_secs(10), "the real sender waited {took:?} behind a silent connection");
    assert!(rx.wait(T).success(), "{}", rx.stderr());
    assert_eq!(fs::read(out.join("note.txt")).unwrap(), b"through\n");
}

#[test]
fn a_peer_without_a_valid_hello_is_cut_off() {
    let tmp = tempfile::tempdir().unwrap();
    let rx = receiver(&tmp.path().join("out"), &["--hello-timeout", "1"]);
    let mut silent = TcpStream::connect(rx.addr("tcp")).unwrap();
    silent.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let started = Instant::now();
    // Our hello comes first; then the connection must end, well before 20 s.
    let mut got = Vec::new();
    let r = silent.read_to_end(&mut got);
    assert!(r.is_ok(), "the receiver never closed the silent connection: {r:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "closed after {:?}", started.elapsed());
    assert_eq!(&got[5..13], b"SOCKITFT");
    assert!(rx.wait_stderr("no valid hello within 1 s", T), "{}", rx.stderr());
}

#[test]
fn hang_ups_and_refusals_do_not_end_the_listener() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("note.txt");
    fs::write(&f, b"still here\n").unwrap();
    let out = tmp.path().join("out");
    let mut rx = receiver(&out, &[]);
    let port = rx.addr("tcp").port();
    // A valid hello, then a hang-up.
    assert!(peer_sender(port, "[]", &["hangup"]).0);
    // A manifest the receiver refuses.
    let (_, said) = peer_sender(port, &format!("[{}]", file_entry("../x", 1)), &[]);
    assert!(said.starts_with("15 ") && said.contains("unsafe path"), "{said}");
    // A real sender still gets through, and the receiver's status is its.
    real_send(&tmp.path().join("state"), &f, &rx.addr("tcp").to_string());
    assert!(rx.wait(T).success(), "{}", rx.stderr());
    assert_eq!(fs::read(out.join("note.txt")).unwrap(), b"still here\n");
}

/// The same for a listening sender: a receiver that says hello and hangs up
/// does not count.
#[test]
fn a_listening_sender_survives_a_hang_up() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("note.txt");
    fs::write(
        &f,
        b"for the real one
",
    )
    .unwrap();
    let mut tx = Sockit::start_with(
        Command::new(bin())
            .args(["send", f.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-code"])
            .env("SOCKIT_STATE_DIR", tmp.path().join("state")),
        1,
    );
    assert!(peer_sender(tx.addr("tcp").port(), "[]", &["hangup", "2"]).0);
    let out = tmp.path().join("out");
    let (ok, _, err) = sockit(
        &tmp.path().join("state"),
        &["receive", "--from", &tx.addr("tcp").to_string(), "--no-code", "--out", out.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    assert!(tx.wait(T).success(), "{}", tx.stderr());
    assert_eq!(
        fs::read(out.join("note.txt")).unwrap(),
        b"for the real one
"
    );
}

#[test]
fn a_second_sender_is_told_busy() {
    let tmp = tempfile::tempdir().unwrap();
    let (big, small) = (tmp.path().join("big.bin"), tmp.path().join("small.txt"));
    fs::write(&big, random_bytes(3 << 20, 9)).unwrap();
    fs::write(&small, b"later\n").unwrap();
    let out = tmp.path().join("out");
    let mut rx = receiver(&out, &[]);
    let to = rx.addr("tcp").to_string();
    let state = tmp.path().join("state");
    let first = Command::new(bin())
        .args(["send", big.to_str().unwrap(), "--to", &to, "--no-code", "--rate-limit", "1M"])
        .env("SOCKIT_STATE_DIR", &state)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + T;
    while fs::metadata(out.join("big.bin.part")).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "the first session never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    let (ok, _, err) = sockit(&state, &["send", small.to_str().unwrap(), "--to", &to, "--no-code"]);
    assert!(!ok, "the second sender must fail");
    assert!(err.contains("busy: another transfer is in progress, try again"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "told after {:?}", started.elapsed());
    let out_first = first.wait_with_output().unwrap();
    assert!(out_first.status.success(), "{}", String::from_utf8_lossy(&out_first.stderr));
    assert!(rx.wait(T).success(), "{}", rx.stderr());
    assert!(!out.join("small.txt").exists());
}

// ---- item 12: disguised names and escaped words ----

#[test]
fn a_disguised_name_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let rx = receiver(&out, &[]);
    for name in ["invoice\u{202e}fdp.exe", "a\u{200b}b.txt", "x\u{2066}y"] {
        let (ok, said) = peer_sender(rx.addr("tcp").port(), &format!("[{}]", file_entry(name, 5)), &[]);
        assert!(ok);
        assert!(said.starts_with("15 ") && said.contains("bidirectional, invisible or layout"), "{name:?}: {said}");
        assert!(said.is_ascii(), "the refusal must show the name escaped: {said:?}");
    }
    assert!(!rx.stderr().chars().any(|c| ('\u{2000}'..='\u{206f}').contains(&c)), "{}", rx.stderr());
    assert!(!out.exists() || fs::read_dir(&out).unwrap().next().is_none());
}

/// A receiver by hand: listens on a free port, takes one sender; `error`
/// answers the manifest with an Error frame of `text`, `summary` takes the
/// files and sends a summary whose error list is `text`.
fn peer_receiver(mode: &'static str, text: &'static str) -> (std::thread::JoinHandle<()>, u16) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(T)).unwrap();
        let keys = handshake(&mut s, Role::Receiver, None).unwrap();
        let mut c = SecureStream::new(&mut s, &keys);
        let (_, manifest) = frame::read_frame(&mut c, "manifest").unwrap();
        frame::read_frame(&mut c, "claims").unwrap();
        if mode == "error" {
            frame::write_frame(&mut c, Kind::Error, text.as_bytes()).unwrap();
        } else {
            let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
            let n = m["entries"].as_array().unwrap().iter().filter(|e| e["kind"] == "file").count();
            frame::write_frame(&mut c, Kind::Resume, br#"{"have":[]}"#).unwrap();
            while let Ok(Some(h)) = frame::read_header(&mut c) {
                let mut body = Vec::new();
                frame::read_payload(&mut c, h.len, &mut body).unwrap();
                if h.kind == Kind::Done {
                    break;
                }
            }
            let summary = serde_json::json!({"files_received": n, "files_present": 0, "files_failed": 1,
                "bytes_received": 0, "bytes_resumed": 0, "errors": [text]});
            frame::write_frame(&mut c, Kind::Summary, summary.to_string().as_bytes()).unwrap();
        }
        let _ = c.finish();
        drop(c);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let _ = std::io::copy(&mut s, &mut std::io::sink());
    });
    (t, port)
}

#[test]
fn the_receivers_words_reach_the_senders_terminal_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("f.txt");
    fs::write(&f, b"x").unwrap();
    // `\x1b[2J` clears the screen, `\u202e` reverses the rest of the line.
    let hostile = "\x1b[2J\x1b[31mgotcha\u{202e}txt.exe";
    for mode in ["error", "summary"] {
        let (peer, port) = peer_receiver(mode, hostile);
        let (ok, _, err) = sockit(
            &tmp.path().join("state"),
            &["send", f.to_str().unwrap(), "--to", &format!("127.0.0.1:{port}"), "--no-code"],
        );
        peer.join().unwrap();
        assert!(!ok, "{mode}: {err}");
        assert!(err.contains("gotcha"), "{mode}: {err}");
        assert!(
            !err.contains('\x1b') && !err.contains('\u{202e}'),
            "{mode}: raw control reached the terminal: {err:?}"
        );
        assert!(err.contains(r"\x1b[31m") && err.contains(r"\u{202e}"), "{mode}: {err}");
    }
}

/// Holds N silent connections from each given source address (each one
/// accepted: the receiver's hello has arrived on it), prints `ready`, and
/// keeps them until stdin closes.
const HOLD: &str = r#"
import socket, sys
port, n = int(sys.argv[2]), int(sys.argv[3])
socks = []
for src in sys.argv[4:]:
    for _ in range(n):
        s = socket.socket()
        s.bind((src, 0))
        s.connect((sys.argv[1], port))
        socks.append(s)
for s in socks:
    got = b""
    while len(got) < 5:
        chunk = s.recv(5 - len(got))
        assert chunk, "closed before its hello"
        got += chunk
print("ready", flush=True)
sys.stdin.read()
"#;

/// Starts HOLD against `to` and waits for `ready`.
fn hold(to: std::net::SocketAddr, per_source: usize, sources: &[&str]) -> std::process::Child {
    need("python3");
    let (host, port, n) = (to.ip().to_string(), to.port().to_string(), per_source.to_string());
    let mut args = vec!["-c", HOLD, &host, &port, &n];
    args.extend_from_slice(sources);
    let mut child = Command::new("python3").args(&args).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    child
}

/// One host holding 4 connections in their hello is at its limit: its next
/// connection is told to try again, while another host gets through.
#[test]
fn one_host_cannot_fill_the_listener() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("note.txt");
    fs::write(&f, b"past the crowd\n").unwrap();
    let state = tmp.path().join("state");
    let out = tmp.path().join("out");
    let args = ["--listen", "127.0.0.2:0", "--no-code", "--hello-timeout", "60"];
    // The sockit sender's own address (127.0.0.1) is the crowded one.
    let rx = Sockit::start(&bin(), &[&["receive", "--out", out.to_str().unwrap()][..], &args[..]].concat(), 1);
    let crowd = hold(rx.addr("tcp"), 4, &["127.0.0.1"]);
    let (ok, _, err) = sockit(&state, &["send", f.to_str().unwrap(), "--to", &rx.addr("tcp").to_string(), "--no-code"]);
    assert!(!ok && err.contains("busy: too many connections waiting, try again"), "{err}");
    release(crowd);
    drop(rx);
    // Another host's 4 do not stop us.
    let mut rx = Sockit::start(&bin(), &[&["receive", "--out", out.to_str().unwrap()][..], &args[..]].concat(), 1);
    let crowd = hold(rx.addr("tcp"), 4, &["127.0.0.3"]);
    real_send(&state, &f, &rx.addr("tcp").to_string());
    assert!(rx.wait(T).success(), "{}", rx.stderr());
    release(crowd);
    // And 16 connections from four hosts fill the listener for everyone.
    let rx = Sockit::start(&bin(), &[&["receive", "--out", out.to_str().unwrap()][..], &args[..]].concat(), 1);
    let crowd = hold(rx.addr("tcp"), 4, &["127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"]);
    let (ok, _, err) = sockit(&state, &["send", f.to_str().unwrap(), "--to", &rx.addr("tcp").to_string(), "--no-code"]);
    assert!(!ok && err.contains("busy: too many connections waiting"), "{err}");
    release(crowd);
}

/// Ends a HOLD (its connections close).
fn release(mut crowd: std::process::Child) {
    let _ = crowd.kill();
    let _ = crowd.wait();
}
