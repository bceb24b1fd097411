//! A private redis-server for the chat cluster tests: a free loopback
//! port, its own temp dir, no persistence (`--save "" --appendonly no`),
//! in the foreground (never the system service). It can be stopped and
//! started again on the same port with empty data (Redis "losing" its
//! data), and its pub/sub clients can be killed (`CLIENT KILL TYPE pubsub`).
//! `command` speaks RESP over a std `TcpStream`: enough for tests, and no
//! client crate in the test helpers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{free_port, need};

/// How long redis-server may take to answer PING after starting.
const UP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running (or stopped) redis-server.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    output: Arc<Mutex<Vec<String>>>,
}

/// A RESP reply, as much of it as tests look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK` and other simple strings.
    Status(String),
    /// `-ERR …`.
    Error(String),
    /// `:N`.
    Int(i64),
    /// `$N` bulk string (`None` for `$-1`).
    Bulk(Option<Vec<u8>>),
    /// `*N` array (`None` for `*-1`).
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The reply as text (status, bulk string, integer), if it is one.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Status(s) => Some(s.clone()),
            Reply::Int(n) => Some(n.to_string()),
            Reply::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

impl RedisServer {
    /// Starts redis-server on a free port; panics with its output if it
    /// does not answer PING. A few tries, since the port may be taken
    /// between probe and bind.
    pub fn start() -> RedisServer {
        need("redis-server");
        let dir = tempfile::tempdir().unwrap();
        let mut server = RedisServer { child: None, port: 0, dir, output: Arc::default() };
        let mut last = String::new();
        for _ in 0..3 {
            server.port = free_port();
            match server.spawn() {
                Ok(()) => return server,
                Err(e) => last = e,
            }
        }
        panic!("redis-server did not start:\n{last}");
    }

    /// A handle to the redis-server another handle started on `port`, for
    /// commands from another thread (stopping it is left to the owner).
    pub fn attach(port: u16) -> RedisServer {
        RedisServer { child: None, port, dir: tempfile::tempdir().unwrap(), output: Arc::default() }
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops it with SIGTERM and waits for it to exit (it keeps nothing).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Our own child, not yet reaped: the pid is still its.
            let pid = child.id() as libc::pid_t;
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, with empty data (no persistence).
    pub fn start_again(&mut self) {
        self.stop();
        if let Err(e) = self.spawn_retrying() {
            panic!("redis-server did not start again on port {}:\n{e}", self.port);
        }
    }

    /// Closes every pub/sub connection (`CLIENT KILL TYPE pubsub`); returns how many.
    pub fn kill_pubsub_clients(&self) -> i64 {
        match self.command(&["CLIENT", "KILL", "TYPE", "pubsub"]) {
            Reply::Int(n) => n,
            other => panic!("CLIENT KILL TYPE pubsub answered {other:?}"),
        }
    }

    /// Runs one command and returns its reply (panics if Redis does not answer).
    pub fn command(&self, args: &[&str]) -> Reply {
        self.try_command(args).unwrap_or_else(|e| panic!("redis {args:?}: {e}"))
    }

    /// [`RedisServer::command`] that reports a failure instead of panicking.
    pub fn try_command(&self, args: &[&str]) -> Result<Reply, String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            req.extend_from_slice(a.as_bytes());
            req.extend_from_slice(b"\r\n");
        }
        s.write_all(&req).map_err(|e| e.to_string())?;
        read_reply(&mut BufReader::new(s)).map_err(|e| e.to_string())
    }

    /// What redis-server printed so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }

    fn spawn_retrying(&mut self) -> Result<(), String> {
        // The old process's socket may linger for a moment.
        let deadline = Instant::now() + UP_TIMEOUT;
        loop {
            match self.spawn() {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--dir", &self.dir.path().display().to_string(), "--protected-mode", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run redis-server: {e}"))?;
        let outs: [Box<dyn Read + Send>; 2] =
            [Box::new(child.stdout.take().ok_or("no stdout")?), Box::new(child.stderr.take().ok_or("no stderr")?)];
        for out in outs {
            let keep = self.output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    keep.lock().unwrap().push(line);
                }
            });
        }
        let deadline = Instant::now() + UP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("redis-server exited ({status}):\n{}", self.output()));
            }
            if self.try_command(&["PING"]).is_ok_and(|r| r == Reply::Status("PONG".into())) {
                self.child = Some(child);
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(format!("redis-server did not answer PING within {UP_TIMEOUT:?}:\n{}", self.output()))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn read_line(r: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn read_reply(r: &mut impl BufRead) -> std::io::Result<Reply> {
    let line = read_line(r)?;
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad reply line {line:?}"));
    let (kind, rest) = line.split_at_checked(1).ok_or_else(bad)?;
    Ok(match kind {
        "+" => Reply::Status(rest.to_string()),
        "-" => Reply::Error(rest.to_string()),
        ":" => Reply::Int(rest.parse().map_err(|_| bad())?),
        "$" => {
            let n: i64 = rest.parse().map_err(|_| bad())?;
            if n < 0 {
                Reply::Bulk(None)
            } else {
                let mut buf = vec![0; n as usize + 2];
                r.read_exact(&mut buf)?;
                buf.truncate(n as usize);
                Reply::Bulk(Some(buf))
            }
        }
        "*" => {
            let n: i64 = rest.parse().map_err(|_| bad())?;
            if n < 0 {
                Reply::Array(None)
            } else {
                let mut items = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    items.push(read_reply(r)?);
                }
                Reply::Array(Some(items))
            }
        }
        _ => return Err(bad()),
    })
}
