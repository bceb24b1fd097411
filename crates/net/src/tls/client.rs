//! The client side: [`ClientTls`] connects and verifies the server.
//!
//! By default the server's chain is verified against the system's trust
//! store and its name against the host we dialled (or `--sni NAME`).
//! `--tls-ca FILE` trusts the certificates in FILE instead (a private CA, or
//! a self-signed server certificate itself). `--pin SHA256` accepts exactly
//! the server certificate with that fingerprint, whatever it names or who
//! signed it (the handshake signature is still checked, so a peer without
//! the key cannot pass). `--insecure` verifies nothing.
//!
//! A failed verification is turned into a sentence by [`explain`]: unknown
//! issuer, wrong name, expired, pin mismatch.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;

use super::files::load_certs;
use super::{provider, Fingerprint, TlsError, PROTOCOL_VERSIONS};

/// How the client verifies the server.
#[derive(Debug, Clone, Default)]
pub struct ClientTlsOptions {
    /// Trust these certificates (PEM) instead of the system store.
    pub ca: Option<PathBuf>,
    /// Accept only the server certificate with this fingerprint.
    pub pin: Option<Fingerprint>,
    /// Verify nothing.
    pub insecure: bool,
    /// The name to send (SNI) and verify; default: the host dialled.
    pub sni: Option<String>,
    /// ALPN protocols to offer.
    pub alpn: Vec<Vec<u8>>,
}

/// A configured connector for one server name.
#[derive(Clone)]
pub struct ClientTls {
    connector: TlsConnector,
    name: ServerName<'static>,
    /// For `--pin`: the fingerprint the server showed, for the error.
    seen: Option<Arc<Mutex<Option<Fingerprint>>>>,
    pin: Option<Fingerprint>,
}

impl ClientTls {
    /// Builds the connector; `host` is what was dialled (a name or an IP).
    pub fn new(options: &ClientTlsOptions, host: &str) -> Result<Self, TlsError> {
        let provider = provider();
        let name_text =
            options.sni.clone().unwrap_or_else(|| host.trim_start_matches('[').trim_end_matches(']').to_string());
        let name = ServerName::try_from(name_text.clone()).map_err(|_| TlsError::BadName(name_text))?;
        let builder =
            rustls::ClientConfig::builder_with_provider(provider.clone()).with_protocol_versions(PROTOCOL_VERSIONS)?;
        let mut seen = None;
        let mut config = if options.insecure {
            let any = EndEntity { pin: None, provider, seen: Arc::new(Mutex::new(None)) };
            builder.dangerous().with_custom_certificate_verifier(Arc::new(any))
        } else if let Some(pin) = options.pin {
            let slot = Arc::new(Mutex::new(None));
            seen = Some(slot.clone());
            let pinned = EndEntity { pin: Some(pin), provider, seen: slot };
            builder.dangerous().with_custom_certificate_verifier(Arc::new(pinned))
        } else {
            let roots = match &options.ca {
                Some(path) => {
                    let mut roots = RootCertStore::empty();
                    for cert in load_certs(path)? {
                        roots.add(cert).map_err(|e| TlsError::Malformed {
                            path: path.clone(),
                            detail: format!("cannot trust this certificate: {e}"),
                        })?;
                    }
                    roots
                }
                None => system_roots()?,
            };
            let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Config(rustls::Error::General(e.to_string())))?;
            builder.dangerous().with_custom_certificate_verifier(verifier)
        }
        .with_no_client_auth();
        config.alpn_protocols = options.alpn.clone();
        Ok(ClientTls { connector: TlsConnector::from(Arc::new(config)), name, seen, pin: options.pin })
    }

    /// Runs the client side of the handshake on `stream`. On a failed
    /// verification the error's text says why (see [`explain`]).
    pub async fn connect<S>(&self, stream: S) -> io::Result<super::ClientStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.connector.connect(self.name.clone(), stream).await.map(super::TlsStream::new).map_err(|e| {
            let seen = self.seen.as_ref().and_then(|s| *s.lock().unwrap_or_else(|p| p.into_inner()));
            io::Error::new(e.kind(), explain(&e, &self.name, self.pin.zip(seen)))
        })
    }

    /// The name sent and verified.
    pub fn server_name(&self) -> &ServerName<'static> {
        &self.name
    }
}

/// The system's trusted roots (honours `SSL_CERT_FILE` / `SSL_CERT_DIR`).
fn system_roots() -> Result<RootCertStore, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        tracing::debug!(error = %e, "while reading the system trust store");
    }
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(TlsError::NoTrustStore);
    }
    Ok(roots)
}

/// A handshake error as a sentence a person can act on. `pin` is
/// `(expected, seen)` when a pin was checked.
pub fn explain(e: &io::Error, name: &ServerName<'_>, pin: Option<(Fingerprint, Fingerprint)>) -> String {
    let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) else {
        return format!("TLS handshake failed: {e}");
    };
    let name = name.to_str();
    match tls {
        rustls::Error::InvalidCertificate(cert) => {
            let why = match cert {
                CertificateError::UnknownIssuer => {
                    "unknown issuer: the server's certificate is not signed by anyone we trust \
                     (self-signed? pass --tls-ca FILE, or --pin with the fingerprint the server printed)"
                        .to_string()
                }
                CertificateError::NotValidForName => format!("wrong name: the server's certificate is not valid for {name}"),
                CertificateError::NotValidForNameContext { presented, .. } => format!(
                    "wrong name: the server's certificate is not valid for {name} (it names {}); --sni NAME picks the name to check",
                    presented.iter().map(|n| plain_name(n)).collect::<Vec<_>>().join(", ")
                ),
                CertificateError::Expired => "expired: the server's certificate has expired".to_string(),
                CertificateError::ExpiredContext { not_after, .. } => format!(
                    "expired: the server's certificate expired at {} (Unix time)",
                    not_after.as_secs()
                ),
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "not yet valid: the server's certificate is dated in the future (check the clock)".to_string()
                }
                CertificateError::ApplicationVerificationFailure => match pin {
                    Some((want, got)) => format!("pin mismatch: the server's certificate has sha256 {got}, expected {want}"),
                    None => "pin mismatch".to_string(),
                },
                other => {
                    let text = format!("{other:?}");
                    if text.contains("CaUsedAsEndEntity") {
                        "the server's certificate is marked as a CA (basicConstraints CA:TRUE, the default of \
                         `openssl req -x509`), which cannot also serve as a server certificate; make it with \
                         -addext basicConstraints=critical,CA:FALSE, or connect with --pin"
                            .to_string()
                    } else {
                        text
                    }
                }
            };
            format!("certificate verification failed: {why}")
        }
        rustls::Error::AlertReceived(alert) => format!("the server refused the handshake (alert: {alert:?})"),
        rustls::Error::PeerIncompatible(why) => {
            format!("the server speaks no TLS version or cipher we accept: {why:?}")
        }
        other => format!("TLS handshake failed: {other}"),
    }
}

/// `DnsName("localhost")` / `IpAddress(127.0.0.1)` as rustls lists them,
/// shown as `localhost` / `127.0.0.1`.
fn plain_name(presented: &str) -> &str {
    let inner = presented
        .strip_prefix("DnsName(")
        .or_else(|| presented.strip_prefix("IpAddress("))
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(presented);
    inner.trim_matches('"')
}

/// Checks only the end-entity certificate: with a pin (`--pin`) it must
/// hash to it; without one (`--insecure`) any certificate passes. Either
/// way the handshake signatures are still checked, so the session keys are
/// at least the presenting server's.
#[derive(Debug)]
struct EndEntity {
    pin: Option<Fingerprint>,
    provider: Arc<CryptoProvider>,
    seen: Arc<Mutex<Option<Fingerprint>>>,
}

impl ServerCertVerifier for EndEntity {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = Fingerprint::of(end_entity);
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(got);
        if self.pin.is_none_or(|pin| pin == got) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
