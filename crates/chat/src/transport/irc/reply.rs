//! A member's replies as IRC lines, and the one table that turns a hub
//! error into the numeric the Modern IRC documents name for it.

use bytes::Bytes;

use super::line::write_fit;
use super::message::Message;
use super::numeric::*;
use super::SERVER_NAME;
use crate::hub::{ErrorCode, HubError};

/// What an error is about, for the parameters its numeric carries.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ctx<'a> {
    /// The command that failed.
    pub command: &'a str,
    /// The channel it named (`#room`).
    pub channel: Option<&'a str>,
    /// The nick (or mode letter) it named.
    pub target: Option<&'a str>,
}

/// The numeric for a hub error, and which of the context's parts go
/// before its text: `c` channel, `t` target, `m` command.
pub fn numeric_of(code: ErrorCode) -> (&'static str, &'static str) {
    match code {
        ErrorCode::NoSuchNick => (ERR_NOSUCHNICK, "t"),
        ErrorCode::NoSuchChannel => (ERR_NOSUCHCHANNEL, "c"),
        ErrorCode::NotOnChannel => (ERR_NOTONCHANNEL, "c"),
        ErrorCode::UserNotInChannel => (ERR_USERNOTINCHANNEL, "tc"),
        ErrorCode::UserOnChannel => (ERR_USERONCHANNEL, "tc"),
        ErrorCode::NickInUse => (ERR_NICKNAMEINUSE, "t"),
        ErrorCode::ErroneousNick => (ERR_ERRONEUSNICKNAME, "t"),
        ErrorCode::ChanOpNeeded => (ERR_CHANOPRIVSNEEDED, "c"),
        ErrorCode::BannedFromChan => (ERR_BANNEDFROMCHAN, "c"),
        ErrorCode::InviteOnlyChan => (ERR_INVITEONLYCHAN, "c"),
        ErrorCode::BadChannelKey => (ERR_BADCHANNELKEY, "c"),
        ErrorCode::ChannelIsFull => (ERR_CHANNELISFULL, "c"),
        ErrorCode::TooManyChannels => (ERR_TOOMANYCHANNELS, "c"),
        ErrorCode::CannotSendToChan => (ERR_CANNOTSENDTOCHAN, "c"),
        ErrorCode::NeedMoreParams => (ERR_NEEDMOREPARAMS, "m"),
        ErrorCode::UnknownMode => (ERR_UNKNOWNMODE, "t"),
        ErrorCode::KeySet => (ERR_KEYSET, "c"),
        ErrorCode::ServerFull | ErrorCode::Other => (ERR_UNKNOWNERROR, "m"),
    }
}

/// Lines for one member, gathered while it handles its input and handed
/// over in one piece.
#[derive(Debug, Default)]
pub struct Out {
    buf: Vec<u8>,
}

impl Out {
    /// A line of the server's: `:server COMMAND params…`.
    pub fn server(&mut self, command: &str, params: &[&str]) {
        let m = Message { source: Some(SERVER_NAME), ..Message::new(command, params.to_vec()) };
        write_fit(&m, &mut self.buf);
    }

    /// A numeric for `nick`: `:server CODE nick params…`.
    pub fn numeric(&mut self, nick: &str, code: &str, params: &[&str]) {
        let mut all = Vec::with_capacity(params.len() + 1);
        all.push(nick);
        all.extend_from_slice(params);
        self.server(code, &all);
    }

    /// Any message, as it is.
    pub fn message(&mut self, m: &Message<'_>) {
        write_fit(m, &mut self.buf);
    }

    /// Bytes written already (the caller's own lines).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The numeric for hub error `e`, with the parts of `ctx` it needs and
    /// the hub's text (what a line member reads after `! `) as its text.
    pub fn hub_error(&mut self, nick: &str, e: &HubError, ctx: Ctx<'_>) {
        let (code, parts) = numeric_of(e.code);
        let mut params: Vec<&str> = parts
            .chars()
            .map(|p| match p {
                'c' => ctx.channel.unwrap_or("*"),
                't' => ctx.target.unwrap_or("*"),
                _ => ctx.command,
            })
            .collect();
        params.push(&e.text);
        self.numeric(nick, code, &params);
    }

    /// Whether nothing is gathered.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Bytes gathered so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Takes what is gathered.
    pub fn take(&mut self) -> Bytes {
        Bytes::from(std::mem::take(&mut self.buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_their_context() {
        let mut out = Out::default();
        let ctx = Ctx { command: "KICK", channel: Some("#dev"), target: Some("bob") };
        out.hub_error("al", &HubError::new(ErrorCode::UserNotInChannel, "bob is not in dev"), ctx);
        out.hub_error("al", &HubError::new(ErrorCode::NeedMoreParams, "usage"), ctx);
        out.hub_error("al", &HubError::new(ErrorCode::ChanOpNeeded, "not an operator"), ctx);
        assert_eq!(
            String::from_utf8(out.take().to_vec()).unwrap(),
            ":irc.sockit 441 al bob #dev :bob is not in dev\r\n:irc.sockit 461 al KICK usage\r\n:irc.sockit 482 al #dev :not an operator\r\n"
        );
        for code in [ErrorCode::NoSuchNick, ErrorCode::Other, ErrorCode::KeySet] {
            assert_eq!(numeric_of(code).0.len(), 3);
        }
    }
}
