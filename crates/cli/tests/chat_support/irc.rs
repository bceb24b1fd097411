//! An IRC client by hand (std TCP, lines written out as an IRC client
//! writes them) and the server with its IRC listener on port 0.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use sockit_testkit::{bin, Sockit};

use super::Lines;

/// `sockit chat serve` with TCP, UDP and IRC on port 0 (no web, no
/// history), plus `extra`. Listeners: `tcp`, `udp`, `irc` (and more when
/// `extra` adds them: pass their count in `more`).
pub fn serve_irc(extra: &[&str], more: usize) -> Sockit {
    let mut args = vec!["chat", "serve", "--port", "0", "--irc-port", "0", "--no-web", "--no-history"];
    args.extend_from_slice(extra);
    Sockit::start(&bin(), &args, 3 + more)
}

/// One IRC connection.
pub struct Irc {
    w: TcpStream,
    /// What the server sent, line by line (`\r\n` trimmed).
    pub lines: Lines,
    /// The nick it registered with.
    pub nick: String,
}

impl Irc {
    /// Connects, nothing more.
    pub fn connect(addr: SocketAddr) -> Irc {
        let w = TcpStream::connect(addr).unwrap();
        let lines = Lines::read(w.try_clone().unwrap());
        Irc { w, lines, nick: String::new() }
    }

    /// Connects and registers as `nick` (CAP LS 302 and REQ `caps` first
    /// when `caps` is not empty); waits for the end of the MOTD.
    pub fn join(addr: SocketAddr, nick: &str, caps: &str) -> Irc {
        let mut c = Irc::connect(addr);
        if !caps.is_empty() {
            c.send("CAP LS 302");
        }
        c.send(&format!("NICK {nick}"));
        c.send(&format!("USER {nick} 0 * :{nick} real"));
        if !caps.is_empty() {
            c.expect(" CAP * LS ");
            c.send(&format!("CAP REQ :{caps}"));
            c.expect(" ACK ");
            c.send("CAP END");
        }
        c.expect(&format!(" 001 {nick} "));
        c.expect(" 376 ");
        c.nick = nick.to_string();
        c
    }

    /// Sends one line (`\r\n` added).
    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes());
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, b: &[u8]) {
        self.w.write_all(b).unwrap();
    }

    /// Waits for a line containing `needle`.
    pub fn expect(&mut self, needle: &str) -> String {
        self.lines.expect(needle)
    }

    /// JOINs `channel` and waits for its end of NAMES; returns the 353 lines.
    pub fn join_channel(&mut self, channel: &str) -> Vec<String> {
        self.send(&format!("JOIN {channel}"));
        let mut names = Vec::new();
        loop {
            let l = self.expect(&format!(" {channel}"));
            if l.contains(" 353 ") {
                names.push(l);
            } else if l.contains(" 366 ") {
                return names;
            }
        }
    }

    /// Lines arriving within `d`.
    pub fn drain(&mut self, d: Duration) -> Vec<String> {
        self.lines.drain(d)
    }

    /// Everything that arrives before the PONG of a PING sent now.
    pub fn until_sync(&mut self) -> Vec<String> {
        let before = self.lines.seen.len();
        self.send("PING :sync-token");
        self.expect("PONG irc.sockit :sync-token");
        let seen = &self.lines.seen[before..];
        seen[..seen.len() - 1].to_vec()
    }

    /// The local address (for the nick other transports would get).
    pub fn local(&self) -> SocketAddr {
        self.w.local_addr().unwrap()
    }
}
