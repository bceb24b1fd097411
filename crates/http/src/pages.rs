//! Small built-in pages: errors and the default 404.

use crate::template::escape_html;

/// A minimal HTML page with a title and one paragraph (`text` is escaped).
pub fn simple(title: &str, text: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\n\
         <body><h1>{t}</h1><p>{x}</p><hr><small>sockit</small></body></html>\n",
        t = escape_html(title),
        x = escape_html(text)
    )
}

/// The default 404 page (`path` as the client sent it, made visible).
pub fn not_found(path: &str) -> String {
    simple("404 Not Found", &format!("Nothing here: {}", sockit_net::text::escape_untrusted(path)))
}
