//! Reading certificates and private keys from PEM files.
//!
//! A certificate file may hold a full chain (leaf first, as every CA ships
//! it); a key file one private key in PKCS#8 (`PRIVATE KEY`), SEC1
//! (`EC PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`) form, RSA, ECDSA
//! (P-256, P-384) or Ed25519. Every check that can fail at start-up does:
//! a file that is missing or unreadable, holds no PEM, an expired or
//! not-yet-valid leaf, a key that is not the certificate's. Each gives one
//! [`TlsError`] naming the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use super::{Fingerprint, TlsError};

/// A certificate chain with its key, checked and ready to serve.
#[derive(Debug, Clone)]
pub struct LoadedPair {
    /// What rustls serves.
    pub key: Arc<CertifiedKey>,
    /// SHA-256 of the leaf certificate.
    pub fingerprint: Fingerprint,
    /// The certificate file.
    pub cert_path: PathBuf,
}

/// Loads and checks a certificate chain and its private key.
pub fn load_pair(cert_path: &Path, key_path: &Path, provider: &CryptoProvider) -> Result<LoadedPair, TlsError> {
    let chain = load_certs(cert_path)?;
    check_validity(cert_path, &chain[0], now_unix())?;
    let key = load_key(key_path)?;
    let signing = provider.key_provider.load_private_key(key).map_err(|e| TlsError::Malformed {
        path: key_path.to_path_buf(),
        detail: format!("unsupported private key ({e}); RSA 2048+, ECDSA P-256/P-384 and Ed25519 are supported"),
    })?;
    let fingerprint = Fingerprint::of(&chain[0]);
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            return Err(TlsError::KeyMismatch { cert: cert_path.to_path_buf(), key: key_path.to_path_buf() })
        }
        Err(e) => {
            return Err(TlsError::Malformed {
                path: cert_path.to_path_buf(),
                detail: format!("cannot check the certificate against {}: {e}", key_path.display()),
            })
        }
    }
    Ok(LoadedPair { key: Arc::new(certified), fingerprint, cert_path: cert_path.to_path_buf() })
}

/// Every certificate in a PEM file, in order (for a chain: leaf first).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    parse_certs(path, &read(path)?)
}

/// Every certificate in PEM `bytes` read from `path` (named in errors).
pub fn parse_certs(path: &Path, bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs =
        CertificateDer::pem_slice_iter(bytes).collect::<Result<Vec<_>, _>>().map_err(|e| malformed_pem(path, e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate { path: path.to_path_buf() });
    }
    for cert in &certs {
        if let Err(e) = x509_parser::parse_x509_certificate(cert) {
            return Err(TlsError::Malformed {
                path: path.to_path_buf(),
                detail: format!("not an X.509 certificate: {e}"),
            });
        }
    }
    Ok(certs)
}

/// The first private key in a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    parse_key(path, &read(path)?)
}

/// The first private key in PEM `bytes` read from `path` (named in errors).
pub fn parse_key(path: &Path, bytes: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    match PrivateKeyDer::from_pem_slice(bytes) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) if contains(bytes, b"ENCRYPTED PRIVATE KEY") => Err(TlsError::Malformed {
            path: path.to_path_buf(),
            detail: "the private key is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN)".into(),
        }),
        Err(pem::Error::NoItemsFound) => Err(TlsError::NoKey { path: path.to_path_buf() }),
        Err(e) => Err(malformed_pem(path, e)),
    }
}

/// Fails when the certificate is outside its validity period at `now`
/// (seconds since the Unix epoch).
pub fn check_validity(path: &Path, cert: &CertificateDer<'_>, now: i64) -> Result<(), TlsError> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).map_err(|e| TlsError::Malformed {
        path: path.to_path_buf(),
        detail: format!("not an X.509 certificate: {e}"),
    })?;
    let validity = parsed.validity();
    if now > validity.not_after.timestamp() {
        return Err(TlsError::Expired { path: path.to_path_buf(), not_after: validity.not_after.to_string() });
    }
    if now < validity.not_before.timestamp() {
        return Err(TlsError::NotYetValid { path: path.to_path_buf(), not_before: validity.not_before.to_string() });
    }
    Ok(())
}

/// Seconds since the Unix epoch.
pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read { path: path.to_path_buf(), source })
}

fn malformed_pem(path: &Path, e: pem::Error) -> TlsError {
    TlsError::Malformed { path: path.to_path_buf(), detail: format!("bad PEM: {e}") }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
