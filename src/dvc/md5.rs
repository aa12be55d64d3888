//! DVC's names for content: md5 hex digests, computed the way DVC computes them.
//!
//! DVC 3 (`hash: md5` in a `.dvc` or `dvc.lock` entry) hashes the bytes as they are. DVC 2 (no
//! `hash` field; DVC 3 calls it `md5-dos2unix`) hashed *text* files after turning CRLF into LF,
//! deciding per 1 MiB block (DVC's read size) from that block's first 512 bytes whether it is
//! text, and replacing `\r\n` within each block only. [`Md5Check`] reproduces both in one pass,
//! so an object can be verified whichever DVC named it.

use md5::{Digest, Md5};

/// DVC's read size: the dos2unix rule is applied to each block of this many bytes.
const BLOCK: usize = 1 << 20;
/// How much of a block DVC looks at to decide whether it is text.
const SNIFF: usize = 512;

/// Lowercase hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// md5 of bytes in memory, as hex.
pub fn of(bytes: &[u8]) -> String {
    hex(&Md5::digest(bytes))
}

/// Whether `s` is 32 lowercase hex digits (a DVC file object's name).
pub fn is_md5(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// DVC's text heuristic (`istextblock`): empty is text; a NUL byte means binary; otherwise text
/// when at most 30% of the bytes are outside printable ASCII and `\n\r\t\f\b`.
pub fn is_text_block(block: &[u8]) -> bool {
    if block.is_empty() {
        return true;
    }
    if block.contains(&0) {
        return false;
    }
    let nontext = block
        .iter()
        .filter(|&&b| !((32..127).contains(&b) || matches!(b, b'\n' | b'\r' | 9 | 12 | 8)))
        .count();
    (nontext as f64) / (block.len() as f64) <= 0.30
}

/// Streaming md5 in both of DVC's flavours at once.
pub struct Md5Check {
    plain: Md5,
    /// The dos2unix flavour, when asked for: its hasher and the block being collected.
    dos: Option<(Md5, Vec<u8>)>,
}

/// Both digests of some content; `dos2unix` is `None` when it was not computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub plain: String,
    pub dos2unix: Option<String>,
}

impl Digests {
    /// Whether DVC's name `expected` fits: the plain md5, or (DVC 2 entries) the dos2unix one.
    pub fn matches(&self, expected: &str) -> bool {
        self.plain == expected || self.dos2unix.as_deref() == Some(expected)
    }
}

impl Md5Check {
    /// `legacy`: also compute DVC 2's dos2unix md5.
    pub fn new(legacy: bool) -> Md5Check {
        Md5Check {
            plain: Md5::new(),
            dos: legacy.then(|| (Md5::new(), Vec::with_capacity(BLOCK))),
        }
    }

    pub fn update(&mut self, mut bytes: &[u8]) {
        self.plain.update(bytes);
        let Some((hasher, block)) = self.dos.as_mut() else {
            return;
        };
        while !bytes.is_empty() {
            let take = (BLOCK - block.len()).min(bytes.len());
            block.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if block.len() == BLOCK {
                dos2unix_block(hasher, block);
                block.clear();
            }
        }
    }

    pub fn finish(self) -> Digests {
        let dos2unix = self.dos.map(|(mut hasher, block)| {
            if !block.is_empty() {
                dos2unix_block(&mut hasher, &block);
            }
            hex(&hasher.finalize())
        });
        Digests {
            plain: hex(&self.plain.finalize()),
            dos2unix,
        }
    }
}

fn dos2unix_block(hasher: &mut Md5, block: &[u8]) {
    if !is_text_block(&block[..block.len().min(SNIFF)]) {
        hasher.update(block);
        return;
    }
    let mut start = 0;
    for i in 0..block.len().saturating_sub(1) {
        if block[i] == b'\r' && block[i + 1] == b'\n' {
            hasher.update(&block[start..i]);
            start = i + 1;
        }
    }
    hasher.update(&block[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_dos2unix() {
        // md5("hello\n"), as `dvc add` names it (checked against DVC 3.67 in the fixtures).
        assert_eq!(of(b"hello\n"), "b1946ac92492d2347c6235b4d2611184");
        let mut c = Md5Check::new(true);
        c.update(b"x\r\n");
        c.update(b"y\r\n");
        let d = c.finish();
        assert_eq!(d.plain, of(b"x\r\ny\r\n"));
        assert_eq!(d.dos2unix.as_deref(), Some(of(b"x\ny\n").as_str()));
        assert!(d.matches(&of(b"x\ny\n")) && d.matches(&of(b"x\r\ny\r\n")));
        // Binary content is hashed as it is in both flavours.
        let mut c = Md5Check::new(true);
        c.update(b"\0\r\n");
        let d = c.finish();
        assert_eq!(d.dos2unix.as_deref(), Some(d.plain.as_str()));
        assert!(is_md5("b1946ac92492d2347c6235b4d2611184"));
        assert!(!is_md5("B1946AC92492D2347C6235B4D2611184"));
        assert!(!is_md5("../../../../etc/passwd0000000000"));
    }

    #[test]
    fn dos2unix_is_per_block() {
        // A CRLF split across DVC's 1 MiB read boundary is not normalised, as in DVC.
        let mut data = vec![b'a'; BLOCK - 1];
        data.extend_from_slice(b"\r\nb\r\n");
        let mut c = Md5Check::new(true);
        for chunk in data.chunks(4096 + 7) {
            c.update(chunk);
        }
        let got = c.finish().dos2unix.unwrap();
        let mut expected = Md5::new();
        expected.update(&data[..BLOCK]);
        expected.update(b"\nb\n");
        assert_eq!(got, hex(&expected.finalize()));
    }
}
