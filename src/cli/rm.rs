use std::path::PathBuf;

use clap::Args;

use super::{Ctx, Outcome, output};

/// Stop tracking paths: remove their pointers and `.gitignore` lines
///
/// The data stays in the work tree (so you can commit it to git directly) unless `--delete`.
/// Cache objects stay until a garbage collection.
#[derive(Args)]
pub struct RmArgs {
    /// Tracked paths (or their pointer files)
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Also delete the data from the work tree (it stays in the cache)
    #[arg(long)]
    delete: bool,

    /// With `--delete`: delete even local changes that are not in the cache
    #[arg(short, long)]
    force: bool,

    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: RmArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let tracked = ws.select_tracked(&args.paths)?;
    let removed = gitml::data::rm::rm(&ws, &tracked, args.delete, args.force, &ctx.progress())?;
    if args.json {
        output::json(&removed)?;
        return Ok(Outcome::Ok);
    }
    for r in removed.iter().filter(|_| !ctx.quiet) {
        let data = if r.deleted_data {
            ", data deleted"
        } else {
            ", data kept"
        };
        outln!(
            "untracked `{}` (removed `{}`{data})",
            output::shown(&r.path),
            output::shown(&r.pointer)
        );
    }
    if !ctx.quiet && !removed.is_empty() {
        let pointers: Vec<&str> = removed.iter().map(|r| r.pointer.as_str()).collect();
        eprintln!(
            "hint: record the removal with `git add -A {}`",
            pointers.join(" ")
        );
    }
    Ok(Outcome::Ok)
}
