//! `git ml log`: metric history along first-parent history.
//!
//! Cost is a fixed number of git processes whatever the length of history: `git log`, `git notes
//! list`, and one `git cat-file --batch` for every note and every fallback metrics file at once.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::capture::Declared;
use super::files::{self, Values, as_number};
use super::notes::NotesIndex;
use super::{Origin, Warning};
use crate::error::Result;
use crate::git;
use crate::workspace::Workspace;

#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub commit: String,
    pub date: String,
    pub subject: String,
    pub origin: Origin,
    pub runs: usize,
    /// Mean over the commit's runs; `null` where a run had no number for it.
    pub metrics: BTreeMap<String, Option<f64>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogReport {
    /// Newest first.
    pub entries: Vec<LogEntry>,
    /// The metric names shown, in order.
    pub metrics: Vec<String>,
    pub warnings: Vec<Warning>,
    /// History is cut off (shallow clone): older commits are not here.
    pub shallow: bool,
}

fn means(all: &[&Values]) -> BTreeMap<String, Option<f64>> {
    let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for v in all {
        for (k, val) in v.iter() {
            let e = sums.entry(k.clone()).or_insert((0.0, 0));
            if let Some(x) = as_number(val) {
                e.0 += x;
                e.1 += 1;
            }
        }
    }
    sums.into_iter()
        .map(|(k, (s, n))| (k, (n > 0).then(|| s / n as f64)))
        .collect()
}

/// The history of `range` (default `HEAD`), at most `max` commits.
pub fn log(ws: &Workspace, range: &str, only: &[String], max: Option<usize>) -> Result<LogReport> {
    let root = ws.root();
    let declared = Declared::from_project(&ws.config.project)?;
    let commits = git::log(root, range, true, max)?;
    let ids: Vec<String> = commits.iter().map(|c| c.commit.clone()).collect();
    let mut reader = super::at::Reader::new(ws)?;
    super::pending::adopt_among(&mut reader, &ids)?;
    let index = NotesIndex::load(root)?;
    let mut notes = index.runs(root, &ids)?;
    // Commits without records: their declared metrics files, all in one batch.
    let fallback: Vec<String> = ids
        .iter()
        .filter(|c| {
            notes
                .get(*c)
                .is_none_or(|(runs, _)| runs.iter().all(|r| r.dirty))
        })
        .flat_map(|c| {
            declared
                .metrics_files
                .iter()
                .map(move |f| format!("{c}:{f}"))
        })
        .collect();
    let blobs = git::cat_batch(root, &fallback)?;
    let mut warnings = Vec::new();
    let mut entries = Vec::new();
    for c in commits {
        let (origin, runs, m) = match notes.remove(&c.commit) {
            // Dirty runs are never a commit's metrics.
            Some((runs, w)) if runs.iter().any(|r| !r.dirty) => {
                warnings.extend(w);
                let vals: Vec<&Values> = runs
                    .iter()
                    .filter(|r| !r.dirty)
                    .map(|r| &r.metrics)
                    .collect();
                (Origin::Record, vals.len(), means(&vals))
            }
            other => {
                if let Some((_, w)) = other {
                    warnings.extend(w);
                }
                let mut vals = Values::new();
                let mut found = false;
                for f in &declared.metrics_files {
                    // In the git tree, else inside tracked data (through the pointer).
                    let inside = match blobs.get(&format!("{}:{f}", c.commit)) {
                        Some(_) => None,
                        None => reader.file(Some(&c.commit), f).unwrap_or(None),
                    };
                    if let Some(b) = blobs.get(&format!("{}:{f}", c.commit)).or(inside.as_ref()) {
                        found = true;
                        match files::parse(&String::from_utf8_lossy(b), f) {
                            Ok(v) => vals.extend(v),
                            Err(e) => warnings.push(Warning {
                                message: format!("{e} (at {}); ignored", &c.commit[..12]),
                            }),
                        }
                    }
                }
                if found {
                    (Origin::Files, 0, means(&[&vals]))
                } else {
                    (Origin::None, 0, BTreeMap::new())
                }
            }
        };
        entries.push(LogEntry {
            commit: c.commit,
            date: c.date,
            subject: c.subject,
            origin,
            runs,
            metrics: m,
        });
    }
    warnings.append(&mut reader.warnings);
    let mut seen = std::collections::HashSet::new();
    warnings.retain(|w| seen.insert(w.message.clone()));
    let names: Vec<String> = if only.is_empty() {
        let all: BTreeSet<&String> = entries.iter().flat_map(|e| e.metrics.keys()).collect();
        all.into_iter().cloned().collect()
    } else {
        only.to_vec()
    };
    for e in &mut entries {
        e.metrics = names
            .iter()
            .map(|n| (n.clone(), e.metrics.get(n).copied().flatten()))
            .collect();
    }
    Ok(LogReport {
        entries,
        metrics: names,
        warnings,
        shallow: git::is_shallow(root),
    })
}

/// A sparkline of `values` (oldest first); gaps for missing values.
pub fn sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let nums: Vec<f64> = values.iter().flatten().copied().collect();
    let (lo, hi) = nums
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
            (l.min(x), h.max(x))
        });
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(_) if hi <= lo => BARS[3],
            Some(x) => BARS[(((x - lo) / (hi - lo)) * 7.0).round() as usize],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::sparkline;

    #[test]
    fn sparklines_span_the_range() {
        assert_eq!(sparkline(&[Some(0.0), Some(0.5), Some(1.0)]), "▁▅█");
        assert_eq!(sparkline(&[Some(2.0), None, Some(2.0)]), "▄ ▄");
        assert_eq!(sparkline(&[]), "");
    }
}
