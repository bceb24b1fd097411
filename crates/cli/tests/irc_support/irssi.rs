//! irssi as a client, under tmux with a private `--home`: commands are
//! typed with send-keys, and each expectation goes to the channel's window
//! (`/window goto N`) and reads the screen with capture-pane, so a line
//! shown in the wrong channel's window does not count.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::scenario::Client;
use super::tmux::Tmux;
use super::watch::{find_line, poll};

/// A running irssi.
pub struct Irssi {
    nick: String,
    tmux: Tmux,
    /// The window on screen: `""` for the status window, or a channel.
    window: String,
    /// Channels and queries in the order their windows opened: irssi
    /// numbers them 2, 3, … (by number, since a window loses its channel's
    /// name after a kick).
    windows: Vec<String>,
    _home: tempfile::TempDir,
}

impl Irssi {
    /// Starts irssi connecting to `addr` as `nick`.
    pub fn start(addr: SocketAddr, nick: &str) -> Irssi {
        let home = tempfile::tempdir().unwrap();
        // Timestamps off so lines are plain; the user name is the nick so
        // the others see nick!nick@host.
        let config = format!(
            "settings = {{\n  core = {{ real_name = \"irssi {nick}\"; user_name = \"{nick}\"; nick = \"{nick}\"; }};\n  \"fe-common/core\" = {{ timestamps = \"no\"; }};\n}};\n"
        );
        std::fs::write(home.path().join("config"), config).unwrap();
        let cmd = format!("irssi --home={} -n {nick} -c {} -p {}", home.path().display(), addr.ip(), addr.port());
        let tmux = Tmux::start(home.path(), &cmd, 200, 100);
        Irssi { nick: nick.to_string(), tmux, window: String::new(), windows: Vec::new(), _home: home }
    }

    /// Brings the window of `chan` (`""`: the status window) on screen.
    fn show(&mut self, chan: &str) {
        if self.window != chan {
            let n = self.windows.iter().position(|c| c == chan).map_or(1, |i| i + 2);
            self.tmux.type_line(&format!("/window goto {n}"));
            self.window = chan.to_string();
        }
    }

    /// Waits until the window of `chan` shows a line with every piece.
    fn expect(&mut self, chan: &str, pieces: &[&str]) -> String {
        self.show(chan);
        let tmux = &self.tmux;
        poll(
            &format!("irssi's {} window to show {pieces:?}", if chan.is_empty() { "status" } else { chan }),
            || {
                let screen = tmux.screen();
                find_line(&screen, 0, pieces).map(|i| screen.lines().nth(i).unwrap_or_default().to_string())
            },
            || tmux.screen(),
        )
    }
}

impl Client for Irssi {
    fn nick(&self) -> &str {
        &self.nick
    }

    fn wait_registered(&mut self) {
        // The 001 text; joining earlier gets "Not connected to server".
        self.expect("", &["Welcome"]);
    }

    fn join(&mut self, chan: &str) {
        self.tmux.type_line(&format!("/join {chan}"));
        // irssi opens the channel's window and shows it.
        self.window = chan.to_string();
        self.windows.push(chan.to_string());
        let nick = self.nick.clone();
        self.expect(chan, &[&format!("-!- {nick} ["), &format!("has joined {chan}")]);
    }

    fn say(&mut self, chan: &str, text: &str) {
        self.show(chan);
        self.tmux.type_line(text);
        let own = format!("{}> {text}", self.nick);
        self.expect(chan, &[&own]);
    }

    fn act(&mut self, chan: &str, text: &str) {
        self.show(chan);
        self.tmux.type_line(&format!("/me {text}"));
        let own = format!("* {} {text}", self.nick);
        self.expect(chan, &[&own]);
    }

    fn private(&mut self, nick: &str, text: &str) {
        // /msg opens a query window (autocreate_own_query), the next number.
        self.tmux.type_line(&format!("/msg {nick} {text}"));
        if !self.windows.iter().any(|w| w == nick) {
            self.windows.push(nick.to_string());
        }
        let own = format!("{}> {text}", self.nick);
        self.expect(nick, &[&own]);
    }

    fn kick(&mut self, chan: &str, nick: &str, reason: &str) {
        self.tmux.type_line(&format!("/kick {chan} {nick} {reason}"));
        let me = self.nick.clone();
        self.expect(chan, &[&format!("-!- {nick} was kicked from {chan} by {me} [{reason}]")]);
    }

    fn change_nick(&mut self, new: &str) {
        self.tmux.type_line(&format!("/nick {new}"));
        let chan = self.windows.first().cloned().unwrap_or_default();
        self.expect(&chan, &[&format!("You're now known as {new}")]);
        self.nick = new.to_string();
    }

    fn set_topic(&mut self, chan: &str, topic: &str) {
        self.tmux.type_line(&format!("/topic {chan} {topic}"));
    }

    fn quit(&mut self, reason: &str) {
        self.tmux.type_line(&format!("/quit {reason}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.tmux.dead() {
            assert!(Instant::now() < deadline, "irssi did not exit after /quit:\n{}", self.tmux.screen());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn sees_op_in_names(&mut self, chan: &str, nick: &str) {
        self.expect(chan, &[&format!("[@{nick}")]);
    }

    fn sees_msg(&mut self, chan: &str, from: &str, text: &str) {
        self.expect(chan, &[&format!("{from}> {text}")]);
    }

    fn sees_action(&mut self, chan: &str, from: &str, text: &str) {
        self.expect(chan, &[&format!("* {from} {text}")]);
    }

    fn sees_private(&mut self, from: &str, text: &str) {
        // A query window opens for a new correspondent (autocreate_query_level).
        if !self.windows.iter().any(|w| w == from) {
            self.windows.push(from.to_string());
        }
        self.expect(from, &[&format!("<{from}> {text}")]);
    }

    fn sees_opped(&mut self, chan: &str, by: &str) {
        let nick = self.nick.clone();
        self.expect(chan, &[&format!("-!- mode/{chan} [+o {nick}] by {by}")]);
    }

    fn sees_topic(&mut self, chan: &str, by: &str, topic: &str) {
        self.expect(chan, &[&format!("-!- {by} changed the topic of {chan} to: {topic}")]);
    }

    fn sees_kicked(&mut self, chan: &str, by: &str, reason: &str) {
        let nick = self.nick.clone();
        self.expect(chan, &[&format!("-!- {nick} was kicked from {chan} by {by} [{reason}]")]);
    }
}
