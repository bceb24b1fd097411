//! `sockit http [DIR]`: serve a folder over HTTP/1.1 and HTTP/2, with
//! listings, templates, ranges, caching and compression (sockit-http), or
//! the same over HTTPS with `--tls` (ALPN `h2` and `http/1.1`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use sockit_http::config::{parse_cache_control, parse_header, parse_route};
use sockit_http::http::{HeaderName, HeaderValue};
use sockit_http::{Cidr, Config, ServerOptions, Site};
use sockit_net::{announce, bind_tcp, resolve_bind, Limits, Shutdown};

use crate::common::Listener;
use crate::tls_args::{announce_and_watch, ServerTlsArgs};

/// The port without `--port`: 8080, or 8443 for HTTPS.
const DEFAULT_PORT: u16 = 8080;
const DEFAULT_TLS_PORT: u16 = 8443;

/// Flags of `sockit http`.
#[derive(Args, Debug, Clone)]
pub struct HttpArgs {
    /// Folder to serve.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Address to listen on (0.0.0.0 or :: for every interface).
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: String,
    /// Port (0: any free port). Default: 8080, or 8443 with --tls.
    #[arg(short, long)]
    pub port: Option<u16>,
    /// Do not list folders that have no index.html (answer 404 instead).
    #[arg(long)]
    pub no_listing: bool,
    /// Serve and list dotfiles (.env, .git …); hidden by default.
    #[arg(long)]
    pub hidden: bool,
    /// Follow symlinks that lead outside DIR (refused by default).
    #[arg(long)]
    pub follow_symlinks: bool,
    /// Page sent with status 404 for missing files (relative paths are inside DIR).
    #[arg(long, value_name = "FILE")]
    pub not_found: Option<PathBuf>,
    /// Map a URL to a file, e.g. --route /go=welcome.html (repeatable; FILE relative to DIR).
    #[arg(long, value_name = "URL=FILE", value_parser = parse_route)]
    pub route: Vec<(String, PathBuf)>,
    /// Fill {{client_ip}} {{client_port}} {{path}} {{date}} {{server}} in .html files.
    #[arg(long)]
    pub templates: bool,
    /// Believe X-Forwarded-For / Forwarded from these proxies (IP or CIDR, repeatable).
    #[arg(long, value_name = "CIDR")]
    pub trust_proxy: Vec<Cidr>,
    /// Compress text responses with gzip or brotli on the fly (precompressed .br/.gz siblings are always used).
    #[arg(long)]
    pub compress: bool,
    /// Smallest response compressed on the fly, in bytes.
    #[arg(long, default_value_t = 1024, value_name = "BYTES")]
    pub compress_min: u64,
    /// Cache-Control header sent with files, e.g. 'max-age=3600'.
    #[arg(long, value_name = "VALUE", value_parser = parse_cache_control)]
    pub cache_control: Option<HeaderValue>,
    /// Extra response header, e.g. --header 'X-Frame-Options: DENY' (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE", value_parser = parse_header)]
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Allow cross-origin requests (Access-Control-Allow-Origin: *).
    #[arg(long)]
    pub cors: bool,
    /// Files up to this size are kept in memory, in bytes.
    #[arg(long, default_value_t = 64 * 1024, value_name = "BYTES")]
    pub cache_file_max: u64,
    /// Memory the file cache may use, in MiB (the shared copies, and again at
    /// most this much per connection thread for its private copies).
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    pub cache_mib: u64,
    /// A cached file is re-checked on disk at most this often, in milliseconds.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub revalidate_ms: u64,
    /// Seconds a client may take to send a request head (slowloris guard; also
    /// bounds an idle HTTP/1 keep-alive wait).
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub header_timeout: f64,
    /// Close a connection after this many seconds without traffic.
    #[arg(long, default_value_t = 60.0, value_name = "SECS")]
    pub idle_timeout: f64,
    /// Most request header fields (more: 431).
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub max_headers: usize,
    /// Largest request head in bytes (more: 431; at least 8192).
    #[arg(long, default_value_t = 16 * 1024, value_name = "BYTES")]
    pub max_header_bytes: usize,
    /// Threads serving connections, each with its own event loop (0: share
    /// the main runtime). Default: one per core.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Concurrent HTTP/2 streams per connection (more wait on the client's side).
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub max_streams: u32,
    /// File data in flight to clients, all connections together, in MiB
    /// (each connection: at most 1 MiB; when spent, downloads wait for it).
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub send_budget_mib: usize,
    /// Most connections at once, all clients together (more: 503).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_connections: usize,
    /// Most connections at once from one IP address (more: 503).
    #[arg(long, default_value_t = 1_000, value_name = "N")]
    pub max_per_ip: usize,
    /// HTTPS: TLS 1.2/1.3 with ALPN h2 and http/1.1; a plain HTTP request
    /// on the port gets a 400 that says to use https.
    #[command(flatten)]
    pub tls: ServerTlsArgs,
}

impl HttpArgs {
    /// `--port`, or the default for the scheme.
    fn port(&self) -> u16 {
        self.port.unwrap_or(if self.tls.enabled() { DEFAULT_TLS_PORT } else { DEFAULT_PORT })
    }
}

fn secs(v: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(v)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| format!("{flag} must be a positive number of seconds"))
}

/// Binds, announces and spawns the HTTP server; returns where it listens.
pub async fn start(args: HttpArgs, shutdown: Shutdown) -> anyhow::Result<Vec<Listener>> {
    let port = args.port();
    let opts = ServerOptions {
        header_timeout: secs(args.header_timeout, "--header-timeout")?,
        idle_timeout: secs(args.idle_timeout, "--idle-timeout")?,
        max_headers: args.max_headers,
        max_header_bytes: args.max_header_bytes,
        max_streams: args.max_streams.max(1),
        send_budget: args.send_budget_mib.saturating_mul(1 << 20),
        threads: args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        tls: args.tls.server(&[b"h2", b"http/1.1"])?,
        ..ServerOptions::default()
    };
    let limits = Limits { max_connections: args.max_connections, max_per_ip: args.max_per_ip, ..Limits::default() };
    let cfg = Config {
        listing: !args.no_listing,
        hidden: args.hidden,
        follow_symlinks: args.follow_symlinks,
        not_found: args.not_found,
        routes: args.route,
        templates: args.templates,
        trust_proxy: args.trust_proxy,
        compress: args.compress,
        compress_min: args.compress_min,
        cache_control: args.cache_control,
        headers: args.headers,
        cors: args.cors,
        cache_file_max: args.cache_file_max,
        cache_total: args.cache_mib << 20,
        revalidate: Duration::from_millis(args.revalidate_ms),
        access_log: tracing::enabled!(tracing::Level::INFO),
        ..Config::new(&args.dir)
    };
    let site = Arc::new(Site::new(cfg)?);
    let addr = resolve_bind(&args.bind, port)?;
    let listener = bind_tcp(addr, "--port")?;
    let local = listener.local_addr().context("reading the bound address")?;
    let row = match &opts.tls {
        Some(tls) => {
            announce("https", &local);
            announce_and_watch(tls, &shutdown);
            Listener {
                service: "http",
                url: format!("https://{local}"),
                try_it: format!("curl --cacert {} https://{local}/", tls.cert_path().display()),
            }
        }
        None => {
            announce("http", &local);
            Listener { service: "http", url: format!("http://{local}"), try_it: format!("curl http://{local}/") }
        }
    };
    tracing::info!(dir = %site.root().display(), "serving");
    let stop = shutdown.clone();
    shutdown.spawn(async move {
        if let Err(e) = sockit_http::serve(listener, site, opts, limits, stop.clone()).await {
            tracing::error!(error = %e, "http server stopped: cannot start its threads");
            stop.trigger();
        }
    });
    Ok(vec![row])
}

/// `sockit up`: the current folder on 8080 (8443 under `up --tls`).
pub async fn up(ctx: &crate::common::UpContext) -> anyhow::Result<Vec<Listener>> {
    let args: HttpArgs = ctx.args(&["."])?;
    let port = ctx.port(args.port()).to_string();
    start(ctx.args(&["--port", &port, "."])?, ctx.shutdown.clone()).await
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        http: HttpArgs,
    }

    fn port(argv: &[&str]) -> u16 {
        Cli::parse_from(std::iter::once("http").chain(argv.iter().copied())).http.port()
    }

    #[test]
    fn the_default_port_is_8443_for_https_and_8080_for_http() {
        assert_eq!(port(&[]), 8080);
        assert_eq!(port(&["--tls"]), 8443);
        assert_eq!(port(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]), 8443);
        assert_eq!(port(&["--tls", "--port", "9000"]), 9000);
    }
}
