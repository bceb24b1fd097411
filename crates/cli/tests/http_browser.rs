//! Headless Chromium (Debian `chromium`) loads a listing and a templated
//! page from `sockit http`; the test reads the rendered DOM.
#![allow(clippy::unwrap_used)]

mod http_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use http_support::fixture;
use sockit_testkit::need;

/// `chromium --headless --dump-dom URL`, killed after 60 s.
fn dump_dom(url: &str) -> String {
    need("chromium");
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish loading {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

#[test]
fn chromium_renders_listing_and_template() {
    let f = fixture();
    let s = f.start(&["--templates", "--route", "/go=welcome.html"]);
    let a = s.addr("http");

    let dom = dump_dom(&format!("http://{a}/docs/"));
    assert!(dom.contains("<title>Index of /docs/</title>"), "{dom}");
    // The browser parsed the escaped name back into text and kept the link.
    assert!(dom.contains("a&lt;b&gt;&amp;c.txt</a>"), "{dom}");
    assert!(dom.contains("Alpha/</a>"));
    assert!(!dom.contains(".hidden-note"));

    let dom = dump_dom(&format!("http://{a}/go"));
    assert!(dom.contains("<p id=\"who\">Hello 127.0.0.1 port "), "{dom}");
    assert!(dom.contains("{{unknown}}"));
    // The server saw both page loads.
    assert!(s.wait_stderr("\"GET /go HTTP/1.1\" 200", Duration::from_secs(5)), "{}", s.stderr());
}
