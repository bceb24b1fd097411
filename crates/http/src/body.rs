//! Response bodies without boxing on the hot path: nothing, one buffer, a
//! file range read in large chunks, or (rarely) a boxed stream.
//!
//! A file is read with positioned reads on the blocking pool in 64 KiB
//! chunks, at most one ahead: while hyper writes chunk N to the socket,
//! chunk N+1 is being read, so disk and network overlap. Each chunk holds
//! permits of its connection's and the server's [`Budget`] until hyper has
//! written it, so a client that does not read pins at most two chunks per
//! response, and a body waits (rather than reads) when the budget is spent.

use std::fs::File;
use std::future::Future as _;
use std::io;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use tokio::task::JoinHandle;

use crate::budget::{self, Budget, Permits, Waiter};

/// Bytes read per chunk of a streamed file (nginx uses 8–32 KiB buffers;
/// 64 KiB keeps large downloads at disk/loopback speed with few reads).
pub const CHUNK: usize = 64 * 1024;

/// A response body.
pub enum Body {
    /// No bytes.
    Empty,
    /// One buffer (cached files, pages).
    Full(Option<Bytes>),
    /// A byte range of a file.
    File(FileBody),
    /// Anything else (on-the-fly compression), with the budget permits its
    /// working memory is counted as, held while it lives.
    Stream(UnsyncBoxBody<Bytes, io::Error>, Option<Permits>),
}

impl Body {
    /// A body holding `b`.
    pub fn full(b: impl Into<Bytes>) -> Self {
        Body::Full(Some(b.into()))
    }

    /// A body holding `b`, built for this response, with the budget
    /// permits it is counted against (released once it is sent).
    pub fn held(b: impl AsRef<[u8]> + Send + 'static, permits: Permits) -> Self {
        Body::Full(Some(budget::hold(b, permits)))
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Empty => f.write_str("Body::Empty"),
            Body::Full(b) => write!(f, "Body::Full({} bytes)", b.as_ref().map_or(0, Bytes::len)),
            Body::File(fb) => write!(f, "Body::File({}..{})", fb.pos, fb.end),
            Body::Stream(..) => f.write_str("Body::Stream"),
        }
    }
}

/// Streams `start..end` of a file.
pub struct FileBody {
    file: Arc<File>,
    pos: u64,
    end: u64,
    budget: Waiter,
    next: Option<JoinHandle<io::Result<Bytes>>>,
}

impl FileBody {
    /// A body sending bytes `start..end` of `file`, its chunks counted
    /// against `budget`.
    pub fn new(file: File, start: u64, end: u64, budget: &Budget) -> Self {
        FileBody { file: Arc::new(file), pos: start, end, budget: budget.waiter(), next: None }
    }

    fn want(&self) -> usize {
        (self.end - self.pos).min(CHUNK as u64) as usize
    }

    fn spawn_read(&mut self, permits: Permits) {
        let (at, want) = (self.pos, self.want());
        let file = self.file.clone();
        self.next = Some(tokio::task::spawn_blocking(move || {
            let mut buf = vec![0; want];
            let mut filled = 0;
            while filled < want {
                match file.read_at(&mut buf[filled..], at + filled as u64) {
                    Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while being sent")),
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(budget::hold(buf, permits))
        }));
    }
}

impl Drop for FileBody {
    fn drop(&mut self) {
        if let Some(h) = self.next.take() {
            h.abort();
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            Body::Empty => Poll::Ready(None),
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(s, _) => Pin::new(s).poll_frame(cx),
            Body::File(f) => {
                if f.pos >= f.end {
                    return Poll::Ready(None);
                }
                if f.next.is_none() {
                    let permits = ready!(f.budget.poll_acquire(cx, f.want() as u32));
                    f.spawn_read(permits);
                }
                let Some(handle) = f.next.as_mut() else { return Poll::Ready(None) };
                let res = ready!(Pin::new(handle).poll(cx));
                f.next = None;
                let chunk = match res {
                    Ok(Ok(chunk)) => chunk,
                    Ok(Err(e)) => return Poll::Ready(Some(Err(e))),
                    Err(e) => return Poll::Ready(Some(Err(io::Error::other(e)))),
                };
                f.pos += chunk.len() as u64;
                if f.pos < f.end {
                    // Read ahead while this chunk goes out, if the budget
                    // has room now; otherwise the next poll waits for it.
                    if let Some(permits) = f.budget.try_acquire(f.want() as u32) {
                        f.spawn_read(permits);
                    }
                }
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::Full(b) => b.is_none(),
            Body::File(f) => f.pos >= f.end,
            Body::Stream(s, _) => s.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Empty => SizeHint::with_exact(0),
            Body::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Body::File(f) => SizeHint::with_exact(f.end.saturating_sub(f.pos)),
            Body::Stream(s, _) => s.size_hint(),
        }
    }
}
