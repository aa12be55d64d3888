use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{Ctx, Outcome, output};

/// A report for a change: verdict, gates, metrics, params, data, models, metric history, plots
///
/// The same comparison as `git ml check` (REV against the merge-base, `--base` or `--baseline`),
/// plus the full diff, each gated metric's value over the last N first-parent commits of the
/// baseline and this revision, and the declared plots of both sides: Mermaid charts in Markdown
/// (GitHub renders them in a pull-request comment), inline SVG in HTML. Every string from the
/// repository is escaped; Markdown stays under GitHub's 64 KB comment limit. Exit code as for
/// `check`: 1 when a gate failed.
#[derive(Args)]
pub struct ReportArgs {
    /// The revision to report on
    rev: Option<String>,

    /// The baseline revision
    #[arg(long, value_name = "REV", conflicts_with = "baseline")]
    base: Option<String>,

    /// The baseline is the model version in this stage, e.g. `churn#production`
    #[arg(long, value_name = "MODEL#STAGE")]
    baseline: Option<String>,

    #[arg(long, value_enum, default_value_t = Format::Term)]
    format: Format,

    /// Write to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Commits of history in the charts
    #[arg(long, default_value_t = 10, value_name = "N")]
    last: usize,

    /// A minijinja template for `--format md` instead of `[report] template` or the built-in
    /// one (templates/report.md.j2)
    #[arg(long, value_name = "FILE")]
    template: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Md,
    Json,
    Term,
    Html,
}

pub fn run(ctx: &Ctx, args: ReportArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let opts = gitml::report::ReportOptions {
        rev: args.rev.clone(),
        base: args.base.clone(),
        baseline: args.baseline.clone(),
        last: args.last,
        plots: args.format != Format::Term,
    };
    let report = gitml::report::build(&ws, &opts)?;
    for w in &report.warnings {
        warning!("{}", output::shown(&w.message));
    }
    let text = match args.format {
        Format::Json => {
            serde_json::to_string_pretty(&gitml::report::json(&report))
                .map_err(std::io::Error::other)?
                + "\n"
        }
        Format::Term => gitml::report::term(&report),
        Format::Md => {
            let template = args.template.as_ref().map(|t| ws.cwd.join(t));
            gitml::report::markdown(&ws, &report, template.as_deref())?
        }
        Format::Html => gitml::report::html(&report),
    };
    match &args.output {
        Some(f) => gitml::fsutil::atomic_write(f, text.as_bytes(), 0o644)?,
        None => out!("{text}"),
    }
    Ok(if report.passed() {
        Outcome::Ok
    } else {
        Outcome::Found
    })
}
