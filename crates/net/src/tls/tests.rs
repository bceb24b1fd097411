//! Unit tests of the tls module: every PEM form a user may hand us (made by
//! the real `openssl` tool), the start-up errors, and handshakes in memory.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::files::load_pair;
use super::*;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is needed for these tests (scripts/test.sh installs it)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A key made by `keygen` (openssl arguments writing `name.key`) and a
/// self-signed certificate for `localhost` over it (`name.crt`).
fn pair(dir: &Path, name: &str, keygen: &[&str]) -> (PathBuf, PathBuf) {
    let key = format!("{name}.key");
    let crt = format!("{name}.crt");
    let mut args = keygen.to_vec();
    args.extend(["-out", &key]);
    openssl(dir, &args);
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            &key,
            "-subj",
            "/CN=localhost",
            "-days",
            "2",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-out",
            &crt,
        ],
    );
    (dir.join(crt), dir.join(key))
}

fn head(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap().lines().next().unwrap().to_string()
}

#[test]
fn every_key_type_and_encoding_loads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let provider = provider();
    let forms: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "rsa8",
            vec!["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            "-----BEGIN PRIVATE KEY-----",
        ),
        ("p256-sec1", vec!["ecparam", "-name", "prime256v1", "-genkey", "-noout"], "-----BEGIN EC PRIVATE KEY-----"),
        (
            "p256-8",
            vec!["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "-----BEGIN PRIVATE KEY-----",
        ),
        ("p384-sec1", vec!["ecparam", "-name", "secp384r1", "-genkey", "-noout"], "-----BEGIN EC PRIVATE KEY-----"),
        ("ed25519", vec!["genpkey", "-algorithm", "ED25519"], "-----BEGIN PRIVATE KEY-----"),
    ];
    for (name, keygen, pem_head) in forms {
        let (crt, key) = pair(d, name, &keygen);
        assert_eq!(head(&key), pem_head, "{name}");
        let loaded = load_pair(&crt, &key, &provider).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(loaded.key.cert.len(), 1);
    }
    // PKCS#1: the RSA key rewritten in its traditional form.
    openssl(d, &["rsa", "-in", "rsa8.key", "-traditional", "-out", "rsa1.key"]);
    assert_eq!(head(&d.join("rsa1.key")), "-----BEGIN RSA PRIVATE KEY-----");
    load_pair(&d.join("rsa8.crt"), &d.join("rsa1.key"), &provider).unwrap();
}

#[test]
fn a_full_chain_loads_and_verifies_against_its_ca() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(d, &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ca.key"]);
    openssl(d, &["req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=test CA", "-days", "2", "-out", "ca.crt"]);
    openssl(d, &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "leaf.key"]);
    openssl(d, &["req", "-new", "-key", "leaf.key", "-subj", "/CN=localhost", "-out", "leaf.csr"]);
    std::fs::write(d.join("ext"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext",
            "-out",
            "leaf.crt",
        ],
    );
    let chain = [std::fs::read(d.join("leaf.crt")).unwrap(), std::fs::read(d.join("ca.crt")).unwrap()].concat();
    std::fs::write(d.join("chain.crt"), chain).unwrap();
    let loaded = load_pair(&d.join("chain.crt"), &d.join("leaf.key"), &provider()).unwrap();
    assert_eq!(loaded.key.cert.len(), 2);

    let server =
        ServerTls::new(ServerTlsOptions::new(CertSource::Files { cert: d.join("chain.crt"), key: d.join("leaf.key") }))
            .unwrap();
    let client =
        ClientTls::new(&ClientTlsOptions { ca: Some(d.join("ca.crt")), ..Default::default() }, "localhost").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    assert_eq!(rt.block_on(round_trip(&server, &client)).unwrap(), b"ping");
}

#[test]
fn start_up_errors_name_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let provider = provider();
    let (crt_a, key_a) = pair(d, "a", &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    let (_crt_b, key_b) = pair(d, "b", &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    let text = |r: Result<files::LoadedPair, TlsError>| r.unwrap_err().to_string();

    let e = text(load_pair(&crt_a, &key_b, &provider));
    assert!(e.contains("b.key does not match the certificate in") && e.contains("a.crt"), "{e}");

    let missing = d.join("nope.pem");
    let e = text(load_pair(&missing, &key_a, &provider));
    assert!(e.starts_with("cannot read ") && e.contains("nope.pem") && e.contains("No such file"), "{e}");

    let e = text(load_pair(&key_a, &key_a, &provider));
    assert!(e.contains("a.key: no certificate found"), "{e}");

    let e = text(load_pair(&crt_a, &crt_a, &provider));
    assert!(e.contains("a.crt: no private key found"), "{e}");

    std::fs::write(d.join("garbage.crt"), "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n").unwrap();
    let e = text(load_pair(&d.join("garbage.crt"), &key_a, &provider));
    assert!(e.contains("garbage.crt: bad PEM"), "{e}");

    std::fs::write(d.join("notx509.crt"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
    let e = text(load_pair(&d.join("notx509.crt"), &key_a, &provider));
    assert!(e.contains("notx509.crt: not an X.509 certificate"), "{e}");

    openssl(d, &["pkcs8", "-topk8", "-in", "a.key", "-passout", "pass:secret", "-out", "enc.key"]);
    let e = text(load_pair(&crt_a, &d.join("enc.key"), &provider));
    assert!(e.contains("enc.key: the private key is encrypted"), "{e}");

    // Expired: rcgen can date a certificate in the past, openssl 3.0 cannot.
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2019, 1, 1);
    params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    std::fs::write(d.join("old.crt"), params.self_signed(&key).unwrap().pem()).unwrap();
    std::fs::write(d.join("old.key"), key.serialize_pem()).unwrap();
    let e = text(load_pair(&d.join("old.crt"), &d.join("old.key"), &provider));
    assert!(e.contains("old.crt: the certificate expired on") && e.contains("2020"), "{e}");

    params.not_before = rcgen::date_time_ymd(2999, 1, 1);
    params.not_after = rcgen::date_time_ymd(3000, 1, 1);
    std::fs::write(d.join("future.crt"), params.self_signed(&key).unwrap().pem()).unwrap();
    let e = text(load_pair(&d.join("future.crt"), &d.join("old.key"), &provider));
    assert!(e.contains("future.crt: the certificate is not valid before"), "{e}");
}

#[test]
fn self_signed_store_is_made_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("sockit").join("tls");
    let first = selfsigned::ensure(&store, &provider()).unwrap();
    let again = selfsigned::ensure(&store, &provider()).unwrap();
    assert_eq!(first.fingerprint, again.fingerprint);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(store.join("key.pem")).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the key must be private to its owner");
    let (_, cert) = x509_parser::parse_x509_certificate(&first.key.cert[0]).unwrap();
    let san = cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>();
    assert!(san.iter().any(|n| n == "DNSName(localhost)"), "{san:?}");
    assert!(san.iter().any(|n| n == "IPAddress(7f:00:00:01)"), "{san:?}");
}

#[test]
fn pin_insecure_and_name_checks() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerTls::new(ServerTlsOptions::new(CertSource::SelfSigned { dir: dir.path().join("tls") })).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ca = Some(server.cert_path().to_path_buf());

    let pinned =
        ClientTls::new(&ClientTlsOptions { pin: Some(server.fingerprint()), ..Default::default() }, "127.0.0.1")
            .unwrap();
    assert_eq!(rt.block_on(round_trip(&server, &pinned)).unwrap(), b"ping");

    let wrong = Fingerprint::of(b"another");
    let bad_pin = ClientTls::new(&ClientTlsOptions { pin: Some(wrong), ..Default::default() }, "127.0.0.1").unwrap();
    let e = rt.block_on(round_trip(&server, &bad_pin)).unwrap_err().to_string();
    assert!(e.contains("pin mismatch") && e.contains(&server.fingerprint().to_string()), "{e}");

    let by_ca = ClientTls::new(&ClientTlsOptions { ca: ca.clone(), ..Default::default() }, "localhost").unwrap();
    assert_eq!(rt.block_on(round_trip(&server, &by_ca)).unwrap(), b"ping");

    let wrong_name = ClientTls::new(
        &ClientTlsOptions { ca, sni: Some("elsewhere.example".into()), ..Default::default() },
        "localhost",
    )
    .unwrap();
    let e = rt.block_on(round_trip(&server, &wrong_name)).unwrap_err().to_string();
    assert!(e.contains("wrong name") && e.contains("elsewhere.example"), "{e}");

    let insecure =
        ClientTls::new(&ClientTlsOptions { insecure: true, ..Default::default() }, "nowhere.example").unwrap();
    assert_eq!(rt.block_on(round_trip(&server, &insecure)).unwrap(), b"ping");
}

#[test]
fn reload_swaps_the_pair_and_a_broken_one_keeps_the_old() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (crt, key) = pair(d, "live", &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    let server =
        ServerTls::new(ServerTlsOptions::new(CertSource::Files { cert: crt.clone(), key: key.clone() })).unwrap();
    let old = server.fingerprint();
    // A new key with the old certificate: a broken pair, refused.
    openssl(d, &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "live.key"]);
    assert!(matches!(server.reload(), Err(TlsError::KeyMismatch { .. })));
    assert_eq!(server.fingerprint(), old);
    // The matching certificate arrives: the reload takes it.
    pair_cert_only(d, "live");
    let new = server.reload().unwrap();
    assert_ne!(new, old);
    assert_eq!(server.fingerprint(), new);
    let client = ClientTls::new(&ClientTlsOptions { pin: Some(new), ..Default::default() }, "localhost").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    assert_eq!(rt.block_on(round_trip(&server, &client)).unwrap(), b"ping");
}

fn pair_cert_only(dir: &Path, name: &str) {
    let key = format!("{name}.key");
    let crt = format!("{name}.crt");
    openssl(dir, &["req", "-x509", "-new", "-key", &key, "-subj", "/CN=localhost", "-days", "2", "-out", &crt]);
}

/// One handshake over an in-memory pipe; the server echoes four bytes.
async fn round_trip(server: &ServerTls, client: &ClientTls) -> std::io::Result<Vec<u8>> {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let server = server.clone();
    let serving = tokio::spawn(async move {
        let mut s = server.accept(b).await?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await?;
        s.write_all(&buf).await?;
        s.shutdown().await?;
        std::io::Result::Ok(())
    });
    let mut c = client.connect(a).await?;
    c.write_all(b"ping").await?;
    let mut got = Vec::new();
    c.read_to_end(&mut got).await?;
    let _ = serving.await;
    Ok(got)
}

#[test]
fn fingerprint_round_trips_in_every_written_form() {
    let fp = Fingerprint::of(b"certificate");
    let shown = fp.to_string();
    assert_eq!(shown.len(), 32 * 3 - 1);
    assert_eq!(Fingerprint::parse(&shown).unwrap(), fp);
    assert_eq!(Fingerprint::parse(&shown.replace(':', "").to_lowercase()).unwrap(), fp);
    assert_eq!(Fingerprint::parse(&format!("SHA256:{shown}")).unwrap(), fp);
    assert!(Fingerprint::parse("AB:CD").is_err());
    assert!(Fingerprint::parse(&"zz".repeat(32)).is_err());
    assert!(Fingerprint::parse(&"é".repeat(32)).is_err());
}

proptest::proptest! {
    #[test]
    fn fingerprint_parse_never_panics_and_round_trips(text in "\\PC{0,120}", bytes in proptest::array::uniform32(proptest::num::u8::ANY)) {
        let _ = Fingerprint::parse(&text);
        let fp = Fingerprint(bytes);
        proptest::prop_assert_eq!(Fingerprint::parse(&fp.to_string()).unwrap(), fp);
    }

    #[test]
    fn pem_loaders_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048), wrap in proptest::bool::ANY) {
        let data = if wrap {
            let mut v = b"-----BEGIN CERTIFICATE-----\n".to_vec();
            v.extend(bytes);
            v.extend(b"\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
            v
        } else {
            bytes
        };
        let _ = files::parse_certs(Path::new("x.pem"), &data);
        let _ = files::parse_key(Path::new("x.pem"), &data);
    }
}
