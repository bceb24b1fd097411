//! IRC members (issue #17): the protocol pieces, each pure and tested on
//! its own. The connection task that joins them to the hub comes later.
//!
//! - [`message`]: parse and write IRC lines (tags, source, command,
//!   parameters) within the protocol's byte limits.
//! - [`numeric`]: the numeric replies by name.
//! - [`casemap`]: `CASEMAPPING=ascii` and its folding.
//! - [`nick`]: which nicks IRC clients may take, and the IRC-safe form of
//!   other members' nicks ([`punycode`] for the non-ASCII ones).
//! - [`caps`]: CAP negotiation state.
//! - [`isupport`]: the `005` tokens.

pub mod caps;
pub mod casemap;
pub mod isupport;
pub mod message;
pub mod nick;
pub mod numeric;
pub mod punycode;
