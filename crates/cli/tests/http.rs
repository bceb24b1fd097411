//! `sockit http` against curl: listing, index, 404, routes and templates,
//! ranges, conditionals, HEAD, compression, HTTP/2, headers, access log.
#![allow(clippy::unwrap_used)]

mod http_support;

use std::time::Duration;

use http_support::{curl, fixture, raw};

#[test]
fn listing_index_and_not_found() {
    let f = fixture();
    let s = f.start(&[]);
    let a = s.addr("http");

    let r = curl(a, "/docs/", &[]);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let html = r.text();
    assert!(html.contains("a&lt;b&gt;&amp;c.txt"), "{html}");
    assert!(!html.contains("a<b>"), "names are escaped");
    assert!(!html.contains(".hidden-note"), "dotfiles are not listed");
    let (alpha, odd, zeta) =
        (html.find("Alpha/").unwrap(), html.find("a&lt;b").unwrap(), html.find("zeta.txt").unwrap());
    assert!(alpha < odd && odd < zeta, "folders first, then by name");
    assert!(html.contains("href=\"./a%3Cb%3E%26c.txt\""));

    // The escaped link works.
    assert_eq!(curl(a, "/docs/a%3Cb%3E%26c.txt", &[]).text(), "odd name\n");

    let r = curl(a, "/sub/", &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "<html><body>sub index</body></html>\n"));
    let r = curl(a, "/sub", &[]);
    assert_eq!((r.status, r.header("location").as_deref()), (301, Some("/sub/")));

    let r = curl(a, "/nope.txt", &[]);
    assert_eq!(r.status, 404);
    assert!(r.text().contains("404 Not Found"));

    let listing_off = f.start(&["--no-listing"]);
    assert_eq!(curl(listing_off.addr("http"), "/docs/", &[]).status, 404);
    assert_eq!(curl(listing_off.addr("http"), "/sub/", &[]).status, 200);
}

#[test]
fn custom_not_found_page_has_status_404() {
    let f = fixture();
    let s = f.start(&["--not-found", "404.html"]);
    let r = curl(s.addr("http"), "/missing/page", &[]);
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), "<html><body>custom missing page</body></html>\n");
    assert!(r.header("etag").is_none());
}

#[test]
fn route_renders_template_per_visitor() {
    let f = fixture();
    let s = f.start(&["--templates", "--route", "/go=welcome.html"]);
    let a = s.addr("http");
    let r = curl(a, "/go", &[]);
    assert_eq!(r.status, 200);
    let body = r.text();
    assert!(body.contains("Hello 127.0.0.1 port "), "{body}");
    let port: u16 = body.split("port ").nth(1).unwrap().split('<').next().unwrap().parse().unwrap();
    assert!(port > 0);
    assert!(body.contains("/go sockit/"), "{body}");
    assert!(body.contains("{{unknown}}"), "unknown placeholders stay: {body}");
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    assert!(r.header("etag").is_none() && r.header("last-modified").is_none() && r.header("accept-ranges").is_none());
    // A Range on a templated page gets the whole page.
    assert_eq!(curl(a, "/welcome.html", &["-r", "0-3"]).status, 200);
    // {{path}} is HTML-escaped.
    let r = curl(a, "/welcome.html?x", &[]);
    assert!(r.text().contains("/welcome.html sockit/"));

    // Through a trusted proxy, the forwarded address is the client.
    let s = f.start(&["--templates", "--trust-proxy", "127.0.0.0/8"]);
    let r = curl(s.addr("http"), "/welcome.html", &["-H", "X-Forwarded-For: 6.6.6.6, 203.0.113.7"]);
    assert!(r.text().contains("Hello 203.0.113.7 port <"), "{}", r.text());
    // Without --trust-proxy the header is ignored.
    let r = curl(a, "/welcome.html", &["-H", "X-Forwarded-For: 203.0.113.7"]);
    assert!(r.text().contains("Hello 127.0.0.1"));
}

#[test]
fn ranges_conditionals_and_head() {
    let f = fixture();
    let s = f.start(&[]);
    let a = s.addr("http");
    for path in ["/1k.bin", "/big.txt"] {
        let whole = std::fs::read(f.path(&path[1..])).unwrap();
        let r = curl(a, path, &["-r", "10-19"]);
        assert_eq!(r.status, 206, "{path}");
        assert_eq!(r.body, whole[10..20]);
        assert_eq!(r.header("content-range").unwrap(), format!("bytes 10-19/{}", whole.len()));
        let r = curl(a, path, &["-r", "-5"]);
        assert_eq!((r.status, &r.body[..]), (206, &whole[whole.len() - 5..]));
        let r = curl(a, path, &["-r", "99999999-"]);
        assert_eq!(r.status, 416, "{path}");
        assert_eq!(r.header("content-range").unwrap(), format!("bytes */{}", whole.len()));

        let r = curl(a, path, &[]);
        assert_eq!((r.status, r.body.len()), (200, whole.len()));
        assert_eq!(r.body, whole);
        let etag = r.header("etag").unwrap();
        let lm = r.header("last-modified").unwrap();
        let r = curl(a, path, &["-H", &format!("If-None-Match: {etag}")]);
        assert_eq!((r.status, r.body.len()), (304, 0), "{path}");
        let r = curl(a, path, &["-H", &format!("If-Modified-Since: {lm}")]);
        assert_eq!(r.status, 304);
        let r = curl(a, path, &["-H", "If-None-Match: \"other\""]);
        assert_eq!(r.status, 200);
        // If-Range with a stale validator: the whole file.
        let r = curl(a, path, &["-r", "0-1", "-H", "If-Range: \"old\""]);
        assert_eq!(r.status, 200);

        let r = curl(a, path, &["-I"]);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-length").unwrap(), whole.len().to_string());
        // HEAD sends the head only: nothing follows it on the wire.
        let resp = raw(a, format!("HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes());
        let (head, rest) = resp.split_once("\r\n\r\n").unwrap();
        assert!(head.to_lowercase().contains(&format!("content-length: {}", whole.len())), "{head}");
        assert_eq!(rest, "");
    }
    assert_eq!(curl(a, "/1k.bin", &[]).body, f.one_k);
}

#[test]
fn a_changed_file_is_served_fresh() {
    let f = fixture();
    let s = f.start(&["--revalidate-ms", "50"]);
    let a = s.addr("http");
    assert_eq!(curl(a, "/hello.txt", &[]).text(), "hello, world\n");
    std::fs::write(f.path("hello.txt"), "changed and longer\n").unwrap();
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(curl(a, "/hello.txt", &[]).text(), "changed and longer\n");
    std::fs::remove_file(f.path("hello.txt")).unwrap();
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(curl(a, "/hello.txt", &[]).status, 404);
}

#[test]
fn gzip_and_brotli_negotiation() {
    let f = fixture();
    let css = std::fs::read(f.path("style.css")).unwrap();
    // Without --compress nothing is compressed…
    let plain = f.start(&[]);
    let r = curl(plain.addr("http"), "/style.css", &["-H", "Accept-Encoding: gzip, br"]);
    assert!(r.header("content-encoding").is_none());
    assert_eq!(r.body, css);
    // …unless a precompressed sibling exists: then it is sent as is.
    let gz_sibling = b"\x1f\x8b pretend-gzip".to_vec();
    std::fs::write(f.path("hello.txt.gz"), &gz_sibling).unwrap();
    let r = curl(plain.addr("http"), "/hello.txt", &["-H", "Accept-Encoding: gzip"]);
    assert_eq!(r.header("content-encoding").as_deref(), Some("gzip"));
    assert_eq!(r.header("vary").as_deref(), Some("accept-encoding"));
    assert_eq!(r.body, gz_sibling);
    assert!(curl(plain.addr("http"), "/hello.txt", &[]).header("content-encoding").is_none());

    let s = f.start(&["--compress"]);
    let a = s.addr("http");
    for (accept, coding) in [("gzip", "gzip"), ("br", "br"), ("gzip;q=0.5, br", "br"), ("br;q=0.1, gzip", "gzip")] {
        let r = curl(a, "/style.css", &["-H", &format!("Accept-Encoding: {accept}")]);
        assert_eq!(r.header("content-encoding").as_deref(), Some(coding), "{accept}");
        assert!(r.body.len() < css.len() / 4, "{accept}: {} bytes", r.body.len());
        // curl decodes both and gets the original.
        let r = curl(a, "/style.css", &["--compressed", "-H", &format!("Accept-Encoding: {accept}")]);
        assert_eq!(r.body, css, "{accept}");
    }
    // Large text files are compressed as a stream.
    let r = curl(a, "/big.txt", &["--compressed", "-H", "Accept-Encoding: br"]);
    assert_eq!(r.header("content-encoding").as_deref(), Some("br"));
    assert_eq!(r.text(), f.big_text);
    let r = curl(a, "/big.txt", &["--compressed", "-H", "Accept-Encoding: gzip"]);
    assert_eq!(r.text(), f.big_text);
    // Binary types and small files are left alone.
    assert!(curl(a, "/1k.bin", &["-H", "Accept-Encoding: gzip"]).header("content-encoding").is_none());
}

#[test]
fn http2_prior_knowledge() {
    let f = fixture();
    let s = f.start(&["--templates"]);
    let a = s.addr("http");
    let r = curl(a, "/1k.bin", &["--http2-prior-knowledge"]);
    assert!(r.head.starts_with("HTTP/2 200"), "{}", r.head);
    assert_eq!(r.body, f.one_k);
    let r = curl(a, "/big.txt", &["--http2-prior-knowledge", "-r", "0-99"]);
    assert!(r.head.starts_with("HTTP/2 206"));
    assert_eq!(r.body, f.big_text.as_bytes()[..100]);
    let r = curl(a, "/welcome.html", &["--http2-prior-knowledge"]);
    assert!(r.text().contains("Hello 127.0.0.1"));
    // Plain HTTP/1.1 on the same port.
    let r = curl(a, "/hello.txt", &["--http1.1"]);
    assert!(r.head.starts_with("HTTP/1.1 200"));
}

#[test]
fn extra_headers_cors_cache_control_and_access_log() {
    let f = fixture();
    let s = f.start(&["--header", "X-Test: yes", "--cors", "--cache-control", "max-age=60"]);
    let a = s.addr("http");
    let r = curl(a, "/hello.txt?q=1", &[]);
    assert_eq!(r.header("x-test").as_deref(), Some("yes"));
    assert_eq!(r.header("access-control-allow-origin").as_deref(), Some("*"));
    assert_eq!(r.header("cache-control").as_deref(), Some("max-age=60"));
    let r =
        curl(a, "/hello.txt", &["-X", "OPTIONS", "-H", "Origin: http://x", "-H", "Access-Control-Request-Method: GET"]);
    assert_eq!(r.status, 204);
    assert!(r.header("access-control-allow-methods").unwrap().contains("GET"));
    assert!(s.wait_stderr("\"GET /hello.txt?q=1 HTTP/1.1\" 200 13", Duration::from_secs(5)), "{}", s.stderr());
    let line = s.stderr().lines().find(|l| l.contains("GET /hello.txt?q=1")).unwrap().to_string();
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");

    let quiet = f.start(&["-q"]);
    curl(quiet.addr("http"), "/hello.txt", &[]);
    std::thread::sleep(Duration::from_millis(200));
    assert!(!quiet.stderr().contains("GET /hello.txt"), "{}", quiet.stderr());
    assert!(quiet.stop(Duration::from_secs(10)).success());
}

#[test]
fn up_serves_the_current_folder() {
    let f = fixture();
    let mut cmd = std::process::Command::new(sockit_testkit::bin());
    cmd.args(["up", "--any-port"]).current_dir(&f.site);
    let s = sockit_testkit::Sockit::start_with(&mut cmd, 1);
    // The chat web listener also announces http://: read the table's http row.
    assert!(s.wait_stderr("sockit is up", Duration::from_secs(20)), "{}", s.stderr());
    let stderr = s.stderr();
    let row =
        stderr.lines().find(|l| l.split_whitespace().next() == Some("http")).unwrap_or_else(|| panic!("{stderr}"));
    let url = row.split_whitespace().nth(1).unwrap().strip_prefix("http://").unwrap();
    let r = curl(url.parse().unwrap(), "/hello.txt", &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "hello, world\n"));
    assert!(s.stop(Duration::from_secs(10)).success());
}
