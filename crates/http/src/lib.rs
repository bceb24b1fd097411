//! sockit-http: a static site server with directory listings and per-visitor
//! templates, on hyper.
//!
//! Data flows one way: [`server`] accepts and speaks HTTP/1.1 or HTTP/2 →
//! [`site::Site`] checks the request and cleans its [`path`] →
//! [`cache`] (hit) or [`resolve`] (miss, on the blocking pool) → a response
//! built by `respond` with a [`body::Body`].
//!
//! Modules, one idea each:
//! - [`path`]: request path → safe relative path (the traversal rules).
//! - [`resolve`]: relative path → file, folder or nothing, under the symlink
//!   and dotfile policies.
//! - [`cache`]: small files in memory with prebuilt headers.
//! - [`range`], [`negotiate`]: `Range`, `Accept-Encoding`, conditionals.
//! - [`compress`]: gzip/brotli; [`template`]: `{{placeholders}}`;
//!   [`listing`]: folder pages; [`pages`]: built-in pages.
//! - [`https`]: an HTTPS port's first bytes: TLS, plain HTTP (a 400), or junk.
//! - [`budget`]: the bytes of file data in flight, per connection and server.
//! - [`client`]: the client address, through trusted proxies.
//! - [`access_log`]: Common Log Format lines.

pub mod access_log;
pub mod body;
pub mod budget;
pub mod cache;
pub mod client;
pub mod compress;
pub mod config;
pub mod https;
pub mod listing;
pub mod negotiate;
pub mod pages;
pub mod path;
pub mod range;
pub mod resolve;
mod respond;
pub mod server;
pub mod site;
pub mod template;

pub use config::{Cidr, Config, ConfigError};
pub use http;
pub use server::{serve, ServerOptions};
pub use site::{Site, SiteError};
