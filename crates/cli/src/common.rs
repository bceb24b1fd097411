//! Flags and helpers every server subcommand shares: limits, running until a
//! signal, and the rows `sockit up` prints.

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
