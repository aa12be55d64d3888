//! post-checkout and post-merge: the data follows the branch. After git changed HEAD, the tracked
//! paths whose pointers changed are checked out (quick when the cache has them: reflinks or
//! copies of verified objects, and nothing else is touched).
//!
//! Never a blocked checkout: git has already moved HEAD, so every problem (objects not in the
//! cache, local changes that would be lost) is one line with the command that finishes the job,
//! and the hook exits 0.

use serde::Serialize;

use crate::data::checkout::{CheckoutOptions, checkout};
use crate::error::{Error, Result};
use crate::git;
use crate::progress::Progress;
use crate::workspace::{Tracked, Workspace};

#[derive(Debug, Default, Serialize)]
pub struct FollowReport {
    /// Tracked paths whose pointers changed between the two commits.
    pub changed: Vec<String>,
    pub updated: usize,
    /// Why the data could not follow, and what to run (the hook still succeeds).
    pub problem: Option<String>,
}

/// Bring the data of the tracked paths whose pointers differ between `old` and `new` (commit
/// ids; `old` null or absent: every pointer) in line with the work tree's pointers.
pub fn follow(
    ws: &Workspace,
    old: Option<&str>,
    new: &str,
    progress: &dyn Progress,
) -> Result<FollowReport> {
    let mut report = FollowReport::default();
    let all = ws.find_tracked()?;
    let selected: Vec<Tracked> = match old.filter(|o| !super::pre_push::is_zero(o)) {
        None => all,
        Some(old) => {
            let out = git::run(
                ws.root(),
                &["diff", "--name-only", "-z", "--no-renames", old, new, "--"],
            )?;
            let changed: Vec<String> = out
                .split(|&b| b == 0)
                .filter(|r| !r.is_empty())
                .map(|r| String::from_utf8_lossy(r).into_owned())
                .filter(|p| p.ends_with(crate::data::pointer::SUFFIX))
                .collect();
            all.into_iter()
                .filter(|t| changed.contains(&t.pointer))
                .collect()
        }
    };
    report.changed = selected.iter().map(|t| t.path.clone()).collect();
    if selected.is_empty() {
        return Ok(report);
    }
    let opts = CheckoutOptions {
        force: false,
        modes: ws.config.link.clone(),
    };
    match checkout(ws, &selected, &opts, progress) {
        Ok(done) => {
            report.updated = done
                .paths
                .iter()
                .filter(|p| p.action != "up-to-date")
                .count();
        }
        Err(Error::ObjectMissing { path, .. }) => {
            report.problem = Some(format!(
                "the data of `{path}` (and perhaps more) is not in the cache: `git ml pull` gets it"
            ));
        }
        Err(Error::WouldLoseChanges { count, .. }) => {
            report.problem = Some(format!(
                "{} local changes not in the cache, so the data was left as it is: keep them with `git ml add`, or take the branch's with `git ml checkout --force`",
                crate::text::plural(count as u64, "file has", "files have")
            ));
        }
        Err(e) => {
            report.problem = Some(format!("{e}; `git ml checkout` finishes the job"));
        }
    }
    Ok(report)
}
