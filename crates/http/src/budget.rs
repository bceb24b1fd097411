//! The bytes of file data in flight to clients, bounded per connection and
//! per server.
//!
//! A chunk read from disk holds permits (one per byte) of its connection's
//! semaphore and of the server's until the last reference to its buffer is
//! dropped, which hyper does once the bytes are written to the socket. So
//! a client that never reads pins at most its connection's share, and all
//! of them together at most the server's: a body waits for permits before
//! it reads the next chunk; nothing is refused or cut for it. A client that
//! truly stopped reading gives its share back when `--idle-timeout` closes
//! its connection.

use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::PollSemaphore;

/// The server-wide pool, shared by every connection.
#[derive(Debug, Clone)]
pub struct ServerBudget(Arc<Semaphore>);

impl ServerBudget {
    /// A pool of `bytes` (at least two chunks of `chunk`, so a body can
    /// always make progress).
    pub fn new(bytes: usize, chunk: usize) -> Self {
        ServerBudget(Arc::new(Semaphore::new(bytes.clamp(2 * chunk, Semaphore::MAX_PERMITS))))
    }

    /// Bytes not in use right now.
    pub fn available(&self) -> usize {
        self.0.available_permits()
    }

    /// A connection's budget: its own `bytes`, drawn from this pool too.
    pub fn connection(&self, bytes: usize, chunk: usize) -> Budget {
        let cap = bytes.clamp(2 * chunk, Semaphore::MAX_PERMITS);
        Budget { conn: Arc::new(Semaphore::new(cap)), server: self.0.clone(), conn_cap: cap }
    }
}

/// One connection's budget (clone it per response).
#[derive(Debug, Clone)]
pub struct Budget {
    conn: Arc<Semaphore>,
    server: Arc<Semaphore>,
    conn_cap: usize,
}

/// What an on-the-fly compressor's working memory is counted as (brotli at
/// quality 5 measured ≈1.3 MiB a stream, gzip ≈0.3 MiB), capped at the
/// connection's budget: so one connection runs one such stream at a time.
pub const COMPRESSOR_COST: usize = 1 << 20;

impl Budget {
    /// A budget so large it never waits (for tests and embedders that bound
    /// memory elsewhere).
    pub fn unlimited() -> Self {
        let big = || Arc::new(Semaphore::new(Semaphore::MAX_PERMITS));
        Budget { conn: big(), server: big(), conn_cap: Semaphore::MAX_PERMITS }
    }

    /// Permits for one compressor, held as long as its body lives (waits
    /// for them).
    pub(crate) async fn compressor(&self) -> Permits {
        self.reserve(COMPRESSOR_COST).await
    }

    /// Permits for `bytes` of memory a response builds whole (a listing, a
    /// filled template), taken before it is built and held while it is
    /// sent. Capped at the connection's budget, so a page larger than that
    /// is built only when the connection has nothing else in flight.
    pub(crate) async fn reserve(&self, bytes: usize) -> Permits {
        let n = bytes.min(self.conn_cap).min(u32::MAX as usize) as u32;
        let mut w = self.waiter();
        std::future::poll_fn(|cx| w.poll_acquire(cx, n)).await
    }

    /// A waiter for this budget's permits, as a body keeps it.
    pub(crate) fn waiter(&self) -> Waiter {
        Waiter {
            conn: PollSemaphore::new(self.conn.clone()),
            server: PollSemaphore::new(self.server.clone()),
            held: None,
        }
    }
}

/// Budget permits: released when dropped (with a chunk's buffer, or with
/// the body that holds them).
#[derive(Debug)]
pub struct Permits {
    _conn: Option<OwnedSemaphorePermit>,
    _server: Option<OwnedSemaphorePermit>,
}

/// Waits for permits, connection first, then server (always in that order,
/// so two bodies never wait on each other in a cycle).
pub(crate) struct Waiter {
    conn: PollSemaphore,
    server: PollSemaphore,
    /// The connection permit, while the server's is awaited.
    held: Option<Option<OwnedSemaphorePermit>>,
}

impl Waiter {
    /// Permits for `n` bytes, waiting for them. (The semaphores are never
    /// closed; if one were, the chunk would go without its permit rather
    /// than the body waiting forever.)
    pub(crate) fn poll_acquire(&mut self, cx: &mut Context<'_>, n: u32) -> Poll<Permits> {
        if self.held.is_none() {
            self.held = Some(ready!(self.conn.poll_acquire_many(cx, n)));
        }
        let server = ready!(self.server.poll_acquire_many(cx, n));
        Poll::Ready(Permits { _conn: self.held.take().flatten(), _server: server })
    }

    /// Permits for `n` bytes if they are free now (read-ahead is optional).
    pub(crate) fn try_acquire(&mut self, n: u32) -> Option<Permits> {
        if self.held.is_some() {
            return None;
        }
        let conn = self.conn.clone_inner().try_acquire_many_owned(n).ok()?;
        let server = self.server.clone_inner().try_acquire_many_owned(n).ok()?;
        Some(Permits { _conn: Some(conn), _server: Some(server) })
    }
}

/// A buffer together with the permits it holds.
struct Held<B> {
    buf: B,
    _permits: Permits,
}

impl<B: AsRef<[u8]>> AsRef<[u8]> for Held<B> {
    fn as_ref(&self) -> &[u8] {
        self.buf.as_ref()
    }
}

/// Wraps `buf` so its permits go back when the last copy of it is dropped.
pub(crate) fn hold<B: AsRef<[u8]> + Send + 'static>(buf: B, permits: Permits) -> Bytes {
    Bytes::from_owner(Held { buf, _permits: permits })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;

    #[tokio::test]
    async fn permits_come_back_when_the_bytes_are_dropped() {
        let server = ServerBudget::new(256 << 10, 64 << 10);
        let conn = server.connection(128 << 10, 64 << 10);
        let mut w = conn.waiter();
        let a = hold(vec![1; 10], poll_fn(|cx| w.poll_acquire(cx, 64 << 10)).await);
        let b = hold(vec![2; 10], w.try_acquire(64 << 10).unwrap());
        assert!(w.try_acquire(1).is_none(), "the connection's 128 KiB are taken");
        assert_eq!(server.available(), 128 << 10);
        let slice = a.slice(1..3);
        drop(a);
        assert!(w.try_acquire(1).is_none(), "a slice still holds the chunk");
        drop(slice);
        drop(b);
        assert_eq!(server.available(), 256 << 10);
        assert!(w.try_acquire(128 << 10).is_some());
    }

    #[tokio::test]
    async fn a_compressor_takes_the_connection_budget_while_it_lives() {
        let server = ServerBudget::new(8 << 20, 64 << 10);
        let conn = server.connection(1 << 20, 64 << 10);
        let held = conn.compressor().await;
        assert!(conn.waiter().try_acquire(1).is_none());
        assert_eq!(server.available(), 7 << 20);
        drop(held);
        assert_eq!(server.available(), 8 << 20);
    }

    #[tokio::test]
    async fn a_full_server_makes_bodies_wait_not_fail() {
        let server = ServerBudget::new(128 << 10, 64 << 10);
        let one = server.connection(1 << 20, 64 << 10);
        let two = server.connection(1 << 20, 64 << 10);
        let mut w1 = one.waiter();
        let held = hold(Vec::new(), w1.try_acquire(128 << 10).unwrap());
        let mut w2 = two.waiter();
        let waiting = tokio::spawn(async move { poll_fn(|cx| w2.poll_acquire(cx, 64 << 10)).await });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drop(held);
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), waiting).await;
        assert!(matches!(got, Ok(Ok(_))));
    }
}
