//! Codes people can read aloud: words from the BIP-39 English list.
//!
//! Why BIP-39 English over the EFF short list: 2048 words give 11 bits a
//! word (EFF short: 1296, 10.3 bits), no word is a prefix-ambiguous
//! homophone of another in its first four letters, and the list is widely
//! shipped and checksummed (SHA-256 `2f5eed53…24dbda`, checked in a test).
//! Three words are 33 bits: with one online guess per try (the PAKE gives
//! a recorded session nothing to guess against offline) and a listener
//! that gives up after three wrong tries, that is plenty for one session.

use rand::Rng;

/// The BIP-39 English list, one word a line, 2048 lines.
const WORDS_TEXT: &str = include_str!("bip39-english.txt");

/// Words in a generated code.
pub const WORDS: usize = 3;
/// Bits of entropy per word (2048 = 2^11).
pub const BITS_PER_WORD: u32 = 11;

/// The word list.
pub fn wordlist() -> impl Iterator<Item = &'static str> {
    WORDS_TEXT.lines()
}

/// A fresh random code of [`WORDS`] words, `fossil-meadow-lantern` style.
pub fn generate() -> String {
    let words: Vec<&str> = wordlist().collect();
    let mut rng = rand::rng();
    (0..WORDS).map(|_| words[rng.random_range(0..words.len())]).collect::<Vec<_>>().join("-")
}

/// Normalises a code so `Fossil Meadow-LANTERN`, `fossil-meadow-lantern`
/// and ` fossil  meadow lantern ` are the same code: case, runs of spaces,
/// dashes and underscores do not matter.
pub fn normalize(code: &str) -> String {
    code.split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn the_list_is_bip39_english() {
        let digest = Sha256::digest(WORDS_TEXT.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda");
        assert_eq!(wordlist().count(), 1 << BITS_PER_WORD);
        assert!(WORDS as u32 * BITS_PER_WORD >= 30);
    }

    #[test]
    fn generated_codes_are_list_words_and_vary() {
        let a = generate();
        let words: Vec<&str> = a.split('-').collect();
        assert_eq!(words.len(), WORDS);
        assert!(words.iter().all(|w| wordlist().any(|l| l == *w)));
        assert_eq!(normalize(&a), a);
        // 33 bits: twenty draws all equal would be a broken generator.
        assert!((0..20).map(|_| generate()).any(|b| b != a));
    }

    #[test]
    fn case_spaces_and_dashes_do_not_matter() {
        assert_eq!(normalize("Fossil Meadow-LANTERN"), "fossil-meadow-lantern");
        assert_eq!(normalize("  fossil--meadow _ lantern "), "fossil-meadow-lantern");
        assert_ne!(normalize("fossil meadow"), normalize("fossilmeadow"));
    }

    proptest! {
        #[test]
        fn normalize_is_idempotent(s in ".{0,40}") {
            let n = normalize(&s);
            prop_assert_eq!(normalize(&n), n.clone());
        }
    }
}
