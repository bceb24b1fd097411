//! `sockit http` under hostile input, over raw sockets (no client-side path
//! normalisation): traversal, symlinks, dotfiles, open redirects, slowloris,
//! oversized heads, bodies, connection limits.
#![allow(clippy::unwrap_used)]

mod http_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use http_support::{fixture, raw, raw_get, status_of, SECRET};

#[test]
fn traversal_battery_never_leaves_the_folder() {
    let f = fixture();
    // --follow-symlinks off, --hidden off: the defaults.
    let s = f.start(&[]);
    let a = s.addr("http");
    let attacks = [
        "/../secret.txt",
        "/../../../../etc/passwd",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/.%2e/secret.txt",
        "/%2e./secret.txt",
        "/%252e%252e/secret.txt",
        "/%252e%252e%252fsecret.txt",
        "/..%5csecret.txt",
        "/..\\secret.txt",
        "/%5c..%5csecret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        "/%c0%ae%c0%ae%c0%afsecret.txt",
        "/%e0%80%ae%e0%80%ae/secret.txt",
        "/hello.txt%00/../../secret.txt",
        "/secret.txt%00.html",
        "/%00",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "//../secret.txt",
        "/./../secret.txt",
        "/leak.txt",
        "/up/secret.txt",
        "/up/",
        "/.env",
        "/%2eenv",
        "/docs/.hidden-note",
        "/etc/passwd",
        "/..;/secret.txt",
    ];
    assert!(attacks.len() >= 20);
    for target in attacks {
        let resp = raw_get(a, target);
        let status = status_of(&resp);
        assert!(status == 400 || status == 404, "{target}: status {status}\n{resp}");
        assert!(!resp.contains(SECRET), "{target} leaked the secret");
        assert!(!resp.contains("root:x:0:0"), "{target} leaked /etc/passwd");
        assert!(!resp.contains("hunter2"), "{target} leaked a dotfile");
    }
    // An absolute-form target is a path like any other.
    let resp = raw_get(a, "http://x/../secret.txt");
    assert!(!resp.contains(SECRET));
    // The server is still fine.
    assert_eq!(status_of(&raw_get(a, "/hello.txt")), 200);
}

#[test]
fn symlink_escape_refused_unless_follow_symlinks() {
    let f = fixture();
    let s = f.start(&[]);
    let resp = raw_get(s.addr("http"), "/leak.txt");
    assert_eq!(status_of(&resp), 404);
    assert!(!resp.contains(SECRET));
    let listing = raw_get(s.addr("http"), "/");
    assert!(!listing.contains("leak.txt"), "escaping symlinks are not listed");

    let s = f.start(&["--follow-symlinks"]);
    let resp = raw_get(s.addr("http"), "/leak.txt");
    assert_eq!(status_of(&resp), 200);
    assert!(resp.contains(SECRET));
}

#[test]
fn dotfiles_hidden_unless_hidden() {
    let f = fixture();
    let s = f.start(&[]);
    assert_eq!(status_of(&raw_get(s.addr("http"), "/.env")), 404);
    assert!(!raw_get(s.addr("http"), "/").contains(".env"));
    let s = f.start(&["--hidden"]);
    let resp = raw_get(s.addr("http"), "/.env");
    assert_eq!(status_of(&resp), 200);
    assert!(resp.contains("hunter2"));
    assert!(raw_get(s.addr("http"), "/").contains(".env"));
}

#[test]
fn trailing_slash_redirect_is_never_an_open_redirect() {
    let f = fixture();
    let s = f.start(&[]);
    for target in ["//evil.example", "///evil.example", "/%2Fevil.example", "/%2F%2Fevil.example", "/./evil.example"] {
        let resp = raw_get(s.addr("http"), target);
        assert_eq!(status_of(&resp), 301, "{target}: {resp}");
        let location = resp.lines().find_map(|l| l.strip_prefix("location: ")).unwrap();
        assert_eq!(location, "/evil.example/", "{target}");
    }
    // A backslash is an ordinary byte of a Unix file name: no such file is
    // 404, and a folder of that name redirects to its percent-encoded form,
    // never to `/\…` (which browsers read as `//…`, another host).
    for target in ["/\\evil.example", "/%5Cevil.example"] {
        assert_eq!(status_of(&raw_get(s.addr("http"), target)), 404, "{target}");
    }
    std::fs::create_dir(f.path("\\evil.example")).unwrap();
    for target in ["/\\evil.example", "/%5Cevil.example"] {
        let resp = raw_get(s.addr("http"), target);
        assert_eq!(status_of(&resp), 301, "{target}: {resp}");
        let location = resp.lines().find_map(|l| l.strip_prefix("location: ")).unwrap();
        assert_eq!(location, "/%5Cevil.example/", "{target}");
    }
}

#[test]
fn slowloris_is_cut_while_others_are_served() {
    let f = fixture();
    let s = f.start(&["--header-timeout", "1"]);
    let a = s.addr("http");
    let mut slow = TcpStream::connect(a).unwrap();
    slow.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n").unwrap();
    let started = Instant::now();
    let mut cut_after = None;
    for i in 0..40 {
        // Another client is served promptly meanwhile.
        if i % 4 == 0 {
            let t = Instant::now();
            assert_eq!(status_of(&raw_get(a, "/hello.txt")), 200);
            assert!(t.elapsed() < Duration::from_secs(3), "served in {:?}", t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(150));
        if slow.write_all(format!("X-Drip-{i}: y\r\n").as_bytes()).is_err() {
            cut_after = Some(started.elapsed());
            break;
        }
        // Has the server closed (EOF) or answered (408/400) yet?
        slow.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        let mut b = [0u8; 256];
        match slow.read(&mut b) {
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            _ => {
                cut_after = Some(started.elapsed());
                break;
            }
        }
    }
    let cut = cut_after.expect("the dribbling client was never cut");
    assert!(cut >= Duration::from_millis(900) && cut < Duration::from_secs(4), "cut after {cut:?}");
    assert_eq!(status_of(&raw_get(a, "/hello.txt")), 200);
}

#[test]
fn oversized_heads_get_431() {
    let f = fixture();
    let s = f.start(&["--max-header-bytes", "8192", "--max-headers", "32"]);
    let a = s.addr("http");
    let big = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(20_000));
    assert_eq!(status_of(&raw(a, big.as_bytes())), 431);
    let many: String = (0..50).map(|i| format!("X-H{i}: v\r\n")).collect();
    let req = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    assert_eq!(status_of(&raw(a, req.as_bytes())), 431);
    assert_eq!(status_of(&raw_get(a, "/hello.txt")), 200);
}

#[test]
fn bodies_and_other_methods_are_refused() {
    let f = fixture();
    let s = f.start(&[]);
    let a = s.addr("http");
    let resp = raw(a, b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
    assert_eq!(status_of(&resp), 405);
    assert!(resp.to_lowercase().contains("allow: get, head, options"));
    let resp = raw(a, b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    assert_eq!(status_of(&resp), 413);
    let resp =
        raw(a, b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    assert_eq!(status_of(&resp), 413);
    assert_eq!(status_of(&raw(a, b"GARBAGE\r\n\r\n")), 400);
}

#[test]
fn connection_limit_answers_503_and_recovers() {
    let f = fixture();
    let s = f.start(&["--max-connections", "1"]);
    let a = s.addr("http");
    let mut held = TcpStream::connect(a).unwrap();
    held.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut b = [0u8; 512];
    held.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(held.read(&mut b).unwrap() > 0);
    let resp = raw_get(a, "/hello.txt");
    assert_eq!(status_of(&resp), 503, "{resp}");
    assert!(resp.contains("server full"));
    drop(held);
    let mut ok = false;
    for _ in 0..50 {
        if status_of(&raw_get(a, "/hello.txt")) == 200 {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ok, "the slot came back");
    assert!(s.stop(Duration::from_secs(10)).success());
}

#[test]
fn idle_keep_alive_connections_are_closed() {
    let f = fixture();
    let s = f.start(&["--idle-timeout", "0.3", "--header-timeout", "5"]);
    let mut c = TcpStream::connect(s.addr("http")).unwrap();
    c.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut b = [0u8; 1024];
    assert!(c.read(&mut b).unwrap() > 0);
    let t = Instant::now();
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    assert!(t.elapsed() < Duration::from_secs(2), "closed after {:?}", t.elapsed());
}

#[test]
fn silent_connections_are_closed_at_the_header_timeout() {
    let f = fixture();
    let s = f.start(&["--header-timeout", "0.5", "--idle-timeout", "30"]);
    let mut c = TcpStream::connect(s.addr("http")).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let t = Instant::now();
    let mut b = [0u8; 64];
    assert_eq!(c.read(&mut b).unwrap_or(0), 0, "closed without a word");
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(400) && took < Duration::from_secs(3), "closed after {took:?}");
}
