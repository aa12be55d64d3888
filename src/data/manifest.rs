//! Directory manifests: the object that names a whole tracked directory.
//!
//! A directory's entries (sorted relative path, then oid, size and executable bit for files, the
//! target for symlinks, and empty directories) are cut into *chunks* at content-defined
//! boundaries: an entry ends a chunk when a fixed hash of its path says so (about one entry in
//! [`CHUNK_AVG`]). A root object lists the chunks. The directory's oid is the hash of the root.
//!
//! Because boundaries depend only on the paths around them, changing, adding or removing a few
//! files in a 100k-file directory rewrites only the chunks holding them and the root, not the whole
//! listing; unchanged chunks keep their oids and are neither stored nor uploaded again.
//!
//! The format is part of the data's identity (it decides the oid), so it is specified in
//! `docs/formats.md` and must not change without a version bump.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::data::path::{check_relative, symlink_stays_inside};
use crate::error::{Error, Result};
use crate::oid::Oid;

/// Average entries per chunk; a path ends a chunk when `fnv1a(path) % CHUNK_AVG == 0`.
pub const CHUNK_AVG: u64 = 512;
/// Upper bound on a chunk, so a pathological listing still splits.
pub const CHUNK_MAX: usize = 8192;
const CHUNK_HEADER: &[u8] = b"{\"gitml\":\"chunk\",\"version\":1}\n";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File {
        oid: Oid,
        size: u64,
        executable: bool,
    },
    /// A directory with nothing in it (non-empty directories are implied by their contents).
    EmptyDir,
    Symlink {
        target: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the tracked directory, `/`-separated.
    pub path: String,
    pub kind: EntryKind,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    path: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    oid: Option<Oid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    exec: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Root {
    gitml: String,
    version: u32,
    files: u64,
    size: u64,
    chunks: Vec<ChunkRef>,
}

#[derive(Serialize, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ChunkRef {
    pub oid: Oid,
    pub entries: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Sorted by path (byte order), unique.
    pub entries: Vec<Entry>,
}

/// The serialised objects of a manifest: the root (whose hash is the directory's oid) and chunks.
pub struct Objects {
    pub root_oid: Oid,
    pub root: Vec<u8>,
    pub chunks: Vec<(Oid, Vec<u8>)>,
    /// What the root lists: each chunk's oid and entry count, in order.
    pub refs: Vec<ChunkRef>,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

impl Manifest {
    /// Build from entries in any order; sorts them.
    pub fn new(mut entries: Vec<Entry>) -> Manifest {
        entries.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        Manifest { entries }
    }

    pub fn files(&self) -> u64 {
        self.entries
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::File { .. }))
            .count() as u64
    }

    pub fn size(&self) -> u64 {
        self.entries
            .iter()
            .map(|e| match e.kind {
                EntryKind::File { size, .. } => size,
                _ => 0,
            })
            .sum()
    }

    /// Serialise into root and chunk objects.
    pub fn to_objects(&self) -> Objects {
        let mut chunks = Vec::new();
        let mut refs = Vec::new();
        let mut current = Vec::with_capacity(64 * 1024);
        let mut count = 0usize;
        current.extend_from_slice(CHUNK_HEADER);
        for (i, e) in self.entries.iter().enumerate() {
            let raw = match &e.kind {
                EntryKind::File {
                    oid,
                    size,
                    executable,
                } => RawEntry {
                    path: e.path.clone(),
                    kind: None,
                    oid: Some(*oid),
                    size: Some(*size),
                    exec: *executable,
                    target: None,
                },
                EntryKind::EmptyDir => RawEntry {
                    path: e.path.clone(),
                    kind: Some("dir".into()),
                    oid: None,
                    size: None,
                    exec: false,
                    target: None,
                },
                EntryKind::Symlink { target } => RawEntry {
                    path: e.path.clone(),
                    kind: Some("symlink".into()),
                    oid: None,
                    size: None,
                    exec: false,
                    target: Some(target.clone()),
                },
            };
            // Serialising a plain struct of strings and numbers cannot fail.
            serde_json::to_writer(&mut current, &raw).expect("manifest entry serialises");
            current.push(b'\n');
            count += 1;
            let last = i + 1 == self.entries.len();
            if last || fnv1a(e.path.as_bytes()).is_multiple_of(CHUNK_AVG) || count >= CHUNK_MAX {
                let bytes = std::mem::take(&mut current);
                let oid = Oid::of(&bytes);
                refs.push(ChunkRef {
                    oid,
                    entries: count as u64,
                });
                chunks.push((oid, bytes));
                current.extend_from_slice(CHUNK_HEADER);
                count = 0;
            }
        }
        let root = Root {
            gitml: "manifest".into(),
            version: 1,
            files: self.files(),
            size: self.size(),
            chunks: refs,
        };
        let mut root_bytes = serde_json::to_vec_pretty(&root).expect("manifest root serialises");
        root_bytes.push(b'\n');
        Objects {
            root_oid: Oid::of(&root_bytes),
            root: root_bytes,
            chunks,
            refs: root.chunks,
        }
    }

    /// The entries that differ between the manifest `root_oid` (read with `read_chunk`) and
    /// this one, whose serialised chunks are `refs`: `(old, new)`, each sorted by path. A chunk
    /// both list holds the same entries in both (chunk boundaries depend only on the entries),
    /// so only the chunks that differ are read and parsed: one change in a 100,000-entry
    /// directory reads one chunk of a few hundred entries, not the whole listing. Diffing the
    /// two results gives exactly the diff of the full manifests.
    pub fn changed_since(
        &self,
        refs: &[ChunkRef],
        root_oid: Oid,
        root_bytes: &[u8],
        read_chunk: &dyn Fn(Oid) -> Result<Vec<u8>>,
    ) -> Result<(Vec<Entry>, Vec<Entry>)> {
        let root = checked_root(root_oid, root_bytes)?;
        let old_oids: std::collections::HashSet<Oid> = root.chunks.iter().map(|c| c.oid).collect();
        let new_oids: std::collections::HashSet<Oid> = refs.iter().map(|c| c.oid).collect();
        let mut old = Vec::new();
        for chunk in root.chunks.iter().filter(|c| !new_oids.contains(&c.oid)) {
            read_chunk_entries(root_oid, chunk, read_chunk, &mut old)?;
        }
        if !old.windows(2).all(|w| w[0].path < w[1].path) {
            return Err(Error::Manifest {
                oid: root_oid,
                message: "entries not sorted or duplicated".into(),
            });
        }
        let mut new = Vec::new();
        let mut at = 0usize;
        for chunk in refs {
            let end = at + chunk.entries as usize;
            if !old_oids.contains(&chunk.oid) {
                new.extend_from_slice(&self.entries[at..end]);
            }
            at = end;
        }
        Ok((old, new))
    }

    /// The chunk oids a root object refers to (for transfer and gc, which need no entries).
    pub fn chunk_refs(root_oid: Oid, root_bytes: &[u8]) -> Result<Vec<ChunkRef>> {
        Ok(parse_root(root_oid, root_bytes)?.chunks)
    }

    /// Parse and validate a manifest from its root and a way to read chunk objects. Each object's
    /// bytes are checked against its oid before they are trusted.
    pub fn from_objects(
        root_oid: Oid,
        root_bytes: &[u8],
        read_chunk: &dyn Fn(Oid) -> Result<Vec<u8>>,
    ) -> Result<Manifest> {
        let bad = |message: String| Error::Manifest {
            oid: root_oid,
            message,
        };
        let root = checked_root(root_oid, root_bytes)?;
        let mut entries: Vec<Entry> = Vec::new();
        for chunk in &root.chunks {
            read_chunk_entries(root_oid, chunk, read_chunk, &mut entries)?;
        }
        let manifest = Manifest { entries };
        manifest.validate(&|| format!("manifest {root_oid}"))?;
        if manifest.files() != root.files || manifest.size() != root.size {
            return Err(bad("file count or size disagrees with the entries".into()));
        }
        Ok(manifest)
    }

    /// Check the invariants a manifest read from outside must keep before anything is written
    /// from it: safe relative paths, strictly sorted, nothing below a file or symlink, symlinks
    /// pointing inside the directory.
    pub fn validate(&self, origin: &dyn Fn() -> String) -> Result<()> {
        let mut leaves: HashSet<&str> = HashSet::new();
        let mut parents: HashSet<&str> = HashSet::new();
        let mut prev: Option<&str> = None;
        for e in &self.entries {
            check_relative(&e.path, origin)?;
            if prev.is_some_and(|p| p >= e.path.as_str()) {
                return Err(Error::UnsafePath {
                    path: e.path.clone(),
                    origin: origin(),
                    reason: "entries not sorted or duplicated",
                });
            }
            prev = Some(&e.path);
            let mut ancestor = e.path.as_str();
            while let Some((parent, _)) = ancestor.rsplit_once('/') {
                parents.insert(parent);
                if leaves.contains(parent) {
                    return Err(Error::UnsafePath {
                        path: e.path.clone(),
                        origin: origin(),
                        reason: "path lies below a file or symlink entry",
                    });
                }
                ancestor = parent;
            }
            match &e.kind {
                EntryKind::Symlink { target } if !symlink_stays_inside(&e.path, target) => {
                    return Err(Error::SymlinkEscapes {
                        path: e.path.clone(),
                        target: target.clone(),
                        scope: "the tracked directory",
                    });
                }
                EntryKind::EmptyDir => {}
                _ => {
                    leaves.insert(&e.path);
                }
            }
        }
        // An "empty" directory entry must really be empty.
        for e in &self.entries {
            if e.kind == EntryKind::EmptyDir && parents.contains(e.path.as_str()) {
                return Err(Error::UnsafePath {
                    path: e.path.clone(),
                    origin: origin(),
                    reason: "empty-directory entry has contents",
                });
            }
        }
        Ok(())
    }
}

/// Read chunk `chunk` of manifest `root_oid`, check its bytes against its oid and append its
/// entries to `out`.
fn read_chunk_entries(
    root_oid: Oid,
    chunk: &ChunkRef,
    read_chunk: &dyn Fn(Oid) -> Result<Vec<u8>>,
    out: &mut Vec<Entry>,
) -> Result<()> {
    let bad = |message: String| Error::Manifest {
        oid: root_oid,
        message,
    };
    let bytes = read_chunk(chunk.oid)?;
    let actual = Oid::of(&bytes);
    if actual != chunk.oid {
        return Err(Error::CorruptObject {
            oid: chunk.oid,
            actual,
        });
    }
    let mut lines = bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    let header = lines.next().unwrap_or_default();
    if header != &CHUNK_HEADER[..CHUNK_HEADER.len() - 1] {
        return Err(bad(format!("chunk {} has an unknown header", chunk.oid)));
    }
    let before = out.len();
    for (n, line) in lines.enumerate() {
        let raw: RawEntry = serde_json::from_slice(line)
            .map_err(|e| bad(format!("chunk {} line {}: {e}", chunk.oid, n + 2)))?;
        out.push(
            entry_from_raw(raw)
                .map_err(|m| bad(format!("chunk {} line {}: {m}", chunk.oid, n + 2)))?,
        );
    }
    if (out.len() - before) as u64 != chunk.entries {
        return Err(bad(format!(
            "chunk {} holds {} entries, root says {}",
            chunk.oid,
            out.len() - before,
            chunk.entries
        )));
    }
    Ok(())
}

/// The root object `root_oid`, once its bytes are checked against its oid.
fn checked_root(root_oid: Oid, bytes: &[u8]) -> Result<Root> {
    let actual = Oid::of(bytes);
    if actual != root_oid {
        return Err(Error::CorruptObject {
            oid: root_oid,
            actual,
        });
    }
    parse_root(root_oid, bytes)
}

fn parse_root(root_oid: Oid, bytes: &[u8]) -> Result<Root> {
    let root: Root = serde_json::from_slice(bytes).map_err(|e| Error::Manifest {
        oid: root_oid,
        message: format!("not a manifest: {e}"),
    })?;
    if root.gitml != "manifest" || root.version != 1 {
        return Err(Error::Manifest {
            oid: root_oid,
            message: format!(
                "unsupported manifest `{}` version {}",
                root.gitml, root.version
            ),
        });
    }
    Ok(root)
}

fn entry_from_raw(raw: RawEntry) -> std::result::Result<Entry, String> {
    let kind = match (raw.kind.as_deref(), raw.oid, raw.size, raw.target) {
        (None, Some(oid), Some(size), None) => EntryKind::File {
            oid,
            size,
            executable: raw.exec,
        },
        (Some("dir"), None, None, None) if !raw.exec => EntryKind::EmptyDir,
        (Some("symlink"), None, None, Some(target)) if !raw.exec => EntryKind::Symlink { target },
        _ => {
            return Err(format!(
                "entry `{}` has an invalid combination of fields",
                raw.path
            ));
        }
    };
    Ok(Entry {
        path: raw.path,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, n: u64) -> Entry {
        Entry {
            path: path.into(),
            kind: EntryKind::File {
                oid: Oid::of(&n.to_le_bytes()),
                size: n,
                executable: false,
            },
        }
    }

    fn load(objs: &Objects) -> Result<Manifest> {
        let chunks = objs.chunks.clone();
        Manifest::from_objects(objs.root_oid, &objs.root, &move |oid| {
            Ok(chunks.iter().find(|(o, _)| *o == oid).unwrap().1.clone())
        })
    }

    #[test]
    fn round_trip_and_local_change_touches_one_chunk() {
        let entries: Vec<Entry> = (0..20_000)
            .map(|i| file(&format!("d{}/f{i:05}.bin", i % 7), i))
            .collect();
        let m = Manifest::new(entries.clone());
        let objs = m.to_objects();
        assert!(
            objs.chunks.len() > 10,
            "expected several chunks, got {}",
            objs.chunks.len()
        );
        assert_eq!(load(&objs).unwrap(), m);

        let mut changed = entries;
        changed[12_345] = file(&changed[12_345].path.clone(), 999_999);
        let objs2 = Manifest::new(changed).to_objects();
        let old: HashSet<Oid> = objs.chunks.iter().map(|c| c.0).collect();
        let new_chunks = objs2.chunks.iter().filter(|c| !old.contains(&c.0)).count();
        assert_eq!(new_chunks, 1);
        assert_ne!(objs.root_oid, objs2.root_oid);
    }

    #[test]
    fn rejects_hostile_manifests() {
        let o = || "test".to_string();
        let escape = Manifest::new(vec![file("../x", 1)]);
        assert!(escape.validate(&o).is_err());
        let under_link = Manifest::new(vec![
            Entry {
                path: "a".into(),
                kind: EntryKind::Symlink { target: "b".into() },
            },
            file("a/passwd", 1),
        ]);
        assert!(under_link.validate(&o).is_err());
        let out_link = Manifest::new(vec![Entry {
            path: "l".into(),
            kind: EntryKind::Symlink {
                target: "../../etc".into(),
            },
        }]);
        assert!(out_link.validate(&o).is_err());
    }

    #[test]
    fn corrupt_chunk_is_detected() {
        let m = Manifest::new(vec![file("a", 1), file("b", 2)]);
        let objs = m.to_objects();
        let r = Manifest::from_objects(objs.root_oid, &objs.root, &|_| Ok(b"garbage".to_vec()));
        assert!(matches!(r, Err(Error::CorruptObject { .. })));
    }
}
