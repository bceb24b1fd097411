//! The IRC server under test: `sockit chat serve` with its IRC listener on
//! port 0, or a private ngircd (sockit_testkit::ngircd).

use std::net::SocketAddr;

use sockit_testkit::ngircd::Ngircd;
use sockit_testkit::{bin, Sockit};

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
    /// sockit's web port, for the WebSocket member (none over TLS: the
    /// page is then https and the test's WebSocket client is plain).
    pub web: Option<SocketAddr>,
    /// The certificate to trust when `irc` is sockit's `ircs://` listener.
    pub cert: Option<String>,
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
                    cert: None,
                    _proc: Proc::Sockit(s),
                }
            }
            Target::Ngircd => {
                let n = Ngircd::start();
                Server { target, irc: n.addr, text: None, web: None, cert: None, _proc: Proc::Ngircd(n) }
            }
        }
    }

    /// sockit with `--tls`: `irc` is its `ircs://` listener (the
    /// self-signed certificate in `cert`); no web listener.
    pub fn start_sockit_tls() -> Server {
        let args = [
            "chat",
            "serve",
            "--port",
            "0",
            "--no-web",
            "--irc-port",
            "0",
            "--no-history",
            "--tls",
            "--tls-port",
            "0",
            "--irc-tls-port",
            "0",
        ];
        let s = Sockit::start(&bin(), &args, 5);
        assert!(s.wait_stderr("tls certificate ", std::time::Duration::from_secs(10)), "{}", s.stderr());
        let log = s.stderr();
        let line = log.lines().find(|l| l.starts_with("tls certificate ")).unwrap_or_default();
        let cert = line.trim_start_matches("tls certificate ").split(" sha256").next().unwrap_or_default();
        Server {
            target: Target::Sockit,
            irc: s.addr("ircs"),
            text: Some(s.addr("tcp")),
            web: None,
            cert: Some(cert.to_string()),
            _proc: Proc::Sockit(s),
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
