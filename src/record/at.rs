//! Reading a revision's files, wherever they live: in the git tree, or inside data git-ml tracks
//! (a metrics file inside a tracked `eval/` output, as DVC projects keep them), through the
//! revision's committed pointer, the cache and, for the few objects the cache lacks, the default
//! remote.
//!
//! The invariant: bytes returned for a tracked file are the object its pointer names, verified by
//! hash; a file that cannot be had (no object, no remote) is `None` with a warning that says how to
//! get it, never an error that hides the revision's other values.

use std::collections::HashMap;

use crate::data::manifest::{EntryKind, Manifest};
use crate::data::pointer::{Kind, Pointer};
use crate::error::{Error, Result};
use crate::git;
use crate::oid::Oid;
use crate::record::Warning;
use crate::remote::Transport;
use crate::workspace::Workspace;

/// Files larger than this are not read into memory as metrics, params or plot files.
pub const MAX_FILE: u64 = 64 * 1024 * 1024;

enum RemoteSlot {
    Untried,
    Open(Box<dyn Transport>),
    Unavailable,
}

/// Reads files at revisions (or the working tree) through one `git cat-file --batch`.
pub struct Reader<'a> {
    pub ws: &'a Workspace,
    pub batch: git::Batch,
    remote: RemoteSlot,
    manifests: HashMap<Oid, std::rc::Rc<Manifest>>,
    worktree_pointers: Option<Vec<(String, Pointer)>>,
    /// Problems met while reading (a missing object, no remote), for the caller to show.
    pub warnings: Vec<Warning>,
}

impl<'a> Reader<'a> {
    pub fn new(ws: &'a Workspace) -> Result<Reader<'a>> {
        Ok(Reader {
            ws,
            batch: git::Batch::new(ws.root())?,
            remote: RemoteSlot::Untried,
            manifests: HashMap::new(),
            worktree_pointers: None,
            warnings: Vec::new(),
        })
    }

    /// The pointers of a side: the working tree's (`None`) or those committed at `commit`.
    pub fn pointers(&mut self, commit: Option<&str>) -> Result<Vec<(String, Pointer)>> {
        match commit {
            Some(c) => Ok(self
                .batch
                .pointers(c, &[])?
                .into_iter()
                .map(|p| (p.path, p.pointer))
                .collect()),
            None => {
                if self.worktree_pointers.is_none() {
                    let mut out = Vec::new();
                    for t in self.ws.find_tracked()? {
                        out.push((t.path.clone(), self.ws.read_pointer(&t)?));
                    }
                    self.worktree_pointers = Some(out);
                }
                Ok(self.worktree_pointers.clone().unwrap_or_default())
            }
        }
    }

    /// The bytes of `path` at `commit` (`None`: the working tree). A path git has is read from
    /// git (or the disk); one inside tracked data through the pointer. `None` if neither has it.
    pub fn file(&mut self, commit: Option<&str>, path: &str) -> Result<Option<Vec<u8>>> {
        match commit {
            None => {
                let abs = self.ws.abs(path);
                if let Ok(meta) = std::fs::metadata(&abs)
                    && meta.is_file()
                {
                    if meta.len() > MAX_FILE {
                        return Err(too_big(path, meta.len()));
                    }
                    return Ok(Some(fs_err::read(&abs)?));
                }
            }
            Some(c) => {
                if let Some(bytes) = self.batch.file(c, path)? {
                    return Ok(Some(bytes));
                }
            }
        }
        let Some((oid, size)) = self.tracked_file(commit, path)? else {
            // A commit from before `git ml import dvc`: a file DVC cached, from the DVC cache.
            if let Some(c) = commit {
                return super::dvc_era::file(&mut self.batch, c, path);
            }
            return Ok(None);
        };
        if size > MAX_FILE {
            return Err(too_big(path, size));
        }
        self.object(&oid, path, commit)
    }

    /// The object and size of `path` when it is, or lies inside, data tracked at `commit`.
    fn tracked_file(&mut self, commit: Option<&str>, path: &str) -> Result<Option<(Oid, u64)>> {
        for (data, p) in self.pointers(commit)? {
            if data == path && p.kind == Kind::File {
                return Ok(Some((p.oid, p.size)));
            }
            if p.kind == Kind::Dir
                && let Some(rel) = path.strip_prefix(&format!("{data}/"))
            {
                let Some(m) = self.manifest(&p.oid, &data, commit)? else {
                    return Ok(None);
                };
                return Ok(m.entries.iter().find_map(|e| match &e.kind {
                    EntryKind::File { oid, size, .. } if e.path == rel => Some((*oid, *size)),
                    _ => None,
                }));
            }
        }
        Ok(None)
    }

    /// Files below `dir` at `commit` (repo-relative paths, sorted): from git's tree or the
    /// working tree's directory, and from tracked data that is, or lies below, `dir`.
    pub fn list(&mut self, commit: Option<&str>, dir: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        match commit {
            Some(c) => {
                let listed = git::run(
                    self.ws.root(),
                    &["ls-tree", "-r", "-z", "--name-only", c, "--", dir],
                )
                .unwrap_or_default();
                for name in listed.split(|&b| b == 0).filter(|n| !n.is_empty()) {
                    let name = String::from_utf8_lossy(name).into_owned();
                    if !name.ends_with(crate::data::pointer::SUFFIX) {
                        out.push(name);
                    }
                }
            }
            None => {
                let root = self.ws.abs(dir);
                if root.is_dir() {
                    for e in walk(&root) {
                        if let Ok(rel) = e.strip_prefix(self.ws.root())
                            && let Some(rel) = rel.to_str()
                            && !rel.ends_with(crate::data::pointer::SUFFIX)
                        {
                            out.push(rel.to_string());
                        }
                    }
                }
            }
        }
        let prefix = format!("{dir}/");
        for (data, p) in self.pointers(commit)? {
            let inside = data == dir || data.starts_with(&prefix);
            let contains = dir.starts_with(&format!("{data}/"));
            if !(inside || contains) {
                continue;
            }
            match p.kind {
                Kind::File => out.push(data.clone()),
                Kind::Dir => {
                    if let Some(m) = self.manifest(&p.oid, &data, commit)? {
                        for e in &m.entries {
                            if matches!(e.kind, EntryKind::File { .. }) {
                                let full = format!("{data}/{}", e.path);
                                if full == dir || full.starts_with(&prefix) {
                                    out.push(full);
                                }
                            }
                        }
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The digest git-ml gives `path` at `commit` when it is, or lies inside, tracked data: the
    /// pointer's oid, an entry's oid, or the manifest of a subdirectory of a tracked directory.
    /// `None` when the path is not tracked data there (or its manifest cannot be had).
    pub fn data_digest(&mut self, commit: Option<&str>, path: &str) -> Result<Option<Oid>> {
        for (data, p) in self.pointers(commit)? {
            if data == path {
                return Ok(Some(p.oid));
            }
            if p.kind == Kind::Dir
                && let Some(rel) = path.strip_prefix(&format!("{data}/"))
            {
                let Some(m) = self.manifest(&p.oid, &data, commit)? else {
                    return Ok(None);
                };
                if let Some(e) = m.entries.iter().find(|e| e.path == rel)
                    && let EntryKind::File { oid, .. } = e.kind
                {
                    return Ok(Some(oid));
                }
                let sub = format!("{rel}/");
                let entries: Vec<crate::data::manifest::Entry> = m
                    .entries
                    .iter()
                    .filter_map(|e| {
                        e.path
                            .strip_prefix(&sub)
                            .map(|r| crate::data::manifest::Entry {
                                path: r.to_string(),
                                kind: e.kind.clone(),
                            })
                    })
                    .collect();
                if entries.is_empty() {
                    return Ok(None);
                }
                return Ok(Some(Manifest::new(entries).to_objects().root_oid));
            }
        }
        Ok(None)
    }

    /// Whether `path` is, or lies inside, data tracked at `commit`.
    pub fn is_tracked_data(&mut self, commit: Option<&str>, path: &str) -> Result<bool> {
        Ok(self
            .pointers(commit)?
            .iter()
            .any(|(data, _)| data == path || path.starts_with(&format!("{data}/"))))
    }

    /// A directory's manifest, fetching its root and chunks from the default remote when the
    /// cache lacks them.
    fn manifest(
        &mut self,
        root: &Oid,
        path: &str,
        commit: Option<&str>,
    ) -> Result<Option<std::rc::Rc<Manifest>>> {
        if let Some(m) = self.manifests.get(root) {
            return Ok(Some(m.clone()));
        }
        if !self.ensure(root, path, commit)? {
            return Ok(None);
        }
        let bytes = self.ws.cache.read_verified(root)?;
        for c in Manifest::chunk_refs(*root, &bytes)? {
            if !self.ensure(&c.oid, path, commit)? {
                return Ok(None);
            }
        }
        let m = std::rc::Rc::new(crate::data::load_manifest(self.ws, *root, path)?);
        self.manifests.insert(*root, m.clone());
        Ok(Some(m))
    }

    /// A verified object's bytes, fetched when the cache lacks it.
    fn object(&mut self, oid: &Oid, path: &str, commit: Option<&str>) -> Result<Option<Vec<u8>>> {
        if !self.ensure(oid, path, commit)? {
            return Ok(None);
        }
        Ok(Some(self.ws.cache.read_verified(oid)?))
    }

    /// Make sure the cache holds `oid`, fetching it (verified) from the default remote; false,
    /// with a warning, when that is not possible.
    fn ensure(&mut self, oid: &Oid, path: &str, commit: Option<&str>) -> Result<bool> {
        if self.ws.cache.contains(oid) {
            return Ok(true);
        }
        if matches!(self.remote, RemoteSlot::Untried) {
            self.remote = match crate::remote::choose(&self.ws.config, None)
                .and_then(|spec| crate::remote::open(&spec, self.ws.root(), &self.ws.config))
            {
                Ok(r) => RemoteSlot::Open(r),
                Err(_) => RemoteSlot::Unavailable,
            };
        }
        let at = commit.map_or("the working tree".to_string(), |c| {
            c[..12.min(c.len())].to_string()
        });
        let fetched = match &self.remote {
            RemoteSlot::Open(r) => match r.get(oid, &self.ws.cache, &|_| {}) {
                Ok(_) => true,
                Err(e) => {
                    self.warnings.push(Warning {
                        message: format!(
                            "`{path}` (at {at}) is in tracked data whose object {} could not be fetched from `{}`: {}",
                            oid.short(),
                            r.name(),
                            crate::error::redact(&e.to_string())
                        ),
                    });
                    false
                }
            },
            _ => {
                self.warnings.push(Warning {
                    message: format!(
                        "`{path}` (at {at}) is in tracked data that is not in the cache, and there is no remote to fetch it from; `git ml pull` (or `git ml fetch --rev REV`) gets it"
                    ),
                });
                false
            }
        };
        Ok(fetched)
    }
}

fn too_big(path: &str, size: u64) -> Error {
    Error::Metrics {
        file: path.to_string(),
        message: format!(
            "{size} bytes; metrics, params and plot files over {} MiB are not read",
            MAX_FILE / (1024 * 1024)
        ),
    }
}

/// Every file below `dir` (no symlinks followed).
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => out.push(e.path()),
                _ => {}
            }
        }
    }
    out
}
