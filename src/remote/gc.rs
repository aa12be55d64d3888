//! Garbage collection of the local cache or a remote: remove objects that nothing keeps.
//!
//! Kept: every object that a pointer needs — in any work tree or the index, at the tip of any
//! ref (branches, remote-tracking branches, tags, every stash entry, refs a tool made), in the
//! last `gc.keep_commits` commits of each, or in a commit a recent reflog entry names —
//! including every chunk and file of a kept directory. Also kept: any object younger than
//! `gc.grace`, because a push happens before the commit that will reference it. If a kept
//! directory's manifest cannot be read (neither in the cache nor on the remote), gc stops: it
//! cannot know what that directory needs, so it deletes nothing.

use std::collections::HashSet;
use std::time::SystemTime;

use serde::Serialize;

use super::Transport;
use super::transfer::{Target, parallel};
use crate::data::manifest::{EntryKind, Manifest};
use crate::data::pointer::Kind;
use crate::error::{Error, Result};
use crate::oid::Oid;
use crate::workspace::Workspace;

#[derive(Debug, Default, Serialize)]
pub struct GcReport {
    /// `cache` or the remote's name.
    pub target: String,
    /// Whether objects were removed (`--force`) or only counted.
    pub removed: bool,
    pub objects: u64,
    pub bytes: u64,
    pub kept: u64,
    /// Unreferenced objects kept because they are younger than the grace period.
    pub recent: u64,
    pub commits_scanned: u64,
    /// Kept directories whose manifest could not be read (`--skip-unreadable`): the objects
    /// only they need may have been removed.
    pub unreadable: Vec<String>,
}

/// Every target that anything the user can still reach points to, and how many commits were read:
/// the work tree (this one and every linked worktree), the index, `HEAD` and the pseudo-refs of
/// an operation in progress, every ref (`refs/*`, stash entries included), the last
/// `gc.keep_commits` commits of each ref, and every commit a reflog entry younger than
/// `gc.grace` names.
fn kept_targets(ws: &Workspace) -> Result<(Vec<Target>, u64)> {
    let root = ws.root();
    let mut targets = super::transfer::targets(ws, &Default::default())?;
    let to_target = |c: crate::git::CommittedPointer| Target {
        path: c.path,
        kind: c.pointer.kind,
        oid: c.pointer.oid,
        size: c.pointer.size,
    };
    targets.extend(
        crate::git::staged_pointers(root)?
            .into_iter()
            .map(to_target),
    );
    let tips = crate::git::all_ref_tips(root)?;
    let mut commits = crate::git::recent_commits(root, &tips, ws.config.gc_keep_commits.max(1))?;
    commits.extend(tips);
    commits.extend(crate::git::stash_commits(root)?);
    commits.extend(crate::git::recent_reflog_commits(
        root,
        ws.config.gc_grace.as_secs(),
    )?);
    commits.extend(crate::git::special_heads(root));
    for (tree, head) in crate::git::other_worktrees(root)? {
        commits.extend(head);
        if tree.is_dir() {
            for t in crate::workspace::find_tracked_in(&tree)? {
                let text = fs_err::read_to_string(tree.join(&t.pointer))?;
                let origin = format!("{} (worktree `{}`)", t.pointer, tree.display());
                let p = crate::data::pointer::Pointer::parse(&text, &origin)?;
                targets.push(Target {
                    path: t.path,
                    kind: p.kind,
                    oid: p.oid,
                    size: p.size,
                });
            }
        }
    }
    commits.sort();
    commits.dedup();
    targets.extend(
        crate::git::pointers_at(root, &commits, &[])?
            .into_iter()
            .map(to_target),
    );
    Ok((targets, commits.len() as u64))
}

/// Expand targets into every object they need. Manifests come from the cache, or are fetched
/// from `remote` when it is given and the cache lacks them.
fn kept_objects(
    ws: &Workspace,
    targets: &[Target],
    remote: Option<&dyn Transport>,
    skip_unreadable: bool,
) -> Result<(HashSet<Oid>, Vec<String>)> {
    let mut keep = HashSet::new();
    let mut dirs_done = HashSet::new();
    let mut unreadable_dirs: Vec<String> = Vec::new();
    for t in targets {
        keep.insert(t.oid);
        if t.kind != Kind::Dir || !dirs_done.insert(t.oid) {
            continue;
        }
        let ensure = |oid: &Oid| -> Result<()> {
            if ws.cache.contains(oid) {
                return Ok(());
            }
            match remote {
                Some(r) => r.get(oid, &ws.cache, &|_| {}).map(|_| ()),
                None => Err(Error::ObjectMissing {
                    oid: *oid,
                    path: t.path.clone(),
                }),
            }
        };
        let expand = |keep: &mut HashSet<Oid>| -> Result<()> {
            ensure(&t.oid)?;
            let root = ws.cache.read_verified(&t.oid)?;
            for c in Manifest::chunk_refs(t.oid, &root)? {
                ensure(&c.oid)?;
                keep.insert(c.oid);
            }
            let m = crate::data::load_manifest(ws, t.oid, &t.path)?;
            for e in m.entries {
                if let EntryKind::File { oid, .. } = e.kind {
                    keep.insert(oid);
                }
            }
            Ok(())
        };
        if let Err(e) = expand(&mut keep) {
            unreadable_dirs.push(format!(
                "`{}` ({}): {}",
                t.path,
                t.oid.short(),
                crate::error::redact(&e.to_string())
            ));
        }
    }
    if !unreadable_dirs.is_empty() && !skip_unreadable {
        let count = unreadable_dirs.len();
        let mut shown = unreadable_dirs.clone();
        shown.truncate(10);
        return Err(Error::GcUnreadable { count, dirs: shown });
    }
    Ok((keep, unreadable_dirs))
}

struct Candidate {
    oid: Oid,
    size: u64,
    modified: SystemTime,
}

/// What a sweep needs to know besides the objects.
struct Sweep<'a> {
    name: &'a str,
    keep: &'a HashSet<Oid>,
    grace: std::time::Duration,
    force: bool,
    commits: u64,
    jobs: usize,
}

fn sweep(
    s: Sweep<'_>,
    all: Vec<Candidate>,
    delete: &(dyn Fn(&Oid) -> Result<()> + Sync),
) -> Result<GcReport> {
    let Sweep {
        name,
        keep,
        grace,
        force,
        commits,
        jobs,
    } = s;
    let now = SystemTime::now();
    let mut report = GcReport {
        target: name.to_string(),
        removed: force,
        commits_scanned: commits,
        ..Default::default()
    };
    let mut doomed = Vec::new();
    for c in all {
        if keep.contains(&c.oid) {
            report.kept += 1;
        } else if now.duration_since(c.modified).unwrap_or_default() < grace {
            report.recent += 1;
        } else {
            report.objects += 1;
            report.bytes += c.size;
            doomed.push(c.oid);
        }
    }
    if force {
        for r in parallel(&doomed, jobs, |o| delete(o)) {
            r?;
        }
    }
    Ok(report)
}

/// Collect garbage in the local cache. Manifests of kept directories that the cache lacks are
/// read from `remote` when one is given (else gc stops without removing anything).
pub fn gc_cache(
    ws: &Workspace,
    force: bool,
    remote: Option<&dyn Transport>,
    skip_unreadable: bool,
) -> Result<GcReport> {
    let _lock = ws.lock(&|_| {})?;
    let (targets, commits) = kept_targets(ws)?;
    let (keep, skipped) = kept_objects(ws, &targets, remote, skip_unreadable)?;
    let all = ws
        .cache
        .list()?
        .into_iter()
        .map(|oid| {
            let meta = std::fs::metadata(ws.cache.object_path(&oid));
            Candidate {
                oid,
                size: meta.as_ref().map(|m| m.len()).unwrap_or(0),
                modified: meta
                    .and_then(|m| m.modified())
                    .unwrap_or(SystemTime::UNIX_EPOCH),
            }
        })
        .collect();
    if force {
        // Manifests remembered as complete may lose objects: invalidate that knowledge first.
        ws.cache.bump_epoch()?;
    }
    let delete = |oid: &Oid| -> Result<()> {
        match std::fs::remove_file(ws.cache.object_path(oid)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(fs_err::remove_file(ws.cache.object_path(oid))
                .err()
                .unwrap_or(e)
                .into()),
        }
    };
    let s = Sweep {
        name: "cache",
        keep: &keep,
        grace: ws.config.gc_grace,
        force,
        commits,
        jobs: ws.config.jobs,
    };
    let mut report = sweep(s, all, &delete)?;
    if force {
        crate::profile::gc_local(ws, &keep)?;
    }
    report.unreadable = skipped;
    Ok(report)
}

/// Collect garbage on a remote.
pub fn gc_remote(
    ws: &Workspace,
    remote: &dyn Transport,
    force: bool,
    jobs: usize,
    skip_unreadable: bool,
) -> Result<GcReport> {
    if !remote.writable() {
        return Err(Error::Remote {
            remote: remote.name().into(),
            url: remote.url(),
            message: "this remote is read-only".into(),
            kind: crate::error::RemoteErrorKind::ReadOnly,
        });
    }
    remote.check()?;
    let (targets, commits) = kept_targets(ws)?;
    let (keep, skipped) = kept_objects(ws, &targets, Some(remote), skip_unreadable)?;
    let all = remote
        .list()?
        .into_iter()
        .map(|o| Candidate {
            oid: o.oid,
            size: o.size,
            modified: o.modified,
        })
        .collect();
    let s = Sweep {
        name: remote.name(),
        keep: &keep,
        grace: ws.config.gc_grace,
        force,
        commits,
        jobs,
    };
    // A table's profile goes with its content (and so does the note that it was pushed).
    let mut report = sweep(s, all, &|o| {
        remote.delete_named(&crate::profile::name(o))?;
        crate::profile::remote::forget_pushed(ws, remote, o)?;
        remote.delete(o)
    })?;
    report.unreadable = skipped;
    Ok(report)
}
