//! Shared helpers of the TLS integration tests (tls.rs, https.rs): a
//! scratch data directory for the self-signed certificate, CA-less pairs
//! made with openssl, the announced fingerprint.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use sockit_testkit::{bin, need, Sockit};

use super::T;

/// A peer process that is killed when the test ends, passing or not.
pub struct Peer(pub Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A scratch folder that also serves as the data directory, so `--tls`
/// keeps its self-signed certificate here and not in the user's home.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch { dir: tempfile::tempdir().unwrap() }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn sockit(&self) -> Command {
        let mut cmd = Command::new(bin());
        cmd.env("XDG_DATA_HOME", self.dir.path()).env("HOME", self.dir.path());
        cmd
    }

    pub fn self_signed_cert(&self) -> PathBuf {
        self.path("sockit/tls/cert.pem")
    }

    /// A key and a certificate for `names` (openssl SAN syntax), signed by
    /// itself: `NAME.crt`, `NAME.key`.
    pub fn pair(&self, name: &str, san: &str) -> (PathBuf, PathBuf) {
        let key = self.path(&format!("{name}.key"));
        let crt = self.path(&format!("{name}.crt"));
        openssl(&["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", s(&key)]);
        openssl(&[
            "req",
            "-x509",
            "-new",
            "-key",
            s(&key),
            "-subj",
            "/CN=test",
            "-days",
            "2",
            "-addext",
            &format!("subjectAltName={san}"),
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-out",
            s(&crt),
        ]);
        (crt, key)
    }
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn openssl(args: &[&str]) {
    need("openssl");
    let out = Command::new("openssl").args(args).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The fingerprint from the `tls certificate PATH sha256 FP` line.
pub fn announced_fingerprint(server: &Sockit) -> String {
    assert!(server.wait_stderr("tls certificate ", T), "no certificate line: {}", server.stderr());
    let text = server.stderr();
    let line = text.lines().find(|l| l.starts_with("tls certificate ")).unwrap();
    line.rsplit(' ').next().unwrap().to_string()
}

/// The SHA-256 fingerprint of a PEM certificate, as openssl prints it.
pub fn fingerprint_of(crt: &Path) -> String {
    let out =
        Command::new("openssl").args(["x509", "-in", s(crt), "-noout", "-fingerprint", "-sha256"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.trim().rsplit('=').next().unwrap().to_string()
}
