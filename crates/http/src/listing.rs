//! HTML directory listings: names escaped, sizes, dates, folders first,
//! sorted by name. A name is any bytes: the link percent-encodes the raw
//! bytes (so it reaches the file), the text shows them through
//! `sockit_net::text::escape_untrusted_bytes` (controls, bidi and invisible
//! characters and invalid UTF-8 made visible) and then HTML-escaped. Dotfiles are left out unless `--hidden`; symlinks that
//! lead outside the root (or to dotfiles) are left out unless allowed (they
//! would only 404).

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::SystemTime;

use sockit_net::text::escape_untrusted_bytes;

use crate::path::encode;
use crate::template::escape_html;

/// One row of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// File name, as the file system has it.
    pub name: OsString,
    /// A folder (links get a trailing slash).
    pub is_dir: bool,
    /// Size in bytes (files).
    pub size: u64,
    /// Last modification.
    pub modified: Option<SystemTime>,
}

/// What to leave out of a listing.
#[derive(Clone, Copy)]
pub struct Policy<'a> {
    /// Show dotfiles.
    pub hidden: bool,
    /// Whether a symlink's target may be served (inside the root, not a
    /// dotfile, or `--follow-symlinks`).
    pub allowed: &'a dyn Fn(&Path) -> bool,
}

/// Reads a folder into sorted rows (blocking: run it off the reactor).
pub fn read_rows(dir: &Path, policy: Policy<'_>) -> io::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        if !policy.hidden && name.as_bytes().starts_with(b".") {
            continue;
        }
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_symlink() && !(policy.allowed)(&entry.path()) {
            continue;
        }
        // Follows symlinks, so a link to a folder lists as a folder.
        let Ok(meta) = std::fs::metadata(entry.path()) else { continue };
        rows.push(Row { name, is_dir: meta.is_dir(), size: meta.len(), modified: meta.modified().ok() });
    }
    sort(&mut rows);
    Ok(rows)
}

/// Folders first, then by name, case-insensitively (ties broken by bytes).
pub fn sort(rows: &mut [Row]) {
    rows.sort_by_cached_key(|r| (!r.is_dir, r.name.to_string_lossy().to_lowercase(), r.name.clone()));
}

/// Shows bytes from the file system on a page: visible escapes, then HTML.
fn show(bytes: &[u8]) -> String {
    escape_html(&escape_untrusted_bytes(bytes)).into_owned()
}

/// Renders the listing page of the folder at URL path `url_path` (decoded
/// bytes, `/`-terminated).
pub fn render(url_path: &[u8], rows: &[Row]) -> String {
    let title = format!("Index of {}", escape_untrusted_bytes(url_path));
    let mut html = String::with_capacity(512 + rows.len() * 160);
    let _ = write!(
        html,
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{t}</title><style>body{{font-family:sans-serif;margin:2em}}\
         td{{padding:0 1.5em 0 0}}td.s{{text-align:right}}</style></head>\n\
         <body><h1>{t}</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n",
        t = escape_html(&title)
    );
    if url_path != b"/" {
        html.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for row in rows {
        let slash = if row.is_dir { "/" } else { "" };
        let size = if row.is_dir { "-".to_string() } else { human_size(row.size) };
        let date = row.modified.map(httpdate::fmt_http_date).unwrap_or_default();
        let _ = writeln!(
            html,
            "<tr><td><a href=\"./{href}{slash}\">{name}{slash}</a></td><td class=\"s\">{size}</td><td>{date}</td></tr>",
            href = escape_html(&encode(row.name.as_bytes())),
            name = show(row.name.as_bytes()),
        );
    }
    html.push_str("</table>\n<hr><small>sockit</small></body></html>\n");
    html
}

/// `1023 B`, `1.0 KiB`, `12.5 MiB` …
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sort_dirs_first_and_render_escaped() {
        let row = |name: &str, is_dir| Row { name: name.into(), is_dir, size: 2048, modified: None };
        let mut rows = vec![row("b.txt", false), row("Zed", true), row("a<x>.txt", false), row("alpha", true)];
        sort(&mut rows);
        let names: Vec<_> = rows.iter().map(|r| r.name.to_str().unwrap()).collect();
        assert_eq!(names, ["alpha", "Zed", "a<x>.txt", "b.txt"]);
        let html = render(b"/sub/", &rows);
        assert!(html.contains("<a href=\"./a%3Cx%3E.txt\">a&lt;x&gt;.txt</a>"));
        assert!(html.contains("<a href=\"./alpha/\">alpha/</a>"));
        assert!(html.contains("2.0 KiB"));
        assert!(html.contains("href=\"../\""));
        assert!(!html.contains("<x>"));
    }

    #[test]
    fn odd_names_are_escaped_and_linked_by_their_bytes() {
        use std::os::unix::ffi::OsStringExt;
        let row = |name: &[u8]| Row { name: OsString::from_vec(name.to_vec()), is_dir: false, size: 1, modified: None };
        let rows = [row(b"\x1b[2Jx"), row("a\u{202e}gpj.exe".as_bytes()), row(b"caf\xe9 <b>"), row(b"l\nf")];
        let html = render(b"/d\xff\x1b/", &rows);
        for raw in ['\x1b', '\u{202e}', '\u{fffd}'] {
            assert!(!html.contains(raw), "{raw:?} in {html}");
        }
        assert!(html.contains("<a href=\"./%1B%5B2Jx\">\\x1b[2Jx</a>"), "{html}");
        assert!(html.contains("<a href=\"./a%E2%80%AEgpj.exe\">a\\u{202e}gpj.exe</a>"), "{html}");
        assert!(html.contains("<a href=\"./caf%E9%20%3Cb%3E\">caf\\xe9 &lt;b&gt;</a>"), "{html}");
        assert!(html.contains("<a href=\"./l%0Af\">l\\x0af</a>"), "{html}");
        assert!(html.contains("<title>Index of /d\\xff\\x1b/</title>"), "{html}");
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(100 << 20), "100.0 MiB");
    }
}
