//! pre-push: before git sends commits, send what they need — the data objects their pointers
//! name (to the default data remote), then the run records and registry tags (to the git remote
//! being pushed to) — so nobody ever fetches a commit whose data is not there yet.
//!
//! The commits are those git is about to send, from the ref lines git gives on standard input.
//! A failure stops the push with its message; an interrupted upload resumes where it stopped
//! (objects are only ever published whole), so the next push finishes the job.

use serde::Serialize;

use crate::error::Result;
use crate::git;
use crate::progress::Progress;
use crate::remote::transfer::{Target, TransferReport};
use crate::workspace::Workspace;

const ZERO: &str = "0000000000000000000000000000000000000000";

#[derive(Debug, Default, Serialize)]
pub struct PrePushReport {
    pub commits: usize,
    /// The data upload, when there was a data remote and data to send.
    pub data: Option<TransferReport>,
    /// Tracked paths whose data could not go anywhere: no data remote is configured.
    pub no_data_remote: usize,
    pub notes: Option<String>,
    pub tags: usize,
}

/// The commits a push sends: for each `<local ref> <local sha> <remote ref> <remote sha>` line,
/// what the remote lacks.
pub fn pushed_commits(ws: &Workspace, remote: &str, lines: &str) -> Result<Vec<String>> {
    let root = ws.root();
    let mut commits = Vec::new();
    for line in lines.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [_, local, _, remote_sha] = f[..] else {
            continue;
        };
        if local.trim_matches('0').is_empty() {
            continue; // a deletion sends nothing
        }
        let not_remote = format!("--remotes={remote}");
        let range = if remote_sha.trim_matches('0').is_empty()
            || git::resolve_commit(root, remote_sha).is_err()
        {
            git::run(root, &["rev-list", local, "--not", &not_remote])?
        } else {
            git::run(root, &["rev-list", &format!("{remote_sha}..{local}")])?
        };
        commits.extend(String::from_utf8_lossy(&range).lines().map(str::to_string));
        // The tip itself, even when the remote has it (a tag pushed to a known commit).
        if let Ok(c) = git::resolve_commit(root, local) {
            commits.push(c);
        }
    }
    commits.sort();
    commits.dedup();
    Ok(commits)
}

pub fn pre_push(
    ws: &Workspace,
    git_remote: &str,
    lines: &str,
    progress: &dyn Progress,
) -> Result<PrePushReport> {
    let mut report = PrePushReport::default();
    let commits = pushed_commits(ws, git_remote, lines)?;
    report.commits = commits.len();
    let targets: Vec<Target> = git::pointers_at(ws.root(), &commits, &[])?
        .into_iter()
        .map(|c| Target {
            path: c.path,
            kind: c.pointer.kind,
            oid: c.pointer.oid,
            size: c.pointer.size,
        })
        .collect();
    if !targets.is_empty() {
        match crate::remote::choose(&ws.config, None) {
            Ok(spec) => {
                let kind = spec.kind(ws.root())?;
                let jobs = crate::remote::jobs(&spec, &kind, &ws.config, None);
                let remote = crate::remote::open(&spec, ws.root(), &ws.config)?;
                let r =
                    crate::remote::transfer::push(ws, remote.as_ref(), &targets, jobs, progress)?;
                report.data = Some(r);
            }
            Err(crate::Error::NoRemote) => {
                let mut paths: Vec<&str> = targets.iter().map(|t| t.path.as_str()).collect();
                paths.sort();
                paths.dedup();
                report.no_data_remote = paths.len();
            }
            Err(e) => return Err(e),
        }
    }
    if report.data.as_ref().is_some_and(|d| !d.ok()) {
        return Ok(report);
    }
    // Only to a remote git knows by name (a push to a bare URL has no refs of ours to update).
    if !git_remote.is_empty() && git::run(ws.root(), &["remote", "get-url", git_remote]).is_ok() {
        report.tags = crate::record::sync::push_tags(ws.root(), git_remote)?;
        report.notes = Some(
            crate::record::sync::push(ws.root(), git_remote)?
                .outcome
                .to_string(),
        );
    }
    Ok(report)
}

/// The null object id git writes for a ref that does not exist.
pub fn is_zero(sha: &str) -> bool {
    sha == ZERO || sha.trim_matches('0').is_empty()
}
