//! The hello exchange: magic, protocol version, roles, and the optional
//! shared-code proof.
//!
//! Both sides send a hello at once (so neither waits on the other), then
//! check the peer's. With `--code`, each side then sends
//! `HMAC-SHA256(code, label ‖ own role ‖ own nonce ‖ peer nonce)` and checks
//! the peer's the same way; the role byte stops a peer from reflecting our
//! own proof back. A sender sends its manifest only after the receiver's
//! proof checked out, and a receiver reads one only after the sender's did,
//! so no file name or byte moves under a wrong code. The code never crosses
//! the wire, but a passive listener who records a session could try to
//! guess a short code offline: use several words (see docs/protocol.md).

use std::io::{Read, Write};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::frame::{self, Kind};

/// First bytes of every hello.
pub const MAGIC: &[u8; 8] = b"SOCKITFT";
/// The protocol version this build speaks (2: resume claims, see
/// [`crate::claim`]).
pub const VERSION: u16 = 2;
/// Bytes of a hello payload.
const HELLO_LEN: usize = 8 + 2 + 1 + 1 + 32;
/// Domain separation for the HMAC.
const LABEL: &[u8] = b"sockit-transfer v1 code proof";

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
    /// Whether the side has a code.
    pub has_code: bool,
    /// Fresh random bytes for the code proof.
    pub nonce: [u8; 32],
}

impl Hello {
    /// Encodes the payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(HELLO_LEN);
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&self.version.to_be_bytes());
        b.push(self.role);
        b.push(u8::from(self.has_code));
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
        Ok(Hello { version: u16::from_be_bytes([p[8], p[9]]), role: p[10], has_code: p[11] & 1 == 1, nonce })
    }
}

fn not_sockit() -> Error {
    Error::Protocol(
        "the other side does not speak the sockit transfer protocol (a `--raw` peer, nc, or another program?)".into(),
    )
}

/// Normalises a code so `Purple Monkey-dishwasher` and `purple-monkey-dishwasher` match.
pub fn normalize_code(code: &str) -> String {
    code.split(|c: char| c.is_whitespace() || c == '-')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-")
        .to_lowercase()
}

fn proof(code: &str, role: u8, own: &[u8; 32], peer: &[u8; 32]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(code.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(LABEL);
    mac.update(&[role]);
    mac.update(own);
    mac.update(peer);
    mac
}

/// Runs the hello exchange (and the code proof) on a fresh connection.
pub fn handshake<S: Read + Write>(s: &mut S, role: Role, code: Option<&str>) -> Result<()> {
    let code = code.map(normalize_code);
    let ours = Hello { version: VERSION, role: role as u8, has_code: code.is_some(), nonce: rand::random() };
    frame::write_frame(s, Kind::Hello, &ours.encode())?;
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
    match (&code, peer.has_code) {
        (None, false) => return Ok(()),
        (Some(_), false) => {
            return Err(Error::Auth(
                "this side has --code but the other side has none — pass the same --code on both sides".into(),
            ))
        }
        (None, true) => return Err(Error::Auth("the other side requires a code — pass the same --code WORDS".into())),
        (Some(_), true) => {}
    }
    let code = code.as_deref().unwrap_or_default();
    let mine = proof(code, role as u8, &ours.nonce, &peer.nonce).finalize().into_bytes();
    frame::write_frame(s, Kind::Auth, &mine)?;
    let theirs = frame::expect(s, Kind::Auth, "during the code check")?;
    if proof(code, peer.role, &peer.nonce, &ours.nonce).verify_slice(&theirs).is_err() {
        frame::send_error(s, "wrong code");
        return Err(Error::Auth("wrong code — the two sides' --code differ; nothing was sent".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn pair(a: Option<&'static str>, b: Option<&'static str>) -> (Result<()>, Result<()>) {
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
    fn codes() {
        let (a, b) = pair(Some("Purple monkey"), Some("purple-monkey"));
        assert!(a.is_ok() && b.is_ok());
        let (a, b) = pair(Some("one"), Some("two"));
        assert!(a.unwrap_err().to_string().contains("wrong code"));
        assert!(b.unwrap_err().to_string().contains("wrong code"));
        let (a, b) = pair(None, Some("x"));
        assert!(a.is_err() && b.is_err());
        let (a, b) = pair(None, None);
        assert!(a.is_ok() && b.is_ok());
    }

    #[test]
    fn hello_round_trip_and_garbage() {
        let h = Hello { version: 1, role: 2, has_code: true, nonce: [7; 32] };
        assert_eq!(Hello::decode(&h.encode()).unwrap(), h);
        assert!(Hello::decode(b"Hello server!").is_err());
    }
}
