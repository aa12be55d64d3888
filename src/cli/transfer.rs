//! What `push`, `fetch`, `pull` and `status --remote` share: which pointers, which remote, how
//! many at once, and how a transfer is reported.

use std::path::PathBuf;

use clap::Args;

use gitml::Workspace;
use gitml::remote::transfer::{Selection, TransferReport};
use gitml::remote::{self, Transport};

use super::output;

#[derive(Args, Clone)]
pub struct TransferArgs {
    /// Limit to these tracked paths (or directories containing them)
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// The remote (default: `core.remote`, else the only one configured)
    #[arg(short, long, value_name = "NAME")]
    pub remote: Option<String>,

    /// Use the pointers committed at this revision instead of the work tree's (repeatable)
    #[arg(long, value_name = "REV")]
    pub rev: Vec<String>,

    /// Use the pointers at the tip of every local branch
    #[arg(long)]
    pub all_branches: bool,

    /// Use the pointers of every tag
    #[arg(long)]
    pub all_tags: bool,

    /// Transfers in flight at once (default: the remote's `jobs`, else 16 for object stores and
    /// up to 8 for directories)
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Do not sync run records (the `refs/notes/gitml` git notes) with the git remote
    #[arg(long)]
    pub no_notes: bool,

    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

impl TransferArgs {
    pub fn selection(&self) -> Selection {
        Selection {
            paths: self.paths.clone(),
            revs: self.rev.clone(),
            all_branches: self.all_branches,
            all_tags: self.all_tags,
        }
    }
}

/// Open the chosen remote; returns it with the number of parallel transfers to use.
pub fn open(
    ws: &Workspace,
    name: Option<&str>,
    jobs: Option<usize>,
) -> gitml::Result<(Box<dyn Transport>, usize)> {
    let spec = remote::choose(&ws.config, name)?;
    let kind = spec.kind(ws.root())?;
    let jobs = remote::jobs(&spec, &kind, &ws.config, jobs);
    Ok((remote::open(&spec, ws.root(), &ws.config)?, jobs))
}

/// Like [`open`], but a repository with no data remote at all (and none named) is `None`: run
/// records and registry tags still travel with the git remote.
pub fn open_optional(
    ws: &Workspace,
    name: Option<&str>,
    jobs: Option<usize>,
) -> gitml::Result<Option<(Box<dyn Transport>, usize)>> {
    match open(ws, name, jobs) {
        Ok(r) => Ok(Some(r)),
        Err(gitml::Error::NoRemote) if name.is_none() => Ok(None),
        Err(e) => Err(e),
    }
}

/// With no data remote: fine when nothing is tracked (a metrics-only repository); an error
/// naming what was not transferred otherwise. Callers sync the run records first.
pub fn no_data_remote(
    targets: usize,
    verb: &'static str,
    json: bool,
    quiet: bool,
) -> gitml::Result<()> {
    if targets > 0 {
        return Err(gitml::Error::NoDataRemote(
            output::plural(targets as u64, "tracked path", "tracked paths"),
            verb,
        ));
    }
    if json {
        output::json(&TransferReport::default())?;
    } else if !quiet {
        eprintln!("no data to transfer: nothing is tracked, and no data remote is configured");
    }
    Ok(())
}

/// Print a transfer's outcome; an error (exit 2) if anything failed or was missing.
pub fn finish(
    report: &TransferReport,
    verb: &str,
    direction: &str,
    json: bool,
    quiet: bool,
    missing_hint: &str,
) -> gitml::Result<()> {
    if json {
        output::json(report)?;
    } else if !quiet && report.transferred == 0 && report.ok() {
        // Quiet when nothing happened: one line.
        eprintln!(
            "nothing to {}: {}",
            verb.trim_end_matches("ed"),
            if direction == "to" {
                format!(
                    "`{}` has everything ({} checked)",
                    report.remote, report.skipped
                )
            } else {
                format!("the cache has everything ({} checked)", report.skipped)
            }
        );
    } else if !quiet {
        eprintln!(
            "{verb} {} ({}) {direction} `{}` in {:.1} s; {} already there",
            output::plural(report.transferred, "object", "objects"),
            output::size(report.bytes),
            report.remote,
            report.seconds,
            report.skipped
        );
    }
    // A remote that is down, stalled, refuses the credentials or has no bucket fails every
    // object the same way: one error, with its hint, and the count.
    if report.missing.is_empty()
        && let Some(gitml::Error::Remote {
            remote,
            url,
            message,
            kind,
        }) = report.failed.iter().find_map(|f| f.outage.as_ref())
        && report
            .failed
            .iter()
            .all(|f| f.outage.is_some() || f.error.starts_with("not attempted"))
    {
        let total = report.failed.len() as u64 + report.transferred;
        return Err(gitml::Error::Remote {
            remote: remote.clone(),
            url: url.clone(),
            message: format!(
                "{message} ({} of {total} failed)",
                output::plural(report.failed.len() as u64, "transfer", "transfers")
            ),
            kind: *kind,
        });
    }
    // Otherwise show a few failures, and count the rest.
    const SHOWN: usize = 5;
    let redact = gitml::error::redact;
    for f in report.missing.iter().chain(&report.failed).take(SHOWN) {
        eprintln!(
            "error: `{}`: object {}: {}",
            output::shown(&f.path),
            f.oid,
            output::shown(&redact(&f.error))
        );
    }
    let total = report.missing.len() + report.failed.len();
    let shown = total.min(SHOWN);
    if total > shown {
        eprintln!("error: ... and {} more", total - shown);
    }
    if !report.missing.is_empty() && report.failed.is_empty() {
        return Err(gitml::Error::Other(format!(
            "{} needed by the selected pointers could not be found; {missing_hint}",
            output::plural(report.missing.len() as u64, "object", "objects")
        )));
    }
    if !report.ok() {
        return Err(gitml::Error::TransferFailed {
            failed: total,
            total: (report.transferred as usize) + total,
        });
    }
    Ok(())
}

/// Sync run records with the git remote (`push` publishes, otherwise fetch and merge). Quiet
/// when there is no git remote: a local-only repository has nowhere to send them.
pub fn sync_notes(ws: &Workspace, publish: bool, quiet: bool) -> gitml::Result<()> {
    let root = ws.root();
    let Some(remote) = gitml::record::sync::git_remote(root) else {
        return Ok(());
    };
    // Registry tags travel with the records.
    let tags = if publish {
        gitml::record::sync::push_tags(root, &remote).map(|_| ())
    } else {
        gitml::record::sync::fetch_tags(root, &remote)
    };
    if let Err(e) = tags {
        if publish {
            return Err(e);
        }
        warning!("registry tags were not fetched from `{remote}`: {e}");
    }
    let result = if publish {
        gitml::record::sync::push(root, &remote)
    } else {
        gitml::record::sync::pull(root, &remote)
    };
    match result {
        Ok(s) => {
            if !quiet && s.outcome != "no-notes" {
                eprintln!("run records: {} (git remote `{remote}`)", s.outcome);
            }
            Ok(())
        }
        Err(e) if !publish => {
            warning!("run records were not fetched from `{remote}`: {e}");
            Ok(())
        }
        Err(e) => Err(e),
    }
}
