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
    pub fn trigger_on_signals(&self) {
        let token = self.token.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
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

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
