//! The access log: one line per request on stderr in the Common Log Format
//! (`127.0.0.1 - - [22/Nov/2026:00:20:06 +0000] "GET / HTTP/1.1" 200 1234`),
//! which every log tool reads. Written straight to stderr (one `write` per
//! line), not through `tracing`, so the format stays exact; `-q` turns it off.

use std::io::Write;
use std::time::SystemTime;

use http::{Request, Response};

use crate::body::Body;
use crate::client::Client;

/// Writes the line for one exchange.
pub fn log<B>(req: &Request<B>, client: Client, resp: &Response<Body>) {
    let bytes = http_body::Body::size_hint(resp.body()).exact();
    let line = format_line(req, client, resp.status().as_u16(), bytes, SystemTime::now());
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Writes the line for a request that could not be parsed (hyper answered
/// it with `status`): no request line to show, as nginx logs it.
pub fn log_unparsed(ip: std::net::IpAddr, status: u16) {
    let line = format!("{ip} - - [{}] \"-\" {status} 0\n", clf_date(SystemTime::now()));
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Formats one line (newline included).
pub fn format_line<B>(req: &Request<B>, client: Client, status: u16, bytes: Option<u64>, now: SystemTime) -> String {
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    // Control bytes and quotes from the peer must not forge log lines.
    let target: String = target.chars().map(|c| if c.is_control() || c == '"' { '?' } else { c }).collect();
    let bytes = bytes.map_or("-".to_string(), |b| b.to_string());
    format!(
        "{} - - [{}] \"{} {} {:?}\" {} {}\n",
        client.ip,
        clf_date(now),
        req.method(),
        target,
        req.version(),
        status,
        bytes
    )
}

/// `22/Nov/2026:00:20:06 +0000`, rearranged from the fixed-width HTTP date
/// `Sun, 22 Nov 2026 00:20:06 GMT`.
fn clf_date(t: SystemTime) -> String {
    let d = httpdate::fmt_http_date(t);
    match (d.get(5..7), d.get(8..11), d.get(12..16), d.get(17..25)) {
        (Some(day), Some(mon), Some(year), Some(time)) => format!("{day}/{mon}/{year}:{time} +0000"),
        _ => d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn common_log_format() {
        let req = Request::get("/a%20b?x=1").body(()).unwrap();
        let client = Client { ip: "127.0.0.1".parse().unwrap(), port: Some(5) };
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let line = format_line(&req, client, 200, Some(12), t);
        assert_eq!(line, "127.0.0.1 - - [14/Nov/2023:22:13:20 +0000] \"GET /a%20b?x=1 HTTP/1.1\" 200 12\n");
    }
}
