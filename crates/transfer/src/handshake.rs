//! The hello exchange (magic, protocol version, roles, whether a code is
//! set, which AEAD the CPU runs fast), then the key agreement of
//! [`crate::secure::handshake`].
//!
//! Both sides send a hello at once (so neither waits on the other), then
//! check the peer's: a peer of another protocol version is told so, never
//! left hanging. The hello is the only plaintext of a session; everything
//! after the key confirmation is sealed ([`crate::secure`]).

use std::io::{Read, Write};

use crate::error::{Error, Result};
use crate::frame::{self, Kind};
use crate::secure::frames::{has_aes_instructions, Cipher};
use crate::secure::handshake::{agree, Agreement, Keys};

/// First bytes of every hello.
pub const MAGIC: &[u8; 8] = b"SOCKITFT";
/// The protocol version this build speaks (3: encrypted sessions, see
/// [`crate::secure`]; 2 added resume claims).
pub const VERSION: u16 = 3;
/// Bytes of a hello payload.
const HELLO_LEN: usize = 8 + 2 + 1 + 1 + 32;
/// Hello flag: the side has a code.
pub const FLAG_CODE: u8 = 1;
/// Hello flag: the side's CPU has AES instructions.
pub const FLAG_AES: u8 = 2;

/// Which end of the session we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Offers files.
    Sender = 1,
    /// Writes files.
    Receiver = 2,
}

/// A decoded hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// Protocol version.
    pub version: u16,
    /// Role byte as sent.
    pub role: u8,
    /// Flags: [`FLAG_CODE`], [`FLAG_AES`] (a version 2 peer sends only the first).
    pub flags: u8,
    /// Fresh random bytes (they make every transcript unique).
    pub nonce: [u8; 32],
}

impl Hello {
    /// Encodes the payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(HELLO_LEN);
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&self.version.to_be_bytes());
        b.push(self.role);
        b.push(self.flags);
        b.extend_from_slice(&self.nonce);
        b
    }

    /// Decodes and checks the magic.
    pub fn decode(p: &[u8]) -> Result<Hello> {
        if p.len() < HELLO_LEN || &p[..8] != MAGIC {
            return Err(not_sockit());
        }
        let mut nonce = [0u8; 32];
        nonce.copy_from_slice(&p[12..44]);
        Ok(Hello { version: u16::from_be_bytes([p[8], p[9]]), role: p[10], flags: p[11], nonce })
    }

    /// Whether the side has a code.
    pub fn has_code(&self) -> bool {
        self.flags & FLAG_CODE != 0
    }
}

fn not_sockit() -> Error {
    Error::Protocol(
        "the other side does not speak the sockit transfer protocol (a `--raw` peer, nc, or another program?)".into(),
    )
}

/// Normalises a code (see [`crate::secure::code::normalize`]).
pub fn normalize_code(code: &str) -> String {
    crate::secure::code::normalize(code)
}

/// Runs the hello exchange and the key agreement on a fresh connection;
/// `code` is `None` for an unauthenticated (`--no-code`) session. Returns
/// the session keys once both sides confirmed them.
pub fn handshake<S: Read + Write>(s: &mut S, role: Role, code: Option<&str>) -> Result<Keys> {
    let code = code.map(normalize_code);
    let aes = if has_aes_instructions() { FLAG_AES } else { 0 };
    let flags = if code.is_some() { FLAG_CODE } else { 0 } | aes;
    let ours = Hello { version: VERSION, role: role as u8, flags, nonce: rand::random() };
    let ours_bytes = ours.encode();
    frame::write_frame(s, Kind::Hello, &ours_bytes)?;
    s.flush().map_err(|e| Error::net("during the hello", e))?;
    let h = frame::read_header(s)?.ok_or(Error::Closed("before the hello"))?;
    if h.kind != Kind::Hello && h.kind != Kind::Error {
        return Err(not_sockit());
    }
    let mut payload = Vec::new();
    frame::read_payload(s, h.len, &mut payload)?;
    if h.kind == Kind::Error {
        // A listener that cannot take us now says why instead of a hello
        // ("busy: another transfer is in progress, try again").
        return Err(frame::peer_error(&payload));
    }
    let peer = Hello::decode(&payload)?;
    if peer.version != VERSION {
        return Err(Error::Protocol(format!(
            "the other side speaks protocol version {}, this sockit speaks {VERSION} — use the same sockit release on both machines",
            peer.version
        )));
    }
    if peer.role == role as u8 {
        let (a, b) = if role == Role::Sender { ("senders", "receive") } else { ("receivers", "send") };
        return Err(Error::Protocol(format!("both sides are {a} — run `sockit {b}` on the other machine")));
    }
    match (&code, peer.has_code()) {
        (None, false) | (Some(_), true) => {}
        (Some(_), false) => {
            return Err(Error::Auth(
                "this side has a code but the other side runs with --no-code — give both sides the same code".into(),
            ))
        }
        (None, true) => {
            return Err(Error::Auth(
                "the other side requires a code — pass the code it printed with --code WORDS".into(),
            ))
        }
    }
    let cipher = if aes != 0 && peer.flags & FLAG_AES != 0 { Cipher::Aes256Gcm } else { Cipher::ChaCha20Poly1305 };
    let agreement = Agreement { role, code: code.as_deref(), ours: &ours_bytes, theirs: &payload, cipher };
    agree(s, &agreement)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn pair(a: Option<&'static str>, b: Option<&'static str>) -> (Result<Keys>, Result<Keys>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            handshake(&mut s, Role::Sender, a)
        });
        let (mut s, _) = l.accept().unwrap();
        let r = handshake(&mut s, Role::Receiver, b);
        (t.join().unwrap(), r)
    }

    #[test]
    fn matching_codes_agree_on_crossed_keys() {
        let (a, b) = pair(Some("Purple monkey"), Some("purple-monkey"));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.send, b.recv);
        assert_eq!(a.recv, b.send);
        assert_ne!(a.send, a.recv);
        assert_eq!(a.cipher, b.cipher);
        // Every session gets fresh keys, even with the same code.
        let (c, _) = pair(Some("purple monkey"), Some("purple monkey"));
        assert_ne!(c.unwrap().send, a.send);
    }

    #[test]
    fn wrong_or_missing_codes_fail_on_both_sides() {
        let (a, b) = pair(Some("one"), Some("two"));
        assert!(a.unwrap_err().to_string().contains("wrong code"));
        assert!(b.unwrap_err().to_string().contains("wrong code"));
        let (a, b) = pair(None, Some("x"));
        assert!(a.is_err() && b.is_err());
        let (a, b) = pair(None, None);
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.send, b.recv);
    }

    #[test]
    fn an_old_peer_is_told_the_version() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            let old = Hello { version: 2, role: 1, flags: 0, nonce: [0; 32] };
            frame::write_frame(&mut s, Kind::Hello, &old.encode()).unwrap();
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        });
        let (mut s, _) = l.accept().unwrap();
        let e = handshake(&mut s, Role::Receiver, None).unwrap_err().to_string();
        assert!(e.contains("speaks protocol version 2"), "{e}");
        drop(s);
        t.join().unwrap();
    }

    #[test]
    fn hello_round_trip_and_garbage() {
        let h = Hello { version: 1, role: 2, flags: 3, nonce: [7; 32] };
        assert_eq!(Hello::decode(&h.encode()).unwrap(), h);
        assert!(Hello::decode(b"Hello server!").is_err());
    }
}
