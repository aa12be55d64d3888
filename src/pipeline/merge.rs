//! The merge driver for `gitml.lock` and pointer files (`git ml merge-driver %O %A %B %P`,
//! registered by `git ml init` through `.gitattributes` and git config).
//!
//! `gitml.lock` merges stage by stage: a stage changed on one side only takes that side; changed
//! identically on both, either; changed differently on both, it is a real conflict, written with
//! conflict markers around that stage only and a hint. A pointer changed on both sides to
//! different directories is merged file by file when all three manifests are in the cache (two
//! branches that each added files to a dataset get both); only a file changed differently on
//! both sides is a conflict. Whatever the driver cannot parse falls back to git's own text merge.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::lockfile::{Entry, LockFile};
use crate::data::manifest::{Entry as MEntry, Manifest};
use crate::data::pointer::{Kind, Pointer};
use crate::error::{Error, Result};
use crate::workspace::Workspace;

/// The outcome: merged cleanly, or written with conflict markers.
#[derive(Debug, PartialEq, Eq)]
pub enum Merged {
    Clean,
    Conflict,
    /// An input was not text (a binary file under a pointer's or the lock's name): nothing could
    /// be merged, no markers were written, and ours was left as it was.
    Binary,
}

/// Pick per item: one side changed, or both the same.
fn pick<T: PartialEq + Clone>(
    base: Option<&T>,
    ours: Option<&T>,
    theirs: Option<&T>,
) -> Result<Option<T>, ()> {
    if ours == theirs {
        Ok(ours.cloned())
    } else if ours == base {
        Ok(theirs.cloned())
    } else if theirs == base {
        Ok(ours.cloned())
    } else {
        Err(())
    }
}

fn text_merge(base: &Path, ours: &Path, theirs: &Path) -> Result<Merged> {
    let binary = |p: &Path| {
        std::fs::read(p).is_ok_and(|b| b.contains(&0) || std::str::from_utf8(&b).is_err())
    };
    if [base, ours, theirs].into_iter().any(binary) {
        return Ok(Merged::Binary);
    }
    let status = std::process::Command::new("git")
        .args(["merge-file", "-L", "ours", "-L", "base", "-L", "theirs"])
        .arg(ours)
        .arg(base)
        .arg(theirs)
        .stdin(std::process::Stdio::null())
        .status()
        .map_err(|e| Error::Other(format!("could not run `git merge-file`: {e}")))?;
    Ok(if status.success() {
        Merged::Clean
    } else {
        Merged::Conflict
    })
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Merge `gitml.lock`: the result goes to `ours`.
pub fn merge_lock(base: &Path, ours: &Path, theirs: &Path) -> Result<Merged> {
    let parse = |p: &Path| -> Option<LockFile> {
        let t = read(p);
        if t.trim().is_empty() {
            return Some(LockFile::default());
        }
        toml::from_str(&t).ok()
    };
    let (Some(b), Some(o), Some(t)) = (parse(base), parse(ours), parse(theirs)) else {
        return text_merge(base, ours, theirs);
    };
    let names: BTreeSet<&String> = b
        .stages
        .keys()
        .chain(o.stages.keys())
        .chain(t.stages.keys())
        .collect();
    let mut merged = LockFile::default();
    let mut conflicts: Vec<(String, Option<Entry>, Option<Entry>)> = Vec::new();
    for n in names {
        match pick(b.stages.get(n), o.stages.get(n), t.stages.get(n)) {
            Ok(Some(e)) => {
                merged.stages.insert(n.clone(), e);
            }
            Ok(None) => {}
            Err(()) => conflicts.push((
                n.clone(),
                o.stages.get(n).cloned(),
                t.stages.get(n).cloned(),
            )),
        }
    }
    let mut text = String::from(
        "# gitml.lock: written by `git ml run`; commit it. What each stage's last successful run saw.\n\n",
    );
    text.push_str(&toml::to_string(&merged).map_err(|e| Error::Other(e.to_string()))?);
    for (name, o, t) in &conflicts {
        let one = |e: &Option<Entry>| -> String {
            match e {
                None => format!("# stage `{name}` removed on this side\n"),
                Some(e) => {
                    let mut single = LockFile::default();
                    single.stages.insert(name.clone(), e.clone());
                    toml::to_string(&single).unwrap_or_default()
                }
            }
        };
        text.push_str(&format!(
            "\n# CONFLICT: stage `{name}` ran with different inputs on both branches.\n# Keep one side, or delete both and run `git ml run {name}` to record the merged result.\n<<<<<<< ours\n{}=======\n{}>>>>>>> theirs\n",
            one(o),
            one(t)
        ));
    }
    crate::fsutil::atomic_write(ours, text.as_bytes(), 0o644)?;
    Ok(if conflicts.is_empty() {
        Merged::Clean
    } else {
        Merged::Conflict
    })
}

/// Merge a pointer file (`display` is its path, for messages); the result goes to `ours`.
pub fn merge_pointer(
    ws: Option<&Workspace>,
    base: &Path,
    ours: &Path,
    theirs: &Path,
    display: &str,
) -> Result<Merged> {
    let parse = |p: &Path| -> Option<Option<Pointer>> {
        let t = read(p);
        if t.trim().is_empty() {
            return Some(None);
        }
        Pointer::parse(&t, display).ok().map(Some)
    };
    let (Some(b), Some(o), Some(t)) = (parse(base), parse(ours), parse(theirs)) else {
        return text_merge(base, ours, theirs);
    };
    let write = |p: &Pointer| -> Result<Merged> {
        crate::fsutil::atomic_write(ours, p.to_toml().as_bytes(), 0o644)?;
        Ok(Merged::Clean)
    };
    match pick(b.as_ref(), o.as_ref(), t.as_ref()) {
        Ok(Some(p)) => return write(&p),
        Ok(None) => return text_merge(base, ours, theirs),
        Err(()) => {}
    }
    // Both sides changed it differently. Directories: merge their manifests file by file.
    if let (Some(ws), Some(b), Some(o), Some(t)) = (ws, &b, &o, &t)
        && b.kind == Kind::Dir
        && o.kind == Kind::Dir
        && t.kind == Kind::Dir
        && let (Ok(mb), Ok(mo), Ok(mt)) = (
            crate::data::load_manifest(ws, b.oid, display),
            crate::data::load_manifest(ws, o.oid, display),
            crate::data::load_manifest(ws, t.oid, display),
        )
    {
        let index = |m: &Manifest| -> HashMap<String, MEntry> {
            m.entries
                .iter()
                .map(|e| (e.path.clone(), e.clone()))
                .collect()
        };
        let (ib, io, it) = (index(&mb), index(&mo), index(&mt));
        let paths: BTreeSet<&String> = ib.keys().chain(io.keys()).chain(it.keys()).collect();
        let mut entries = Vec::new();
        let mut clash = Vec::new();
        for p in paths {
            match pick(ib.get(p), io.get(p), it.get(p)) {
                Ok(Some(e)) => entries.push(e),
                Ok(None) => {}
                Err(()) => clash.push(p.clone()),
            }
        }
        if clash.is_empty() {
            let merged = Manifest::new(entries);
            merged.validate(&|| format!("merged manifest of `{display}`"))?;
            let objects = merged.to_objects();
            for (_, bytes) in &objects.chunks {
                ws.cache.insert_bytes(bytes)?;
            }
            ws.cache.insert_bytes(&objects.root)?;
            return write(&Pointer {
                kind: Kind::Dir,
                oid: objects.root_oid,
                size: merged.size(),
                files: merged.files(),
                executable: false,
            });
        }
        return conflict_markers(
            ours,
            &o.to_toml(),
            &t.to_toml(),
            display,
            &format!(
                "{} changed differently on both branches ({}{})",
                display,
                clash
                    .iter()
                    .take(5)
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if clash.len() > 5 { ", ..." } else { "" }
            ),
        );
    }
    let (ot, tt) = (
        o.as_ref().map(Pointer::to_toml).unwrap_or_default(),
        t.as_ref().map(Pointer::to_toml).unwrap_or_default(),
    );
    conflict_markers(
        ours,
        &ot,
        &tt,
        display,
        &format!("`{display}` changed differently on both branches"),
    )
}

fn conflict_markers(ours: &Path, o: &str, t: &str, display: &str, why: &str) -> Result<Merged> {
    let data = display.trim_end_matches(crate::data::pointer::SUFFIX);
    let text = format!(
        "<<<<<<< ours\n{o}=======\n{t}>>>>>>> theirs\n# CONFLICT: {why}.\n# Keep one side (then `git ml checkout {data}`), or re-add the merged data with `git ml add {data}`.\n"
    );
    crate::fsutil::atomic_write(ours, text.as_bytes(), 0o644)?;
    Ok(Merged::Conflict)
}
