//! Finding the git repository we run in: the work tree, the git dir and the common dir.
//!
//! Discovery is done here rather than by spawning `git rev-parse` because it runs on every
//! command, and `git ml status` must cost little more than `git status`. It honours `GIT_DIR` and
//! `GIT_WORK_TREE` (set when git runs us from a hook or with `--git-dir`), `.git` files (linked
//! worktrees, submodules) and the `commondir` file, so worktrees share one cache.

use std::path::{Component, Path, PathBuf};

use fs_err as fs;

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct Repo {
    /// Top of the work tree, canonical.
    pub root: PathBuf,
    /// This work tree's git dir (`.git`, or `.git/worktrees/NAME`).
    pub git_dir: PathBuf,
    /// The dir shared by all work trees; the cache and index live under it.
    pub common_dir: PathBuf,
}

impl Repo {
    /// Discover the repository containing `cwd`, honouring `GIT_DIR`/`GIT_WORK_TREE`.
    pub fn discover(cwd: &Path) -> Result<Repo> {
        let cwd = fs::canonicalize(cwd)?;
        if let Some(git_dir) = std::env::var_os("GIT_DIR").filter(|v| !v.is_empty()) {
            let git_dir = fs::canonicalize(cwd.join(git_dir))?;
            let root = match std::env::var_os("GIT_WORK_TREE").filter(|v| !v.is_empty()) {
                Some(wt) => fs::canonicalize(cwd.join(wt))?,
                // As git does: with GIT_DIR and no work tree given, the work tree is the parent
                // of a `.git` dir, or else the current directory.
                None if git_dir.file_name().is_some_and(|n| n == ".git") => {
                    git_dir.parent().unwrap_or(&cwd).to_path_buf()
                }
                None => cwd.clone(),
            };
            let common_dir = common_dir_of(&git_dir)?;
            return Ok(Repo {
                root,
                git_dir,
                common_dir,
            });
        }
        let mut dir = cwd.as_path();
        loop {
            let dot_git = dir.join(".git");
            if let Ok(meta) = std::fs::metadata(&dot_git) {
                let git_dir = if meta.is_dir() {
                    dot_git
                } else {
                    read_gitfile(&dot_git)?
                };
                let common_dir = common_dir_of(&git_dir)?;
                return Ok(Repo {
                    root: dir.to_path_buf(),
                    git_dir,
                    common_dir,
                });
            }
            if dir.join("HEAD").is_file()
                && dir.join("objects").is_dir()
                && dir.join("refs").is_dir()
            {
                return Err(Error::BareRepo(dir.to_path_buf()));
            }
            match dir.parent() {
                Some(parent) => dir = parent,
                None => return Err(Error::NotARepo(cwd)),
            }
        }
    }

    /// `<common dir>/gitml`: cache, index, lock and machine-local config.
    pub fn gitml_dir(&self) -> PathBuf {
        self.common_dir.join("gitml")
    }

    /// Turn a user-supplied path (relative to `cwd`, or absolute) into a repo-relative path with
    /// `/` separators, refusing anything outside the work tree or inside `.git`.
    pub fn relativize(&self, cwd: &Path, user_path: &Path) -> Result<String> {
        let joined = if user_path.is_absolute() {
            user_path.to_path_buf()
        } else {
            cwd.join(user_path)
        };
        let normal = normalize(&joined);
        // Resolve symlinks in the parent (not the last component: that may be a link we must
        // refuse, or may not exist yet).
        let resolved = match (normal.parent(), normal.file_name()) {
            (Some(parent), Some(name)) => match std::fs::canonicalize(parent) {
                Ok(p) => p.join(name),
                Err(_) => normal.clone(),
            },
            _ => normal.clone(),
        };
        let rel = resolved
            .strip_prefix(&self.root)
            .map_err(|_| Error::OutsideRepo {
                path: user_path.to_path_buf(),
                root: self.root.clone(),
            })?;
        if rel.as_os_str().is_empty() {
            return Err(Error::RepoRoot(self.root.clone()));
        }
        if resolved.starts_with(&self.git_dir)
            || resolved.starts_with(&self.common_dir)
            || rel
                .components()
                .next()
                .is_some_and(|c| c.as_os_str() == ".git")
        {
            return Err(Error::InGitDir(user_path.to_path_buf()));
        }
        let s = rel.to_str().ok_or_else(|| {
            Error::Other(format!(
                "`{}` is not valid UTF-8; git-ml needs UTF-8 paths",
                rel.display()
            ))
        })?;
        Ok(s.to_string())
    }
}

/// Lexical normalisation: drop `.`, resolve `..` against earlier components.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn read_gitfile(dot_git: &Path) -> Result<PathBuf> {
    let text = fs::read_to_string(dot_git)?;
    let target = text
        .trim()
        .strip_prefix("gitdir:")
        .map(str::trim)
        .ok_or_else(|| {
            Error::Other(format!(
                "`{}` is a file but not a `gitdir:` link",
                dot_git.display()
            ))
        })?;
    let base = dot_git.parent().unwrap_or(Path::new("/"));
    Ok(fs::canonicalize(base.join(target))?)
}

fn common_dir_of(git_dir: &Path) -> Result<PathBuf> {
    if let Ok(s) = std::env::var("GIT_COMMON_DIR")
        && !s.is_empty()
    {
        return Ok(fs::canonicalize(s)?);
    }
    match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(text) => Ok(fs::canonicalize(git_dir.join(text.trim()))?),
        Err(_) => Ok(git_dir.to_path_buf()),
    }
}
