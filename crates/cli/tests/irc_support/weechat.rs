//! WeeChat (`weechat-headless`, with the fifo plugin from weechat-plugins)
//! as a client: commands go through its FIFO (`irc.server.srv */join #c`,
//! `irc.srv.#c *text`), what it shows is read from the logger plugin's
//! per-buffer files (`logs/irc.srv.#c.weechatlog`: `date\tprefix\tmessage`),
//! flushed at once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::scenario::Client;
use super::watch::{Fifos, FileWatch};

/// A running weechat-headless with its own home directory.
pub struct Weechat {
    nick: String,
    child: Child,
    dir: PathBuf,
    logs: HashMap<String, FileWatch>,
    fifos: Fifos,
    _home: tempfile::TempDir,
}

impl Weechat {
    /// Starts weechat-headless connecting to `addr` as `nick`.
    pub fn start(addr: SocketAddr, nick: &str) -> Weechat {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().to_path_buf();
        // All capabilities the server offers are requested (WeeChat's
        // default `*`), so the caps sockit advertises are exercised too.
        let setup = [
            "/set logger.file.flush_delay 0".to_string(),
            format!("/set logger.file.path {}/logs", dir.display()),
            format!("/set fifo.file.path {}/fifo", dir.display()),
            "/set fifo.file.enabled on".to_string(),
            format!("/server add srv {}/{} -notls", addr.ip(), addr.port()),
            format!("/set irc.server.srv.nicks {nick}"),
            format!("/set irc.server.srv.username {nick}"),
            format!("/set irc.server.srv.realname weechat {nick}"),
            // Show the names (353) on join, not only the counts (366).
            "/set irc.look.display_join_message 329,332,333,353,366".to_string(),
            "/connect srv".to_string(),
        ]
        .join(";");
        let child = Command::new("weechat-headless")
            .arg("--dir")
            .arg(&dir)
            .args(["--plugins", "irc,logger,fifo", "--run-command", &setup])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run weechat-headless: {e}"));
        Weechat { nick: nick.to_string(), child, dir, logs: HashMap::new(), fifos: Fifos::default(), _home: home }
    }

    /// The log of the server buffer (`""`) or of a channel's buffer.
    fn log(&mut self, chan: &str) -> &mut FileWatch {
        let name = if chan.is_empty() { "irc.server.srv".to_string() } else { format!("irc.srv.{chan}") };
        let path = self.dir.join("logs").join(format!("{name}.weechatlog"));
        self.logs.entry(chan.to_string()).or_insert_with(|| FileWatch::new(path))
    }

    /// Sends one FIFO command to the server buffer (`""`) or a channel's.
    fn command(&mut self, chan: &str, text: &str) {
        let buffer = if chan.is_empty() { "irc.server.srv".to_string() } else { format!("irc.srv.{chan}") };
        let fifo = self.dir.join("fifo");
        self.fifos.write(&fifo, &format!("{buffer} *{text}"));
    }
}

impl Client for Weechat {
    fn nick(&self) -> &str {
        &self.nick
    }

    fn wait_registered(&mut self) {
        self.log("").expect(&["Welcome"]);
    }

    fn join(&mut self, chan: &str) {
        self.command("", &format!("/join {chan}"));
        let nick = self.nick.clone();
        self.log(chan).expect(&[&format!("-->\t{nick} ("), &format!("has joined {chan}")]);
    }

    fn say(&mut self, chan: &str, text: &str) {
        self.command(chan, text);
        let own = format!("{}\t{text}", self.nick);
        self.log(chan).expect(&[&own]);
    }

    fn act(&mut self, chan: &str, text: &str) {
        self.command(chan, &format!("/me {text}"));
        let own = format!(" *\t{} {text}", self.nick);
        self.log(chan).expect(&[&own]);
    }

    fn private(&mut self, nick: &str, text: &str) {
        self.command("", &format!("/msg {nick} {text}"));
    }

    fn kick(&mut self, chan: &str, nick: &str, reason: &str) {
        self.command(chan, &format!("/kick {nick} {reason}"));
        let me = self.nick.clone();
        self.log(chan).expect(&[&format!("{me} has kicked {nick}"), reason]);
    }

    fn change_nick(&mut self, new: &str) {
        self.command("", &format!("/nick {new}"));
        self.log("").expect(&[&format!("You are now known as {new}")]);
        self.nick = new.to_string();
    }

    fn set_topic(&mut self, chan: &str, topic: &str) {
        self.command(chan, &format!("/topic {topic}"));
    }

    fn quit(&mut self, reason: &str) {
        // /quit ends WeeChat after sending QUIT.
        self.command("", &format!("/quit {reason}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "weechat-headless ended with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "weechat-headless did not exit after /quit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn sees_op_in_names(&mut self, chan: &str, nick: &str) {
        self.log(chan).expect(&[&format!("Nicks {chan}:"), &format!("@{nick}")]);
    }

    fn sees_msg(&mut self, chan: &str, from: &str, text: &str) {
        self.log(chan).expect(&[&format!("{from}\t{text}")]);
    }

    fn sees_action(&mut self, chan: &str, from: &str, text: &str) {
        self.log(chan).expect(&[&format!(" *\t{from} {text}")]);
    }

    fn sees_private(&mut self, from: &str, text: &str) {
        // A private buffer opens for the correspondent: irc.srv.NICK.
        self.log(from).expect(&[&format!("{from}\t{text}")]);
    }

    fn sees_opped(&mut self, chan: &str, by: &str) {
        let nick = self.nick.clone();
        self.log(chan).expect(&[&format!("Mode {chan} [+o {nick}] by {by}")]);
    }

    fn sees_topic(&mut self, chan: &str, by: &str, topic: &str) {
        self.log(chan).expect(&[&format!("{by} has changed topic for {chan} to \"{topic}\"")]);
    }

    fn sees_kicked(&mut self, chan: &str, by: &str, reason: &str) {
        let nick = self.nick.clone();
        self.log(chan).expect(&[&format!("{by} has kicked {nick}"), reason]);
    }
}

impl Drop for Weechat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
