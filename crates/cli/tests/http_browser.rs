//! Headless Chromium (Debian `chromium`) loads a listing and a templated
//! page from `sockit http`; the test reads the rendered DOM.
#![allow(clippy::unwrap_used)]

mod http_support;

use std::time::Duration;

use http_support::fixture;
use sockit_testkit::chromium_dump_dom;

/// The rendered DOM of `url` (no scripts to wait for), within 60 s.
fn dump_dom(url: &str) -> String {
    chromium_dump_dom(url, None, Duration::from_secs(60))
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
