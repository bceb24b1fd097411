//! How much history is kept, and pruning the SQLite store to it.
//!
//! Three bounds, as IRC servers with history (ergo) have: messages per room,
//! age, and the size of the database. Reads honour the first two exactly
//! (a `/history` never shows a message over them); the writer thread deletes
//! in bounded steps after each batch, so pruning never holds up a commit for
//! long and fan-out never waits for it:
//! - per room: a room is checked after every tenth of its limit of new
//!   messages; at most [`STEP`] rows go per step;
//! - age: at most once a second, the oldest [`STEP`] rows are looked at;
//! - size: after every batch, the pages in use (`page_count − freelist_count`)
//!   are compared with the cap; over it, the oldest messages go until about
//!   a tenth of the cap is free. Freed pages are reused by later inserts, and
//!   in a database made with incremental auto-vacuum (every new one) they
//!   are handed back to the file system while the file is over the cap. The
//!   WAL is checkpointed every quarter of the cap and cut back to that size,
//!   so the files stay within about 1.25 × the cap plus twice the last
//!   batch (one in the database before it is pruned, one in the WAL).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};

/// Most rows one pruning step deletes or examines.
pub const STEP: usize = 20_000;

/// Rooms whose new messages are counted before all of them are checked.
const FRESH_ROOMS: usize = 4096;

/// How much history is kept (`--history-max-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Messages per room (10,000; 0 = no limit).
    pub max_per_room: usize,
    /// Oldest message kept (30 days; `None` = no limit).
    pub max_age: Option<Duration>,
    /// Bytes of database (256 MiB; 0 = no limit). With `--no-history` the
    /// memory store keeps at most the smaller of this and 64 MiB.
    pub max_bytes: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_per_room: 10_000,
            max_age: Some(Duration::from_secs(30 * 24 * 3600)),
            max_bytes: 256 * 1024 * 1024,
        }
    }
}

impl Retention {
    /// The oldest timestamp (ms since the epoch) still kept at `now_ms`.
    pub fn cutoff_ms(&self, now_ms: i64) -> i64 {
        match self.max_age {
            Some(age) => now_ms.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX)),
            None => i64::MIN,
        }
    }

    /// The SQLite settings that keep the WAL near a quarter of the cap.
    pub fn wal_pragmas(&self, page_size: u64) -> String {
        if self.max_bytes == 0 {
            return String::new();
        }
        let quarter = (self.max_bytes / 4).clamp(64 * 1024, 64 * 1024 * 1024);
        let pages = (quarter / page_size.max(512)).clamp(16, 1000);
        format!("PRAGMA journal_size_limit={quarter}; PRAGMA wal_autocheckpoint={pages};")
    }
}

/// The pruning state the writer thread keeps between batches.
#[derive(Debug)]
pub struct Pruner {
    retention: Retention,
    /// New messages per room since its last count check.
    fresh: HashMap<String, usize>,
    last_age_check: Option<Instant>,
    /// Whether the last age step was full (more to delete at once).
    age_behind: bool,
}

impl Pruner {
    /// A pruner for `retention`.
    pub fn new(retention: Retention) -> Pruner {
        Pruner { retention, fresh: HashMap::new(), last_age_check: None, age_behind: false }
    }

    /// The bounds in force.
    pub fn retention(&self) -> &Retention {
        &self.retention
    }

    /// Notes one stored message of `room`.
    pub fn added(&mut self, room: &str) {
        if self.retention.max_per_room == 0 {
            return;
        }
        match self.fresh.get_mut(room) {
            Some(n) => *n += 1,
            None => {
                self.fresh.insert(room.to_string(), 1);
            }
        }
    }

    /// One bounded round of pruning; returns the rows deleted.
    pub fn prune(&mut self, conn: &Connection, now_ms: i64) -> rusqlite::Result<usize> {
        let mut deleted = self.prune_rooms(conn)?;
        deleted += self.prune_age(conn, now_ms)?;
        deleted += prune_size(conn, self.retention.max_bytes)?;
        Ok(deleted)
    }

    fn prune_rooms(&mut self, conn: &Connection) -> rusqlite::Result<usize> {
        let max = self.retention.max_per_room;
        if max == 0 {
            return Ok(0);
        }
        // Many rooms with a few messages each: check them all, so the
        // table of counts stays small.
        let every = if self.fresh.len() > FRESH_ROOMS { 0 } else { (max / 10).max(1) };
        let due: Vec<String> = self.fresh.iter().filter(|(_, n)| **n >= every).map(|(r, _)| r.clone()).collect();
        let mut deleted = 0;
        for room in due {
            let cut: Option<i64> = conn
                .prepare_cached("SELECT id FROM messages WHERE room = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2")?
                .query_row(params![room, max as i64], |r| r.get(0))
                .ok();
            let n = match cut {
                Some(cut) => conn.prepare_cached(
                    "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE room = ?1 AND id <= ?2 ORDER BY id LIMIT ?3)",
                )?
                .execute(params![room, cut, STEP as i64])?,
                None => 0,
            };
            deleted += n;
            if n < STEP {
                self.fresh.remove(&room);
            }
        }
        Ok(deleted)
    }

    fn prune_age(&mut self, conn: &Connection, now_ms: i64) -> rusqlite::Result<usize> {
        if self.retention.max_age.is_none() {
            return Ok(0);
        }
        let now = Instant::now();
        if !self.age_behind && self.last_age_check.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
            return Ok(0);
        }
        self.last_age_check = Some(now);
        let cutoff = self.retention.cutoff_ms(now_ms);
        let oldest: Option<i64> = conn.query_row("SELECT ts FROM messages ORDER BY id LIMIT 1", [], |r| r.get(0)).ok();
        if oldest.is_none_or(|ts| ts >= cutoff) {
            self.age_behind = false;
            return Ok(0);
        }
        // Only the oldest STEP rows are looked at: ids grow with time, so
        // the expired ones are there, and a step never scans the table.
        let n = conn
            .prepare_cached(
                "DELETE FROM messages WHERE id IN (SELECT id FROM (SELECT id, ts FROM messages ORDER BY id LIMIT ?1) WHERE ts < ?2)",
            )?
            .execute(params![STEP as i64, cutoff])?;
        self.age_behind = n == STEP;
        Ok(n)
    }
}

fn pragma(conn: &Connection, name: &str) -> rusqlite::Result<u64> {
    conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, i64>(0)).map(|v| v.max(0) as u64)
}

/// Bytes of pages in use and bytes of the whole database.
pub fn db_size(conn: &Connection) -> rusqlite::Result<(u64, u64)> {
    let page = pragma(conn, "page_size")?;
    let pages = pragma(conn, "page_count")?;
    let free = pragma(conn, "freelist_count")?;
    Ok((pages.saturating_sub(free) * page, pages * page))
}

/// Deletes the oldest messages while the pages in use exceed `max_bytes`,
/// down to about nine tenths of it; gives free pages back while the file
/// is over the cap.
fn prune_size(conn: &Connection, max_bytes: u64) -> rusqlite::Result<usize> {
    if max_bytes == 0 {
        return Ok(0);
    }
    let (used, total) = db_size(conn)?;
    let mut deleted = 0;
    if used > max_bytes {
        let goal = used - max_bytes / 10 * 9;
        // A row's share of the table and its index: its text plus a
        // fixed overhead (row header, rowid, index entry).
        let mut stmt = conn.prepare_cached(
            "SELECT id, length(CAST(text AS BLOB)) + length(CAST(nick AS BLOB)) + 2 * length(CAST(room AS BLOB)) + 48 FROM messages ORDER BY id LIMIT ?1",
        )?;
        let mut rows = stmt.query(params![STEP as i64])?;
        let (mut freed, mut last) = (0u64, None);
        while let Some(r) = rows.next()? {
            last = Some(r.get::<_, i64>(0)?);
            freed += r.get::<_, i64>(1)?.max(0) as u64;
            if freed >= goal {
                break;
            }
        }
        drop(rows);
        if let Some(last) = last {
            deleted = conn.prepare_cached("DELETE FROM messages WHERE id <= ?1")?.execute(params![last])?;
        }
    }
    if total > max_bytes {
        let page = pragma(conn, "page_size")?.max(512);
        let over_pages = (total - max_bytes).div_ceil(page).min(4096);
        // A no-op in a database made without incremental auto-vacuum.
        conn.execute_batch(&format!("PRAGMA incremental_vacuum({over_pages})"))?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(ret: &Retention) -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(&format!(
            "PRAGMA auto_vacuum=INCREMENTAL; {}
             CREATE TABLE messages(id INTEGER PRIMARY KEY, room TEXT NOT NULL, ts INTEGER NOT NULL,
                kind TEXT NOT NULL, nick TEXT NOT NULL, text TEXT NOT NULL);
             CREATE INDEX messages_room ON messages(room, id);",
            ret.wal_pragmas(4096)
        ))
        .unwrap();
        c
    }

    fn add(c: &Connection, p: &mut Pruner, room: &str, ts: i64, text: &str) {
        c.execute(
            "INSERT INTO messages(room, ts, kind, nick, text) VALUES (?1, ?2, 'msg', 'al', ?3)",
            params![room, ts, text],
        )
        .unwrap();
        p.added(room);
    }

    fn count(c: &Connection, room: &str) -> i64 {
        c.query_row("SELECT count(*) FROM messages WHERE room = ?1", [room], |r| r.get(0)).unwrap()
    }

    #[test]
    fn per_room_count_is_kept() {
        let ret = Retention { max_per_room: 20, max_age: None, max_bytes: 0 };
        let (c, mut p) = (db(&ret), Pruner::new(ret));
        for i in 0..100 {
            add(&c, &mut p, "a", i, "x");
            add(&c, &mut p, "b", i, "y");
            p.prune(&c, 0).unwrap();
        }
        // Checked every 2 new messages: at most one check's worth over.
        assert!((20..=22).contains(&count(&c, "a")), "{}", count(&c, "a"));
        assert!((20..=22).contains(&count(&c, "b")));
        let newest: i64 = c.query_row("SELECT max(ts) FROM messages WHERE room='a'", [], |r| r.get(0)).unwrap();
        assert_eq!(newest, 99);
    }

    #[test]
    fn old_messages_expire() {
        let ret = Retention { max_per_room: 0, max_age: Some(Duration::from_secs(10)), max_bytes: 0 };
        let (c, mut p) = (db(&ret), Pruner::new(ret));
        for i in 0..50 {
            add(&c, &mut p, "a", i * 1000, "x");
        }
        // Now is 50 s: messages older than 40 s go.
        p.prune(&c, 50_000).unwrap();
        assert_eq!(count(&c, "a"), 10);
    }

    #[test]
    fn size_is_capped() {
        let ret = Retention { max_per_room: 0, max_age: None, max_bytes: 256 * 1024 };
        let (c, mut p) = (db(&ret), Pruner::new(ret));
        let text = "z".repeat(1000);
        for i in 0..3000 {
            add(&c, &mut p, "a", i, &text);
            if i % 50 == 0 {
                p.prune(&c, 0).unwrap();
            }
        }
        p.prune(&c, 0).unwrap();
        let (used, total) = db_size(&c).unwrap();
        assert!(used <= 256 * 1024, "used {used}");
        assert!(total <= 256 * 1024 + 64 * 1024, "total {total}");
        assert!(count(&c, "a") > 100, "{}", count(&c, "a"));
        let newest: i64 = c.query_row("SELECT max(ts) FROM messages", [], |r| r.get(0)).unwrap();
        assert_eq!(newest, 2999);
    }
}
