//! `git ml diff`: what changed between two revisions (or a revision and the working tree) in
//! metrics, params, tracked data and models.
//!
//! Each side is aggregated over its runs (mean, sample standard deviation, count), so a side with
//! several seeds compares as a distribution. The invariant: every number shown says which source
//! it came from (records, files in the tree, or the working tree), and nothing is invented for a
//! side that has no value.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::capture::{Declared, snapshot_at, snapshot_worktree};
use super::files::as_number;
use super::{Origin, Snapshot, Warning};
use crate::data::pointer::{Kind, Pointer};
use crate::error::{Error, Result};
use crate::git;
use crate::workspace::Workspace;

/// One side of a diff.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// What the user named (`main`, `HEAD~1`, `workspace`).
    pub rev: String,
    /// The commit, or `null` for the working tree.
    pub commit: Option<String>,
    pub origin: Origin,
    pub runs: usize,
}

/// A metric's value on one side, over its runs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stat {
    /// Mean of the numeric values; `null` if there are none.
    pub mean: Option<f64>,
    /// Sample standard deviation, when there are two or more numbers.
    pub spread: Option<f64>,
    /// How many runs had a number for it.
    pub n: usize,
    /// The value when it is not a number (`"nan"`, a string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricRow {
    pub name: String,
    pub old: Option<Stat>,
    pub new: Option<Stat>,
    /// new − old (means).
    pub change: Option<f64>,
    /// (new − old) / |old|; `null` when old is 0 or missing.
    pub relative: Option<f64>,
    pub changed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParamRow {
    pub name: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
    pub changed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DataRow {
    pub path: String,
    /// `added`, `removed`, `modified` or `unchanged`.
    pub status: &'static str,
    #[serde(rename = "type")]
    pub kind: Kind,
    pub old_oid: Option<String>,
    pub new_oid: Option<String>,
    pub old_size: Option<u64>,
    pub new_size: Option<u64>,
    pub size_change: i64,
    /// For a modified directory: files added/removed/modified inside it, when both manifests are
    /// in the cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<FileChanges>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub modified: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelRow {
    pub name: String,
    pub path: String,
    pub old_oid: Option<String>,
    pub new_oid: Option<String>,
    pub changed: bool,
    pub size_change: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    pub old: Side,
    pub new: Side,
    pub metrics: Vec<MetricRow>,
    pub params: Vec<ParamRow>,
    pub data: Vec<DataRow>,
    pub models: Vec<ModelRow>,
    /// Tracked tables (CSV, TSV, JSON Lines) on either side: schema, rows, nulls and drift.
    pub tables: Vec<crate::profile::drift::TableDiff>,
    /// The tables' profiles on both sides, for the data gates.
    #[serde(skip)]
    pub table_sides: Vec<crate::profile::Table>,
    pub warnings: Vec<Warning>,
}

/// The name git-ml uses for the working tree as a side.
pub const WORKSPACE: &str = "workspace";

/// The default branch: `origin/HEAD`'s target, else `main`, else `master`.
pub fn default_branch(ws: &Workspace) -> Result<String> {
    let root = ws.root();
    if let Ok(out) = git::run(
        root,
        &["symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD"],
    ) {
        let name = String::from_utf8_lossy(&out).trim().to_string();
        if !name.is_empty() {
            return Ok(name);
        }
    }
    for name in ["main", "master", "origin/main", "origin/master"] {
        if git::resolve_commit(root, name).is_ok() {
            return Ok(name.to_string());
        }
    }
    Err(Error::Other(
        "no default branch found (neither `origin/HEAD`, `main` nor `master`); name the revisions: `git ml diff A B`".into(),
    ))
}

/// Resolve the two sides as the user gave them: none (merge-base with the default branch vs the
/// working tree), one (it vs the working tree) or two.
pub fn resolve(ws: &Workspace, a: Option<&str>, b: Option<&str>) -> Result<(String, String)> {
    let root = ws.root();
    match (a, b) {
        (Some(a), Some(b)) => Ok((a.to_string(), b.to_string())),
        (Some(a), None) => Ok((a.to_string(), WORKSPACE.to_string())),
        _ => {
            let base = default_branch(ws)?;
            match git::merge_base(root, &base, "HEAD")? {
                Some(mb) => Ok((mb, WORKSPACE.to_string())),
                None if git::is_shallow(root) => Err(Error::Other(format!(
                    "this is a shallow clone, so the common ancestor of HEAD and `{base}` is not here; fetch the history (`git fetch --unshallow`, or `fetch-depth: 0` in actions/checkout)"
                ))),
                None => Err(Error::Other(format!(
                    "HEAD and `{base}` have no common ancestor; name the revisions: `git ml diff A B`"
                ))),
            }
        }
    }
}

fn stat(values: &[&Value]) -> Option<Stat> {
    if values.is_empty() {
        return None;
    }
    let nums: Vec<f64> = values.iter().filter_map(|v| as_number(v)).collect();
    let n = nums.len();
    if n == 0 {
        let text = values.last().map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        return Some(Stat {
            mean: None,
            spread: None,
            n: 0,
            text,
        });
    }
    let mean = nums.iter().sum::<f64>() / n as f64;
    let spread = (n > 1)
        .then(|| (nums.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt());
    Some(Stat {
        mean: Some(mean),
        spread,
        n,
        text: None,
    })
}

fn metric_rows(old: &Snapshot, new: &Snapshot) -> Vec<MetricRow> {
    let names: BTreeSet<&String> = old
        .runs
        .iter()
        .chain(&new.runs)
        .flat_map(|r| r.metrics.keys())
        .collect();
    names
        .into_iter()
        .map(|name| {
            let of = |s: &Snapshot| {
                let vals: Vec<&Value> = s.runs.iter().filter_map(|r| r.metrics.get(name)).collect();
                stat(&vals)
            };
            let (o, n) = (of(old), of(new));
            let (om, nm) = (
                o.as_ref().and_then(|s| s.mean),
                n.as_ref().and_then(|s| s.mean),
            );
            let change = match (om, nm) {
                (Some(a), Some(b)) => Some(b - a),
                _ => None,
            };
            let relative = match (om, change) {
                (Some(a), Some(c)) if a != 0.0 => Some(c / a.abs()),
                _ => None,
            };
            let changed = o != n;
            MetricRow {
                name: name.clone(),
                old: o,
                new: n,
                change,
                relative,
                changed,
            }
        })
        .collect()
}

fn param_rows(old: &Snapshot, new: &Snapshot) -> Vec<ParamRow> {
    let names: BTreeSet<&String> = old
        .runs
        .iter()
        .chain(&new.runs)
        .flat_map(|r| r.params.keys())
        .collect();
    let value = |s: &Snapshot, name: &str| -> Option<Value> {
        let vals: Vec<&Value> = s.runs.iter().filter_map(|r| r.params.get(name)).collect();
        let first = vals.first()?;
        if vals.iter().all(|v| v == first) {
            Some((*first).clone())
        } else {
            Some(Value::String(format!("varies ({} runs)", vals.len())))
        }
    };
    names
        .into_iter()
        .map(|name| {
            let (o, n) = (value(old, name), value(new, name));
            ParamRow {
                name: name.clone(),
                changed: o != n,
                old: o,
                new: n,
            }
        })
        .collect()
}

/// Tracked path -> pointer at a side.
fn pointers(
    reader: &mut super::at::Reader<'_>,
    commit: Option<&str>,
) -> Result<BTreeMap<String, Pointer>> {
    Ok(reader.pointers(commit)?.into_iter().collect())
}

fn data_rows(
    ws: &Workspace,
    old: &BTreeMap<String, Pointer>,
    new: &BTreeMap<String, Pointer>,
) -> Vec<DataRow> {
    let paths: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    paths
        .into_iter()
        .map(|path| {
            let (o, n) = (old.get(path), new.get(path));
            let status = match (o, n) {
                (None, Some(_)) => "added",
                (Some(_), None) => "removed",
                (Some(a), Some(b)) if a.oid != b.oid => "modified",
                _ => "unchanged",
            };
            let kind = n.or(o).map(|p| p.kind).unwrap_or(Kind::File);
            let size = |p: Option<&Pointer>| p.map(|p| p.size);
            let mut row = DataRow {
                path: path.clone(),
                status,
                kind,
                old_oid: o.map(|p| p.oid.to_string()),
                new_oid: n.map(|p| p.oid.to_string()),
                old_size: size(o),
                new_size: size(n),
                size_change: size(n).unwrap_or(0) as i64 - size(o).unwrap_or(0) as i64,
                files: None,
                note: None,
            };
            if let (Some(a), Some(b), "modified") = (o, n, status)
                && a.kind == Kind::Dir
                && b.kind == Kind::Dir
            {
                match (
                    crate::data::load_manifest(ws, a.oid, path),
                    crate::data::load_manifest(ws, b.oid, path),
                ) {
                    (Ok(ma), Ok(mb)) => {
                        let c = crate::data::status::diff_manifests(path, &ma, &mb);
                        row.files = Some(FileChanges {
                            added: c.added,
                            removed: c.deleted,
                            modified: c.modified,
                        });
                    }
                    _ => {
                        row.note = Some(
                            "file-level changes need both manifests in the cache (`git ml fetch --rev REV`)"
                                .into(),
                        )
                    }
                }
            }
            row
        })
        .collect()
}

fn model_rows(
    declared: &Declared,
    old: &BTreeMap<String, Pointer>,
    new: &BTreeMap<String, Pointer>,
) -> Vec<ModelRow> {
    declared
        .models
        .iter()
        .map(|(name, path)| {
            let (o, n) = (old.get(path), new.get(path));
            ModelRow {
                name: name.clone(),
                path: path.clone(),
                old_oid: o.map(|p| p.oid.to_string()),
                new_oid: n.map(|p| p.oid.to_string()),
                changed: o.map(|p| p.oid) != n.map(|p| p.oid),
                size_change: n.map_or(0, |p| p.size as i64) - o.map_or(0, |p| p.size as i64),
            }
        })
        .collect()
}

/// Load one side.
fn side(
    ws: &Workspace,
    rev: &str,
    reader: &mut super::at::Reader<'_>,
    declared: &Declared,
) -> Result<(Side, Snapshot, BTreeMap<String, Pointer>)> {
    let root = ws.root();
    let snap = if rev == WORKSPACE {
        snapshot_worktree(ws, declared)?
    } else {
        let commit = reader.batch.commit(rev).map_err(|e| {
            if git::is_shallow(root) {
                Error::Other(format!(
                    "`{rev}` is not in this shallow clone; fetch the history (`git fetch --unshallow`, or `fetch-depth: 0` in actions/checkout)"
                ))
            } else {
                e
            }
        })?;
        snapshot_at(reader, &commit, declared)?
    };
    let ptrs = pointers(reader, snap.commit.as_deref())?;
    let s = Side {
        rev: rev.to_string(),
        commit: snap.commit.clone(),
        origin: snap.origin,
        runs: snap.runs.len(),
    };
    Ok((s, snap, ptrs))
}

/// The tracked tables of two sides (see [`resolve`]), each profiled, and the sides; `only`
/// keeps one path (a table, or a tracked directory's tables).
pub fn tables(
    ws: &Workspace,
    old_rev: &str,
    new_rev: &str,
    only: Option<&str>,
) -> Result<(Side, Side, Vec<crate::profile::Table>, Vec<String>)> {
    let declared = Declared::from_project(&ws.config.project)?;
    let mut reader = super::at::Reader::new(ws)?;
    let (old, _, old_ptrs) = side(ws, old_rev, &mut reader, &declared)?;
    let (new, _, new_ptrs) = side(ws, new_rev, &mut reader, &declared)?;
    let (tables, notes) = crate::profile::tables(ws, &old_ptrs, &new_ptrs, only)?;
    Ok((old, new, tables, notes))
}

/// Compare two sides (see [`resolve`]), tables included.
pub fn diff(ws: &Workspace, old_rev: &str, new_rev: &str) -> Result<DiffReport> {
    diff_with(ws, old_rev, new_rev, true)
}

/// [`diff`]; without `tables`, tracked tables are not profiled (the pre-commit hook's metric
/// gates need none of it).
pub fn diff_with(ws: &Workspace, old_rev: &str, new_rev: &str, tables: bool) -> Result<DiffReport> {
    let declared = Declared::from_project(&ws.config.project)?;
    let mut reader = super::at::Reader::new(ws)?;
    let (old, old_snap, old_ptrs) = side(ws, old_rev, &mut reader, &declared)?;
    let (new, new_snap, new_ptrs) = side(ws, new_rev, &mut reader, &declared)?;
    let mut warnings = old_snap.warnings.clone();
    warnings.extend(new_snap.warnings.clone());
    let (tables, notes, data_gates) = if tables {
        let (t, n) = crate::profile::tables(ws, &old_ptrs, &new_ptrs, None)?;
        (t, n, crate::profile::gate::gates(&ws.config.project)?)
    } else {
        Default::default()
    };
    warnings.extend(notes.into_iter().map(|message| Warning { message }));
    Ok(DiffReport {
        metrics: metric_rows(&old_snap, &new_snap),
        params: param_rows(&old_snap, &new_snap),
        tables: tables.iter().map(|t| t.diff(&data_gates)).collect(),
        table_sides: tables,
        data: data_rows(ws, &old_ptrs, &new_ptrs),
        models: model_rows(&declared, &old_ptrs, &new_ptrs),
        old,
        new,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_over_runs() {
        let v = [Value::from(1.0), Value::from(3.0)];
        let s = stat(&v.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(s.mean, Some(2.0));
        assert_eq!(s.n, 2);
        assert!((s.spread.unwrap() - std::f64::consts::SQRT_2).abs() < 1e-12);
        let t = [Value::from("nan")];
        let s = stat(&t.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!((s.mean, s.text.as_deref()), (None, Some("nan")));
        assert!(stat(&[]).is_none());
    }
}
