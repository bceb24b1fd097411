//! TLS flags: [`ServerTlsArgs`] for every stream server (flatten it into the
//! server's args), [`ClientTlsArgs`] for `sockit connect`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use sockit_net::tls::{selfsigned, CertSource, ClientTls, ClientTlsOptions, Fingerprint, ServerTls, ServerTlsOptions};
use sockit_net::Shutdown;

/// `--tls`, `--tls-cert`, `--tls-key`, `--tls-handshake-timeout`.
#[derive(Args, Debug, Clone, Default)]
pub struct ServerTlsArgs {
    /// Serve TLS. Without --tls-cert, with a self-signed certificate made
    /// once and kept in DATA_DIR/sockit/tls (its fingerprint is printed).
    #[arg(long)]
    pub tls: bool,
    /// PEM certificate, or full chain with the leaf first (implies --tls).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert: PKCS#8, SEC1 or PKCS#1; RSA, ECDSA or Ed25519.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Cut a client that has not finished its TLS handshake within SECS.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub tls_handshake_timeout: f64,
}

impl ServerTlsArgs {
    /// Whether TLS was asked for.
    pub fn enabled(&self) -> bool {
        self.tls || self.tls_cert.is_some()
    }

    /// The acceptor, when TLS was asked for; `alpn` is what the service
    /// speaks (empty for raw byte streams). Loads and checks the files now,
    /// so a bad one stops the server at start-up.
    pub fn server(&self, alpn: &[&[u8]]) -> anyhow::Result<Option<ServerTls>> {
        if !self.enabled() {
            return Ok(None);
        }
        let source = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => CertSource::Files { cert: cert.clone(), key: key.clone() },
            _ => CertSource::SelfSigned {
                dir: selfsigned::default_dir()
                    .context("no data directory for the self-signed certificate (set HOME or XDG_DATA_HOME), or pass --tls-cert and --tls-key")?,
            },
        };
        let handshake_timeout = Duration::try_from_secs_f64(self.tls_handshake_timeout)
            .ok()
            .filter(|d| !d.is_zero())
            .context("--tls-handshake-timeout takes a positive number of seconds")?;
        let options = ServerTlsOptions { source, handshake_timeout, alpn: alpn.iter().map(|p| p.to_vec()).collect() };
        Ok(Some(ServerTls::new(options)?))
    }
}

/// Prints the certificate line after the `listening on` lines and reloads
/// the certificate on SIGHUP until `shutdown`.
pub fn announce_and_watch(tls: &ServerTls, shutdown: &Shutdown) {
    tls.announce();
    tls.reload_on_sighup(shutdown);
}

/// `--tls`, `--tls-ca`, `--pin`, `--insecure`, `--sni`, `--alpn`.
#[derive(Args, Debug, Clone, Default)]
pub struct ClientTlsArgs {
    /// Speak TLS, verifying the server against the system's trust store.
    /// Any other TLS flag implies it.
    #[arg(long)]
    pub tls: bool,
    /// Trust the certificates in FILE (PEM) instead of the system store:
    /// a private CA, or the server's own self-signed certificate.
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// Accept exactly the server certificate with this SHA-256 fingerprint
    /// (the one the server printed); its name and issuer are not checked.
    #[arg(long, value_name = "SHA256", conflicts_with = "tls_ca", value_parser = parse_pin)]
    pub pin: Option<Fingerprint>,
    /// Verify nothing: anyone on the path can read and change the connection.
    #[arg(long, conflicts_with_all = ["tls_ca", "pin"])]
    pub insecure: bool,
    /// Server name to send and verify (default: the host given).
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,
    /// ALPN protocols to offer, comma-separated (h2,http/1.1).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub alpn: Vec<String>,
}

impl ClientTlsArgs {
    /// Whether TLS was asked for.
    pub fn enabled(&self) -> bool {
        self.tls
            || self.tls_ca.is_some()
            || self.pin.is_some()
            || self.insecure
            || self.sni.is_some()
            || !self.alpn.is_empty()
    }

    /// The connector for `host`, when TLS was asked for.
    pub fn client(&self, host: &str) -> anyhow::Result<Option<ClientTls>> {
        if !self.enabled() {
            return Ok(None);
        }
        if self.insecure {
            eprintln!(
                "warning: --insecure: the server's certificate is NOT verified; anyone on the path can read and change this connection"
            );
        }
        let options = ClientTlsOptions {
            ca: self.tls_ca.clone(),
            pin: self.pin,
            insecure: self.insecure,
            sni: self.sni.clone(),
            alpn: self.alpn.iter().filter(|p| !p.is_empty()).map(|p| p.as_bytes().to_vec()).collect(),
        };
        Ok(Some(ClientTls::new(&options, host)?))
    }
}

/// `--pin` as clap parses it, so a malformed pin is a usage error (exit 2).
fn parse_pin(text: &str) -> Result<Fingerprint, String> {
    Fingerprint::parse(text).map_err(|e| e.to_string())
}
