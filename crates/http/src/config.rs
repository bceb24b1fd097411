//! What the operator chose: the folder, policies, extra headers, limits.
//! Built once by the CLI and shared read-only by every connection.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::{HeaderName, HeaderValue};

/// The whole configuration of a site.
#[derive(Debug, Clone)]
pub struct Config {
    /// The folder served.
    pub root: PathBuf,
    /// HTML listings for folders without `index.html`.
    pub listing: bool,
    /// Serve and list dotfiles.
    pub hidden: bool,
    /// Follow symlinks that lead outside the root.
    pub follow_symlinks: bool,
    /// Page served (with status 404) for missing files; `None`: built-in page.
    pub not_found: Option<PathBuf>,
    /// `URL → file` routes, checked before the folder.
    pub routes: Vec<(String, PathBuf)>,
    /// Fill `{{placeholders}}` in `.html` files.
    pub templates: bool,
    /// Proxies whose `X-Forwarded-For` / `Forwarded` headers are believed.
    pub trust_proxy: Vec<Cidr>,
    /// Compress text responses on the fly.
    pub compress: bool,
    /// Smallest body compressed on the fly, in bytes.
    pub compress_min: u64,
    /// `Cache-Control` sent with files, if any.
    pub cache_control: Option<HeaderValue>,
    /// Extra headers on every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// `Access-Control-Allow-Origin: *` and preflight answers.
    pub cors: bool,
    /// Files up to this size are kept in memory.
    pub cache_file_max: u64,
    /// Total bytes the memory cache may hold.
    pub cache_total: u64,
    /// How long a cached file is trusted before its metadata is checked again.
    pub revalidate: Duration,
    /// Write a common-log-format line per request to stderr.
    pub access_log: bool,
}

impl Config {
    /// Defaults for serving `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Config {
            root: root.into(),
            listing: true,
            hidden: false,
            follow_symlinks: false,
            not_found: None,
            routes: Vec::new(),
            templates: false,
            trust_proxy: Vec::new(),
            compress: false,
            compress_min: 1024,
            cache_control: None,
            headers: Vec::new(),
            cors: false,
            cache_file_max: 64 * 1024,
            cache_total: 64 << 20,
            revalidate: Duration::from_secs(1),
            access_log: true,
        }
    }
}

/// A bad value for one of the options.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--route` without `URL=FILE`.
    #[error("--route wants URL=FILE (for example /go=welcome.html), got {0:?}")]
    Route(String),
    /// `--header` without `Name: value`, or an invalid name/value.
    #[error("--header wants 'Name: value' with a valid header name and value, got {0:?}")]
    Header(String),
    /// `--trust-proxy` that is not an address or CIDR.
    #[error("--trust-proxy wants an IP address or CIDR such as 10.0.0.0/8, got {0:?}")]
    Cidr(String),
    /// `--cache-control` value with characters a header cannot hold.
    #[error("--cache-control value {0:?} cannot be sent as a header")]
    CacheControl(String),
}

/// Parses `--route URL=FILE`.
pub fn parse_route(s: &str) -> Result<(String, PathBuf), ConfigError> {
    let (url, file) = s.split_once('=').ok_or_else(|| ConfigError::Route(s.into()))?;
    if !url.starts_with('/') || file.is_empty() {
        return Err(ConfigError::Route(s.into()));
    }
    Ok((url.to_string(), PathBuf::from(file)))
}

/// Parses `--header 'Name: value'`.
pub fn parse_header(s: &str) -> Result<(HeaderName, HeaderValue), ConfigError> {
    let bad = || ConfigError::Header(s.into());
    let (name, value) = s.split_once(':').ok_or_else(bad)?;
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
    Ok((name, value))
}

/// Parses `--cache-control VALUE`.
pub fn parse_cache_control(s: &str) -> Result<HeaderValue, ConfigError> {
    HeaderValue::from_str(s).map_err(|_| ConfigError::CacheControl(s.into()))
}

/// An IP network: address plus prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` lies inside (IPv4-mapped IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => mask_eq(u32::from(n) as u128, u32::from(a) as u128, self.prefix, 32),
            (IpAddr::V6(n), IpAddr::V6(a)) => mask_eq(u128::from(n), u128::from(a), self.prefix, 128),
            _ => false,
        }
    }
}

fn mask_eq(a: u128, b: u128, prefix: u8, bits: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = u32::from(bits - prefix);
    (a >> shift) == (b >> shift)
}

/// Unwraps IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`).
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl std::str::FromStr for Cidr {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ConfigError::Cidr(s.into());
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s, None),
        };
        let net = canonical(addr.trim().parse::<IpAddr>().map_err(|_| bad())?);
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr { net, prefix })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(c.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let all: Cidr = "::/0".parse().unwrap();
        assert!(all.contains("fe80::1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("nope".parse::<Cidr>().is_err());
    }

    #[test]
    fn routes_and_headers() {
        assert_eq!(parse_route("/go=welcome.html").unwrap(), ("/go".into(), PathBuf::from("welcome.html")));
        assert!(parse_route("go=x").is_err());
        assert!(parse_route("/go=").is_err());
        let (n, v) = parse_header("X-Frame-Options: DENY").unwrap();
        assert_eq!((n.as_str(), v.to_str().unwrap()), ("x-frame-options", "DENY"));
        assert!(parse_header("bad header: x").is_err());
        assert!(parse_header("novalue").is_err());
    }
}
