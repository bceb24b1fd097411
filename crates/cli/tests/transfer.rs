//! `sockit send` / `sockit receive` end to end: a tree arrives identical with
//! modes and mtimes, either side may listen, shared codes, and `--raw` with
//! nc, a python3 tutorial client and `sockit receive --raw`.
#![allow(clippy::unwrap_used)]

mod transfer_support;

use std::fs::{self, File, FileTimes};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use sockit_testkit::{bin, need, random_bytes, run_with_input, Sockit};
use transfer_support::{json_line, run, T};

fn set_mtime(p: &Path, secs: u64, nanos: u32) {
    let f = File::open(p).unwrap();
    f.set_times(FileTimes::new().set_modified(UNIX_EPOCH + Duration::new(secs, nanos))).unwrap();
}

/// Builds the test tree: empty file, 1 byte, 10 MiB random, nested folders,
/// unicode names, an empty folder, varied modes and old mtimes.
fn make_tree(root: &Path) {
    fs::create_dir_all(root.join("a/b/c")).unwrap();
    fs::create_dir_all(root.join("ünïcødé ✓/日本")).unwrap();
    fs::create_dir_all(root.join("empty dir")).unwrap();
    fs::write(root.join("empty.txt"), b"").unwrap();
    fs::write(root.join("one.bin"), b"x").unwrap();
    fs::write(root.join("big.bin"), random_bytes(10 << 20, 7)).unwrap();
    fs::write(root.join("a/b/c/deep.txt"), b"deep\n").unwrap();
    fs::write(root.join("ünïcødé ✓/日本/ファイル.txt"), "héllo wörld\n").unwrap();
    fs::write(root.join("run.sh"), b"#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(root.join("one.bin"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(root.join("a/b"), fs::Permissions::from_mode(0o750)).unwrap();
    let mut paths = Vec::new();
    collect(root, &mut paths);
    // Deepest first, so setting a child does not disturb its parent's time.
    paths.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for (i, p) in paths.iter().enumerate() {
        set_mtime(p, 1_500_000_000 + i as u64 * 1000, 123_456_789);
    }
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    out.push(dir.to_path_buf());
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Asserts `b` mirrors `a`: same entries, bytes, modes, mtimes.
fn assert_same_tree(a: &Path, b: &Path) {
    let mut pa = Vec::new();
    collect(a, &mut pa);
    let mut pb = Vec::new();
    collect(b, &mut pb);
    let rel = |root: &Path, v: &[std::path::PathBuf]| {
        let mut r: Vec<_> = v.iter().map(|p| p.strip_prefix(root).unwrap().to_path_buf()).collect();
        r.sort();
        r
    };
    assert_eq!(rel(a, &pa), rel(b, &pb), "different entries");
    for p in &pa {
        let q = b.join(p.strip_prefix(a).unwrap());
        let (ma, mb) = (fs::metadata(p).unwrap(), fs::metadata(&q).unwrap());
        assert_eq!(ma.is_dir(), mb.is_dir(), "{}", q.display());
        if ma.is_file() {
            assert!(fs::read(p).unwrap() == fs::read(&q).unwrap(), "content differs: {}", q.display());
        }
        assert_eq!(ma.mode() & 0o777, mb.mode() & 0o777, "mode of {}", q.display());
        assert_eq!((ma.mtime(), ma.mtime_nsec()), (mb.mtime(), mb.mtime_nsec()), "mtime of {}", q.display());
    }
}

#[test]
fn tree_arrives_identical_with_modes_and_mtimes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("tree");
    make_tree(&src);
    let out = tmp.path().join("out");
    let out_s = out.to_str().unwrap();
    let mut rx =
        Sockit::start(&bin(), &["receive", "--out", out_s, "--listen", "127.0.0.1:0", "--no-code", "--json"], 1);
    let to = rx.addr("tcp").to_string();
    let (ok, stdout, err) = run(&["send", src.to_str().unwrap(), "--to", &to, "--no-code", "--json"]);
    assert!(ok, "send failed: {err}");
    let j = json_line(&stdout);
    assert_eq!(j["files_sent"], 6, "{j}");
    assert_eq!(j["files_received"], 6, "{j}");
    assert_eq!(j["bytes_sent"], (10 << 20) + 1 + 5 + "héllo wörld\n".len() as u64 + 18, "{j}");
    assert!(rx.wait(T).success(), "receiver failed: {}", rx.stderr());
    let mut rx_out = String::new();
    std::io::Read::read_to_string(&mut rx.stdout(), &mut rx_out).unwrap();
    assert_eq!(json_line(rx_out.as_bytes())["files_failed"], 0);
    assert_same_tree(&src, &out.join("tree"));
    // No leftovers.
    let mut all = Vec::new();
    collect(&out, &mut all);
    assert!(all.iter().all(|p| p.extension().is_none_or(|e| e != "part")));
}

#[test]
fn sender_may_listen_and_codes_must_match() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("note.txt");
    fs::write(&f, b"over the wire\n").unwrap();
    let out = tmp.path().join("out");
    let tx = Sockit::start(
        &bin(),
        &["send", f.to_str().unwrap(), "--listen", "127.0.0.1:0", "--code", "Purple Monkey dishwasher"],
        1,
    );
    let from = tx.addr("tcp").to_string();
    // The code is normalised: case, spaces and dashes do not matter.
    let (ok, _, err) =
        run(&["receive", "--from", &from, "--out", out.to_str().unwrap(), "--code", "purple-monkey-dishwasher"]);
    assert!(ok, "{err}");
    assert_eq!(fs::read(out.join("note.txt")).unwrap(), b"over the wire\n");
    let mut tx = tx;
    assert!(tx.wait(T).success(), "{}", tx.stderr());
}

#[test]
fn wrong_code_is_refused_before_any_data() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("secret.bin");
    fs::write(&f, random_bytes(100_000, 3)).unwrap();
    let out = tmp.path().join("out");
    let rx = Sockit::start(
        &bin(),
        &["receive", "--out", out.to_str().unwrap(), "--listen", "127.0.0.1:0", "--code", "alpha bravo"],
        1,
    );
    let to = rx.addr("tcp").to_string();
    let (ok, _, err) = run(&["send", f.to_str().unwrap(), "--to", &to, "--code", "charlie delta", "--json"]);
    assert!(!ok);
    assert!(err.contains("wrong code"), "{err}");
    // A sender without a code is refused too.
    let (ok, _, err) = run(&["send", f.to_str().unwrap(), "--to", &to, "--no-code"]);
    assert!(!ok);
    assert!(err.contains("code"), "{err}");
    // Nothing was written, not even the folder's contents or a .part.
    assert!(!out.exists() || fs::read_dir(&out).unwrap().next().is_none());
    assert!(rx.wait_stderr("refused before any data", T), "{}", rx.stderr());
    // The receiver is still listening, and the right code works.
    let (ok, _, err) = run(&["send", f.to_str().unwrap(), "--to", &to, "--code", "Alpha Bravo"]);
    assert!(ok, "{err}");
    let mut rx = rx;
    assert!(rx.wait(T).success());
    assert_eq!(fs::read(out.join("secret.bin")).unwrap(), fs::read(&f).unwrap());
}

const TUTORIAL_CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.send(b"Hello server!")
while True:
    data = s.recv(1024)
    if not data:
        break
    sys.stdout.buffer.write(data)
s.close()
"#;

#[test]
fn raw_send_serves_nc_python_and_sockit_clients() {
    need("nc");
    need("python3");
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("data.bin");
    let data = random_bytes(3 << 20, 11);
    fs::write(&f, &data).unwrap();
    let tx = Sockit::start(&bin(), &["send", "--raw", f.to_str().unwrap(), "--listen", "127.0.0.1:0"], 1);
    let port = tx.addr("tcp").port().to_string();

    let (status, got, _) = run_with_input(Command::new("nc").args(["127.0.0.1", &port]), b"", T);
    assert!(status.success());
    assert!(got == data, "nc got {} bytes of {}", got.len(), data.len());

    let (status, got, err) = run_with_input(Command::new("python3").args(["-c", TUTORIAL_CLIENT, &port]), b"", T);
    assert!(status.success(), "{err}");
    assert!(got == data, "python got {} bytes", got.len());

    let (ok, got, err) = run(&["receive", "--raw", "--from", &format!("127.0.0.1:{port}")]);
    assert!(ok, "{err}");
    assert!(got == data, "sockit receive --raw got {} bytes", got.len());

    assert!(tx.stop(T).success());
}

#[test]
fn raw_receive_listens_for_nc() {
    need("nc");
    let tmp = tempfile::tempdir().unwrap();
    let data = random_bytes(200_000, 5);
    let mut rx = Sockit::start(&bin(), &["receive", "--raw", "--listen", "127.0.0.1:0"], 1);
    let port = rx.addr("tcp").port().to_string();
    let mut stdout = rx.stdout();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut v).unwrap();
        v
    });
    // -N: shut the socket down at end of input, so the receiver sees EOF.
    let f = tmp.path().join("in.bin");
    fs::write(&f, &data).unwrap();
    let status = Command::new("nc")
        .args(["-N", "127.0.0.1", &port])
        .stdin(File::open(&f).unwrap())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(rx.wait(T).success(), "{}", rx.stderr());
    assert!(reader.join().unwrap() == data);
}

#[test]
fn symlinks_are_skipped_unless_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("real.txt"), b"real\n").unwrap();
    std::os::unix::fs::symlink("real.txt", src.join("link.txt")).unwrap();
    for (follow, out) in [(false, "plain"), (true, "followed")] {
        let out = tmp.path().join(out);
        let mut rx = Sockit::start(
            &bin(),
            &["receive", "--out", out.to_str().unwrap(), "--listen", "127.0.0.1:0", "--no-code"],
            1,
        );
        let to = rx.addr("tcp").to_string();
        let mut args = vec!["send", src.to_str().unwrap(), "--to", &to, "--no-code"];
        if follow {
            args.push("--follow-symlinks");
        }
        let (ok, _, err) = run(&args);
        assert!(ok, "{err}");
        assert!(rx.wait(T).success());
        assert_eq!(fs::read(out.join("src/real.txt")).unwrap(), b"real\n");
        let link = out.join("src/link.txt");
        if follow {
            assert!(fs::symlink_metadata(&link).unwrap().is_file());
            assert_eq!(fs::read(&link).unwrap(), b"real\n");
        } else {
            assert!(err.contains("skipping symlink"), "{err}");
            assert!(!link.exists() && fs::symlink_metadata(&link).is_err());
        }
    }
}

#[test]
fn up_runs_a_receiver_into_sockit_inbox() {
    let tmp = tempfile::tempdir().unwrap();
    let up = Sockit::start_with(Command::new(bin()).args(["up", "--any-port"]).current_dir(tmp.path()), 1);
    assert!(up.wait_stderr("sockit send FILE --to", T), "{}", up.stderr());
    let stderr = up.stderr();
    let row = stderr.lines().find(|l| l.starts_with("transfer")).unwrap_or_else(|| panic!("{stderr}"));
    // The table's "try it" holds the inbox's generated code.
    let try_it: Vec<&str> = row.split("sockit send FILE ").nth(1).unwrap().split_whitespace().collect();
    assert!(try_it.len() == 4 && try_it[0] == "--to" && try_it[2] == "--code", "{row}");
    assert_eq!(try_it[3].split('-').count(), 3, "{row}");
    let f = tmp.path().join("hello.txt");
    fs::write(&f, b"to the inbox\n").unwrap();
    let (ok, _, err) = run(&["send", f.to_str().unwrap(), "--to", try_it[1]]);
    assert!(!ok && err.contains("--code"), "a sender without the code: {err}");
    let (ok, _, err) = run(&["send", f.to_str().unwrap(), "--to", try_it[1], "--code", try_it[3]]);
    assert!(ok, "{err}");
    assert_eq!(fs::read(tmp.path().join("sockit-inbox/hello.txt")).unwrap(), b"to the inbox\n");
    assert!(up.stop(T).success());
}
