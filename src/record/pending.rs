//! Pending runs: a run whose inputs are not HEAD's waits here, under the git dir, until a commit
//! carries exactly those inputs; then it is attached to that commit's note ("adopted"), once.
//!
//! The inputs of a pipeline run are, per stage, its definition, its param values, and the digests
//! of its source deps (deps no stage produces): tracked data by content oid, git files by blob
//! id. Outputs are not inputs: a run in CI, whose outputs are never committed, still belongs on
//! the commit it ran on. The inputs of a plain `record` are the tracked files (except the metrics
//! files it reads, which are its outputs) and the content of the tracked data.
//!
//! The invariant: a run is attached only to a commit whose tree has the same inputs, and only
//! once — adoption happens under the repository lock, after checking that the pending file is
//! still there, and removes it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Run;
use super::at::Reader;
use crate::error::{Error, Result};
use crate::git;
use crate::pipeline::Stage;
use crate::workspace::Workspace;

const VERSION: u32 = 1;

/// What a stage of a pipeline run ran with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageInput {
    /// [`Stage::definition`].
    pub definition: serde_json::Value,
    /// Param label -> value, as in `gitml.lock`.
    pub params: BTreeMap<String, String>,
}

/// The inputs of a run; see the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Inputs {
    Pipeline {
        stages: BTreeMap<String, StageInput>,
        /// Source deps that are (or lie inside) tracked data: path -> content oid.
        data: BTreeMap<String, String>,
        /// Source deps in git: the dep paths, and every file below them -> git blob id.
        git_roots: Vec<String>,
        git: BTreeMap<String, String>,
    },
    Tree {
        /// The commit the run was made on.
        base: String,
        /// Tracked files that differed from `base`: path -> blob id (`None`: deleted).
        changed: BTreeMap<String, Option<String>>,
        /// Tracked data: path -> content oid.
        data: BTreeMap<String, String>,
        /// Paths that are outputs, not inputs (the metrics files read).
        excluded: Vec<String>,
    },
}

/// A run waiting for the commit that carries its inputs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub version: u32,
    /// HEAD when the run was made: the commit that carries the inputs comes after it.
    pub base: String,
    pub inputs: Inputs,
    pub run: Run,
}

impl Pending {
    pub fn new(base: String, inputs: Inputs, run: Run) -> Pending {
        Pending {
            version: VERSION,
            base,
            inputs,
            run,
        }
    }

    /// A name that is the same for the same run and inputs.
    pub fn fingerprint(&self) -> String {
        let text = serde_json::to_string(&(&self.inputs, &self.run.id)).expect("serialises");
        blake3::hash(text.as_bytes()).to_hex()[..32].to_string()
    }
}

fn dir(ws: &Workspace) -> PathBuf {
    ws.gitml_dir().join("pending")
}

/// Keep a pending run; returns its fingerprint.
pub fn save(ws: &Workspace, p: &Pending) -> Result<String> {
    let d = dir(ws);
    fs_err::create_dir_all(&d)?;
    let name = p.fingerprint();
    let text = serde_json::to_vec_pretty(p).map_err(std::io::Error::other)?;
    crate::fsutil::atomic_write(&d.join(format!("{name}.json")), &text, 0o644)?;
    Ok(name)
}

/// Every pending run, with its file. Files that do not parse (a newer git-ml's, damaged) are
/// skipped, never deleted.
pub fn list(ws: &Workspace) -> Vec<(PathBuf, Pending)> {
    let Ok(rd) = std::fs::read_dir(dir(ws)) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, Pending)> = rd
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| {
            let text = std::fs::read(e.path()).ok()?;
            let p: Pending = serde_json::from_slice(&text).ok()?;
            (p.version == VERSION).then(|| (e.path(), p))
        })
        .collect();
    out.sort_by(|a, b| a.1.run.time.cmp(&b.1.run.time));
    out
}

/// The inputs of a pipeline run, from the stages and the lock entries it left.
pub fn pipeline_inputs(
    ws: &Workspace,
    reader: &mut Reader<'_>,
    stages: &[Stage],
    lock: &crate::pipeline::lockfile::LockFile,
) -> Result<Inputs> {
    let produced: Vec<&String> = stages.iter().flat_map(|s| &s.outs).collect();
    let is_produced = |d: &str| {
        produced
            .iter()
            .any(|o| d == o.as_str() || d.starts_with(&format!("{o}/")))
    };
    let mut out_stages = BTreeMap::new();
    let mut data = BTreeMap::new();
    let mut git_roots = Vec::new();
    for s in stages {
        let Some(entry) = lock.stages.get(&s.name) else {
            continue;
        };
        out_stages.insert(
            s.name.clone(),
            StageInput {
                definition: s.definition(),
                params: entry.params.clone(),
            },
        );
        for d in &s.deps {
            if is_produced(d) {
                continue;
            }
            if reader.is_tracked_data(None, d)? {
                if let Some(oid) = entry.deps.get(d) {
                    data.insert(d.clone(), oid.clone());
                }
            } else if !git_roots.contains(d) {
                git_roots.push(d.clone());
            }
        }
    }
    git_roots.sort();
    let git = worktree_blobs(ws, &git_roots)?;
    Ok(Inputs::Pipeline {
        stages: out_stages,
        data,
        git_roots,
        git,
    })
}

/// Blob ids of the working tree's files below `roots` that git sees (tracked, and untracked
/// ones not ignored): the index's id for a file unchanged since it was staged, else hashed.
fn worktree_blobs(ws: &Workspace, roots: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if roots.is_empty() {
        return Ok(out);
    }
    let root = ws.root();
    let with = |args: &[&str]| -> Result<Vec<String>> {
        let mut a: Vec<&str> = args.to_vec();
        a.push("--");
        a.extend(roots.iter().map(String::as_str));
        Ok(git::run(root, &a)?
            .split(|&b| b == 0)
            .filter(|r| !r.is_empty())
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect())
    };
    for rec in with(&["ls-files", "-s", "-z"])? {
        if let Some((meta, path)) = rec.split_once('\t')
            && let Some(blob) = meta.split(' ').nth(1)
        {
            out.insert(path.to_string(), blob.to_string());
        }
    }
    for gone in with(&["ls-files", "-d", "-z"])? {
        out.remove(&gone);
    }
    let mut rehash: Vec<String> = with(&["ls-files", "-m", "-z"])?
        .into_iter()
        .filter(|p| out.contains_key(p) && ws.abs(p).is_file())
        .collect();
    rehash.extend(with(&["ls-files", "-o", "--exclude-standard", "-z"])?);
    rehash.retain(|p| !p.ends_with(crate::fsutil::TMP_MARKER));
    if !rehash.is_empty() {
        let input: String = rehash.iter().map(|p| format!("{p}\n")).collect();
        let ids = git::run_with_input(root, &["hash-object", "--stdin-paths"], input.as_bytes())?;
        for (p, id) in rehash.iter().zip(String::from_utf8_lossy(&ids).lines()) {
            out.insert(p.clone(), id.trim().to_string());
        }
    }
    Ok(out)
}

/// The inputs of a plain `record`: how the tracked files differ from HEAD, and the tracked data.
/// `excluded` paths (the metrics files read) are outputs and do not count.
pub fn tree_inputs(ws: &Workspace, head: &str, excluded: &[String]) -> Result<Inputs> {
    let root = ws.root();
    let out = git::run(root, &["diff", "--name-status", "-z", "--no-renames", head])?;
    let fields: Vec<String> = out
        .split(|&b| b == 0)
        .filter(|r| !r.is_empty())
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect();
    let mut changed = BTreeMap::new();
    let mut to_hash = Vec::new();
    for pair in fields.chunks(2) {
        let [status, path] = pair else { continue };
        if counts(path, excluded) {
            if status.starts_with('D') || !ws.abs(path).exists() {
                changed.insert(path.clone(), None);
            } else {
                to_hash.push(path.clone());
            }
        }
    }
    if !to_hash.is_empty() {
        let input: String = to_hash.iter().map(|p| format!("{p}\n")).collect();
        let ids = git::run_with_input(root, &["hash-object", "--stdin-paths"], input.as_bytes())?;
        for (p, id) in to_hash.iter().zip(String::from_utf8_lossy(&ids).lines()) {
            changed.insert(p.clone(), Some(id.trim().to_string()));
        }
    }
    let tracked = ws.find_tracked()?;
    let paths: Vec<String> = tracked.iter().map(|t| t.path.clone()).collect();
    let digester = crate::pipeline::hash::Digester::new(ws)?;
    let digests = digester.digests(ws, &paths)?;
    digester.save(ws);
    let mut data = BTreeMap::new();
    for (p, oid) in digests {
        // Data that is not here (not pulled) is what its pointer says it is.
        let oid = match oid {
            Some(o) => o,
            None => match tracked.iter().find(|t| t.path == p) {
                Some(t) => ws.read_pointer(t)?.oid,
                None => continue,
            },
        };
        data.insert(p, oid.to_string());
    }
    Ok(Inputs::Tree {
        base: head.to_string(),
        changed,
        data,
        excluded: excluded.to_vec(),
    })
}

/// Whether a changed path counts as an input of a `record`: not an excluded output, not a pointer
/// (pointers are compared by the content of their data).
fn counts(path: &str, excluded: &[String]) -> bool {
    !excluded.iter().any(|e| e == path) && !path.ends_with(crate::data::pointer::SUFFIX)
}

/// Whether `commit`'s tree carries exactly `inputs`.
pub fn carries(reader: &mut Reader<'_>, commit: &str, inputs: &Inputs) -> Result<bool> {
    match inputs {
        Inputs::Pipeline {
            stages,
            data,
            git_roots,
            git: blobs,
        } => {
            let Some(text) = reader.file(Some(commit), crate::config::PROJECT_FILE)? else {
                return Ok(false);
            };
            let text = String::from_utf8_lossy(&text).into_owned();
            let Ok(project) = toml::from_str::<toml::Table>(&text) else {
                return Ok(false);
            };
            let Ok(defined) = crate::pipeline::stages(&project, &text) else {
                return Ok(false);
            };
            for (name, input) in stages {
                let Some(stage) = defined.iter().find(|s| &s.name == name) else {
                    return Ok(false);
                };
                if stage.definition() != input.definition {
                    return Ok(false);
                }
                let mut read = |file: &str| -> Result<Option<String>> {
                    Ok(reader
                        .file(Some(commit), file)?
                        .map(|b| String::from_utf8_lossy(&b).into_owned()))
                };
                match crate::pipeline::run::param_values_from(&project, stage, &mut read) {
                    Ok(values) if values == input.params => {}
                    _ => return Ok(false),
                }
            }
            for (path, oid) in data {
                if reader
                    .data_digest(Some(commit), path)?
                    .map(|o| o.to_string())
                    .as_ref()
                    != Some(oid)
                {
                    return Ok(false);
                }
            }
            Ok(tree_blobs(reader, commit, git_roots)? == *blobs)
        }
        Inputs::Tree {
            base,
            changed,
            data,
            excluded,
        } => {
            let out = git::run(
                reader.ws.root(),
                &[
                    "diff",
                    "--raw",
                    "--no-abbrev",
                    "-z",
                    "--no-renames",
                    base,
                    commit,
                ],
            )?;
            let fields: Vec<String> = out
                .split(|&b| b == 0)
                .filter(|r| !r.is_empty())
                .map(|r| String::from_utf8_lossy(r).into_owned())
                .collect();
            let mut at = BTreeMap::new();
            for pair in fields.chunks(2) {
                let [meta, path] = pair else { continue };
                // `:old-mode new-mode old-blob new-blob status`
                let parts: Vec<&str> = meta.trim_start_matches(':').split(' ').collect();
                if parts.len() < 5 || !counts(path, excluded) {
                    continue;
                }
                let blob = (!parts[4].starts_with('D')).then(|| parts[3].to_string());
                at.insert(path.clone(), blob);
            }
            if at != *changed {
                return Ok(false);
            }
            let pointers: BTreeMap<String, String> = reader
                .pointers(Some(commit))?
                .into_iter()
                .map(|(p, ptr)| (p, ptr.oid.to_string()))
                .collect();
            Ok(pointers == *data)
        }
    }
}

/// Blob ids of every file below `roots` in `commit`'s tree.
fn tree_blobs(
    reader: &mut Reader<'_>,
    commit: &str,
    roots: &[String],
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if roots.is_empty() {
        return Ok(out);
    }
    let mut args = vec!["ls-tree", "-r", "-z", commit, "--"];
    args.extend(roots.iter().map(String::as_str));
    for rec in git::run(reader.ws.root(), &args)?.split(|&b| b == 0) {
        let rec = String::from_utf8_lossy(rec);
        // `<mode> <type> <blob>\t<path>`
        if let Some((meta, path)) = rec.split_once('\t')
            && let Some(blob) = meta.split(' ').nth(2)
        {
            out.insert(path.to_string(), blob.to_string());
        }
    }
    Ok(out)
}

/// Attach to `commit` every pending run whose inputs it carries (and that was made before it).
/// Returns the ids of the runs adopted.
pub fn adopt(reader: &mut Reader<'_>, commit: &str) -> Result<Vec<String>> {
    let ws = reader.ws;
    let pending = list(ws);
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let mut adopted = Vec::new();
    for (file, p) in pending {
        // The commit that carries the inputs comes after the run's base: a child, or (after an
        // amend) a child of the base's parent. The base itself had other inputs, or already has
        // the run.
        let after_base = p.base != commit
            && (is_ancestor(ws, &p.base, commit)
                || is_ancestor(ws, &format!("{}^", p.base), commit));
        if !after_base || !carries(reader, commit, &p.inputs)? {
            continue;
        }
        let _lock = ws.lock(&|_| {})?;
        // Another process may have adopted it while we checked.
        if !file.exists() {
            continue;
        }
        super::notes::append(ws.root(), commit, &[p.run.to_line()])?;
        fs_err::remove_file(&file)?;
        adopted.push(p.run.id.clone());
    }
    Ok(adopted)
}

/// Adopt pending runs among `commits` (newest first, as `git log` lists them): for each pending
/// run, the oldest listed commit after its base that carries its inputs.
pub fn adopt_among(reader: &mut Reader<'_>, commits: &[String]) -> Result<usize> {
    let ws = reader.ws;
    let pending = list(ws);
    let mut n = 0;
    for (file, p) in pending {
        let Some(base_at) = commits.iter().position(|c| *c == p.base) else {
            continue;
        };
        for c in commits[..base_at].iter().rev() {
            if carries(reader, c, &p.inputs)? {
                let _lock = ws.lock(&|_| {})?;
                if file.exists() {
                    super::notes::append(ws.root(), c, &[p.run.to_line()])?;
                    fs_err::remove_file(&file)?;
                    n += 1;
                }
                break;
            }
        }
    }
    Ok(n)
}

fn is_ancestor(ws: &Workspace, a: &str, b: &str) -> bool {
    git::run(ws.root(), &["merge-base", "--is-ancestor", a, b]).is_ok()
}

/// Remove a pending run by id (the CLI's `record --drop-pending`).
pub fn drop(ws: &Workspace, id: &str) -> Result<bool> {
    for (file, p) in list(ws) {
        if p.run.id == id || p.fingerprint().starts_with(id) {
            fs_err::remove_file(&file)?;
            return Ok(true);
        }
    }
    Err(Error::Other(format!("no pending run `{id}`")))
}
