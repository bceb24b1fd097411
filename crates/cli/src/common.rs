//! Flags and helpers every server subcommand shares: limits, running until a
//! signal, what `sockit up` hands each service, and the rows it prints. It
//! lives apart from `cli` and `up` so the subcommands import it without
//! importing the modules that import them.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use sockit_net::rate::RateLimit;
use sockit_net::{Limits, Shutdown};

/// How long a stopping server waits for connections to finish.
pub const GRACE: Duration = Duration::from_secs(5);

/// Connection limits shared by the stream servers.
#[derive(Args, Debug, Clone)]
pub struct LimitArgs {
    /// Most connections at once, all clients together.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_connections: usize,
    /// Most connections at once from one IP address.
    #[arg(long, default_value_t = 1_000, value_name = "N")]
    pub max_per_ip: usize,
    /// Close a connection that sends nothing for this many seconds (0: never).
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    pub idle_timeout: u64,
}

impl LimitArgs {
    /// The framework's [`Limits`] with these values.
    pub fn limits(&self) -> Limits {
        Limits {
            max_connections: self.max_connections,
            max_per_ip: self.max_per_ip,
            idle_timeout: (self.idle_timeout > 0).then(|| Duration::from_secs(self.idle_timeout)),
            ..Limits::default()
        }
    }
}

/// The per-address limit of the datagram services (echo, strftime, daytime,
/// time): what keeps them from reflecting a flood at a spoofed address or
/// ping-ponging with another server.
#[derive(Args, Debug, Clone)]
pub struct UdpRateArgs {
    /// UDP datagrams per second answered per client address (IPv6: per /64),
    /// on average; over it datagrams are dropped.
    #[arg(long, default_value_t = 20.0, value_name = "PER_SEC")]
    pub udp_rate: f64,
    /// UDP datagrams a client may send at once before --udp-rate applies.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub udp_burst: u32,
    /// No per-address rate limits (load tests from one address). Datagrams
    /// from loop-risk sources (our own port, service ports) are still dropped.
    #[arg(long)]
    pub no_rate_limit: bool,
}

impl UdpRateArgs {
    /// The `--udp-rate`/`--udp-burst` limit, or none under `--no-rate-limit`.
    pub fn udp_limit(&self) -> anyhow::Result<Option<RateLimit>> {
        self.limit(self.udp_rate, self.udp_burst, "udp")
    }

    /// A limit from `--FLAG-rate`/`--FLAG-burst`, or none under `--no-rate-limit`.
    pub fn limit(&self, rate: f64, burst: u32, flag: &str) -> anyhow::Result<Option<RateLimit>> {
        if self.no_rate_limit {
            return Ok(None);
        }
        anyhow::ensure!(rate > 0.0 && rate.is_finite(), "--{flag}-rate must be above 0 (or use --no-rate-limit)");
        anyhow::ensure!(burst >= 1, "--{flag}-burst must be at least 1");
        Ok(Some(RateLimit { rate, burst }))
    }
}

/// One row of the `sockit up` table: a service and where it listens.
#[derive(Debug, Clone)]
pub struct Listener {
    /// Service name (`echo`, `chat`, …).
    pub service: &'static str,
    /// Where it listens (`tcp://127.0.0.1:9999`).
    pub url: String,
    /// How to try it (`nc 127.0.0.1 9999`).
    pub try_it: String,
}

/// Waits for Ctrl-C / SIGTERM, then drains tracked tasks within [`GRACE`].
pub async fn serve_until_signal(shutdown: &Shutdown) {
    shutdown.triggered().await;
    if !shutdown.drain(GRACE).await {
        tracing::warn!("some connections did not finish within {GRACE:?}; exiting anyway");
    }
}

/// Runs a server: start it, wait for Ctrl-C / SIGTERM, drain, exit 0.
pub async fn serve<F, Fut>(start: F) -> anyhow::Result<ExitCode>
where
    F: FnOnce(Shutdown) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Vec<Listener>>>,
{
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    start(shutdown.clone()).await?;
    serve_until_signal(&shutdown).await;
    Ok(ExitCode::SUCCESS)
}

/// What a service's `up` gets.
#[derive(Debug, Clone)]
pub struct UpContext {
    /// Shared bind address.
    pub bind: String,
    /// Use port 0 everywhere.
    pub any_port: bool,
    /// `--tls` for every service whose flags have it.
    pub tls: bool,
    /// The shared shutdown handle.
    pub shutdown: Shutdown,
}

impl UpContext {
    /// A service's flags as its own command line would give them:
    /// `--bind` from `up`, then `flags` (ports and the like), defaults for
    /// everything else — so `up` can never drift from a service's defaults.
    pub fn args<A: clap::Args>(&self, flags: &[&str]) -> anyhow::Result<A> {
        let command = A::augment_args(clap::Command::new("up")).no_binary_name(true);
        let mut argv = vec!["--bind", self.bind.as_str()];
        if self.tls && command.get_arguments().any(|a| a.get_id() == "tls") {
            argv.push("--tls");
        }
        argv.extend_from_slice(flags);
        let matches = command.try_get_matches_from(argv)?;
        Ok(A::from_arg_matches(&matches)?)
    }

    /// `default`, or 0 under `--any-port`.
    pub fn port(&self, default: u16) -> u16 {
        if self.any_port {
            0
        } else {
            default
        }
    }
}
