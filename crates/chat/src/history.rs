//! Room history: every room message is stored, and recent ones replayed.
//!
//! One writer thread owns the store (SQLite in WAL mode, or memory under
//! `--no-history`). Members hand it messages over a channel and never wait
//! for the disk. The thread takes whatever has queued up — up to
//! [`MAX_BATCH`] messages — and writes it in one transaction, so under load a
//! commit carries many messages and disk speed never slows fan-out. A `kill
//! -9` loses only what was queued and not yet committed: at most one batch,
//! in practice the messages of the last few milliseconds. Reads travel the
//! same channel, so a read sees every message sent before it.
//!
//! Stored data is bounded ([`Retention`]: per room, age, size); see
//! [`crate::retention`] for how the SQLite store is pruned. The memory store
//! keeps at most [`MEMORY_PER_ROOM`] per room and [`MEMORY_MAX_BYTES`] in all,
//! the oldest going first.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;

use rusqlite::{params, Connection};
use tokio::sync::oneshot;

use crate::event::{now_ms, Event, Kind};
use crate::retention::Pruner;
pub use crate::retention::Retention;

/// Most messages committed in one transaction.
pub const MAX_BATCH: usize = 4096;
/// Messages kept per room when history is in memory only.
pub const MEMORY_PER_ROOM: usize = crate::command::MAX_HISTORY;
/// With no message for this long, the writer thread prunes anyway.
const IDLE_PRUNE: std::time::Duration = std::time::Duration::from_secs(1);
/// Bytes the memory store holds at most (less if `--history-max-mib` says so).
pub const MEMORY_MAX_BYTES: usize = 64 * 1024 * 1024;

/// Where history lives.
#[derive(Debug, Clone)]
pub enum Store {
    /// An SQLite file.
    File(PathBuf),
    /// Memory only: lost on restart (`--no-history`).
    Memory,
}

/// The history store could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open chat history {path}: {reason} — pick another file with --history PATH or run with --no-history")]
pub struct HistoryError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong (SQLite's or the file system's words).
    pub reason: String,
}

enum Req {
    Append(Event),
    Recent { room: String, n: usize, reply: oneshot::Sender<Vec<Event>> },
    Flush(oneshot::Sender<()>),
}

/// A handle to the writer thread. Cheap to clone.
#[derive(Debug, Clone)]
pub struct History {
    tx: std_mpsc::Sender<Req>,
}

impl History {
    /// Opens the store and starts its writer thread; it keeps what
    /// `retention` allows.
    pub fn open(store: &Store, retention: Retention) -> Result<History, HistoryError> {
        let backend = match store {
            Store::File(path) => Backend::Sqlite(open_sqlite(path, &retention)?, Pruner::new(retention)),
            Store::Memory => Backend::Memory(MemoryStore::new(retention)),
        };
        let (tx, rx) = std_mpsc::channel();
        std::thread::Builder::new()
            .name("chat-history".into())
            .spawn(move || writer(backend, rx))
            .map_err(|e| HistoryError { path: PathBuf::from("(writer thread)"), reason: e.to_string() })?;
        Ok(History { tx })
    }

    /// Queues a room message for storage (never blocks).
    pub fn append(&self, event: Event) {
        let _ = self.tx.send(Req::Append(event));
    }

    /// The last `n` messages of `room`, oldest first, marked as history.
    pub async fn recent(&self, room: &str, n: usize) -> Vec<Event> {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Req::Recent { room: room.to_string(), n, reply }).is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Waits until everything queued so far is committed.
    pub async fn flush(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Req::Flush(reply)).is_ok() {
            let _ = rx.await;
        }
    }
}

fn open_sqlite(path: &Path, retention: &Retention) -> Result<Connection, HistoryError> {
    let err = |reason: String| HistoryError { path: path.to_path_buf(), reason };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
    }
    let conn = Connection::open(path).map_err(|e| err(e.to_string()))?;
    // Incremental auto-vacuum takes effect only in a new database (before
    // its first table): there, space freed by pruning goes back to the file
    // system. Older files reuse their free pages instead.
    conn.execute_batch(
        "PRAGMA auto_vacuum=INCREMENTAL;
         PRAGMA journal_mode=WAL;
         PRAGMA synchronous=NORMAL;
         PRAGMA busy_timeout=2000;
         CREATE TABLE IF NOT EXISTS messages(
            id INTEGER PRIMARY KEY,
            room TEXT NOT NULL,
            ts INTEGER NOT NULL,
            kind TEXT NOT NULL,
            nick TEXT NOT NULL,
            text TEXT NOT NULL);
         CREATE INDEX IF NOT EXISTS messages_room ON messages(room, id);",
    )
    .map_err(|e| err(e.to_string()))?;
    let page: u64 = conn.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0)).map_or(4096, |v| v.max(512) as u64);
    conn.execute_batch(&retention.wal_pragmas(page)).map_err(|e| err(e.to_string()))?;
    Ok(conn)
}

enum Backend {
    Sqlite(Connection, Pruner),
    Memory(MemoryStore),
}

fn writer(mut backend: Backend, rx: std_mpsc::Receiver<Req>) {
    let mut batch: Vec<Event> = Vec::with_capacity(256);
    loop {
        let first = match rx.recv_timeout(IDLE_PRUNE) {
            Ok(req) => req,
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                // Quiet: keep pruning (expired messages, a lowered cap).
                backend.prune();
                continue;
            }
            Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let mut next = Some(first);
        while let Some(req) = next.take() {
            match req {
                Req::Append(e) => batch.push(e),
                Req::Recent { room, n, reply } => {
                    backend.write(&mut batch);
                    let _ = reply.send(backend.recent(&room, n));
                }
                Req::Flush(reply) => {
                    backend.write(&mut batch);
                    let _ = reply.send(());
                }
            }
            if batch.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        backend.write(&mut batch);
        backend.prune();
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Me => "me",
        _ => "msg",
    }
}

impl Backend {
    /// One bounded round of pruning (SQLite; the memory store prunes as it
    /// goes). Outside the insert's transaction, in bounded steps, so it
    /// never holds up the next batch's commit for long.
    fn prune(&mut self) {
        if let Backend::Sqlite(conn, pruner) = self {
            if let Err(e) = pruner.prune(conn, now_ms()) {
                tracing::warn!(error = %e, "chat history pruning failed");
            }
        }
    }

    fn write(&mut self, batch: &mut Vec<Event>) {
        if batch.is_empty() {
            return;
        }
        match self {
            Backend::Sqlite(conn, pruner) => {
                if let Err(e) = insert_all(conn, batch) {
                    tracing::warn!(error = %e, lost = batch.len(), "chat history write failed");
                }
                for e in batch.iter() {
                    pruner.added(e.room.as_deref().unwrap_or(""));
                }
            }
            Backend::Memory(store) => {
                for e in batch.iter() {
                    store.push(e.clone());
                }
            }
        }
        batch.clear();
    }

    fn recent(&mut self, room: &str, n: usize) -> Vec<Event> {
        let mut out = match self {
            Backend::Sqlite(conn, pruner) => select_recent(conn, pruner.retention(), room, n).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "chat history read failed");
                Vec::new()
            }),
            Backend::Memory(store) => store.recent(room, n),
        };
        for e in &mut out {
            e.history = true;
        }
        out
    }
}

/// History in memory (`--no-history`): per room and in total bounded, the
/// oldest message going first.
struct MemoryStore {
    retention: Retention,
    per_room: usize,
    max_bytes: usize,
    rooms: HashMap<String, VecDeque<(u64, Event)>>,
    /// Every message's (sequence, room), oldest first, to find the oldest
    /// overall. Entries of messages a room already dropped are skipped, and
    /// compacted away when they are half the list.
    order: VecDeque<(u64, String)>,
    next: u64,
    live: usize,
    bytes: usize,
}

fn mem_size(e: &Event) -> usize {
    e.text.len() + e.from.as_ref().map_or(0, String::len) + 2 * e.room.as_ref().map_or(0, String::len) + 96
}

impl MemoryStore {
    fn new(retention: Retention) -> Self {
        let per_room = match retention.max_per_room {
            0 => MEMORY_PER_ROOM,
            n => n.min(MEMORY_PER_ROOM),
        };
        let max_bytes = match retention.max_bytes {
            0 => MEMORY_MAX_BYTES,
            n => usize::try_from(n).unwrap_or(usize::MAX).min(MEMORY_MAX_BYTES),
        };
        MemoryStore {
            retention,
            per_room,
            max_bytes,
            rooms: HashMap::new(),
            order: VecDeque::new(),
            next: 0,
            live: 0,
            bytes: 0,
        }
    }

    fn push(&mut self, e: Event) {
        let room = e.room.clone().unwrap_or_default();
        let seq = self.next;
        self.next += 1;
        self.bytes += mem_size(&e);
        self.live += 1;
        let q = self.rooms.entry(room.clone()).or_default();
        q.push_back((seq, e));
        if q.len() > self.per_room {
            if let Some((_, old)) = q.pop_front() {
                self.bytes -= mem_size(&old);
                self.live -= 1;
            }
        }
        self.order.push_back((seq, room));
        while self.bytes > self.max_bytes {
            let Some((seq, room)) = self.order.pop_front() else { break };
            let Some(q) = self.rooms.get_mut(&room) else { continue };
            if q.front().is_some_and(|(s, _)| *s == seq) {
                if let Some((_, old)) = q.pop_front() {
                    self.bytes -= mem_size(&old);
                    self.live -= 1;
                }
                if q.is_empty() {
                    self.rooms.remove(&room);
                }
            }
        }
        if self.order.len() > 2 * self.live + 1024 {
            let rooms = &self.rooms;
            self.order.retain(|(seq, room)| {
                rooms.get(room).is_some_and(|q| q.binary_search_by_key(seq, |(s, _)| *s).is_ok())
            });
        }
    }

    fn recent(&self, room: &str, n: usize) -> Vec<Event> {
        let cutoff = self.retention.cutoff_ms(now_ms());
        let Some(q) = self.rooms.get(room) else { return Vec::new() };
        let fresh: Vec<&Event> = q.iter().map(|(_, e)| e).filter(|e| e.ts >= cutoff).collect();
        fresh[fresh.len().saturating_sub(n)..].iter().map(|e| (*e).clone()).collect()
    }
}

fn insert_all(conn: &mut Connection, batch: &[Event]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut stmt =
            tx.prepare_cached("INSERT INTO messages(room, ts, kind, nick, text) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        for e in batch {
            stmt.execute(params![
                e.room.as_deref().unwrap_or(""),
                e.ts,
                kind_name(e.kind),
                e.from.as_deref().unwrap_or(""),
                e.text
            ])?;
        }
    }
    tx.commit()
}

/// The newest `n` messages of `room`, within the retention bounds (so a
/// read is exact even while pruning is a step behind).
fn select_recent(conn: &Connection, retention: &Retention, room: &str, n: usize) -> rusqlite::Result<Vec<Event>> {
    let n = match retention.max_per_room {
        0 => n,
        max => n.min(max),
    };
    let mut stmt = conn.prepare_cached(
        "SELECT ts, kind, nick, text FROM (SELECT id, ts, kind, nick, text FROM messages WHERE room = ?1 AND ts >= ?3 ORDER BY id DESC LIMIT ?2) ORDER BY id",
    )?;
    let rows = stmt.query_map(params![room, n.min(i64::MAX as usize) as i64, retention.cutoff_ms(now_ms())], |r| {
        let kind: String = r.get(1)?;
        let kind = if kind == "me" { Kind::Me } else { Kind::Msg };
        Ok(Event {
            room: Some(room.to_string()),
            from: Some(r.get(2)?),
            ts: r.get(0)?,
            history: true,
            ..Event::new(kind, r.get::<_, String>(3)?)
        })
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(room: &str, i: usize) -> Event {
        Event::new(Kind::Msg, format!("m{i}")).by("al").in_room(room)
    }

    #[tokio::test]
    async fn sqlite_keeps_history_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::File(dir.path().join("sub/chat.db"));
        let h = History::open(&store, Retention::default()).unwrap();
        for i in 0..30 {
            h.append(msg("lobby", i));
        }
        h.append(msg("dev", 99));
        let last = h.recent("lobby", 5).await;
        assert_eq!(last.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(), ["m25", "m26", "m27", "m28", "m29"]);
        assert!(last.iter().all(|e| e.history));
        h.flush().await;
        drop(h);
        let h = History::open(&store, Retention::default()).unwrap();
        assert_eq!(h.recent("lobby", 100).await.len(), 30);
        assert_eq!(h.recent("dev", 100).await[0].text, "m99");
    }

    #[tokio::test]
    async fn memory_is_bounded_per_room() {
        let h = History::open(&Store::Memory, Retention::default()).unwrap();
        for i in 0..MEMORY_PER_ROOM + 10 {
            h.append(msg("r", i));
        }
        let all = h.recent("r", usize::MAX).await;
        assert_eq!(all.len(), MEMORY_PER_ROOM);
        assert_eq!(all[0].text, "m10");
        assert!(h.recent("none", 5).await.is_empty());
    }

    #[tokio::test]
    async fn memory_is_bounded_in_bytes_across_rooms() {
        let ret = Retention { max_bytes: 200 * 1024, ..Retention::default() };
        let h = History::open(&Store::Memory, ret).unwrap();
        let text = "y".repeat(1000);
        for i in 0..2000 {
            let mut e = msg(&format!("room{}", i % 300), i);
            e.text = format!("{i} {text}");
            h.append(e);
        }
        let mut kept = 0;
        for r in 0..300 {
            kept += h.recent(&format!("room{r}"), usize::MAX).await.len();
        }
        // About 200 KiB of 1 KB messages, the newest.
        assert!((100..=200).contains(&kept), "{kept}");
        let room0 = h.recent("room0", usize::MAX).await;
        assert!(
            room0.iter().all(|e| e.text.split(' ').next().unwrap().parse::<usize>().unwrap() >= 1500),
            "oldest go first"
        );
        let last = h.recent(&format!("room{}", 1999 % 300), 1).await;
        assert!(last[0].text.starts_with("1999 "));
    }

    #[tokio::test]
    async fn reads_honour_count_and_age() {
        let dir = tempfile::tempdir().unwrap();
        let ret = Retention { max_per_room: 5, max_age: Some(std::time::Duration::from_secs(3600)), max_bytes: 0 };
        let h = History::open(&Store::File(dir.path().join("c.db")), ret).unwrap();
        let mut old = msg("r", 0);
        old.ts -= 2 * 3600 * 1000;
        h.append(old);
        for i in 1..=3 {
            h.append(msg("r", i));
        }
        let got = h.recent("r", 100).await;
        assert_eq!(got.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(), ["m1", "m2", "m3"]);
        for i in 4..=20 {
            h.append(msg("r", i));
        }
        assert_eq!(h.recent("r", 100).await.len(), 5);
    }
}
