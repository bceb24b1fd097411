//! The receiving side of a session.
//!
//! Three threads, in a line:
//! - the calling thread reads frames, checks every one against the
//!   manifest, and takes each data frame's bytes off the socket into a pipe
//!   ([`crate::splice::Intake`]: page references only, no copy);
//! - a writer thread splices them on into `name.part`
//!   ([`crate::splice::Outlet`]). That copy into fresh page-cache pages is
//!   the costliest step of the whole transfer (and on a VM whose host takes
//!   freed memory back, by far), so it gets a thread to itself;
//! - a checker thread follows it file by file: it hashes the bytes where
//!   they now lie, in the page cache ([`crate::mapped`]; at most a few
//!   dozen MiB behind, so still in the CPU's last-level cache), and once a
//!   file's digest matched it sets the mode and mtime and renames it into
//!   place ([`crate::safety::place`]).
//!
//! Memory stays flat whatever the file sizes: the pipes and the queues
//! between the threads are bounded.

use std::collections::HashMap;
use std::fs::{self, File, FileTimes, Permissions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::frame::{self, Kind};
use crate::handshake::{handshake, Role};
use crate::manifest::{Caps, Entry, EntryKind, Have, Manifest, ResumeOffer, Summary};
use crate::mapped::RangeHasher;
use crate::part::{self, FileId};
use crate::safety::{ensure_dir, free_space, place, prepare_parent};
use crate::secure::SecureStream;
use crate::send::prefix_hasher;
use crate::splice::{self, Piece, Wire};
use crate::{FileOutcome, Progress};

/// Items the socket side may be ahead of the writer. The pipes bound the
/// bytes in flight; this only bounds the queue.
const WRITE_AHEAD: usize = 64;
/// Pieces (at most a pipe-full each) the writer may be ahead of the
/// checker: slack, so that a checker that lost its core for a moment does
/// not stall the writer, with the bytes still in the (last-level) CPU
/// cache when hashed.
const CHECK_AHEAD: usize = 64;
/// Bytes the checker lets pile up before hashing them, so that BLAKE3 gets
/// runs long enough for its widest SIMD path.
const HASH_BATCH: u64 = 512 << 10;

/// How a receiver behaves.
#[derive(Debug, Clone)]
pub struct ReceiveOptions {
    /// Folder everything is written into (created if missing).
    pub out: PathBuf,
    /// Shared code (both sides must give the same).
    pub code: Option<String>,
    /// Replace existing files instead of keeping both.
    pub overwrite: bool,
    /// Caps on the manifest.
    pub caps: Caps,
}

/// Runs a whole receiver session on a connected stream. `admit` is asked
/// once the hello checked out; when it says no (a listener already busy
/// with another session), the peer is told [`crate::BUSY`] and the session
/// ends as [`Error::Abandoned`]. Every error before the first file starts
/// is [`Error::Handshake`] or [`Error::Abandoned`]: nothing moved.
pub fn receive_session<S: Wire>(
    s: &mut S,
    opts: &ReceiveOptions,
    progress: &dyn Progress,
    admit: &dyn Fn() -> bool,
) -> Result<Summary> {
    let keys = handshake(s, Role::Receiver, opts.code.as_deref()).map_err(Error::handshake)?;
    let fd = s.splice_fd().and_then(|fd| fd.try_clone_to_owned().ok());
    let mut s = SecureStream::new(s, &keys);
    if !admit() {
        frame::refuse(&mut s, fd, crate::BUSY);
        return Err(Error::Abandoned(Box::new(Error::Refused(crate::BUSY.into()))));
    }
    let summary = receive_on(&mut s, opts, progress)?;
    // Best effort: the sender may be gone.
    let _ = s.finish();
    Ok(summary)
}

/// The session after the key confirmation, on a stream that is already
/// sealed ([`SecureStream`]); the receiver fuzz target drives it directly
/// with plaintext.
pub fn receive_on<S: Wire>(s: &mut S, opts: &ReceiveOptions, progress: &dyn Progress) -> Result<Summary> {
    // Both frames are read before either is judged, so a refusal never
    // leaves unread bytes behind (which would reset the connection).
    let manifest = frame::expect(s, Kind::Manifest, "waiting for the manifest").map_err(Error::abandoned)?;
    let claims = frame::expect(s, Kind::Claims, "waiting for the resume claims").map_err(Error::abandoned)?;
    let plan = match plan(&manifest, &claims, opts, progress) {
        Ok(p) => p,
        Err(e) => {
            frame::send_error(s, &e.to_string());
            return Err(Error::abandoned(e));
        }
    };
    frame::write_frame(s, Kind::Resume, &serde_json::to_vec(&plan.offer).unwrap_or_default())?;
    s.flush().map_err(|e| Error::net("while answering the manifest", e))?;
    progress.begin(plan.manifest.file_count(), plan.manifest.total_size());

    let (to_write, write_rx) = sync_channel::<Item<Piece>>(WRITE_AHEAD);
    let overwrite = opts.overwrite;
    let entries = &plan.manifest.entries;
    let (read, outcomes) = std::thread::scope(|scope| {
        let (intake, outlet) = splice::pair();
        let (to_check, check_rx) = sync_channel::<Item<Landed>>(CHECK_AHEAD);
        let checker = scope.spawn(move || check_stage(check_rx, entries, overwrite, progress));
        scope.spawn(move || write_stage(write_rx, outlet, to_check));
        let mut moved = false;
        let read = read_stage(s, &plan, intake, to_write, progress, &mut moved);
        (read.map_err(|e| if moved { e } else { Error::abandoned(e) }), checker.join().unwrap_or_default())
    });
    if let Err(e) = read {
        frame::send_error(s, &e.to_string());
        if !e.nothing_moved() {
            finish(&plan, &outcomes, progress);
        }
        return Err(e);
    }
    let mut summary = finish(&plan, &outcomes, progress);
    set_dir_times(&opts.out, entries);
    summary.bytes_received = outcomes.values().map(|o| o.bytes).sum();
    if plan.manifest.message {
        summary.message = outcomes.values().find_map(|o| o.placed.clone());
    }
    frame::write_frame(s, Kind::Summary, &serde_json::to_vec(&summary).unwrap_or_default())?;
    let _ = s.flush();
    Ok(summary)
}

/// The checked manifest and what we offered.
struct Plan {
    manifest: Manifest,
    out: PathBuf,
    offer: ResumeOffer,
    /// Offered `.part` prefixes: the inode offered and the hash state to
    /// continue from.
    prefixes: HashMap<usize, (FileId, blake3::Hasher)>,
    /// Per manifest entry, what this sender's claim on it stores on a file
    /// ([`crate::claim::verifier`]; zero for folders).
    verifiers: Vec<[u8; 32]>,
}

fn plan(bytes: &[u8], claims: &[u8], opts: &ReceiveOptions, progress: &dyn Progress) -> Result<Plan> {
    let (manifest, collisions) = Manifest::decode(bytes, opts.caps)?;
    let verifiers: Vec<[u8; 32]> = crate::claim::decode(claims, &manifest)?
        .iter()
        .map(|c| c.as_ref().map(crate::claim::verifier).unwrap_or_default())
        .collect();
    for (a, b) in collisions {
        progress.warn(&format!("{a:?} and {b:?} differ only in case: they collide on case-insensitive filesystems"));
    }
    fs::create_dir_all(&opts.out).map_err(|e| Error::io(format!("cannot create {}", opts.out.display()), e))?;
    let mut offer = ResumeOffer::default();
    let mut prefixes = HashMap::new();
    let mut needed: u64 = 0;
    // Only files this receiver wrote for this sender's claim are looked at
    // ([`crate::part::open_bound`]): anything else, the sender never hears of.
    for (index, e) in manifest.entries.iter().enumerate().filter(|(_, e)| e.kind == EntryKind::File) {
        let verifier = &verifiers[index];
        for hash in complete_copies(&opts.out, &e.path, e.size, verifier) {
            offer.have.push(Have { index: index as u32, len: e.size, hash, complete: true });
        }
        let part = inside(&opts.out, &part_name(&e.path)).and_then(|p| part::open_bound(&p, verifier, false));
        let partial = part.and_then(|mut own| {
            let len = own.len.min(e.size);
            let h = prefix_hasher(&mut own.file, len)?;
            let hash = h.finalize().to_hex().to_string();
            prefixes.insert(index, (own.id, h));
            Some(Have { index: index as u32, len, hash, complete: false })
        });
        needed = needed.saturating_add(e.size - partial.as_ref().map_or(0, |h| h.len));
        offer.have.extend(partial);
    }
    let free =
        free_space(&opts.out).map_err(|e| Error::io(format!("cannot read free space of {}", opts.out.display()), e))?;
    if needed > free {
        return Err(Error::Refused(format!(
            "not enough space in {}: {} needed, {} free",
            opts.out.display(),
            crate::human_bytes(needed),
            crate::human_bytes(free)
        )));
    }
    Ok(Plan { manifest, out: opts.out.clone(), offer, prefixes, verifiers })
}

/// `path.part`, the name a file has while it arrives.
pub fn part_name(rel: &str) -> String {
    format!("{rel}.part")
}

/// The path of `rel` under `root` if its parents are folders reached
/// without symlinks (what the last component is, the caller checks on the
/// opened descriptor).
fn inside(root: &Path, rel: &str) -> Option<PathBuf> {
    let mut p = root.to_path_buf();
    let mut parts = rel.split('/').peekable();
    while let Some(part) = parts.next() {
        p.push(part);
        if parts.peek().is_some() && !fs::symlink_metadata(&p).ok()?.is_dir() {
            return None;
        }
    }
    Some(p)
}

/// Most copies of one file offered as "already here".
const MAX_COPIES: usize = 8;

/// Files already in `out` that may be this entry whole: `rel` itself and the
/// `rel (n).ext` copies earlier runs kept beside it, when this receiver
/// wrote them for this sender's claim (`verifier`) and their size matches.
/// Returns their BLAKE3 hashes (hex); the sender compares.
fn complete_copies(out: &Path, rel: &str, size: u64, verifier: &[u8; 32]) -> Vec<String> {
    let Some(target) = inside(out, rel) else { return Vec::new() };
    std::iter::once(target.clone())
        .chain((1..100).map(|n| crate::safety::numbered(&target, n)).take_while(|p| fs::symlink_metadata(p).is_ok()))
        .filter_map(|p| part::open_bound(&p, verifier, false))
        .filter(|own| own.len == size)
        .take(MAX_COPIES)
        .filter_map(|mut own| prefix_hasher(&mut own.file, size))
        .map(|h| h.finalize().to_hex().to_string())
        .collect()
}

/// What one thread tells the next, in stream order: the socket side tells
/// the writer (`D` = [`Piece`], the bytes), the writer tells the checker
/// (`D` = [`Landed`], what became of them).
enum Item<D> {
    /// A file starts: its `.part` (open for writing and reading, positioned
    /// where the data starts), that offset, and the hash state of the proven
    /// prefix before it.
    Start { index: usize, offset: u64, file: File, part: PathBuf, target: PathBuf, hasher: Box<blake3::Hasher> },
    /// The next bytes of the current file.
    Data(D),
    /// The sender's digest for the current file.
    End([u8; 32]),
    /// The sender gave up on the current file.
    Abort(String),
}

/// Bytes of the current file the writer dealt with.
struct Landed {
    len: u64,
    /// Why writing them failed; the file's remaining bytes are then dropped.
    error: Option<String>,
}

/// What happened to one file.
#[derive(Debug, Default, Clone)]
struct Outcome {
    /// Bytes that were already there (the proven `.part` prefix).
    resumed: u64,
    bytes: u64,
    error: Option<String>,
    placed: Option<PathBuf>,
}

/// The file being received.
struct Current {
    index: usize,
    remaining: u64,
}

fn read_stage<S: Wire>(
    s: &mut S,
    plan: &Plan,
    mut intake: splice::Intake,
    tx: SyncSender<Item<Piece>>,
    progress: &dyn Progress,
    moved: &mut bool,
) -> Result<()> {
    let entries = &plan.manifest.entries;
    let mut current: Option<Current> = None;
    let mut next_index = 0usize;
    let mut scratch = Vec::new();
    let mut unbound_warned = false;
    let gone = || Error::Protocol("the writer stopped".into());
    loop {
        let h = frame::read_header(s)?.ok_or(Error::Closed("in the middle of the transfer"))?;
        match h.kind {
            Kind::Data => {
                let cur = current.as_mut().ok_or_else(|| Error::Protocol("data outside a file".into()))?;
                if u64::from(h.len) > cur.remaining {
                    return Err(Error::Protocol(format!(
                        "more data than the manifest's size for {:?}",
                        entries[cur.index].path
                    )));
                }
                cur.remaining -= u64::from(h.len);
                intake.take(s, u64::from(h.len), |piece| tx.send(Item::Data(piece)).map_err(|_| gone()))?;
                continue;
            }
            Kind::Done => {
                *moved = true;
                if current.is_some() {
                    return Err(Error::Protocol("the sender finished in the middle of a file".into()));
                }
                return Ok(());
            }
            _ => {}
        }
        frame::read_payload(s, h.len, &mut scratch)?;
        match h.kind {
            Kind::FileStart => {
                let (index, offset) = frame::decode_start(&scratch)?;
                let index = index as usize;
                if current.is_some() {
                    return Err(Error::Protocol("a file started inside another".into()));
                }
                let e = entries.get(index).filter(|e| e.kind == EntryKind::File && index >= next_index).ok_or_else(
                    || Error::Protocol(format!("FileStart for entry {index}, which is not a file or out of order")),
                )?;
                let offered = plan.offer.have.iter().find(|h| h.index as usize == index && !h.complete);
                if offset != 0 && offered.map(|h| h.len) != Some(offset) {
                    return Err(Error::Protocol(format!("{:?} resumed at {offset}, which we did not offer", e.path)));
                }
                next_index = index + 1;
                *moved = true;
                let prefix = plan.prefixes.get(&index).filter(|_| offset > 0);
                let hasher = prefix.map(|(_, h)| h.clone()).unwrap_or_default();
                progress.file_begin(&e.path, e.size, offset);
                let cannot = |err| Error::io(format!("cannot write {}", part_name(&e.path)), err);
                let verifier = &plan.verifiers[index];
                let (file, part, target, bound) =
                    open_part(&plan.out, e, offset, verifier, prefix.map(|(id, _)| *id)).map_err(cannot)?;
                if !bound && !unbound_warned {
                    unbound_warned = true;
                    progress.warn(&format!(
                        "{} cannot be resumed if interrupted: the filesystem of --out keeps no extended attributes",
                        part_name(&e.path)
                    ));
                }
                tx.send(Item::Start { index, offset, file, part, target, hasher: Box::new(hasher) })
                    .map_err(|_| gone())?;
                current = Some(Current { index, remaining: e.size - offset });
            }
            Kind::FileEnd => {
                let digest = frame::decode_digest(&scratch)?;
                match current.take() {
                    Some(c) if c.remaining == 0 => {}
                    Some(c) => {
                        return Err(Error::Protocol(format!(
                            "{:?} ended {} bytes short",
                            entries[c.index].path, c.remaining
                        )))
                    }
                    None => return Err(Error::Protocol("FileEnd outside a file".into())),
                }
                tx.send(Item::End(digest)).map_err(|_| gone())?;
            }
            Kind::Skip => {
                let (index, reason) = frame::decode_skip(&scratch)?;
                if current.as_ref().is_some_and(|c| c.index == index as usize) {
                    current = None;
                    tx.send(Item::Abort(reason)).map_err(|_| gone())?;
                } else if let Some(e) = entries.get(index as usize) {
                    progress.warn(&format!("{}: the sender skipped it: {reason}", e.path));
                }
            }
            Kind::Error => return Err(frame::peer_error(&scratch)),
            other => return Err(Error::Protocol(format!("unexpected {other:?} frame during the transfer"))),
        }
    }
}

/// Opens `path.part` for writing at `offset`: from 0, always a new file
/// bound to `verifier` (whatever had the name, a hard link or symlink
/// included, is unlinked, never written through); to resume, only the
/// inode we offered (`offered`), checked again on the descriptor and cut
/// back to `offset`. Returns the file, its path, the final path, and
/// whether the binding was stored.
fn open_part(
    out: &Path,
    e: &Entry,
    offset: u64,
    verifier: &[u8; 32],
    offered: Option<FileId>,
) -> io::Result<(File, PathBuf, PathBuf, bool)> {
    let target = prepare_parent(out, &e.path)?;
    let mut part = target.clone().into_os_string();
    part.push(".part");
    let part = PathBuf::from(part);
    if offset == 0 {
        let (f, bound) = part::create_fresh(&part, verifier)?;
        return Ok((f, part, target, bound));
    }
    let mut own = part::open_bound(&part, verifier, true)
        .filter(|own| Some(own.id) == offered && own.len >= offset)
        .ok_or_else(|| io::Error::other("it changed since it was offered — run again"))?;
    own.file.set_len(offset)?;
    own.file.seek(SeekFrom::Start(offset))?;
    Ok((own.file, part, target, true))
}

/// Writes each file's bytes into its `.part` as the socket side hands them
/// over, and tells the checker what landed.
fn write_stage(rx: Receiver<Item<Piece>>, mut outlet: splice::Outlet, tx: SyncSender<Item<Landed>>) {
    // The current `.part` (the checker holds another handle), until a
    // write to it fails.
    let mut file: Option<File> = None;
    for item in rx {
        let landed = match item {
            Item::Start { index, offset, file: f, part, target, hasher } => {
                file = f.try_clone().ok();
                let error = file.is_none().then(|| "cannot open the .part twice".to_string());
                if tx.send(Item::Start { index, offset, file: f, part, target, hasher }).is_err() {
                    return;
                }
                match error {
                    // The file fails before any of its bytes arrive.
                    Some(error) => Item::Data(Landed { len: 0, error: Some(error) }),
                    None => continue,
                }
            }
            Item::Data(piece) => {
                let len = piece.len() as u64;
                let error = outlet.put(piece, file.as_ref());
                if error.is_some() {
                    file = None;
                }
                Item::Data(Landed { len, error })
            }
            Item::End(digest) => Item::End(digest),
            Item::Abort(reason) => Item::Abort(reason),
        };
        if tx.send(landed).is_err() {
            return;
        }
    }
}

/// The file being checked.
struct Checking {
    index: usize,
    /// Where the bytes not hashed yet start.
    pos: u64,
    /// Where the bytes not landed yet start.
    written: u64,
    /// The `.part`, read back a mapped window at a time.
    file: RangeHasher<File>,
    part: PathBuf,
    target: PathBuf,
    hasher: blake3::Hasher,
}

impl Checking {
    /// Hashes what landed since the last call (unless the file failed).
    fn hash_written(&mut self, o: &mut Outcome) {
        if o.error.is_none() {
            match self.file.hash(&mut self.hasher, self.pos, self.written) {
                Ok(()) => o.bytes += self.written - self.pos,
                Err(e) => o.error = Some(e),
            }
        }
        self.pos = self.written;
    }
}

/// Hashes each file's bytes as the writer reports them landed, then
/// finishes the file (digest check, mode, mtime, rename into place).
fn check_stage(
    rx: Receiver<Item<Landed>>,
    entries: &[Entry],
    overwrite: bool,
    progress: &dyn Progress,
) -> HashMap<usize, Outcome> {
    let mut outcomes: HashMap<usize, Outcome> = HashMap::new();
    let mut cur: Option<Checking> = None;
    for item in rx {
        match item {
            Item::Start { index, offset, file, part, target, hasher } => {
                outcomes.insert(index, Outcome { resumed: offset, ..Outcome::default() });
                let file = RangeHasher::new(file, entries[index].size);
                cur = Some(Checking { index, pos: offset, written: offset, file, part, target, hasher: *hasher });
            }
            Item::Data(Landed { len, error }) => {
                let Some(c) = cur.as_mut() else { continue };
                let o = outcomes.entry(c.index).or_default();
                if let Some(why) = error {
                    o.error.get_or_insert(why);
                }
                c.written += len;
                if c.written - c.pos >= HASH_BATCH {
                    c.hash_written(o);
                }
                progress.advance(len);
            }
            Item::End(digest) => {
                let Some(mut c) = cur.take() else { continue };
                let e = &entries[c.index];
                let o = outcomes.entry(c.index).or_default();
                c.hash_written(o);
                if o.error.is_none() && c.hasher.finalize().as_bytes() != &digest {
                    let _ = fs::remove_file(&c.part);
                    o.error = Some(
                        "BLAKE3 digest mismatch: corrupted in transit or changed while sending — run again".into(),
                    );
                }
                if o.error.is_none() {
                    match finish_file(c.file.into_file(), &c.part, &c.target, e, overwrite) {
                        Ok(to) => o.placed = Some(to),
                        Err(err) => o.error = Some(format!("cannot finish: {err}")),
                    }
                }
                let outcome = match (&o.error, &o.placed) {
                    (Some(err), _) => FileOutcome::Failed(err.clone()),
                    (None, placed) => FileOutcome::Done(placed.clone()),
                };
                progress.file_end(&e.path, &outcome);
            }
            Item::Abort(reason) => {
                if let Some(mut c) = cur.take() {
                    let o = outcomes.entry(c.index).or_default();
                    c.hash_written(o); // counts what did arrive
                    let _ = c.file.into_file().sync_data();
                    o.error = Some(format!("the sender stopped sending it: {reason}"));
                    progress.file_end(&entries[c.index].path, &FileOutcome::Failed(reason));
                }
            }
        }
    }
    outcomes
}

/// Mode, mtime, then the atomic move into place.
fn finish_file(file: File, part: &Path, target: &Path, e: &Entry, overwrite: bool) -> io::Result<PathBuf> {
    file.set_permissions(Permissions::from_mode(file_mode(e.mode)))?;
    file.set_times(FileTimes::new().set_modified(mtime(e)))?;
    drop(file);
    place(part, target, overwrite)
}

/// The sender's permission bits, always readable and writable by us (so a
/// later run can hash and resume it).
fn file_mode(mode: u32) -> u32 {
    (mode & 0o777) | 0o600
}

fn mtime(e: &Entry) -> SystemTime {
    let d = Duration::new(e.mtime.unsigned_abs(), e.mtime_ns.min(999_999_999));
    if e.mtime >= 0 { UNIX_EPOCH.checked_add(d) } else { UNIX_EPOCH.checked_sub(d) }.unwrap_or(UNIX_EPOCH)
}

/// Counts outcomes; files offered whole and never started were present.
fn finish(plan: &Plan, outcomes: &HashMap<usize, Outcome>, progress: &dyn Progress) -> Summary {
    let mut s = Summary::default();
    for (index, e) in plan.manifest.entries.iter().enumerate().filter(|(_, e)| e.kind == EntryKind::File) {
        let had_whole = plan.offer.have.iter().any(|h| h.index as usize == index && h.complete);
        match outcomes.get(&index) {
            Some(Outcome { error: Some(err), .. }) => {
                s.files_failed += 1;
                s.errors.push(format!("{}: {err}", e.path));
            }
            Some(o) => {
                s.files_received += 1;
                s.bytes_resumed += o.resumed;
            }
            None if had_whole => {
                s.files_present += 1;
                s.bytes_resumed += e.size;
                progress.file_end(&e.path, &FileOutcome::Present(e.size));
            }
            None => {
                s.files_failed += 1;
                s.errors.push(format!("{}: not sent", e.path));
            }
        }
    }
    s
}

/// Creates the manifest's folders up front and sets their modes and mtimes
/// at the end (deepest first, since writing inside a folder changes its mtime).
fn set_dir_times(out: &Path, entries: &[Entry]) {
    let mut dirs: Vec<&Entry> = entries.iter().filter(|e| e.kind == EntryKind::Dir).collect();
    dirs.sort_by_key(|e| std::cmp::Reverse(e.path.matches('/').count()));
    for e in dirs {
        let Ok(path) = prepare_parent(out, &e.path) else { continue };
        if ensure_dir(&path).is_err() {
            continue;
        }
        let _ = fs::set_permissions(&path, Permissions::from_mode((e.mode & 0o777) | 0o700));
        if let Ok(f) = File::open(&path) {
            let _ = f.set_times(FileTimes::new().set_modified(mtime(e)));
        }
    }
}

#[cfg(test)]
mod tests;
