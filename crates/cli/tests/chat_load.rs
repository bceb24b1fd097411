//! Chat under load: a member that stops reading is dropped at its
//! send-queue bound while a 200-member room keeps receiving everything, and
//! the `sockit bench chat` load generator counts every delivery.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sockit_testkit::{bin, need, Sockit};

const MEMBERS: usize = 200;
const MESSAGES: usize = 2400;
/// Messages per burst; one burst every [`GAP`].
const BURST: usize = 20;
const GAP: Duration = Duration::from_millis(30);
const PAD: usize = 200;

#[test]
fn slow_consumer_is_dropped_and_the_room_loses_nothing() {
    need("python3");
    let s = Sockit::start(
        &bin(),
        &["chat", "serve", "--no-irc", "--port", "0", "--no-web", "--no-history", "--flood-rate", "0"],
        2,
    );
    let addr = s.addr("tcp");
    // The slow member: a python3 client with a tiny receive buffer that
    // reads nothing until told to, then reads what it got until EOF.
    let script = r#"
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((sys.argv[1], int(sys.argv[2])))
s.sendall(b"/nick slow\n")
print("READY", flush=True)
sys.stdin.readline()
s.settimeout(10)
got = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
except Exception as e:
    print("ERR", e)
lines = got.split(b"\n")
print("BYTES", len(got), "MSGS", sum(1 for l in lines if b"> m " in l), "QUEUE", b"! send queue exceeded" in got, flush=True)
"#;
    let mut slow = Command::new("python3")
        .args(["-c", script, &addr.ip().to_string(), &addr.port().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut slow_out = BufReader::new(slow.stdout.take().unwrap());
    let mut ready = String::new();
    slow_out.read_line(&mut ready).unwrap();
    assert_eq!(ready.trim(), "READY");

    // 198 readers and one sender: with the slow member, 200 in the room.
    let (done_tx, done) = mpsc::channel();
    let (notice_tx, notices) = mpsc::channel();
    for i in 0..MEMBERS - 2 {
        let done_tx = done_tx.clone();
        let notice_tx = notice_tx.clone();
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        c.write_all(format!("/nick r{i}\n").as_bytes()).unwrap();
        std::thread::spawn(move || {
            let mut r = BufReader::with_capacity(64 * 1024, c);
            let mut line = Vec::new();
            let mut next = 0usize;
            let mut in_order = true;
            while next < MESSAGES {
                line.clear();
                if r.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
                    break;
                }

                if line.starts_with(b"<sender> m ") {
                    let n: usize =
                        std::str::from_utf8(&line[11..]).unwrap().split(' ').next().unwrap().parse().unwrap();
                    in_order &= n == next;
                    next += 1;
                } else if line.windows(19).any(|w| w == b"send queue exceeded") {
                    let _ = notice_tx.send(String::from_utf8_lossy(&line).to_string());
                }
            }
            // Stay a little longer: the slow member's departure is announced.
            let deadline = Instant::now() + Duration::from_secs(2);
            r.get_ref().set_read_timeout(Some(Duration::from_millis(200))).unwrap();
            while Instant::now() < deadline {
                line.clear();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) => break,
                    Ok(_) if line.windows(19).any(|w| w == b"send queue exceeded") => {
                        let _ = notice_tx.send(String::from_utf8_lossy(&line).to_string());
                        break;
                    }
                    _ => {}
                }
            }
            let _ = done_tx.send((i, next, in_order));
        });
    }
    let mut sender = TcpStream::connect(addr).unwrap();
    sender.write_all(b"/nick sender\n").unwrap();
    let mut sr = sender.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut sink = [0u8; 65536];
        while sr.read(&mut sink).unwrap_or(0) > 0 {}
    });
    // Let every join settle before sending.
    std::thread::sleep(Duration::from_millis(800));
    let pad = "p".repeat(PAD);
    let started = Instant::now();
    for chunk in 0..MESSAGES / BURST {
        let mut burst = String::new();
        for i in chunk * BURST..(chunk + 1) * BURST {
            burst.push_str(&format!("m {i} {pad}\n"));
        }
        sender.write_all(burst.as_bytes()).unwrap();
        std::thread::sleep(GAP);
    }
    let mut complete = 0;
    for _ in 0..MEMBERS - 2 {
        let (i, got, in_order) = done.recv_timeout(Duration::from_secs(60)).unwrap();
        assert_eq!(got, MESSAGES, "reader r{i} got {got} of {MESSAGES}; server said:\n{}", s.stderr());
        assert!(in_order, "reader r{i} saw messages out of order");
        complete += 1;
    }
    assert_eq!(complete, MEMBERS - 2);
    eprintln!("{} members received {MESSAGES} messages each in {:.2?}", MEMBERS - 2, started.elapsed());
    // The room was told why the slow member went.
    let n = notices
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_else(|_| panic!("no notice; server said:\n{}", s.stderr()));
    assert!(n.contains("slow left (send queue exceeded)"), "{n}");
    // The slow member was cut off long before it could have everything.
    slow.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    let mut report = String::new();
    slow_out.read_to_string(&mut report).unwrap();
    let _ = slow.wait();
    let msgs: usize = report.split_whitespace().skip_while(|w| *w != "MSGS").nth(1).unwrap().parse().unwrap();
    assert!(msgs < MESSAGES / 2, "slow member got {msgs} messages: {report}");
    assert!(!report.contains("ERR"), "slow member's connection was not closed cleanly: {report}");
}

/// The load generator against the real server: every message reaches every
/// other member, and the report carries the figures the bench script reads.
#[test]
fn bench_chat_counts_every_delivery() {
    let s = Sockit::start(
        &bin(),
        &["chat", "serve", "--no-irc", "--port", "0", "--no-web", "--no-history", "--flood-rate", "0"],
        2,
    );
    let out = Command::new(bin())
        .args(["bench", "chat", &s.addr("tcp").to_string()])
        .args(["--members", "30", "--senders", "3", "--rate", "20", "--secs", "1", "--settle", "0.5", "--drain", "1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let field = |name: &str| -> u64 {
        let at = text.find(&format!(" {name}=")).unwrap_or_else(|| panic!("no {name} in {text}"));
        let v = &text[at + name.len() + 2..];
        v[..v.find(' ').unwrap_or(v.len())].trim().parse().unwrap()
    };
    let sent = field("sent");
    assert!(sent >= 45, "3 senders x 20/s x 1 s sent only {sent}");
    assert_eq!(field("expected"), sent * 29);
    assert_eq!(field("delivered"), sent * 29, "{text}");
    assert_eq!(field("disconnected"), 0);
    assert!(field("p99_us") > 0);
}
