use clap::Args;

use super::transfer::{self, TransferArgs};
use super::{Ctx, Outcome};

/// Upload the data that tracked pointers need to a remote
///
/// Sends only objects the remote lacks, several at once, large files in parts; an interrupted
/// push picks up where it stopped. By default the work tree's pointers are used; `--rev`,
/// `--all-branches` and `--all-tags` push what those commits point to instead.
#[derive(Args)]
pub struct PushArgs {
    #[command(flatten)]
    t: TransferArgs,

    /// Also push the pipeline's run-cache entries (and the outputs they point to), so others can
    /// restore instead of recompute (`git ml run --pull-run-cache`)
    #[arg(long)]
    run_cache: bool,

    /// Also re-hash every object the remote already has (reads them all) and replace any that
    /// is damaged with the verified local copy
    #[arg(long)]
    verify: bool,
}

pub fn run(ctx: &Ctx, args: PushArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let targets = gitml::remote::transfer::targets(&ws, &args.t.selection())?;
    let Some((remote, jobs)) = transfer::open_optional(&ws, args.t.remote.as_deref(), args.t.jobs)?
    else {
        // A metrics-only repository: the run records and registry tags still go.
        if !args.t.no_notes {
            transfer::sync_notes(&ws, true, ctx.quiet)?;
        }
        transfer::no_data_remote(targets.len(), "pushed", args.t.json, ctx.quiet)?;
        return Ok(Outcome::Ok);
    };
    let report = gitml::remote::transfer::push_with(
        &ws,
        remote.as_ref(),
        &targets,
        jobs,
        args.verify,
        &ctx.progress(),
    )?;
    if let Some(where_) = &report.created
        && !args.t.json
        && !ctx.quiet
    {
        eprintln!(
            "created the directory of remote `{}`: `{}`",
            report.remote,
            super::output::shown(where_)
        );
    }
    if report.repaired > 0 && !args.t.json {
        eprintln!(
            "repaired {} that the remote held damaged",
            super::output::plural(report.repaired, "object", "objects")
        );
    }
    transfer::finish(
        &report,
        "pushed",
        "to",
        args.t.json,
        ctx.quiet,
        "they are not in this machine's cache: add the data again, or fetch it from another remote",
    )?;
    let failed: std::collections::HashSet<gitml::Oid> = report
        .failed
        .iter()
        .chain(&report.missing)
        .map(|f| f.oid)
        .collect();
    let profiles = gitml::profile::remote::push(&ws, remote.as_ref(), &targets, &failed)?;
    if profiles > 0 && !ctx.quiet && !args.t.json {
        eprintln!(
            "pushed {}",
            super::output::plural(profiles as u64, "table profile", "table profiles")
        );
    }
    if args.run_cache {
        let (entries, r) = gitml::pipeline::runcache::push(&ws, remote.as_ref(), jobs)?;
        if !ctx.quiet {
            eprintln!(
                "pushed {} run-cache {} ({} objects, {})",
                entries,
                if entries == 1 { "entry" } else { "entries" },
                r.transferred,
                super::output::size(r.bytes)
            );
        }
        if !r.ok() {
            return Err(gitml::Error::TransferFailed {
                failed: r.failed.len() + r.missing.len(),
                total: r.transferred as usize + r.failed.len() + r.missing.len(),
            });
        }
    }
    if !args.t.no_notes {
        transfer::sync_notes(&ws, true, ctx.quiet)?;
    }
    Ok(Outcome::Ok)
}
