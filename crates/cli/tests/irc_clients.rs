//! Real IRC clients against `sockit chat serve` (issue #17): `ii`
//! (FIFOs and files), irssi under tmux, the Python `irc` package,
//! WeeChat (weechat-headless, FIFO and logs) and HexChat (on Xvfb, through
//! a Python plugin) each
//! register, join two channels, talk with an nc-style text member and a
//! WebSocket member, get op and set a topic, are kicked and quit, with
//! what every side sees checked (irc_support/scenario.rs). The same
//! scenario against a private ngircd proves the scenario itself.
//!
//! `SOCKIT_IRC_TARGET=ngircd` runs the sockit tests against ngircd instead
//! (all but the TLS one: that is sockit's `ircs://` listener only).
//! A missing client is a failure under CI and a skip (with a message)
//! elsewhere; scripts/test.sh installs them all.
#![allow(clippy::unwrap_used)]

mod chat_support;
mod irc_support;

use irc_support::hexchat::Hexchat;
use irc_support::ii::Ii;
use irc_support::irssi::Irssi;
use irc_support::pyirc::PyIrc;
use irc_support::scenario;
use irc_support::server::{Server, Target};
use irc_support::weechat::Weechat;
use irc_support::{have_python_irc, have_tools, have_weechat};

/// The server for a test meant for `default`, if its tools are there.
fn server(default: Target, client_tools: &[&str]) -> Option<Server> {
    let target = Target::from_env(default);
    if !have_tools(client_tools) || !have_tools(target.tools()) {
        return None;
    }
    Some(Server::start(target))
}

#[test]
fn ii_on_sockit() {
    let Some(s) = server(Target::Sockit, &["ii"]) else { return };
    scenario::run(&s, |addr| Ii::start(addr, "iiuser"));
}

#[test]
fn irssi_on_sockit() {
    let Some(s) = server(Target::Sockit, &["irssi", "tmux"]) else { return };
    scenario::run(&s, |addr| Irssi::start(addr, "irssiuser"));
}

#[test]
fn python_irc_on_sockit() {
    if !have_python_irc() {
        return;
    }
    let Some(s) = server(Target::Sockit, &[]) else { return };
    scenario::run(&s, |addr| PyIrc::start(addr, "pyuser"));
}

#[test]
fn python_irc_over_tls_on_sockit() {
    if !have_python_irc() {
        return;
    }
    // ngircd here has no TLS: this one is sockit's ircs:// listener only.
    let s = Server::start_sockit_tls();
    let cert = s.cert.clone().unwrap();
    scenario::run(&s, |addr| PyIrc::start_tls(addr, "tlsuser", &cert));
}

#[test]
fn weechat_on_sockit() {
    if !have_weechat() {
        return;
    }
    let Some(s) = server(Target::Sockit, &[]) else { return };
    scenario::run(&s, |addr| Weechat::start(addr, "wcuser"));
}

#[test]
fn hexchat_on_sockit() {
    let Some(s) = server(Target::Sockit, &["hexchat", "Xvfb", "setpriv"]) else { return };
    if !irc_support::have_hexchat_python() {
        return;
    }
    scenario::run(&s, |addr| Hexchat::start(addr, "hcuser"));
}

#[test]
fn ii_on_ngircd_proves_the_scenario() {
    let Some(s) = server(Target::Ngircd, &["ii"]) else { return };
    scenario::run(&s, |addr| Ii::start(addr, "iiuser"));
}
