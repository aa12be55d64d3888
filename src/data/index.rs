//! The stat index: for every file git-ml has hashed, the (size, mtime, inode, executable bit) it
//! had and the oid it hashed to, so an unchanged file is never read again.
//!
//! Racy entries, as in git: a file modified within the same file-system clock tick as the scan
//! that recorded it could change again without its mtime moving. An entry is therefore *trusted*
//! only if its mtime is strictly older than the file-system clock read when the scan began;
//! untrusted entries are re-hashed on next use. The index is a cache: if it is missing, corrupt or
//! from another version, it is dropped and rebuilt, never trusted.
//!
//! It also remembers which directory manifests were last seen *complete* in the cache (every
//! object present), tagged with the cache's removal epoch (see [`crate::data::cache::Cache::epoch`]):
//! objects only leave the cache through git-ml commands that bump the epoch, so until then a
//! complete directory needs no 10,000 presence checks.
//!
//! For each tracked directory it keeps the root oid last computed and the *shape* it was computed
//! from (a hash of every entry's path, kind and stat; see [`crate::data::scan::shape`]), recorded
//! only when every file's entry was trusted: the same shape later means the same root, without
//! serialising and hashing a 10,000-entry manifest again.
//!
//! Binary format (little endian): magic `GITMLIX3`, entry count u32, then per entry: path length
//! u16 + path bytes, size u64, mtime ns i64, inode u64, flags u8 (1 = executable, 2 = trusted),
//! oid [32]; then the cache epoch u64, a count u32 and that many complete manifest oids [32];
//! then a count u32 of directory records, each path length u16 + path, root [32], shape [32];
//! then a BLAKE3 hash of everything before it.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::Result;
use crate::fsutil;
use crate::oid::Oid;

const MAGIC: &[u8; 8] = b"GITMLIX3";

/// Path -> entry. foldhash rather than std's SipHash: lookups of 100,000 paths were a tenth of
/// a one-change status. foldhash is seeded per process, so a clone's crafted file names cannot
/// be chosen to collide (the worst such names could do is slow a status down, not mislead it).
type EntryMap = HashMap<String, IndexEntry, foldhash::fast::RandomState>;

/// What `stat` says about a file, as far as change detection cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub size: u64,
    pub mtime_ns: i64,
    pub ino: u64,
    pub executable: bool,
}

impl Stat {
    pub fn of(meta: &std::fs::Metadata) -> Stat {
        Stat {
            size: meta.len(),
            mtime_ns: fsutil::mtime_ns(meta),
            ino: meta.ino(),
            executable: fsutil::is_executable(meta),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    pub stat: Stat,
    pub oid: Oid,
    pub trusted: bool,
}

#[derive(Debug, Default)]
pub struct StatIndex {
    path: PathBuf,
    /// Decoded from `raw` on first use: a status whose directories match their recorded shape
    /// never looks at a file entry, and decoding 100,000 of them was a tenth of its time.
    entries: OnceLock<EntryMap>,
    /// The checked file's entry section, until `entries` is decoded from it.
    raw: Option<RawEntries>,
    /// Manifests whose every object was in the cache at `complete_epoch`.
    complete: HashSet<Oid>,
    complete_epoch: u64,
    /// Tracked directory -> (root oid, shape it was computed from).
    dirs: HashMap<String, (Oid, Oid)>,
    dirty: bool,
}

impl StatIndex {
    /// Load the index at `path`; a missing or unreadable index is an empty one.
    pub fn load(path: &Path) -> StatIndex {
        let (raw, complete_epoch, complete, dirs) = std::fs::read(path)
            .ok()
            .and_then(decode)
            .map(|(raw, epoch, complete, dirs)| (Some(raw), epoch, complete, dirs))
            .unwrap_or_default();
        StatIndex {
            path: path.to_path_buf(),
            entries: OnceLock::new(),
            raw,
            complete,
            complete_epoch,
            dirs,
            dirty: false,
        }
    }

    fn entries(&self) -> &EntryMap {
        self.entries.get_or_init(|| {
            // A section that does not decode (it passed the checksum, so only a bug could make
            // it fail) is an empty index: every file is hashed again, nothing is trusted.
            self.raw
                .as_ref()
                .and_then(RawEntries::decode)
                .unwrap_or_default()
        })
    }

    fn entries_mut(&mut self) -> &mut EntryMap {
        self.entries();
        self.raw = None;
        self.entries.get_mut().expect("decoded above")
    }

    /// The oid of `path` if the index knows it and `stat` shows it unchanged.
    pub fn lookup(&self, path: &str, stat: &Stat) -> Option<Oid> {
        self.entries()
            .get(path)
            .filter(|e| e.trusted && e.stat == *stat)
            .map(|e| e.oid)
    }

    pub fn get(&self, path: &str) -> Option<&IndexEntry> {
        self.entries().get(path)
    }

    /// Record that `path` with `stat` hashed to `oid`; `clock_ns` is the file-system clock read
    /// before the file was read.
    pub fn record(&mut self, path: String, stat: Stat, oid: Oid, clock_ns: i64) {
        let entry = IndexEntry {
            stat,
            oid,
            trusted: stat.mtime_ns < clock_ns,
        };
        let entries = self.entries_mut();
        if entries.get(&path) != Some(&entry) {
            entries.insert(path, entry);
            self.dirty = true;
        }
    }

    /// Whether manifest `root` was seen complete in the cache at removal epoch `epoch`.
    pub fn is_complete(&self, root: &Oid, epoch: u64) -> bool {
        self.complete_epoch == epoch && self.complete.contains(root)
    }

    /// Remember that every object of manifest `root` is in the cache at removal epoch `epoch`.
    pub fn mark_complete(&mut self, root: Oid, epoch: u64) {
        if self.complete_epoch != epoch {
            self.complete.clear();
            self.complete_epoch = epoch;
        }
        self.dirty |= self.complete.insert(root);
    }

    /// The root oid of tracked directory `path` if it was computed from exactly this `shape`.
    pub fn dir_root(&self, path: &str, shape: &Oid) -> Option<Oid> {
        self.dirs
            .get(path)
            .filter(|(_, s)| s == shape)
            .map(|(root, _)| *root)
    }

    /// Remember the root computed for `path` from `shape` (only when every file was trusted).
    pub fn record_dir(&mut self, path: String, root: Oid, shape: Oid) {
        if self.dirs.get(&path) != Some(&(root, shape)) {
            self.dirs.insert(path, (root, shape));
            self.dirty = true;
        }
    }

    /// Forget `path` and, if it is a directory, everything below it.
    pub fn remove_tree(&mut self, path: &str) {
        let prefix = format!("{path}/");
        let entries = self.entries_mut();
        let before = entries.len();
        entries.retain(|k, _| k != path && !k.starts_with(&prefix));
        let removed = entries.len() != before;
        self.dirty |= removed;
    }

    /// Merge the entries of `other` for paths it recorded (used by read-only commands that
    /// refresh the index opportunistically).
    pub fn absorb(&mut self, other: &StatIndex) {
        for (k, (root, shape)) in &other.dirs {
            self.record_dir(k.clone(), *root, *shape);
        }
        for root in &other.complete {
            if other.complete_epoch >= self.complete_epoch {
                self.mark_complete(*root, other.complete_epoch);
            }
        }
        if other.entries().is_empty() {
            return;
        }
        let entries = self.entries_mut();
        let mut changed = false;
        for (k, v) in other.entries() {
            if entries.get(k) != Some(v) {
                entries.insert(k.clone(), *v);
                changed = true;
            }
        }
        self.dirty |= changed;
    }

    /// Number of entries and their total size.
    pub fn summary(&self) -> (u64, u64) {
        let entries = self.entries();
        (
            entries.len() as u64,
            entries.values().map(|e| e.stat.size).sum(),
        )
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Whether what this index learned would save work next time: a trusted entry, a directory
    /// root or a complete manifest. A file rewritten in the last clock tick is recorded untrusted
    /// and would be hashed again anyway, so rewriting a 100,000-entry index for it (most of a
    /// one-change status) buys nothing.
    pub fn learned_something_lasting(&self) -> bool {
        self.dirty
            && (!self.dirs.is_empty()
                || !self.complete.is_empty()
                || self.entries().values().any(|e| e.trusted))
    }

    /// Write atomically (only if something changed). Callers hold the repository lock.
    pub fn save(&mut self) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        if let Some(parent) = self.path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        let bytes = encode(
            self.entries(),
            self.complete_epoch,
            &self.complete,
            &self.dirs,
        );
        fsutil::atomic_write(&self.path, &bytes, 0o644)?;
        self.dirty = false;
        Ok(())
    }
}

fn encode(
    entries: &EntryMap,
    epoch: u64,
    complete: &HashSet<Oid>,
    dirs: &HashMap<String, (Oid, Oid)>,
) -> Vec<u8> {
    let mut keys: Vec<&String> = entries.keys().collect();
    keys.sort();
    let mut out = Vec::with_capacity(16 + entries.len() * 120);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for k in keys {
        let e = &entries[k];
        put_path(&mut out, k);
        out.extend_from_slice(&e.stat.size.to_le_bytes());
        out.extend_from_slice(&e.stat.mtime_ns.to_le_bytes());
        out.extend_from_slice(&e.stat.ino.to_le_bytes());
        out.push(e.stat.executable as u8 | (e.trusted as u8) << 1);
        out.extend_from_slice(e.oid.as_bytes());
    }
    out.extend_from_slice(&epoch.to_le_bytes());
    out.extend_from_slice(&(complete.len() as u32).to_le_bytes());
    for oid in complete {
        out.extend_from_slice(oid.as_bytes());
    }
    out.extend_from_slice(&(dirs.len() as u32).to_le_bytes());
    for (path, (root, shape)) in dirs {
        put_path(&mut out, path);
        out.extend_from_slice(root.as_bytes());
        out.extend_from_slice(shape.as_bytes());
    }
    let sum = blake3::hash(&out);
    out.extend_from_slice(sum.as_bytes());
    out
}

type Decoded = (RawEntries, u64, HashSet<Oid>, HashMap<String, (Oid, Oid)>);

/// The entry section of a checked index file: `count` entries in `bytes[start..end]`.
#[derive(Debug)]
struct RawEntries {
    bytes: Vec<u8>,
    start: usize,
    end: usize,
    count: usize,
}

/// Bytes per entry after its path: size, mtime, inode, flags, oid.
const ENTRY_TAIL: usize = 8 + 8 + 8 + 1 + 32;

impl RawEntries {
    fn decode(&self) -> Option<EntryMap> {
        let mut r = Reader {
            b: &self.bytes[..self.end],
            pos: self.start,
        };
        let mut entries =
            EntryMap::with_capacity_and_hasher(self.count.min(1 << 20), Default::default());
        for _ in 0..self.count {
            let path = r.path()?;
            let size = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
            let mtime_ns = i64::from_le_bytes(r.take(8)?.try_into().ok()?);
            let ino = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
            let flags = r.take(1)?[0];
            let oid = r.oid()?;
            let stat = Stat {
                size,
                mtime_ns,
                ino,
                executable: flags & 1 != 0,
            };
            entries.insert(
                path,
                IndexEntry {
                    stat,
                    oid,
                    trusted: flags & 2 != 0,
                },
            );
        }
        Some(entries)
    }
}

/// A path as u16 length + bytes (paths never approach 64 KiB; PATH_MAX is 4 KiB).
fn put_path(out: &mut Vec<u8>, path: &str) {
    let path = path.as_bytes();
    let len = path.len().min(u16::MAX as usize);
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&path[..len]);
}

fn decode(bytes: Vec<u8>) -> Option<Decoded> {
    if bytes.len() < 44 || &bytes[..8] != MAGIC {
        return None;
    }
    let body_len = bytes.len() - 32;
    let (body, sum) = bytes.split_at(body_len);
    if blake3::hash(body).as_bytes() != sum {
        return None;
    }
    let mut r = Reader { b: body, pos: 8 };
    let count = u32::from_le_bytes(r.take(4)?.try_into().ok()?) as usize;
    // Step over the entries without decoding them (see `StatIndex::entries`).
    let start = r.pos;
    for _ in 0..count {
        let len = u16::from_le_bytes(r.take(2)?.try_into().ok()?) as usize;
        r.take(len + ENTRY_TAIL)?;
    }
    let end = r.pos;
    let epoch = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
    let n = u32::from_le_bytes(r.take(4)?.try_into().ok()?) as usize;
    let mut complete = HashSet::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        complete.insert(r.oid()?);
    }
    let n = u32::from_le_bytes(r.take(4)?.try_into().ok()?) as usize;
    let mut dirs = HashMap::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        let path = r.path()?;
        dirs.insert(path, (r.oid()?, r.oid()?));
    }
    let raw = RawEntries {
        bytes,
        start,
        end,
        count,
    };
    Some((raw, epoch, complete, dirs))
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn path(&mut self) -> Option<String> {
        let len = u16::from_le_bytes(self.take(2)?.try_into().ok()?) as usize;
        Some(std::str::from_utf8(self.take(len)?).ok()?.to_string())
    }

    fn oid(&mut self) -> Option<Oid> {
        Some(Oid::from_bytes(self.take(32)?.try_into().ok()?))
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos + n)?;
        self.pos += n;
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_racy_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        let mut idx = StatIndex::load(&path);
        let stat = Stat {
            size: 3,
            mtime_ns: 100,
            ino: 7,
            executable: true,
        };
        idx.record("a/b".into(), stat, Oid::of(b"abc"), 200);
        idx.record(
            "racy".into(),
            Stat {
                mtime_ns: 200,
                ..stat
            },
            Oid::of(b"r"),
            200,
        );
        idx.record_dir("d".into(), Oid::of(b"root"), Oid::of(b"shape"));
        idx.mark_complete(Oid::of(b"root"), 3);
        idx.save().unwrap();
        let idx = StatIndex::load(&path);
        assert_eq!(
            idx.dir_root("d", &Oid::of(b"shape")),
            Some(Oid::of(b"root"))
        );
        assert_eq!(idx.dir_root("d", &Oid::of(b"other")), None);
        assert!(idx.is_complete(&Oid::of(b"root"), 3) && !idx.is_complete(&Oid::of(b"root"), 4));
        assert_eq!(idx.lookup("a/b", &stat), Some(Oid::of(b"abc")));
        assert_eq!(idx.lookup("a/b", &Stat { ino: 8, ..stat }), None);
        assert_eq!(
            idx.lookup(
                "racy",
                &Stat {
                    mtime_ns: 200,
                    ..stat
                }
            ),
            None,
            "racy entries are not trusted"
        );
        let mut racy_only = StatIndex::default();
        racy_only.record(
            "r".into(),
            Stat {
                mtime_ns: 300,
                ..stat
            },
            Oid::of(b"r"),
            300,
        );
        assert!(racy_only.is_dirty() && !racy_only.learned_something_lasting());
        racy_only.record("t".into(), stat, Oid::of(b"t"), 300);
        assert!(racy_only.learned_something_lasting());
        // Entries are decoded lazily: a change made before any lookup keeps the loaded ones.
        let mut idx = StatIndex::load(&path);
        idx.record("c".into(), stat, Oid::of(b"c"), 200);
        let mut learned = StatIndex::default();
        learned.record("e".into(), stat, Oid::of(b"e"), 200);
        idx.absorb(&learned);
        idx.save().unwrap();
        let idx = StatIndex::load(&path);
        for (p, content) in [("a/b", &b"abc"[..]), ("c", b"c"), ("e", b"e")] {
            assert_eq!(idx.lookup(p, &stat), Some(Oid::of(content)), "{p}");
        }
        assert_eq!(idx.summary().0, 4);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[20] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(
            StatIndex::load(&path).lookup("a/b", &stat),
            None,
            "corrupt index is dropped"
        );
    }
}
