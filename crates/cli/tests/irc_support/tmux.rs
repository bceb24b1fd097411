//! A terminal program under tmux on a socket of its own (`tmux -S PATH`,
//! in the test's temp dir, so it goes with it), typed at with send-keys and
//! read with capture-pane; the tmux server is killed on drop, so no session
//! outlives its test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One tmux server with one session running one program.
pub struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    /// Runs `command` (a shell command line) in a `cols`×`rows` session.
    /// `dir` (the test's own temp dir) holds the socket and the config: the
    /// pane stays after the program exits (so a test can see that it
    /// exited) and keeps history.
    pub fn start(dir: &Path, command: &str, cols: u16, rows: u16) -> Tmux {
        let socket = dir.join("tmux.sock");
        let conf = dir.join("tmux.conf");
        std::fs::write(&conf, "set -g remain-on-exit on\nset -g history-limit 5000\nset -g status off\n").unwrap();
        let t = Tmux { socket };
        let conf = conf.to_string_lossy().to_string();
        let (cols, rows) = (cols.to_string(), rows.to_string());
        t.run(&["-f", &conf, "new-session", "-d", "-s", "t", "-x", &cols, "-y", &rows, command]);
        t
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run tmux: {e}"));
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Types `text` literally, then Enter.
    pub fn type_line(&self, text: &str) {
        self.run(&["send-keys", "-t", "t", "-l", text]);
        self.run(&["send-keys", "-t", "t", "Enter"]);
    }

    /// The visible screen and its scroll-back, wrapped lines joined.
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-J", "-t", "t", "-S", "-"])
    }

    /// True once the program has exited.
    pub fn dead(&self) -> bool {
        self.run(&["display-message", "-p", "-t", "t", "#{pane_dead}"]).trim() == "1"
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
