//! Shared helpers of the http integration tests: a fixture site, curl and
//! raw-socket clients.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sockit_testkit::{bin, need, random_bytes, Sockit};

/// A served folder inside a temp dir, with a secret file just outside it.
pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub site: PathBuf,
    pub one_k: Vec<u8>,
    pub big_text: String,
}

pub const SECRET: &str = "TOP-SECRET-d41d8cd98f00";

pub fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    let w = |p: &str, b: &[u8]| {
        let path = site.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b).unwrap();
    };
    std::fs::write(tmp.path().join("secret.txt"), SECRET).unwrap();
    let one_k = random_bytes(1024, 7);
    let big_text: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    w("1k.bin", &one_k);
    w("hello.txt", b"hello, world\n");
    w("big.txt", big_text.as_bytes());
    w("welcome.html", b"<html><body><p id=\"who\">Hello {{client_ip}} port {{client_port}}</p><p>{{path}} {{server}} {{unknown}}</p></body></html>\n");
    w("sub/index.html", b"<html><body>sub index</body></html>\n");
    w("docs/a<b>&c.txt", b"odd name\n");
    w("docs/zeta.txt", b"z\n");
    w("docs/Alpha/readme.txt", b"a\n");
    w("docs/.hidden-note", b"hidden\n");
    w(".env", b"PASSWORD=hunter2\n");
    w("evil.example/x.txt", b"x\n");
    w("404.html", b"<html><body>custom missing page</body></html>\n");
    w("style.css", "body { color: red; }\n".repeat(200).as_bytes());
    std::os::unix::fs::symlink(tmp.path().join("secret.txt"), site.join("leak.txt")).unwrap();
    std::os::unix::fs::symlink(tmp.path(), site.join("up")).unwrap();
    Fixture { tmp, site, one_k, big_text }
}

impl Fixture {
    pub fn start(&self, extra: &[&str]) -> Sockit {
        let site = self.site.to_str().unwrap();
        let mut args = vec!["http", site, "--port", "0"];
        args.extend_from_slice(extra);
        Sockit::start(&bin(), &args, 1)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.site.join(rel)
    }
}

/// A response as curl saw it.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    /// Header block, names lower-cased.
    pub head: String,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().to_string())
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Runs curl against `http://addr{path}` with extra arguments.
pub fn curl(addr: SocketAddr, path: &str, args: &[&str]) -> Resp {
    curl_url(&format!("http://{addr}{path}"), args)
}

/// Runs curl against `url` with extra arguments (`https://…` too).
pub fn curl_url(url: &str, args: &[&str]) -> Resp {
    need("curl");
    let dir = tempfile::tempdir().unwrap();
    let head = dir.path().join("head");
    let body = dir.path().join("body");
    let out = Command::new("curl")
        .args(["-s", "--max-time", "10", "-D"])
        .arg(&head)
        .arg("-o")
        .arg(&body)
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    assert!(out.status.success(), "curl {args:?} {url} failed: {}", String::from_utf8_lossy(&out.stderr));
    let head = std::fs::read_to_string(&head).unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    Resp { status, head, body: std::fs::read(&body).unwrap_or_default() }
}

/// Sends raw bytes, reads until the server closes (or 5 s); returns the text.
pub fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET target` over a raw socket, `Connection: close`.
pub fn raw_get(addr: SocketAddr, target: &str) -> String {
    raw(addr, format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
}

/// The status code of a raw response.
pub fn status_of(resp: &str) -> u16 {
    resp.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

pub fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}
