//! Key agreement: SPAKE2 from the code, HKDF over the transcript, key
//! confirmation both ways.
//!
//! Why SPAKE2 (RustCrypto `spake2`, Ed25519 group) over CPace: it is what
//! magic-wormhole uses, a maintained crate implements it with the roles
//! (A/B) and identities we need, and its one weakness (a static password
//! element, so a compromise of the password lets an attacker act later)
//! does not matter for single-use codes. CPace has no crate as widely used.
//!
//! After both [`crate::handshake::Hello`]s:
//!
//! 1. each side sends a `Pake` frame: its SPAKE2 message, started as A
//!    (sender) or B (receiver) with identities that name the protocol
//!    version and the role, and the code (or, with `--no-code`, a fixed
//!    public password: then it is a plain ephemeral Diffie-Hellman);
//! 2. `th = SHA-256(label ‖ len-prefixed sender hello, receiver hello,
//!    sender message, receiver message)`, `prk = HKDF-Extract(th, K)`;
//!    four 32-byte keys are expanded from it: sender→receiver data,
//!    receiver→sender data, and one confirmation key per role;
//! 3. each side sends `Confirm` = HMAC-SHA256(own confirmation key, th)
//!    and checks the peer's in constant time. Only then does anything of
//!    the session (file names, sizes, resume proofs) move, sealed.
//!
//! A wrong code gives both sides different keys: the confirmation fails
//! and the attacker learned one guess's worth (an online guess), nothing
//! to test further guesses against offline.

use std::io::{Read, Write};

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use spake2::{Ed25519Group, Identity, Password, Spake2};

use super::frames::Cipher;
use crate::error::{Error, Result};
use crate::frame::{self, Kind};
use crate::handshake::{Role, VERSION};

/// Labels of the key schedule (domain separation, bound to the version).
const TRANSCRIPT_LABEL: &[u8] = b"sockit-transfer v3 transcript";
/// The password of an unauthenticated (`--no-code`) session: public on
/// purpose; the exchange is then an ephemeral key agreement only.
const NO_CODE_PASSWORD: &[u8] = b"sockit-transfer v3 no code";

/// The session's keys, as seen from one side.
#[derive(Clone)]
pub struct Keys {
    /// The AEAD both chose.
    pub cipher: Cipher,
    /// Key of the frames we send.
    pub send: [u8; 32],
    /// Key of the frames we receive.
    pub recv: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("cipher", &self.cipher).finish_non_exhaustive()
    }
}

/// The identity SPAKE2 binds for a role: version and role name.
fn identity(role: Role) -> Identity {
    let name = match role {
        Role::Sender => "sender",
        Role::Receiver => "receiver",
    };
    Identity::new(format!("sockit-transfer v{VERSION} {name}").as_bytes())
}

fn put(h: &mut Sha256, part: &[u8]) {
    h.update((part.len() as u64).to_be_bytes());
    h.update(part);
}

/// The hash of everything both sides said, sender's part first.
fn transcript(hello_s: &[u8], hello_r: &[u8], msg_s: &[u8], msg_r: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(TRANSCRIPT_LABEL);
    for part in [hello_s, hello_r, msg_s, msg_r] {
        put(&mut h, part);
    }
    h.finalize().into()
}

fn expand(hk: &Hkdf<Sha256>, label: &str) -> [u8; 32] {
    let mut k = [0u8; 32];
    // 32 bytes is far under HKDF-SHA256's 8160-byte limit: cannot fail.
    hk.expand(label.as_bytes(), &mut k).unwrap_or_else(|_| unreachable!());
    k
}

fn confirm_mac(key: &[u8; 32], th: &[u8; 32]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(th);
    mac
}

/// What one side knows going into the key agreement.
pub struct Agreement<'a> {
    /// Our role.
    pub role: Role,
    /// The normalised code, or `None` for `--no-code`.
    pub code: Option<&'a str>,
    /// Our hello payload and the peer's, as sent.
    pub ours: &'a [u8],
    /// The peer's hello payload.
    pub theirs: &'a [u8],
    /// The AEAD the two hellos agreed on.
    pub cipher: Cipher,
}

/// Runs the PAKE, derives the keys and confirms them both ways.
pub fn agree<S: Read + Write>(s: &mut S, a: &Agreement<'_>) -> Result<Keys> {
    let password = Password::new(a.code.map_or(NO_CODE_PASSWORD, str::as_bytes));
    let (id_s, id_r) = (identity(Role::Sender), identity(Role::Receiver));
    let (state, msg) = match a.role {
        Role::Sender => Spake2::<Ed25519Group>::start_a(&password, &id_s, &id_r),
        Role::Receiver => Spake2::<Ed25519Group>::start_b(&password, &id_s, &id_r),
    };
    frame::write_frame(s, Kind::Pake, &msg)?;
    s.flush().map_err(|e| Error::net("during the key exchange", e))?;
    let peer = frame::expect(s, Kind::Pake, "during the key exchange")?;
    let shared = state.finish(&peer).map_err(|_| Error::Protocol("invalid key exchange message".into()))?;
    let th = match a.role {
        Role::Sender => transcript(a.ours, a.theirs, &msg, &peer),
        Role::Receiver => transcript(a.theirs, a.ours, &peer, &msg),
    };
    let hk = Hkdf::<Sha256>::new(Some(&th), &shared);
    let s2r = expand(&hk, "sockit-transfer v3 sender to receiver data");
    let r2s = expand(&hk, "sockit-transfer v3 receiver to sender data");
    let conf_s = expand(&hk, "sockit-transfer v3 sender confirmation");
    let conf_r = expand(&hk, "sockit-transfer v3 receiver confirmation");
    let (mine, theirs, send, recv) = match a.role {
        Role::Sender => (conf_s, conf_r, s2r, r2s),
        Role::Receiver => (conf_r, conf_s, r2s, s2r),
    };
    frame::write_frame(s, Kind::Confirm, &confirm_mac(&mine, &th).finalize().into_bytes())?;
    s.flush().map_err(|e| Error::net("during the key confirmation", e))?;
    let proof = frame::expect(s, Kind::Confirm, "during the key confirmation")?;
    if confirm_mac(&theirs, &th).verify_slice(&proof).is_err() {
        frame::send_error(s, "wrong code");
        return Err(match a.code {
            Some(_) => Error::WrongCode,
            None => Error::Auth("key confirmation failed: the connection was tampered with; nothing was sent".into()),
        });
    }
    Ok(Keys { cipher: a.cipher, send, recv })
}
