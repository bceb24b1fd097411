//! The one scenario every real client runs: register, join two channels,
//! talk with the text member and the WebSocket member both ways (and hear
//! a text member whose default nick IRC shows in its IRC-safe form), do
//! actions and private messages both ways, get op and set a topic, kick
//! (and message) a member by its IRC-safe nick, change nick, be kicked, quit — checking what the client shows and
//! what the others see at each step.

use super::members::Other;
use super::server::{Server, Target};

/// What the scenario needs from a client driver. Channels are given with
/// `#`. Each `sees_*` waits (bounded) until the client shows the event.
pub trait Client {
    /// The client's nick.
    fn nick(&self) -> &str;
    /// Waits until the client is registered (it has shown the 001 welcome).
    fn wait_registered(&mut self);
    /// Joins `chan` and waits until the client shows its own join.
    fn join(&mut self, chan: &str);
    /// Says `text` in `chan`.
    fn say(&mut self, chan: &str, text: &str);
    /// Does `/me text` in `chan` (CTCP ACTION).
    fn act(&mut self, chan: &str, text: &str);
    /// Sends `text` privately to `nick`.
    fn private(&mut self, nick: &str, text: &str);
    /// Kicks `nick` out of `chan` for `reason` (the client is an operator
    /// there) and waits until the client shows it.
    fn kick(&mut self, chan: &str, nick: &str, reason: &str);
    /// Changes nick to `new` and waits until the client shows it.
    fn change_nick(&mut self, new: &str);
    /// Sets the topic of `chan`.
    fn set_topic(&mut self, chan: &str, topic: &str);
    /// Quits with `reason` and waits until the client has exited or
    /// closed its connection.
    fn quit(&mut self, reason: &str);
    /// The names list of `chan` (after the join) shows `nick` as an operator.
    fn sees_op_in_names(&mut self, chan: &str, nick: &str);
    /// `from` said `text` in `chan`.
    fn sees_msg(&mut self, chan: &str, from: &str, text: &str);
    /// `from` did `/me text` in `chan`.
    fn sees_action(&mut self, chan: &str, from: &str, text: &str);
    /// `from` told this client `text` privately.
    fn sees_private(&mut self, from: &str, text: &str);
    /// `by` gave this client operator status in `chan`.
    fn sees_opped(&mut self, chan: &str, by: &str);
    /// `by` set the topic of `chan` to `topic`.
    fn sees_topic(&mut self, chan: &str, by: &str, topic: &str);
    /// `by` kicked this client out of `chan` for `reason`.
    fn sees_kicked(&mut self, chan: &str, by: &str, reason: &str);
}

/// Runs the scenario: `start` connects the client to the IRC address.
pub fn run<C: Client>(server: &Server, start: impl FnOnce(std::net::SocketAddr) -> C) {
    // The watchers are there first, so they create (and run) both rooms.
    let mut tom = Other::text(server, "tom");
    tom.join("alpha");
    tom.join("beta");
    let mut wendy = Other::web(server, "wendy");
    wendy.join("alpha");
    tom.sees_join("alpha", "wendy");
    let mut anon = Other::anonymous(server);
    anon.join("alpha");
    tom.sees_join("alpha", &anon.nick);

    anon.join("beta");
    tom.sees_join("beta", &anon.nick);

    let mut c = start(server.irc);
    let mut me = c.nick().to_string();
    c.wait_registered();
    c.join("#alpha");
    c.sees_op_in_names("#alpha", "tom");
    tom.sees_join("alpha", &me);
    wendy.sees_join("alpha", &me);
    c.join("#beta");
    tom.sees_join("beta", &me);

    // The client talks: each line reaches who is in that channel.
    let hello = format!("hello alpha from {me}");
    c.say("#alpha", &hello);
    tom.sees_msg("alpha", &me, &hello);
    wendy.sees_msg("alpha", &me, &hello);
    let only_beta = format!("{me} in beta only");
    c.say("#beta", &only_beta);
    tom.sees_msg("beta", &me, &only_beta);

    // A line longer than an IRC line, of two-byte characters and no
    // space: IRC clients get it in pieces, the WebSocket member whole.
    let long = "é".repeat(300);
    tom.say("alpha", &long);
    c.sees_msg("#alpha", "tom", &"é".repeat(40));
    if server.target == Target::Sockit {
        wendy.sees_msg("alpha", "tom", &long);
    }

    // The others talk to it, in both channels.
    let from_tom = format!("tom says hi to {me}");
    tom.say("alpha", &from_tom);
    c.sees_msg("#alpha", "tom", &from_tom);
    let from_wendy = format!("wendy says hi to {me}");
    wendy.say("alpha", &from_wendy);
    c.sees_msg("#alpha", "wendy", &from_wendy);
    let from_anon = format!("a member without an IRC nick says hi to {me}");
    anon.say("alpha", &from_anon);
    c.sees_msg("#alpha", &anon.irc_nick, &from_anon);
    let beta_line = format!("tom in beta to {me}");
    tom.say("beta", &beta_line);
    c.sees_msg("#beta", "tom", &beta_line);

    // Actions (CTCP ACTION on IRC, /me elsewhere), both ways.
    let waves = format!("waves from {me}");
    c.act("#alpha", &waves);
    tom.sees_action("alpha", &me, &waves);
    wendy.sees_action("alpha", &me, &waves);
    let nods = format!("nods at {me}");
    tom.act("alpha", &nods);
    c.sees_action("#alpha", "tom", &nods);

    // Private messages, both ways.
    let psst = format!("psst tom, {me} here");
    c.private("tom", &psst);
    tom.sees_private(&me, &psst);
    let back = format!("psst back to {me}");
    tom.private(&me, &back);
    c.sees_private("tom", &back);
    let from_web = format!("wendy privately to {me}");
    wendy.private(&me, &from_web);
    c.sees_private("wendy", &from_web);

    // Operator status, then a topic (channels are +t).
    tom.op("beta", &me);
    c.sees_opped("#beta", "tom");
    let topic = format!("beta topic by {me}");
    c.set_topic("#beta", &topic);
    tom.sees_topic("beta", &me, &topic);
    c.sees_topic("#beta", &me, &topic);

    // As an operator it kicks, and it reaches a member whose nick is not
    // an IRC nick by its IRC-safe form (KICK and PRIVMSG).
    let tell = format!("{me} tells the member without an IRC nick");
    c.private(&anon.irc_nick, &tell);
    anon.sees_private(&me, &tell);
    let out = format!("{me} kicks the member without an IRC nick");
    c.kick("#beta", &anon.irc_nick, &out);
    let anon_nick = anon.nick.clone();
    anon.sees_kick("beta", &me, &anon_nick, &out);
    tom.sees_kick("beta", &me, &anon_nick, &out);

    // A new nick: everyone sharing a channel sees it.
    let new = format!("{me}2");
    c.change_nick(&new);
    tom.sees_nick(&me, &new);
    wendy.sees_nick(&me, &new);
    me = new;

    // Kicked out of alpha: the client and the others there see it.
    let reason = format!("out you go {me}");
    tom.kick("alpha", &me, &reason);
    c.sees_kicked("#alpha", "tom", &reason);
    wendy.sees_kick("alpha", "tom", &me, &reason);

    // Quit: told to those who still share a channel (tom, in beta).
    let bye = format!("{me} says bye");
    c.quit(&bye);
    tom.sees_quit(&me, &bye);
    wendy.never_saw(&only_beta);
}
