use std::path::PathBuf;

use clap::Args;

use gitml::pipeline::merge::{self, Merged};

use super::{Ctx, Outcome};

/// Merge `gitml.lock` or a pointer file (git runs this; `git ml init` registers it)
///
/// Writes the result over OURS. Exit 0 when merged cleanly; 1 when a real conflict was left with
/// markers and a hint in the file.
#[derive(Args)]
pub struct MergeDriverArgs {
    /// The common ancestor's version (%O)
    base: PathBuf,
    /// Our version, replaced by the result (%A)
    ours: PathBuf,
    /// Their version (%B)
    theirs: PathBuf,
    /// The path in the repository (%P)
    path: String,
}

pub fn run(ctx: &Ctx, args: MergeDriverArgs) -> gitml::Result<Outcome> {
    let merged = if args.path.ends_with("gitml.lock") {
        merge::merge_lock(&args.base, &args.ours, &args.theirs)?
    } else {
        // Manifests come from this repository's cache, when it can be opened.
        let ws = ctx.workspace().ok();
        merge::merge_pointer(
            ws.as_ref(),
            &args.base,
            &args.ours,
            &args.theirs,
            &args.path,
        )?
    };
    Ok(match merged {
        Merged::Clean => Outcome::Ok,
        Merged::Conflict => {
            eprintln!(
                "git-ml: conflict in `{}`: see the markers and the hint in the file",
                super::output::shown(&args.path)
            );
            Outcome::Found
        }
        Merged::Binary => {
            eprintln!(
                "git-ml: conflict in `{}`: one side is not text, so it cannot be merged; our version was kept as it was: pick a side with `git checkout --ours -- {p}` or `git checkout --theirs -- {p}`",
                super::output::shown(&args.path),
                p = super::output::shown(&gitml::text::shell_path(&args.path)),
            );
            Outcome::Found
        }
    })
}
