//! The Python `irc` package (jaraco/irc) as a client: pyirc.py prints every
//! event the library parsed (`EV TYPE SOURCE TARGET :ARGS`) and takes
//! commands on stdin.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use crate::chat_support::Proc;

use super::scenario::Client;

/// pyirc.py, next to this file.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/irc_support/pyirc.py");

/// A running pyirc.py.
pub struct PyIrc {
    nick: String,
    p: Proc,
}

impl PyIrc {
    /// Connects to `addr` as `nick`.
    pub fn start(addr: SocketAddr, nick: &str) -> PyIrc {
        PyIrc::start_with(addr, nick, None)
    }

    /// Connects over TLS, trusting the certificate in the PEM file `cert`.
    pub fn start_tls(addr: SocketAddr, nick: &str, cert: &str) -> PyIrc {
        PyIrc::start_with(addr, nick, Some(cert))
    }

    fn start_with(addr: SocketAddr, nick: &str, cert: Option<&str>) -> PyIrc {
        let p = Proc::spawn(
            Command::new("python3")
                .args(["-u", SCRIPT, &addr.ip().to_string(), &addr.port().to_string(), nick])
                .args(cert),
        );
        PyIrc { nick: nick.to_string(), p }
    }
}

impl Client for PyIrc {
    fn nick(&self) -> &str {
        &self.nick
    }

    fn wait_registered(&mut self) {
        self.p.expect("EV welcome ");
    }

    fn join(&mut self, chan: &str) {
        self.p.send(&format!("join {chan}"));
        self.p.expect(&format!("EV join {} {chan} ", self.nick));
    }

    fn say(&mut self, chan: &str, text: &str) {
        self.p.send(&format!("say {chan} {text}"));
    }

    fn act(&mut self, chan: &str, text: &str) {
        self.p.send(&format!("act {chan} {text}"));
    }

    fn private(&mut self, nick: &str, text: &str) {
        self.p.send(&format!("say {nick} {text}"));
    }

    fn kick(&mut self, chan: &str, nick: &str, reason: &str) {
        self.p.send(&format!("raw KICK {chan} {nick} :{reason}"));
        self.p.expect(&format!("EV kick {} {chan} :{nick} {reason}", self.nick));
    }

    fn change_nick(&mut self, new: &str) {
        self.p.send(&format!("raw NICK {new}"));
        self.p.expect(&format!("EV nick {} {new} ", self.nick));
        self.nick = new.to_string();
    }

    fn set_topic(&mut self, chan: &str, topic: &str) {
        self.p.send(&format!("topic {chan} {topic}"));
    }

    fn quit(&mut self, reason: &str) {
        self.p.send(&format!("quit {reason}"));
        self.p.expect("DISCONNECT");
        let status = self.p.wait_exit(Duration::from_secs(10));
        assert!(status.success(), "pyirc.py ended with {status}");
    }

    fn sees_op_in_names(&mut self, chan: &str, nick: &str) {
        let l = self.p.expect("EV namreply ");
        assert!(l.contains(chan) && l.contains(&format!("@{nick}")), "names without @{nick}: {l}");
    }

    fn sees_msg(&mut self, chan: &str, from: &str, text: &str) {
        self.p.expect(&format!("EV pubmsg {from} {chan} :{text}"));
    }

    fn sees_action(&mut self, chan: &str, from: &str, text: &str) {
        self.p.expect(&format!("EV action {from} {chan} :{text}"));
    }

    fn sees_private(&mut self, from: &str, text: &str) {
        self.p.expect(&format!("EV privmsg {from} {} :{text}", self.nick));
    }

    fn sees_opped(&mut self, chan: &str, by: &str) {
        self.p.expect(&format!("EV mode {by} {chan} :+o {}", self.nick));
    }

    fn sees_topic(&mut self, chan: &str, by: &str, topic: &str) {
        self.p.expect(&format!("EV topic {by} {chan} :{topic}"));
    }

    fn sees_kicked(&mut self, chan: &str, by: &str, reason: &str) {
        self.p.expect(&format!("EV kick {by} {chan} :{} {reason}", self.nick));
    }
}
