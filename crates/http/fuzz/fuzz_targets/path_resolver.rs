//! Arbitrary request paths through the cleaner and the resolver: never a
//! panic, never a clean path with `..`/NUL/empty segments, and never a file
//! outside the served folder (which holds a symlink out).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sockit_http::path::clean;
use sockit_http::resolve::{Found, Root};

fn root() -> &'static Root {
    static ROOT: OnceLock<Root> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("sockit-http-fuzz-{}", std::process::id()));
        let site = base.join("site");
        let _ = std::fs::create_dir_all(site.join("sub"));
        let _ = std::fs::write(base.join("secret"), b"s");
        let _ = std::fs::write(site.join("a.txt"), b"a");
        let _ = std::fs::write(site.join("sub/b.txt"), b"b");
        let _ = std::fs::write(site.join(".env"), b"e");
        let _ = std::os::unix::fs::symlink(base.join("secret"), site.join("leak"));
        let _ = std::os::unix::fs::symlink(&base, site.join("up"));
        let dir: PathBuf = std::fs::canonicalize(&site).expect("fuzz root");
        Root { dir, hidden: false, follow_symlinks: false, listing: true }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let Ok(p) = clean(raw) else { return };
    assert!(!p.rel.starts_with(b"/"));
    assert!(!p.rel.contains(&0));
    for seg in p.rel.split(|&b| b == b'/') {
        assert!(seg != b".." && seg != b".");
        assert!(!seg.is_empty() || p.rel.is_empty());
    }
    let root = root();
    if let Found::File(sockit_http::resolve::OpenFile { path, .. }) = root.find(p.as_path(), p.trailing_slash) {
        assert!(path.starts_with(&root.dir), "{raw:?} escaped to {}", path.display());
        assert!(!path.to_string_lossy().contains("/."), "{raw:?} reached a dotfile");
    }
});
