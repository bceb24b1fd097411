//! Regression tests for `listen --keep` and `listen -u` (hardening item 14).

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::sync::mpsc;
use std::time::Duration;

use sockit_testkit::{bin, Sockit};

const T: Duration = Duration::from_secs(15);

/// Reads the child's stdout on a thread; `until` waits for `needle`.
struct Output {
    rx: mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

impl Output {
    fn new(mut out: impl Read + Send + 'static) -> Self {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = out.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Output { rx, seen: Vec::new() }
    }

    fn until(&mut self, needle: &str, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if String::from_utf8_lossy(&self.seen).contains(needle) {
                return true;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(chunk) => self.seen.extend(chunk),
                Err(_) => return false,
            }
        }
    }
}

/// stdin is a pipe that stays open and never carries a byte (as with
/// `sleep 1000 | sockit listen -k`). A peer that sends and closes must not
/// wedge the listener: the next peer is served, as `nc -lk` does.
#[test]
fn listen_keep_serves_the_next_peer_while_stdin_stays_open_and_empty() {
    let mut listen = Sockit::start(&bin(), &["listen", "--port", "0", "--keep"], 1);
    let _stdin_held_open = listen.stdin();
    let mut out = Output::new(listen.stdout());
    let addr = listen.addr("tcp");

    let mut first = TcpStream::connect(addr).unwrap();
    first.write_all(b"first peer\n").unwrap();
    drop(first);
    assert!(out.until("first peer\n", T), "the first peer was not heard");

    let mut second = TcpStream::connect(addr).unwrap();
    second.write_all(b"second peer\n").unwrap();
    second.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(out.until("second peer\n", T), "listen --keep wedged: the second peer was never served");

    let mut third = TcpStream::connect(addr).unwrap();
    third.write_all(b"third peer\n").unwrap();
    drop(third);
    assert!(out.until("third peer\n", T), "the third peer was never served");
}

/// `listen -u` answers its first peer only: a third party's datagram is
/// neither printed nor able to redirect the reply stream.
#[test]
fn listen_udp_stays_with_its_first_peer() {
    let mut listen = Sockit::start(&bin(), &["listen", "--udp", "--port", "0"], 1);
    let mut stdin = listen.stdin();
    let mut out = Output::new(listen.stdout());
    let addr = listen.addr("udp");

    let first = UdpSocket::bind("127.0.0.1:0").unwrap();
    let intruder = UdpSocket::bind("127.0.0.1:0").unwrap();
    first.set_read_timeout(Some(T)).unwrap();
    intruder.set_read_timeout(Some(Duration::from_millis(1500))).unwrap();

    first.send_to(b"hello from first\n", addr).unwrap();
    assert!(out.until("hello from first\n", T));
    intruder.send_to(b"hijack\n", addr).unwrap();
    // Let the intruder's datagram arrive before we answer.
    std::thread::sleep(Duration::from_millis(300));
    stdin.write_all(b"reply\n").unwrap();
    stdin.flush().unwrap();

    let mut buf = [0u8; 64];
    let (n, from) = first.recv_from(&mut buf).expect("the first peer must get the reply");
    assert_eq!((&buf[..n], from), (&b"reply\n"[..], addr));
    assert!(intruder.recv_from(&mut buf).is_err(), "the intruder took over the reply stream");
    // The first peer is still heard; the intruder never was.
    first.send_to(b"still here\n", addr).unwrap();
    assert!(out.until("still here\n", T));
    assert!(!String::from_utf8_lossy(&out.seen).contains("hijack"), "the intruder's datagram was printed");
}
