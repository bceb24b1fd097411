//! A private ngircd for tests that compare sockit with a real ircd or
//! check a test scenario against one: a generated config in a temp dir,
//! a loopback port, `ngircd -n -f CONF` in the foreground (never the
//! system service, whose config and conf.d are not read), killed on drop.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{free_port, need};

/// A running ngircd.
pub struct Ngircd {
    child: Child,
    /// Where it listens (127.0.0.1).
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Ngircd {
    /// Starts ngircd; panics (with its output) if it does not come up. A
    /// few tries, since the free port may be taken between probe and bind.
    pub fn start() -> Ngircd {
        need("ngircd");
        let mut last = String::new();
        for _ in 0..3 {
            match Ngircd::try_start() {
                Ok(n) => return n,
                Err(e) => last = e,
            }
        }
        panic!("ngircd did not start:\n{last}");
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    fn try_start() -> Result<Ngircd, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = free_port();
        let conf = dir.path().join("ngircd.conf");
        std::fs::create_dir(dir.path().join("conf.d")).map_err(|e| e.to_string())?;
        std::fs::write(&conf, config(port, dir.path())).map_err(|e| e.to_string())?;
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
        let outs: [Box<dyn Read + Send>; 2] =
            [Box::new(child.stdout.take().ok_or("no stdout")?), Box::new(child.stderr.take().ok_or("no stderr")?)];
        for out in outs {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        // ngircd says `Server "NAME" (on "HOST") ready.` once it listens.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if line.contains(") ready.") {
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

/// Loopback only; no ident, DNS or PAM look-ups (they slow registration);
/// no per-IP connection limit, no command penalty and relaxed flood
/// protection (user mode F) for everyone (every test member comes from
/// 127.0.0.1 and load tests send fast); nicks up to 31; its own
/// empty conf.d instead of the system one.
fn config(port: u16, dir: &Path) -> String {
    format!(
        "[Global]\n\tName = ngircd.test.local\n\tInfo = sockit test ircd\n\tListen = 127.0.0.1\n\tPorts = {port}\n\
         \tMotdPhrase = test\n\tPidFile = {dir}/ngircd.pid\n\
         \tAdminInfo1 = test\n\tAdminInfo2 = test\n\tAdminEMail = test@localhost\n\
         [Limits]\n\tMaxConnectionsIP = 0\n\tMaxNickLength = 31\n\tMaxPenaltyTime = 0\n\
         \tPingTimeout = 120\n\tPongTimeout = 20\n\
         [Options]\n\tDNS = no\n\tIdent = no\n\tPAM = no\n\tMorePrivacy = no\n\tDefaultUserModes = F\n\tIncludeDir = {dir}/conf.d\n",
        dir = dir.display()
    )
}
