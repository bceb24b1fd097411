//! The IRC server under test: `sockit chat serve` with its IRC listener on
//! port 0, or a private ngircd (generated config in a temp dir, loopback
//! port, `ngircd -n`, never the system service).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sockit_testkit::{bin, free_port, Sockit};

/// Which server a scenario runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `sockit chat serve --irc-port 0`: text and WebSocket members too.
    Sockit,
    /// A private ngircd: every member speaks IRC.
    Ngircd,
}

impl Target {
    /// `SOCKIT_IRC_TARGET=ngircd` overrides `default` (for developing the
    /// scenario against a known-good ircd).
    pub fn from_env(default: Target) -> Target {
        match std::env::var("SOCKIT_IRC_TARGET").as_deref() {
            Ok("ngircd") => Target::Ngircd,
            Ok("sockit") => Target::Sockit,
            _ => default,
        }
    }

    /// The tools this target needs besides the client.
    pub fn tools(self) -> &'static [&'static str] {
        match self {
            Target::Sockit => &["python3"],
            Target::Ngircd => &["ngircd"],
        }
    }
}

/// A running server.
pub struct Server {
    /// Which one.
    pub target: Target,
    /// Its IRC listener.
    pub irc: SocketAddr,
    /// sockit's chat text port (TCP), for the nc-style member.
    pub text: Option<SocketAddr>,
    /// sockit's web port, for the WebSocket member.
    pub web: Option<SocketAddr>,
    _proc: Proc,
}

enum Proc {
    Sockit(Sockit),
    Ngircd(Ngircd),
}

impl Server {
    /// Starts `target`.
    pub fn start(target: Target) -> Server {
        match target {
            Target::Sockit => {
                let args = ["chat", "serve", "--port", "0", "--web-port", "0", "--irc-port", "0", "--no-history"];
                let s = Sockit::start(&bin(), &args, 4);
                Server {
                    target,
                    irc: s.addr("irc"),
                    text: Some(s.addr("tcp")),
                    web: Some(s.addr("http")),
                    _proc: Proc::Sockit(s),
                }
            }
            Target::Ngircd => {
                let n = Ngircd::start();
                Server { target, irc: n.addr, text: None, web: None, _proc: Proc::Ngircd(n) }
            }
        }
    }

    /// What the server printed so far (sockit: stderr), for failure messages.
    pub fn log(&self) -> String {
        match &self._proc {
            Proc::Sockit(s) => s.stderr(),
            Proc::Ngircd(_) => String::new(),
        }
    }
}

/// ngircd in the foreground on a private port; killed on drop.
struct Ngircd {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Ngircd {
    /// A few tries: the free port may be taken between probe and bind.
    fn start() -> Ngircd {
        let mut last = String::new();
        for _ in 0..3 {
            match Ngircd::try_start() {
                Ok(n) => return n,
                Err(e) => last = e,
            }
        }
        panic!("ngircd did not start: {last}");
    }

    fn try_start() -> Result<Ngircd, String> {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let conf = dir.path().join("ngircd.conf");
        std::fs::write(&conf, config(port, dir.path())).unwrap();
        let mut child = Command::new("ngircd")
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run ngircd: {e}"))?;
        let (tx, rx) = mpsc::channel();
        for out in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if line.contains("ready") {
                return Ok(Ngircd { child, addr: SocketAddr::from(([127, 0, 0, 1], port)), _dir: dir });
            }
            seen.push(line);
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(seen.join("\n"))
    }
}

impl Drop for Ngircd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal ngircd.conf: loopback only, no ident/DNS/PAM lookups (they
/// would slow registration), no per-IP connection limit (every member
/// comes from 127.0.0.1).
fn config(port: u16, dir: &std::path::Path) -> String {
    format!(
        "[Global]\nName = irc.test\nInfo = sockit test ircd\nListen = 127.0.0.1\nPorts = {port}\n\
         MotdPhrase = sockit scenario check\nPidFile = {}/ngircd.pid\n\
         AdminInfo1 = test\nAdminInfo2 = test\nAdminEMail = test@localhost\n\
         [Limits]\nMaxConnectionsIP = 0\nPingTimeout = 120\nPongTimeout = 20\n\
         [Options]\nPAM = no\nIdent = no\nDNS = no\nMorePrivacy = no\n",
        dir.display()
    )
}
