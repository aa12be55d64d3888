//! `git ml status`: how the work tree compares with the pointers, and whether the cache holds
//! what the pointers name.
//!
//! On an unchanged tree this costs one `stat` per file and no reads (the stat index vouches for
//! every file). Files that had to be hashed are written back to the index when the repository
//! lock is free, so the next status is fast again; status never waits for the lock.

use std::sync::Mutex;

use rayon::prelude::*;
use serde::Serialize;

use crate::data::index::{Stat, StatIndex};
use crate::data::manifest::{ChunkRef, EntryKind, Manifest};
use crate::data::pointer::{Kind, Pointer};
use crate::data::scan::{self, Hashing, Work, WorkEntry};
use crate::error::Result;
use crate::lock::RepoLock;
use crate::oid::Oid;
use crate::progress::Progress;
use crate::workspace::{Tracked, Workspace};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// The work tree matches the pointer.
    Unchanged,
    /// The work tree differs from the pointer (`git ml add` to record, `git ml checkout` to undo).
    Modified,
    /// Nothing at the path (`git ml checkout` restores it).
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheState {
    Present,
    /// Some objects of a directory are missing.
    Partial,
    Missing,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Changes {
    pub added: Vec<String>,
    pub modified: Vec<String>,
    pub deleted: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PathStatus {
    pub path: String,
    pub pointer: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    pub oid: Oid,
    pub state: State,
    pub cache: CacheState,
    /// For a modified directory (when its recorded manifest is in the cache): which files differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes>,
}

impl PathStatus {
    pub fn is_clean(&self) -> bool {
        self.state == State::Unchanged && self.cache == CacheState::Present
    }
}

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub clean: bool,
    pub paths: Vec<PathStatus>,
}

/// What is at a tracked path now, with oids.
pub enum Current {
    Missing,
    File {
        oid: Oid,
        stat: Stat,
    },
    Dir {
        manifest: Manifest,
        oid: Oid,
        /// The manifest's chunks, as its root lists them.
        refs: Vec<ChunkRef>,
        work: Vec<WorkEntry>,
        temps: Vec<String>,
    },
    Other(&'static str),
}

/// Read the work tree at `t`, hashing only what the index cannot vouch for.
pub fn current(
    ws: &Workspace,
    t: &Tracked,
    index: &StatIndex,
    learned: &Mutex<StatIndex>,
    clock: i64,
    progress: &dyn Progress,
) -> Result<Current> {
    current_from(
        ws,
        t,
        scan::scan(&ws.abs(&t.path), &t.path, &ws.cache)?,
        index,
        learned,
        clock,
        progress,
    )
}

/// [`current`], for a work tree already scanned.
pub fn current_from(
    ws: &Workspace,
    t: &Tracked,
    scanned: Work,
    index: &StatIndex,
    learned: &Mutex<StatIndex>,
    clock: i64,
    progress: &dyn Progress,
) -> Result<Current> {
    let abs = ws.abs(&t.path);
    let resolver = scan::Resolver {
        index,
        learned,
        cache: &ws.cache,
        mode: Hashing::HashOnly,
        clock_ns: clock,
        progress,
    };
    Ok(match scanned {
        Work::Missing => Current::Missing,
        Work::Other(what) => Current::Other(what),
        Work::File(stat) => {
            let files = [(String::new(), stat)];
            let oids = resolver.resolve_files(&files, &t.path, &abs)?;
            let (oid, stat) = oids[0];
            Current::File { oid, stat }
        }
        Work::Dir(work, temps) => {
            let (manifest, trusted) = resolver.dir_manifest(&work, &t.path, &abs)?;
            let objects = manifest.to_objects();
            let oid = objects.root_oid;
            if trusted {
                learned.lock().expect("index updates").record_dir(
                    t.path.clone(),
                    oid,
                    scan::shape(&work),
                );
            }
            Current::Dir {
                manifest,
                oid,
                refs: objects.refs,
                work,
                temps,
            }
        }
    })
}

pub fn status(
    ws: &Workspace,
    tracked: &[Tracked],
    progress: &dyn Progress,
) -> Result<StatusReport> {
    let clock = ws.clock()?;
    let index = ws.load_index();
    let epoch = ws.cache.epoch();
    let learned = Mutex::new(StatIndex::default());
    let pointers: Vec<Pointer> = tracked
        .iter()
        .map(|t| ws.read_pointer(t))
        .collect::<Result<_>>()?;
    let paths: Vec<PathStatus> = tracked
        .par_iter()
        .zip(pointers.par_iter())
        .map(|(t, ptr)| {
            status_one(
                ws,
                t,
                ptr,
                &Shared {
                    index: &index,
                    learned: &learned,
                    clock,
                    epoch,
                    progress,
                },
            )
        })
        .collect::<Result<_>>()?;
    let learned = learned.into_inner().expect("index updates");
    if learned.learned_something_lasting()
        && let Some(_lock) = RepoLock::try_acquire(&ws.gitml_dir())
    {
        let mut fresh = ws.load_index();
        fresh.absorb(&learned);
        // A failure to refresh the index only costs speed next time.
        let _ = fresh.save();
    }
    Ok(StatusReport {
        clean: paths.iter().all(PathStatus::is_clean),
        paths,
    })
}

/// What every path's status shares: the index read at the start, what this run learned, the
/// file-system clock read before scanning, and the cache's removal epoch.
struct Shared<'a> {
    index: &'a StatIndex,
    learned: &'a Mutex<StatIndex>,
    clock: i64,
    epoch: u64,
    progress: &'a dyn Progress,
}

fn status_one(ws: &Workspace, t: &Tracked, ptr: &Pointer, sh: &Shared) -> Result<PathStatus> {
    let Shared {
        index,
        learned,
        clock,
        epoch,
        progress,
    } = *sh;
    let scanned = scan::scan(&ws.abs(&t.path), &t.path, &ws.cache)?;
    // The common case, cheaply: a directory whose scan has the shape its recorded root was
    // computed from, and whose objects are known to be in the cache.
    if let Work::Dir(work, _) = &scanned
        && ptr.kind == Kind::Dir
        && index.is_complete(&ptr.oid, epoch)
        && index.dir_root(&t.path, &scan::shape(work)) == Some(ptr.oid)
    {
        return Ok(PathStatus {
            path: t.path.clone(),
            pointer: t.pointer.clone(),
            kind: ptr.kind,
            oid: ptr.oid,
            state: State::Unchanged,
            cache: CacheState::Present,
            changes: None,
        });
    }
    let cur = current_from(ws, t, scanned, index, learned, clock, progress)?;
    let mut changes = None;
    let state = match (&cur, ptr.kind) {
        (Current::Missing, _) => State::Missing,
        (Current::File { oid, stat }, Kind::File)
            if *oid == ptr.oid && stat.executable == ptr.executable =>
        {
            State::Unchanged
        }
        (Current::Dir { oid, .. }, Kind::Dir) if *oid == ptr.oid => State::Unchanged,
        (Current::Dir { manifest, refs, .. }, Kind::Dir) => {
            // Only the chunks that differ are read: the list stays cheap in a big directory.
            if let Ok((old, new)) = super::manifest_changes(ws, ptr.oid, &t.path, manifest, refs) {
                changes = Some(diff_manifests(
                    &t.path,
                    &Manifest { entries: old },
                    &Manifest { entries: new },
                ));
            }
            State::Modified
        }
        _ => State::Modified,
    };
    let cache = cache_state(ws, ptr, &cur, state, &t.path, (index, learned, epoch));
    Ok(PathStatus {
        path: t.path.clone(),
        pointer: t.pointer.clone(),
        kind: ptr.kind,
        oid: ptr.oid,
        state,
        cache,
        changes,
    })
}

/// Where the cache stands for one pointer. `known` says what the index knows (complete manifests
/// at the current removal epoch); what is newly found complete is noted in `learned`.
fn cache_state(
    ws: &Workspace,
    ptr: &Pointer,
    cur: &Current,
    state: State,
    display: &str,
    known: (&StatIndex, &Mutex<StatIndex>, u64),
) -> CacheState {
    let (index, learned, epoch) = known;
    if !ws.cache.contains(&ptr.oid) {
        return CacheState::Missing;
    }
    if ptr.kind == Kind::File {
        return CacheState::Present;
    }
    if index.is_complete(&ptr.oid, epoch) {
        return CacheState::Present;
    }
    // The work tree's manifest equals the recorded one when unchanged: no need to read it back.
    let loaded;
    let manifest = match (state, cur) {
        (State::Unchanged, Current::Dir { manifest, .. }) => manifest,
        _ => match super::load_manifest(ws, ptr.oid, display) {
            Ok(m) => {
                loaded = m;
                &loaded
            }
            Err(_) => return CacheState::Partial,
        },
    };
    let oids: Vec<Oid> = manifest
        .entries
        .iter()
        .filter_map(|e| match &e.kind {
            EntryKind::File { oid, .. } => Some(*oid),
            _ => None,
        })
        .collect();
    let missing = ws.cache.count_missing(&oids);
    if missing == 0 {
        learned
            .lock()
            .expect("index updates")
            .mark_complete(ptr.oid, epoch);
        CacheState::Present
    } else {
        CacheState::Partial
    }
}

/// Which files differ between the recorded manifest and the work tree's, as repo-relative paths.
///
/// Both manifests are strictly sorted by path (a recorded one is refused otherwise), so one merge
/// pass finds every difference without hashing 100,000 paths twice.
pub fn diff_manifests(base: &str, recorded: &Manifest, work: &Manifest) -> Changes {
    use std::cmp::Ordering;
    let full = |p: &str| format!("{base}/{p}");
    let mut c = Changes::default();
    let (mut old, mut new) = (
        recorded.entries.iter().peekable(),
        work.entries.iter().peekable(),
    );
    loop {
        match (old.peek(), new.peek()) {
            (None, None) => break,
            (Some(o), None) => {
                c.deleted.push(full(&o.path));
                old.next();
            }
            (None, Some(n)) => {
                c.added.push(full(&n.path));
                new.next();
            }
            (Some(o), Some(n)) => match o.path.cmp(&n.path) {
                Ordering::Less => {
                    c.deleted.push(full(&o.path));
                    old.next();
                }
                Ordering::Greater => {
                    c.added.push(full(&n.path));
                    new.next();
                }
                Ordering::Equal => {
                    if o.kind != n.kind {
                        c.modified.push(full(&n.path));
                    }
                    old.next();
                    new.next();
                }
            },
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use proptest::prelude::*;

    use super::*;
    use crate::data::manifest::Entry;

    fn manifest(files: &BTreeMap<String, u8>) -> Manifest {
        Manifest::new(
            files
                .iter()
                .map(|(path, v)| Entry {
                    path: path.clone(),
                    kind: EntryKind::File {
                        oid: Oid::of(&[*v]),
                        size: 1,
                        executable: false,
                    },
                })
                .collect(),
        )
    }

    fn big(n: usize, edits: &[(usize, u8)], drop: &[usize], extra: &[String]) -> Manifest {
        let mut files: BTreeMap<String, u8> = (0..n).map(|i| (format!("f/{i:06}"), 0)).collect();
        for (i, v) in edits {
            files.insert(format!("f/{:06}", i % n), *v);
        }
        for i in drop {
            files.remove(&format!("f/{:06}", i % n));
        }
        for p in extra {
            files.insert(p.clone(), 9);
        }
        manifest(&files)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Reading only the chunks that differ gives the same changes as diffing the full
        /// manifests, across directories of several chunks.
        #[test]
        fn chunk_diff_is_the_full_diff(
            n in 1usize..4000,
            edits in proptest::collection::vec((0usize..4000, 1u8..3), 0..6),
            drop in proptest::collection::vec(0usize..4000, 0..4),
            extra in proptest::collection::vec("f/[0-9]{1,7}x?", 0..4),
        ) {
            let recorded = big(n, &[], &[], &[]);
            let current = big(n, &edits, &drop, &extra);
            let stored = recorded.to_objects();
            let chunks: HashMap<Oid, Vec<u8>> = stored.chunks.iter().cloned().collect();
            let refs = current.to_objects().refs;
            let read = |oid: Oid| Ok(chunks[&oid].clone());
            let (old, new) = current.changed_since(&refs, stored.root_oid, &stored.root, &read).unwrap();
            prop_assert!(old.len() + new.len() <= recorded.entries.len() + current.entries.len());
            let by_chunks = diff_manifests("d", &Manifest { entries: old }, &Manifest { entries: new });
            let full = diff_manifests("d", &recorded, &current);
            prop_assert_eq!(by_chunks.added, full.added);
            prop_assert_eq!(by_chunks.modified, full.modified);
            prop_assert_eq!(by_chunks.deleted, full.deleted);
        }
    }

    /// One change in a big directory reads one chunk, not the listing.
    #[test]
    fn one_change_reads_one_chunk() {
        let recorded = big(20_000, &[], &[], &[]);
        let current = big(20_000, &[(12_345, 1)], &[], &[]);
        let stored = recorded.to_objects();
        assert!(stored.chunks.len() > 10, "{} chunks", stored.chunks.len());
        let chunks: HashMap<Oid, Vec<u8>> = stored.chunks.iter().cloned().collect();
        let reads = std::cell::Cell::new(0);
        let read = |oid: Oid| {
            reads.set(reads.get() + 1);
            Ok(chunks[&oid].clone())
        };
        let refs = current.to_objects().refs;
        let (old, new) = current
            .changed_since(&refs, stored.root_oid, &stored.root, &read)
            .unwrap();
        assert_eq!(reads.get(), 1);
        let c = diff_manifests("d", &Manifest { entries: old }, &Manifest { entries: new });
        assert_eq!(c.modified, vec!["d/f/012345".to_string()]);
        assert!(c.added.is_empty() && c.deleted.is_empty());
    }

    proptest! {
        /// The merge pass agrees with the set definition of added, modified and deleted.
        #[test]
        fn diff_is_the_set_difference(
            a in proptest::collection::btree_map("[a-c]{1,3}(/[a-c]{1,2})?", 0u8..3, 0..24),
            b in proptest::collection::btree_map("[a-c]{1,3}(/[a-c]{1,2})?", 0u8..3, 0..24),
        ) {
            let c = diff_manifests("d", &manifest(&a), &manifest(&b));
            let full = |p: &String| format!("d/{p}");
            let added: Vec<String> = b.keys().filter(|p| !a.contains_key(*p)).map(full).collect();
            let deleted: Vec<String> = a.keys().filter(|p| !b.contains_key(*p)).map(full).collect();
            let modified: Vec<String> =
                b.iter().filter(|(p, v)| a.get(*p).is_some_and(|o| o != *v)).map(|(p, _)| full(p)).collect();
            prop_assert_eq!(c.added, added);
            prop_assert_eq!(c.deleted, deleted);
            prop_assert_eq!(c.modified, modified);
        }
    }
}
