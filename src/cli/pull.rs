use std::path::PathBuf;

use clap::Args;

use super::transfer;
use super::{Ctx, Outcome};

/// Fetch the data the work tree's pointers need, then check it out
///
/// Equivalent to `git ml fetch` followed by `git ml checkout` on the same paths. Nothing in the
/// work tree changes unless every object arrived intact.
#[derive(Args)]
pub struct PullArgs {
    /// Limit to these tracked paths (or directories containing them)
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// The remote (default: `core.remote`, else the only one configured)
    #[arg(short, long, value_name = "NAME")]
    remote: Option<String>,

    /// Transfers in flight at once
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,

    /// Discard local changes that are not in the cache
    #[arg(short, long)]
    force: bool,

    /// Do not fetch run records (the `refs/notes/gitml` git notes) from the git remote
    #[arg(long)]
    no_notes: bool,

    /// Print the fetch result as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: PullArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let tracked = ws.select_tracked(&args.paths)?;
    let selection = gitml::remote::transfer::Selection {
        paths: args.paths.clone(),
        ..Default::default()
    };
    let targets = gitml::remote::transfer::targets(&ws, &selection)?;
    let progress = ctx.progress();
    let Some((remote, jobs)) = transfer::open_optional(&ws, args.remote.as_deref(), args.jobs)?
    else {
        if !args.no_notes {
            transfer::sync_notes(&ws, false, ctx.quiet)?;
        }
        transfer::no_data_remote(targets.len(), "fetched", args.json, ctx.quiet)?;
        return Ok(Outcome::Ok);
    };
    let missing = gitml::profile::remote::missing(&ws, &targets)?;
    let report = gitml::remote::transfer::fetch(&ws, remote.as_ref(), &targets, jobs, &progress)?;
    gitml::profile::remote::pull(&ws, remote.as_ref(), &targets, &missing)?;
    transfer::finish(
        &report,
        "fetched",
        "from",
        args.json,
        ctx.quiet,
        super::fetch::MISSING_HINT,
    )?;
    if !args.no_notes {
        transfer::sync_notes(&ws, false, ctx.quiet)?;
    }
    let opts = gitml::data::checkout::CheckoutOptions {
        force: args.force,
        modes: ws.config.link.clone(),
    };
    let done = gitml::data::checkout::checkout(&ws, &tracked, &opts, &progress)?;
    if !ctx.quiet {
        let updated = done
            .paths
            .iter()
            .filter(|p| p.action != "up-to-date")
            .count();
        if updated == 0 {
            eprintln!(
                "{} up to date",
                super::output::plural(done.paths.len() as u64, "path", "paths")
            );
        } else {
            eprintln!(
                "checked out {} ({updated} updated)",
                super::output::plural(done.paths.len() as u64, "path", "paths")
            );
        }
    }
    Ok(Outcome::Ok)
}
