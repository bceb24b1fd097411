//! The encrypted channel of `sockit send` / `sockit receive`, against the
//! real binary, through a TCP proxy of ours between the two sides:
//! - recording: a 1 MiB marker from the file, the file's name and the code
//!   never appear on the wire;
//! - tampering: one flipped byte, a dropped frame, two frames swapped, or a
//!   stream cut before the final frame make the receiver fail the file and
//!   place nothing; a rerun resumes and ends byte-identical;
//! - replay: a recorded session played to a fresh receiver is refused;
//! - wrong codes: both sides fail with a clear message, nothing lands on
//!   disk, and three wrong tries end a generated code.
#![allow(clippy::unwrap_used)]

mod transfer_support;

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use sockit_testkit::{bin, random_bytes, run_with_input, Sockit};
use transfer_support::{json_line, T};

/// What the proxy does to the sender's stream, counted in sealed frames
/// (after the three plaintext handshake frames: hello, PAKE, confirmation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mutation {
    /// Forward everything (and record it).
    Pass,
    /// Flip one byte inside sealed frame 2.
    Flip,
    /// Leave out sealed frame 2.
    Drop,
    /// Send sealed frame 3 before frame 2.
    Reorder,
    /// Close both ways just before the frame marked final.
    Cut,
}

/// Handshake frames before the first sealed one, per direction.
const PLAIN_FRAMES: usize = 3;

/// The bytes that passed each way: (client → server, server → client).
type Capture = Arc<Mutex<(Vec<u8>, Vec<u8>)>>;

/// Reads one frame (5-byte header with the length in bytes 1..5, then the
/// body); `None` at the end of the stream.
fn read_frame(r: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = [0u8; 5];
    r.read_exact(&mut head).ok()?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let mut f = head.to_vec();
    f.resize(5 + len, 0);
    r.read_exact(&mut f[5..]).ok()?;
    Some(f)
}

/// The client → server direction, frame by frame, with `mutation`.
fn upstream(mut from: TcpStream, mut to: TcpStream, mutation: Mutation, cap: Capture) {
    let mut held: Option<Vec<u8>> = None;
    let mut n = 0usize;
    while let Some(mut f) = read_frame(&mut from) {
        cap.lock().unwrap().0.extend_from_slice(&f);
        let sealed = n.checked_sub(PLAIN_FRAMES);
        n += 1;
        match (mutation, sealed) {
            (Mutation::Flip, Some(2)) => {
                let mid = f.len() / 2;
                f[mid] ^= 0x01;
            }
            (Mutation::Drop, Some(2)) => continue,
            (Mutation::Reorder, Some(2)) => {
                held = Some(f);
                continue;
            }
            (Mutation::Cut, Some(_)) if f[0] & 1 == 1 => break,
            _ => {}
        }
        if to.write_all(&f).is_err() {
            break;
        }
        if let Some(h) = held.take() {
            if to.write_all(&h).is_err() {
                break;
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// The server → client direction, copied and recorded.
fn downstream(mut from: TcpStream, mut to: TcpStream, cap: Capture) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                cap.lock().unwrap().1.extend_from_slice(&buf[..n]);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// A proxy on a free loopback port for one connection to `target`.
fn proxy(target: SocketAddr, mutation: Mutation) -> (SocketAddr, Capture, JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let cap: Capture = Arc::default();
    let c = cap.clone();
    let t = std::thread::spawn(move || {
        let (client, _) = l.accept().unwrap();
        let server = TcpStream::connect(target).unwrap();
        client.set_read_timeout(Some(T)).unwrap();
        server.set_read_timeout(Some(T)).unwrap();
        let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        let cap2 = c.clone();
        let down = std::thread::spawn(move || downstream(s2, c2, cap2));
        upstream(client, server, mutation, c);
        let _ = down.join();
    });
    (addr, cap, t)
}

/// `sockit ARGS…` with a state folder (the sender's resume key lives there).
fn sockit(state: &Path, args: &[&str]) -> (bool, Vec<u8>, String) {
    let (status, out, err) = run_with_input(Command::new(bin()).args(args).env("SOCKIT_STATE_DIR", state), b"", T);
    (status.success(), out, err)
}

fn receiver(out: &Path, extra: &[&str]) -> Sockit {
    let mut args = vec!["receive", "--out", out.to_str().unwrap(), "--listen", "127.0.0.1:0", "--json"];
    args.extend_from_slice(extra);
    Sockit::start(&bin(), &args, 1)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

const CODE: &str = "Purple monkey-dishwasher";
const NAME: &str = "quarterly-figures-7f3a.bin";

#[test]
fn a_recorded_session_shows_no_data_no_name_and_no_code() {
    let tmp = tempfile::tempdir().unwrap();
    let data = random_bytes(4 << 20, 11);
    let f = tmp.path().join(NAME);
    fs::write(&f, &data).unwrap();
    let out = tmp.path().join("out");
    let mut rx = receiver(&out, &["--code", CODE]);
    let (addr, cap, t) = proxy(rx.addr("tcp"), Mutation::Pass);
    let (ok, _, err) =
        sockit(&tmp.path().join("state"), &["send", f.to_str().unwrap(), "--to", &addr.to_string(), "--code", CODE]);
    assert!(ok, "{err}");
    assert!(rx.wait(T).success(), "{}", rx.stderr());
    t.join().unwrap();
    assert_eq!(fs::read(out.join(NAME)).unwrap(), data);
    let (up, down) = cap.lock().unwrap().clone();
    assert!(up.len() > data.len(), "the proxy saw {} bytes", up.len());
    let marker = &data[1 << 20..2 << 20];
    for wire in [&up, &down] {
        // Any 32-byte piece of the 1 MiB marker would show it leaked.
        for at in (0..marker.len() - 32).step_by(64 << 10) {
            assert!(!contains(wire, &marker[at..at + 32]), "file bytes at {at} of the marker are on the wire");
        }
        assert!(!contains(wire, NAME.as_bytes()) && !contains(wire, b"quarterly"), "the file name is on the wire");
        for secret in ["purple-monkey-dishwasher", "purple", "monkey", "dishwasher", "Purple"] {
            assert!(!contains(wire, secret.as_bytes()), "the code ({secret}) is on the wire");
        }
    }
}

/// A session through a proxy that does `mutation`, then a clean rerun.
fn tamper_then_resume(mutation: Mutation) {
    let tmp = tempfile::tempdir().unwrap();
    let data = random_bytes(5 << 20, 12);
    let f = tmp.path().join("big.bin");
    fs::write(&f, &data).unwrap();
    let (out, state) = (tmp.path().join("out"), tmp.path().join("state"));
    let mut rx = receiver(&out, &["--code", CODE]);
    let (addr, _, t) = proxy(rx.addr("tcp"), mutation);
    let (ok, _, err) = sockit(&state, &["send", f.to_str().unwrap(), "--to", &addr.to_string(), "--code", CODE]);
    assert!(!rx.wait(T).success(), "{mutation:?}: the receiver must fail: {}", rx.stderr());
    t.join().unwrap();
    assert!(!ok, "{mutation:?}: the sender must not report success: {err}");
    assert!(!out.join("big.bin").exists(), "{mutation:?}: a tampered file was placed");
    let why = rx.stderr();
    match mutation {
        Mutation::Cut => assert!(why.contains("run the same commands again to resume"), "{mutation:?}: {why}"),
        _ => assert!(why.contains("failed authentication"), "{mutation:?}: {why}"),
    }

    // The same commands again, straight: it resumes and ends identical.
    let mut rx = receiver(&out, &["--code", CODE]);
    let to = rx.addr("tcp").to_string();
    let (ok, stdout, err) = sockit(&state, &["send", f.to_str().unwrap(), "--to", &to, "--code", CODE, "--json"]);
    assert!(ok, "{mutation:?}: {err}");
    assert!(rx.wait(T).success(), "{}", rx.stderr());
    assert!(fs::read(out.join("big.bin")).unwrap() == data, "{mutation:?}: not byte-identical");
    let report = json_line(&stdout);
    assert!(report["bytes_resumed"].as_u64().unwrap() > 0, "{mutation:?}: nothing resumed: {report}");
    assert!(!out.join("big.bin.part").exists());
}

#[test]
fn a_flipped_byte_fails_the_file_and_a_rerun_resumes() {
    tamper_then_resume(Mutation::Flip);
}

#[test]
fn a_dropped_frame_fails_the_file_and_a_rerun_resumes() {
    tamper_then_resume(Mutation::Drop);
}

#[test]
fn reordered_frames_fail_the_file_and_a_rerun_resumes() {
    tamper_then_resume(Mutation::Reorder);
}

#[test]
fn a_stream_cut_before_the_final_frame_fails_the_file_and_a_rerun_resumes() {
    tamper_then_resume(Mutation::Cut);
}

#[test]
fn a_replayed_session_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = random_bytes(300_000, 13);
    let f = tmp.path().join("note.bin");
    fs::write(&f, &data).unwrap();
    let out = tmp.path().join("out");
    let mut rx = receiver(&out, &["--code", CODE]);
    let (addr, cap, t) = proxy(rx.addr("tcp"), Mutation::Pass);
    let (ok, _, err) =
        sockit(&tmp.path().join("state"), &["send", f.to_str().unwrap(), "--to", &addr.to_string(), "--code", CODE]);
    assert!(ok, "{err}");
    assert!(rx.wait(T).success());
    t.join().unwrap();
    let recorded = cap.lock().unwrap().0.clone();

    // The sender's recorded bytes, to a fresh receiver with the same code.
    let fresh = tmp.path().join("fresh");
    let rx = receiver(&fresh, &["--code", CODE]);
    let mut s = TcpStream::connect(rx.addr("tcp")).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let _ = s.write_all(&recorded);
    let _ = s.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    assert!(rx.wait_stderr("wrong code", T), "{}", rx.stderr());
    assert!(!fresh.exists() || fs::read_dir(&fresh).unwrap().next().is_none(), "a replay wrote something");
    rx.kill();
}

#[test]
fn wrong_codes_move_nothing_and_three_end_a_generated_code() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join(NAME);
    fs::write(&f, random_bytes(50_000, 14)).unwrap();
    let out = tmp.path().join("out");
    // No --code: the listener makes one up and says how to use it.
    let mut rx = Sockit::start(&bin(), &["receive", "--out", out.to_str().unwrap(), "--listen", "127.0.0.1:0"], 1);
    assert!(rx.wait_stderr("on the other machine run: sockit send FILE --to 127.0.0.1:", T), "{}", rx.stderr());
    let said = rx.stderr();
    let code = said.lines().find_map(|l| l.strip_prefix("code: ")).unwrap().trim().to_string();
    assert_eq!(code.split('-').count(), 3, "{said}");
    assert!(said.contains(&format!("--code {code}")), "{said}");
    let to = rx.addr("tcp").to_string();
    let state = tmp.path().join("state");
    for n in 1..=3 {
        let (ok, _, err) =
            sockit(&state, &["send", f.to_str().unwrap(), "--to", &to, "--code", "abandon ability able"]);
        assert!(!ok, "try {n}: {err}");
        assert!(err.contains("wrong code"), "try {n}: {err}");
        assert!(!out.exists() || fs::read_dir(&out).unwrap().next().is_none(), "try {n}: something landed");
    }
    assert!(!rx.wait(T).success(), "three wrong codes must end the listener");
    assert!(rx.stderr().contains("3 wrong codes"), "{}", rx.stderr());
    assert!(!rx.stderr().contains(NAME), "the file name reached the receiver: {}", rx.stderr());
    assert!(!out.exists() || fs::read_dir(&out).unwrap().next().is_none());
}

#[test]
fn a_connecting_side_without_a_code_is_told_how_to_give_one() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("a.txt");
    fs::write(&f, b"a").unwrap();
    let rx = receiver(&tmp.path().join("out"), &["--code", CODE]);
    // stdin is not a terminal here: no prompt, a clear error.
    let (ok, _, err) =
        sockit(&tmp.path().join("state"), &["send", f.to_str().unwrap(), "--to", &rx.addr("tcp").to_string()]);
    assert!(!ok && err.contains("--code WORDS") && err.contains("SOCKIT_CODE"), "{err}");
    // SOCKIT_CODE works like --code.
    let (status, _, err) = run_with_input(
        Command::new(bin())
            .args(["send", f.to_str().unwrap(), "--to", &rx.addr("tcp").to_string()])
            .env("SOCKIT_STATE_DIR", tmp.path().join("state"))
            .env("SOCKIT_CODE", "PURPLE MONKEY DISHWASHER"),
        b"",
        T,
    );
    assert!(status.success(), "{err}");
    let mut rx = rx;
    assert!(rx.wait(T).success());
}

#[test]
fn no_code_is_encrypted_and_says_it_is_unauthenticated_on_both_sides() {
    let tmp = tempfile::tempdir().unwrap();
    let data = random_bytes(200_000, 15);
    let f = tmp.path().join(NAME);
    fs::write(&f, &data).unwrap();
    let out = tmp.path().join("out");
    let mut rx = receiver(&out, &["--no-code"]);
    let (addr, cap, t) = proxy(rx.addr("tcp"), Mutation::Pass);
    let (ok, _, err) =
        sockit(&tmp.path().join("state"), &["send", f.to_str().unwrap(), "--to", &addr.to_string(), "--no-code"]);
    assert!(ok, "{err}");
    assert!(err.contains("NOT authenticated"), "{err}");
    assert!(rx.wait(T).success());
    assert!(rx.stderr().contains("NOT authenticated"), "{}", rx.stderr());
    t.join().unwrap();
    assert_eq!(fs::read(out.join(NAME)).unwrap(), data);
    let up = cap.lock().unwrap().0.clone();
    assert!(!contains(&up, NAME.as_bytes()) && !contains(&up, &data[1000..1032]));
}

/// Runs a listening receiver with `code`, a sender with `send_args` and
/// `input` on its stdin; returns what the receiver printed on stdout.
fn message_through(send_args: &[&str], input: &[u8], out: &Path) -> Vec<u8> {
    let mut rx = Sockit::start(
        &bin(),
        &["receive", "--out", out.to_str().unwrap(), "--listen", "127.0.0.1:0", "--code", CODE],
        1,
    );
    let to = rx.addr("tcp").to_string();
    // Read while it runs: a message bigger than a pipe would block it.
    let mut stdout = rx.stdout();
    let reader = std::thread::spawn(move || {
        let mut printed = Vec::new();
        stdout.read_to_end(&mut printed).unwrap();
        printed
    });
    let mut args = vec!["send"];
    args.extend_from_slice(send_args);
    args.extend_from_slice(&["--to", &to, "--code", CODE]);
    let (status, _, err) = run_with_input(Command::new(bin()).args(&args), input, T);
    assert!(status.success(), "{err}");
    assert!(rx.wait(T).success(), "{}", rx.stderr());
    reader.join().unwrap()
}

#[test]
fn text_and_stdin_messages_are_printed_not_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let printed = message_through(&["--text", "meet at the north gate\nat 9"], b"", &out);
    assert_eq!(printed, b"meet at the north gate\nat 9");
    let stream = random_bytes(300_000, 16);
    let printed = message_through(&["-"], &stream, &out);
    assert!(printed == stream, "stdin arrived as {} bytes", printed.len());
    // Nothing stays in --out.
    assert!(!out.exists() || fs::read_dir(&out).unwrap().next().is_none());
}

#[test]
fn a_chosen_code_pauses_after_each_wrong_try_and_keeps_listening() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("a.txt");
    fs::write(&f, b"right\n").unwrap();
    let out = tmp.path().join("out");
    let mut rx = receiver(&out, &["--code", CODE]);
    let to = rx.addr("tcp").to_string();
    let state = tmp.path().join("state");
    let wrong = |n: usize| {
        let (ok, _, err) =
            sockit(&state, &["send", f.to_str().unwrap(), "--to", &to, "--code", "abandon ability able"]);
        assert!(!ok && err.contains("wrong code"), "try {n}: {err}");
    };
    wrong(1);
    // The listener waits 1 s before it takes the next connection.
    let started = std::time::Instant::now();
    wrong(2);
    assert!(started.elapsed() >= std::time::Duration::from_millis(800), "no pause: {:?}", started.elapsed());
    wrong(3);
    wrong(4);
    // Four wrong tries later a chosen code still works.
    let (ok, _, err) = sockit(&state, &["send", f.to_str().unwrap(), "--to", &to, "--code", CODE]);
    assert!(ok, "{err}");
    assert!(rx.wait(T).success(), "{}", rx.stderr());
    assert_eq!(fs::read(out.join("a.txt")).unwrap(), b"right\n");
}

#[test]
fn a_listening_sender_prints_its_code_and_the_receive_command() {
    let tmp = tempfile::tempdir().unwrap();
    let data = random_bytes(100_000, 17);
    let f = tmp.path().join("b.bin");
    fs::write(&f, &data).unwrap();
    let mut tx = Sockit::start_with(
        Command::new(bin())
            .args(["send", f.to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .env("SOCKIT_STATE_DIR", tmp.path().join("state")),
        1,
    );
    assert!(tx.wait_stderr("on the other machine run: sockit receive --from 127.0.0.1:", T), "{}", tx.stderr());
    let said = tx.stderr();
    let line = said.lines().find(|l| l.starts_with("on the other machine run: ")).unwrap();
    let cmd: Vec<&str> = line.trim_start_matches("on the other machine run: ").split_whitespace().collect();
    assert_eq!(&cmd[..3], &["sockit", "receive", "--from"], "{line}");
    assert_eq!(cmd[3], tx.addr("tcp").to_string(), "{line}");
    assert_eq!(cmd[4], "--code", "{line}");
    let out = tmp.path().join("out");
    let (ok, _, err) = sockit(&tmp.path().join("rstate"), &[&cmd[1..], &["--out", out.to_str().unwrap()]].concat());
    assert!(ok, "{err}");
    assert!(tx.wait(T).success(), "{}", tx.stderr());
    assert!(fs::read(out.join("b.bin")).unwrap() == data);
}

#[test]
fn a_version_2_peer_is_told_the_version_not_left_hanging() {
    let tmp = tempfile::tempdir().unwrap();
    let rx = receiver(&tmp.path().join("out"), &["--code", CODE]);
    let mut s = TcpStream::connect(rx.addr("tcp")).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    // A version 2 hello: magic, version, role 1 (sender), flags 1 (code), nonce.
    let mut hello = b"SOCKITFT".to_vec();
    hello.extend_from_slice(&[0, 2, 1, 1]);
    hello.extend_from_slice(&[3; 32]);
    let mut frame = vec![1u8];
    frame.extend_from_slice(&(hello.len() as u32).to_be_bytes());
    frame.extend_from_slice(&hello);
    s.write_all(&frame).unwrap();
    // Ours comes back with version 3, so the old peer can say so too.
    let theirs = read_frame(&mut s).expect("a hello back");
    assert_eq!((theirs[0], &theirs[5..13], &theirs[13..15]), (1, &b"SOCKITFT"[..], &[0u8, 3][..]));
    // The receiver names the version and keeps listening.
    assert!(rx.wait_stderr("the other side speaks protocol version 2", T), "{}", rx.stderr());
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    rx.kill();
}

#[test]
fn a_connecting_side_on_a_terminal_asks_for_the_code() {
    sockit_testkit::need("python3");
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("asked.txt");
    fs::write(&f, b"typed it\n").unwrap();
    let out = tmp.path().join("out");
    let mut rx = receiver(&out, &["--code", CODE]);
    // python's pty gives the sender a terminal; we type the code at the prompt.
    let script = r#"
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
seen = b""
deadline = time.time() + 30
while b"code (printed by the other side): " not in seen and time.time() < deadline:
    seen += os.read(fd, 1024)
os.write(fd, b"PURPLE monkey dishwasher\n")
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let to = rx.addr("tcp").to_string();
    let (status, stdout, err) = run_with_input(
        Command::new("python3")
            .args(["-c", script, &bin(), "send", f.to_str().unwrap(), "--to", &to])
            .env("SOCKIT_STATE_DIR", tmp.path().join("state"))
            .env_remove("SOCKIT_CODE"),
        b"",
        T,
    );
    let said = String::from_utf8_lossy(&stdout);
    assert!(status.success(), "{said} {err}");
    assert!(said.contains("code (printed by the other side)"), "{said}");
    assert!(rx.wait(T).success(), "{}", rx.stderr());
    assert_eq!(fs::read(out.join("asked.txt")).unwrap(), b"typed it\n");
}
