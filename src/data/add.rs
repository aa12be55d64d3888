//! `git ml add`: store files and directories in the cache and write their pointers.
//!
//! The user's working copy is only read, never moved or rewritten, so `add` cannot lose data
//! whatever happens to it. The pointer is written last, after every object it names is in the
//! cache.

use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;

use crate::data::gitignore;
use crate::data::index::StatIndex;
use crate::data::pointer::{self, Kind, Pointer};
use crate::data::scan::{self, Hashing, Work};
use crate::error::{Error, Result};
use crate::oid::Oid;
use crate::progress::Progress;
use crate::workspace::Workspace;

#[derive(Debug, Serialize)]
pub struct Added {
    pub path: String,
    pub pointer: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    pub oid: Oid,
    pub size: u64,
    pub files: u64,
    /// False when the pointer already said exactly this.
    pub changed: bool,
    /// `.gitignore` file edited to ignore the path, if any.
    pub gitignore: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AddReport {
    pub added: Vec<Added>,
    /// Files read and hashed (the rest were known unchanged from the stat index).
    pub hashed_files: u64,
    pub hashed_bytes: u64,
    pub warnings: Vec<String>,
}

pub fn add(ws: &Workspace, paths: &[PathBuf], progress: &dyn Progress) -> Result<AddReport> {
    add_with(ws, paths, progress, &AddContext::default())
}

/// What a caller adding many times in a row (the pipeline, once per stage) already knows.
#[derive(Default)]
pub struct AddContext<'a> {
    /// Tracked paths, when the caller listed them already (saves a walk of the work tree).
    pub tracked: Option<&'a [crate::workspace::Tracked]>,
    /// A file-system clock read earlier (an earlier clock only makes more files "racy").
    pub clock: Option<i64>,
    /// Skip the `git ls-files` check for paths git itself tracks.
    pub no_git_warnings: bool,
}

pub fn add_with(
    ws: &Workspace,
    paths: &[PathBuf],
    progress: &dyn Progress,
    ctx: &AddContext<'_>,
) -> Result<AddReport> {
    ws.require_initialised()?;
    let mut rels = Vec::new();
    for p in paths {
        let rel = ws.repo.relativize(&ws.cwd, p)?;
        if rel.chars().any(|c| c.is_control()) {
            // `.gitignore` is line-based: a newline would split the pattern into two, leaving the
            // data unignored and ignoring something else. git-ml refuses such names, as it
            // refuses non-UTF-8 ones (files with them inside a tracked directory are fine).
            return Err(Error::Other(format!(
                "`{}` has a control character (newline, tab, escape) in its name; rename it to track it, or track a directory that contains it",
                crate::text::escape_control(&rel)
            )));
        }
        if rel.ends_with(pointer::SUFFIX) {
            return Err(Error::ReservedName(rel));
        }
        if rel == crate::config::PROJECT_FILE || rel == "gitml.lock" {
            return Err(Error::Other(format!(
                "`{rel}` is git-ml's own file and must stay in git"
            )));
        }
        ws.check_parent_inside(&rel)?;
        if !rels.contains(&rel) {
            rels.push(rel);
        }
    }
    let _lock = ws.lock(&|holder| progress.message(&format!("waiting for {holder} to finish")))?;
    let listed;
    let tracked: &[crate::workspace::Tracked] = match ctx.tracked {
        Some(t) => t,
        None => {
            listed = ws.find_tracked()?;
            &listed
        }
    };
    for rel in &rels {
        let mut ancestor = rel.as_str();
        while let Some((parent, _)) = ancestor.rsplit_once('/') {
            if ws.abs(&pointer::pointer_path(parent)).is_file() {
                return Err(Error::InsideTracked {
                    path: rel.clone(),
                    parent: parent.to_string(),
                });
            }
            ancestor = parent;
        }
        let prefix = format!("{rel}/");
        if let Some(inner) = tracked.iter().find(|t| t.path.starts_with(&prefix)) {
            return Err(Error::ContainsTracked {
                path: rel.clone(),
                inner: inner.path.clone(),
            });
        }
    }

    ws.cache.sweep_temps();
    let clock = match ctx.clock {
        Some(c) => c,
        None => ws.clock()?,
    };
    let index = ws.load_index();
    let learned = Mutex::new(StatIndex::default());
    let mut report = AddReport {
        added: Vec::new(),
        hashed_files: 0,
        hashed_bytes: 0,
        warnings: Vec::new(),
    };
    let result = (|| -> Result<()> {
        for rel in &rels {
            let added = add_one(ws, rel, &index, &learned, clock, progress)?;
            report.added.push(added);
        }
        Ok(())
    })();
    // Keep what was learned even if a later path failed: it saves re-hashing next time.
    let learned = learned.into_inner().expect("index updates");
    let (files, bytes) = learned.summary();
    report.hashed_files = files;
    report.hashed_bytes = bytes;
    let mut index = index;
    index.absorb(&learned);
    index.save()?;
    result?;
    if !ctx.no_git_warnings {
        report.warnings.extend(git_tracked_warnings(ws, &rels));
    }
    Ok(report)
}

fn add_one(
    ws: &Workspace,
    rel: &str,
    index: &StatIndex,
    learned: &Mutex<StatIndex>,
    clock: i64,
    progress: &dyn Progress,
) -> Result<Added> {
    let abs = ws.abs(rel);
    let resolver = scan::Resolver {
        index,
        learned,
        cache: &ws.cache,
        mode: Hashing::Store,
        clock_ns: clock,
        progress,
    };
    let (kind, oid, size, files, executable) = match scan::scan(&abs, rel, &ws.cache)? {
        Work::Missing => return Err(Error::NotFound(PathBuf::from(rel))),
        Work::Other("symlink") => {
            return Err(Error::SymlinkRoot {
                path: rel.to_string(),
            });
        }
        Work::Other(_) => {
            return Err(Error::UnsupportedFileType {
                path: rel.to_string(),
            });
        }
        Work::File(stat) => {
            let files = [(String::new(), stat)];
            let oids = resolver.resolve_files(&files, rel, &abs)?;
            let (oid, stat) = oids[0];
            (Kind::File, oid, stat.size, 0, stat.executable)
        }
        Work::Dir(entries, _) => {
            let (manifest, trusted) = resolver.dir_manifest(&entries, rel, &abs)?;
            let objects = manifest.to_objects();
            for (_, bytes) in &objects.chunks {
                ws.cache.insert_bytes(bytes)?;
            }
            let root = ws.cache.insert_bytes(&objects.root)?;
            debug_assert_eq!(root, objects.root_oid);
            // Every object of this manifest was just stored or found present.
            let mut known = learned.lock().expect("index updates");
            known.mark_complete(root, ws.cache.epoch());
            if trusted {
                known.record_dir(rel.to_string(), root, scan::shape(&entries));
            }
            drop(known);
            (
                Kind::Dir,
                objects.root_oid,
                manifest.size(),
                manifest.files(),
                false,
            )
        }
    };
    let ptr = Pointer {
        kind,
        oid,
        size,
        files,
        executable,
    };
    let pointer_rel = pointer::pointer_path(rel);
    let pointer_abs = ws.abs(&pointer_rel);
    let unchanged = std::fs::read_to_string(&pointer_abs)
        .ok()
        .and_then(|t| Pointer::parse(&t, &pointer_rel).ok())
        .is_some_and(|old| old == ptr);
    if !unchanged {
        crate::fsutil::atomic_write(&pointer_abs, ptr.to_toml().as_bytes(), 0o644)?;
    }
    let gitignore = gitignore::ensure(ws.root(), rel)?;
    Ok(Added {
        path: rel.to_string(),
        pointer: pointer_rel,
        kind,
        oid,
        size,
        files,
        changed: !unchanged,
        gitignore,
    })
}

/// Paths that git itself already tracks would stay in git despite the `.gitignore` line.
fn git_tracked_warnings(ws: &Workspace, rels: &[String]) -> Vec<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(ws.root())
        .args(["ls-files", "-z", "--cached", "--"])
        .args(rels)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    let Ok(out) = out else { return Vec::new() };
    let listed = String::from_utf8_lossy(&out.stdout);
    rels.iter()
        .filter(|rel| listed.split('\0').any(|f| f == rel.as_str() || f.starts_with(&format!("{rel}/"))))
        .map(|rel| {
            format!("`{rel}` is also tracked by git itself; run `git rm -r --cached -- {}` so only its pointer is committed", crate::text::shell_quote(rel))
        })
        .collect()
}
