//! `sockit send` / `sockit receive`: verified, resumable file transfer, and
//! `--raw` plain bytes for nc and the classic tutorial client.
//!
//! Either side may listen. A listening side prints `listening on tcp://…`,
//! serves one session and exits with its result; a connection that fails
//! before any file moves (wrong code, not a sockit peer, silence, a refused
//! manifest) does not count, and it keeps listening (see [`net::serve`]).

mod code;
mod message;
mod net;
mod progress;
mod raw;
mod state;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::json;
use sockit_net::Shutdown;
use sockit_transfer::{human_bytes, Caps, ReceiveOptions, SendOptions, DEFAULT_PORT};

use crate::common::Listener;
use progress::{quiet, rate, CliProgress};

/// Flags of `sockit send`.
#[derive(Args, Debug, Clone)]
pub struct SendArgs {
    /// Files and folders to send (folders recursively); `-` sends standard
    /// input as a message the receiver prints.
    #[arg(required_unless_present = "text", value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Send TEXT as a message the receiver prints (nothing is kept there).
    #[arg(long, value_name = "TEXT", conflicts_with_all = ["paths", "raw"])]
    pub text: Option<String>,
    /// Connect to a listening receiver at HOST[:PORT] (default port 5001).
    #[arg(long, value_name = "HOST[:PORT]", conflicts_with = "listen")]
    pub to: Option<String>,
    /// Listen on ADDR ([HOST]:PORT; default 127.0.0.1:5001) for the receiver to connect.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:5001")]
    pub listen: Option<String>,
    /// Shared code (words; case, spaces and dashes do not matter). A
    /// listening side without one generates one and prints it; a connecting
    /// side without one asks on a terminal.
    #[arg(long, value_name = "WORDS", env = "SOCKIT_CODE")]
    pub code: Option<String>,
    /// No code: encrypted with an ephemeral key exchange but NOT
    /// authenticated (protects against a passive listener only).
    #[arg(long, conflicts_with = "code")]
    pub no_code: bool,
    /// Send what symlinks point to instead of skipping them.
    #[arg(long)]
    pub follow_symlinks: bool,
    /// Plain bytes of one file, for nc and simple socket clients (no
    /// manifest, no verification). With --listen, every client that connects
    /// gets the file, until Ctrl-C.
    #[arg(long)]
    pub raw: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
    /// Most file bytes per second (for tests and shared links).
    #[arg(long, value_name = "BYTES_PER_SEC", value_parser = parse_size, hide = true)]
    pub rate_limit: Option<u64>,
    /// Bytes per data frame.
    #[arg(long, value_name = "BYTES", value_parser = parse_size, hide = true)]
    pub chunk: Option<u64>,
    /// Seconds the other side has to complete a valid hello (and code proof).
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    pub hello_timeout: Duration,
}

/// Flags of `sockit receive`.
#[derive(Args, Debug, Clone)]
pub struct ReceiveArgs {
    /// Folder to write into (created if missing); nothing is written outside it.
    #[arg(long, short, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Connect to a listening sender at HOST[:PORT] (default port 5001).
    #[arg(long, value_name = "HOST[:PORT]", conflicts_with = "listen")]
    pub from: Option<String>,
    /// Listen on ADDR ([HOST]:PORT); the default when --from is not given: 127.0.0.1:5001.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Shared code (words; case, spaces and dashes do not matter). A
    /// listening side without one generates one and prints it; a connecting
    /// side without one asks on a terminal.
    #[arg(long, value_name = "WORDS", env = "SOCKIT_CODE")]
    pub code: Option<String>,
    /// No code: encrypted with an ephemeral key exchange but NOT
    /// authenticated (protects against a passive listener only).
    #[arg(long, conflicts_with = "code")]
    pub no_code: bool,
    /// Replace existing files (default: keep both, the new one as `name (1).ext`).
    #[arg(long)]
    pub overwrite: bool,
    /// Refuse sessions offering more than this many bytes (suffixes K, M, G, T).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_size: Option<u64>,
    /// Refuse sessions offering more files and folders than this.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub max_files: usize,
    /// Plain bytes to stdout (from nc, `sockit send --raw`, any TCP sender).
    #[arg(long)]
    pub raw: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
    /// Seconds a connecting sender has to complete a valid hello (and code
    /// proof) before it is cut off and the listener goes on.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    pub hello_timeout: Duration,
}

/// `5`, `2.5`, `10s` → a duration of at least 10 ms.
fn parse_secs(s: &str) -> Result<Duration, String> {
    let n: f64 = s.trim().trim_end_matches('s').parse().map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !n.is_finite() || !(0.01..=86_400.0).contains(&n) {
        return Err(format!("{s:?}: give between 0.01 and 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(n))
}

/// `10G`, `500M`, `4k`, `123` → bytes (powers of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_lowercase() {
                'k' => 1u64 << 10,
                'm' => 1 << 20,
                'g' => 1 << 30,
                't' => 1 << 40,
                'b' => 1,
                _ => return Err(format!("unknown size suffix in {s:?} (use K, M, G or T)")),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    let n: f64 = num.trim().parse().map_err(|_| format!("{s:?} is not a size such as 500M or 2G"))?;
    if !n.is_finite() || n < 0.0 {
        return Err(format!("{s:?} is not a size"));
    }
    Ok((n * mult as f64) as u64)
}

fn shutdown_on_signals() -> Shutdown {
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    shutdown
}

/// Runs `sockit send`.
pub async fn send(args: SendArgs) -> anyhow::Result<ExitCode> {
    let shutdown = shutdown_on_signals();
    if args.raw {
        return raw::send(&args, &shutdown).await;
    }
    if args.to.is_none() && args.listen.is_none() {
        anyhow::bail!("say where the receiver is: --to HOST[:PORT], or --listen to let it connect");
    }
    let follow = args.follow_symlinks;
    let code = code::plan(args.code.as_deref(), args.no_code, args.to.is_none())?;
    // A message (`--text`, `-`) is spooled to a private file first, so it
    // travels like any file (sealed, verified) and the receiver prints it.
    let spool = match (&args.text, args.paths.as_slice()) {
        (Some(text), _) => Some(message::Spool::text(text)?),
        (None, [p]) if p.as_os_str() == "-" => Some(message::Spool::stdin().await?),
        _ => None,
    };
    let paths = spool.as_ref().map_or_else(|| args.paths.clone(), |s| vec![s.path().to_path_buf()]);
    let is_message = spool.is_some();
    let mut source = tokio::task::spawn_blocking(move || {
        sockit_transfer::build_source(&paths, follow, &mut |w| tracing::warn!("{w}"))
    })
    .await
    .context("the scanning thread failed")?
    .context("cannot read what to send")?;
    source.manifest.message = is_message;
    let opts = SendOptions {
        code: code.code.clone(),
        rate_limit: args.rate_limit,
        chunk: args.chunk.map_or(SendOptions::default().chunk, |c| c as usize),
        // A message never resumes nor counts as "already there".
        resume_key: if is_message { SendOptions::default().resume_key } else { state::resume_key() },
    };
    let source = std::sync::Arc::new(source);
    let hello_timeout = args.hello_timeout;
    let session = move |stream: tokio::net::TcpStream, ticket: net::Ticket, shutdown: Shutdown| {
        let source = source.clone();
        let opts = opts.clone();
        async move {
            let started = Instant::now();
            let r = net::run_session(stream, &shutdown, hello_timeout, ticket, move |s, admit| {
                let progress = CliProgress::new("sent");
                let r = sockit_transfer::send_session(s, &source, &opts, &progress, admit);
                progress.finish();
                r
            })
            .await?;
            Ok::<_, anyhow::Error>((r, started.elapsed()))
        }
    };
    let (result, elapsed) = match (&args.to, &args.listen) {
        (Some(to), _) => session(net::connect(to).await?, net::Ticket::alone(), shutdown.clone()).await?,
        (None, Some(addr)) => {
            let (listener, local) = net::listen(addr, DEFAULT_PORT)?;
            code::announce(&code, &format!("sockit receive --from {}", code::dial_address(local)));
            let limit = code.generated.then_some(code::GENERATED_TRIES);
            net::serve_one(&listener, &shutdown, "receiver", limit, |stream, ticket| {
                session(stream, ticket, shutdown.clone())
            })
            .await?
        }
        (None, None) => unreachable!("checked above"),
    };
    let report = result?;
    let secs = elapsed.as_secs_f64();
    let s = &report.summary;
    let line = format!(
        "sent {} of {} files, {} in {secs:.2} s ({}/s); {} resumed or already there; receiver verified {}, failed {}",
        report.files_sent,
        report.files,
        human_bytes(report.bytes_sent),
        human_bytes(rate(report.bytes_sent, secs) as u64),
        human_bytes(report.bytes_resumed),
        s.files_received,
        s.files_failed
    );
    let j = json!({
        "role": "send", "files": report.files, "total_bytes": report.total_bytes,
        "files_sent": report.files_sent, "files_present": report.files_present,
        "files_unreadable": report.files_unreadable, "files_failed": s.files_failed,
        "files_received": s.files_received,
        "bytes_sent": report.bytes_sent, "bytes_resumed": report.bytes_resumed,
        "seconds": secs, "bytes_per_sec": rate(report.bytes_sent, secs), "errors": s.errors,
    });
    report_summary(args.json, &j, &line);
    for e in &s.errors {
        tracing::warn!("receiver: {e}");
    }
    Ok(if s.files_failed > 0 || report.files_unreadable > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// The closing words: JSON on stdout with `--json`, a line on stderr unless quiet.
fn report_summary(json: bool, value: &serde_json::Value, line: &str) {
    if json {
        println!("{value}");
    }
    if !quiet() {
        eprintln!("{line}");
    }
}

fn receive_options(args: &ReceiveArgs, code: Option<String>) -> ReceiveOptions {
    ReceiveOptions {
        out: args.out.clone(),
        code,
        overwrite: args.overwrite,
        caps: Caps { max_size: args.max_size.unwrap_or(u64::MAX), max_files: args.max_files },
    }
}

/// Runs one receiver session on a connection.
async fn receive_on(
    stream: tokio::net::TcpStream,
    ticket: net::Ticket,
    opts: ReceiveOptions,
    hello_timeout: Duration,
    shutdown: &Shutdown,
) -> anyhow::Result<net::Outcome<sockit_transfer::Summary>> {
    let started = Instant::now();
    let r = net::run_session(stream, shutdown, hello_timeout, ticket, move |s, admit| {
        let progress = CliProgress::new("received");
        let r = sockit_transfer::receive_session(s, &opts, &progress, admit);
        progress.finish();
        r
    })
    .await?;
    Ok((r, started.elapsed()))
}

/// Runs `sockit receive`.
pub async fn receive(args: ReceiveArgs) -> anyhow::Result<ExitCode> {
    let shutdown = shutdown_on_signals();
    if args.raw {
        return raw::receive(&args, &shutdown).await;
    }
    let code = code::plan(args.code.as_deref(), args.no_code, args.from.is_none())?;
    let opts = receive_options(&args, code.code.clone());
    let hello = args.hello_timeout;
    let (result, elapsed) = match &args.from {
        Some(from) => receive_on(net::connect(from).await?, net::Ticket::alone(), opts, hello, &shutdown).await?,
        None => {
            let addr = args.listen.as_deref().unwrap_or("127.0.0.1:5001");
            let (listener, local) = net::listen(addr, DEFAULT_PORT)?;
            code::announce(&code, &format!("sockit send FILE --to {}", code::dial_address(local)));
            let limit = code.generated.then_some(code::GENERATED_TRIES);
            net::serve_one(&listener, &shutdown, "sender", limit, |stream, ticket| {
                receive_on(stream, ticket, opts.clone(), hello, &shutdown)
            })
            .await?
        }
    };
    let s = result?;
    let secs = elapsed.as_secs_f64();
    if let Some(path) = &s.message {
        message::print(path)?;
    }
    let line = format!(
        "received {} files, {} in {secs:.2} s ({}/s) into {}; {} resumed or already there ({} files); failed {}",
        s.files_received,
        human_bytes(s.bytes_received),
        human_bytes(rate(s.bytes_received, secs) as u64),
        args.out.display(),
        human_bytes(s.bytes_resumed),
        s.files_present,
        s.files_failed
    );
    let j = json!({
        "role": "receive", "out": args.out, "files_received": s.files_received,
        "files_present": s.files_present, "files_failed": s.files_failed,
        "bytes_received": s.bytes_received, "bytes_resumed": s.bytes_resumed,
        "seconds": secs, "bytes_per_sec": rate(s.bytes_received, secs), "errors": s.errors,
    });
    report_summary(args.json, &j, &line);
    for e in &s.errors {
        tracing::warn!("{e}");
    }
    Ok(if s.files_failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// `sockit up`: a receiver on port 5001 writing into `./sockit-inbox`,
/// taking one session at a time until shutdown.
pub async fn up(ctx: &crate::common::UpContext) -> anyhow::Result<Vec<Listener>> {
    let addr = sockit_net::resolve_bind(&ctx.bind, ctx.port(DEFAULT_PORT))?;
    let (listener, local) = net::listen(&addr.to_string(), DEFAULT_PORT)?;
    // The inbox takes sessions until shutdown, each with this code; a
    // wrong code pauses the listener 1 s, like a code the user chose.
    let inbox_code = sockit_transfer::secure::code::generate();
    let opts = ReceiveOptions {
        out: PathBuf::from("sockit-inbox"),
        code: Some(inbox_code.clone()),
        overwrite: false,
        caps: Caps { max_size: u64::MAX, max_files: 100_000 },
    };
    let shutdown = ctx.shutdown.clone();
    ctx.shutdown.spawn(async move {
        let hello = Duration::from_secs(5);
        let mut session = |stream, ticket| receive_on(stream, ticket, opts.clone(), hello, &shutdown);
        let mut log = |peer, (r, _): net::Outcome<sockit_transfer::Summary>| {
            match r {
                Ok(s) => tracing::info!(
                    %peer,
                    "received {} files ({}) into sockit-inbox, {} failed",
                    s.files_received,
                    human_bytes(s.bytes_received),
                    s.files_failed
                ),
                Err(e) => tracing::warn!(%peer, "transfer failed: {e}"),
            }
            None
        };
        loop {
            match net::serve(&listener, &shutdown, "sender", None, &mut session, &mut log).await {
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!("{e:#}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    });
    Ok(vec![Listener {
        service: "transfer",
        url: format!("tcp://{local}"),
        try_it: format!("sockit send FILE --to {} --code {inbox_code}", code::dial_address(local)),
    }])
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("123").unwrap(), 123);
        assert_eq!(parse_size("4k").unwrap(), 4096);
        assert_eq!(parse_size("1.5M").unwrap(), 3 << 19);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert!(parse_size("x").is_err());
        assert!(parse_size("5q").is_err());
    }
}
