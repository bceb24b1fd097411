//! Private messages between nodes: `/msg NICK` (and IRC `PRIVMSG NICK`) to
//! a member of another node goes to that node's channel
//! ([`keys::node_channel`]) as a [`Letter`]; the node holding the nick's
//! claim ([`super::nicks`]) is the recipient's node.
//!
//! The node channel also carries the bus's liveness probes. The bus
//! ([`super::bus`]) holds the node's one subscription to it, tells a
//! letter (`"t":"pm"`) from a probe with [`Letter::decode`], and hands
//! letters to the registry through the receiver [`super::bus::Bus::start`]
//! returns.

use serde::{Deserialize, Serialize};

use super::bounded::bounded;
use super::envelope::MAX_ENVELOPE;
use super::{keys, Cluster, ClusterError};

/// The tag every letter carries (`"t":"pm"`).
const TAG: &str = "pm";

/// A private message on its way to another node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Letter {
    /// Always [`TAG`]: tells letters from the channel's other traffic.
    pub t: String,
    /// The sender's nick.
    pub from: String,
    /// The sender's `user@host`.
    pub userhost: String,
    /// The recipient's nick, as the sender wrote it.
    pub to: String,
    /// The text (escaped by the sending node, as every member text is).
    pub text: String,
    /// Sent as an IRC NOTICE.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub notice: bool,
}

impl Letter {
    /// A letter from `from` (`userhost`) to `to`.
    pub fn new(from: &str, userhost: &str, to: &str, text: &str, notice: bool) -> Letter {
        Letter { t: TAG.into(), from: from.into(), userhost: userhost.into(), to: to.into(), text: text.into(), notice }
    }

    /// The letter in `payload`, or `None` for anything else on the
    /// channel (and for anything over [`MAX_ENVELOPE`], the bound on
    /// every payload a node takes from Redis).
    pub fn decode(payload: &[u8]) -> Option<Letter> {
        if payload.len() > MAX_ENVELOPE {
            return None;
        }
        serde_json::from_slice::<Letter>(payload).ok().filter(|l| l.t == TAG)
    }
}

/// Sends `letter` to node `node`; `false` if no subscriber got it (the
/// node is gone, or its subscription is down this moment).
pub async fn send(cluster: &Cluster, node: &str, letter: &Letter) -> Result<bool, ClusterError> {
    let payload = serde_json::to_string(letter).map_err(|e| cluster.unreachable(e))?;
    let mut conn = cluster.conn();
    let got: i64 =
        bounded(cluster, redis::cmd("PUBLISH").arg(keys::node_channel(node)).arg(payload).query_async(&mut conn))
            .await?;
    Ok(got > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn only_letters_are_letters() {
        let l = Letter::new("ann", "tcp@127.0.0.1", "bob", "hi", false);
        let json = serde_json::to_vec(&l).unwrap_or_default();
        assert_eq!(Letter::decode(&json), Some(l));
        assert_eq!(Letter::decode(br#"{"t":"probe","from":"a","userhost":"","to":"b","text":""}"#), None);
        assert_eq!(Letter::decode(b"probe 12"), None);
    }

    #[test]
    fn an_oversized_letter_is_refused() {
        let fits = Letter::new("ann", "u@h", "bob", &"x".repeat(MAX_ENVELOPE - 200), false);
        let json = serde_json::to_vec(&fits).unwrap_or_default();
        assert!(json.len() <= MAX_ENVELOPE);
        assert_eq!(Letter::decode(&json), Some(fits));
        let big = Letter::new("ann", "u@h", "bob", &"x".repeat(MAX_ENVELOPE), false);
        assert_eq!(Letter::decode(&serde_json::to_vec(&big).unwrap_or_default()), None);
    }

    proptest! {
        #[test]
        fn decode_never_panics(payload in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Letter::decode(&payload);
        }

        #[test]
        fn letters_round_trip(from in "\\PC{1,32}", to in "\\PC{1,32}", text in "\\PC{0,100}", notice: bool) {
            let l = Letter::new(&from, "u@h", &to, &text, notice);
            let json = serde_json::to_vec(&l).unwrap_or_default();
            prop_assert_eq!(Letter::decode(&json), Some(l));
        }
    }
}
