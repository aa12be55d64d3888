//! A repository opened for git-ml: where things are, the merged configuration, the cache, and
//! the set of tracked paths (found from their pointer files).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{Config, PROJECT_FILE};
use crate::data::cache::Cache;
use crate::data::index::StatIndex;
use crate::data::pointer::{self, Pointer};
use crate::error::{Error, Result};
use crate::lock::RepoLock;
use crate::repo::Repo;

pub struct Workspace {
    pub repo: Repo,
    pub config: Config,
    pub cache: Cache,
    /// The directory the command was run from (for resolving user paths).
    pub cwd: PathBuf,
}

/// A tracked path and its pointer file, both repo-relative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub path: String,
    pub pointer: String,
}

impl Workspace {
    /// Open the repository containing `cwd`. Does not require `git ml init`.
    pub fn open(cwd: &Path, overrides: &[String]) -> Result<Workspace> {
        let repo = Repo::discover(cwd)?;
        let config = Config::load(&repo.root, &repo.gitml_dir(), overrides)?;
        if repo.root.join(PROJECT_FILE).is_file() {
            for c in crate::init::ensure_clone_config(&repo) {
                tracing::info!("set up this clone: {c}");
            }
        }
        let cache = Cache::new(config.cache_dir.clone());
        tracing::info!(
            "repository `{}`, cache `{}`, {} jobs",
            repo.root.display(),
            config.cache_dir.display(),
            config.jobs
        );
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(config.jobs)
            .build_global();
        Ok(Workspace {
            repo,
            config,
            cache,
            cwd: cwd.to_path_buf(),
        })
    }

    /// Fail with a hint unless `gitml.toml` exists at the root.
    pub fn require_initialised(&self) -> Result<()> {
        if self.repo.root.join(PROJECT_FILE).is_file() {
            Ok(())
        } else {
            Err(Error::NotInitialised(self.repo.root.clone()))
        }
    }

    pub fn root(&self) -> &Path {
        &self.repo.root
    }

    pub fn abs(&self, rel: &str) -> PathBuf {
        self.repo.root.join(rel)
    }

    pub fn gitml_dir(&self) -> PathBuf {
        self.repo.gitml_dir()
    }

    /// The stat index is per work tree: the same relative path in two worktrees is two files.
    pub fn index_path(&self) -> PathBuf {
        self.repo.git_dir.join("gitml").join("index")
    }

    pub fn load_index(&self) -> StatIndex {
        StatIndex::load(&self.index_path())
    }

    /// Take the repository lock, waiting for another git-ml process if needed.
    pub fn lock(&self, on_wait: &dyn Fn(&str)) -> Result<RepoLock> {
        let dir = self.gitml_dir();
        fs_err::create_dir_all(&dir)?;
        RepoLock::acquire(&dir, Duration::from_secs(self.config.lock_timeout), on_wait)
    }

    /// The file-system clock, read in the git-ml dir (see [`crate::fsutil::fs_clock_ns`]).
    pub fn clock(&self) -> Result<i64> {
        let dir = self.gitml_dir();
        fs_err::create_dir_all(&dir)?;
        Ok(crate::fsutil::fs_clock_ns(&dir)?)
    }

    /// Every tracked path in the work tree, sorted. Walks the tree honouring `.gitignore`, so the
    /// (ignored) data directories themselves are never entered.
    pub fn find_tracked(&self) -> Result<Vec<Tracked>> {
        find_tracked_in(&self.repo.root)
    }

    /// Resolve user arguments (data paths or pointer paths) to tracked paths; no arguments means
    /// all of them. An argument naming a directory selects every tracked path below it.
    pub fn select_tracked(&self, args: &[PathBuf]) -> Result<Vec<Tracked>> {
        let all = self.find_tracked()?;
        if args.is_empty() {
            return Ok(all);
        }
        let mut out: Vec<Tracked> = Vec::new();
        for arg in args {
            let rel = self.repo.relativize(&self.cwd, arg)?;
            let rel = pointer::data_path(&rel).map(str::to_string).unwrap_or(rel);
            let prefix = format!("{rel}/");
            let matched: Vec<&Tracked> = all
                .iter()
                .filter(|t| t.path == rel || t.path.starts_with(&prefix))
                .collect();
            if matched.is_empty() {
                return Err(Error::NotTracked(rel));
            }
            for t in matched {
                if !out.contains(t) {
                    out.push(t.clone());
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Read and parse a pointer; a file pointer whose `size` disagrees with the object the cache
    /// holds for it is an error (a hand-edited or hostile pointer must not be shown, or checked
    /// out, as something it is not).
    pub fn read_pointer(&self, t: &Tracked) -> Result<Pointer> {
        let text = fs_err::read_to_string(self.abs(&t.pointer))?;
        let p = Pointer::parse(&text, &t.pointer)?;
        if p.kind == pointer::Kind::File
            && let Ok(meta) = std::fs::metadata(self.cache.object_path(&p.oid))
            && meta.len() != p.size
        {
            return Err(pointer::size_mismatch(
                &t.pointer,
                &text,
                "size",
                p.size,
                meta.len(),
            ));
        }
        Ok(p)
    }

    /// Refuse a tracked path whose location on disk leads out of the work tree through a
    /// symlinked parent directory.
    pub fn check_parent_inside(&self, rel: &str) -> Result<()> {
        let parent = self
            .abs(rel)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.repo.root.clone());
        if let Ok(real) = std::fs::canonicalize(&parent)
            && !real.starts_with(&self.repo.root)
        {
            return Err(Error::SymlinkEscapes {
                path: rel.to_string(),
                target: real.display().to_string(),
                scope: "the repository",
            });
        }
        Ok(())
    }
}

/// Every tracked path in the work tree at `root` (this one, or another linked worktree), sorted.
/// Walks the tree honouring `.gitignore`, so the (ignored) data directories themselves are never
/// entered.
pub fn find_tracked_in(root: &Path) -> Result<Vec<Tracked>> {
    let mut out = Vec::new();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .parents(false)
        .ignore(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(true)
        .require_git(false)
        .follow_links(false)
        .filter_entry(|e| e.file_name() != ".git")
        .build();
    for entry in walker {
        let entry = entry.map_err(|e| Error::Other(format!("walking the work tree: {e}")))?;
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Some(name) = entry.file_name().to_str() else {
            continue;
        };
        if !name.ends_with(pointer::SUFFIX) || name.contains(crate::fsutil::TMP_MARKER) {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let Some(rel) = rel.to_str() else { continue };
        if let Some(data) = pointer::data_path(rel) {
            out.push(Tracked {
                path: data.to_string(),
                pointer: rel.to_string(),
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    check_nesting(&out)?;
    Ok(out)
}

/// Refuse pointers of which one would be inside the other's data (`q.gitml` and `q/r.gitml`):
/// materialising either would delete or overwrite the other, and with it a file git tracks.
/// `tracked` is sorted by path, so an enclosing path comes right before what it encloses (or
/// before other paths sharing its prefix, which the scan passes over).
pub fn check_nesting(tracked: &[Tracked]) -> Result<()> {
    let mut open: Vec<&Tracked> = Vec::new();
    for t in tracked {
        while let Some(outer) = open.last() {
            if t.path.starts_with(&format!("{}/", outer.path)) {
                return Err(Error::ConflictingPointers {
                    outer: outer.pointer.clone(),
                    inner: t.pointer.clone(),
                });
            }
            if t.path.starts_with(&outer.path) {
                break;
            }
            open.pop();
        }
        open.push(t);
    }
    Ok(())
}
