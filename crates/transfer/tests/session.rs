//! Whole sessions in-process over loopback: random trees arrive identical,
//! and a second session resumes from whatever `.part` a first one left.
#![allow(clippy::unwrap_used, missing_docs)]

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::Path;

use proptest::prelude::*;
use sockit_transfer::{
    build_source, claim, part, receive_session, send_session, Caps, NoProgress, ReceiveOptions, SendOptions,
    SendReport, Summary,
};

/// The resume key of "our" sender in these tests.
const KEY: [u8; 32] = [42; 32];

fn session(src: &Path, out: &Path) -> (SendReport, Summary) {
    session_with_key(src, out, KEY)
}

fn session_with_key(src: &Path, out: &Path, resume_key: [u8; 32]) -> (SendReport, Summary) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let source = build_source(&[src.to_path_buf()], false, &mut |_| {}).unwrap();
    let opts = ReceiveOptions {
        out: out.to_path_buf(),
        code: None,
        overwrite: false,
        caps: Caps { max_size: u64::MAX, max_files: 1000 },
    };
    let rx = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        receive_session(&mut s, &opts, &NoProgress, &|| true).unwrap()
    });
    let mut s = TcpStream::connect(addr).unwrap();
    let opts = SendOptions { chunk: 4096, resume_key, ..SendOptions::default() };
    let sent = send_session(&mut s, &source, &opts, &NoProgress, &|| true).unwrap();
    (sent, rx.join().unwrap())
}

fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn random_trees_arrive_identical(
        files in prop::collection::btree_map("[a-zA-Zé0-9_]{1,8}(/[a-z0-9]{1,6}){0,2}", 0usize..40_000, 1..8),
        prefix_cut in 0usize..40_000,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        fs::create_dir(&src).unwrap();
        let mut written = Vec::new();
        for (i, (name, len)) in files.iter().enumerate() {
            let p = src.join(name);
            // A name that is already a folder (or under a file) is skipped.
            if fs::create_dir_all(p.parent().unwrap()).is_err() || p.exists() {
                continue;
            }
            fs::write(&p, bytes(i as u8, *len)).unwrap();
            written.push((name.clone(), bytes(i as u8, *len)));
        }
        let out = tmp.path().join("out");
        // Leave a .part with a correct prefix of the first file, as a killed
        // run of this sender would (bound to its claim on the path).
        if let Some((name, data)) = written.first() {
            let part = out.join("src").join(format!("{name}.part"));
            fs::create_dir_all(part.parent().unwrap()).unwrap();
            let verifier = claim::verifier(&claim::claim(&KEY, &format!("src/{name}")));
            let (mut f, bound) = part::create_fresh(&part, &verifier).unwrap();
            prop_assert!(bound);
            std::io::Write::write_all(&mut f, &data[..prefix_cut.min(data.len())]).unwrap();
        }
        let (sent, summary) = session(&src, &out);
        prop_assert_eq!(summary.files_failed, 0, "{:?}", summary.errors);
        let total: u64 = written.iter().map(|(_, d)| d.len() as u64).sum();
        prop_assert_eq!(sent.bytes_sent + sent.bytes_resumed, total);
        for (name, data) in &written {
            prop_assert_eq!(&fs::read(out.join("src").join(name)).unwrap(), data);
        }
        // A second session finds everything there and sends nothing.
        let (again, summary) = session(&src, &out);
        prop_assert_eq!(again.bytes_sent, 0);
        prop_assert_eq!(summary.files_present, written.len());
    }
}

/// A sender with another resume key is told nothing about files the first
/// one left: its `.part`s and finished files are not offered, everything is
/// sent again (and kept beside the first sender's copies).
#[test]
fn another_sender_is_offered_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("a.bin"), bytes(1, 30_000)).unwrap();
    fs::write(src.join("b.bin"), bytes(2, 20_000)).unwrap();
    let out = tmp.path().join("out");
    let (first, _) = session(&src, &out);
    assert_eq!(first.bytes_sent, 50_000);
    // A .part our sender left behind, bound to its claim.
    let verifier = claim::verifier(&claim::claim(&KEY, "src/c.bin"));
    fs::write(src.join("c.bin"), bytes(3, 10_000)).unwrap();
    let (mut f, _) = part::create_fresh(&out.join("src/c.bin.part"), &verifier).unwrap();
    std::io::Write::write_all(&mut f, &bytes(3, 10_000)[..4000]).unwrap();
    drop(f);

    let (other, summary) = session_with_key(&src, &out, [7; 32]);
    assert_eq!((other.bytes_resumed, other.files_present, other.bytes_sent), (0, 0, 60_000), "{summary:?}");
    assert_eq!(fs::read(out.join("src/a (1).bin")).unwrap(), bytes(1, 30_000));
    // Our own sender still gets its resume and its files back as present.
    fs::remove_file(out.join("src/c.bin")).unwrap();
    let (mut f, _) = part::create_fresh(&out.join("src/c.bin.part"), &verifier).unwrap();
    std::io::Write::write_all(&mut f, &bytes(3, 10_000)[..4000]).unwrap();
    drop(f);
    let (again, _) = session(&src, &out);
    assert_eq!((again.files_present, again.bytes_resumed, again.bytes_sent), (2, 54_000, 6_000));
}
