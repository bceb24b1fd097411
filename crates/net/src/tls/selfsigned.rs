//! The certificate `--tls` serves when no `--tls-cert` is given: self-signed,
//! made once and kept in the user's data directory
//! (`~/.local/share/sockit/tls/` on Linux, `$XDG_DATA_HOME` honoured), so its
//! fingerprint is the same tomorrow, a pin keeps working and a browser
//! exception stays valid.
//!
//! It names `localhost`, the machine's host name, 127.0.0.1, ::1 and the LAN
//! addresses the machine had when it was made; it is valid for 825 days (the
//! longest Apple's TLS clients accept) and made anew, with a warning, once it
//! is within 30 days of its end.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rustls::crypto::CryptoProvider;

use super::files::{load_pair, LoadedPair};
use super::TlsError;

/// File names inside the store.
const CERT_FILE: &str = "cert.pem";
const KEY_FILE: &str = "key.pem";
/// Validity of a new certificate.
const VALID_DAYS: i64 = 825;
/// Renew when fewer days than this are left.
const RENEW_DAYS: i64 = 30;

/// Where the self-signed certificate lives: `DATA_DIR/sockit/tls`.
pub fn default_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("sockit").join("tls"))
}

/// The certificate and key files of the store in `dir`.
pub fn paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join(CERT_FILE), dir.join(KEY_FILE))
}

/// Loads the stored certificate, making it first if there is none (or the
/// stored one is about to expire).
pub fn ensure(dir: &Path, provider: &CryptoProvider) -> Result<LoadedPair, TlsError> {
    let (cert, key) = paths(dir);
    if cert.exists() || key.exists() {
        match load_pair(&cert, &key, provider) {
            Ok(pair) if !expires_soon(&pair) => return Ok(pair),
            Ok(_) | Err(TlsError::Expired { .. }) => {
                tracing::warn!(dir = %dir.display(), "the self-signed certificate is about to expire; making a new one (its fingerprint changes)");
                renew(dir)?;
            }
            // Someone else's file, or damaged: not ours to overwrite silently.
            Err(e) => return Err(e),
        }
    } else {
        create(dir)?;
    }
    load_pair(&cert, &key, provider)
}

fn expires_soon(pair: &LoadedPair) -> bool {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(&pair.key.cert[0]) else {
        return true;
    };
    cert.validity().not_after.timestamp() - super::files::now_unix() < RENEW_DAYS * 86_400
}

/// Moves the old store aside (kept as `tls.old`) and makes a new one.
fn renew(dir: &Path) -> Result<(), TlsError> {
    let old = dir.with_extension("old");
    let _ = std::fs::remove_dir_all(&old);
    std::fs::rename(dir, &old).map_err(|e| store_error(dir, format!("cannot move the old certificate aside: {e}")))?;
    create(dir)
}

/// Writes a new certificate and key into `dir`, atomically: both go into a
/// private temporary folder that is then renamed to `dir`. When another
/// process wins the race the rename fails and its pair is used, so the
/// certificate and key on disk always belong together.
fn create(dir: &Path) -> Result<(), TlsError> {
    let parent = dir.parent().ok_or_else(|| store_error(dir, "no parent folder".into()))?;
    std::fs::create_dir_all(parent).map_err(|e| store_error(dir, e.to_string()))?;
    let staging = parent.join(format!(".tls-new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    private_dir(&staging).map_err(|e| store_error(dir, e.to_string()))?;
    let written = generate().and_then(|(cert_pem, key_pem)| {
        write_private(&staging.join(KEY_FILE), key_pem.as_bytes())
            .and_then(|()| write_private(&staging.join(CERT_FILE), cert_pem.as_bytes()))
            .map_err(|e| e.to_string())
    });
    if let Err(detail) = written {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(store_error(dir, detail));
    }
    match std::fs::rename(&staging, dir) {
        Ok(()) => {
            // Said at debug level: the announce line names the file anyway, and
            // the `listening on` lines must come first.
            tracing::debug!(dir = %dir.display(), "made a self-signed TLS certificate");
            Ok(())
        }
        Err(_) if dir.join(CERT_FILE).exists() => {
            let _ = std::fs::remove_dir_all(&staging);
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(store_error(dir, e.to_string()))
        }
    }
}

/// A new ECDSA P-256 key and a certificate for it, both PEM.
fn generate() -> Result<(String, String), String> {
    let mut names = vec!["localhost".to_string()];
    if let Some(host) = host_name() {
        names.push(host);
    }
    let mut ips: Vec<IpAddr> = vec![[127, 0, 0, 1].into(), std::net::Ipv6Addr::LOCALHOST.into()];
    ips.extend(crate::addr::lan_addresses());
    names.extend(ips.iter().map(IpAddr::to_string));
    names.dedup();
    let mut params = rcgen::CertificateParams::new(names).map_err(|e| e.to_string())?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(
        rcgen::DnType::CommonName,
        format!("sockit self-signed ({})", host_name().as_deref().unwrap_or("localhost")),
    );
    params.distinguished_name = dn;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(VALID_DAYS);
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// The machine's host name, when it is a usable DNS name. Read from the
/// kernel (Linux) rather than through a crate: one small file.
fn host_name() -> Option<String> {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()?;
    let name = raw.trim().to_ascii_lowercase();
    let valid = !name.is_empty()
        && name != "localhost"
        && name.len() <= 253
        && name
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    valid.then_some(name)
}

fn private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o700).create(path)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn store_error(dir: &Path, detail: String) -> TlsError {
    TlsError::SelfSigned { dir: dir.to_path_buf(), detail }
}
