//! `git ml checkout`: make the work tree match the pointers.
//!
//! Two phases. Planning reads the work tree and decides every removal and write, and refuses
//! (before touching anything) if a file with local changes that are not in the cache would be
//! overwritten or deleted, or if an object is missing. Execution then removes, creates and
//! renames into place; each file is replaced atomically, so a kill leaves every file either old
//! or new, and a re-run finishes the job.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;
use serde::Serialize;

use crate::config::LinkMode;
use crate::data::index::{Stat, StatIndex};
use crate::data::link;
use crate::data::manifest::EntryKind;
use crate::data::pointer::{Kind, Pointer};
use crate::data::scan::WorkKind;
use crate::data::status::{Current, current};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::oid::Oid;
use crate::progress::Progress;
use crate::workspace::{Tracked, Workspace};

#[derive(Debug, Clone)]
pub struct CheckoutOptions {
    /// Overwrite or delete local changes that are not in the cache.
    pub force: bool,
    /// Link modes to try, in order.
    pub modes: Vec<LinkMode>,
}

#[derive(Debug, Serialize)]
pub struct CheckedOut {
    pub path: String,
    /// `up-to-date` or `updated`.
    pub action: &'static str,
    pub written: u64,
    pub removed: u64,
}

#[derive(Debug, Serialize)]
pub struct CheckoutReport {
    pub paths: Vec<CheckedOut>,
    /// How many files were placed with each link mode.
    pub link_modes: BTreeMap<&'static str, u64>,
}

enum WriteKind {
    Object { oid: Oid, executable: bool },
    Symlink(String),
    EmptyDir,
}

struct Write {
    abs: PathBuf,
    key: String,
    kind: WriteKind,
    size: u64,
}

#[derive(Default)]
struct Plan {
    removes: Vec<PathBuf>,
    remove_trees: Vec<PathBuf>,
    writes: Vec<Write>,
    chmods: Vec<(PathBuf, bool)>,
    temps: Vec<PathBuf>,
    /// Index keys to forget (everything under the tracked path, when it changes).
    forget: bool,
    /// A manifest found complete in the cache while planning.
    complete: Option<Oid>,
}

pub fn checkout(
    ws: &Workspace,
    tracked: &[Tracked],
    opts: &CheckoutOptions,
    progress: &dyn Progress,
) -> Result<CheckoutReport> {
    let _lock = ws.lock(&|holder| progress.message(&format!("waiting for {holder} to finish")))?;
    let clock = ws.clock()?;
    let index = ws.load_index();
    let learned = Mutex::new(StatIndex::default());
    let mut conflicts = Vec::new();
    let mut plans = Vec::new();
    for t in tracked {
        let ptr = ws.read_pointer(t)?;
        ws.check_parent_inside(&t.path)?;
        let cur = current(ws, t, &index, &learned, clock, progress)?;
        plans.push((t, plan_one(ws, t, &ptr, cur, opts, &mut conflicts)?));
    }
    if !conflicts.is_empty() && !opts.force {
        conflicts.sort();
        let count = conflicts.len();
        conflicts.truncate(20);
        return Err(Error::WouldLoseChanges {
            count,
            paths: conflicts,
        });
    }

    let total: u64 = plans
        .iter()
        .flat_map(|(_, p)| p.writes.iter().map(|w| w.size))
        .sum();
    progress.start("checking out", total);
    let modes: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());
    let mut learned = learned.into_inner().expect("index updates");
    let mut index = index;
    let mut report = Vec::new();
    let mut written_stats: Vec<(String, Stat, Oid)> = Vec::new();
    let placer = link::Materialiser::new(&opts.modes);
    let epoch = ws.cache.epoch();
    for (t, plan) in plans {
        let (written, removed) = (
            plan.writes.len() as u64,
            (plan.removes.len() + plan.remove_trees.len()) as u64,
        );
        let up_to_date = written == 0 && removed == 0 && plan.chmods.is_empty();
        if let Some(root) = plan.complete {
            learned.mark_complete(root, epoch);
        }
        let stats = execute(ws, &t.path, plan, &placer, &modes, progress, &mut index)?;
        written_stats.extend(stats);
        report.push(CheckedOut {
            path: t.path.clone(),
            action: if up_to_date { "up-to-date" } else { "updated" },
            written,
            removed,
        });
    }
    progress.finish();
    settle(ws, &written_stats, &mut learned)?;
    index.absorb(&learned);
    index.save()?;
    Ok(CheckoutReport {
        paths: report,
        link_modes: modes.into_inner().expect("mode counts"),
    })
}

fn plan_one(
    ws: &Workspace,
    t: &Tracked,
    ptr: &Pointer,
    cur: Current,
    opts: &CheckoutOptions,
    conflicts: &mut Vec<String>,
) -> Result<Plan> {
    let (force, modes) = (opts.force, &opts.modes);
    let abs = ws.abs(&t.path);
    let mut plan = Plan::default();
    let recoverable = |oid: &Oid| ws.cache.contains(oid);
    // What is at the top, if it is not what the pointer wants, must go first.
    let clear_top = |plan: &mut Plan, conflicts: &mut Vec<String>| match &cur {
        Current::Missing => {}
        Current::File { oid, .. } => {
            if !recoverable(oid) {
                conflicts.push(t.path.clone());
            }
            plan.removes.push(abs.clone());
        }
        Current::Dir { manifest, .. } => {
            for e in &manifest.entries {
                if let EntryKind::File { oid, .. } = &e.kind
                    && !recoverable(oid)
                {
                    conflicts.push(format!("{}/{}", t.path, e.path));
                }
            }
            plan.remove_trees.push(abs.clone());
        }
        Current::Other(what) => {
            if !force {
                conflicts.push(format!("{} ({what})", t.path));
            }
            plan.removes.push(abs.clone());
        }
    };
    match ptr.kind {
        Kind::File => {
            if !ws.cache.contains(&ptr.oid) {
                return Err(Error::ObjectMissing {
                    oid: ptr.oid,
                    path: t.path.clone(),
                });
            }
            let write = Write {
                abs: abs.clone(),
                key: t.path.clone(),
                kind: WriteKind::Object {
                    oid: ptr.oid,
                    executable: ptr.executable,
                },
                size: ptr.size,
            };
            let want_links = modes.first() == Some(&LinkMode::Symlink);
            match &cur {
                Current::File { oid, stat } if *oid == ptr.oid && !want_links => {
                    if stat.executable != ptr.executable {
                        plan.chmods.push((abs.clone(), ptr.executable));
                    }
                }
                Current::File { oid, .. } => {
                    // Renaming over the old file replaces it; no removal needed.
                    if !recoverable(oid) {
                        conflicts.push(t.path.clone());
                    }
                    plan.writes.push(write);
                }
                Current::Other("symlink")
                    if cache_link_to(ws, &abs) == Some(ptr.oid) && want_links => {}
                Current::Other("symlink")
                    if cache_link_to(ws, &abs).is_some_and(|o| ws.cache.contains(&o)) =>
                {
                    plan.writes.push(write)
                }
                _ => {
                    clear_top(&mut plan, conflicts);
                    plan.writes.push(write);
                }
            }
            if !plan.writes.is_empty()
                && let Some(parent) = abs.parent()
            {
                plan.temps.extend(stale_file_temps(parent, &abs));
            }
        }
        Kind::Dir => {
            let target = super::load_manifest(ws, ptr.oid, &t.path)?;
            for (key, said, actual) in [
                ("size", ptr.size, target.size()),
                ("files", ptr.files, target.files()),
            ] {
                if said != actual {
                    let text = std::fs::read_to_string(ws.abs(&t.pointer)).unwrap_or_default();
                    return Err(crate::data::pointer::size_mismatch(
                        &t.pointer, &text, key, said, actual,
                    ));
                }
            }
            let files: Vec<(Oid, &str)> = target
                .entries
                .iter()
                .filter_map(|e| match &e.kind {
                    EntryKind::File { oid, .. } => Some((*oid, e.path.as_str())),
                    _ => None,
                })
                .collect();
            let oids: Vec<Oid> = files.iter().map(|f| f.0).collect();
            let missing = files
                .iter()
                .zip(ws.cache.missing_mask(&oids))
                .find_map(|(f, missing)| missing.then_some(*f));
            if let Some((oid, path)) = missing {
                return Err(Error::ObjectMissing {
                    oid,
                    path: format!("{}/{path}", t.path),
                });
            }
            plan.complete = Some(ptr.oid);
            let mut keep: HashMap<&str, ()> = HashMap::new();
            if let Current::Dir {
                manifest,
                temps,
                work,
                ..
            } = &cur
            {
                plan.temps.extend(temps.iter().map(|r| abs.join(r)));
                // A file placed in the other style than the one asked for (a symlink into the
                // cache vs a real file) is placed again: that is how users switch link modes.
                let want_links = modes.first() == Some(&LinkMode::Symlink);
                let restyle: std::collections::HashSet<&str> = work
                    .iter()
                    .filter(|w| match w.kind {
                        WorkKind::CacheLink(..) => !want_links,
                        WorkKind::File(_) => want_links,
                        _ => false,
                    })
                    .map(|w| w.rel.as_str())
                    .collect();
                let wanted: HashMap<&str, &EntryKind> = target
                    .entries
                    .iter()
                    .map(|e| (e.path.as_str(), &e.kind))
                    .collect();
                for e in &manifest.entries {
                    let here = abs.join(&e.path);
                    match (wanted.get(e.path.as_str()), &e.kind) {
                        (Some(w), k) if *w == k && !restyle.contains(e.path.as_str()) => {
                            keep.insert(&e.path, ());
                        }
                        (
                            Some(EntryKind::File {
                                oid: w,
                                executable: wx,
                                ..
                            }),
                            EntryKind::File { oid, .. },
                        ) if w == oid && !restyle.contains(e.path.as_str()) => {
                            plan.chmods.push((here, *wx));
                            keep.insert(&e.path, ());
                        }
                        (want, k) => {
                            if let EntryKind::File { oid, .. } = k
                                && !recoverable(oid)
                            {
                                conflicts.push(format!("{}/{}", t.path, e.path));
                            }
                            // A file replaced by a file is renamed over; anything else goes first.
                            let overwrite = matches!(
                                (want, k),
                                (Some(EntryKind::File { .. }), EntryKind::File { .. })
                            );
                            if !overwrite {
                                plan.removes.push(here);
                            }
                        }
                    }
                }
            } else {
                clear_top(&mut plan, conflicts);
            }
            for e in &target.entries {
                if keep.contains_key(e.path.as_str()) {
                    continue;
                }
                let (kind, size) = match &e.kind {
                    EntryKind::File {
                        oid,
                        size,
                        executable,
                    } => (
                        WriteKind::Object {
                            oid: *oid,
                            executable: *executable,
                        },
                        *size,
                    ),
                    EntryKind::Symlink { target } => (WriteKind::Symlink(target.clone()), 0),
                    EntryKind::EmptyDir => (WriteKind::EmptyDir, 0),
                };
                plan.writes.push(Write {
                    abs: abs.join(&e.path),
                    key: format!("{}/{}", t.path, e.path),
                    kind,
                    size,
                });
            }
            if target.entries.is_empty() && !matches!(cur, Current::Dir { .. }) {
                plan.writes.push(Write {
                    abs: abs.clone(),
                    key: t.path.clone(),
                    kind: WriteKind::EmptyDir,
                    size: 0,
                });
            }
        }
    }
    plan.forget = !plan.removes.is_empty() || !plan.remove_trees.is_empty();
    Ok(plan)
}

fn execute(
    ws: &Workspace,
    tracked: &str,
    plan: Plan,
    placer: &link::Materialiser,
    counts: &Mutex<BTreeMap<&'static str, u64>>,
    progress: &dyn Progress,
    index: &mut StatIndex,
) -> Result<Vec<(String, Stat, Oid)>> {
    let root = ws.abs(tracked);
    for t in &plan.temps {
        let _ = std::fs::remove_file(t);
    }
    if plan.forget {
        index.remove_tree(tracked);
    }
    for dir in &plan.remove_trees {
        fs_err::remove_dir_all(dir)?;
    }
    // Deepest first, so a directory is emptied before it is removed.
    let mut removes = plan.removes;
    removes.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in &removes {
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() => {
                let _ = std::fs::remove_dir(p);
            }
            Ok(_) => fs_err::remove_file(p)?,
            Err(_) => {}
        }
        prune_empty_parents(p, &root);
    }
    let mut parents: Vec<&Path> = plan.writes.iter().filter_map(|w| w.abs.parent()).collect();
    parents.sort();
    parents.dedup();
    for p in parents {
        fs_err::create_dir_all(p)?;
    }
    let stats: Vec<Option<(String, Stat, Oid)>> = plan
        .writes
        .par_iter()
        .map(|w| -> Result<_> {
            let out = match &w.kind {
                WriteKind::Object { oid, executable } => {
                    let (mode, stat) = placer
                        .place(&ws.cache, oid, &w.abs, *executable)
                        .map_err(|e| corrupt_in_cache(ws, e, &w.key))?;
                    *counts
                        .lock()
                        .expect("mode counts")
                        .entry(mode.name())
                        .or_default() += 1;
                    progress.advance(w.size);
                    stat.map(|stat| (w.key.clone(), stat, *oid))
                }
                WriteKind::Symlink(target) => {
                    let temp = fsutil::temp_path_for(&w.abs);
                    std::os::unix::fs::symlink(target, &temp).map_err(|e| {
                        std::io::Error::new(
                            e.kind(),
                            format!("{e} (creating link `{}`)", w.abs.display()),
                        )
                    })?;
                    fs_err::rename(&temp, &w.abs)?;
                    None
                }
                WriteKind::EmptyDir => {
                    fs_err::create_dir_all(&w.abs)?;
                    None
                }
            };
            Ok(out)
        })
        .collect::<Result<_>>()?;
    for (p, executable) in &plan.chmods {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(
            p,
            std::fs::Permissions::from_mode(fsutil::worktree_mode(*executable)),
        )?;
    }
    Ok(stats.into_iter().flatten().collect())
}

/// A corrupt object found while placing `path`: move it aside (callers hold the lock) so that
/// nothing uses it again and a fetch can replace it, and say so.
fn corrupt_in_cache(ws: &Workspace, e: Error, path: &str) -> Error {
    match e {
        Error::CorruptObject { oid, actual } => {
            // Another thread may have moved it already.
            let quarantined = ws.cache.quarantine(&oid).is_ok() || !ws.cache.contains(&oid);
            Error::CorruptInCache {
                path: path.to_string(),
                oid,
                actual,
                quarantined,
            }
        }
        e => e,
    }
}

/// Remove directories left empty by a removal, up to (not including) the tracked root.
fn prune_empty_parents(removed: &Path, root: &Path) {
    let mut dir = removed.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Record what we wrote in the index so the next status need not hash it. Files written in the
/// current file-system clock tick are racy; wait for the clock to move past them (a few ms) and
/// record them against that later clock. (Re-stat-ing them would add nothing: a change that alters
/// the stat is caught by the next status anyway, and one that does not is invisible to any stat.)
fn settle(ws: &Workspace, written: &[(String, Stat, Oid)], learned: &mut StatIndex) -> Result<()> {
    let Some(newest) = written.iter().map(|w| w.1.mtime_ns).max() else {
        return Ok(());
    };
    let start = std::time::Instant::now();
    let mut clock = ws.clock()?;
    while clock <= newest && start.elapsed() < std::time::Duration::from_millis(200) {
        std::thread::sleep(std::time::Duration::from_millis(1));
        clock = ws.clock()?;
    }
    for (key, stat, oid) in written {
        learned.record(key.clone(), *stat, *oid, clock);
    }
    Ok(())
}

fn cache_link_to(ws: &Workspace, abs: &Path) -> Option<Oid> {
    let target = std::fs::read_link(abs).ok()?;
    let rest = target.strip_prefix(ws.cache.root().join("blake3")).ok()?;
    let s: Vec<&str> = rest.iter().filter_map(|c| c.to_str()).collect();
    match s.as_slice() {
        [fan, tail] => format!("blake3:{fan}{tail}").parse().ok(),
        _ => None,
    }
}

/// Temporary files a killed checkout left beside a single tracked file.
fn stale_file_temps(parent: &Path, dest: &Path) -> Vec<PathBuf> {
    let Some(name) = dest.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    let name: String = name.chars().take(120).collect();
    let prefix = format!(".{name}{}", fsutil::TMP_MARKER);
    std::fs::read_dir(parent)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}
