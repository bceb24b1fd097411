//! The encrypted channel of a session: key agreement from the code
//! ([`handshake`]), sealed frames ([`frames`]), the stream the protocol runs
//! on ([`channel`]) and the codes themselves ([`code`]).
//!
//! See docs/protocol.md ("Encryption") for what this protects against and
//! what it does not.

pub mod channel;
pub mod code;
pub mod frames;
pub mod handshake;

pub use channel::SecureStream;
pub use handshake::Keys;
