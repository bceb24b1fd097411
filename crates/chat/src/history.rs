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

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;

use rusqlite::{params, Connection};
use tokio::sync::oneshot;

use crate::event::{Event, Kind};

/// Most messages committed in one transaction.
pub const MAX_BATCH: usize = 4096;
/// Messages kept per room when history is in memory only.
pub const MEMORY_PER_ROOM: usize = crate::command::MAX_HISTORY;

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
    /// Opens the store and starts its writer thread.
    pub fn open(store: &Store) -> Result<History, HistoryError> {
        let backend = match store {
            Store::File(path) => Backend::Sqlite(open_sqlite(path)?),
            Store::Memory => Backend::Memory(HashMap::new()),
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

fn open_sqlite(path: &Path) -> Result<Connection, HistoryError> {
    let err = |reason: String| HistoryError { path: path.to_path_buf(), reason };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
    }
    let conn = Connection::open(path).map_err(|e| err(e.to_string()))?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL;
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
    Ok(conn)
}

enum Backend {
    Sqlite(Connection),
    Memory(HashMap<String, VecDeque<Event>>),
}

fn writer(mut backend: Backend, rx: std_mpsc::Receiver<Req>) {
    let mut batch: Vec<Event> = Vec::with_capacity(256);
    while let Ok(first) = rx.recv() {
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
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Me => "me",
        _ => "msg",
    }
}

impl Backend {
    fn write(&mut self, batch: &mut Vec<Event>) {
        if batch.is_empty() {
            return;
        }
        match self {
            Backend::Sqlite(conn) => {
                if let Err(e) = insert_all(conn, batch) {
                    tracing::warn!(error = %e, lost = batch.len(), "chat history write failed");
                }
            }
            Backend::Memory(rooms) => {
                for e in batch.iter() {
                    let q = rooms.entry(e.room.clone().unwrap_or_default()).or_default();
                    if q.len() == MEMORY_PER_ROOM {
                        q.pop_front();
                    }
                    q.push_back(e.clone());
                }
            }
        }
        batch.clear();
    }

    fn recent(&mut self, room: &str, n: usize) -> Vec<Event> {
        let mut out = match self {
            Backend::Sqlite(conn) => select_recent(conn, room, n).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "chat history read failed");
                Vec::new()
            }),
            Backend::Memory(rooms) => {
                rooms.get(room).map(|q| q.iter().skip(q.len().saturating_sub(n)).cloned().collect()).unwrap_or_default()
            }
        };
        for e in &mut out {
            e.history = true;
        }
        out
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

fn select_recent(conn: &Connection, room: &str, n: usize) -> rusqlite::Result<Vec<Event>> {
    let mut stmt = conn.prepare_cached(
        "SELECT ts, kind, nick, text FROM (SELECT id, ts, kind, nick, text FROM messages WHERE room = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id",
    )?;
    let rows = stmt.query_map(params![room, n as i64], |r| {
        let kind: String = r.get(1)?;
        Ok(Event {
            kind: if kind == "me" { Kind::Me } else { Kind::Msg },
            room: Some(room.to_string()),
            from: Some(r.get(2)?),
            to: None,
            text: r.get(3)?,
            ts: r.get(0)?,
            history: true,
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
        let h = History::open(&store).unwrap();
        for i in 0..30 {
            h.append(msg("lobby", i));
        }
        h.append(msg("dev", 99));
        let last = h.recent("lobby", 5).await;
        assert_eq!(last.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(), ["m25", "m26", "m27", "m28", "m29"]);
        assert!(last.iter().all(|e| e.history));
        h.flush().await;
        drop(h);
        let h = History::open(&store).unwrap();
        assert_eq!(h.recent("lobby", 100).await.len(), 30);
        assert_eq!(h.recent("dev", 100).await[0].text, "m99");
    }

    #[tokio::test]
    async fn memory_is_bounded_per_room() {
        let h = History::open(&Store::Memory).unwrap();
        for i in 0..MEMORY_PER_ROOM + 10 {
            h.append(msg("r", i));
        }
        let all = h.recent("r", usize::MAX).await;
        assert_eq!(all.len(), MEMORY_PER_ROOM);
        assert_eq!(all[0].text, "m10");
        assert!(h.recent("none", 5).await.is_empty());
    }
}
