//! Real IRC clients against a chat server (issue #17): the server under test
//! (sockit, or ngircd to prove the scenario itself), the other members of the
//! scenario, one driver per client (ii, irssi, the Python `irc` package,
//! WeeChat, HexChat) and the scenario they all run.
//!
//! The server is switchable: `SOCKIT_IRC_TARGET=ngircd` runs every test of
//! irc_clients.rs against a private ngircd instead of sockit.
#![allow(dead_code, clippy::unwrap_used)]

pub mod hexchat;
pub mod ii;
pub mod irssi;
pub mod members;
pub mod pyirc;
pub mod scenario;
pub mod server;
pub mod tmux;
pub mod watch;
pub mod weechat;

use std::time::Duration;

/// How long one expected event may take to show in a client.
pub const WAIT: Duration = Duration::from_secs(15);

/// True when every tool is on PATH. A missing tool fails the test under CI
/// (`CI` set); elsewhere the test is skipped with a message saying what to
/// install. scripts/test.sh installs them all.
pub fn have_tools(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !on_path(t)).collect();
    have(missing.is_empty(), &format!("{} not installed", missing.join(", ")))
}

/// `ok`, or else: a failure under CI, a skip saying `what` elsewhere.
pub fn have(ok: bool, what: &str) -> bool {
    if ok {
        return true;
    }
    let msg = format!("{what}; scripts/test.sh installs it");
    assert!(std::env::var_os("CI").is_none(), "{msg}");
    eprintln!("SKIPPED: {msg}");
    false
}

/// weechat-headless and its fifo plugin (Debian: weechat-plugins), which
/// the driver sends its commands through.
pub fn have_weechat() -> bool {
    if !have_tools(&["weechat-headless"]) {
        return false;
    }
    let fifo = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/local/lib"]
        .iter()
        .any(|d| std::path::Path::new(d).join("weechat/plugins/fifo.so").is_file());
    have(fifo, "WeeChat's fifo plugin is not installed (Debian package weechat-plugins)")
}

/// HexChat's Python plugin (Debian: hexchat-python3), which the HexChat
/// driver runs in.
pub fn have_hexchat_python() -> bool {
    let plugin = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/local/lib"]
        .iter()
        .any(|d| std::path::Path::new(d).join("hexchat/plugins/python.so").is_file());
    have(plugin, "HexChat's Python plugin is not installed (Debian package hexchat-python3)")
}

/// True when the Python `irc` package can be imported (pip install irc),
/// with the same CI rule as [`have_tools`].
pub fn have_python_irc() -> bool {
    if !have_tools(&["python3"]) {
        return false;
    }
    let ok = std::process::Command::new("python3")
        .args(["-c", "import irc.client"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    have(ok, "the Python irc package is not installed (pip install irc)")
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file())).unwrap_or(false)
}
