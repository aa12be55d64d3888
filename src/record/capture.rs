//! `git ml record`: add a run to HEAD's note; and reading what a revision (or the working tree)
//! has to say, from its records or, lacking those, from its declared files.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::files::{self, Values};
use super::notes::{self, NotesIndex};
use super::{Origin, Run, Snapshot, Source, Warning};
use crate::error::{Error, Result};
use crate::git;
use crate::workspace::Workspace;

/// What `gitml.toml` declares for records.
#[derive(Debug, Clone, Default)]
pub struct Declared {
    pub metrics_files: Vec<String>,
    pub params_files: Vec<String>,
    /// Model name -> tracked path of its artifact.
    pub models: BTreeMap<String, String>,
}

impl Declared {
    pub fn from_project(project: &toml::Table) -> Result<Declared> {
        let bad = |message: String| Error::Config {
            file: crate::config::PROJECT_FILE.into(),
            message,
        };
        let list = |section: &str| -> Result<Vec<String>> {
            let Some(v) = project.get(section).and_then(|s| s.get("files")) else {
                return Ok(Vec::new());
            };
            match v {
                toml::Value::String(s) => Ok(vec![s.clone()]),
                toml::Value::Array(items) => items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_string).ok_or_else(|| {
                            bad(format!(
                                "[{section}] files: every entry must be a path string"
                            ))
                        })
                    })
                    .collect(),
                _ => Err(bad(format!(
                    "[{section}] files must be a path or a list of paths"
                ))),
            }
        };
        let mut models = BTreeMap::new();
        if let Some(t) = project.get("models").and_then(|m| m.as_table()) {
            for (name, v) in t {
                let path = v
                    .get("path")
                    .and_then(|p| p.as_str())
                    .ok_or_else(|| bad(format!("[models.{name}] needs `path = \"...\"`")))?;
                models.insert(name.clone(), path.trim_end_matches('/').to_string());
            }
        }
        Ok(Declared {
            metrics_files: list("metrics")?,
            params_files: list("params")?,
            models,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct RecordOptions {
    pub metrics_files: Vec<PathBuf>,
    pub metrics: Vec<String>,
    pub params_files: Vec<PathBuf>,
    pub params: Vec<String>,
    pub tags: Vec<String>,
    pub command: Option<String>,
    pub duration: Option<f64>,
    pub allow_dirty: bool,
}

#[derive(Debug, serde::Serialize)]
pub struct Recorded {
    pub commit: String,
    pub run: Run,
    pub warnings: Vec<Warning>,
}

/// Read declared files from the working tree into (metrics, params), with warnings for missing
/// ones (a declared file that is absent is normal before the first training run).
fn worktree_values(ws: &Workspace, d: &Declared) -> Result<(Values, Values, Vec<Warning>)> {
    let mut warnings = Vec::new();
    let mut read = |files_: &[String]| -> Result<Values> {
        let mut out = Values::new();
        for f in files_ {
            match std::fs::read_to_string(ws.abs(f)) {
                Ok(text) => out.extend(files::parse(&text, f)?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => warnings.push(Warning {
                    message: format!("`{f}` (declared in gitml.toml) does not exist"),
                }),
                Err(e) => {
                    return Err(fs_err::read_to_string(ws.abs(f))
                        .err()
                        .map_or(e.into(), Into::into));
                }
            }
        }
        Ok(out)
    };
    let metrics = read(&d.metrics_files)?;
    let params = read(&d.params_files)?;
    Ok((metrics, params, warnings))
}

/// Tracked path -> oid for the work tree's pointers.
fn worktree_data(ws: &Workspace) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for t in ws.find_tracked()? {
        out.insert(t.path.clone(), ws.read_pointer(&t)?.oid.to_string());
    }
    Ok(out)
}

fn models_of(d: &Declared, data: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    d.models
        .iter()
        .filter_map(|(name, path)| data.get(path).map(|oid| (name.clone(), oid.clone())))
        .collect()
}

fn source() -> Source {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if env("GITHUB_ACTIONS").as_deref() == Some("true") {
        let url = match (
            env("GITHUB_SERVER_URL"),
            env("GITHUB_REPOSITORY"),
            env("GITHUB_RUN_ID"),
        ) {
            (Some(s), Some(r), Some(id)) => Some(format!("{s}/{r}/actions/runs/{id}")),
            _ => None,
        };
        return Source {
            kind: "ci".into(),
            url,
            host: None,
        };
    }
    if env("CI").is_some_and(|v| v != "false" && v != "0") {
        return Source {
            kind: "ci".into(),
            url: env("CI_JOB_URL").or_else(|| env("BUILD_URL")),
            host: None,
        };
    }
    let host = env("HOSTNAME").or_else(|| {
        std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
    });
    Source {
        kind: "local".into(),
        url: None,
        host,
    }
}

/// Files git tracks that differ from HEAD, and tracked data that differs from its pointer.
fn dirty_paths(ws: &Workspace) -> Result<Vec<String>> {
    let out = git::run(
        ws.root(),
        &["status", "--porcelain", "-z", "--untracked-files=no"],
    )?;
    let mut dirty: Vec<String> = out
        .split(|&b| b == 0)
        .filter(|r| r.len() > 3)
        .map(|r| String::from_utf8_lossy(&r[3..]).into_owned())
        .collect();
    let tracked = ws.find_tracked()?;
    let report = crate::data::status::status(ws, &tracked, &crate::progress::Silent)?;
    dirty.extend(
        report
            .paths
            .iter()
            // Data that is absent (not pulled) does not contradict its pointer; changed data does.
            .filter(|p| p.state == crate::data::status::State::Modified)
            .map(|p| p.path.clone()),
    );
    dirty.sort();
    dirty.dedup();
    Ok(dirty)
}

/// Add a run to HEAD's note.
pub fn record(ws: &Workspace, opts: &RecordOptions) -> Result<Recorded> {
    let root = ws.root();
    let commit = git::resolve_commit(root, "HEAD").map_err(|_| {
        Error::Other("there is no commit to record on yet; commit first (`git commit`)".into())
    })?;
    let declared = Declared::from_project(&ws.config.project)?;
    let dirty = dirty_paths(ws)?;
    if !dirty.is_empty() && !opts.allow_dirty {
        let shown: Vec<String> = dirty.iter().take(10).map(|p| format!("`{p}`")).collect();
        return Err(Error::Dirty {
            count: dirty.len(),
            paths: shown.join(", "),
        });
    }
    let (mut metrics, mut params, mut warnings) = worktree_values(ws, &declared)?;
    for f in &opts.metrics_files {
        let rel = ws
            .repo
            .relativize(&ws.cwd, f)
            .unwrap_or_else(|_| f.display().to_string());
        let text = fs_err::read_to_string(ws.cwd.join(f))?;
        metrics.extend(files::parse(&text, &rel)?);
    }
    for f in &opts.params_files {
        let rel = ws
            .repo
            .relativize(&ws.cwd, f)
            .unwrap_or_else(|_| f.display().to_string());
        let text = fs_err::read_to_string(ws.cwd.join(f))?;
        params.extend(files::parse(&text, &rel)?);
    }
    for m in &opts.metrics {
        let (k, v) = files::parse_assignment(m)?;
        metrics.insert(k, v);
    }
    for p in &opts.params {
        let (k, v) = files::parse_assignment(p)?;
        params.insert(k, v);
    }
    for (k, v) in &metrics {
        if !matches!(v, Value::Number(_)) {
            warnings.push(Warning {
                message: format!("metric `{k}` is {v}, not a number: recorded, but not compared"),
            });
        }
    }
    let mut tags = BTreeMap::new();
    for t in &opts.tags {
        let (k, v) = t
            .split_once('=')
            .ok_or_else(|| Error::Other(format!("tag `{t}` is not `name=value`")))?;
        tags.insert(k.trim().to_string(), v.trim().to_string());
    }
    let data = worktree_data(ws)?;
    let run = Run {
        id: super::new_id(),
        time: super::now_rfc3339(),
        source: source(),
        command: opts.command.clone(),
        duration: opts.duration,
        metrics,
        params,
        models: models_of(&declared, &data),
        data,
        tags,
        dirty: !dirty.is_empty(),
    };
    let _lock = ws.lock(&|_| {})?;
    notes::append(root, &commit, &[run.to_line()])?;
    Ok(Recorded {
        commit,
        run,
        warnings,
    })
}

/// `record --from REV`: copy REV's runs to HEAD, only if both commits have the same tree (a
/// squash or rebase merge of exactly what was recorded).
pub fn copy_from(ws: &Workspace, rev: &str) -> Result<(String, usize)> {
    let root = ws.root();
    let from = git::resolve_commit(root, rev)?;
    let head = git::resolve_commit(root, "HEAD")?;
    let tree = |c: &str| -> Result<String> {
        Ok(
            String::from_utf8_lossy(&git::run(root, &["rev-parse", &format!("{c}^{{tree}}")])?)
                .trim()
                .to_string(),
        )
    };
    if tree(&from)? != tree(&head)? {
        return Err(Error::Other(format!(
            "HEAD's files differ from `{rev}`'s, so its runs do not describe HEAD; nothing copied (compare with `git diff {rev} HEAD --stat`)"
        )));
    }
    let index = NotesIndex::load(root)?;
    let Some(text) = index.text(root, &from)? else {
        return Err(Error::Other(format!("`{rev}` has no run records to copy")));
    };
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let _lock = ws.lock(&|_| {})?;
    notes::append(root, &head, &lines)?;
    Ok((head, lines.len()))
}

/// What a commit (an oid) says: its runs, else its declared files, else nothing. Everything is
/// read through one `git cat-file --batch`.
pub fn snapshot_at(batch: &mut git::Batch, commit: &str, declared: &Declared) -> Result<Snapshot> {
    if let Some(note) = batch.note(notes::REF, commit)? {
        let (runs, warnings) = super::parse_note(&String::from_utf8_lossy(&note), commit);
        if !runs.is_empty() {
            return Ok(Snapshot {
                commit: Some(commit.to_string()),
                origin: Origin::Record,
                runs,
                warnings,
            });
        }
    }
    let mut warnings = Vec::new();
    let mut found = false;
    let mut read = |batch: &mut git::Batch, list: &[String]| -> Result<Values> {
        let mut out = Values::new();
        for f in list {
            // A file DVC cached was never in the tree: its commit's DVC files name it.
            let bytes = match batch.file(commit, f)? {
                Some(b) => Some(b),
                None => super::dvc_era::file(batch, commit, f)?,
            };
            if let Some(b) = bytes {
                found = true;
                match files::parse(&String::from_utf8_lossy(&b), f) {
                    Ok(v) => out.extend(v),
                    Err(e) => warnings.push(Warning {
                        message: format!("{e} (at {}); ignored", &commit[..12.min(commit.len())]),
                    }),
                }
            }
        }
        Ok(out)
    };
    let metrics = read(batch, &declared.metrics_files)?;
    let params = read(batch, &declared.params_files)?;
    if !found {
        return Ok(Snapshot {
            commit: Some(commit.to_string()),
            origin: Origin::None,
            runs: Vec::new(),
            warnings,
        });
    }
    Ok(Snapshot {
        commit: Some(commit.to_string()),
        origin: Origin::Files,
        runs: vec![files_run(metrics, params)],
        warnings,
    })
}

/// The working tree: its declared files and pointers.
pub fn snapshot_worktree(ws: &Workspace, declared: &Declared) -> Result<Snapshot> {
    let (metrics, params, warnings) = worktree_values(ws, declared)?;
    let origin = if metrics.is_empty() && params.is_empty() {
        Origin::None
    } else {
        Origin::Worktree
    };
    let mut run = files_run(metrics, params);
    run.data = worktree_data(ws)?;
    run.models = models_of(declared, &run.data);
    Ok(Snapshot {
        commit: None,
        origin,
        runs: if origin == Origin::None {
            Vec::new()
        } else {
            vec![run]
        },
        warnings,
    })
}

fn files_run(metrics: Values, params: Values) -> Run {
    Run {
        id: "files".into(),
        time: String::new(),
        source: Source {
            kind: "files".into(),
            url: None,
            host: None,
        },
        command: None,
        duration: None,
        metrics,
        params,
        data: BTreeMap::new(),
        models: BTreeMap::new(),
        tags: BTreeMap::new(),
        dirty: false,
    }
}
