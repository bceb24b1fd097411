//! Turning a file into a response: validators and 304, Range and 206/416,
//! content coding (precompressed sibling, cached compressed form, or on the
//! fly), templates. Small files go through the cache; large ones are
//! streamed.

use std::fs::{File, Metadata};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};

use crate::body::{Body, FileBody};
use crate::cache::{Entry, Stamp, Variant};
use crate::negotiate::{self, Coding};
use crate::range::{self, RangeAsk};
use crate::resolve::{self, OpenFile};
use crate::site::{error, Ask, Site, SERVER};
use crate::{compress, template};

/// Templated pages are read whole; past this size they are sent as is.
const TEMPLATE_MAX: u64 = 4 << 20;

static BYTES: HeaderValue = HeaderValue::from_static("bytes");
static VARY_AE: HeaderValue = HeaderValue::from_static("accept-encoding");

impl Site {
    /// Serves an open file: through the cache when small, streamed otherwise.
    pub(crate) async fn send_file(
        &self,
        key: &str,
        open: OpenFile,
        ask: &Ask<'_>,
        status: StatusCode,
    ) -> Response<Body> {
        let OpenFile { path, file, meta } = open;
        let content_type = content_type(&path);
        let is_html = content_type.as_bytes().starts_with(b"text/html");
        let template = self.cfg.templates && is_html;
        let len = meta.len();
        if len <= self.cfg.cache_file_max || (template && len <= TEMPLATE_MAX) {
            match self.load(path, file, &meta, content_type, template).await {
                Ok(entry) => {
                    let entry = Arc::new(entry);
                    self.cache.insert(key, entry.clone());
                    return self.send_entry(&entry, ask, status).await;
                }
                Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &format!("Cannot read the file: {e}.")),
            }
        }
        self.send_large(OpenFile { path, file, meta }, content_type, ask, status).await
    }

    /// Reads a small file and prepares its compressed forms.
    async fn load(
        &self,
        path: PathBuf,
        file: File,
        meta: &Metadata,
        content_type: HeaderValue,
        template: bool,
    ) -> std::io::Result<Entry> {
        let stamp = Stamp::of(meta);
        let (p, len) = (path.clone(), stamp.len);
        let (body, siblings) = tokio::task::spawn_blocking(move || {
            let body = resolve::read_all(&file, len)?;
            let mut siblings = Vec::new();
            for coding in [Coding::Brotli, Coding::Gzip] {
                if let Some(sib) = resolve::sibling(&p, coding.suffix()) {
                    if let Ok(b) = resolve::read_all(&sib.file, sib.meta.len()) {
                        siblings.push((coding, b, Stamp::of(&sib.meta)));
                    }
                }
            }
            std::io::Result::Ok((body, siblings))
        })
        .await
        .map_err(std::io::Error::other)??;
        let mut entry = Entry::new(path, body, stamp, content_type, template);
        for (coding, b, s) in siblings {
            entry.variants.push(Variant { coding, body: b, etag: s.etag(coding.suffix()) });
        }
        let text = compress::compressible(entry.content_type.to_str().unwrap_or(""));
        if entry.variants.is_empty() && !template && self.cfg.compress && text && stamp.len >= self.cfg.compress_min {
            for coding in [Coding::Brotli, Coding::Gzip] {
                let body = compress::buffer(coding, &entry.body).await?;
                let etag = stamp.etag(&format!("-{}", coding.token()));
                entry.variants.push(Variant { coding, body, etag });
            }
        }
        Ok(entry)
    }

    /// Answers from a cached entry.
    pub(crate) async fn send_entry(&self, entry: &Entry, ask: &Ask<'_>, status: StatusCode) -> Response<Body> {
        if self.templated(entry) {
            return self.send_template(&entry.body, &entry.content_type, ask, status).await;
        }
        self.entry_response(entry, ask, status)
    }

    /// Whether an entry is filled per request.
    pub(crate) fn templated(&self, entry: &Entry) -> bool {
        entry.template && self.cfg.templates
    }

    /// Answers from a cached entry that is not a template (no await: this is
    /// the hot path, also run from the per-thread front cache).
    pub(crate) fn entry_response(&self, entry: &Entry, ask: &Ask<'_>, status: StatusCode) -> Response<Body> {
        let mut h = HeaderMap::with_capacity(8);
        h.insert(header::CONTENT_TYPE, entry.content_type.clone());
        if status != StatusCode::OK {
            // An error page: no validators, no ranges.
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            return with(status, h, Body::Full(Some(entry.body.clone())));
        }
        let range = ask.headers.get(header::RANGE);
        let mut variant = None;
        if !entry.variants.is_empty() {
            h.insert(header::VARY, VARY_AE.clone());
            if range.is_none() {
                variant = accepted(ask.headers).into_iter().find_map(|c| entry.variants.iter().find(|v| v.coding == c));
            }
        }
        let etag = variant.map_or(&entry.etag, |v| &v.etag);
        self.validators(&mut h, etag, &entry.last_modified);
        if let Some(r) = early(precondition(ask.headers, etag, entry.stamp.mtime), &mut h) {
            return r;
        }
        if let Some(v) = variant {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(v.coding.token()));
            return with(StatusCode::OK, h, Body::Full(Some(v.body.clone())));
        }
        h.insert(header::ACCEPT_RANGES, BYTES.clone());
        let len = entry.body.len() as u64;
        match ask_range(ask.headers, etag, &entry.last_modified, len) {
            RangeAsk::Full => with(StatusCode::OK, h, Body::Full(Some(entry.body.clone()))),
            RangeAsk::Part { start, end } => {
                h.insert(header::CONTENT_RANGE, content_range(start, end, len));
                with(StatusCode::PARTIAL_CONTENT, h, Body::full(entry.body.slice(start as usize..end as usize)))
            }
            RangeAsk::Unsatisfiable => unsatisfiable(h, len),
        }
    }

    /// Streams a large file.
    async fn send_large(
        &self,
        open: OpenFile,
        content_type: HeaderValue,
        ask: &Ask<'_>,
        status: StatusCode,
    ) -> Response<Body> {
        let OpenFile { path, file, meta } = open;
        let stamp = Stamp::of(&meta);
        let mut h = HeaderMap::with_capacity(8);
        let text = compress::compressible(content_type.to_str().unwrap_or(""));
        h.insert(header::CONTENT_TYPE, content_type);
        if status != StatusCode::OK {
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            return with(status, h, Body::File(FileBody::new(file, 0, stamp.len, ask.budget)));
        }
        let last_modified = stamp.last_modified();
        let range = ask.headers.get(header::RANGE);
        let codings = if range.is_none() { accepted(ask.headers) } else { Vec::new() };
        // A precompressed sibling wins over compressing here.
        let sibling = if codings.is_empty() {
            None
        } else {
            let (p, wanted) = (path.clone(), codings.clone());
            tokio::task::spawn_blocking(move || {
                wanted.into_iter().find_map(|c| resolve::sibling(&p, c.suffix()).map(|s| (c, s)))
            })
            .await
            .ok()
            .flatten()
        };
        let on_the_fly = self.cfg.compress && text && stamp.len >= self.cfg.compress_min;
        if sibling.is_some() || on_the_fly {
            h.insert(header::VARY, VARY_AE.clone());
        }
        if let Some((coding, sib)) = sibling {
            let s = Stamp::of(&sib.meta);
            let etag = s.etag(coding.suffix());
            self.validators(&mut h, &etag, &last_modified);
            if let Some(r) = early(precondition(ask.headers, &etag, stamp.mtime), &mut h) {
                return r;
            }
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
            return with(StatusCode::OK, h, Body::File(FileBody::new(sib.file, 0, s.len, ask.budget)));
        }
        if let (true, Some(&coding)) = (on_the_fly, codings.first()) {
            let etag = weak(stamp.etag(&format!("-{}", coding.token())));
            self.validators(&mut h, &etag, &last_modified);
            if let Some(r) = early(precondition(ask.headers, &etag, stamp.mtime), &mut h) {
                return r;
            }
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
            // Waits (headers included) while the connection's budget is
            // taken by another compressor or by unsent file data.
            let permits = ask.budget.compressor().await;
            let reader = tokio::io::BufReader::with_capacity(64 << 10, tokio::fs::File::from_std(file));
            return with(StatusCode::OK, h, compress::stream(coding, reader, permits));
        }
        let etag = stamp.etag("");
        self.validators(&mut h, &etag, &last_modified);
        if let Some(r) = early(precondition(ask.headers, &etag, stamp.mtime), &mut h) {
            return r;
        }
        h.insert(header::ACCEPT_RANGES, BYTES.clone());
        match ask_range(ask.headers, &etag, &last_modified, stamp.len) {
            RangeAsk::Full => with(StatusCode::OK, h, Body::File(FileBody::new(file, 0, stamp.len, ask.budget))),
            RangeAsk::Part { start, end } => {
                h.insert(header::CONTENT_RANGE, content_range(start, end, stamp.len));
                with(StatusCode::PARTIAL_CONTENT, h, Body::File(FileBody::new(file, start, end, ask.budget)))
            }
            RangeAsk::Unsatisfiable => unsatisfiable(h, stamp.len),
        }
    }

    /// Fills a page's placeholders: never cacheable, no validators, no ranges.
    async fn send_template(
        &self,
        src: &Bytes,
        content_type: &HeaderValue,
        ask: &Ask<'_>,
        status: StatusCode,
    ) -> Response<Body> {
        let ip = ask.client.ip.to_string();
        let port = ask.client.port.map(|p| p.to_string()).unwrap_or_default();
        let date = httpdate::fmt_http_date(SystemTime::now());
        let vars = template::Vars { client_ip: &ip, client_port: &port, path: &ask.path, date: &date, server: SERVER };
        // Counted before it is built: the page is about the size of its source.
        let permits = ask.budget.reserve(src.len() + 1024).await;
        let page = template::render(src, &vars);
        let mut h = HeaderMap::with_capacity(6);
        h.insert(header::CONTENT_TYPE, content_type.clone());
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.cfg.compress && page.len() as u64 >= self.cfg.compress_min {
            h.insert(header::VARY, VARY_AE.clone());
            if let Some(&coding) = accepted(ask.headers).first() {
                if let Ok(body) = compress::buffer(coding, &page).await {
                    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
                    return with(status, h, Body::held(body, permits));
                }
            }
        }
        with(status, h, Body::held(page, permits))
    }

    fn validators(&self, h: &mut HeaderMap, etag: &HeaderValue, last_modified: &HeaderValue) {
        h.insert(header::ETAG, etag.clone());
        h.insert(header::LAST_MODIFIED, last_modified.clone());
        if let Some(cc) = &self.cfg.cache_control {
            h.insert(header::CACHE_CONTROL, cc.clone());
        }
    }
}

fn content_type(path: &std::path::Path) -> HeaderValue {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let text = mime.type_() == mime_guess::mime::TEXT
        || matches!(mime.essence_str(), "application/javascript" | "application/json" | "image/svg+xml");
    let s = if text && mime.get_param("charset").is_none() {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.to_string()
    };
    HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

fn accepted(headers: &HeaderMap) -> Vec<Coding> {
    match headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()) {
        Some(v) => negotiate::accepted(v),
        None => Vec::new(),
    }
}

/// What the conditional headers decide before a file is sent.
enum Precondition {
    /// Send it (ranges are looked at next).
    Send,
    /// 304: the client's copy is current.
    NotModified,
    /// 412: the client expects a version that is not the current one.
    Failed,
}

/// The conditional headers in RFC 9110 §13.2.2's order: `If-Match` (else
/// `If-Unmodified-Since`) can fail the request with 412; then
/// `If-None-Match` (else `If-Modified-Since`) can answer 304.
fn precondition(headers: &HeaderMap, etag: &HeaderValue, mtime: SystemTime) -> Precondition {
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let etag_text = etag.to_str().unwrap_or("");
    if headers.contains_key(header::IF_MATCH) {
        if !text(header::IF_MATCH).is_some_and(|im| negotiate::strong_match(im, etag_text)) {
            return Precondition::Failed;
        }
    } else if let Some(false) = text(header::IF_UNMODIFIED_SINCE).and_then(|d| negotiate::unmodified_since(d, mtime)) {
        return Precondition::Failed;
    }
    let not_modified = if headers.contains_key(header::IF_NONE_MATCH) {
        text(header::IF_NONE_MATCH).is_some_and(|inm| negotiate::none_match(inm, etag_text))
    } else {
        text(header::IF_MODIFIED_SINCE).is_some_and(|ims| negotiate::not_modified_since(ims, mtime))
    };
    if not_modified {
        Precondition::NotModified
    } else {
        Precondition::Send
    }
}

/// The early answer a precondition gives, if any (`h` holds the validators).
fn early(pre: Precondition, h: &mut HeaderMap) -> Option<Response<Body>> {
    match pre {
        Precondition::Send => None,
        Precondition::NotModified => Some(with(StatusCode::NOT_MODIFIED, std::mem::take(h), Body::Empty)),
        Precondition::Failed => {
            let mut r = error(StatusCode::PRECONDITION_FAILED, "The file is not the version the request expects.");
            for name in [header::ETAG, header::LAST_MODIFIED] {
                if let Some(v) = h.get(&name) {
                    r.headers_mut().insert(name, v.clone());
                }
            }
            Some(r)
        }
    }
}

/// The range asked for, unless `If-Range` names another version.
fn ask_range(headers: &HeaderMap, etag: &HeaderValue, last_modified: &HeaderValue, len: u64) -> RangeAsk {
    let Some(r) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else { return RangeAsk::Full };
    if let Some(if_range) = headers.get(header::IF_RANGE) {
        if if_range != etag && if_range != last_modified {
            return RangeAsk::Full;
        }
    }
    range::parse(r, len)
}

fn content_range(start: u64, end: u64, len: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("bytes {start}-{}/{len}", end - 1)).unwrap_or(HeaderValue::from_static("bytes */0"))
}

fn unsatisfiable(mut h: HeaderMap, len: u64) -> Response<Body> {
    h.remove(header::CONTENT_TYPE);
    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
        h.insert(header::CONTENT_RANGE, v);
    }
    with(StatusCode::RANGE_NOT_SATISFIABLE, h, Body::Empty)
}

fn weak(etag: HeaderValue) -> HeaderValue {
    let mut s = b"W/".to_vec();
    s.extend_from_slice(etag.as_bytes());
    HeaderValue::from_bytes(&s).unwrap_or(etag)
}

fn with(status: StatusCode, headers: HeaderMap, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    r
}
