//! A fixed set of reusable buffers passed between pipeline threads.
//!
//! Buffers go round: taken from the pool, filled, handed down the pipeline,
//! and returned by the last stage. At most `max` exist, so memory stays flat
//! however large the files are, and a slow stage makes the first one wait
//! (back-pressure) instead of queueing.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// The taking end of the pool.
#[derive(Debug)]
pub struct Pool {
    free: Receiver<Vec<u8>>,
    made: usize,
    max: usize,
    size: usize,
}

/// The returning end of a [`Pool`], for the last stage.
#[derive(Debug, Clone)]
pub struct Returner(SyncSender<Vec<u8>>);

impl Returner {
    /// Gives a buffer back (dropped if the pool is gone).
    pub fn give(&self, buf: Vec<u8>) {
        let _ = self.0.try_send(buf);
    }
}

impl Pool {
    /// A pool of at most `max` buffers of `size` bytes, made on demand, and
    /// the end the last stage returns them to. When every [`Returner`] is
    /// dropped (the pipeline ended), [`take`](Self::take) stops waiting.
    pub fn new(max: usize, size: usize) -> (Pool, Returner) {
        let (giver, free) = sync_channel(max);
        (Pool { free, made: 0, max, size }, Returner(giver))
    }

    /// A buffer of `size` bytes (contents unspecified); waits for one to come
    /// back when all are in use. `None` if the pipeline is gone.
    pub fn take(&mut self) -> Option<Vec<u8>> {
        if let Ok(b) = self.free.try_recv() {
            return Some(b);
        }
        if self.made < self.max {
            self.made += 1;
            return Some(vec![0u8; self.size]);
        }
        self.free.recv().ok()
    }
}
