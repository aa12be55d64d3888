//! `git ml import dvc`: a DVC repository becomes a git-ml one, in place.
//!
//! `.dvc` files and the cached outputs in `dvc.lock` become pointers; their content comes from
//! the DVC cache (hard-linked when the cache allows it, so a 100 GB cache is not copied) or the
//! work tree, and is checked against DVC's md5 before it is stored. `dvc.yaml` stages become
//! `[stages.*]`; a stage that DVC finds up to date gets a `gitml.lock` entry computed by the
//! pipeline's own digest code, so `git ml run` right after the import runs nothing. Remotes,
//! metrics, params, plots and model artifacts are carried over; what has no git-ml equivalent is
//! reported with where it was and why. `gitml-dvc.toml` remembers DVC's md5 for each pointer, so
//! `git ml fetch --from-dvc-remote` can read the old remote.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use serde::Serialize;
use toml_edit::{Array, DocumentMut, Item, Table, value};

use super::NotConverted;
use std::os::unix::fs::MetadataExt;

use crate::data::cache::{Placed, SMALL_FILE};
use crate::data::index::{Stat, StatIndex};
use crate::data::manifest::{Entry as MEntry, EntryKind, Manifest};
use crate::data::pointer::{self, Kind, Pointer};
use crate::dvc::config::DvcConfig;
use crate::dvc::files::{self, DirEntry, Entry, LockStage};
use crate::dvc::md5::{self as dmd5, Md5Check};
use crate::dvc::pipeline::{self as dp, Field, Param};
use crate::dvc::{join_dir, join_inside, object_path, parent};
use crate::error::{Error, Result};
use crate::oid::Oid;
use crate::progress::Progress;
use crate::workspace::Workspace;

/// The file that keeps DVC's names for imported content (committed).
pub const MAP_FILE: &str = "gitml-dvc.toml";

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Print the plan; read and write nothing but the DVC metadata.
    pub dry_run: bool,
    /// Leave DVC's files in place, so both tools work side by side.
    pub keep_dvc: bool,
    /// `-c key=value` settings, for re-reading the project after `gitml.toml` is written.
    pub overrides: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportedData {
    pub path: String,
    /// The pointer written, or `null` for a DVC-cached metrics or plots file, which becomes a
    /// plain file committed to git.
    pub pointer: Option<String>,
    #[serde(rename = "type")]
    pub kind: Kind,
    /// The DVC file that recorded it (`data.dvc`, `dvc.lock:12 stage prep`).
    pub from: String,
    pub md5: String,
    /// `null` in a dry run.
    pub oid: Option<Oid>,
    pub size: u64,
    pub files: u64,
    /// Where the content was read: `dvc-cache`, `work-tree`, a mix, or `not-read` (dry run).
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportedStage {
    pub name: String,
    /// `dvc.yaml:LINE`.
    pub origin: String,
    /// `up-to-date` (a lock entry was written: `git ml run` skips it), `stale` (DVC would run it
    /// too), `never-run` (no `dvc.lock` entry), `frozen` (kept as a comment), `always` (always
    /// runs, as in DVC), `unchecked` (dry run).
    pub state: String,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportedRemote {
    pub name: String,
    pub url: String,
    pub default: bool,
}

#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    pub dry_run: bool,
    pub keep_dvc: bool,
    pub data: Vec<ImportedData>,
    pub stages: Vec<ImportedStage>,
    pub remotes: Vec<ImportedRemote>,
    pub models: Vec<String>,
    pub metrics_files: Vec<String>,
    pub params_files: Vec<String>,
    pub plots: Vec<String>,
    pub not_converted: Vec<NotConverted>,
    pub warnings: Vec<String>,
    /// Files written or edited (would be, in a dry run).
    pub written: Vec<String>,
    /// DVC files removed (would be, in a dry run; none with `--keep-dvc`).
    pub removed: Vec<String>,
    pub hashed_files: u64,
    pub hashed_bytes: u64,
    /// How many files entered the cache each way (`hardlink`, `reflink`, `copy`, `write`).
    pub link_modes: BTreeMap<String, u64>,
}

/// A piece of content DVC recorded, to import.
#[derive(Debug, Clone)]
struct Content {
    path: String,
    md5: String,
    legacy: bool,
    isexec: bool,
    size: Option<u64>,
    nfiles: Option<u64>,
    from: String,
    /// `file:line` of the entry, for errors.
    at: (String, usize),
    /// A pointer (data, outputs) or a plain git file (a DVC-cached metrics or plots file).
    git_file: bool,
    /// A stage output from `dvc.lock` (not `dvc add`ed data): when its content is not here, the
    /// stage is left to run again instead of failing the import.
    from_lock: bool,
}

/// What importing one item gave.
struct Done {
    oid: Oid,
    size: u64,
    files: u64,
    executable: bool,
    source: &'static str,
    /// For directories: files whose executable bit the `.dir` listing does not record.
    exec_paths: Vec<String>,
}

fn content_err(at: &(String, usize), message: String) -> Error {
    Error::DvcContent {
        file: at.0.clone(),
        line: at.1,
        message,
    }
}

fn dvc_err(at: &(String, usize), message: String) -> Error {
    Error::Dvc {
        file: at.0.clone(),
        line: at.1,
        message,
    }
}

/// Everything read from the DVC repository before anything is written.
struct Plan {
    dvc_cache: PathBuf,
    items: Vec<Content>,
    dvc_files: Vec<String>,
    yamls: Vec<(String, dp::DvcYaml, BTreeMap<String, LockStage>)>,
    config: DvcConfig,
    local: DvcConfig,
}

/// The `.dvc` files and `dvc.yaml` files of the work tree (git-ignored directories, which hold
/// the data, are not entered).
fn find_dvc_files(
    ws: &Workspace,
    warnings: &mut Vec<String>,
) -> Result<(Vec<String>, Vec<String>)> {
    let root = ws.root();
    let mut dvc_files = Vec::new();
    let mut yamls = Vec::new();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .parents(false)
        .ignore(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .require_git(false)
        .follow_links(false)
        .filter_entry(move |e| {
            let name = e.file_name();
            !(name == ".git" || (name == ".dvc" && e.depth() == 1))
        })
        .build();
    for entry in walker {
        let entry = entry.map_err(|e| Error::Other(format!("walking the work tree: {e}")))?;
        let Some(name) = entry.file_name().to_str() else {
            continue;
        };
        let is_dvc = name.ends_with(".dvc") && name.len() > 4;
        if !is_dvc && name != "dvc.yaml" {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let Some(rel) = rel.to_str() else { continue };
        match entry.file_type() {
            Some(t) if t.is_file() => {}
            Some(t) if t.is_symlink() => {
                warnings.push(format!(
                    "`{rel}` is a symlink; DVC files are read only as regular files, so it was skipped"
                ));
                continue;
            }
            _ => continue,
        }
        if is_dvc {
            dvc_files.push(rel.to_string());
        } else {
            yamls.push(rel.to_string());
        }
    }
    dvc_files.sort();
    yamls.sort();
    Ok((dvc_files, yamls))
}

fn read_small(path: &Path, display: &str) -> Result<String> {
    let len = fs_err::metadata(path)?.len();
    if len > 64 * 1024 * 1024 {
        return Err(Error::Dvc {
            file: display.to_string(),
            line: 0,
            message: "larger than 64 MiB: not a DVC file".into(),
        });
    }
    let bytes = fs_err::read(path)?;
    String::from_utf8(bytes).map_err(|_| Error::Dvc {
        file: display.to_string(),
        line: 0,
        message: "not UTF-8 text".into(),
    })
}

fn read_config(root: &Path, name: &str) -> Result<DvcConfig> {
    let path = root.join(".dvc").join(name);
    if !path.is_file() {
        return Ok(DvcConfig::default());
    }
    let display = format!(".dvc/{name}");
    crate::dvc::config::parse(&read_small(&path, &display)?, &display)
}

fn plan(ws: &Workspace, report: &mut ImportReport) -> Result<Plan> {
    let root = ws.root();
    let config = read_config(root, "config")?;
    let local = read_config(root, "config.local")?;
    let dvc_cache = match config.cache.get("dir").or_else(|| local.cache.get("dir")) {
        Some((d, _)) => {
            let p = Path::new(d);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                root.join(".dvc").join(p)
            }
        }
        None => root.join(".dvc").join("cache"),
    };
    let (dvc_files, yaml_files) = find_dvc_files(ws, &mut report.warnings)?;
    let mut items: Vec<Content> = Vec::new();
    let mut converted_files = Vec::new();
    for f in &dvc_files {
        let text = read_small(&ws.abs(f), f)?;
        let parsed = files::parse_dvc_file(&text, f)?;
        let base = parent(f);
        let base = match &parsed.wdir {
            Some(w) => join_dir(base, w).ok_or_else(|| Error::Dvc {
                file: f.clone(),
                line: crate::dvc::line_of(&text, &["wdir"]),
                message: format!("`wdir: {w}` leaves the repository"),
            })?,
            None => base.to_string(),
        };
        if let Some(cmd) = &parsed.cmd {
            report.not_converted.push(NotConverted {
                origin: f.clone(),
                what: format!("stage `{cmd}`"),
                why: "single-stage `.dvc` files (DVC 1) are not converted; write it as a `[stages.*]` table (its outputs are imported as data)".into(),
            });
        }
        for d in &parsed.deps {
            report.not_converted.push(NotConverted {
                origin: format!("{f}:{}", d.line),
                what: format!("dependency `{}`", d.path),
                why: "`dvc import`/`import-url` provenance: git-ml tracks the data, not where it was imported from; `dvc update` has no equivalent".into(),
            });
        }
        for o in &parsed.outs {
            let at = (f.clone(), o.line);
            let path = join_inside(&base, &o.path)
                .ok_or_else(|| dvc_err(&at, format!("`path: {}` leaves the repository", o.path)))?;
            for k in &o.other {
                report.not_converted.push(NotConverted {
                    origin: format!("{f}:{}", o.line),
                    what: format!("`{k}` of `{path}`"),
                    why: "no git-ml equivalent".into(),
                });
            }
            if !o.cache {
                report.not_converted.push(NotConverted {
                    origin: format!("{f}:{}", o.line),
                    what: format!("`{path}` (`cache: false`)"),
                    why: "it stays a plain file in git; git-ml has nothing to track".into(),
                });
                continue;
            }
            let Some(md5) = o.md5.clone() else {
                report.not_converted.push(NotConverted {
                    origin: format!("{f}:{}", o.line),
                    what: format!("`{path}`"),
                    why: "DVC recorded no md5 (never added); run `dvc add` first".into(),
                });
                continue;
            };
            items.push(Content {
                path,
                md5,
                legacy: o.legacy,
                isexec: o.isexec,
                size: o.size,
                nfiles: o.nfiles,
                from: f.clone(),
                at,
                git_file: false,
                from_lock: false,
            });
        }
        converted_files.push(f.clone());
    }
    let mut yamls = Vec::new();
    for y in &yaml_files {
        let dir = parent(y).to_string();
        let text = read_small(&ws.abs(y), y)?;
        let reader = |rel: &str| -> Option<String> {
            let p = join_inside(&dir, rel)?;
            let abs = ws.abs(&p);
            if ws.check_parent_inside(&p).is_err() || !abs.is_file() {
                return None;
            }
            read_small(&abs, &p).ok()
        };
        let parsed = dp::parse(&text, y, &reader)?;
        let lock_rel = if dir.is_empty() {
            "dvc.lock".to_string()
        } else {
            format!("{dir}/dvc.lock")
        };
        let lock = if ws.abs(&lock_rel).is_file() {
            files::parse_lock(&read_small(&ws.abs(&lock_rel), &lock_rel)?, &lock_rel)?
        } else {
            BTreeMap::new()
        };
        // Cached outputs recorded in the lock are content to import.
        for s in &parsed.stages {
            let Some(l) = lock.get(&s.name) else { continue };
            let wdir = stage_wdir(&dir, s, y)?;
            let declared: Vec<(&dp::Out, bool)> = s
                .outs
                .iter()
                .map(|o| (o, false))
                .chain(s.metrics.iter().map(|o| (o, true)))
                .chain(s.plots.iter().map(|o| (o, true)))
                .collect();
            for (o, results) in declared {
                if !o.cache {
                    continue;
                }
                let at = (y.clone(), s.line);
                let path = join_inside(&wdir, &o.path).ok_or_else(|| {
                    dvc_err(
                        &at,
                        format!("stage `{}`: `{}` leaves the repository", s.name, o.path),
                    )
                })?;
                let Some(e) = l
                    .outs
                    .iter()
                    .find(|e| join_inside(&wdir, &e.path).as_deref() == Some(&path))
                else {
                    continue;
                };
                let Some(md5) = e.md5.clone() else { continue };
                // A results file (metrics, plots) becomes a plain git file, as git-ml keeps them.
                let git_file = results && !e.is_dir();
                items.push(Content {
                    path,
                    md5,
                    legacy: e.legacy,
                    isexec: e.isexec,
                    size: e.size,
                    nfiles: e.nfiles,
                    from: format!("{lock_rel}:{} stage `{}`", e.line, s.name),
                    at: (lock_rel.clone(), e.line),
                    git_file,
                    from_lock: true,
                });
            }
        }
        yamls.push((y.clone(), parsed, lock));
    }
    // One path, one content.
    items.sort_by(|a, b| a.path.cmp(&b.path));
    let mut deduped: Vec<Content> = Vec::new();
    for it in items {
        if let Some(prev) = deduped.last()
            && prev.path == it.path
        {
            if prev.md5 != it.md5 {
                return Err(dvc_err(
                    &it.at,
                    format!(
                        "`{}` is recorded with md5 {} here and {} in {}; DVC itself would refuse this",
                        it.path, it.md5, prev.md5, prev.from
                    ),
                ));
            }
            continue;
        }
        deduped.push(it);
    }
    for it in &deduped {
        ws.check_parent_inside(&it.path)?;
    }
    Ok(Plan {
        dvc_cache,
        items: deduped,
        dvc_files: converted_files,
        yamls,
        config,
        local,
    })
}

/// The stage's working directory, repository-relative (`""` = root).
fn stage_wdir(dir: &str, s: &dp::Stage, yaml_file: &str) -> Result<String> {
    match &s.wdir {
        None => Ok(dir.to_string()),
        Some(w) => join_dir(dir, w).ok_or_else(|| Error::Dvc {
            file: yaml_file.to_string(),
            line: s.line,
            message: format!("stage `{}`: `wdir: {w}` leaves the repository", s.name),
        }),
    }
}

/// Counters shared by the parallel import.
#[derive(Default)]
struct Tally {
    files: AtomicU64,
    bytes: AtomicU64,
    modes: Mutex<BTreeMap<String, u64>>,
    warnings: Mutex<Vec<String>>,
}

impl Tally {
    fn count(&self, placed: Placed, bytes: u64) {
        self.files.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        *self
            .modes
            .lock()
            .expect("tally")
            .entry(placed.name().to_string())
            .or_default() += 1;
    }
}

struct Importer<'a> {
    ws: &'a Workspace,
    dvc_cache: PathBuf,
    /// Hard links into DVC's cache are allowed (the work tree never holds hard links to ours).
    link: bool,
    tally: Tally,
    progress: &'a dyn Progress,
    /// What the import learned about work-tree files (read, or the very inode it linked), so
    /// the next `status` does not read them again.
    learned: Mutex<StatIndex>,
    clock: i64,
}

impl Importer<'_> {
    fn learn(&self, work: &str, stat: Stat, oid: Oid) {
        self.learned
            .lock()
            .expect("index updates")
            .record(work.to_string(), stat, oid, self.clock);
    }

    /// Where DVC keeps `md5` (with `.dir` for listings): its own layout first, then the other
    /// one (a DVC 2 cache read by DVC 3 keeps old objects in the flat layout).
    fn cache_object(&self, md5: &str, legacy: bool) -> Option<PathBuf> {
        [legacy, !legacy]
            .into_iter()
            .map(|l| self.dvc_cache.join(object_path(md5, l)))
            .find(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file()))
    }

    /// Whether the content of `it` is here at all (its object or listing in the DVC cache, or
    /// the path in the work tree), without reading it.
    fn available(&self, it: &Content) -> bool {
        self.cache_object(&it.md5, it.legacy).is_some()
            || std::fs::symlink_metadata(self.ws.abs(&it.path))
                .is_ok_and(|m| m.is_file() || m.is_dir())
    }

    /// Store one file whose DVC md5 is `md5`; `work` is where it is in the work tree.
    fn import_file(
        &self,
        md5: &str,
        legacy: bool,
        work: &str,
        at: &(String, usize),
    ) -> Result<(Oid, u64, &'static str)> {
        let mut corrupt = None;
        if let Some(obj) = self.cache_object(md5, legacy) {
            let mut check = Md5Check::new(legacy);
            let staged = self
                .ws
                .cache
                .stage_file(&obj, self.link, &mut |b| check.update(b))?;
            let digests = check.finish();
            if digests.matches(md5) {
                let (placed, size) = (staged.placed, staged.size);
                let oid = staged.publish()?;
                // DVC's `cache.type = hardlink`: the work-tree file is the inode just verified.
                if let (Ok(w), Ok(o)) = (
                    std::fs::symlink_metadata(self.ws.abs(work)),
                    std::fs::metadata(&obj),
                ) && w.is_file()
                    && w.ino() == o.ino()
                    && w.dev() == o.dev()
                {
                    self.learn(work, Stat::of(&w), oid);
                }
                self.tally.count(placed, size);
                self.progress.advance(size);
                return Ok((oid, size, "dvc-cache"));
            }
            let shown = obj
                .strip_prefix(self.ws.root())
                .unwrap_or(&obj)
                .display()
                .to_string();
            corrupt = Some(format!(
                "DVC cache object `{shown}` for `{work}` is corrupt: its md5 is {}, DVC named it {md5}",
                digests.plain
            ));
        }
        let abs = self.ws.abs(work);
        // Never through a symlinked directory that leads out of the repository: what is read
        // here ends up in the cache, and from there on remotes.
        let meta = std::fs::symlink_metadata(&abs)
            .ok()
            .filter(|m| m.is_file() && self.ws.check_parent_inside(work).is_ok());
        let Some(meta) = meta else {
            return Err(content_err(
                at,
                match corrupt {
                    Some(c) => format!(
                        "{c}; the work tree has no copy either: fetch it again with `dvc fetch` (or remove the object and `dvc pull`)"
                    ),
                    None => format!(
                        "the content of `{work}` (md5 {md5}) is neither in the DVC cache nor in the work tree: run `dvc pull` (or `dvc fetch`) first"
                    ),
                },
            ));
        };
        let mut check = Md5Check::new(legacy);
        let (oid, size, placed) = if meta.len() <= SMALL_FILE {
            let bytes = fs_err::read(&abs)?;
            check.update(&bytes);
            if !check.finish().matches(md5) {
                return Err(work_mismatch(work, md5, at, corrupt));
            }
            (
                self.ws.cache.insert_bytes(&bytes)?,
                bytes.len() as u64,
                Placed::Write,
            )
        } else {
            // Never a hard link to a work-tree file: editing it would change the cache object.
            let staged = self
                .ws
                .cache
                .stage_file(&abs, false, &mut |b| check.update(b))?;
            if !check.finish().matches(md5) {
                return Err(work_mismatch(work, md5, at, corrupt));
            }
            let (placed, size) = (staged.placed, staged.size);
            (staged.publish()?, size, placed)
        };
        // Read unchanged from start to end: the next `status` may trust the stat.
        if let Ok(after) = std::fs::symlink_metadata(&abs)
            && Stat::of(&after) == Stat::of(&meta)
        {
            self.learn(work, Stat::of(&meta), oid);
        }
        if let Some(c) = corrupt {
            self.tally
                .warnings
                .lock()
                .expect("tally")
                .push(format!("{c}; the intact copy in the work tree was used"));
        }
        self.tally.count(placed, size);
        self.progress.advance(size);
        Ok((oid, size, "work-tree"))
    }

    fn import_item(&self, it: &Content) -> Result<Done> {
        let hex = it.md5.strip_suffix(".dir").unwrap_or(&it.md5);
        if !it.md5.ends_with(".dir") {
            let (oid, size, source) = self.import_file(hex, it.legacy, &it.path, &it.at)?;
            let executable = it.isexec;
            return Ok(Done {
                oid,
                size,
                files: 0,
                executable,
                source,
                exec_paths: Vec::new(),
            });
        }
        let entries = self.listing(it, hex)?;
        let results: Vec<Result<(MEntry, &'static str, bool)>> = entries
            .par_iter()
            .map(|e| {
                let work = format!("{}/{}", it.path, e.relpath);
                let (oid, size, source) = self.import_file(&e.md5, it.legacy, &work, &it.at)?;
                let on_disk = std::fs::symlink_metadata(self.ws.abs(&work))
                    .is_ok_and(|m| m.is_file() && crate::fsutil::is_executable(&m));
                let executable = e.isexec || on_disk;
                Ok((
                    MEntry {
                        path: e.relpath.clone(),
                        kind: EntryKind::File {
                            oid,
                            size,
                            executable,
                        },
                    },
                    source,
                    executable && !e.isexec,
                ))
            })
            .collect();
        let mut mentries = Vec::with_capacity(results.len());
        let mut sources = BTreeSet::new();
        let mut exec_paths = Vec::new();
        for r in results {
            let (e, source, extra_exec) = r?;
            sources.insert(source);
            if extra_exec {
                exec_paths.push(e.path.clone());
            }
            mentries.push(e);
        }
        let manifest = Manifest::new(mentries);
        manifest.validate(&|| it.from.clone())?;
        if let Some(n) = it.nfiles
            && n != manifest.files()
        {
            return Err(dvc_err(
                &it.at,
                format!(
                    "`{}`: DVC records {n} files, its listing has {}",
                    it.path,
                    manifest.files()
                ),
            ));
        }
        if let Some(s) = it.size
            && s != manifest.size()
        {
            return Err(dvc_err(
                &it.at,
                format!(
                    "`{}`: DVC records {s} bytes, its files hold {}",
                    it.path,
                    manifest.size()
                ),
            ));
        }
        let objects = manifest.to_objects();
        for (_, bytes) in &objects.chunks {
            self.ws.cache.insert_bytes(bytes)?;
        }
        let oid = self.ws.cache.insert_bytes(&objects.root)?;
        exec_paths.sort();
        Ok(Done {
            oid,
            size: manifest.size(),
            files: manifest.files(),
            executable: false,
            source: if sources.len() > 1 {
                "dvc-cache+work-tree"
            } else {
                sources.into_iter().next().unwrap_or("dvc-cache")
            },
            exec_paths,
        })
    }

    /// A directory's `.dir` listing: from the DVC cache (verified), else rebuilt from the work
    /// tree and checked against DVC's name for it.
    fn listing(&self, it: &Content, hex: &str) -> Result<Vec<DirEntry>> {
        let name = format!("{hex}.dir");
        if let Some(obj) = self.cache_object(&name, it.legacy) {
            let len = fs_err::metadata(&obj)?.len();
            if len > files::MAX_DIR_LISTING {
                return Err(dvc_err(
                    &it.at,
                    format!(
                        "the listing of `{}` is {len} bytes: not one DVC wrote",
                        it.path
                    ),
                ));
            }
            let bytes = fs_err::read(&obj)?;
            let actual = dmd5::of(&bytes);
            if actual == hex {
                return files::parse_dir(&bytes, &name);
            }
            self.tally.warnings.lock().expect("tally").push(format!(
                "DVC cache object `{}` (the listing of `{}`) is corrupt: its md5 is {actual}; rebuilt from the work tree",
                obj.display(),
                it.path
            ));
        }
        let abs = self.ws.abs(&it.path);
        if !std::fs::symlink_metadata(&abs).is_ok_and(|m| m.is_dir()) {
            return Err(content_err(
                &it.at,
                format!(
                    "the listing of `{}` ({name}) is not in the DVC cache and the directory is not in the work tree: run `dvc pull` (or `dvc fetch`) first",
                    it.path
                ),
            ));
        }
        let pairs = dir_md5s(&abs, it.legacy)?;
        let bytes = files::dir_bytes(&pairs);
        if dmd5::of(&bytes) != hex {
            return Err(content_err(
                &it.at,
                format!(
                    "`{}` in the work tree differs from what DVC recorded ({name}) and the DVC cache has no listing: `dvc checkout` it, or `dvc add` it again",
                    it.path
                ),
            ));
        }
        files::parse_dir(&bytes, &name)
    }
}

fn work_mismatch(work: &str, md5: &str, at: &(String, usize), corrupt: Option<String>) -> Error {
    let lead = match corrupt {
        Some(c) => format!("{c}, and "),
        None => "the DVC cache has no copy and ".into(),
    };
    content_err(
        at,
        format!(
            "{lead}`{work}` in the work tree differs from what DVC recorded (md5 {md5}): `dvc checkout` it to get the recorded version, or `dvc add` it again"
        ),
    )
}

/// (relpath, md5) of every regular file below `dir`, as DVC would list it.
fn dir_md5s(dir: &Path, legacy: bool) -> Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs_err::read_dir(&d)? {
            let e = e?;
            let t = e.file_type()?;
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                let rel = e
                    .path()
                    .strip_prefix(dir)
                    .expect("below dir")
                    .to_string_lossy()
                    .replace('\\', "/");
                files.push((rel, e.path()));
            }
        }
    }
    files
        .par_iter()
        .map(|(rel, p)| Ok((rel.clone(), md5_file(p, legacy)?.0)))
        .collect()
}

/// DVC's md5 of a work-tree file (the dos2unix one for DVC 2 entries); with the plain one.
fn md5_file(path: &Path, legacy: bool) -> Result<(String, String)> {
    use std::io::Read;
    let mut f = fs_err::File::open(path)?;
    let mut check = Md5Check::new(legacy);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        check.update(&buf[..n]);
    }
    let d = check.finish();
    Ok((
        d.dos2unix.clone().unwrap_or_else(|| d.plain.clone()),
        d.plain,
    ))
}

/// DVC's md5 name of a work-tree path (file, or directory with `.dir`); `None` if absent.
fn current_md5(ws: &Workspace, rel: &str, legacy: bool) -> Result<Option<String>> {
    let abs = ws.abs(rel);
    let Ok(meta) = std::fs::metadata(&abs) else {
        return Ok(None);
    };
    if meta.is_dir() {
        let pairs = dir_md5s(&abs, legacy)?;
        return Ok(Some(format!("{}.dir", dmd5::of(&files::dir_bytes(&pairs)))));
    }
    Ok(Some(md5_file(&abs, legacy)?.0))
}

/// Whether a DVC md5 matches `rel` now: by digest when the import knows the content (`known`:
/// path -> (DVC md5, oid), checked later with the pipeline's digests), else by md5 now.
enum Check {
    Same,
    Differs(String),
    /// The work tree's digest of the path must be this oid.
    Digest(String, Oid),
}

fn check_entry(
    ws: &Workspace,
    path: &str,
    e: &Entry,
    known: &HashMap<String, (String, Oid)>,
) -> Result<Check> {
    let Some(md5) = &e.md5 else {
        return Ok(Check::Differs(format!("`{path}` has no md5 in dvc.lock")));
    };
    if let Some((m, oid)) = known.get(path)
        && m == md5
    {
        return Ok(Check::Digest(path.to_string(), *oid));
    }
    Ok(match current_md5(ws, path, e.legacy)? {
        Some(now) if now == *md5 => Check::Same,
        Some(_) => Check::Differs(format!("`{path}` changed since `dvc repro`")),
        None => Check::Differs(format!("`{path}` is missing")),
    })
}

/// Flatten a params mapping the way git-ml flattens params files (`a.b`, `list.0`).
fn flatten_yaml(v: &serde_yaml_ng::Value) -> Result<crate::record::files::Values> {
    let text = serde_yaml_ng::to_string(v).map_err(|e| Error::Other(e.to_string()))?;
    crate::record::files::parse(&text, "dvc.lock.yaml")
}

/// The leaves of `values` under `key` (all of them for `None`).
fn leaves<'v>(
    values: &'v crate::record::files::Values,
    key: Option<&str>,
) -> BTreeMap<&'v str, &'v serde_json::Value> {
    values
        .iter()
        .filter(|(k, _)| match key {
            None => true,
            Some(key) => k.as_str() == key || k.starts_with(&format!("{key}.")),
        })
        .map(|(k, v)| (k.as_str(), v))
        .collect()
}

fn is_results_format(path: &str) -> bool {
    crate::record::files::Format::of(path).is_some()
}

/// A converted stage, ready to be written, with what its lock entry depends on.
struct NewStage {
    name: String,
    table: Table,
    desc: Option<String>,
    frozen_text: Option<String>,
    state: &'static str,
    checks: Vec<(String, Oid)>,
    origin: String,
}

pub fn import(
    ws: &Workspace,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportReport> {
    let root = ws.root().to_path_buf();
    if !root.join(".dvc").is_dir() {
        return Err(Error::Other(format!(
            "`{}` is not a DVC repository: there is no `.dvc/` directory at its root (run `git ml import dvc` where `dvc init` was run)",
            root.display()
        )));
    }
    let mut report = ImportReport {
        dry_run: opts.dry_run,
        keep_dvc: opts.keep_dvc,
        ..Default::default()
    };
    let _lock = if opts.dry_run {
        None
    } else {
        Some(ws.lock(&|holder| progress.message(&format!("waiting for {holder} to finish")))?)
    };
    let mut plan = plan(ws, &mut report)?;

    // The data: verified into the cache (not in a dry run).
    let importer = Importer {
        ws,
        dvc_cache: plan.dvc_cache.clone(),
        link: !ws.config.link.contains(&crate::config::LinkMode::Hardlink),
        tally: Tally::default(),
        progress,
        learned: Mutex::new(StatIndex::default()),
        clock: if opts.dry_run { 0 } else { ws.clock()? },
    };
    // Stage outputs nobody pulled: no pointer; the stage is then stale and `git ml run`
    // recreates them (as `dvc repro` would).
    plan.items.retain(|it| {
        if !it.from_lock || importer.available(it) {
            return true;
        }
        report.warnings.push(format!(
            "`{}` ({}) is neither in the DVC cache nor in the work tree: not imported; its stage will run again (or `dvc pull` it and import again)",
            it.path, it.from
        ));
        false
    });
    let mut done: Vec<Option<Done>> = Vec::new();
    if !opts.dry_run {
        ws.cache.sweep_temps();
        let total: u64 = plan.items.iter().filter_map(|i| i.size).sum();
        progress.start("importing", total);
        // Items in parallel (many small `.dvc` files), and a directory's files in parallel.
        let results: Vec<Result<Done>> = plan
            .items
            .par_iter()
            .map(|it| importer.import_item(it))
            .collect();
        for r in results {
            done.push(Some(r?));
        }
        let learned = std::mem::take(&mut *importer.learned.lock().expect("index updates"));
        if learned.is_dirty() {
            let mut index = ws.load_index();
            index.absorb(&learned);
            index.save()?;
        }
        progress.finish();
    } else {
        done.resize_with(plan.items.len(), || None);
    }
    report.hashed_files = importer.tally.files.load(Ordering::Relaxed);
    report.hashed_bytes = importer.tally.bytes.load(Ordering::Relaxed);
    report.link_modes = importer.tally.modes.lock().expect("tally").clone();
    report
        .warnings
        .extend(importer.tally.warnings.lock().expect("tally").drain(..));
    let mut known: HashMap<String, (String, Oid)> = HashMap::new();
    for (it, d) in plan.items.iter().zip(&done) {
        if let Some(d) = d {
            known.insert(it.path.clone(), (it.md5.clone(), d.oid));
        }
        report.data.push(ImportedData {
            path: it.path.clone(),
            pointer: (!it.git_file).then(|| pointer::pointer_path(&it.path)),
            kind: if it.md5.ends_with(".dir") {
                Kind::Dir
            } else {
                Kind::File
            },
            from: it.from.clone(),
            md5: it.md5.clone(),
            oid: d.as_ref().map(|d| d.oid),
            size: d.as_ref().map_or(it.size.unwrap_or(0), |d| d.size),
            files: d.as_ref().map_or(it.nfiles.unwrap_or(0), |d| d.files),
            source: d.as_ref().map_or("not-read", |d| d.source).to_string(),
        });
    }

    // The project file.
    let project_path = root.join(crate::config::PROJECT_FILE);
    let project_text = match std::fs::read_to_string(&project_path) {
        Ok(t) => t,
        Err(_) => crate::config::INIT_TEMPLATE.to_string(),
    };
    let mut doc: DocumentMut =
        project_text
            .parse()
            .map_err(|e: toml_edit::TomlError| Error::Config {
                file: crate::config::PROJECT_FILE.into(),
                message: e.to_string().trim().to_string(),
            })?;
    let remotes_default = convert_remotes(&plan, &mut doc, &mut report);
    let stages = convert_pipeline(ws, &plan, &known, &mut doc, &mut report)?;
    if let Some(d) = remotes_default {
        let core = doc
            .entry("core")
            .or_insert_with(|| Item::Table(Table::new()));
        if let Some(t) = core.as_table_mut()
            && !t.contains_key("remote")
        {
            t.insert("remote", value(d));
        }
    }
    let mut text = doc.to_string();
    let frozen: Vec<&String> = stages
        .iter()
        .filter_map(|s| s.frozen_text.as_ref())
        .collect();
    if !frozen.is_empty() {
        text.push_str("\n# Frozen in DVC (`frozen: true`): git-ml has no frozen stages, so these are kept as\n# comments; their outputs are tracked as data. Uncomment a stage to run it again.\n");
        for f in frozen {
            text.push_str(f);
        }
    }
    // Check the converted pipeline before anything is written.
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        Error::Other(format!(
            "the converted `gitml.toml` does not parse (a bug): {e}"
        ))
    })?;
    let checked = crate::config::check_project_text(&text)
        .and_then(|_| crate::plots::config::declared(&table, &text).map(|_| ()))
        .and_then(|_| crate::pipeline::stages(&table, &text))
        .and_then(|s| crate::pipeline::dag::Dag::new(s, &root));
    if let Err(e) = checked {
        return Err(Error::Other(format!(
            "the converted pipeline does not check, so nothing was written: {e}"
        )));
    }

    // Files to remove, and the map of DVC names.
    let removable = removable_files(ws, &plan);
    if !opts.keep_dvc {
        report.removed = removable.clone();
    }
    report.written.push(crate::config::PROJECT_FILE.into());
    report.written.push(MAP_FILE.into());
    if report
        .stages
        .iter()
        .any(|s| s.state == "up-to-date" || s.state == "unchecked")
    {
        report.written.push(crate::pipeline::lockfile::FILE.into());
    }
    for d in &report.data {
        if let Some(p) = &d.pointer {
            report.written.push(p.clone());
        }
    }
    report.not_converted.sort();
    report.not_converted.dedup();
    if opts.dry_run {
        return Ok(report);
    }

    // Idempotent: creates only what is missing (the project file is replaced below).
    crate::init::init(&ws.repo, &ws.config.cache_dir)?;
    // Pointers, ignores, results files.
    let mut map = DocumentMut::new();
    map.decor_mut().set_prefix(
        "# gitml-dvc.toml: written by `git ml import dvc`; commit it. DVC's md5 name for the content of\n# each pointer, so `git ml fetch --from-dvc-remote NAME` can read the old DVC remote.\n",
    );
    map.insert("version", value(1));
    let mut paths = Table::new();
    paths.set_implicit(true);
    let mut relink = Vec::new();
    for (it, d) in plan.items.iter().zip(&done) {
        let d = d.as_ref().expect("imported");
        if it.git_file {
            place_git_file(ws, it, d, opts.keep_dvc)?;
            continue;
        }
        let ptr = Pointer {
            kind: if it.md5.ends_with(".dir") {
                Kind::Dir
            } else {
                Kind::File
            },
            oid: d.oid,
            size: d.size,
            files: d.files,
            executable: d.executable,
        };
        let pointer_rel = pointer::pointer_path(&it.path);
        let pointer_abs = ws.abs(&pointer_rel);
        if let Some(dir) = pointer_abs.parent() {
            fs_err::create_dir_all(dir)?;
        }
        crate::fsutil::atomic_write(&pointer_abs, ptr.to_toml().as_bytes(), 0o644)?;
        crate::data::gitignore::ensure(&root, &it.path)?;
        let mut t = toml_edit::InlineTable::new();
        t.insert("oid", d.oid.to_string().into());
        t.insert("md5", it.md5.clone().into());
        if it.legacy {
            t.insert("layout", "dvc2".into());
        }
        if !d.exec_paths.is_empty() {
            let mut a = Array::new();
            for p in &d.exec_paths {
                a.push(p.as_str());
            }
            t.insert("executable", toml_edit::Value::Array(a));
        }
        paths.insert(&it.path, Item::Value(toml_edit::Value::InlineTable(t)));
        if has_dvc_symlinks(&ws.abs(&it.path), &plan.dvc_cache) {
            relink.push(it.path.clone());
        }
    }
    map.insert("paths", Item::Table(paths));
    crate::fsutil::atomic_write(&root.join(MAP_FILE), map.to_string().as_bytes(), 0o644)?;
    crate::fsutil::atomic_write(&project_path, text.as_bytes(), 0o644)?;
    // DVC's symlinks into its cache become real files (their content is verified in ours).
    if !relink.is_empty() {
        for p in &relink {
            remove_dvc_symlinks(&ws.abs(p), &plan.dvc_cache)?;
        }
        let tracked: Vec<crate::workspace::Tracked> = relink
            .iter()
            .map(|p| crate::workspace::Tracked {
                path: p.clone(),
                pointer: pointer::pointer_path(p),
            })
            .collect();
        let copts = crate::data::checkout::CheckoutOptions {
            force: false,
            modes: ws.config.link.clone(),
        };
        drop(_lock);
        crate::data::checkout::checkout(ws, &tracked, &copts, progress)?;
    }

    // Lock entries for the stages DVC found up to date, computed by the pipeline itself.
    let ws2 = Workspace::open(&ws.cwd, &opts.overrides)?;
    let dag = crate::pipeline::run::load(&ws2)?;
    let digester = crate::pipeline::hash::Digester::new(&ws2)?;
    let mut lock = crate::pipeline::lockfile::LockFile::load(&root)?;
    let mut wrote_lock = false;
    for s in &stages {
        if s.state != "up-to-date" {
            continue;
        }
        let Some(stage) = dag.get(&s.name) else {
            continue;
        };
        let paths: Vec<String> = s.checks.iter().map(|(p, _)| p.clone()).collect();
        let now = digester.digests(&ws2, &paths)?;
        let changed: Vec<String> = s
            .checks
            .iter()
            .filter(|(p, oid)| now.get(p).copied().flatten() != Some(*oid))
            .map(|(p, _)| format!("`{p}` differs from what dvc.lock records"))
            .collect();
        let entry = if changed.is_empty() {
            crate::pipeline::run::current_entry(&ws2, stage, &digester)?
        } else {
            None
        };
        let r = report
            .stages
            .iter_mut()
            .find(|r| r.name == s.name)
            .expect("stage reported");
        match entry {
            Some(e) => {
                lock.stages.insert(s.name.clone(), e);
                wrote_lock = true;
            }
            None => {
                r.state = "stale".into();
                r.reasons = if changed.is_empty() {
                    vec!["a dependency or output is missing".into()]
                } else {
                    changed
                };
            }
        }
    }
    digester.save(&ws2);
    if wrote_lock {
        lock.save(&root)?;
    } else {
        report
            .written
            .retain(|w| w != crate::pipeline::lockfile::FILE);
    }
    if !opts.keep_dvc {
        for f in &removable {
            let _ = std::fs::remove_file(root.join(f));
        }
        // DVC's cache stays (history reads DVC-era metrics from it); out of git's sight.
        if crate::data::gitignore::ensure_line(&root.join(".gitignore"), "/.dvc/")? {
            report.written.push(".gitignore".into());
        }
    }
    Ok(report)
}

/// A DVC-cached metrics or plots file becomes a plain file in git: present in the work tree
/// (restored from the cache if DVC had not checked it out) and no longer ignored.
fn place_git_file(ws: &Workspace, it: &Content, d: &Done, keep_dvc: bool) -> Result<()> {
    let abs = ws.abs(&it.path);
    let is_file = std::fs::symlink_metadata(&abs).is_ok_and(|m| m.is_file());
    if !is_file {
        let bytes = ws.cache.read_verified(&d.oid)?;
        if std::fs::symlink_metadata(&abs).is_ok() {
            fs_err::remove_file(&abs)?;
        }
        crate::fsutil::atomic_write(&abs, &bytes, 0o644)?;
    }
    if !keep_dvc {
        crate::data::gitignore::remove(ws.root(), &it.path)?;
    }
    Ok(())
}

fn has_dvc_symlinks(abs: &Path, dvc_cache: &Path) -> bool {
    let into_cache = |p: &Path| {
        std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
            && std::fs::canonicalize(p)
                .is_ok_and(|t| dvc_cache.canonicalize().is_ok_and(|c| t.starts_with(c)))
    };
    if into_cache(abs) {
        return true;
    }
    if !std::fs::symlink_metadata(abs).is_ok_and(|m| m.is_dir()) {
        return false;
    }
    walkdir_any(abs, &into_cache)
}

fn walkdir_any(dir: &Path, pred: &dyn Fn(&Path) -> bool) -> bool {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return false;
    };
    for e in rd.flatten() {
        let p = e.path();
        if pred(&p) {
            return true;
        }
        if e.file_type().is_ok_and(|t| t.is_dir()) && walkdir_any(&p, pred) {
            return true;
        }
    }
    false
}

/// Remove symlinks into DVC's cache (their content is in git-ml's cache, verified).
fn remove_dvc_symlinks(abs: &Path, dvc_cache: &Path) -> Result<()> {
    let Ok(cache) = dvc_cache.canonicalize() else {
        return Ok(());
    };
    let is_link = |p: &Path| {
        std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
            && std::fs::canonicalize(p).is_ok_and(|t| t.starts_with(&cache))
    };
    if is_link(abs) {
        fs_err::remove_file(abs)?;
        return Ok(());
    }
    let mut stack = vec![abs.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if is_link(&p) {
                fs_err::remove_file(&p)?;
            } else if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            }
        }
    }
    Ok(())
}

/// DVC's committed files that the import replaces.
fn removable_files(ws: &Workspace, plan: &Plan) -> Vec<String> {
    let mut out: Vec<String> = plan.dvc_files.clone();
    for (y, _, _) in &plan.yamls {
        out.push(y.clone());
        let lock = match parent(y) {
            "" => "dvc.lock".to_string(),
            d => format!("{d}/dvc.lock"),
        };
        if ws.abs(&lock).is_file() {
            out.push(lock);
        }
    }
    for f in [".dvcignore", ".dvc/config", ".dvc/.gitignore"] {
        if ws.abs(f).is_file() {
            out.push(f.to_string());
        }
    }
    out.sort();
    out
}

/// `.dvc/config` remotes -> `[remotes.*]`; returns the default remote's name.
fn convert_remotes(
    plan: &Plan,
    doc: &mut DocumentMut,
    report: &mut ImportReport,
) -> Option<String> {
    let mut default = None;
    let core_remote = plan
        .config
        .core
        .get("remote")
        .or_else(|| plan.local.core.get("remote"))
        .map(|(v, _)| v.clone());
    for (name, (keys, line)) in &plan.config.remotes {
        let origin = format!(".dvc/config:{line} remote `{name}`");
        let not = |report: &mut ImportReport, what: String, why: &str| {
            report.not_converted.push(NotConverted {
                origin: origin.clone(),
                what,
                why: why.to_string(),
            })
        };
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        let Some((url, _)) = keys.get("url") else {
            not(report, "the remote".into(), "it has no `url`");
            continue;
        };
        if !valid {
            not(
                report,
                "the remote".into(),
                "git-ml remote names use letters, digits, `-`, `_` and `.`",
            );
            continue;
        }
        let mut t = Table::new();
        let gurl = if let Some(rest) = url.strip_prefix("azure://") {
            format!("az://{rest}")
        } else if url.starts_with("s3://")
            || url.starts_with("gs://")
            || url.starts_with("http://")
            || url.starts_with("https://")
        {
            url.clone()
        } else if let Some((scheme, _)) = url.split_once("://") {
            not(
                report,
                format!("the remote (`{scheme}://`)"),
                "git-ml remotes are directories, S3, GCS, Azure and HTTP(S)",
            );
            continue;
        } else if Path::new(url).is_absolute() {
            url.clone()
        } else {
            // DVC resolves a relative path from `.dvc/`; git-ml from the repository root.
            relative_from_root(".dvc", url)
        };
        t.insert("url", value(&gurl));
        for (k, (v, kline)) in keys {
            let here = format!(".dvc/config:{kline} remote `{name}`");
            match k.as_str() {
                "url" => {}
                "endpointurl" => {
                    t.insert("endpoint", value(v));
                }
                "region" => {
                    t.insert("region", value(v));
                }
                "profile" => {
                    t.insert("profile", value(v));
                }
                "access_key_id" | "secret_access_key" | "session_token" | "password" | "connection_string" | "sas_token" | "account_key" => {
                    report.warnings.push(format!(
                        "{here}: `{k}` is a credential committed in `.dvc/config`; it was not copied: move it to `.git/gitml/config.toml` (`[remotes.{name}]`) or the environment, and out of git"
                    ));
                }
                other => report.not_converted.push(NotConverted {
                    origin: here,
                    what: format!("`{other} = {}`", if other.contains("key") || other.contains("token") || other.contains("secret") { "***" } else { v.as_str() }),
                    why: match other {
                        "credentialpath" => "set `GOOGLE_APPLICATION_CREDENTIALS` (or `AWS_SHARED_CREDENTIALS_FILE`) instead",
                        "account_name" => "set `AZURE_STORAGE_ACCOUNT_NAME` instead",
                        _ => "no git-ml remote setting for it",
                    }
                    .into(),
                }),
            }
        }
        if let Some((lk, _)) = plan.local.remotes.get(name)
            && lk.keys().any(|k| {
                k.contains("key") || k.contains("secret") || k == "password" || k.contains("token")
            })
        {
            report.warnings.push(format!(
                "remote `{name}`: its credentials stay in `.dvc/config.local`; `git ml fetch --from-dvc-remote {name}` reads them there, other git-ml commands read `.git/gitml/config.toml` or the environment"
            ));
        }
        let remotes = doc.entry("remotes").or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        });
        let Some(remotes) = remotes.as_table_mut() else {
            continue;
        };
        if remotes.contains_key(name) {
            report.warnings.push(format!(
                "`[remotes.{name}]` already exists in gitml.toml; kept as it is"
            ));
        } else {
            remotes.insert(name, Item::Table(t));
        }
        if core_remote.as_deref() == Some(name.as_str()) {
            default = Some(name.clone());
        }
        report.remotes.push(ImportedRemote {
            name: name.clone(),
            url: gurl,
            default: core_remote.as_deref() == Some(name.as_str()),
        });
    }
    default
}

/// `rel` (relative to the repository-relative directory `from`) as a path relative to the
/// repository root, `..` allowed: a remote directory may live beside the repository.
fn relative_from_root(from: &str, rel: &str) -> String {
    let mut parts: Vec<String> = from
        .split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    let mut ups = 0usize;
    for c in rel.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    ups += 1;
                }
            }
            c => parts.push(c.to_string()),
        }
    }
    let mut out: Vec<String> = std::iter::repeat_n("..".to_string(), ups).collect();
    out.extend(parts);
    if out.is_empty() {
        ".".into()
    } else {
        out.join("/")
    }
}

fn str_array(items: &[String]) -> Item {
    let mut a = Array::new();
    for i in items {
        a.push(i.as_str());
    }
    value(a)
}

fn field_value(f: &Field) -> Option<toml_edit::Value> {
    match f {
        Field::One(s) => Some(s.as_str().into()),
        Field::Many(v) => {
            let mut a = Array::new();
            for s in v {
                a.push(s.as_str());
            }
            Some(toml_edit::Value::Array(a))
        }
        Field::Files(_) => None,
    }
}

/// A DVC plot as a `[plots.NAME]` table; `Err(why)` when it cannot be expressed.
fn plot_table(path: &str, p: &dp::PlotProps) -> std::result::Result<Table, String> {
    let mut t = Table::new();
    let lower = path.to_ascii_lowercase();
    let image = [".png", ".jpg", ".jpeg", ".svg", ".gif"]
        .iter()
        .any(|e| lower.ends_with(e));
    let kind = match p.template.as_deref() {
        _ if image => "image",
        None | Some("linear") | Some("simple") => "line",
        Some("smooth") => "line",
        Some("scatter") => "scatter",
        Some("confusion") | Some("confusion_normalized") => "confusion",
        Some(other) => {
            return Err(format!(
                "template `{other}`: git-ml draws line, scatter, confusion and image plots"
            ));
        }
    };
    let mut path = path.to_string();
    let mut x = p.x.clone();
    let mut y = p.y.clone();
    if let Some(Field::Files(files)) = &y {
        if files.len() != 1 {
            return Err("`y` takes fields from several files; a git-ml plot reads one file".into());
        }
        let (f, fields) = &files[0];
        path = f.clone();
        y = Some(if fields.len() == 1 {
            Field::One(fields[0].clone())
        } else {
            Field::Many(fields.clone())
        });
    }
    if let Some(Field::Many(xs)) = &x {
        if xs.len() != 1 {
            return Err("`x` names several fields; a git-ml plot has one x field".into());
        }
        x = Some(Field::One(xs[0].clone()));
    }
    if kind == "confusion" && matches!(&y, Some(Field::Many(ys)) if ys.len() > 1) {
        return Err("a confusion matrix has one predicted-class field".into());
    }
    if let Some(Field::Files(files)) = &x {
        match files.as_slice() {
            [(f, fields)] if *f == path && fields.len() == 1 => {
                x = Some(Field::One(fields[0].clone()))
            }
            _ => {
                return Err(
                    "`x` names a field of another file; a git-ml plot reads one file".into(),
                );
            }
        }
    }
    t.insert("path", value(path));
    if let Some(v) = x.as_ref().and_then(field_value) {
        t.insert("x", Item::Value(v));
    }
    if let Some(v) = y.as_ref().and_then(field_value) {
        t.insert("y", Item::Value(v));
    }
    for (k, v) in [
        ("title", &p.title),
        ("x_label", &p.x_label),
        ("y_label", &p.y_label),
    ] {
        if let Some(v) = v {
            t.insert(k, value(v));
        }
    }
    t.insert("kind", value(kind));
    Ok(t)
}

/// `dvc.yaml` files -> stages, metrics, params, plots and models in `doc`.
fn convert_pipeline(
    ws: &Workspace,
    plan: &Plan,
    known: &HashMap<String, (String, Oid)>,
    doc: &mut DocumentMut,
    report: &mut ImportReport,
) -> Result<Vec<NewStage>> {
    let mut metrics: BTreeSet<String> = BTreeSet::new();
    let mut params_files: BTreeSet<String> = BTreeSet::new();
    let mut plots: Vec<(String, Table)> = Vec::new();
    let mut stages = Vec::new();
    let mut models: Vec<(String, String)> = Vec::new();
    // Collect params files first: the first `[params] files` entry is the default one.
    for (y, parsed, _) in &plan.yamls {
        let dir = parent(y);
        for s in &parsed.stages {
            let wdir = stage_wdir(dir, s, y)?;
            for p in &s.params {
                let f = match p {
                    Param::Keys { file: None, .. } => join_inside(&wdir, "params.yaml"),
                    Param::Keys { file: Some(f), .. } | Param::WholeFile(f) => {
                        join_inside(&wdir, f)
                    }
                };
                if let Some(f) = f
                    && is_results_format(&f)
                {
                    params_files.insert(f);
                }
            }
        }
        for p in &parsed.params {
            if let Some(f) = join_inside(dir, p)
                && is_results_format(&f)
            {
                params_files.insert(f);
            }
        }
    }
    let existing_default = doc
        .get("params")
        .and_then(|p| p.get("files"))
        .and_then(|f| f.as_array())
        .and_then(|a| a.get(0))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let default_params = existing_default.unwrap_or_else(|| "params.yaml".into());
    let mut params_list: Vec<String> = Vec::new();
    if params_files.contains(&default_params) || ws.abs(&default_params).is_file() {
        params_list.push(default_params.clone());
    }
    params_list.extend(
        params_files
            .iter()
            .filter(|f| **f != default_params)
            .cloned(),
    );
    let default_params = params_list.first().cloned().unwrap_or(default_params);

    for (y, parsed, lock) in &plan.yamls {
        let dir = parent(y).to_string();
        for (k, line) in &parsed.other {
            report.not_converted.push(NotConverted {
                origin: format!("{y}:{line}"),
                what: format!("`{k}`"),
                why: "no git-ml equivalent".into(),
            });
        }
        for m in &parsed.metrics {
            match join_inside(&dir, m) {
                Some(p) if is_results_format(&p) => {
                    metrics.insert(p);
                }
                _ => report.not_converted.push(NotConverted {
                    origin: y.clone(),
                    what: format!("metrics `{m}`"),
                    why: "git-ml reads JSON, YAML and TOML metrics files inside the repository"
                        .into(),
                }),
            }
        }
        for tp in &parsed.plots {
            let origin = format!("{y}:{}", tp.line);
            let path = match &tp.props.y {
                Some(Field::Files(_)) => tp.id.clone(),
                _ => match join_inside(&dir, &tp.id) {
                    Some(p) => p,
                    None => {
                        return Err(Error::Dvc {
                            file: y.clone(),
                            line: tp.line,
                            message: format!("plot `{}` leaves the repository", tp.id),
                        });
                    }
                },
            };
            match plot_table(&path, &tp.props) {
                Ok(mut t) => {
                    if let Some(Field::Files(_)) = &tp.props.y {
                        let file = t
                            .get("path")
                            .and_then(|v| v.as_str())
                            .unwrap_or_default()
                            .to_string();
                        match join_inside(&dir, &file) {
                            Some(p) => {
                                t.insert("path", value(p));
                            }
                            None => {
                                return Err(Error::Dvc {
                                    file: y.clone(),
                                    line: tp.line,
                                    message: format!(
                                        "plot `{}` reads `{file}`, outside the repository",
                                        tp.id
                                    ),
                                });
                            }
                        }
                    }
                    for o in &tp.props.other {
                        report.not_converted.push(NotConverted {
                            origin: origin.clone(),
                            what: format!("plot `{}`: `{o}`", tp.id),
                            why: "git-ml plots have path, x, y, title, x_label, y_label and kind"
                                .into(),
                        });
                    }
                    if tp.props.template.as_deref() == Some("confusion_normalized") {
                        report.not_converted.push(NotConverted {
                            origin: origin.clone(),
                            what: format!("plot `{}`: normalisation", tp.id),
                            why: "drawn as a plain confusion matrix".into(),
                        });
                    }
                    plots.push((tp.id.clone(), t));
                }
                Err(why) => report.not_converted.push(NotConverted {
                    origin,
                    what: format!("plot `{}`", tp.id),
                    why,
                }),
            }
        }
        for (name, a) in &parsed.artifacts {
            let origin = format!("{y}:{}", a.line);
            match a.kind.as_deref() {
                None | Some("model") => match join_inside(&dir, &a.path) {
                    Some(p) => {
                        models.push((name.clone(), p));
                        for o in &a.other {
                            report.not_converted.push(NotConverted { origin: origin.clone(), what: format!("artifact `{name}`: `{o}`"), why: "git-ml's registry keeps name, path, versions and stages".into() });
                        }
                    }
                    None => report.not_converted.push(NotConverted { origin, what: format!("artifact `{name}`"), why: "its path is not inside the repository (remote artifacts are not converted)".into() }),
                },
                Some(t) => report.not_converted.push(NotConverted { origin, what: format!("artifact `{name}` (type `{t}`)"), why: "git-ml's registry holds models only".into() }),
            }
        }
        for s in &parsed.stages {
            let name = if dir.is_empty() {
                s.name.clone()
            } else {
                format!("{dir}/{}", s.name)
            };
            let origin = format!("{y}:{}", s.line);
            let at = (y.clone(), s.line);
            let wdir = stage_wdir(&dir, s, y)?;
            let not = |report: &mut ImportReport, what: String, why: String| {
                report.not_converted.push(NotConverted {
                    origin: format!("{origin} stage `{name}`"),
                    what,
                    why,
                });
            };
            let resolve = |p: &str| -> Result<String> {
                join_inside(&wdir, p).ok_or_else(|| {
                    dvc_err(
                        &at,
                        format!("stage `{}`: `{p}` leaves the repository", s.name),
                    )
                })
            };
            let mut t = Table::new();
            if s.cmd.len() == 1 {
                t.insert("cmd", value(&s.cmd[0]));
            } else {
                t.insert("cmd", str_array(&s.cmd));
            }
            let mut deps = Vec::new();
            for d in &s.deps {
                if d.contains("://") {
                    not(
                        report,
                        format!("dependency `{d}`"),
                        "a URL: git-ml stages depend on paths in the repository".into(),
                    );
                    continue;
                }
                deps.push(resolve(d)?);
            }
            let mut params = Vec::new();
            for p in &s.params {
                let (file, keys) = match p {
                    Param::Keys { file, keys } => (
                        resolve(file.as_deref().unwrap_or("params.yaml"))?,
                        keys.iter().map(|k| Some(k.clone())).collect::<Vec<_>>(),
                    ),
                    Param::WholeFile(f) => (resolve(f)?, vec![None]),
                };
                if !is_results_format(&file) {
                    not(
                        report,
                        format!("params file `{file}`"),
                        "git-ml reads JSON, YAML and TOML params (not Python)".into(),
                    );
                    continue;
                }
                for k in keys {
                    let label = match (&k, file == default_params) {
                        (Some(k), true) => k.clone(),
                        (Some(k), false) => format!("{file}:{k}"),
                        (None, _) => format!("{file}:"),
                    };
                    if !params.contains(&label) {
                        params.push(label);
                    }
                }
            }
            let mut outs = Vec::new();
            for o in &s.outs {
                let p = resolve(&o.path)?;
                for k in &o.other {
                    not(
                        report,
                        format!("`{k}` of output `{p}`"),
                        "no git-ml equivalent".into(),
                    );
                }
                if !o.cache {
                    not(report, format!("output `{p}` (`cache: false`)"), "git-ml stores every stage output in its cache; this file stays a plain git file and is no longer an output of the stage".into());
                    continue;
                }
                outs.push(p);
            }
            // git-ml keeps a stage's outputs through its run (`persist`) for all of them or none.
            let cached: Vec<&dp::Out> = s.outs.iter().filter(|o| o.cache).collect();
            let persist = cached.iter().any(|o| o.persist);
            if persist && !cached.iter().all(|o| o.persist) {
                let kept: Vec<String> = cached
                    .iter()
                    .filter(|o| !o.persist)
                    .map(|o| format!("`{}`", o.path))
                    .collect();
                not(
                    report,
                    format!("`persist` on only some outputs ({} do not have it)", kept.join(", ")),
                    "git-ml's `persist` is per stage: all its outputs are kept while the command runs".into(),
                );
            }
            let mut smetrics = Vec::new();
            for m in &s.metrics {
                let p = resolve(&m.path)?;
                if is_results_format(&p) {
                    metrics.insert(p.clone());
                    smetrics.push(p);
                } else {
                    not(
                        report,
                        format!("metrics `{p}`"),
                        "git-ml reads JSON, YAML and TOML metrics".into(),
                    );
                }
            }
            let mut splots = Vec::new();
            for pl in &s.plots {
                let p = resolve(&pl.path)?;
                splots.push(p.clone());
                if let Some(props) = &pl.plot
                    && (props.x.is_some()
                        || props.y.is_some()
                        || props.template.is_some()
                        || props.title.is_some())
                {
                    match plot_table(&p, props) {
                        Ok(t) => plots.push((p.clone(), t)),
                        Err(why) => not(report, format!("plot `{p}`"), why),
                    }
                }
            }
            if !deps.is_empty() {
                t.insert("deps", str_array(&deps));
            }
            if !params.is_empty() {
                t.insert("params", str_array(&params));
            }
            if !outs.is_empty() {
                t.insert("outs", str_array(&outs));
            }
            if !smetrics.is_empty() {
                t.insert("metrics", str_array(&smetrics));
            }
            if !splots.is_empty() {
                t.insert("plots", str_array(&splots));
            }
            if !wdir.is_empty() {
                t.insert("wdir", value(&wdir));
            }
            if persist {
                t.insert("persist", value(true));
            }
            if s.always_changed {
                t.insert("always_run", value(true));
            }
            for k in &s.other {
                not(
                    report,
                    format!("`{k}`"),
                    "no git-ml stage setting for it".into(),
                );
            }
            if s.frozen {
                let mut d = DocumentMut::new();
                let mut stages_t = Table::new();
                stages_t.set_implicit(true);
                stages_t.insert(&name, Item::Table(t));
                d.insert("stages", Item::Table(stages_t));
                let commented: String = d.to_string().lines().map(|l| format!("# {l}\n")).collect();
                report.stages.push(ImportedStage { name: name.clone(), origin: origin.clone(), state: "frozen".into(), reasons: vec!["frozen in DVC: kept as a comment in gitml.toml; its outputs are tracked as data".into()] });
                stages.push(NewStage {
                    name,
                    table: Table::new(),
                    desc: s.desc.clone(),
                    frozen_text: Some(commented),
                    state: "frozen",
                    checks: Vec::new(),
                    origin,
                });
                continue;
            }
            // Did DVC consider it up to date?
            let DvcState {
                state,
                reasons,
                checks,
            } = dvc_state(ws, s, &wdir, lock.get(&s.name), known, report.dry_run)?;
            let state = if s.always_changed && state == "up-to-date" {
                "always"
            } else {
                state
            };
            report.stages.push(ImportedStage {
                name: name.clone(),
                origin: origin.clone(),
                state: state.into(),
                reasons: reasons.clone(),
            });
            stages.push(NewStage {
                name,
                table: t,
                desc: s.desc.clone(),
                frozen_text: None,
                state,
                checks,
                origin,
            });
        }
    }
    // Write into the document.
    if !stages.iter().all(|s| s.frozen_text.is_some()) {
        let st = doc.entry("stages").or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        });
        if let Some(st) = st.as_table_mut() {
            for s in stages.iter().filter(|s| s.frozen_text.is_none()) {
                if st.contains_key(&s.name) {
                    report.warnings.push(format!(
                        "`[stages.{}]` already existed in gitml.toml and was replaced",
                        s.name
                    ));
                }
                let mut t = s.table.clone();
                let mut prefix = String::from("\n");
                if let Some(d) = &s.desc {
                    for l in d.lines() {
                        prefix.push_str(&format!("# {l}\n"));
                    }
                }
                prefix.push_str(&format!("# from {}\n", s.origin));
                t.decor_mut().set_prefix(prefix);
                st.insert(&s.name, Item::Table(t));
            }
        }
    }
    let mut metrics: Vec<String> = metrics.into_iter().collect();
    if !metrics.is_empty() {
        merge_files(doc, "metrics", &mut metrics);
        report.metrics_files = metrics;
    }
    if !params_list.is_empty() {
        merge_files(doc, "params", &mut params_list);
        report.params_files = params_list;
    }
    if !plots.is_empty() {
        let pt = doc.entry("plots").or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        });
        if let Some(pt) = pt.as_table_mut() {
            for (id, t) in plots {
                if pt.contains_key(&id) {
                    report.not_converted.push(NotConverted {
                        origin: "dvc.yaml".into(),
                        what: format!("a second definition of plot `{id}`"),
                        why: "`[plots]` already has one under that name (the first found was kept)"
                            .into(),
                    });
                    continue;
                }
                report.plots.push(id.clone());
                pt.insert(&id, Item::Table(t));
            }
        }
    }
    if !models.is_empty() {
        let mt = doc.entry("models").or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        });
        if let Some(mt) = mt.as_table_mut() {
            for (name, path) in models {
                if !mt.contains_key(&name) {
                    let mut t = Table::new();
                    t.insert("path", value(&path));
                    mt.insert(&name, Item::Table(t));
                    report.models.push(name);
                }
            }
        }
    }
    Ok(stages)
}

/// Add `files` to `[SECTION] files` (keeping what is there, first entry first).
fn merge_files(doc: &mut DocumentMut, section: &str, files: &mut Vec<String>) {
    let sec = doc
        .entry(section)
        .or_insert_with(|| Item::Table(Table::new()));
    let Some(sec) = sec.as_table_mut() else {
        return;
    };
    let mut all: Vec<String> = sec
        .get("files")
        .and_then(|f| f.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for f in files.iter() {
        if !all.contains(f) {
            all.push(f.clone());
        }
    }
    sec.insert("files", str_array(&all));
    *files = all;
}

/// What DVC would say about a stage, and which digests must match for its lock entry.
struct DvcState {
    state: &'static str,
    reasons: Vec<String>,
    /// Paths whose current digest must be the oid imported for DVC's md5.
    checks: Vec<(String, Oid)>,
}

fn dvc_state_of(state: &'static str, reasons: Vec<String>, checks: Vec<(String, Oid)>) -> DvcState {
    DvcState {
        state,
        reasons,
        checks,
    }
}

/// Whether DVC would consider stage `s` up to date: its `dvc.lock` entry against the work tree.
fn dvc_state(
    ws: &Workspace,
    s: &dp::Stage,
    wdir: &str,
    lock: Option<&LockStage>,
    known: &HashMap<String, (String, Oid)>,
    dry_run: bool,
) -> Result<DvcState> {
    let Some(l) = lock else {
        return Ok(dvc_state_of(
            "never-run",
            vec!["no dvc.lock entry: DVC never ran it".into()],
            Vec::new(),
        ));
    };
    if dry_run {
        return Ok(dvc_state_of(
            "unchecked",
            vec!["dry run: the work tree was not compared with dvc.lock".into()],
            Vec::new(),
        ));
    }
    let mut why = Vec::new();
    let mut checks = Vec::new();
    if l.cmd != s.cmd {
        why.push("cmd changed since `dvc repro`".into());
    }
    let resolve = |p: &str| join_inside(wdir, p);
    let find = |list: &[Entry], path: &str| {
        list.iter()
            .find(|e| resolve(&e.path).as_deref() == Some(path))
            .cloned()
    };
    let deps: Vec<String> = s
        .deps
        .iter()
        .filter(|d| !d.contains("://"))
        .filter_map(|d| resolve(d))
        .collect();
    for d in &deps {
        match find(&l.deps, d) {
            None => why.push(format!("dep `{d}` is not in dvc.lock")),
            Some(e) => match check_entry(ws, d, &e, known)? {
                Check::Same => {}
                Check::Differs(w) => why.push(w),
                Check::Digest(p, o) => checks.push((p, o)),
            },
        }
    }
    if l.deps
        .iter()
        .any(|e| !resolve(&e.path).is_some_and(|p| deps.contains(&p)))
    {
        why.push("a dep was removed since `dvc repro`".into());
    }
    let outs: Vec<&dp::Out> = s.outs.iter().chain(&s.metrics).chain(&s.plots).collect();
    for o in outs {
        let Some(p) = resolve(&o.path) else { continue };
        match find(&l.outs, &p) {
            None => why.push(format!("output `{p}` is not in dvc.lock")),
            Some(e) => match check_entry(ws, &p, &e, known)? {
                Check::Same => {}
                Check::Differs(w) => why.push(w),
                Check::Digest(p, o) => checks.push((p, o)),
            },
        }
    }
    // Params: the values the lock saw, against the files now.
    let mut now_files: HashMap<String, crate::record::files::Values> = HashMap::new();
    for p in &s.params {
        let (file_rel, keys): (Option<String>, Vec<Option<String>>) = match p {
            Param::Keys { file, keys } => (file.clone(), keys.iter().cloned().map(Some).collect()),
            Param::WholeFile(f) => (Some(f.clone()), vec![None]),
        };
        let written = file_rel.clone().unwrap_or_else(|| "params.yaml".into());
        let Some(file) = resolve(&written) else {
            continue;
        };
        if !is_results_format(&file) {
            continue;
        }
        if !now_files.contains_key(&file) {
            let values = match std::fs::read_to_string(ws.abs(&file)) {
                Ok(t) => crate::record::files::parse(&t, &file)?,
                Err(_) => {
                    why.push(format!("params file `{file}` is missing"));
                    continue;
                }
            };
            now_files.insert(file.clone(), values);
        }
        let locked = l
            .params
            .iter()
            .find(|(f, _)| resolve(f).as_deref() == Some(file.as_str()))
            .map(|(_, v)| flatten_yaml(v))
            .transpose()?
            .unwrap_or_default();
        let now = &now_files[&file];
        for k in keys {
            if leaves(now, k.as_deref()) != leaves(&locked, k.as_deref()) {
                why.push(format!(
                    "param `{}` changed since `dvc repro`",
                    k.as_deref().map_or(format!("{file}:"), str::to_string)
                ));
            }
        }
    }
    Ok(dvc_state_of(
        if why.is_empty() {
            "up-to-date"
        } else {
            "stale"
        },
        why,
        checks,
    ))
}
