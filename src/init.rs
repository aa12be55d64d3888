//! `git ml init`: make a repository ready for git-ml. Idempotent: running it again only adds
//! what is missing and reports what was already there.

use serde::Serialize;

use crate::config::{INIT_TEMPLATE, PROJECT_FILE};
use crate::data::gitignore;
use crate::error::{Error, Result};
use crate::repo::Repo;

/// The notes ref run records live in (see the run-record design).
pub const NOTES_REF: &str = "refs/notes/gitml";

#[derive(Debug, Serialize)]
pub struct InitReport {
    pub root: String,
    /// Things created or set by this run; empty when everything was already in place.
    pub created: Vec<String>,
}

/// The per-clone git settings git-ml needs (`notes.rewriteRef`, the merge driver): git config is
/// not cloned, so a fresh clone of a git-ml repository gets them from the first git-ml command.
/// Cheap when they are there (the config file is read, no git process runs); never an error
/// (a read-only repository just goes without).
pub fn ensure_clone_config(repo: &Repo) -> Vec<String> {
    let text = std::fs::read_to_string(repo.common_dir.join("config")).unwrap_or_default();
    let has_rewrite = text
        .lines()
        .any(|l| l.trim().replace(' ', "") == format!("rewriteRef={NOTES_REF}"));
    let has_driver = text.contains("[merge \"gitml\"]") && text.contains("git-ml merge-driver");
    if has_rewrite && has_driver {
        return Vec::new();
    }
    let mut created = Vec::new();
    let _ = git_settings(repo, &mut created);
    created
}

fn git_settings(repo: &Repo, created: &mut Vec<String>) -> Result<()> {
    // Run records (git notes) follow their commits through `commit --amend` and rebase.
    let existing = git_config(repo, &["--get-all", "notes.rewriteRef"])?;
    if !existing.lines().any(|l| l.trim() == NOTES_REF) {
        git_config(repo, &["--add", "notes.rewriteRef", NOTES_REF])?;
        created.push(format!("git config `notes.rewriteRef = {NOTES_REF}`"));
    }
    // The merge driver for gitml.lock and pointer files (docs/cli.md, merge-driver).
    let driver = "git-ml merge-driver %O %A %B %P";
    if git_config(repo, &["--get-all", "merge.gitml.driver"])?.trim() != driver {
        git_config(
            repo,
            &["merge.gitml.name", "git-ml: gitml.lock and pointer files"],
        )?;
        git_config(repo, &["merge.gitml.driver", driver])?;
        created.push("git config `merge.gitml.driver`".into());
    }
    Ok(())
}

pub fn init(repo: &Repo, cache_dir: &std::path::Path) -> Result<InitReport> {
    let mut created = Vec::new();
    let project = repo.root.join(PROJECT_FILE);
    if !project.exists() {
        crate::fsutil::atomic_write(&project, INIT_TEMPLATE.as_bytes(), 0o644)?;
        created.push(format!("`{PROJECT_FILE}`"));
    }
    for dir in [repo.gitml_dir(), cache_dir.to_path_buf()] {
        if !dir.is_dir() {
            fs_err::create_dir_all(&dir)?;
            created.push(format!("`{}`", dir.display()));
        }
    }
    // Temporary files of an interrupted git-ml must never show up in `git status`.
    if gitignore::ensure_line(&repo.root.join(".gitignore"), ".*.gitml-tmp.*")? {
        created.push("`.gitignore` entry for git-ml temporary files".into());
    }
    git_settings(repo, &mut created)?;
    let attributes = repo.root.join(".gitattributes");
    let mut added_attr = false;
    for line in ["gitml.lock merge=gitml", "*.gitml merge=gitml"] {
        added_attr |= gitignore::ensure_line(&attributes, line)?;
    }
    if added_attr {
        created.push("`.gitattributes` entries for the merge driver".into());
    }
    Ok(InitReport {
        root: repo.root.display().to_string(),
        created,
    })
}

fn git_config(repo: &Repo, args: &[&str]) -> Result<String> {
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(&repo.git_dir)
        .arg("config")
        .arg("--local")
        .args(args)
        .stdin(std::process::Stdio::null())
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| Error::Other(format!("could not run `git config`: {e}")))?;
    // `--get-all` exits 1 when the key is unset: that is an empty answer, not a failure.
    let unset = args[0] == "--get-all" && out.status.code() == Some(1);
    if !out.status.success() && !unset {
        return Err(Error::Other(format!(
            "`git config {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
