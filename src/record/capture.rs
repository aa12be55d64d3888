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
            let files: Vec<String> = match v {
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
            }?;
            // A cloned repository must not make `record` read (and publish in a note) a file
            // outside it.
            for f in &files {
                crate::data::path::check_relative(f, &|| {
                    format!("{} [{section}] files", crate::config::PROJECT_FILE)
                })?;
            }
            Ok(files)
        };
        let mut models = BTreeMap::new();
        if let Some(t) = project.get("models").and_then(|m| m.as_table()) {
            for (name, v) in t {
                let path = v
                    .get("path")
                    .and_then(|p| p.as_str())
                    .ok_or_else(|| bad(format!("[models.{name}] needs `path = \"...\"`")))?;
                let path = path.trim_end_matches('/');
                crate::data::path::check_relative(path, &|| {
                    format!("{} [models.{name}] path", crate::config::PROJECT_FILE)
                })?;
                models.insert(name.clone(), path.to_string());
            }
        }
        let mut metrics_files = list("metrics")?;
        // A stage's `metrics` are metrics files too (validated with the stages).
        if let Some(stages) = project.get("stages").and_then(|s| s.as_table()) {
            for stage in stages.values() {
                let files: Vec<&str> = match stage.get("metrics") {
                    Some(toml::Value::String(f)) => vec![f.as_str()],
                    Some(toml::Value::Array(a)) => a.iter().filter_map(|v| v.as_str()).collect(),
                    _ => Vec::new(),
                };
                for f in files {
                    if crate::data::path::check_relative(f, &String::new).is_ok()
                        && !metrics_files.iter().any(|m| m == f)
                    {
                        metrics_files.push(f.to_string());
                    }
                }
            }
        }
        Ok(Declared {
            metrics_files,
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
    /// The commit the run was recorded on: HEAD when the run's inputs are HEAD's, else `null`.
    pub commit: Option<String>,
    /// The pending run's name when it waits for the commit that carries its inputs (also when it
    /// is on HEAD and its outputs are not committed yet: the commit that adds them gets it too).
    pub pending: Option<String>,
    pub run: Run,
    pub warnings: Vec<Warning>,
}

/// Read declared files of the working tree (through tracked data when they live inside it) into
/// (metrics, params), with warnings for missing ones (a declared file that is absent is normal
/// before the first training run) and for keys that collide.
fn worktree_values(ws: &Workspace, d: &Declared) -> Result<(Values, Values, Vec<Warning>)> {
    let mut reader = super::at::Reader::new(ws)?;
    let mut warnings = Vec::new();
    let mut read = |reader: &mut super::at::Reader<'_>, files_: &[String]| -> Result<Values> {
        let mut out = Values::new();
        for f in files_ {
            match reader.file(None, f)? {
                Some(bytes) => {
                    let text = String::from_utf8_lossy(&bytes);
                    let (values, collisions) = files::parse_report(&text, f)?;
                    warnings.extend(collisions.into_iter().map(|message| Warning { message }));
                    out.extend(values);
                }
                None => warnings.push(Warning {
                    message: format!("`{f}` (declared in gitml.toml) does not exist"),
                }),
            }
        }
        Ok(out)
    };
    let metrics = read(&mut reader, &d.metrics_files)?;
    let params = read(&mut reader, &d.params_files)?;
    warnings.extend(reader.warnings);
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

/// Record a run (`git ml record`): on HEAD when the tracked files other than the metrics files
/// read, and the tracked data, are HEAD's; else it waits as a pending run for the commit that
/// carries them. `allow_dirty` records on HEAD regardless, marked dirty (never used as HEAD's
/// metrics).
pub fn record(ws: &Workspace, opts: &RecordOptions) -> Result<Recorded> {
    let root = ws.root();
    let head = head_commit(ws)?;
    let declared = Declared::from_project(&ws.config.project)?;
    let (mut metrics, mut params, mut warnings) = worktree_values(ws, &declared)?;
    let mut excluded = declared.metrics_files.clone();
    for f in &opts.metrics_files {
        let rel = ws
            .repo
            .relativize(&ws.cwd, f)
            .unwrap_or_else(|_| f.display().to_string());
        let text = fs_err::read_to_string(ws.cwd.join(f))?;
        let (values, collisions) = files::parse_report(&text, &rel)?;
        warnings.extend(collisions.into_iter().map(|message| Warning { message }));
        metrics.extend(values);
        excluded.push(rel);
    }
    for f in &opts.params_files {
        let rel = ws
            .repo
            .relativize(&ws.cwd, f)
            .unwrap_or_else(|_| f.display().to_string());
        let text = fs_err::read_to_string(ws.cwd.join(f))?;
        let (values, collisions) = files::parse_report(&text, &rel)?;
        warnings.extend(collisions.into_iter().map(|message| Warning { message }));
        params.extend(values);
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
    let mut run = Run {
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
        dirty: false,
    };
    if opts.allow_dirty {
        run.dirty = !dirty_paths(ws)?.is_empty();
        let _lock = ws.lock(&|_| {})?;
        notes::append(root, &head, &[run.to_line()])?;
        return Ok(Recorded {
            commit: Some(head),
            pending: None,
            run,
            warnings,
        });
    }
    let inputs = super::pending::tree_inputs(ws, &head, &excluded)?;
    let mut r = place(ws, &head, inputs, run, &excluded)?;
    r.warnings.splice(0..0, warnings);
    Ok(r)
}

/// The commit HEAD names, or an error saying there is none yet.
fn head_commit(ws: &Workspace) -> Result<String> {
    git::resolve_commit(ws.root(), "HEAD").map_err(|_| {
        Error::Other("there is no commit to record on yet; commit first (`git commit`)".into())
    })
}

/// Put a run where its inputs say: on HEAD when HEAD carries them (and pending as well when
/// `outputs` are not committed yet, for the commit that adds them), else pending.
fn place(
    ws: &Workspace,
    head: &str,
    inputs: super::pending::Inputs,
    run: Run,
    outputs: &[String],
) -> Result<Recorded> {
    let mut reader = super::at::Reader::new(ws)?;
    let on_head = super::pending::carries(&mut reader, head, &inputs)?;
    let warnings = std::mem::take(&mut reader.warnings);
    let uncommitted = on_head && !outputs.is_empty() && {
        let mut args = vec!["status", "--porcelain", "-z", "--"];
        args.extend(outputs.iter().map(String::as_str));
        !git::run(ws.root(), &args)?.is_empty()
    };
    let pending = if !on_head || uncommitted {
        let p = super::pending::Pending::new(head.to_string(), inputs, run.clone());
        Some(super::pending::save(ws, &p)?)
    } else {
        None
    };
    if on_head {
        let _lock = ws.lock(&|_| {})?;
        notes::append(ws.root(), head, &[run.to_line()])?;
    }
    Ok(Recorded {
        commit: on_head.then(|| head.to_string()),
        pending,
        run,
        warnings,
    })
}

/// Record a pipeline run (`git ml run`) whose stages left `lock`: metrics from the stages'
/// metrics files, params from the files they read; placed by the stages' inputs (see
/// [`super::pending`]).
pub fn record_pipeline(
    ws: &Workspace,
    stages: &[crate::pipeline::Stage],
    lock: &crate::pipeline::lockfile::LockFile,
    command: &str,
    duration: f64,
) -> Result<Recorded> {
    let head = head_commit(ws)?;
    let mut declared = Declared::from_project(&ws.config.project)?;
    for s in stages {
        for p in &s.params {
            if !declared.params_files.contains(&p.file) {
                declared.params_files.push(p.file.clone());
            }
        }
    }
    let (metrics, params, warnings) = worktree_values(ws, &declared)?;
    let data = worktree_data(ws)?;
    let run = Run {
        id: super::new_id(),
        time: super::now_rfc3339(),
        source: source(),
        command: Some(command.to_string()),
        duration: Some(duration),
        metrics,
        params,
        models: models_of(&declared, &data),
        data,
        tags: BTreeMap::new(),
        dirty: false,
    };
    let mut reader = super::at::Reader::new(ws)?;
    let inputs = super::pending::pipeline_inputs(ws, &mut reader, stages, lock)?;
    drop(reader);
    let mut outputs = vec![crate::pipeline::lockfile::FILE.to_string()];
    for s in stages {
        outputs.extend(s.outs.iter().map(|o| crate::data::pointer::pointer_path(o)));
        outputs.extend(s.metrics.iter().cloned());
    }
    let mut r = place(ws, &head, inputs, run, &outputs)?;
    r.warnings.splice(0..0, warnings);
    Ok(r)
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

/// What a commit (an oid) says: its runs, else its declared files (read through tracked data
/// when they live inside it), else nothing. Pending runs whose inputs the commit carries are
/// adopted first. Dirty runs (recorded with uncommitted changes) are never the commit's metrics:
/// they are kept apart in [`Snapshot::dirty`].
pub fn snapshot_at(
    reader: &mut super::at::Reader<'_>,
    commit: &str,
    declared: &Declared,
) -> Result<Snapshot> {
    super::pending::adopt(reader, commit)?;
    let mut warnings = Vec::new();
    let mut dirty = Vec::new();
    if let Some(note) = reader.batch.note(notes::REF, commit)? {
        let (runs, w) = super::parse_note(&String::from_utf8_lossy(&note), commit);
        warnings.extend(w);
        let (clean, unclean): (Vec<Run>, Vec<Run>) = runs.into_iter().partition(|r| !r.dirty);
        dirty = unclean;
        if !clean.is_empty() {
            return Ok(Snapshot {
                commit: Some(commit.to_string()),
                origin: Origin::Record,
                runs: clean,
                dirty,
                warnings,
            });
        }
        if !dirty.is_empty() {
            warnings.push(Warning {
                message: format!(
                    "{} of {} was recorded with uncommitted changes (dirty); it is not used as the commit's metrics",
                    if dirty.len() == 1 { "the only run".to_string() } else { format!("all {} runs", dirty.len()) },
                    &commit[..12.min(commit.len())]
                ),
            });
        }
    }
    let mut found = false;
    let mut read = |reader: &mut super::at::Reader<'_>, list: &[String]| -> Result<Values> {
        let mut out = Values::new();
        for f in list {
            let bytes = match reader.file(Some(commit), f) {
                Ok(b) => b,
                Err(e) => {
                    warnings.push(Warning {
                        message: format!("{e} (at {}); ignored", &commit[..12.min(commit.len())]),
                    });
                    None
                }
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
    let metrics = read(reader, &declared.metrics_files)?;
    let params = read(reader, &declared.params_files)?;
    warnings.append(&mut reader.warnings);
    if !found {
        return Ok(Snapshot {
            commit: Some(commit.to_string()),
            origin: Origin::None,
            runs: Vec::new(),
            dirty,
            warnings,
        });
    }
    Ok(Snapshot {
        commit: Some(commit.to_string()),
        origin: Origin::Files,
        runs: vec![files_run(metrics, params)],
        dirty,
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
        dirty: Vec::new(),
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
