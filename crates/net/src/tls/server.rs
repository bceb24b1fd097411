//! The server side: [`ServerTls`] wraps accepted connections in TLS.
//!
//! One `ServerTls` serves every connection of a listener (clone it freely).
//! Handshakes are bounded by a timeout, so a client that opens a TCP
//! connection and never finishes the handshake is cut like a slowloris; the
//! handshake runs inside the connection's task, after the listener's
//! [`ConnectionGate`](crate::ConnectionGate) has counted it, so unfinished
//! handshakes count against the connection limits.
//!
//! The certificate is held by a resolver whose pair can be swapped:
//! [`ServerTls::reload`] (and SIGHUP, through
//! [`ServerTls::reload_on_sighup`]) reads the files again; new handshakes
//! get the new pair, connections already up keep theirs, and a broken new
//! pair is logged and the old one kept.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;

use super::files::{load_pair, LoadedPair};
use super::{provider, selfsigned, Fingerprint, TlsError, PROTOCOL_VERSIONS};
use crate::shutdown::Shutdown;

/// How long a client may take to finish its handshake, by default.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the certificate comes from.
#[derive(Debug, Clone)]
pub enum CertSource {
    /// `--tls-cert FILE --tls-key FILE`.
    Files {
        /// PEM certificate chain, leaf first.
        cert: PathBuf,
        /// PEM private key.
        key: PathBuf,
    },
    /// `--tls` alone: the self-signed certificate kept in this folder
    /// (see [`selfsigned::default_dir`]).
    SelfSigned {
        /// The store.
        dir: PathBuf,
    },
}

/// How a TLS listener is set up.
#[derive(Debug, Clone)]
pub struct ServerTlsOptions {
    /// The certificate.
    pub source: CertSource,
    /// Bound on one handshake (default [`DEFAULT_HANDSHAKE_TIMEOUT`]).
    pub handshake_timeout: Duration,
    /// ALPN protocols offered, most preferred first (`h2`, `http/1.1`);
    /// empty for none.
    pub alpn: Vec<Vec<u8>>,
}

impl ServerTlsOptions {
    /// Options for `source` with the default timeout and no ALPN.
    pub fn new(source: CertSource) -> Self {
        ServerTlsOptions { source, handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT, alpn: Vec::new() }
    }
}

/// The certificate pair in use, swappable while handshakes read it.
#[derive(Debug)]
struct SwappableCert {
    current: RwLock<LoadedPair>,
}

impl SwappableCert {
    fn get(&self) -> LoadedPair {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, pair: LoadedPair) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = pair;
    }
}

impl ResolvesServerCert for SwappableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(|p| p.into_inner()).key.clone())
    }
}

/// A TLS acceptor for one or more listeners. Cheap to clone.
#[derive(Clone)]
pub struct ServerTls {
    acceptor: TlsAcceptor,
    cert: Arc<SwappableCert>,
    files: Arc<(PathBuf, PathBuf)>,
    timeout: Duration,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").field("cert", &self.files.0).field("timeout", &self.timeout).finish()
    }
}

impl ServerTls {
    /// Loads (or, for [`CertSource::SelfSigned`], makes) the certificate and
    /// builds the acceptor. Errors name the file at fault.
    pub fn new(options: ServerTlsOptions) -> Result<Self, TlsError> {
        let provider = provider();
        let (pair, files) = match &options.source {
            CertSource::Files { cert, key } => (load_pair(cert, key, &provider)?, (cert.clone(), key.clone())),
            CertSource::SelfSigned { dir } => (selfsigned::ensure(dir, &provider)?, selfsigned::paths(dir)),
        };
        let cert = Arc::new(SwappableCert { current: RwLock::new(pair) });
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(PROTOCOL_VERSIONS)?
            .with_no_client_auth()
            .with_cert_resolver(cert.clone());
        config.alpn_protocols = options.alpn;
        Ok(ServerTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            cert,
            files: Arc::new(files),
            timeout: options.handshake_timeout,
        })
    }

    /// Runs the server side of the handshake on `stream`, within the
    /// handshake timeout (`TimedOut` when it passes).
    pub async fn accept<S>(&self, stream: S) -> io::Result<super::ServerStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        match tokio::time::timeout(self.timeout, self.acceptor.accept(stream)).await {
            Ok(r) => r.map(super::TlsStream::new),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("TLS handshake not finished within {:?}", self.timeout),
            )),
        }
    }

    /// [`accept`](Self::accept), cut short when `shutdown` fires (error kind
    /// `Interrupted`): what a connection task of a [`StreamServer`](crate::StreamServer)
    /// calls first, so a stopping server does not wait for slow handshakes.
    pub async fn accept_or_stop<S>(&self, stream: S, shutdown: &Shutdown) -> io::Result<super::ServerStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        tokio::select! {
            _ = shutdown.triggered() => Err(io::Error::new(io::ErrorKind::Interrupted, "the server is stopping")),
            r = self.accept(stream) => r,
        }
    }

    /// Reads the certificate and key files again. On success new handshakes
    /// use the new pair; on failure the old pair stays and the error says why.
    pub fn reload(&self) -> Result<Fingerprint, TlsError> {
        let (cert, key) = &*self.files;
        let pair = load_pair(cert, key, &provider())?;
        let fingerprint = pair.fingerprint;
        self.cert.set(pair);
        Ok(fingerprint)
    }

    /// Spawns a task that calls [`reload`](Self::reload) on every SIGHUP
    /// until `shutdown` fires, logging the outcome.
    pub fn reload_on_sighup(&self, shutdown: &Shutdown) {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot watch SIGHUP; TLS certificate reload is off");
            return;
        };
        let tls = self.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.triggered() => return,
                    got = hangups.recv() => if got.is_none() { return },
                }
                match tls.reload() {
                    Ok(fp) => {
                        tracing::info!(cert = %tls.cert_path().display(), sha256 = %fp, "SIGHUP: reloaded the TLS certificate")
                    }
                    Err(e) => tracing::error!("SIGHUP: TLS reload failed, keeping the old certificate: {e}"),
                }
            }
        });
    }

    /// SHA-256 of the certificate now served.
    pub fn fingerprint(&self) -> Fingerprint {
        self.cert.get().fingerprint
    }

    /// The bound on one handshake; a server that first peeks at what the
    /// client sent (to answer plain HTTP on an HTTPS port) bounds that too.
    pub fn handshake_timeout(&self) -> Duration {
        self.timeout
    }

    /// The certificate file.
    pub fn cert_path(&self) -> &Path {
        &self.files.0
    }

    /// The line printed after the `listening on` lines:
    /// `tls certificate PATH sha256 AB:CD:…`.
    pub fn announce_line(&self) -> String {
        format!("tls certificate {} sha256 {}", self.cert_path().display(), self.fingerprint())
    }

    /// Prints [`announce_line`](Self::announce_line) on stderr.
    pub fn announce(&self) {
        eprintln!("{}", self.announce_line());
    }
}
