//! The numeric replies the server sends, by their names in the Modern IRC
//! documents (`RPL_*` replies, `ERR_*` errors). Each is the three-digit
//! command a reply line carries; the first parameter of every numeric is
//! the client's nick (`*` before it has one).
//!
//! `CAP` replies and `FAIL` standard replies are commands, not numerics:
//! [`CAP`] and [`FAIL`] name them.

/// `001`: "Welcome to the network" burst, first line.
pub const RPL_WELCOME: &str = "001";
/// `002`: "Your host is …".
pub const RPL_YOURHOST: &str = "002";
/// `003`: "This server was created …".
pub const RPL_CREATED: &str = "003";
/// `004`: server name, version, user and channel modes.
pub const RPL_MYINFO: &str = "004";
/// `005`: the server's tokens (see isupport).
pub const RPL_ISUPPORT: &str = "005";
/// `221`: a user's own modes.
pub const RPL_UMODEIS: &str = "221";
/// `251`: "There are N users …".
pub const RPL_LUSERCLIENT: &str = "251";
/// `252`: operators online.
pub const RPL_LUSEROP: &str = "252";
/// `253`: connections not yet registered.
pub const RPL_LUSERUNKNOWN: &str = "253";
/// `254`: channels formed.
pub const RPL_LUSERCHANNELS: &str = "254";
/// `255`: "I have N clients …".
pub const RPL_LUSERME: &str = "255";
/// `263`: a command refused for load; try again.
pub const RPL_TRYAGAIN: &str = "263";
/// `265`: current and most local users.
pub const RPL_LOCALUSERS: &str = "265";
/// `266`: current and most global users.
pub const RPL_GLOBALUSERS: &str = "266";
/// `301`: the target of a message or WHOIS is away.
pub const RPL_AWAY: &str = "301";
/// `302`: USERHOST replies.
pub const RPL_USERHOST: &str = "302";
/// `303`: ISON replies.
pub const RPL_ISON: &str = "303";
/// `305`: "You are no longer marked as being away".
pub const RPL_UNAWAY: &str = "305";
/// `306`: "You have been marked as being away".
pub const RPL_NOWAWAY: &str = "306";
/// `311`: WHOIS: nick user host * :realname.
pub const RPL_WHOISUSER: &str = "311";
/// `312`: WHOIS: the server the nick is on.
pub const RPL_WHOISSERVER: &str = "312";
/// `315`: end of a WHO reply.
pub const RPL_ENDOFWHO: &str = "315";
/// `317`: WHOIS: idle seconds and signon time.
pub const RPL_WHOISIDLE: &str = "317";
/// `318`: end of a WHOIS reply.
pub const RPL_ENDOFWHOIS: &str = "318";
/// `319`: WHOIS: the channels the nick is in.
pub const RPL_WHOISCHANNELS: &str = "319";
/// `321`: start of a LIST reply.
pub const RPL_LISTSTART: &str = "321";
/// `322`: LIST: one channel, its member count and topic.
pub const RPL_LIST: &str = "322";
/// `323`: end of a LIST reply.
pub const RPL_LISTEND: &str = "323";
/// `324`: a channel's modes.
pub const RPL_CHANNELMODEIS: &str = "324";
/// `329`: when a channel was created.
pub const RPL_CREATIONTIME: &str = "329";
/// `331`: the channel has no topic.
pub const RPL_NOTOPIC: &str = "331";
/// `332`: the channel's topic.
pub const RPL_TOPIC: &str = "332";
/// `333`: who set the topic, and when.
pub const RPL_TOPICWHOTIME: &str = "333";
/// `341`: the invitation was sent.
pub const RPL_INVITING: &str = "341";
/// `352`: WHO: one member.
pub const RPL_WHOREPLY: &str = "352";
/// `353`: NAMES: members of a channel.
pub const RPL_NAMREPLY: &str = "353";
/// `366`: end of a NAMES reply.
pub const RPL_ENDOFNAMES: &str = "366";
/// `367`: one ban mask of a channel.
pub const RPL_BANLIST: &str = "367";
/// `368`: end of the ban list.
pub const RPL_ENDOFBANLIST: &str = "368";
/// `372`: one line of the message of the day.
pub const RPL_MOTD: &str = "372";
/// `375`: start of the message of the day.
pub const RPL_MOTDSTART: &str = "375";
/// `376`: end of the message of the day.
pub const RPL_ENDOFMOTD: &str = "376";
/// `400`: a command failed for a reason no other numeric names.
pub const ERR_UNKNOWNERROR: &str = "400";
/// `401`: no such nick (or channel, for PRIVMSG).
pub const ERR_NOSUCHNICK: &str = "401";
/// `403`: no such channel, or a bad channel name.
pub const ERR_NOSUCHCHANNEL: &str = "403";
/// `404`: cannot send to the channel (+m, +n, banned).
pub const ERR_CANNOTSENDTOCHAN: &str = "404";
/// `405`: joined too many channels.
pub const ERR_TOOMANYCHANNELS: &str = "405";
/// `407`: more targets than MAXTARGETS.
pub const ERR_TOOMANYTARGETS: &str = "407";
/// `409`: PING or PONG without a token.
pub const ERR_NOORIGIN: &str = "409";
/// `410`: an unknown CAP subcommand.
pub const ERR_INVALIDCAPCMD: &str = "410";
/// `411`: PRIVMSG/NOTICE without a target.
pub const ERR_NORECIPIENT: &str = "411";
/// `412`: PRIVMSG/NOTICE without text.
pub const ERR_NOTEXTTOSEND: &str = "412";
/// `417`: the line was over the length limit.
pub const ERR_INPUTTOOLONG: &str = "417";
/// `421`: unknown command.
pub const ERR_UNKNOWNCOMMAND: &str = "421";
/// `422`: there is no message of the day.
pub const ERR_NOMOTD: &str = "422";
/// `431`: NICK without a nick.
pub const ERR_NONICKNAMEGIVEN: &str = "431";
/// `432`: the nick is not a valid nick.
pub const ERR_ERRONEUSNICKNAME: &str = "432";
/// `433`: the nick is taken.
pub const ERR_NICKNAMEINUSE: &str = "433";
/// `441`: the target is not on that channel.
pub const ERR_USERNOTINCHANNEL: &str = "441";
/// `442`: you are not on that channel.
pub const ERR_NOTONCHANNEL: &str = "442";
/// `443`: the invited nick is already on the channel.
pub const ERR_USERONCHANNEL: &str = "443";
/// `451`: the command needs registration first.
pub const ERR_NOTREGISTERED: &str = "451";
/// `461`: not enough parameters.
pub const ERR_NEEDMOREPARAMS: &str = "461";
/// `462`: PASS/USER after registration.
pub const ERR_ALREADYREGISTERED: &str = "462";
/// `464`: wrong or missing server password.
pub const ERR_PASSWDMISMATCH: &str = "464";
/// `467`: the channel has a key already.
pub const ERR_KEYSET: &str = "467";
/// `471`: the channel is at its +l limit.
pub const ERR_CHANNELISFULL: &str = "471";
/// `472`: an unknown mode character.
pub const ERR_UNKNOWNMODE: &str = "472";
/// `473`: the channel is +i and you were not invited.
pub const ERR_INVITEONLYCHAN: &str = "473";
/// `474`: you are banned from the channel.
pub const ERR_BANNEDFROMCHAN: &str = "474";
/// `475`: wrong or missing +k key.
pub const ERR_BADCHANNELKEY: &str = "475";
/// `476`: a bad channel name in JOIN.
pub const ERR_BADCHANMASK: &str = "476";
/// `481`: the command needs server operator rights.
pub const ERR_NOPRIVILEGES: &str = "481";
/// `482`: the command needs channel operator rights.
pub const ERR_CHANOPRIVSNEEDED: &str = "482";
/// `501`: an unknown user mode.
pub const ERR_UMODEUNKNOWNFLAG: &str = "501";
/// `502`: a user's modes can only be seen or set by that user.
pub const ERR_USERSDONTMATCH: &str = "502";
/// The capability negotiation command (IRCv3 `CAP`), in replies `CAP * LS …`.
pub const CAP: &str = "CAP";
/// IRCv3 standard reply for a failed command: `FAIL <command> <code> [context] :text`.
pub const FAIL: &str = "FAIL";

/// Every numeric above, for tests and tables.
pub const ALL: &[&str] = &[
    RPL_WELCOME,
    RPL_YOURHOST,
    RPL_CREATED,
    RPL_MYINFO,
    RPL_ISUPPORT,
    RPL_UMODEIS,
    RPL_LUSERCLIENT,
    RPL_LUSEROP,
    RPL_LUSERUNKNOWN,
    RPL_LUSERCHANNELS,
    RPL_LUSERME,
    RPL_TRYAGAIN,
    RPL_LOCALUSERS,
    RPL_GLOBALUSERS,
    RPL_AWAY,
    RPL_USERHOST,
    RPL_ISON,
    RPL_UNAWAY,
    RPL_NOWAWAY,
    RPL_WHOISUSER,
    RPL_WHOISSERVER,
    RPL_ENDOFWHO,
    RPL_WHOISIDLE,
    RPL_ENDOFWHOIS,
    RPL_WHOISCHANNELS,
    RPL_LISTSTART,
    RPL_LIST,
    RPL_LISTEND,
    RPL_CHANNELMODEIS,
    RPL_CREATIONTIME,
    RPL_NOTOPIC,
    RPL_TOPIC,
    RPL_TOPICWHOTIME,
    RPL_INVITING,
    RPL_WHOREPLY,
    RPL_NAMREPLY,
    RPL_ENDOFNAMES,
    RPL_BANLIST,
    RPL_ENDOFBANLIST,
    RPL_MOTD,
    RPL_MOTDSTART,
    RPL_ENDOFMOTD,
    ERR_UNKNOWNERROR,
    ERR_NOSUCHNICK,
    ERR_NOSUCHCHANNEL,
    ERR_CANNOTSENDTOCHAN,
    ERR_TOOMANYCHANNELS,
    ERR_TOOMANYTARGETS,
    ERR_NOORIGIN,
    ERR_INVALIDCAPCMD,
    ERR_NORECIPIENT,
    ERR_NOTEXTTOSEND,
    ERR_INPUTTOOLONG,
    ERR_UNKNOWNCOMMAND,
    ERR_NOMOTD,
    ERR_NONICKNAMEGIVEN,
    ERR_ERRONEUSNICKNAME,
    ERR_NICKNAMEINUSE,
    ERR_USERNOTINCHANNEL,
    ERR_NOTONCHANNEL,
    ERR_USERONCHANNEL,
    ERR_NOTREGISTERED,
    ERR_NEEDMOREPARAMS,
    ERR_ALREADYREGISTERED,
    ERR_PASSWDMISMATCH,
    ERR_KEYSET,
    ERR_CHANNELISFULL,
    ERR_UNKNOWNMODE,
    ERR_INVITEONLYCHAN,
    ERR_BANNEDFROMCHAN,
    ERR_BADCHANNELKEY,
    ERR_BADCHANMASK,
    ERR_NOPRIVILEGES,
    ERR_CHANOPRIVSNEEDED,
    ERR_UMODEUNKNOWNFLAG,
    ERR_USERSDONTMATCH,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_digits_each_and_no_duplicate() {
        let mut seen = std::collections::HashSet::new();
        for n in ALL {
            assert!(n.len() == 3 && n.bytes().all(|b| b.is_ascii_digit()), "{n}");
            assert!(seen.insert(*n), "{n} twice");
        }
        assert_eq!((RPL_WELCOME, RPL_ISUPPORT, ERR_NICKNAMEINUSE), ("001", "005", "433"));
    }
}
