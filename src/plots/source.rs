//! Where plot files come from: the working tree, or the tree of a commit — and, inside outputs
//! git-ml tracks (`eval/` tracked, `eval/plots/roc.json` inside it), through the pointer, the
//! cache and the default remote ([`crate::record::at::Reader`]).
//!
//! The invariant: [`read_at`] is the one way a plot file's bytes are read, and [`list_at`] the one
//! way a declared path is listed, so every rule about what may be read (size limit, no symlink
//! out of the repository, files inside git-ml-tracked outputs) lives here.

use std::path::Path;

use super::parse::{MAX_FILE_BYTES, Problem};
use crate::data::pointer;
use crate::git;
use crate::record::at::Reader;
use crate::workspace::Workspace;

/// A directory plot lists at most this many files.
pub const MAX_DIR_FILES: usize = 1000;

/// What a declared path is at one revision.
#[derive(Debug, Clone, PartialEq)]
pub enum Listing {
    File,
    /// Repo-relative paths of the files below it, sorted.
    Dir(Vec<String>),
    /// Not there; the note says why when we know more (inside a tracked output).
    Missing(Option<String>),
}

fn git_problem(e: crate::Error) -> Problem {
    let p = Problem::new(e.to_string());
    match e.hint() {
        Some(h) => p.hint(h),
        None => p,
    }
}

/// List `path` in the working tree (`commit` is `None`) or in `commit`'s tree.
pub fn list_at(
    ws: &Workspace,
    batch: &mut Reader<'_>,
    commit: Option<&str>,
    path: &str,
) -> Result<Listing, Problem> {
    match commit {
        None => match list_worktree(ws, path)? {
            Listing::Missing(_) if batch.is_tracked_data(None, path).map_err(git_problem)? => {
                list_tracked(batch, None, path)
            }
            other => Ok(other),
        },
        Some(c) => {
            let entries = ls_tree(ws.root(), c, path).map_err(git_problem)?;
            if entries.iter().any(|e| e.path == path && !e.is_tree()) {
                return Ok(Listing::File);
            }
            let prefix = format!("{path}/");
            let mut files: Vec<String> = entries
                .into_iter()
                .filter(|e| e.path.starts_with(&prefix) && e.is_file_like())
                .map(|e| e.path)
                .filter(|p| listable(p))
                .collect();
            if files.is_empty() {
                if batch.is_tracked_data(Some(c), path).map_err(git_problem)? {
                    return list_tracked(batch, Some(c), path);
                }
                return Ok(Listing::Missing(None));
            }
            if files.len() > MAX_DIR_FILES {
                return Err(too_many(path));
            }
            files.sort();
            Ok(Listing::Dir(files))
        }
    }
}

/// The bytes of the plot file `path` in the working tree (`commit` is `None`) or in `commit`'s
/// tree; `None` if it is not there. Refuses files over [`MAX_FILE_BYTES`], paths that resolve out
/// of the work tree or into the git directory (working tree) and symlinks in commits, before
/// reading them.
pub fn read_at(
    ws: &Workspace,
    batch: &mut Reader<'_>,
    commit: Option<&str>,
    path: &str,
) -> Result<Option<Vec<u8>>, Problem> {
    match commit {
        None => match read_worktree(ws, path)? {
            // Inside tracked data that is not checked out: through the pointer and the cache.
            None if batch.is_tracked_data(None, path).map_err(git_problem)? => {
                batch.file(None, path).map_err(git_problem)
            }
            other => Ok(other),
        },
        Some(c) => {
            let entries = ls_tree(ws.root(), c, path).map_err(git_problem)?;
            let Some(entry) = entries.into_iter().find(|e| e.path == path) else {
                // Inside a tracked output: the commit's pointer names it (verified, size-capped).
                if batch.is_tracked_data(Some(c), path).map_err(git_problem)? {
                    return batch.file(Some(c), path).map_err(git_problem);
                }
                return Ok(None);
            };
            if entry.mode == "120000" {
                return Err(Problem::new(
                    "is a symlink in this commit; plots are read from regular files",
                )
                .hint("commit the file itself instead of a link to it"));
            }
            if !entry.is_file_like() {
                return Ok(None);
            }
            check_size(entry.size)?;
            batch.batch.file(c, path).map_err(git_problem)
        }
    }
}

fn check_size(size: u64) -> Result<(), Problem> {
    if size > MAX_FILE_BYTES {
        return Err(Problem::new(format!(
            "is {size} bytes, more than the {} MiB limit for plot files",
            MAX_FILE_BYTES >> 20
        ))
        .hint("write fewer points (a plot needs a few thousand at most), or plot a summary of the data"));
    }
    Ok(())
}

fn too_many(path: &str) -> Problem {
    Problem::new(format!(
        "`{path}` holds more than {MAX_DIR_FILES} files; a plot directory holds plot files"
    ))
    .hint("declare the plot files themselves, or a narrower directory")
}

/// Names a directory listing skips: hidden files, pointer files and git-ml's temporary files.
fn listable(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    !name.starts_with('.')
        && !name.ends_with(pointer::SUFFIX)
        && !name.contains(crate::fsutil::TMP_MARKER)
        && !path.split('/').any(|c| c.starts_with('.'))
}

fn list_worktree(ws: &Workspace, path: &str) -> Result<Listing, Problem> {
    let abs = ws.abs(path);
    let meta = match std::fs::metadata(&abs) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Listing::Missing(None));
        }
        Err(e) => return Err(Problem::new(format!("cannot read it: {e}"))),
    };
    if !meta.is_dir() {
        return Ok(Listing::File);
    }
    check_inside(ws, &abs)?;
    let mut files = Vec::new();
    walk(&abs, path, &mut files)?;
    files.sort();
    Ok(Listing::Dir(files))
}

/// Files below `dir` (repo-relative `rel`), not following directory symlinks.
fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) -> Result<(), Problem> {
    let entries = fs_err::read_dir(dir).map_err(|e| Problem::new(e.to_string()))?;
    for entry in entries {
        let entry = entry.map_err(|e| Problem::new(format!("listing `{rel}`: {e}")))?;
        // Names that are not UTF-8 cannot be named in a plot; they are skipped.
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let child = format!("{rel}/{name}");
        if !listable(&child) {
            continue;
        }
        let kind = entry
            .file_type()
            .map_err(|e| Problem::new(format!("listing `{rel}`: {e}")))?;
        if kind.is_dir() {
            walk(&entry.path(), &child, out)?;
        } else if kind.is_file() || kind.is_symlink() {
            out.push(child);
            if out.len() > MAX_DIR_FILES {
                return Err(too_many(rel));
            }
        }
    }
    Ok(())
}

fn read_worktree(ws: &Workspace, path: &str) -> Result<Option<Vec<u8>>, Problem> {
    let abs = ws.abs(path);
    match std::fs::symlink_metadata(&abs) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Problem::new(format!("cannot read it: {e}"))),
    }
    check_inside(ws, &abs)?;
    let meta = std::fs::metadata(&abs).map_err(|e| Problem::new(format!("cannot read it: {e}")))?;
    if !meta.is_file() {
        return Err(Problem::new("is not a regular file"));
    }
    check_size(meta.len())?;
    fs_err::read(&abs)
        .map(Some)
        .map_err(|e| Problem::new(e.to_string()))
}

/// Refuse a path that resolves (through symlinks in it or in a parent directory) to a place
/// outside the work tree, or into the git directory: a report must never show a file from
/// elsewhere on the machine, or git's config. The cache is allowed: that is where
/// `cache.link = ["symlink"]` points tracked outputs.
fn check_inside(ws: &Workspace, abs: &Path) -> Result<(), Problem> {
    let target = std::fs::canonicalize(abs).map_err(|e| {
        Problem::new(format!("is a symlink that cannot be followed: {e}"))
            .hint("replace the link with the file")
    })?;
    let under = |base: &Path| std::fs::canonicalize(base).is_ok_and(|b| target.starts_with(b));
    if under(ws.cache.root()) {
        return Ok(());
    }
    if under(&ws.repo.git_dir) || under(&ws.repo.common_dir) {
        return Err(Problem::new(
            "leads into the git directory (through a symlink); plots are read from the work tree",
        )
        .hint("replace the link with the file"));
    }
    if !under(ws.root()) {
        return Err(Problem::new(format!(
            "is a symlink to `{}`, outside the repository (or inside a linked directory); plots are only read from inside it",
            target.display()
        ))
        .hint("replace the link with the file"));
    }
    Ok(())
}

/// List `path` inside tracked data at `commit` (the working tree's pointers for `None`): a file,
/// or the files below it, from the manifest.
fn list_tracked(
    batch: &mut Reader<'_>,
    commit: Option<&str>,
    path: &str,
) -> Result<Listing, Problem> {
    let files = batch.list(commit, path).map_err(git_problem)?;
    if files.iter().any(|f| f == path) {
        return Ok(Listing::File);
    }
    let prefix = format!("{path}/");
    let files: Vec<String> = files
        .into_iter()
        .filter(|f| f.starts_with(&prefix) && listable(f))
        .collect();
    if files.is_empty() {
        let note = batch.warnings.last().map(|w| w.message.clone());
        return Ok(Listing::Missing(note));
    }
    if files.len() > MAX_DIR_FILES {
        return Err(too_many(path));
    }
    Ok(Listing::Dir(files))
}

/// One entry of `git ls-tree -r -l`.
struct TreeEntry {
    mode: String,
    kind: String,
    size: u64,
    path: String,
}

impl TreeEntry {
    fn is_tree(&self) -> bool {
        self.kind == "tree"
    }

    fn is_file_like(&self) -> bool {
        self.kind == "blob"
    }
}

/// The blobs at or below `path` in `commit` (paths taken literally, never as patterns).
fn ls_tree(root: &Path, commit: &str, path: &str) -> crate::Result<Vec<TreeEntry>> {
    let out = git::run(
        root,
        &[
            "--literal-pathspecs",
            "ls-tree",
            "-r",
            "-l",
            "-z",
            "--full-tree",
            commit,
            "--",
            path,
        ],
    )?;
    let mut entries = Vec::new();
    for record in out.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let text = String::from_utf8_lossy(record);
        let Some((meta, name)) = text.split_once('\t') else {
            continue;
        };
        let mut f = meta.split_whitespace();
        let (Some(mode), Some(kind), Some(_oid), Some(size)) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        entries.push(TreeEntry {
            mode: mode.to_string(),
            kind: kind.to_string(),
            size: size.parse().unwrap_or(0),
            path: name.to_string(),
        });
    }
    Ok(entries)
}
