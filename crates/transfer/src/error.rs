//! Errors of a transfer session, worded for the person at either end.

use std::io;

/// Why a session (or one step of it) failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A local file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What we were doing.
        what: String,
        /// The OS error.
        source: io::Error,
    },
    /// The peer broke the protocol (bad frame, bad field, truncated stream).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The peer ended the session with an error message.
    #[error("the other side refused: {0}")]
    PeerRefused(String),
    /// We refused what the peer offered (unsafe path, too big, no space …).
    #[error("refused: {0}")]
    Refused(String),
    /// The shared code did not match, or only one side had one.
    #[error("{0}")]
    Auth(String),
    /// The two sides' codes differ (key confirmation failed).
    #[error("wrong code — the two sides' codes differ; nothing was sent")]
    WrongCode,
    /// The connection closed before the session finished.
    #[error("connection closed {0} — run the same commands again to resume")]
    Closed(&'static str),
    /// The session failed before any file name or byte moved (wrong code,
    /// not a sockit peer, a stranger who hung up): a listener keeps listening.
    #[error(transparent)]
    Handshake(Box<Error>),
    /// The session ended after the hello but before any file data moved
    /// (a refused manifest, a peer that hung up or went silent, a listener
    /// that was busy): a listener keeps listening, since nothing happened
    /// that the person running it needs to hear about as a result.
    #[error(transparent)]
    Abandoned(Box<Error>),
    /// Some files failed verification or could not be written.
    #[error("{failed} file(s) failed: {first}")]
    FilesFailed {
        /// How many failed.
        failed: usize,
        /// The first failure, for the message.
        first: String,
    },
}

impl Error {
    /// Wraps an I/O error with what we were doing.
    pub fn io(what: impl Into<String>, source: io::Error) -> Self {
        Error::Io { what: what.into(), source }
    }

    /// Marks an error of the hello exchange as [`Error::Handshake`].
    pub fn handshake(e: Error) -> Self {
        Error::Handshake(Box::new(e))
    }

    /// Marks an error as [`Error::Abandoned`] (unless it is a handshake
    /// error already).
    pub fn abandoned(e: Error) -> Self {
        match e {
            Error::Handshake(_) | Error::Abandoned(_) => e,
            e => Error::Abandoned(Box::new(e)),
        }
    }

    /// Whether the session failed on a wrong code.
    pub fn is_wrong_code(&self) -> bool {
        match self {
            Error::WrongCode => true,
            Error::Handshake(e) | Error::Abandoned(e) => e.is_wrong_code(),
            _ => false,
        }
    }

    /// Whether the session ended before any file data moved, so that a
    /// listener should not count it.
    pub fn nothing_moved(&self) -> bool {
        matches!(self, Error::Handshake(_) | Error::Abandoned(_))
    }

    /// A peer's JSON that did not parse. serde's message can quote the
    /// peer's bytes, so it is escaped for the terminals it will reach.
    pub fn json(what: &str, e: &serde_json::Error) -> Self {
        Error::Protocol(format!("{what}: {}", sockit_net::text::escape_untrusted(&e.to_string())))
    }

    /// An I/O error on the connection: an unexpected EOF or reset becomes
    /// [`Error::Closed`], anything else stays an I/O error.
    pub fn net(during: &'static str, source: io::Error) -> Self {
        match source.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => Error::Closed(during),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                Error::io(format!("the other side went silent {during}"), source)
            }
            _ => Error::io(format!("network error {during}"), source),
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
