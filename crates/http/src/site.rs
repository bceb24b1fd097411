//! The file service: a request in, a response out. One [`Site`] per server,
//! shared by every connection; it owns the configuration, the resolver and
//! the cache. Method and body checks, path cleaning, routes, dotfiles,
//! then cache → disk → listing → 404.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use sockit_net::text::escape_untrusted_bytes;

use crate::body::Body;
use crate::budget::Budget;
use crate::cache::Cache;
use crate::client::{client, Client};
use crate::config::Config;
use crate::path::{self, CleanPath};
use crate::resolve::{self, Found, Root};
use crate::{access_log, listing, pages};

/// The `Server` header and `{{server}}`.
pub const SERVER: &str = concat!("sockit/", env!("CARGO_PKG_VERSION"));

/// Why a site cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// The folder is missing or not a folder.
    #[error("cannot serve {path}: {why}")]
    Root {
        /// The folder given.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A `--route` or `--not-found` file that does not exist.
    #[error("{flag} file {path} does not exist or is not a file (relative paths are inside the served folder)")]
    MissingFile {
        /// The option.
        flag: &'static str,
        /// The file.
        path: PathBuf,
    },
}

/// What a handler knows about one request.
pub(crate) struct Ask<'a> {
    pub headers: &'a http::HeaderMap,
    pub client: Client,
    /// The decoded path, for `{{path}}` and pages.
    pub path: Cow<'a, str>,
    /// The connection's budget for file data in flight.
    pub budget: &'a Budget,
}

/// A static site.
#[derive(Debug)]
pub struct Site {
    pub(crate) cfg: Config,
    pub(crate) root: Root,
    pub(crate) cache: Cache,
    routes: Vec<(String, PathBuf)>,
    not_found: Option<PathBuf>,
    base_headers: Vec<(HeaderName, HeaderValue)>,
}

impl Site {
    /// Checks the folder and the files options name, and builds the site.
    pub fn new(cfg: Config) -> Result<Self, SiteError> {
        let bad = |why: String| SiteError::Root { path: cfg.root.clone(), why };
        let dir = std::fs::canonicalize(&cfg.root).map_err(|e| bad(e.to_string()))?;
        if !dir.is_dir() {
            return Err(bad("not a folder".into()));
        }
        let file = |flag, p: &PathBuf| {
            let full = dir.join(p);
            if full.is_file() {
                Ok(full)
            } else {
                Err(SiteError::MissingFile { flag, path: p.clone() })
            }
        };
        let routes =
            cfg.routes.iter().map(|(u, p)| Ok((u.clone(), file("--route", p)?))).collect::<Result<Vec<_>, _>>()?;
        let not_found = cfg.not_found.as_ref().map(|p| file("--not-found", p)).transpose()?;
        let mut base_headers = vec![(header::SERVER, HeaderValue::from_static(SERVER))];
        if cfg.cors {
            base_headers.push((header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")));
        }
        base_headers.extend(cfg.headers.iter().cloned());
        let root = Root { dir, hidden: cfg.hidden, follow_symlinks: cfg.follow_symlinks, listing: cfg.listing };
        let cache = Cache::new(cfg.cache_total, cfg.revalidate);
        Ok(Site { cfg, root, cache, routes, not_found, base_headers })
    }

    /// The canonical folder served.
    pub fn root(&self) -> &std::path::Path {
        &self.root.dir
    }

    /// Answers one request from `peer`; file data it streams counts
    /// against `budget` (the connection's).
    pub async fn handle<B: http_body::Body>(
        &self,
        req: Request<B>,
        peer: SocketAddr,
        budget: &Budget,
    ) -> Response<Body> {
        let client = client(peer, req.headers(), &self.cfg.trust_proxy);
        let mut resp = self.dispatch(&req, client, budget).await;
        let h = resp.headers_mut();
        for (k, v) in &self.base_headers {
            h.append(k.clone(), v.clone());
        }
        if req.method() == Method::HEAD {
            // Same headers as GET, no body; keep the length a GET would get.
            if let Some(n) = http_body::Body::size_hint(resp.body()).exact() {
                if !resp.headers().contains_key(header::CONTENT_LENGTH) {
                    resp.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(n));
                }
            }
            *resp.body_mut() = Body::Empty;
        }
        if self.cfg.access_log {
            access_log::log(&req, client, &resp);
        }
        resp
    }

    async fn dispatch<B: http_body::Body>(&self, req: &Request<B>, client: Client, budget: &Budget) -> Response<Body> {
        if !host_ok(req) {
            let mut r = error(StatusCode::BAD_REQUEST, "An HTTP/1.1 request needs exactly one Host header.");
            r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
        match *req.method() {
            Method::GET | Method::HEAD => {}
            Method::OPTIONS => return self.options(),
            _ => {
                let mut r = error(StatusCode::METHOD_NOT_ALLOWED, "Only GET, HEAD and OPTIONS are served here.");
                r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
                return r;
            }
        }
        if !req.body().is_end_stream() {
            let mut r = error(StatusCode::PAYLOAD_TOO_LARGE, "This server takes no request bodies.");
            r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
        let clean = match path::clean(req.uri().path()) {
            Ok(c) => c,
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("Bad path: {e}.")),
        };
        let ask = Ask {
            headers: req.headers(),
            client,
            path: if self.cfg.templates {
                Cow::Owned(format!("/{}", escape_untrusted_bytes(&clean.rel)))
            } else {
                Cow::Borrowed("")
            },
            budget,
        };
        if let Some((url, file)) = self.route_for(&clean) {
            let key = format!("\0route {url}");
            return self.serve_path(&key, file.clone(), &ask, req).await;
        }
        if !self.cfg.hidden && clean.has_hidden() {
            return self.not_found(&ask, req).await;
        }
        let key: Cow<'_, str> = if clean.trailing_slash && !clean.rel.is_empty() {
            format!("{}/", clean.key()).into()
        } else {
            clean.key()
        };
        let hit =
            self.cache.with_local(&key, |e| (!self.templated(e)).then(|| self.entry_response(e, &ask, StatusCode::OK)));
        if let Some(Some(resp)) = hit {
            return resp;
        }
        if let Some(entry) = self.cache.get(&key) {
            return self.send_entry(&entry, &ask, StatusCode::OK).await;
        }
        // A folder may be listed, and a listing is built whole (its rows,
        // then its page): a connection builds one at a time, counted as its
        // whole budget, taken before the folder is read.
        let listing_permits =
            if clean.trailing_slash && self.cfg.listing { Some(budget.reserve(usize::MAX).await) } else { None };
        let root = self.root.clone();
        let (rel, trailing) = (clean.as_path().to_path_buf(), clean.trailing_slash);
        let found = match tokio::task::spawn_blocking(move || root.find(&rel, trailing)).await {
            Ok(f) => f,
            Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "The lookup failed."),
        };
        let permits = match found {
            // The rows are all there is to build: keep the permits for them.
            Found::Listing(_) => listing_permits,
            // Not a listing: give the budget back before the file or 404
            // page takes its own (a compressor or template waits for it).
            _ => {
                drop(listing_permits);
                None
            }
        };
        match found {
            Found::File(open) => self.send_file(&key, open, &ask, StatusCode::OK).await,
            Found::Redirect => redirect(&clean, req.uri().query()),
            Found::Listing(rows) => {
                let permits = match permits {
                    Some(p) => p,
                    None => budget.reserve(usize::MAX).await,
                };
                let mut url = Vec::with_capacity(clean.rel.len() + 2);
                url.push(b'/');
                url.extend_from_slice(&clean.rel);
                if !clean.rel.is_empty() {
                    url.push(b'/');
                }
                let html = listing::render(&url, &rows);
                let mut r = html_response(StatusCode::OK, String::new());
                *r.body_mut() = Body::held(html.into_bytes(), permits);
                r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                r
            }
            Found::NotFound(why) => {
                tracing::debug!(path = %req.uri().path(), why, "not found");
                self.not_found(&ask, req).await
            }
        }
    }

    fn route_for(&self, clean: &CleanPath<'_>) -> Option<&(String, PathBuf)> {
        self.routes.iter().find(|(url, _)| url.trim_matches('/').as_bytes() == &*clean.rel)
    }

    /// Serves a file named by the operator (route, 404 page), cached by `key`.
    async fn serve_path<B>(&self, key: &str, path: PathBuf, ask: &Ask<'_>, req: &Request<B>) -> Response<Body> {
        self.serve_fixed(key, path, ask, StatusCode::OK).await.unwrap_or_else(|| {
            tracing::warn!(key = key.trim_start_matches('\0'), "configured file vanished");
            error_page(StatusCode::NOT_FOUND, req.uri().path())
        })
    }

    async fn serve_fixed(&self, key: &str, path: PathBuf, ask: &Ask<'_>, status: StatusCode) -> Option<Response<Body>> {
        if let Some(entry) = self.cache.get(key) {
            return Some(self.send_entry(&entry, ask, status).await);
        }
        let found = tokio::task::spawn_blocking(move || resolve::open_file(path)).await.ok().flatten()?;
        let Found::File(open) = found else { return None };
        Some(self.send_file(key, open, ask, status).await)
    }

    async fn not_found<B>(&self, ask: &Ask<'_>, req: &Request<B>) -> Response<Body> {
        if let Some(page) = &self.not_found {
            if let Some(r) = self.serve_fixed("\0not-found", page.clone(), ask, StatusCode::NOT_FOUND).await {
                return r;
            }
        }
        error_page(StatusCode::NOT_FOUND, req.uri().path())
    }

    fn options(&self) -> Response<Body> {
        let mut r = Response::new(Body::Empty);
        *r.status_mut() = StatusCode::NO_CONTENT;
        let h = r.headers_mut();
        h.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
        if self.cfg.cors {
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, HEAD, OPTIONS"));
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("*"));
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
        }
        r
    }
}

/// Whether the request names its host as RFC 9112 §3.2 wants: exactly one
/// `Host` on HTTP/1.1 (nginx answers 400 otherwise), none needed on
/// HTTP/1.0, and on HTTP/2 `:authority` (hyper puts it in the URI) or a
/// `Host`. A comma-separated value is several hosts, so refused too.
fn host_ok<B>(req: &Request<B>) -> bool {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() || host.is_some_and(|h| h.as_bytes().contains(&b',')) {
        return false;
    }
    match req.version() {
        Version::HTTP_09 | Version::HTTP_10 => true,
        Version::HTTP_11 => host.is_some(),
        _ => host.is_some() || req.uri().authority().is_some(),
    }
}

/// A small HTML page with a status.
pub(crate) fn error(status: StatusCode, text: &str) -> Response<Body> {
    html_response(status, pages::simple(&status.to_string(), text))
}

fn error_page(status: StatusCode, path: &str) -> Response<Body> {
    html_response(status, pages::not_found(path))
}

pub(crate) fn html_response(status: StatusCode, html: String) -> Response<Body> {
    let mut r = Response::new(Body::full(html));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r
}

/// `/dir` → `/dir/`. The target is rebuilt from the clean segments, so it
/// always starts with exactly one `/` and can never name another host
/// (`//evil.example` cleans to `evil.example`).
fn redirect(clean: &CleanPath<'_>, query: Option<&str>) -> Response<Body> {
    let mut location = format!("/{}/", path::encode(&clean.rel));
    if let Some(q) = query {
        location.push('?');
        location.push_str(q);
    }
    let mut r = html_response(StatusCode::MOVED_PERMANENTLY, pages::simple("Moved", &format!("See {location}")));
    match HeaderValue::from_str(&location) {
        Ok(v) => {
            r.headers_mut().insert(header::LOCATION, v);
        }
        Err(_) => return error(StatusCode::BAD_REQUEST, "Bad query string."),
    }
    r
}

/// Shares a site between connections.
pub type SharedSite = Arc<Site>;
