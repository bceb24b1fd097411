//! `--raw`: plain bytes, no protocol — what `nc host 5001 > file` and the
//! classic tutorial client (connect, send `Hello server!`, read until the
//! server closes) expect.
//!
//! A raw sender never interprets what a client sends: it reads and discards
//! it while the file streams (otherwise unread bytes would make the kernel
//! answer our close with a reset, which can cut off the file's tail on the
//! client), half-closes after the last byte, and waits briefly for the client
//! to hang up.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown as SockShutdown, TcpStream};
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context;
use sockit_net::{Limits, Shutdown, StreamServer};
use sockit_transfer::{human_bytes, DEFAULT_PORT};

use super::net;
use super::progress::quiet;
use super::{ReceiveArgs, SendArgs};
use crate::common::serve_until_signal;

/// How long a raw sender waits for a client to close after the file.
const LINGER: Duration = Duration::from_secs(2);

/// Raw clients at once (each holds a file descriptor and a thread).
const MAX_CLIENTS: usize = 256;

/// `sockit send --raw FILE (--listen ADDR | --to HOST)`.
pub async fn send(args: &SendArgs, shutdown: &Shutdown) -> anyhow::Result<ExitCode> {
    let [path] = args.paths.as_slice() else {
        anyhow::bail!("--raw sends exactly one file (got {})", args.paths.len());
    };
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_file() {
        anyhow::bail!("{} is not a regular file; --raw sends one file", path.display());
    }
    if let Some(to) = &args.to {
        let stream = net::connect(to).await?;
        let p = path.clone();
        let sent = net::run_blocking(stream, shutdown, move |s| stream_file(s, &p)).await??;
        if !quiet() {
            eprintln!("sent {} ({}) to {to}", path.display(), human_bytes(sent));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let addr = args.listen.as_deref().unwrap_or("127.0.0.1:5001");
    let (listener, _) = net::listen(addr, DEFAULT_PORT)?;
    let limits = Limits { max_connections: MAX_CLIENTS, max_per_ip: MAX_CLIENTS / 4, ..Limits::default() };
    let server = StreamServer::new(listener, limits, shutdown.clone());
    let path = std::sync::Arc::new(path.clone());
    shutdown.spawn(server.run(move |stream, info| {
        let path = path.clone();
        async move {
            let p = path.to_path_buf();
            match net::run_blocking(stream, &info.shutdown, move |s| stream_file(s, &p)).await {
                Ok(Ok(n)) => tracing::info!(peer = %info.peer, "sent {} ({})", path.display(), human_bytes(n)),
                Ok(Err(e)) => tracing::warn!(peer = %info.peer, "sending failed: {e}"),
                Err(e) => tracing::warn!(peer = %info.peer, "sending failed: {e:#}"),
            }
        }
    }));
    serve_until_signal(shutdown).await;
    Ok(ExitCode::SUCCESS)
}

/// Streams the file, discarding whatever the client sends, then half-closes
/// and lingers until the client hangs up (or [`LINGER`]).
fn stream_file(s: &mut TcpStream, path: &Path) -> io::Result<u64> {
    let mut file = File::open(path)?;
    let mut drain = s.try_clone()?;
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sink = [0u8; 8192];
        while matches!(drain.read(&mut sink), Ok(n) if n > 0) {}
        let _ = done_tx.send(());
    });
    // std's copy uses sendfile(2) from a file to a socket.
    let sent = io::copy(&mut file, s)?;
    s.flush()?;
    let _ = s.shutdown(SockShutdown::Write);
    let _ = done_rx.recv_timeout(LINGER);
    let _ = s.shutdown(SockShutdown::Both);
    Ok(sent)
}

/// `sockit receive --raw (--from HOST | --listen ADDR) > file`.
pub async fn receive(args: &ReceiveArgs, shutdown: &Shutdown) -> anyhow::Result<ExitCode> {
    let stream = match &args.from {
        Some(from) => net::connect(from).await?,
        None => {
            let (listener, _) = net::listen(args.listen.as_deref().unwrap_or("127.0.0.1:5001"), DEFAULT_PORT)?;
            match net::accept(&listener, shutdown).await? {
                Some((s, _)) => s,
                None => anyhow::bail!("stopped before a sender connected"),
            }
        }
    };
    let got = net::run_blocking(stream, shutdown, |s| -> io::Result<u64> {
        let mut out = io::stdout().lock();
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    out.write_all(&buf[..n])?;
                    total += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        out.flush()?;
        Ok(total)
    })
    .await?
    .context("receiving")?;
    if !quiet() {
        eprintln!("received {} to stdout", human_bytes(got));
    }
    Ok(ExitCode::SUCCESS)
}
