//! Sharing run records: the notes ref travels with `git ml push` and `git ml pull`.
//!
//! Never a force push. To publish: fetch the remote's notes into a scratch ref, merge them into
//! ours with `cat_sort_uniq` (a union of lines, so both sides' runs survive), then push — a plain
//! push only succeeds if the remote ref is still what we merged, which makes it a compare-and-swap.
//! If someone pushed in between, fetch, merge and try again, with backoff, within a time bound.
//! All network traffic goes through the `git` binary, so credential helpers and CI tokens work.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::notes::REF;
use crate::error::{Error, Result};
use crate::git;

const SCRATCH: &str = "refs/notes/gitml-incoming";
const TIME_BOUND: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Serialize)]
pub struct NotesSync {
    /// The git remote the notes went to or came from.
    pub git_remote: String,
    /// `pushed`, `fetched`, `up-to-date`, or `no-notes`.
    pub outcome: &'static str,
    /// Attempts a push needed (others pushed meanwhile).
    pub attempts: u32,
}

/// The git remote to sync with: the current branch's upstream remote, else `origin`, else none.
pub fn git_remote(root: &Path) -> Option<String> {
    if let Ok(out) = git::run(
        root,
        &[
            "rev-parse",
            "--abbrev-ref",
            "--symbolic-full-name",
            "@{upstream}",
        ],
    ) {
        let up = String::from_utf8_lossy(&out).trim().to_string();
        if let Some((remote, _)) = up.split_once('/') {
            return Some(remote.to_string());
        }
    }
    let remotes = git::run(root, &["remote"]).ok()?;
    let remotes = String::from_utf8_lossy(&remotes).into_owned();
    let mut names = remotes.lines();
    let first = names.clone().next().map(str::to_string);
    if names.any(|r| r == "origin") {
        Some("origin".into())
    } else {
        first
    }
}

fn ref_oid(root: &Path, name: &str) -> Option<String> {
    git::run(root, &["rev-parse", "-q", "--verify", name])
        .ok()
        .map(|o| String::from_utf8_lossy(&o).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Fetch the remote's notes into the scratch ref; false if the remote has none.
fn fetch_scratch(root: &Path, remote: &str) -> Result<bool> {
    let spec = format!("+{REF}:{SCRATCH}");
    match git::run(root, &["fetch", "--quiet", "--no-tags", remote, &spec]) {
        Ok(_) => Ok(true),
        Err(Error::Git { message, .. })
            if message.contains("couldn't find remote ref")
                || message.contains("could not find remote ref") =>
        {
            let _ = git::run(root, &["update-ref", "-d", SCRATCH]);
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Merge the scratch ref into ours (a union of lines).
fn merge_scratch(root: &Path) -> Result<()> {
    let Some(theirs) = ref_oid(root, SCRATCH) else {
        return Ok(());
    };
    match ref_oid(root, REF) {
        None => {
            git::run(root, &["update-ref", REF, &theirs])?;
        }
        Some(ours) if ours == theirs => {}
        Some(_) => {
            git::run(
                root,
                &[
                    "notes",
                    "--ref",
                    REF,
                    "merge",
                    "-q",
                    "-s",
                    "cat_sort_uniq",
                    SCRATCH,
                ],
            )?;
        }
    }
    Ok(())
}

/// Bring the remote's records into ours.
pub fn pull(root: &Path, remote: &str) -> Result<NotesSync> {
    let found = fetch_scratch(root, remote)?;
    let before = ref_oid(root, REF);
    merge_scratch(root)?;
    Ok(NotesSync {
        git_remote: remote.into(),
        outcome: if !found {
            "no-notes"
        } else if before == ref_oid(root, REF) {
            "up-to-date"
        } else {
            "fetched"
        },
        attempts: 1,
    })
}

/// Publish our records, merging the remote's first; retried while others push.
pub fn push(root: &Path, remote: &str) -> Result<NotesSync> {
    if ref_oid(root, REF).is_none() {
        return Ok(NotesSync {
            git_remote: remote.into(),
            outcome: "no-notes",
            attempts: 0,
        });
    }
    let started = Instant::now();
    let mut delay = Duration::from_millis(100);
    let mut attempts = 0;
    loop {
        attempts += 1;
        fetch_scratch(root, remote)?;
        merge_scratch(root)?;
        if ref_oid(root, REF) == ref_oid(root, SCRATCH) {
            return Ok(NotesSync {
                git_remote: remote.into(),
                outcome: "up-to-date",
                attempts,
            });
        }
        let spec = format!("{REF}:{REF}");
        match git::run(root, &["push", "--quiet", "--no-verify", remote, &spec]) {
            Ok(_) => {
                return Ok(NotesSync {
                    git_remote: remote.into(),
                    outcome: "pushed",
                    attempts,
                });
            }
            Err(Error::Git { message, .. })
                if (message.contains("rejected")
                    || message.contains("non-fast-forward")
                    || message.contains("fetch first")
                    || message.contains("cannot lock ref"))
                    && started.elapsed() < TIME_BOUND =>
            {
                // Someone pushed records meanwhile: merge theirs and try again.
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(4));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Push the model registry's tags (GTO format) that the remote lacks; never forced, so a tag the
/// remote has with another target is reported, not overwritten.
pub fn push_tags(root: &Path, remote: &str) -> Result<usize> {
    let tags: Vec<String> = crate::registry::events(root)?
        .into_iter()
        .map(|e| format!("refs/tags/{}", e.tag))
        .collect();
    if tags.is_empty() {
        return Ok(0);
    }
    let mut args = vec!["push", "--quiet", "--no-verify", remote];
    args.extend(tags.iter().map(String::as_str));
    git::run(root, &args)?;
    Ok(tags.len())
}

/// Fetch the remote's tags (registry events among them); existing tags are never clobbered.
pub fn fetch_tags(root: &Path, remote: &str) -> Result<()> {
    git::run(root, &["fetch", "--quiet", "--tags", remote])?;
    Ok(())
}
