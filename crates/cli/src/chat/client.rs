//! `sockit chat join`: the terminal client.
//!
//! Speaks JSON mode over TCP (or over UDP under `--udp`: the cookie
//! handshake, then `#ping#` heartbeats). On a terminal, rustyline edits the input line and incoming
//! events go through its external printer, so they never garble what you
//! are typing. When stdin is not a terminal it sends each stdin line and
//! prints events plainly: usable from scripts. If the server goes away the
//! client reconnects with backoff and restores its nick and room.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use sockit_chat::{ClientLine, Event};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

use super::show;

const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// How often a UDP member says it is still there (the server's default
/// timeout is 10 s; a datagram a second is nothing and survives short ones).
const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long to wait for the server's goodbye after `/quit`.
const QUIT_GRACE: Duration = Duration::from_secs(2);

/// Flags of `sockit chat join`.
#[derive(Args, Debug, Clone)]
pub struct JoinArgs {
    /// Chat server, HOST[:PORT] (port 9001 by default).
    pub addr: String,
    /// Your nick.
    #[arg(long, short = 'n', value_name = "NICK")]
    pub name: Option<String>,
    /// Room to join (default: the server's lobby).
    #[arg(long, short = 'r', value_name = "ROOM")]
    pub room: Option<String>,
    /// Use UDP (with heartbeats) instead of TCP.
    #[arg(long)]
    pub udp: bool,
    /// No colours (also when NO_COLOR is set or stdout is not a terminal).
    #[arg(long)]
    pub no_color: bool,
    /// Give up instead of reconnecting when the server goes away.
    #[arg(long)]
    pub no_reconnect: bool,
}

/// What the input side produced.
enum Input {
    Line(String),
    Eof,
}

/// Prints events: through rustyline's external printer on a terminal,
/// plainly otherwise.
type Out = mpsc::UnboundedSender<String>;

/// Runs the client until `/quit`, Ctrl-D, or end of stdin.
pub async fn run(args: JoinArgs) -> anyhow::Result<ExitCode> {
    let addr = sockit_net::addr::resolve_peer(&args.addr, super::serve::DEFAULT_PORT)?;
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let color = !args.no_color && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let (input_tx, mut input) = mpsc::channel::<Input>(64);
    let (out, out_rx) = mpsc::unbounded_channel::<String>();
    if interactive {
        editor(input_tx, out_rx)?;
    } else {
        tokio::spawn(read_stdin(input_tx));
        std::thread::spawn(move || print_plain(out_rx));
    }
    let setup = setup_lines(&args);
    let result = if args.udp {
        udp_client(addr, &setup, &mut input, &out, color).await
    } else {
        tcp_client(addr, &setup, &mut input, &out, color, !args.no_reconnect).await
    };
    drop(out);
    // Let the printer thread write what is left.
    tokio::time::sleep(Duration::from_millis(50)).await;
    result.map(|()| ExitCode::SUCCESS)
}

fn setup_lines(args: &JoinArgs) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(n) = &args.name {
        v.push(format!("/nick {n}"));
    }
    if let Some(r) = &args.room {
        v.push(format!("/join {r}"));
    }
    v
}

fn json_line(text: &str) -> Vec<u8> {
    let mut v = serde_json::to_vec(&ClientLine { text: text.to_string() }).unwrap_or_default();
    v.push(b'\n');
    v
}

/// How to show one line from the server; `None` for the acknowledgement of
/// the client's own `/json`, which is noise to a person.
fn show_line(line: &str, color: bool) -> Option<String> {
    match serde_json::from_str::<Event>(line) {
        Ok(ev) if ev.kind == sockit_chat::Kind::Notice && ev.text.starts_with("json mode") => None,
        Ok(ev) => Some(show::event_line(&ev, color)),
        Err(_) => Some(show::raw_line(line, color)),
    }
}

/// The line to send for one input event (end of input means `/quit`);
/// starts the goodbye deadline when it is a quit.
fn outgoing(input: Option<Input>, quitting: &mut Option<tokio::time::Instant>) -> String {
    let text = match input {
        Some(Input::Line(t)) => t,
        Some(Input::Eof) | None => "/quit".to_string(),
    };
    if is_quit(&text) {
        *quitting = Some(tokio::time::Instant::now() + QUIT_GRACE);
    }
    text
}

fn is_quit(line: &str) -> bool {
    matches!(line.split_whitespace().next(), Some("/quit" | "/exit"))
}

async fn tcp_client(
    addr: SocketAddr,
    setup: &[String],
    input: &mut mpsc::Receiver<Input>,
    out: &Out,
    color: bool,
    reconnect: bool,
) -> anyhow::Result<()> {
    let mut backoff = BACKOFF_START;
    let mut ever = false;
    loop {
        let stream = match TcpStream::connect(addr).await {
            Ok(s) => s,
            Err(e) if !ever && !reconnect => anyhow::bail!("cannot connect to {addr}: {e}"),
            Err(e) => {
                let _ =
                    out.send(show::raw_line(&format!("! cannot reach {addr} ({e}); retrying in {backoff:.1?}"), color));
                if wait_or_eof(backoff, input).await {
                    return Ok(());
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        if ever {
            let _ = out.send(show::raw_line(&format!("* reconnected to {addr}"), color));
        }
        ever = true;
        backoff = BACKOFF_START;
        let (r, mut w) = stream.into_split();
        let mut lines = BufReader::new(r).lines();
        let mut hello = b"/json\n".to_vec();
        for s in setup {
            hello.extend_from_slice(&json_line(s));
        }
        w.write_all(&hello).await?;
        let mut quitting: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                line = lines.next_line() => match line {
                    Ok(Some(l)) => if let Some(l) = show_line(&l, color) { let _ = out.send(l); },
                    _ => break,
                },
                i = input.recv(), if quitting.is_none() => {
                    let text = outgoing(i, &mut quitting);
                    if w.write_all(&json_line(&text)).await.is_err() {
                        break;
                    }
                }
                _ = tokio::time::sleep_until(quitting.unwrap_or_else(tokio::time::Instant::now)), if quitting.is_some() => break,
            }
        }
        if quitting.is_some() {
            return Ok(());
        }
        if !reconnect {
            anyhow::bail!("the server closed the connection");
        }
        let _ = out.send(show::raw_line(&format!("* disconnected from {addr}; reconnecting"), color));
        if wait_or_eof(backoff, input).await {
            return Ok(());
        }
    }
}

/// Sleeps for `d` unless input ends first (then true: time to leave).
async fn wait_or_eof(d: Duration, input: &mut mpsc::Receiver<Input>) -> bool {
    let deadline = tokio::time::Instant::now() + d;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return false,
            i = input.recv() => match i {
                Some(Input::Line(l)) if !is_quit(&l) => {}
                _ => return true,
            },
        }
    }
}

/// Lines typed before the server has let us in, kept to send once it has.
const PENDING_MAX: usize = 64;

/// The `#join#COOKIE#` token in a challenge datagram, if this is one. Only
/// a datagram that starts like the server's challenge counts: once joined we
/// speak JSON, so a member's message (a JSON object) can never pass for one.
fn challenge_token(text: &str) -> Option<&str> {
    if !text.starts_with("* to join, send: #join#") {
        return None;
    }
    let at = text.find("#join#")?;
    let rest = &text[at + "#join#".len()..];
    let end = rest.find('#')?;
    Some(&text[at..at + "#join#".len() + end + 1])
}

/// A UDP member: the server first proves our address with a cookie
/// (docs/protocol.md, Chat/UDP). We send `#ping#`, answer the challenge with
/// one datagram — the `#join#COOKIE#` token followed by `/json` and the
/// setup lines — and do the same again whenever a challenge comes back (we
/// timed out, or the server restarted).
async fn udp_client(
    addr: SocketAddr,
    setup: &[String],
    input: &mut mpsc::Receiver<Input>,
    out: &Out,
    color: bool,
) -> anyhow::Result<()> {
    let local: SocketAddr = if addr.is_ipv4() { "0.0.0.0:0".parse()? } else { "[::]:0".parse()? };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(addr).await?;
    let join = |token: &str| {
        let mut d = format!("{token}\n/json").into_bytes();
        for l in setup {
            d.push(b'\n');
            d.extend_from_slice(&json_line(l));
            d.pop();
        }
        d
    };
    let _ = socket.send(b"#ping#").await;
    let mut beat = tokio::time::interval(HEARTBEAT);
    beat.tick().await;
    let mut joined = false;
    let mut lost = false;
    let mut pending: Vec<Vec<u8>> = Vec::new();
    let mut quitting: Option<tokio::time::Instant> = None;
    let mut buf = vec![0u8; 65536];
    loop {
        tokio::select! {
            r = socket.recv(&mut buf) => match r {
                Ok(n) => {
                    lost = false;
                    let text = String::from_utf8_lossy(&buf[..n]);
                    if let Some(token) = challenge_token(&text) {
                        if joined {
                            let _ = out.send(show::raw_line("* the server forgot us; joining again", color));
                        }
                        let _ = socket.send(&join(token)).await;
                        for d in pending.drain(..) {
                            let _ = socket.send(&d).await;
                        }
                        joined = true;
                        continue;
                    }
                    for l in text.lines().filter_map(|l| show_line(l, color)) {
                        let _ = out.send(l);
                    }
                    if quitting.is_some() && text.contains("bye") {
                        return Ok(());
                    }
                }
                Err(e) => {
                    if !lost {
                        let _ = out.send(show::raw_line(&format!("! server not reachable ({e}); still trying"), color));
                    }
                    lost = true;
                    joined = false;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
            _ = beat.tick() => {
                // Keeps a member alive; from a stranger it asks for a challenge.
                let _ = socket.send(b"#ping#").await;
            }
            i = input.recv(), if quitting.is_none() => {
                let text = outgoing(i, &mut quitting);
                let mut d = json_line(&text);
                d.pop();
                if joined {
                    let _ = socket.send(&d).await;
                } else if pending.len() < PENDING_MAX {
                    pending.push(d);
                }
                if quitting.is_some() && !joined {
                    return Ok(());
                }
            }
            _ = tokio::time::sleep_until(quitting.unwrap_or_else(tokio::time::Instant::now)), if quitting.is_some() => return Ok(()),
        }
    }
}

async fn read_stdin(tx: mpsc::Sender<Input>) {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(l)) = lines.next_line().await {
        if tx.send(Input::Line(l)).await.is_err() {
            return;
        }
    }
    let _ = tx.send(Input::Eof).await;
}

fn print_plain(mut rx: mpsc::UnboundedReceiver<String>) {
    use std::io::Write;
    while let Some(l) = rx.blocking_recv() {
        let mut o = std::io::stdout().lock();
        if writeln!(o, "{l}").and_then(|()| o.flush()).is_err() {
            return;
        }
    }
}

/// Starts rustyline on its own thread; incoming lines print above the prompt.
fn editor(tx: mpsc::Sender<Input>, mut rx: mpsc::UnboundedReceiver<String>) -> anyhow::Result<()> {
    use rustyline::error::ReadlineError;
    use rustyline::ExternalPrinter;
    let mut rl = rustyline::DefaultEditor::new()?;
    let mut printer = rl.create_external_printer()?;
    std::thread::spawn(move || {
        while let Some(l) = rx.blocking_recv() {
            if printer.print(format!("{l}\n")).is_err() {
                return;
            }
        }
    });
    std::thread::spawn(move || loop {
        match rl.readline("> ") {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = rl.add_history_entry(line.as_str());
                }
                if tx.blocking_send(Input::Line(line)).is_err() {
                    return;
                }
            }
            Err(ReadlineError::Interrupted | ReadlineError::Eof) | Err(_) => {
                let _ = tx.blocking_send(Input::Eof);
                return;
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_servers_challenge_is_one() {
        let c = "* to join, send: #join#0123456789abcdef# (then send your message again)\n";
        assert_eq!(challenge_token(c), Some("#join#0123456789abcdef#"));
        // A member posting a token must not make clients re-run their setup.
        assert_eq!(challenge_token(r##"{"type":"msg","from":"x","text":"#join#00#"}"##), None);
        assert_eq!(challenge_token("<x> * to join, send: #join#00#"), None);
        assert_eq!(challenge_token("* to join, send: #join#"), None);
    }
}
