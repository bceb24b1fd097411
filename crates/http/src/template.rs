//! Per-visitor templates: `{{client_ip}}`, `{{client_port}}`, `{{path}}`,
//! `{{date}}` and `{{server}}` are replaced, HTML-escaped; any other
//! `{{…}}` stays exactly as written, so pages using another template
//! language's braces are left alone.

/// The values a template can show.
#[derive(Debug, Clone, Copy)]
pub struct Vars<'a> {
    /// Client IP.
    pub client_ip: &'a str,
    /// Client port (empty when a proxy did not say).
    pub client_port: &'a str,
    /// The request path, decoded.
    pub path: &'a str,
    /// Now, as an HTTP date.
    pub date: &'a str,
    /// `sockit/VERSION`.
    pub server: &'a str,
}

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        Some(match name {
            "client_ip" => self.client_ip,
            "client_port" => self.client_port,
            "path" => self.path,
            "date" => self.date,
            "server" => self.server,
            _ => return None,
        })
    }
}

/// Fills the placeholders of `src` (raw bytes: a page need not be UTF-8).
pub fn render(src: &[u8], vars: &Vars<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len() + 64);
    let mut rest = src;
    while let Some(open) = find(rest, b"{{") {
        out.extend_from_slice(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = find(after, b"}}") else {
            rest = &rest[open..];
            break;
        };
        let name = std::str::from_utf8(&after[..close]).ok().map(str::trim);
        match name.and_then(|n| vars.get(n)) {
            Some(value) => {
                out.extend_from_slice(escape_html(value).as_bytes());
                rest = &after[close + 2..];
            }
            None => {
                // Unknown: keep the opening braces and carry on after them, so a
                // `{{` inside an unknown placeholder can still start a known one.
                out.extend_from_slice(b"{{");
                rest = after;
            }
        }
    }
    out.extend_from_slice(rest);
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Escapes `& < > " '` for HTML text and attribute values.
pub fn escape_html(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.bytes().any(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'')) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const V: Vars<'static> =
        Vars { client_ip: "127.0.0.1", client_port: "5000", path: "/<b>", date: "D", server: "sockit/0" };

    fn r(s: &str) -> String {
        String::from_utf8(render(s.as_bytes(), &V)).unwrap()
    }

    #[test]
    fn placeholders() {
        assert_eq!(r("hi {{client_ip}}:{{ client_port }}"), "hi 127.0.0.1:5000");
        assert_eq!(r("{{path}}"), "/&lt;b&gt;");
        assert_eq!(r("{{nope}} {{server}}"), "{{nope}} sockit/0");
        assert_eq!(r("{{ {{date}} }}"), "{{ D }}");
        assert_eq!(r("open {{client_ip"), "open {{client_ip");
        assert_eq!(r("{{}}"), "{{}}");
    }

    proptest! {
        #[test]
        fn text_without_braces_is_unchanged(s in "[^{}]*") {
            prop_assert_eq!(r(&s), s);
        }

        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = render(&b, &V);
        }
    }
}
