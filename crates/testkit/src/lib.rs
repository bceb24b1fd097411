//! Test helpers for sockit's integration tests.
//!
//! [`Sockit::start`] runs the real binary with the given arguments, reads its
//! stderr until it has announced the expected number of `listening on` lines,
//! and records where it listens. Dropping it kills the process;
//! [`Sockit::stop`] sends SIGTERM and returns the exit status, for tests of
//! graceful shutdown. [`need`] fails a test loudly when a peer tool (nc,
//! socat, curl …) is missing, instead of letting it pass without testing.
//!
//! [`redis::RedisServer`] is a private redis-server for the chat cluster
//! tests, [`ngircd::Ngircd`] a private ngircd.
//!
//! Everything panics on failure: these are test helpers.
#![allow(clippy::unwrap_used, missing_docs)]

pub mod ngircd;
pub mod redis;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a server may take to announce its listeners.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running sockit process.
pub struct Sockit {
    child: Child,
    /// `(scheme, address)` for each `listening on SCHEME://ADDRESS` line, in order.
    pub listening: Vec<(String, String)>,
    stderr: Arc<Mutex<Vec<String>>>,
}

/// The path of the sockit binary under test (set by cargo for integration tests
/// of the `sockit` package; other crates may set `SOCKIT_BIN`).
pub fn bin() -> String {
    std::env::var("SOCKIT_BIN")
        .or_else(|_| std::env::var("CARGO_BIN_EXE_sockit"))
        .unwrap_or_else(|_| panic!("SOCKIT_BIN not set and not a test of the sockit package"))
}

impl Sockit {
    /// Starts `sockit ARGS…` and waits for `listeners` announce lines.
    pub fn start(bin: &str, args: &[&str], listeners: usize) -> Sockit {
        Self::start_with(Command::new(bin).args(args), listeners)
    }

    /// Like [`start`](Self::start) with a prepared command (env, cwd, stdin).
    pub fn start_with(cmd: &mut Command, listeners: usize) -> Sockit {
        let mut child = cmd
            .stderr(Stdio::piped())
            .stdout(Stdio::piped())
            .stdin(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let keep = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                keep.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let mut listening = Vec::new();
        let deadline = Instant::now() + START_TIMEOUT;
        while listening.len() < listeners {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("listening on ") {
                        let (scheme, addr) = rest.split_once("://").unwrap();
                        listening.push((scheme.to_string(), addr.to_string()));
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "{cmd:?} announced {} of {listeners} listeners; stderr:\n{}",
                        listening.len(),
                        lines.lock().unwrap().join("\n")
                    );
                }
            }
        }
        Sockit { child, listening, stderr: lines }
    }

    /// The `n`th announced address with this scheme, as a socket address.
    pub fn addr_n(&self, scheme: &str, n: usize) -> SocketAddr {
        let found = self.listening.iter().filter(|(s, _)| s == scheme).nth(n);
        let (_, a) = found.unwrap_or_else(|| panic!("no {scheme}:// listener #{n} in {:?}", self.listening));
        a.parse().unwrap_or_else(|e| panic!("{a}: {e}"))
    }

    /// The first announced address with this scheme.
    pub fn addr(&self, scheme: &str) -> SocketAddr {
        self.addr_n(scheme, 0)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Waits up to `timeout` for a stderr line containing `needle`.
    pub fn wait_stderr(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.stderr.lock().unwrap().iter().any(|l| l.contains(needle)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The child's stdin, for interactive commands.
    pub fn stdin(&mut self) -> ChildStdin {
        self.child.stdin.take().expect("stdin already taken")
    }

    /// The child's stdout.
    pub fn stdout(&mut self) -> ChildStdout {
        self.child.stdout.take().expect("stdout already taken")
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`).
    pub fn signal(&self, signal: i32) {
        #[allow(unsafe_code)]
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }

    /// Sends SIGTERM and waits up to `timeout` for exit; panics if it hangs.
    pub fn stop(mut self, timeout: Duration) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait(timeout)
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("sockit did not exit within {timeout:?}; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sockit {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Panics unless `tool` is on PATH: a missing peer must fail the test, not skip it.
pub fn need(tool: &str) {
    let found =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file())).unwrap_or(false);
    assert!(found, "{tool} is not installed; scripts/test.sh installs it (apt-get)");
}

/// Runs a command with `input` on stdin, killing it after `timeout`; returns
/// (status, stdout, stderr).
pub fn run_with_input(cmd: &mut Command, input: &[u8], timeout: Duration) -> (ExitStatus, Vec<u8>, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(&input);
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    (status, out_t.join().unwrap(), err_t.join().unwrap())
}

/// A free TCP port on 127.0.0.1 (bound then released; small race, fine for tests
/// of peers that cannot take port 0, such as `nc -l`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Random bytes from a small xorshift generator (deterministic per seed).
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Loads `url` in headless Chromium (Debian `chromium`) and returns the DOM
/// after the page's scripts ran. `script_budget` is Chromium's virtual time
/// budget (how long scripts and sockets may run before the dump); the process
/// is killed and the test fails after `timeout`. Starts with a fresh profile
/// and the flags this sandbox needs (no background networking, no sandbox as root).
pub fn chromium_dump_dom(url: &str, script_budget: Option<Duration>, timeout: Duration) -> String {
    need("chromium");
    let profile =
        std::env::temp_dir().join(format!("sockit-chromium-{}-{}", std::process::id(), SystemTimeNanos::now()));
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    if let Some(budget) = script_budget {
        cmd.arg(format!("--virtual-time-budget={}", budget.as_millis()));
    }
    let mut child = cmd.args(["--dump-dom", url]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(&profile);
            panic!("chromium did not finish loading {url} within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&profile);
    reader.join().unwrap()
}

/// Nanoseconds since the epoch, to make temporary names unique.
struct SystemTimeNanos;

impl SystemTimeNanos {
    fn now() -> u128 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
    }
}
