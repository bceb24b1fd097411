//! The registry's typed errors: a code an IRC transport maps to a numeric,
//! and the text a line member reads after `! `.

/// What went wrong, in IRC's terms (each maps to one numeric reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// No member has that nick (401).
    NoSuchNick,
    /// No such room, or not a valid room name (403).
    NoSuchChannel,
    /// The asking member is not in that room (442).
    NotOnChannel,
    /// The member acted upon is not in that room (441).
    UserNotInChannel,
    /// The member acted upon is already in that room (443).
    UserOnChannel,
    /// The nick is taken, or looks like one that is (433).
    NickInUse,
    /// The nick breaks the rules (432).
    ErroneousNick,
    /// Only a room operator may do that (482).
    ChanOpNeeded,
    /// A ban mask matches the member (474).
    BannedFromChan,
    /// The room is `+i` and the member was not invited (473).
    InviteOnlyChan,
    /// The room is `+k` and the key is missing or wrong (475).
    BadChannelKey,
    /// The room is `+l` and full (471).
    ChannelIsFull,
    /// The member is in `--max-rooms-per-member` rooms already (405).
    TooManyChannels,
    /// The member may not speak in that room (404).
    CannotSendToChan,
    /// A command lacks an argument (461).
    NeedMoreParams,
    /// No such mode letter (472).
    UnknownMode,
    /// The room has a key already (467).
    KeySet,
    /// The server or this address is at its member limit.
    ServerFull,
    /// Anything else (the text says what).
    Other,
}

/// A refused request: its code and the text shown to a line member after `! `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct HubError {
    /// The kind, for numerics.
    pub code: ErrorCode,
    /// Exactly what a text member reads after `! `.
    pub text: String,
}

impl HubError {
    /// An error of `code` reading `text`.
    pub fn new(code: ErrorCode, text: impl Into<String>) -> Self {
        HubError { code, text: text.into() }
    }

    /// The registry has stopped (shutdown).
    pub(crate) fn stopped() -> Self {
        Self::new(ErrorCode::Other, "server is shutting down")
    }

    pub(crate) fn not_registered() -> Self {
        Self::new(ErrorCode::Other, "you are not registered")
    }

    pub(crate) fn no_such_nick(nick: &str) -> Self {
        Self::new(ErrorCode::NoSuchNick, format!("no such nick {nick}"))
    }

    pub(crate) fn no_such_room(room: &str) -> Self {
        Self::new(ErrorCode::NoSuchChannel, format!("no such room {room}"))
    }

    pub(crate) fn not_in(room: &str) -> Self {
        Self::new(ErrorCode::NotOnChannel, format!("you are not in {room}"))
    }

    pub(crate) fn op_needed(room: &str) -> Self {
        Self::new(ErrorCode::ChanOpNeeded, format!("you are not an operator of {room}"))
    }

    pub(crate) fn too_many_rooms(max: usize) -> Self {
        Self::new(ErrorCode::TooManyChannels, format!("you are in {max} rooms, the limit: /part one first"))
    }

    pub(crate) fn they_are_not_in(nick: &str, room: &str) -> Self {
        Self::new(ErrorCode::UserNotInChannel, format!("{nick} is not in {room}"))
    }
}
