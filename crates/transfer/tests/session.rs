//! Whole sessions in-process over loopback: random trees arrive identical,
//! and a second session resumes from whatever `.part` a first one left.
#![allow(clippy::unwrap_used, missing_docs)]

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::Path;

use proptest::prelude::*;
use sockit_transfer::{
    build_source, receive_session, send_session, Caps, NoProgress, ReceiveOptions, SendOptions, SendReport, Summary,
};

fn session(src: &Path, out: &Path) -> (SendReport, Summary) {
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
        receive_session(&mut s, &opts, &NoProgress).unwrap()
    });
    let mut s = TcpStream::connect(addr).unwrap();
    let sent =
        send_session(&mut s, &source, &SendOptions { chunk: 4096, ..SendOptions::default() }, &NoProgress).unwrap();
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
        // Leave a .part with a correct prefix of the first file, as a killed run would.
        if let Some((name, data)) = written.first() {
            let part = out.join("src").join(format!("{name}.part"));
            fs::create_dir_all(part.parent().unwrap()).unwrap();
            fs::write(&part, &data[..prefix_cut.min(data.len())]).unwrap();
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
