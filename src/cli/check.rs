use clap::Args;

use super::{Ctx, Outcome, output};

/// Check metrics and tracked tables against the gates in gitml.toml (`[gates.METRIC]`,
/// `[data.gates."GLOB"]`)
///
/// Compares REV (default: HEAD when it has run records, else the working tree's metrics files)
/// with a baseline (default: the merge-base with the default branch; `--base REV`; or
/// `--baseline MODEL#STAGE`, the commit of the model version in that stage). Each gate passes,
/// fails, is skipped (and says why) or is new (no baseline value); a data gate checks the
/// schema, rows, nulls and drift of the tables it matches (docs/data-checks.md). Exit code 0 when no gate
/// failed, 1 when one did, 2 on error.
#[derive(Args)]
pub struct CheckArgs {
    /// The revision to check
    rev: Option<String>,

    /// The baseline revision
    #[arg(long, value_name = "REV", conflicts_with = "baseline")]
    base: Option<String>,

    /// The baseline is the model version in this stage, e.g. `churn#production`
    #[arg(long, value_name = "MODEL#STAGE")]
    baseline: Option<String>,

    /// Print the result as JSON
    #[arg(long, conflicts_with = "md")]
    json: bool,

    /// Print GitHub-flavoured Markdown
    #[arg(long)]
    md: bool,
}

pub fn run(ctx: &Ctx, args: CheckArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let gates = gitml::gate::gates(&ws.config.project)?;
    if gates.is_empty() && gitml::profile::gate::gates(&ws.config.project)?.is_empty() {
        return Err(gitml::Error::Other(
            "no gates in gitml.toml; add e.g. `[gates.acc]` with `min = 0.8` or `max_drop = \"1%\"`, or a data gate `[data.gates.\"data/*.csv\"]` with `schema = \"additive\"` (docs/configuration.md)".into(),
        ));
    }
    let (report, warnings) = gitml::report::check_revisions(
        &ws,
        args.rev.as_deref(),
        args.base.as_deref(),
        args.baseline.as_deref(),
    )?;
    for w in &warnings {
        warning!("{}", output::shown(&w.message));
    }
    if args.json {
        output::json(&report)?;
    } else {
        let paint = output::color().then_some(output::tone as fn(_, &str) -> String);
        out!(
            "{}",
            gitml::report::check::render_painted(&report, args.md, paint)
        );
    }
    Ok(if report.passed {
        Outcome::Ok
    } else {
        Outcome::Found
    })
}
