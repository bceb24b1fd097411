//! Graceful shutdown: one handle, cloned into every task.
//!
//! On Ctrl-C or SIGTERM the handle is triggered; accept loops stop, handlers
//! see [`Shutdown::triggered`] fire and say goodbye, and the owner calls
//! [`Shutdown::drain`] to wait for tracked tasks up to a deadline.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A cloneable shutdown signal plus a tracker of the tasks that must finish.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
    tracker: TaskTracker,
}

impl Shutdown {
    /// A fresh, untriggered handle.
    pub fn new() -> Self {
        Self::default()
    }

    /// Triggers this handle when the process gets Ctrl-C (SIGINT) or SIGTERM.
    /// The handlers are in place when this returns, so a signal sent right
    /// after the server says it is listening stops it cleanly instead of
    /// killing it.
    pub fn trigger_on_signals(&self) {
        let token = self.token.clone();
        let signals = wait_for_signal();
        tokio::spawn(async move {
            signals.await;
            // Cancel before logging: if stderr is gone (a closed pipe), a
            // failing log write must not stand between the signal and the stop.
            token.cancel();
            tracing::info!("shutdown requested");
        });
    }

    /// Starts shutdown now.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    /// Whether shutdown has started.
    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes when shutdown starts.
    pub fn triggered(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.token.cancelled()
    }

    /// The underlying token, for code that wants a child token.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Spawns a task that [`drain`](Self::drain) will wait for.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn(task)
    }

    /// Triggers shutdown, then waits up to `deadline` for tracked tasks.
    /// Returns `true` when all finished in time.
    pub async fn drain(&self, deadline: Duration) -> bool {
        self.trigger();
        self.tracker.close();
        let finished = tokio::time::timeout(deadline, self.tracker.wait()).await.is_ok();
        if !finished {
            tracing::warn!(left = self.tracker.len(), "shutdown deadline passed with tasks still running");
        }
        finished
    }
}

/// Registers for SIGINT and SIGTERM now (not on first poll, as
/// `tokio::signal::ctrl_c` would) and returns a future that completes on
/// either.
fn wait_for_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).ok();
        let mut int = signal(SignalKind::interrupt()).ok();
        async move {
            tokio::select! {
                _ = next(&mut term) => {}
                _ = next(&mut int) => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The next delivery of `signal`; a kind we could not register for never
/// fires.
#[cfg(unix)]
async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SIGTERM that arrives before the runtime ever polled the watcher
    /// task still triggers the handle (with a lazily installed handler it
    /// would kill the test process instead).
    #[cfg(unix)]
    #[tokio::test]
    async fn a_signal_right_after_registering_triggers_the_handle() {
        let s = Shutdown::new();
        s.trigger_on_signals();
        // No await between registering and the signal: on this
        // current-thread runtime the spawned task has not run yet.
        let sent = std::process::Command::new("kill").args(["-TERM", &std::process::id().to_string()]).status();
        assert!(sent.as_ref().is_ok_and(|st| st.success()), "{sent:?}");
        let fired = tokio::time::timeout(Duration::from_secs(10), s.triggered()).await;
        assert!(fired.is_ok(), "SIGTERM did not trigger shutdown");
    }

    #[tokio::test]
    async fn drain_waits_for_tasks_and_reports_overrun() {
        let s = Shutdown::new();
        let c = s.clone();
        s.spawn(async move { c.triggered().await });
        assert!(s.drain(Duration::from_secs(1)).await);

        let s = Shutdown::new();
        s.spawn(tokio::time::sleep(Duration::from_secs(30)));
        assert!(!s.drain(Duration::from_millis(20)).await);
    }
}
