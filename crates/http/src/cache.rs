//! The small-file cache: files up to `--cache-file-max` (64 KiB) live in
//! memory with their headers prebuilt, so a hit costs a hash lookup and a
//! few reference-count bumps — no syscall.
//!
//! Staleness is bounded, not zero: an entry is trusted for `--revalidate`
//! (1 s) after it was last checked; the next request after that does one
//! `stat` and drops the entry if size, mtime or inode changed. The cache
//! holds at most `--cache-total` bytes; when full, new files are simply
//! served from disk (no eviction churn under a scan).
//!
//! In front of the shared map, each thread keeps its own copies of the
//! entries it serves ([`Cache::with_local`]): their buffers and header values
//! are private to the thread, so a hit takes no lock and bumps no reference
//! count that another core also writes. A thread copy is re-checked against
//! the shared entry after the same interval, so an edited file shows up
//! within twice `--revalidate`; each thread holds at most `--cache-total`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::HeaderValue;

use crate::negotiate::Coding;

/// Hands out distinct ids, so thread copies of two caches never mix.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// cache id → this thread's copies.
    static FRONT: RefCell<HashMap<u64, Front>> = RefCell::new(HashMap::new());
}

/// One thread's copies of one cache's entries.
#[derive(Default)]
struct Front {
    map: HashMap<Box<str>, Local>,
    bytes: u64,
}

/// A thread's private copy of an entry, and the shared entry it copies.
struct Local {
    copy: Entry,
    src: Arc<Entry>,
    checked_ms: u64,
}

/// A compressed form of an entry (precompressed sibling or made here).
#[derive(Debug)]
pub struct Variant {
    /// The coding.
    pub coding: Coding,
    /// The compressed bytes.
    pub body: Bytes,
    /// The entity tag of this form (differs from the identity one).
    pub etag: HeaderValue,
}

/// A file held in memory.
#[derive(Debug)]
pub struct Entry {
    /// Where it lives (canonical).
    pub path: PathBuf,
    /// Its bytes.
    pub body: Bytes,
    /// Identity of the version cached: size, mtime, inode.
    pub stamp: Stamp,
    /// Prebuilt `ETag`.
    pub etag: HeaderValue,
    /// Prebuilt `Last-Modified`.
    pub last_modified: HeaderValue,
    /// Prebuilt `Content-Type`.
    pub content_type: HeaderValue,
    /// Filled per request (`--templates`, HTML).
    pub template: bool,
    /// Compressed forms, best first.
    pub variants: Vec<Variant>,
    checked_ms: AtomicU64,
}

/// What identifies one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Size in bytes.
    pub len: u64,
    /// Modification time.
    pub mtime: SystemTime,
    /// Inode (a file replaced by rename keeps size and maybe mtime).
    pub ino: u64,
}

impl Stamp {
    /// The stamp of some metadata.
    pub fn of(meta: &Metadata) -> Self {
        Stamp { len: meta.len(), mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), ino: meta.ino() }
    }

    /// `"<mtime secs hex>-<len hex>"` like nginx, plus nanoseconds so two
    /// writes in one second differ.
    pub fn etag(&self, suffix: &str) -> HeaderValue {
        let d = self.mtime.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let s = format!("\"{:x}.{:x}-{:x}{suffix}\"", d.as_secs(), d.subsec_nanos(), self.len);
        HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static("\"0\""))
    }

    /// `Last-Modified`.
    pub fn last_modified(&self) -> HeaderValue {
        HeaderValue::from_str(&httpdate::fmt_http_date(self.mtime)).unwrap_or(HeaderValue::from_static(""))
    }
}

impl Entry {
    /// A new entry for `body` read from `path`.
    pub fn new(path: PathBuf, body: Bytes, stamp: Stamp, content_type: HeaderValue, template: bool) -> Self {
        Entry {
            path,
            body,
            etag: stamp.etag(""),
            last_modified: stamp.last_modified(),
            stamp,
            content_type,
            template,
            variants: Vec::new(),
            checked_ms: AtomicU64::new(0),
        }
    }

    /// A copy with buffers and header values of its own.
    fn deep_copy(&self) -> Entry {
        let hv = |v: &HeaderValue| HeaderValue::from_bytes(v.as_bytes()).unwrap_or_else(|_| v.clone());
        Entry {
            path: self.path.clone(),
            body: Bytes::copy_from_slice(&self.body),
            stamp: self.stamp,
            etag: hv(&self.etag),
            last_modified: hv(&self.last_modified),
            content_type: hv(&self.content_type),
            template: self.template,
            variants: self
                .variants
                .iter()
                .map(|v| Variant { coding: v.coding, body: Bytes::copy_from_slice(&v.body), etag: hv(&v.etag) })
                .collect(),
            checked_ms: AtomicU64::new(0),
        }
    }

    fn weight(&self) -> u64 {
        self.body.len() as u64 + self.variants.iter().map(|v| v.body.len() as u64).sum::<u64>() + 256
    }
}

/// The cache: request key → entry.
#[derive(Debug)]
pub struct Cache {
    id: u64,
    map: RwLock<HashMap<Box<str>, Arc<Entry>>>,
    bytes: AtomicU64,
    max_bytes: u64,
    revalidate_ms: u64,
    epoch: Instant,
}

impl Cache {
    /// An empty cache of at most `max_bytes`, trusting entries `revalidate` long.
    pub fn new(max_bytes: u64, revalidate: std::time::Duration) -> Self {
        Cache {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            map: RwLock::default(),
            bytes: AtomicU64::new(0),
            max_bytes,
            revalidate_ms: revalidate.as_millis() as u64,
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        // +1 so a fresh entry's 0 always reads as "never checked".
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// The entry for `key`, if cached and still the file on disk.
    pub fn get(&self, key: &str) -> Option<Arc<Entry>> {
        let entry = self.map.read().unwrap_or_else(|p| p.into_inner()).get(key).cloned()?;
        let now = self.now_ms();
        let checked = entry.checked_ms.load(Ordering::Relaxed);
        if now.saturating_sub(checked) < self.revalidate_ms {
            return Some(entry);
        }
        match std::fs::metadata(&entry.path) {
            Ok(meta) if Stamp::of(&meta) == entry.stamp => {
                entry.checked_ms.store(now, Ordering::Relaxed);
                Some(entry)
            }
            _ => {
                self.remove(key);
                None
            }
        }
    }

    /// Runs `f` on this thread's copy of the entry for `key`, refreshing the
    /// copy from the shared map when it is due for a check; `None` when the
    /// key is not cached.
    pub fn with_local<R>(&self, key: &str, f: impl FnOnce(&Entry) -> R) -> Option<R> {
        let now = self.now_ms();
        let mut f = Some(f);
        let fresh = FRONT.with(|front| {
            let front = front.borrow();
            let local = front.get(&self.id)?.map.get(key)?;
            let run = f.take_if(|_| now.saturating_sub(local.checked_ms) < self.revalidate_ms)?;
            Some(run(&local.copy))
        });
        if fresh.is_some() {
            return fresh;
        }
        let f = f?;
        let shared = self.get(key);
        FRONT.with(|front| {
            let mut front = front.borrow_mut();
            let mine = front.entry(self.id).or_default();
            let Some(src) = shared else {
                if let Some(old) = mine.map.remove(key) {
                    mine.bytes -= old.copy.weight();
                }
                return None;
            };
            if let Some(local) = mine.map.get_mut(key) {
                if Arc::ptr_eq(&local.src, &src) {
                    local.checked_ms = now;
                    return Some(f(&local.copy));
                }
            }
            let copy = src.deep_copy();
            let w = copy.weight();
            if let Some(old) = mine.map.remove(key) {
                mine.bytes -= old.copy.weight();
            }
            if mine.bytes + w > self.max_bytes {
                return Some(f(&copy));
            }
            mine.bytes += w;
            let local = mine.map.entry(key.into()).or_insert(Local { copy, src, checked_ms: now });
            Some(f(&local.copy))
        })
    }

    /// Stores an entry (skipped when the cache is full).
    pub fn insert(&self, key: &str, entry: Arc<Entry>) {
        entry.checked_ms.store(self.now_ms(), Ordering::Relaxed);
        let w = entry.weight();
        if self.bytes.load(Ordering::Relaxed) + w > self.max_bytes {
            return;
        }
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = map.insert(key.into(), entry) {
            self.bytes.fetch_sub(old.weight(), Ordering::Relaxed);
        }
        self.bytes.fetch_add(w, Ordering::Relaxed);
    }

    fn remove(&self, key: &str) {
        if let Some(old) = self.map.write().unwrap_or_else(|p| p.into_inner()).remove(key) {
            self.bytes.fetch_sub(old.weight(), Ordering::Relaxed);
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn changed_files_drop_out_after_revalidation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        std::fs::write(&p, b"one").unwrap();
        let cache = Cache::new(1 << 20, Duration::ZERO);
        let meta = std::fs::metadata(&p).unwrap();
        let e =
            Entry::new(p.clone(), Bytes::from_static(b"one"), Stamp::of(&meta), HeaderValue::from_static("t"), false);
        cache.insert("a.txt", Arc::new(e));
        assert!(cache.get("a.txt").is_some());
        std::fs::write(&p, b"three").unwrap();
        assert!(cache.get("a.txt").is_none());
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn thread_copies_follow_the_shared_entry() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        std::fs::write(&p, b"one").unwrap();
        let cache = Cache::new(1 << 20, Duration::ZERO);
        let load = || {
            let meta = std::fs::metadata(&p).unwrap();
            let body = Bytes::from(std::fs::read(&p).unwrap());
            Arc::new(Entry::new(p.clone(), body, Stamp::of(&meta), HeaderValue::from_static("t"), false))
        };
        assert!(cache.with_local("a", |e| e.body.clone()).is_none());
        cache.insert("a", load());
        assert_eq!(cache.with_local("a", |e| e.body.clone()).unwrap(), "one");
        std::fs::write(&p, b"three").unwrap();
        assert!(cache.with_local("a", |e| e.body.clone()).is_none(), "a changed file drops out");
        cache.insert("a", load());
        assert_eq!(cache.with_local("a", |e| e.body.clone()).unwrap(), "three");
        // Another cache never sees this one's copies.
        let other = Cache::new(1 << 20, Duration::ZERO);
        assert!(other.with_local("a", |_| ()).is_none());
    }

    #[test]
    fn full_cache_skips_inserts() {
        let cache = Cache::new(300, Duration::from_secs(60));
        let stamp = Stamp { len: 1, mtime: SystemTime::UNIX_EPOCH, ino: 1 };
        let e = |n| {
            Arc::new(Entry::new(
                PathBuf::from("/x"),
                Bytes::from(vec![0u8; n]),
                stamp,
                HeaderValue::from_static("t"),
                false,
            ))
        };
        cache.insert("a", e(10));
        cache.insert("b", e(10));
        assert!(cache.get("a").is_some());
        assert!(cache.get("b").is_none());
    }
}
