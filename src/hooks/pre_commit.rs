//! pre-commit: what is about to be committed must be something git-ml can stand behind.
//!
//! Refused: a staged file larger than `hooks.max_file_size` that git-ml does not track (it would
//! go into git's history for good); a staged pointer that does not parse, or whose data is in
//! neither the cache nor the default remote (nobody could ever pull it); a staged `gitml.toml` or
//! `gitml.lock` that does not parse; with `hooks.check`, a gate the working tree's metrics fail.
//! Warned about, not refused (git lets you commit with unstaged changes too): tracked data
//! modified since its `git ml add`.
//!
//! Only what is staged is read (from the index), plus one stat-index status of the tracked data,
//! so on an unchanged tree it costs what `git ml status` costs.

use serde::Serialize;

use super::Settings;
use crate::data::pointer::{self, Kind, Pointer};
use crate::error::Result;
use crate::git;
use crate::workspace::Workspace;

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
    pub hint: String,
}

#[derive(Debug, Default, Serialize)]
pub struct PreCommitReport {
    /// Why the commit is refused (empty: it may go ahead).
    pub refused: Vec<Problem>,
    pub warnings: Vec<String>,
}

/// A staged change: path and the blob it stages (`None` for a deletion).
struct Staged {
    path: String,
    blob: Option<String>,
}

fn staged(ws: &Workspace) -> Result<Vec<Staged>> {
    let out = git::run(
        ws.root(),
        &[
            "diff",
            "--cached",
            "--raw",
            "-z",
            "--no-abbrev",
            "--no-renames",
        ],
    )?;
    let fields: Vec<String> = out
        .split(|&b| b == 0)
        .filter(|r| !r.is_empty())
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect();
    let mut list = Vec::new();
    for pair in fields.chunks(2) {
        let [meta, path] = pair else { continue };
        let parts: Vec<&str> = meta.trim_start_matches(':').split(' ').collect();
        if parts.len() < 5 {
            continue;
        }
        let deleted = parts[4].starts_with('D') || parts[1] == "000000";
        // Submodules (160000) and symlinks (120000) are not content git-ml judges.
        if parts[1] == "160000" || parts[1] == "120000" {
            continue;
        }
        list.push(Staged {
            path: path.clone(),
            blob: (!deleted).then(|| parts[3].to_string()),
        });
    }
    Ok(list)
}

/// Object sizes, one `git cat-file --batch-check` for all.
fn sizes(ws: &Workspace, blobs: &[String]) -> Result<Vec<u64>> {
    if blobs.is_empty() {
        return Ok(Vec::new());
    }
    let input: String = blobs.iter().map(|b| format!("{b}\n")).collect();
    let out = git::run_with_input(
        ws.root(),
        &["cat-file", "--batch-check=%(objectsize)"],
        input.as_bytes(),
    )?;
    Ok(String::from_utf8_lossy(&out)
        .lines()
        .map(|l| l.trim().parse().unwrap_or(0))
        .collect())
}

pub fn pre_commit(ws: &Workspace, settings: &Settings) -> Result<PreCommitReport> {
    let mut report = PreCommitReport::default();
    let staged = staged(ws)?;
    let present: Vec<&Staged> = staged.iter().filter(|s| s.blob.is_some()).collect();

    // Large files git-ml does not track.
    let candidates: Vec<&&Staged> = present
        .iter()
        .filter(|s| !s.path.ends_with(pointer::SUFFIX))
        .collect();
    let blobs: Vec<String> = candidates
        .iter()
        .map(|s| s.blob.clone().expect("present"))
        .collect();
    for (s, size) in candidates.iter().zip(sizes(ws, &blobs)?) {
        if size > settings.max_file_size {
            let quoted = crate::text::shell_path(&s.path);
            report.refused.push(Problem {
                path: s.path.clone(),
                message: format!(
                    "`{}` is {} MB, over `hooks.max_file_size` ({} MB), and git-ml does not track it: it would stay in git's history for good",
                    s.path,
                    size / 1_000_000,
                    settings.max_file_size / 1_000_000
                ),
                hint: format!("git rm --cached -- {quoted} && git ml add {quoted}"),
            });
        }
    }

    // Staged pointers, git-ml's own files.
    let texts: Vec<String> = present
        .iter()
        .filter(|s| {
            s.path.ends_with(pointer::SUFFIX)
                || s.path == crate::config::PROJECT_FILE
                || s.path == crate::pipeline::lockfile::FILE
        })
        .map(|s| s.blob.clone().expect("present"))
        .collect();
    let contents = git::cat_batch(ws.root(), &texts)?;
    let mut remote: Option<Option<Box<dyn crate::remote::Transport>>> = None;
    for s in &present {
        let Some(bytes) = s.blob.as_ref().and_then(|b| contents.get(b)) else {
            continue;
        };
        let text = String::from_utf8_lossy(bytes);
        let origin = format!("{} (staged)", s.path);
        if s.path == crate::config::PROJECT_FILE {
            if let Err(e) = crate::config::check_project_text(&text) {
                report.refused.push(Problem {
                    path: s.path.clone(),
                    message: format!("{e} (staged)"),
                    hint: e
                        .hint()
                        .unwrap_or_else(|| "fix it, then `git add` it again".into()),
                });
            }
            continue;
        }
        if s.path == crate::pipeline::lockfile::FILE {
            if let Err(e) = crate::pipeline::lockfile::LockFile::parse(&text) {
                report.refused.push(Problem {
                    path: s.path.clone(),
                    message: format!("{e} (staged)"),
                    hint: "`git ml run` writes it; resolve a conflict with `git checkout --ours gitml.lock && git ml run`".into(),
                });
            }
            continue;
        }
        let Some(data) = pointer::data_path(&s.path) else {
            continue;
        };
        let p = match Pointer::parse(&text, &origin) {
            Ok(p) => p,
            Err(e) => {
                report.refused.push(Problem {
                    path: s.path.clone(),
                    message: e.to_string(),
                    hint: format!(
                        "re-create it with `git ml add {}`",
                        crate::text::shell_path(data)
                    ),
                });
                continue;
            }
        };
        if content_in_cache(ws, &p, data) {
            continue;
        }
        let r = remote.get_or_insert_with(|| {
            crate::remote::choose(&ws.config, None)
                .and_then(|spec| crate::remote::open(&spec, ws.root(), &ws.config))
                .ok()
        });
        let on_remote = r.as_ref().is_some_and(|r| r.has(&p.oid).unwrap_or(false));
        if !on_remote {
            let where_ = match r {
                Some(r) => format!("the cache nor remote `{}`", r.name()),
                None => "the cache, and no remote is configured".into(),
            };
            report.refused.push(Problem {
                path: s.path.clone(),
                message: format!(
                    "`{}` names data ({}) that is in neither {where_}: nobody could ever pull it",
                    s.path,
                    p.oid.short()
                ),
                hint: format!(
                    "add the data again with `git ml add {}`, or fetch it first (`git ml fetch`)",
                    crate::text::shell_path(data)
                ),
            });
        }
    }

    // Data changed since it was added: a warning, as git warns of nothing for unstaged changes.
    let tracked = ws.find_tracked()?;
    if !tracked.is_empty() {
        let status = crate::data::status::status(ws, &tracked, &crate::progress::Silent)?;
        let modified: Vec<&str> = status
            .paths
            .iter()
            .filter(|p| p.state == crate::data::status::State::Modified)
            .map(|p| p.path.as_str())
            .collect();
        if !modified.is_empty() {
            report.warnings.push(format!(
                "tracked data changed since `git ml add`, and this commit does not record it: {}; `git ml add {}` records it",
                modified
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                modified
                    .iter()
                    .map(|m| crate::text::shell_path(m))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
    }

    if settings.check {
        let gates = crate::gate::gates(&ws.config.project)?;
        if !gates.is_empty() {
            let diff =
                crate::record::diff::diff_with(ws, "HEAD", crate::record::diff::WORKSPACE, false)?;
            let check = crate::gate::check(&diff, &gates);
            for g in check
                .gates
                .iter()
                .filter(|g| matches!(g.verdict, crate::gate::Verdict::Fail))
            {
                report.refused.push(Problem {
                    path: g.metric.clone(),
                    message: format!(
                        "gate `{}` fails on the working tree's metrics against HEAD",
                        g.metric
                    ),
                    hint: "see `git ml check HEAD`; `git commit --no-verify` commits anyway".into(),
                });
            }
        }
    }
    Ok(report)
}

/// Whether the cache holds all of a pointer's content (a directory: its manifest and files).
fn content_in_cache(ws: &Workspace, p: &Pointer, data: &str) -> bool {
    match p.kind {
        Kind::File => ws.cache.contains(&p.oid),
        Kind::Dir => crate::data::load_manifest(ws, p.oid, data).is_ok_and(|m| {
            let files: Vec<crate::oid::Oid> = m
                .entries
                .iter()
                .filter_map(|e| match e.kind {
                    crate::data::manifest::EntryKind::File { oid, .. } => Some(oid),
                    _ => None,
                })
                .collect();
            ws.cache.count_missing(&files) == 0
        }),
    }
}
