//! suckless `ii` as a client: commands go into its `in` FIFOs, what it
//! shows is read from its `out` files (`DIR/HOST/out` for the server,
//! `DIR/HOST/#chan/out` per channel).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::scenario::Client;
use super::watch::{Fifos, FileWatch};

/// A running ii with its own irc directory.
pub struct Ii {
    nick: String,
    child: Child,
    /// `DIR/HOST`: where ii keeps the server's and channels' files.
    root: PathBuf,
    outs: HashMap<String, FileWatch>,
    fifos: Fifos,
    _dir: tempfile::TempDir,
}

impl Ii {
    /// Starts `ii` against `addr` as `nick`.
    pub fn start(addr: SocketAddr, nick: &str) -> Ii {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("ii")
            .arg("-s")
            .arg(addr.ip().to_string())
            .arg("-p")
            .arg(addr.port().to_string())
            .arg("-n")
            .arg(nick)
            .arg("-f")
            .arg(format!("ii user {nick}"))
            .arg("-i")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run ii: {e}"));
        let root = dir.path().join(addr.ip().to_string());
        Ii { nick: nick.to_string(), child, root, outs: HashMap::new(), fifos: Fifos::default(), _dir: dir }
    }

    /// The `out` file of the server (`""`) or of a channel.
    fn out(&mut self, chan: &str) -> &mut FileWatch {
        let path = if chan.is_empty() { self.root.join("out") } else { self.root.join(chan).join("out") };
        self.outs.entry(chan.to_string()).or_insert_with(|| FileWatch::new(path))
    }

    /// Writes one line into the `in` FIFO of the server (`""`) or a channel.
    fn write_in(&mut self, chan: &str, line: &str) {
        let fifo = if chan.is_empty() { self.root.join("in") } else { self.root.join(chan).join("in") };
        self.fifos.write(&fifo, line);
    }
}

impl Client for Ii {
    fn nick(&self) -> &str {
        &self.nick
    }

    fn wait_registered(&mut self) {
        self.out("").expect(&["Welcome"]);
    }

    fn join(&mut self, chan: &str) {
        self.write_in("", &format!("/j {chan}"));
        let nick = self.nick.clone();
        self.out(chan).expect(&[&format!("-!- {nick}("), &format!("has joined {chan}")]);
    }

    fn say(&mut self, chan: &str, text: &str) {
        self.write_in(chan, text);
        // ii writes its own lines into the channel's out file.
        let own = format!("<{}> {text}", self.nick);
        self.out(chan).expect(&[&own]);
    }

    fn act(&mut self, chan: &str, text: &str) {
        // ii has no /me: the CTCP ACTION goes in as the line's text.
        self.write_in(chan, &format!("\u{1}ACTION {text}\u{1}"));
    }

    fn private(&mut self, nick: &str, text: &str) {
        // `/j NICK text` opens the conversation (DIR/HOST/NICK/) and sends.
        self.write_in("", &format!("/j {nick} {text}"));
        let own = format!("<{}> {text}", self.nick);
        self.out(nick).expect(&[&own]);
    }

    fn kick(&mut self, chan: &str, nick: &str, reason: &str) {
        // Not an ii command: a /COMMAND in the server's FIFO goes out raw.
        self.write_in("", &format!("/KICK {chan} {nick} :{reason}"));
        let me = self.nick.clone();
        self.out(chan).expect(&[&format!("-!- {me} kicked {nick} "), &format!("(\"{reason}\")")]);
    }

    fn change_nick(&mut self, new: &str) {
        self.write_in("", &format!("/n {new}"));
        // ii logs its own change as `-!- changed nick to "NEW"`.
        self.out("").expect(&[&format!("-!- changed nick to \"{new}\"")]);
        self.nick = new.to_string();
    }

    fn set_topic(&mut self, chan: &str, topic: &str) {
        self.write_in(chan, &format!("/t {topic}"));
    }

    fn quit(&mut self, reason: &str) {
        self.write_in("", &format!("/q {reason}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // ii exits 0 when the server closes the link after QUIT.
                assert!(status.success(), "ii ended with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "ii did not exit after /q");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn sees_op_in_names(&mut self, chan: &str, nick: &str) {
        // The 353 reply goes to the server's out file: "= #chan @tom …".
        self.out("").expect(&[chan, &format!("@{nick}")]);
    }

    fn sees_msg(&mut self, chan: &str, from: &str, text: &str) {
        self.out(chan).expect(&[&format!("<{from}> {text}")]);
    }

    fn sees_action(&mut self, chan: &str, from: &str, text: &str) {
        // ii shows a CTCP ACTION as it came: `<tom> \x01ACTION text\x01`.
        self.out(chan).expect(&[&format!("<{from}> \u{1}ACTION {text}\u{1}")]);
    }

    fn sees_private(&mut self, from: &str, text: &str) {
        self.out(from).expect(&[&format!("<{from}> {text}")]);
    }

    fn sees_opped(&mut self, chan: &str, by: &str) {
        let nick = self.nick.clone();
        self.out(chan).expect(&[&format!("-!- {by} changed mode/{chan} -> +o {nick}")]);
    }

    fn sees_topic(&mut self, chan: &str, by: &str, topic: &str) {
        self.out(chan).expect(&[&format!("-!- {by} changed topic to \"{topic}\"")]);
    }

    fn sees_kicked(&mut self, chan: &str, by: &str, reason: &str) {
        let nick = self.nick.clone();
        // ii 1.8 writes two spaces before the reason.
        self.out(chan).expect(&[&format!("-!- {by} kicked {nick} "), &format!("(\"{reason}\")")]);
    }
}

impl Drop for Ii {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
