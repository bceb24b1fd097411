//! Resume and receiver safety: killing either side at ~50% and running the
//! same commands again sends only the remainder; a corrupted `.part` prefix
//! is re-sent; existing files are kept; a hostile sender (python3 speaking
//! the protocol) cannot write outside `--out`. (The sender's resume key
//! lives in its default state folder here, as for a user; the tests in
//! harden_transfer.rs give each sender its own.)
#![allow(clippy::unwrap_used)]

mod transfer_support;

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sockit_testkit::{bin, random_bytes, Sockit};
use transfer_support::{json_line, run, T};

const SIZE: usize = 4 << 20;

fn spawn(args: &[&str]) -> Child {
    Command::new(bin()).args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

/// Waits until `part` holds at least `min` bytes.
fn wait_for_part(part: &Path, min: u64) {
    let deadline = Instant::now() + T;
    while fs::metadata(part).map(|m| m.len()).unwrap_or(0) < min {
        assert!(Instant::now() < deadline, "{} never reached {min} bytes", part.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// First run throttled and killed at ~50%, second run unthrottled: it must
/// send exactly the bytes the `.part` did not already hold.
/// Which side the first run loses, and how.
#[derive(Clone, Copy, PartialEq)]
enum Stop {
    /// SIGKILL the connecting sender.
    KillSender,
    /// SIGKILL the connecting receiver.
    KillReceiver,
    /// SIGTERM the listening receiver (graceful: it must exit promptly and
    /// keep its `.part`).
    TermReceiver,
}

fn resume_after_kill(stop: Stop) {
    let kill_receiver = stop == Stop::KillReceiver;
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("data.bin");
    let data = random_bytes(SIZE, 42);
    fs::write(&f, &data).unwrap();
    let out = tmp.path().join("out");
    let (fs_, out_s) = (f.to_str().unwrap(), out.to_str().unwrap());
    let part = out.join("data.bin.part");
    let rate = "1M";

    if kill_receiver {
        // The sender listens; the receiver connects and is killed.
        let mut tx =
            Sockit::start(&bin(), &["send", fs_, "--listen", "127.0.0.1:0", "--no-code", "--rate-limit", rate], 1);
        let from = tx.addr("tcp").to_string();
        let mut rx = spawn(&["receive", "--from", &from, "--no-code", "--out", out_s]);
        wait_for_part(&part, SIZE as u64 * 2 / 5);
        rx.kill().unwrap();
        let _ = rx.wait();
        assert!(!tx.wait(T).success(), "the sender must report the lost receiver");
    } else {
        let mut rx = Sockit::start(&bin(), &["receive", "--out", out_s, "--listen", "127.0.0.1:0", "--no-code"], 1);
        let to = rx.addr("tcp").to_string();
        let mut tx = spawn(&["send", fs_, "--to", &to, "--no-code", "--rate-limit", rate]);
        wait_for_part(&part, SIZE as u64 * 2 / 5);
        if stop == Stop::TermReceiver {
            rx.signal(libc::SIGTERM);
            let started = Instant::now();
            assert!(!rx.wait(T).success(), "an interrupted receiver must not claim success");
            assert!(started.elapsed() < Duration::from_secs(5), "SIGTERM took {:?}", started.elapsed());
            let _ = tx.wait();
        } else {
            tx.kill().unwrap();
            let _ = tx.wait();
            assert!(!rx.wait(T).success(), "the receiver must report the lost sender");
        }
        assert!(rx.stderr().contains("resume"), "{}", rx.stderr());
    }
    let have = fs::metadata(&part).unwrap().len();
    assert!(have > 0 && have < SIZE as u64, "part holds {have}");
    assert!(!out.join("data.bin").exists());

    // Same commands again, without the throttle.
    let json = if kill_receiver {
        let mut tx = Sockit::start(&bin(), &["send", fs_, "--listen", "127.0.0.1:0", "--no-code", "--json"], 1);
        let from = tx.addr("tcp").to_string();
        let (ok, _, err) = run(&["receive", "--from", &from, "--no-code", "--out", out_s]);
        assert!(ok, "{err}");
        assert!(tx.wait(T).success());
        let mut s = String::new();
        std::io::Read::read_to_string(&mut tx.stdout(), &mut s).unwrap();
        json_line(s.as_bytes())
    } else {
        let mut rx = Sockit::start(&bin(), &["receive", "--out", out_s, "--listen", "127.0.0.1:0", "--no-code"], 1);
        let to = rx.addr("tcp").to_string();
        let (ok, stdout, err) = run(&["send", fs_, "--to", &to, "--no-code", "--json"]);
        assert!(ok, "{err}");
        assert!(rx.wait(T).success());
        json_line(&stdout)
    };
    assert_eq!(json["bytes_sent"], SIZE as u64 - have, "{json}");
    assert_eq!(json["bytes_resumed"], have, "{json}");
    assert!(fs::read(out.join("data.bin")).unwrap() == data);
    assert!(!part.exists());
}

#[test]
fn resume_after_killing_the_sender() {
    resume_after_kill(Stop::KillSender);
}

#[test]
fn resume_after_killing_the_receiver() {
    resume_after_kill(Stop::KillReceiver);
}

#[test]
fn resume_after_sigterm_of_the_receiver() {
    resume_after_kill(Stop::TermReceiver);
}

/// Runs `send src --to` with only `names` in `src`, throttled, and kills the
/// sender once `out/src/NAME.part` holds `min` bytes: the `.part` a crash
/// leaves, written (and bound) by sockit for this sender.
fn interrupted_send(src: &Path, out: &Path, name: &str, min: u64) -> u64 {
    let rx =
        Sockit::start(&bin(), &["receive", "--out", out.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-code"], 1);
    let to = rx.addr("tcp").to_string();
    let mut tx = spawn(&["send", src.to_str().unwrap(), "--to", &to, "--no-code", "--rate-limit", "256K"]);
    let part = out.join("src").join(format!("{name}.part"));
    wait_for_part(&part, min);
    tx.kill().unwrap();
    let _ = tx.wait();
    drop(rx);
    fs::metadata(&part).unwrap().len()
}

#[test]
fn corrupted_part_is_resent_good_part_resumed_existing_files_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let (stage, src) = (tmp.path().join("stage"), tmp.path().join("src"));
    fs::create_dir(&stage).unwrap();
    fs::create_dir(&src).unwrap();
    let (bad, good, same, other) = (random_bytes(1 << 20, 1), random_bytes(1 << 20, 2), b"same\n", b"new\n");
    fs::write(stage.join("bad.bin"), &bad).unwrap();
    fs::write(stage.join("good.bin"), &good).unwrap();
    fs::write(stage.join("same.txt"), same).unwrap();
    fs::write(stage.join("other.txt"), other).unwrap();
    let out = tmp.path().join("out");
    let out_s = out.to_str().unwrap();
    let show = |name: &str| fs::rename(stage.join(name), src.join(name)).unwrap();

    // Earlier runs of this sender: same.txt arrived whole; bad.bin and
    // good.bin were interrupted. A person's own other.txt is in the way.
    show("same.txt");
    let mut rx = Sockit::start(&bin(), &["receive", "--out", out_s, "--listen", "127.0.0.1:0", "--no-code"], 1);
    let (ok, _, err) = run(&["send", src.to_str().unwrap(), "--to", &rx.addr("tcp").to_string(), "--no-code"]);
    assert!(ok, "{err}");
    assert!(rx.wait(T).success());
    show("good.bin");
    let kept = interrupted_send(&src, &out, "good.bin", 300_000);
    assert!(kept < 1 << 20);
    // bad.bin comes first in the manifest: good.bin's .part stays as it is.
    show("bad.bin");
    interrupted_send(&src, &out, "bad.bin", 500_000);
    assert_eq!(fs::metadata(out.join("src/good.bin.part")).unwrap().len(), kept);
    // The prefix goes bad on disk (the binding stays: same inode).
    let mut f = fs::OpenOptions::new().write(true).open(out.join("src/bad.bin.part")).unwrap();
    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(1234)).unwrap();
    std::io::Write::write_all(&mut f, &[bad[1234] ^ 0xff]).unwrap();
    drop(f);
    fs::write(out.join("src/other.txt"), b"old\n").unwrap();
    show("other.txt");

    let mut rx = Sockit::start(&bin(), &["receive", "--out", out_s, "--listen", "127.0.0.1:0", "--no-code"], 1);
    let to = rx.addr("tcp").to_string();
    let (ok, stdout, err) = run(&["send", src.to_str().unwrap(), "--to", &to, "--no-code", "--json"]);
    assert!(ok, "{err}");
    assert!(rx.wait(T).success(), "{}", rx.stderr());
    let j = json_line(&stdout);
    // bad.bin whole again, good.bin from where it stopped, same.txt not at all, other.txt whole.
    assert_eq!(j["bytes_sent"], (1u64 << 20) + (1 << 20) - kept + other.len() as u64, "{j}");
    assert_eq!(j["files_present"], 1, "{j}");
    assert!(fs::read(out.join("src/bad.bin")).unwrap() == bad);
    assert!(fs::read(out.join("src/good.bin")).unwrap() == good);
    assert_eq!(fs::read(out.join("src/same.txt")).unwrap(), same);
    // Never overwritten: the old file stays, the new one is kept beside it.
    assert_eq!(fs::read(out.join("src/other.txt")).unwrap(), b"old\n");
    assert_eq!(fs::read(out.join("src/other (1).txt")).unwrap(), other);

    // The same command again: everything is there (other.txt as `other (1).txt`),
    // nothing is sent and no `other (2).txt` appears.
    let mut rx = Sockit::start(&bin(), &["receive", "--out", out_s, "--listen", "127.0.0.1:0", "--no-code"], 1);
    let (ok, stdout, err) =
        run(&["send", src.to_str().unwrap(), "--to", &rx.addr("tcp").to_string(), "--no-code", "--json"]);
    assert!(ok, "{err}");
    assert!(rx.wait(T).success());
    let j = json_line(&stdout);
    assert_eq!(j["bytes_sent"], 0, "{j}");
    assert_eq!(j["files_present"], 4, "{j}");
    assert!(!out.join("src/other (2).txt").exists());
}

#[test]
fn overwrite_replaces_and_caps_refuse() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("f.txt");
    fs::write(&f, b"fresh\n").unwrap();
    let out = tmp.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("f.txt"), b"stale\n").unwrap();
    let out_s = out.to_str().unwrap();
    let mut rx =
        Sockit::start(&bin(), &["receive", "--out", out_s, "--listen", "127.0.0.1:0", "--no-code", "--overwrite"], 1);
    let (ok, _, err) = run(&["send", f.to_str().unwrap(), "--to", &rx.addr("tcp").to_string(), "--no-code"]);
    assert!(ok, "{err}");
    assert!(rx.wait(T).success());
    assert_eq!(fs::read(out.join("f.txt")).unwrap(), b"fresh\n");

    let rx = Sockit::start(
        &bin(),
        &["receive", "--out", out_s, "--listen", "127.0.0.1:0", "--no-code", "--max-size", "3"],
        1,
    );
    let (ok, _, err) = run(&["send", f.to_str().unwrap(), "--to", &rx.addr("tcp").to_string(), "--no-code"]);
    assert!(!ok);
    assert!(err.contains("--max-size"), "{err}");
    // Nothing moved, so the receiver goes on listening.
    assert!(rx.wait_stderr("still listening", T), "{}", rx.stderr());

    let rx = Sockit::start(
        &bin(),
        &["receive", "--out", out_s, "--listen", "127.0.0.1:0", "--no-code", "--max-files", "0"],
        1,
    );
    let (ok, _, err) = run(&["send", f.to_str().unwrap(), "--to", &rx.addr("tcp").to_string(), "--no-code"]);
    assert!(!ok);
    assert!(err.contains("--max-files"), "{err}");
    assert!(rx.wait_stderr("still listening", T), "{}", rx.stderr());
}

/// A sender speaking the protocol by hand over the real handshake and
/// sealed channel (`--no-code`): a manifest of the test's choosing, then
/// (for `truncated`) a data frame cut short. Returns the answer frame as
/// `KIND BODY`.
fn hostile(port: u16, mode: &str, path: &str) -> String {
    use sockit_transfer::frame::{self, Kind};
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let keys = sockit_transfer::handshake::handshake(&mut s, sockit_transfer::handshake::Role::Sender, None).unwrap();
    let mut c = sockit_transfer::secure::SecureStream::new(&mut s, &keys);
    let size: u64 = if mode == "huge" { 1 << 62 } else { 100 };
    let entry = serde_json::json!({"path": path, "kind": "file", "size": size, "mode": 420, "mtime": 0});
    frame::write_frame(&mut c, Kind::Manifest, serde_json::json!({ "entries": [entry] }).to_string().as_bytes())
        .unwrap();
    frame::write_frame(&mut c, Kind::Claims, &[5u8; 32]).unwrap();
    let answer = |c: &mut sockit_transfer::secure::SecureStream<&mut std::net::TcpStream>| match frame::read_header(c) {
        Ok(Some(h)) => {
            let mut body = Vec::new();
            let _ = frame::read_payload(c, h.len, &mut body);
            (h.kind as u8, String::from_utf8_lossy(&body).into_owned())
        }
        _ => (0, String::new()),
    };
    let (kind, body) = answer(&mut c);
    if mode == "truncated" && kind == 4 {
        frame::write_frame(&mut c, Kind::FileStart, &frame::encode_start(0, 0)).unwrap();
        c.write_all(&frame::header_bytes(Kind::Data, 100)).unwrap();
        c.write_all(b"only ten b").unwrap();
        c.flush().unwrap();
        drop(c);
        s.shutdown(std::net::Shutdown::Write).unwrap();
        return "truncated".into();
    }
    drop(c);
    let _ = s.shutdown(std::net::Shutdown::Write);
    format!("{kind} {body}")
}

#[test]
fn hostile_sender_cannot_escape_out() {
    let tmp = tempfile::tempdir().unwrap();
    let escape = tmp.path().join("escaped");
    let abs = format!("{}/abs", escape.display());
    let cases: [(&str, &str, &str); 6] = [
        ("path", "../x", "unsafe path"),
        ("path", &abs, "unsafe path"),
        ("path", "a/../../x", "unsafe path"),
        ("path", "C:/x", "unsafe path"),
        ("huge", "big.bin", "not enough space"),
        ("truncated", "t.bin", "truncated"),
    ];
    for (i, (mode, path, expect)) in cases.iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let mut rx = Sockit::start(
            &bin(),
            &["receive", "--out", out.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-code"],
            1,
        );
        let said = hostile(rx.addr("tcp").port(), mode, path);
        if *mode == "truncated" {
            // Data moved: the session counts, and failed.
            assert!(!rx.wait(T).success(), "{mode} {path}: receiver must fail");
        }
        // A refused manifest does not count: the receiver keeps listening.
        assert!(rx.wait_stderr(expect, T), "{mode} {path}: {}", rx.stderr());
        if *mode != "truncated" {
            // Refusals are sent to the sender as an Error frame (kind 15).
            assert!(said.starts_with("15 ") && said.contains(expect), "{mode} {path}: {said}");
        }
        // Nothing outside --out: the temp dir holds only the out folders.
        assert!(!escape.exists());
        for e in fs::read_dir(tmp.path()).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            assert!(name.starts_with("out"), "{name} written outside --out");
        }
        assert!(!tmp.path().parent().unwrap().join("x").exists());
        if out.exists() {
            for e in fs::read_dir(&out).unwrap() {
                let name = e.unwrap().file_name().into_string().unwrap();
                assert!(name == "t.bin.part", "{mode}: unexpected {name} in --out");
            }
        }
    }
}
