//! sockit-chat: a chat room that TCP, UDP and browser members share.
//!
//! Not built yet: see issue "Chat room" and docs/protocol.md.
