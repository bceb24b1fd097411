//! The sending side of a session.
//!
//! After the handshake and the manifest, two threads move the data: a
//! hasher (opens files, proves resume prefixes, hashes chunk after chunk
//! where it lies in the page cache ([`crate::mapped`]), applies
//! `--rate-limit`) and the calling thread, which writes each hashed chunk's
//! frame: a 5-byte header, then the bytes read from the file straight into
//! the sealed-frame buffer and encrypted there ([`SecureStream::send_file`]).
//! So hashing chunk n+1 overlaps with encrypting and sending chunk n.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::frame::{self, Kind, MAX_DATA};
use crate::handshake::{handshake, Role};
use crate::manifest::{EntryKind, Have, ResumeOffer, Summary};
use crate::mapped::RangeHasher;
use crate::secure::SecureStream;
use crate::walk::Source;
use crate::{FileOutcome, Progress};

/// Hashed chunks the reader may be ahead of the socket.
const AHEAD: usize = 4;

/// How a sender behaves.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// Shared code (both sides must give the same).
    pub code: Option<String>,
    /// Cap on file bytes per second (tests use it to stop mid-transfer).
    pub rate_limit: Option<u64>,
    /// Bytes per data frame (at most [`MAX_DATA`]).
    pub chunk: usize,
    /// This sender's secret resume key ([`crate::claim`]): a receiver
    /// resumes or skips only files it wrote for the same key. Random by
    /// default (nothing resumes across runs); the CLI keeps one in its
    /// state folder.
    pub resume_key: [u8; 32],
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions { code: None, rate_limit: None, chunk: 2 << 20, resume_key: rand::random() }
    }
}

/// What a finished send did.
#[derive(Debug, Clone, Default)]
pub struct SendReport {
    /// Files in the manifest.
    pub files: usize,
    /// Bytes in all files.
    pub total_bytes: u64,
    /// Files whose data (or remainder) was sent.
    pub files_sent: usize,
    /// Files the receiver already had whole.
    pub files_present: usize,
    /// Files we could not read.
    pub files_unreadable: usize,
    /// File bytes sent in this session.
    pub bytes_sent: u64,
    /// File bytes not sent because the receiver proved it had them.
    pub bytes_resumed: u64,
    /// The receiver's summary.
    pub summary: Summary,
}

enum Item {
    /// A file starts; the writer sends from `offset` of `file`.
    Start {
        index: usize,
        offset: u64,
        file: File,
    },
    /// The next `len` bytes of the current file were hashed; send them.
    Chunk {
        len: usize,
    },
    End {
        index: usize,
        digest: [u8; 32],
    },
    Present {
        index: usize,
    },
    Skip {
        index: usize,
        reason: String,
    },
}

/// Runs a whole sender session on a connected stream (the hello and key
/// agreement in the clear, everything after sealed). `admit` is asked
/// once the hello checked out (see [`crate::receive_session`]); errors
/// before the receiver's answer are [`Error::Handshake`] or
/// [`Error::Abandoned`].
pub fn send_session<S: Read + Write + AsFd>(
    s: &mut S,
    src: &Source,
    opts: &SendOptions,
    progress: &dyn Progress,
    admit: &dyn Fn() -> bool,
) -> Result<SendReport> {
    let keys = handshake(s, Role::Sender, opts.code.as_deref()).map_err(Error::handshake)?;
    // Same-host transfers go faster with a small send buffer ([`crate::local`]).
    crate::local::fit_send_buffer(&*s);
    let fd = s.as_fd().try_clone_to_owned().ok();
    let mut s = SecureStream::new(s, &keys);
    if !admit() {
        frame::refuse(&mut s, fd, crate::BUSY);
        return Err(Error::Abandoned(Box::new(Error::Refused(crate::BUSY.into()))));
    }
    send_sealed(&mut s, src, opts, progress)
}

/// The session after the key confirmation, every byte sealed.
fn send_sealed<S: Read + Write>(
    s: &mut SecureStream<S>,
    src: &Source,
    opts: &SendOptions,
    progress: &dyn Progress,
) -> Result<SendReport> {
    let offer = offer(s, src, opts).map_err(Error::abandoned)?;
    let mut have: HashMap<usize, Vec<Have>> = HashMap::new();
    for h in offer.have {
        have.entry(h.index as usize).or_default().push(h);
    }
    let mut report = SendReport {
        files: src.manifest.file_count(),
        total_bytes: src.manifest.total_size(),
        ..SendReport::default()
    };
    progress.begin(report.files, report.total_bytes);

    let mut chunk = opts.chunk.clamp(4096, MAX_DATA as usize);
    if let Some(rate) = opts.rate_limit {
        // Small chunks keep a throttled stream smooth.
        chunk = chunk.min((rate / 8).max(4096) as usize);
    }
    let (to_write, write_rx) = sync_channel::<Item>(AHEAD);
    let rate = opts.rate_limit;
    std::thread::scope(|scope| {
        scope.spawn(move || read_stage(src, have, chunk, rate, to_write));
        write_stage(s, src, write_rx, progress, &mut report)
    })?;
    frame::write_frame(s, Kind::Done, &[])?;
    // The last file's digest and Done travel in the final sealed frame: a
    // stream cut before it leaves the last file unverified, never placed.
    s.finish().map_err(|e| Error::net("while finishing", e))?;
    let summary = frame::expect(s, Kind::Summary, "waiting for the receiver's summary")?;
    report.summary = serde_json::from_slice(&summary).map_err(|e| Error::json("bad summary from the receiver", &e))?;
    // The receiver's words reach our terminal.
    for e in &mut report.summary.errors {
        *e = sockit_net::text::escape_untrusted(e).into_owned();
    }
    Ok(report)
}

/// Manifest and claims out, the receiver's resume offer back.
fn offer<S: Read + Write>(s: &mut S, src: &Source, opts: &SendOptions) -> Result<ResumeOffer> {
    frame::write_frame(s, Kind::Manifest, &src.manifest.encode())?;
    frame::write_frame(s, Kind::Claims, &crate::claim::encode(&opts.resume_key, &src.manifest))?;
    let offer = frame::expect(s, Kind::Resume, "waiting for the receiver's answer")?;
    ResumeOffer::decode(&offer, &src.manifest)
}

fn write_stage<S: Read + Write>(
    s: &mut SecureStream<S>,
    src: &Source,
    rx: Receiver<Item>,
    progress: &dyn Progress,
    report: &mut SendReport,
) -> Result<()> {
    let entries = &src.manifest.entries;
    // The file being sent and the offset of its next unsent byte.
    let mut current: Option<(File, u64)> = None;
    for item in rx {
        match item {
            Item::Start { index, offset, file } => {
                frame::write_frame(s, Kind::FileStart, &frame::encode_start(index as u32, offset))?;
                report.bytes_resumed += offset;
                progress.file_begin(&entries[index].path, entries[index].size, offset);
                current = Some((file, offset));
            }
            Item::Chunk { len } => {
                let (file, at) =
                    current.as_mut().ok_or_else(|| Error::Protocol("internal: data outside a file".into()))?;
                s.write_all(&frame::header_bytes(Kind::Data, len as u32))
                    .map_err(|e| Error::net("while sending data", e))?;
                s.send_file(file, *at, len as u64).map_err(|e| match e.kind() {
                    std::io::ErrorKind::UnexpectedEof => {
                        Error::io("sending a file", std::io::Error::other("the file shrank while being sent"))
                    }
                    _ => Error::net("while sending data", e),
                })?;
                *at += len as u64;
                report.bytes_sent += len as u64;
                progress.advance(len as u64);
            }
            Item::End { index, digest } => {
                current = None;
                frame::write_frame(s, Kind::FileEnd, &digest)?;
                report.files_sent += 1;
                progress.file_end(&entries[index].path, &FileOutcome::Done(None));
            }
            Item::Present { index } => {
                report.files_present += 1;
                report.bytes_resumed += entries[index].size;
                progress.file_end(&entries[index].path, &FileOutcome::Present(entries[index].size));
            }
            Item::Skip { index, reason } => {
                current = None;
                frame::write_frame(s, Kind::Skip, &frame::encode_skip(index as u32, &reason))?;
                report.files_unreadable += 1;
                progress.warn(&format!("{}: {reason}", src.local[index].display()));
                progress.file_end(&entries[index].path, &FileOutcome::Failed(reason));
            }
        }
    }
    Ok(())
}

/// Paces reads to a byte rate.
struct Limiter {
    rate: u64,
    start: Instant,
    done: u64,
}

impl Limiter {
    fn pace(&mut self, n: usize) {
        self.done += n as u64;
        let due = Duration::from_secs_f64(self.done as f64 / self.rate.max(1) as f64);
        if let Some(wait) = due.checked_sub(self.start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
}

/// Whether the pipeline goes on.
enum Next {
    Continue,
    Stop,
}

/// The hasher: for each file, proves resume prefixes, then hashes chunk
/// after chunk (never moving the shared file offset: that is the writer's)
/// and tells the writer to send each hashed chunk.
fn read_stage(
    src: &Source,
    mut have: HashMap<usize, Vec<Have>>,
    chunk: usize,
    rate: Option<u64>,
    tx: SyncSender<Item>,
) {
    let mut limiter = rate.map(|rate| Limiter { rate, start: Instant::now(), done: 0 });
    for (index, e) in src.manifest.entries.iter().enumerate() {
        if e.kind != EntryKind::File {
            continue;
        }
        let next = match read_file(src, index, have.remove(&index).unwrap_or_default(), chunk, &mut limiter, &tx) {
            Ok(n) => n,
            Err(reason) => {
                if tx.send(Item::Skip { index, reason }).is_err() {
                    return;
                }
                Next::Continue
            }
        };
        if let Next::Stop = next {
            return;
        }
    }
}

/// Sends one file down the pipeline. `Err` is a reason to skip it (nothing
/// or part of it was sent; the receiver keeps its `.part`).
fn read_file(
    src: &Source,
    index: usize,
    have: Vec<Have>,
    chunk: usize,
    limiter: &mut Option<Limiter>,
    tx: &SyncSender<Item>,
) -> Result<Next, String> {
    let size = src.manifest.entries[index].size;
    let mut f = File::open(&src.local[index]).map_err(|e| format!("cannot open: {e}"))?;
    let _ = nix::fcntl::posix_fadvise(&f, 0, 0, nix::fcntl::PosixFadviseAdvice::POSIX_FADV_SEQUENTIAL);
    // A `.part` prefix the receiver proved, if our bytes hash the same.
    let partial = have.iter().find(|h| !h.complete);
    let prefix = partial.and_then(|p| {
        prefix_hasher(&mut f, p.len).filter(|hs| hs.finalize().to_hex().as_str() == p.hash).map(|hs| (p.len, hs))
    });
    // Copies the receiver already has whole: one full hash answers them all.
    if have.iter().any(|h| h.complete) {
        let (from, mut full) = prefix.clone().unwrap_or((0, blake3::Hasher::new()));
        RangeHasher::new(&f, size).hash(&mut full, from, size)?;
        let full = full.finalize();
        if have.iter().any(|h| h.complete && full.to_hex().as_str() == h.hash) {
            return Ok(if tx.send(Item::Present { index }).is_ok() { Next::Continue } else { Next::Stop });
        }
    }
    let (offset, mut hasher) = prefix.unwrap_or((0, blake3::Hasher::new()));
    let writer_file = f.try_clone().map_err(|e| format!("cannot open: {e}"))?;
    if tx.send(Item::Start { index, offset, file: writer_file }).is_err() {
        return Ok(Next::Stop);
    }
    let mut pos = offset;
    let mut reader = RangeHasher::new(&f, size);
    while pos < size {
        let want = chunk.min(usize::try_from(size - pos).unwrap_or(chunk));
        reader.hash(&mut hasher, pos, pos + want as u64)?;
        if tx.send(Item::Chunk { len: want }).is_err() {
            return Ok(Next::Stop);
        }
        pos += want as u64;
        if let Some(l) = limiter.as_mut() {
            l.pace(want);
        }
    }
    let digest = *hasher.finalize().as_bytes();
    Ok(if tx.send(Item::End { index, digest }).is_ok() { Next::Continue } else { Next::Stop })
}

/// BLAKE3 state after the first `len` bytes of `f`, or `None` when the file
/// is shorter or unreadable (then the receiver's prefix cannot match).
pub fn prefix_hasher(f: &mut impl Read, len: u64) -> Option<blake3::Hasher> {
    let mut h = blake3::Hasher::new();
    let copied = std::io::copy(&mut f.take(len), &mut h).ok()?;
    (copied == len).then_some(h)
}
