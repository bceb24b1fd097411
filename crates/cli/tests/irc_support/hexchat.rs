//! HexChat (the GTK client) as a client, on a private Xvfb display: a
//! small Python plugin of ours (hexchat.py, copied into its `addons/`)
//! runs the commands appended to a file and writes HexChat's print events
//! (what its window shows: "Channel Message", "You Kicked" …) to
//! `events.log`. HexChat stops at a modal "running IRC as root" dialog, so
//! as root it runs as `nobody` (setpriv), in a config folder given to it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::scenario::Client;
use super::watch::FileWatch;

/// The driver plugin.
const DRIVER: &str = include_str!("hexchat.py");
/// `nobody`/`nogroup` on Debian.
const NOBODY: u32 = 65534;

/// A running HexChat with its Xvfb display and config folder.
pub struct Hexchat {
    nick: String,
    hexchat: Child,
    xvfb: Child,
    dir: PathBuf,
    /// A cursor per print event: each expected event is looked for after
    /// the last one of its kind (as the ii driver does per channel file).
    events: HashMap<String, FileWatch>,
    _home: tempfile::TempDir,
}

impl Hexchat {
    /// Starts Xvfb and HexChat connecting to `addr` as `nick`.
    pub fn start(addr: SocketAddr, nick: &str) -> Hexchat {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().to_path_buf();
        std::fs::create_dir(dir.join("addons")).unwrap();
        std::fs::write(dir.join("addons/driver.py"), DRIVER).unwrap();
        // No network list, no join dialog, no tray: straight to the server.
        // No send throttle: HexChat queues lines sent in a burst, and a
        // /quit right after one closes the socket with the QUIT still in
        // its queue (the others would see no reason).
        let conf = format!(
            "irc_nick1 = {nick}\nirc_nick2 = {nick}_\nirc_nick3 = {nick}__\nirc_user_name = {nick}\n\
             irc_real_name = hexchat {nick}\ngui_slist_skip = 1\ngui_join_dialog = 0\ngui_tray = 0\n\
             irc_who_join = 0\nnet_throttle = 0\n"
        );
        std::fs::write(dir.join("hexchat.conf"), conf).unwrap();
        std::fs::write(dir.join("commands"), "").unwrap();
        let root = running_as_root();
        if root {
            let files = ["", "addons", "addons/driver.py", "hexchat.conf", "commands"];
            for f in files {
                std::os::unix::fs::chown(dir.join(f), Some(NOBODY), Some(NOBODY)).unwrap();
            }
        }
        let (xvfb, display) = start_xvfb();
        let mut cmd = if root {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "hexchat"]);
            c
        } else {
            Command::new("hexchat")
        };
        let hexchat = cmd
            .arg("--cfgdir")
            .arg(&dir)
            .arg(format!("--url=irc://{}:{}/", addr.ip(), addr.port()))
            .env("DISPLAY", format!(":{display}"))
            .env("HOME", &dir)
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run hexchat: {e}"));
        Hexchat { nick: nick.to_string(), hexchat, xvfb, dir, events: HashMap::new(), _home: home }
    }

    /// Runs `command` in the tab of `chan` (`""`: the server's).
    fn command(&mut self, chan: &str, command: &str) {
        let mut f = std::fs::OpenOptions::new().append(true).open(self.dir.join("commands")).unwrap();
        f.write_all(format!("{chan}\t{command}\n").as_bytes()).unwrap();
    }

    /// Waits for a print event `event` whose fields (the line after the
    /// event's name) contain every piece; returns its line.
    fn expect(&mut self, event: &str, pieces: &[&str]) -> String {
        let head = format!("{event}\t");
        let mut all = vec![head.as_str()];
        all.extend_from_slice(pieces);
        let log = self.dir.join("events.log");
        self.events.entry(event.to_string()).or_insert_with(|| FileWatch::new(log)).expect(&all)
    }
}

/// Whether the tests run as root (as in CI containers).
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

/// Starts Xvfb on a free display (it picks one and says which on
/// `-displayfd`); returns it and the display number.
fn start_xvfb() -> (Child, String) {
    let mut xvfb = Command::new("Xvfb")
        .args(["-displayfd", "1", "-ac", "-nolisten", "tcp", "-screen", "0", "1024x768x24"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run Xvfb: {e}"));
    let out = xvfb.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    let display = rx.recv_timeout(Duration::from_secs(15)).unwrap_or_default().trim().to_string();
    assert!(!display.is_empty(), "Xvfb did not say which display it runs");
    (xvfb, display)
}

/// Whether `child` ends within `within`.
fn ends(child: &mut Child, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

impl Client for Hexchat {
    fn nick(&self) -> &str {
        &self.nick
    }

    fn wait_registered(&mut self) {
        self.expect("Server Text", &["Welcome"]);
    }

    fn join(&mut self, chan: &str) {
        self.command("", &format!("/join {chan}"));
        let nick = self.nick.clone();
        self.expect("You Join", &[&format!("\t{nick}\t{chan}\t")]);
    }

    fn say(&mut self, chan: &str, text: &str) {
        self.command(chan, &format!("/say {text}"));
        let own = format!("{chan}\t{}\t{text}", self.nick);
        self.expect("Your Message", &[&own]);
    }

    fn act(&mut self, chan: &str, text: &str) {
        self.command(chan, &format!("/me {text}"));
        let own = format!("{chan}\t{}\t{text}", self.nick);
        self.expect("Your Action", &[&own]);
    }

    fn private(&mut self, nick: &str, text: &str) {
        self.command("", &format!("/msg {nick} {text}"));
        self.expect("Message Send", &[&format!("\t{nick}\t{text}")]);
    }

    fn kick(&mut self, chan: &str, nick: &str, reason: &str) {
        self.command(chan, &format!("/kick {nick} {reason}"));
        let me = self.nick.clone();
        self.expect("Kick", &[&format!("{chan}\t{me}\t{nick}\t{chan}\t{reason}")]);
    }

    fn change_nick(&mut self, new: &str) {
        self.command("", &format!("/nick {new}"));
        let old = self.nick.clone();
        self.expect("Your Nick Changing", &[&format!("\t{old}\t{new}")]);
        self.nick = new.to_string();
    }

    fn set_topic(&mut self, chan: &str, topic: &str) {
        self.command(chan, &format!("/topic {topic}"));
    }

    fn quit(&mut self, reason: &str) {
        // /quit leaves HexChat running, disconnected.
        self.command("", &format!("/quit {reason}"));
        self.expect("Disconnected", &[]);
    }

    fn sees_op_in_names(&mut self, chan: &str, nick: &str) {
        // HexChat's user list after the names (366): "@tom wendy …".
        let line = self.expect("Names", &[&format!("\t{chan}\t")]);
        let list = line.rsplit('\t').next().unwrap_or_default();
        assert!(list.split(' ').any(|n| n == format!("@{nick}")), "no @{nick} in HexChat's list of {chan}: {line}");
    }

    fn sees_msg(&mut self, chan: &str, from: &str, text: &str) {
        self.expect("Channel Message", &[&format!("{chan}\t{from}\t"), text]);
    }

    fn sees_action(&mut self, chan: &str, from: &str, text: &str) {
        self.expect("Channel Action", &[&format!("{chan}\t{from}\t{text}")]);
    }

    fn sees_private(&mut self, from: &str, text: &str) {
        self.expect("Private Message to Dialog", &[&format!("{from}\t{from}\t{text}")]);
    }

    fn sees_opped(&mut self, chan: &str, by: &str) {
        let nick = self.nick.clone();
        self.expect("Channel Operator", &[&format!("{chan}\t{by}\t{nick}")]);
    }

    fn sees_topic(&mut self, chan: &str, by: &str, topic: &str) {
        self.expect("Topic Change", &[&format!("{chan}\t{by}\t{topic}\t{chan}")]);
    }

    fn sees_kicked(&mut self, chan: &str, by: &str, reason: &str) {
        let nick = self.nick.clone();
        self.expect("You Kicked", &[&format!("\t{nick}\t{chan}\t{by}\t{reason}")]);
    }
}

impl Drop for Hexchat {
    fn drop(&mut self) {
        let _ = self.hexchat.kill();
        if !ends(&mut self.hexchat, Duration::from_secs(5)) {
            eprintln!("hexchat did not end");
        }
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
    }
}
