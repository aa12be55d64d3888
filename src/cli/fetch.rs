use clap::Args;

use super::transfer::{self, TransferArgs};
use super::{Ctx, Outcome};

/// Download the data that tracked pointers need from a remote into the cache
///
/// Every object is checked against its hash before it enters the cache; a damaged or truncated
/// object is rejected and named. The work tree is not touched: `git ml pull` also checks out.
#[derive(Args)]
pub struct FetchArgs {
    #[command(flatten)]
    t: TransferArgs,

    /// Read DVC's objects (md5-named) from this remote instead, for pointers `git ml import dvc`
    /// wrote: each is checked against its md5 and stored under its BLAKE3 name
    #[arg(long, value_name = "NAME", conflicts_with = "remote")]
    from_dvc_remote: Option<String>,
}

pub fn run(ctx: &Ctx, args: FetchArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    if let Some(name) = &args.from_dvc_remote {
        let spec = gitml::remote::spec(&ws.config, name)?;
        let kind = spec.kind(ws.root())?;
        let jobs = gitml::remote::jobs(&spec, &kind, &ws.config, args.t.jobs);
        let report = gitml::import::dvc_remote::fetch(
            &ws,
            name,
            &args.t.selection(),
            jobs,
            &ctx.progress(),
        )?;
        transfer::finish(
            &report,
            "fetched",
            "from DVC remote",
            args.t.json,
            ctx.quiet,
            "they are not on the DVC remote: `dvc push` them from a machine that has them",
        )?;
        return Ok(Outcome::Ok);
    }
    let targets = gitml::remote::transfer::targets(&ws, &args.t.selection())?;
    if !args.t.no_notes {
        transfer::sync_notes(&ws, false, ctx.quiet)?;
    }
    match transfer::open_optional(&ws, args.t.remote.as_deref(), args.t.jobs)? {
        Some((remote, jobs)) => {
            let missing = gitml::profile::remote::missing(&ws, &targets)?;
            let report = gitml::remote::transfer::fetch(
                &ws,
                remote.as_ref(),
                &targets,
                jobs,
                &ctx.progress(),
            )?;
            gitml::profile::remote::pull(&ws, remote.as_ref(), &targets, &missing)?;
            transfer::finish(
                &report,
                "fetched",
                "from",
                args.t.json,
                ctx.quiet,
                MISSING_HINT,
            )?;
        }
        None => transfer::no_data_remote(targets.len(), "fetched", args.t.json, ctx.quiet)?,
    }
    Ok(Outcome::Ok)
}

pub const MISSING_HINT: &str = "they were never pushed there: run `git ml push` where the data was added, or pick another remote with `-r`";
