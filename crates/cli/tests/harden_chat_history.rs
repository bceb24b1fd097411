//! Chat history is bounded: per room, by age, and in bytes on disk, while
//! messages keep flowing; `/history` shows the newest, never what was
//! pruned. Real peers: std TCP members and python3's sqlite3 reading the file.
#![allow(clippy::unwrap_used)]

mod chat_support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chat_support::{serve, Member};
use sockit_testkit::{need, run_with_input};

fn on_disk(db: &Path) -> u64 {
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let wal = db.with_extension("db-wal");
    size(db) + size(&wal)
}

/// `/history 1000` as lines.
fn history(m: &mut Member, last_needle: &str) -> Vec<String> {
    let _ = m.drain(Duration::from_millis(200));
    let start = m.lines.seen.len();
    m.send("/history 1000");
    m.expect(last_needle);
    let mut lines: Vec<String> = m.lines.seen[start..].iter().filter(|l| l.starts_with("[history")).cloned().collect();
    lines.extend(m.drain(Duration::from_millis(300)).into_iter().filter(|l| l.starts_with("[history")));
    lines
}

/// Before: 6 MB of messages made a 6+ MB file, nothing ever deleted. After,
/// with `--history-max-mib 1`, the files (database and WAL) stay under
/// 2 MiB while all of it flows, and `/history` has the newest messages and
/// not the oldest.
#[test]
fn database_stays_under_its_size_cap() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let s = serve(&[
        "--history",
        db.to_str().unwrap(),
        "--history-max-mib",
        "1",
        "--flood-rate",
        "0",
        "--send-queue",
        "4194304",
    ]);
    let mut a = Member::join(s.addr("tcp"), "alice");
    let mut b = Member::join(s.addr("tcp"), "bob");
    let text = "h".repeat(1000);
    let mut peak = 0;
    for chunk in 0..30 {
        for i in 0..200 {
            a.send(&format!("m{} {text}", chunk * 200 + i));
        }
        b.expect(&format!("<alice> m{} ", chunk * 200 + 199));
        // A read travels the writer's queue: once it answers, the chunk is
        // committed, so a loaded machine cannot pile chunks into one batch.
        b.send("/history 1");
        b.expect(&format!("] <alice> m{} ", chunk * 200 + 199));
        peak = peak.max(on_disk(&db));
    }
    let lines = history(&mut b, "<alice> m5999 ");
    peak = peak.max(on_disk(&db));
    eprintln!("6000 x 1 KB messages: peak {peak} bytes on disk, /history gives {} lines", lines.len());
    assert!(peak <= 2 * 1024 * 1024, "history files reached {peak} bytes");
    assert!(lines.len() >= 200, "too little kept: {}", lines.len());
    let first: usize = lines[0].split("<alice> m").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(first >= 4000, "oldest shown is m{first}; the oldest should have gone");
    assert!(lines.last().unwrap().contains("<alice> m5999 "));
}

/// Before: every message stayed forever. After: `--history-max-per-room 30`
/// keeps the newest 30, `--history-max-age 2s` drops older ones from
/// `/history` and from the file.
#[test]
fn per_room_count_and_age_are_kept() {
    need("python3");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let s = serve(&[
        "--history",
        db.to_str().unwrap(),
        "--history-max-per-room",
        "30",
        "--history-max-age",
        "2s",
        "--flood-rate",
        "0",
    ]);
    let mut a = Member::join(s.addr("tcp"), "alice");
    let mut b = Member::join(s.addr("tcp"), "bob");
    for i in 0..100 {
        a.send(&format!("a{i}"));
    }
    b.expect("<alice> a99");
    let lines = history(&mut b, "<alice> a99");
    assert_eq!(lines.len(), 30, "{lines:#?}");
    assert!(lines[0].ends_with("<alice> a70"), "{lines:#?}");
    std::thread::sleep(Duration::from_millis(2500));
    a.send("fresh");
    b.expect("<alice> fresh");
    let lines = history(&mut b, "<alice> fresh");
    assert_eq!(lines.len(), 1, "{lines:#?}");
    // And they are gone from the file, not only hidden (within a second or so).
    let (status, out, err) = run_with_input(
        Command::new("python3").args([
            "-c",
            // Pruning runs about once a second: poll for up to 5 s.
            "import sqlite3,sys,time\nc=sqlite3.connect(sys.argv[1])\nend=time.time()+5\nwhile True:\n    n=c.execute('select count(*) from messages').fetchone()[0]\n    if n<=1 or time.time()>end: break\n    time.sleep(0.1)\nprint(n)",
            db.to_str().unwrap(),
        ]),
        b"",
        Duration::from_secs(10),
    );
    assert!(status.success(), "{err}");
    let rows: usize = String::from_utf8(out).unwrap().trim().parse().unwrap();
    assert_eq!(rows, 1, "rows left in the file");
}
