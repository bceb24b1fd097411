//! TLS for every stream service, built once: certificates, the acceptor a
//! server wraps its connections in, and the connector a client verifies with.
//!
//! - [`files`]: reading PEM certificates and keys, with one clear error per
//!   bad file (missing, unreadable, not PEM, expired, key does not match).
//! - [`selfsigned`]: the `--tls` certificate made once and kept in the user's
//!   data directory, so its fingerprint stays the same across restarts.
//! - [`server`]: [`ServerTls`], the acceptor: bounded handshakes, reload on
//!   SIGHUP, the announce line with the certificate's fingerprint.
//! - [`client`]: [`ClientTls`], the connector: system trust store, `--tls-ca`,
//!   `--pin`, `--insecure`, and errors that say why verification failed.
//! - [`TlsStream`]: what both yield; a TCP close without `close_notify`
//!   reads as EOF (why: see its module).
//!
//! Crypto provider: rustls on *ring*. Both providers give about the same
//! AES-GCM throughput on this class of machine (about 1 GiB/s a core), and
//! ring builds in under a sixth of the time of aws-lc-rs with no C build
//! system (bench/RESULTS.md, "TLS crypto provider"). Every config here is
//! built with [`provider()`] explicitly, so no code path depends on the
//! process-level default; [`install_default_provider`] sets that default too,
//! for any other crate in the process that asks rustls for it.

pub mod client;
pub mod files;
pub mod selfsigned;
pub mod server;
mod stream;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use sha2::{Digest, Sha256};

pub use client::{ClientTls, ClientTlsOptions};
pub use server::{CertSource, ServerTls, ServerTlsOptions};
pub use stream::TlsStream;

/// What [`ServerTls::accept`] yields.
pub type ServerStream<S> = TlsStream<tokio_rustls::server::TlsStream<S>>;
/// What [`ClientTls::connect`] yields.
pub type ClientStream<S> = TlsStream<tokio_rustls::client::TlsStream<S>>;

/// The protocol versions we speak: TLS 1.3 and 1.2, nothing older.
pub static PROTOCOL_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The crypto provider every sockit TLS config is built with (ring).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Installs [`provider()`] as rustls' process-level default, so no crate in
/// the process can hit "could not determine the process-level
/// CryptoProvider". Safe to call more than once.
pub fn install_default_provider() {
    // Err means a default is already installed; that is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// What can go wrong setting TLS up. Every variant names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file holds no PEM certificate.
    #[error("{}: no certificate found (expected PEM: -----BEGIN CERTIFICATE-----)", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// A file holds no private key in a form we read.
    #[error("{}: no private key found (expected PEM: PKCS#8, SEC1 \"EC PRIVATE KEY\" or PKCS#1 \"RSA PRIVATE KEY\")", path.display())]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// A file's PEM or DER content is malformed.
    #[error("{}: {detail}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The certificate's validity period has ended.
    #[error("{}: the certificate expired on {not_after}", path.display())]
    Expired {
        /// The file.
        path: PathBuf,
        /// Its notAfter date.
        not_after: String,
    },
    /// The certificate's validity period has not begun.
    #[error("{}: the certificate is not valid before {not_before}", path.display())]
    NotYetValid {
        /// The file.
        path: PathBuf,
        /// Its notBefore date.
        not_before: String,
    },
    /// The private key is not the one the certificate was issued for.
    #[error("{} does not match the certificate in {} (their public keys differ)", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// The self-signed certificate could not be made or stored.
    #[error("cannot create the self-signed certificate in {}: {detail}", dir.display())]
    SelfSigned {
        /// The folder it lives in.
        dir: PathBuf,
        /// Why.
        detail: String,
    },
    /// A `--pin` value is not a SHA-256 fingerprint.
    #[error(
        "bad --pin {0:?}: expected a SHA-256 fingerprint, 64 hex digits (colons allowed), as the server prints it"
    )]
    BadPin(String),
    /// A server name for SNI / verification is not a DNS name or IP address.
    #[error("bad server name {0:?} for TLS")]
    BadName(String),
    /// The system trust store holds no certificate.
    #[error("no trusted certificates found in the system store (install ca-certificates), or pass --tls-ca FILE or --pin SHA256")]
    NoTrustStore,
    /// rustls refused the configuration.
    #[error("TLS setup failed: {0}")]
    Config(#[from] rustls::Error),
}

/// A certificate's SHA-256 fingerprint: what `--pin` takes and what a server
/// prints (`AB:CD:…`, the form browsers and `openssl x509 -fingerprint` show).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER certificate.
    pub fn of(der: &[u8]) -> Self {
        Fingerprint(Sha256::digest(der).into())
    }

    /// Parses 64 hex digits, upper or lower case, with or without `:`
    /// separators, optionally prefixed `sha256:` / `SHA256=`.
    pub fn parse(input: &str) -> Result<Self, TlsError> {
        let bad = || TlsError::BadPin(input.to_string());
        let s = input.trim();
        let s = ["sha256:", "sha256=", "sha256/"]
            .iter()
            .find_map(|p| s.get(..p.len()).filter(|h| h.eq_ignore_ascii_case(p)).map(|_| &s[p.len()..]))
            .unwrap_or(s);
        let hex: Vec<u8> = s.bytes().filter(|&b| b != b':').collect();
        if hex.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, pair) in hex.chunks(2).enumerate() {
            let text = std::str::from_utf8(pair).map_err(|_| bad())?;
            out[i] = u8::from_str_radix(text, 16).map_err(|_| bad())?;
        }
        Ok(Fingerprint(out))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

#[cfg(test)]
mod tests;
