use clap::{Args, ValueEnum};

use super::{Ctx, Outcome};

/// Export the metric history for other tools: Prometheus/OpenMetrics text or CSV
///
/// One sample per metric per commit along first-parent history (the values `git ml log` shows),
/// labelled with the metric, branch, commit and source. For Prometheus' node-exporter textfile
/// collector: `git ml export > /var/lib/node_exporter/textfile/gitml.prom`; for a pushgateway:
/// `git ml export | curl --data-binary @- http://pushgateway:9091/metrics/job/gitml`.
#[derive(Args)]
pub struct ExportArgs {
    /// Revision or range (default HEAD), e.g. `main`, `v1..HEAD`
    #[arg(default_value = "HEAD")]
    range: String,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Openmetrics)]
    format: Format,

    /// Only these metrics (repeatable; default: all)
    #[arg(long = "metric", value_name = "NAME")]
    metrics: Vec<String>,

    /// At most N commits
    #[arg(short = 'n', long, value_name = "N")]
    max_count: Option<usize>,

    /// The `branch` label (default: the branch the range ends on, e.g. `main` for HEAD on main)
    #[arg(long, value_name = "NAME")]
    branch: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// OpenMetrics / Prometheus text exposition format
    Openmetrics,
    /// Long-format CSV: commit,date,branch,source,metric,value
    Csv,
}

pub fn run(ctx: &Ctx, args: ExportArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let report = gitml::record::log::log(&ws, &args.range, &args.metrics, args.max_count)?;
    for w in &report.warnings {
        warning!("{}", super::output::shown(&w.message));
    }
    let branch = match args.branch {
        Some(b) => b,
        None => tip_name(ws.root(), &args.range),
    };
    let text = match args.format {
        Format::Openmetrics => gitml::record::export::openmetrics(&report, &branch),
        Format::Csv => gitml::record::export::csv(&report, &branch),
    };
    out!("{text}");
    Ok(Outcome::Ok)
}

/// The short name of the ref a range ends on (`HEAD` on main: `main`); the revision as given when
/// it names no ref (a commit, a detached HEAD).
fn tip_name(root: &std::path::Path, range: &str) -> String {
    let tip = range
        .rsplit("..")
        .next()
        .filter(|t| !t.is_empty())
        .unwrap_or("HEAD");
    let tip = tip.trim_start_matches('.');
    gitml::git::ref_name(root, tip).unwrap_or_else(|| tip.to_string())
}
