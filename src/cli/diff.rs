use clap::Args;

use super::{Ctx, Outcome, output};

/// What a change did: metrics, params, data and models between two revisions
///
/// `git ml diff` compares the merge-base with the default branch to the working tree; `git ml
/// diff A` compares A to the working tree; `git ml diff A B` compares two revisions. A side with
/// several runs shows mean ± standard deviation (n). Each side says where its numbers came from:
/// run records, the files in its tree, or the working tree.
#[derive(Args)]
pub struct DiffArgs {
    /// The old side
    a: Option<String>,

    /// The new side (default: the working tree)
    b: Option<String>,

    /// Include unchanged metrics, params and data
    #[arg(long)]
    all: bool,

    /// Digits after the decimal point
    #[arg(long, default_value_t = 4, value_name = "N")]
    precision: usize,

    /// Print the result as JSON (schema: docs/cli.md)
    #[arg(long, conflicts_with = "md")]
    json: bool,

    /// Print GitHub-flavoured Markdown (for pull request comments)
    #[arg(long)]
    md: bool,
}

pub fn run(ctx: &Ctx, args: DiffArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let (a, b) = gitml::record::diff::resolve(&ws, args.a.as_deref(), args.b.as_deref())?;
    let report = gitml::record::diff::diff(&ws, &a, &b)?;
    for w in &report.warnings {
        warning!("{}", w.message);
    }
    if args.json {
        output::json(&report)?;
    } else {
        let r = gitml::report::diff::Render {
            precision: args.precision,
            all: args.all,
            md: args.md,
            paint: (!args.md && output::color()).then_some(output::tone as fn(_, &str) -> String),
            directions: gitml::gate::directions(&ws.config.project)?,
        };
        out!("{}", r.render(&report));
    }
    Ok(Outcome::Ok)
}
