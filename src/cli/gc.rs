use clap::Args;

use super::{Ctx, Outcome, output};

/// Remove cache (or remote) objects that no kept pointer needs
///
/// Kept: whatever any work tree, the index, every ref (branches, tags, stash entries), the last
/// `gc.keep_commits` (10) commits of each, and reflog entries younger than `gc.grace` point to,
/// and any object younger than `gc.grace` (24h). A dry run unless
/// `--force`: it prints what would go.
#[derive(Args)]
pub struct GcArgs {
    /// Collect on this remote instead of the local cache
    #[arg(short, long, value_name = "NAME")]
    remote: Option<String>,

    /// Really remove (without it, only report)
    #[arg(short, long)]
    force: bool,

    /// Deletions in flight at once on a remote
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,

    /// Go on when a kept directory's manifest cannot be read anywhere (data never pushed):
    /// objects only it needs may then be removed
    #[arg(long)]
    skip_unreadable: bool,

    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: GcArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let report = match &args.remote {
        Some(name) => {
            let (remote, jobs) = super::transfer::open(&ws, Some(name), args.jobs)?;
            gitml::remote::gc::gc_remote(
                &ws,
                remote.as_ref(),
                args.force,
                jobs,
                args.skip_unreadable,
            )?
        }
        None => {
            // Manifests of kept directories that were never fetched here are read from the
            // default remote, when there is one.
            let remote = super::transfer::open(&ws, None, args.jobs).ok();
            gitml::remote::gc::gc_cache(
                &ws,
                args.force,
                remote.as_ref().map(|r| r.0.as_ref()),
                args.skip_unreadable,
            )?
        }
    };
    for u in &report.unreadable {
        eprintln!(
            "warning: skipped {}: objects only it needs may have been removed",
            output::shown(u)
        );
    }
    if args.json {
        output::json(&report)?;
        return Ok(Outcome::Ok);
    }
    let what = output::plural(report.objects, "object", "objects");
    let size = output::size(report.bytes);
    if report.removed {
        outln!("removed {what} ({size}) from {}", label(&report.target));
    } else {
        outln!(
            "would remove {what} ({size}) from {}; run with `--force` to remove them",
            label(&report.target)
        );
    }
    if !ctx.quiet {
        eprintln!(
            "kept {} needed by {} (and {} younger than `gc.grace`)",
            output::plural(report.kept, "object", "objects"),
            output::plural(report.commits_scanned, "commit", "commits"),
            report.recent
        );
    }
    Ok(Outcome::Ok)
}

fn label(target: &str) -> String {
    if target == "cache" {
        "the cache".into()
    } else {
        format!("remote `{target}`")
    }
}
