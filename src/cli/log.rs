use clap::Args;

use gitml::record::Origin;
use gitml::record::log::sparkline;

use super::{Ctx, Outcome, output};

/// Metric history along first-parent history, newest first, with a sparkline per metric
///
/// Each commit's value is the mean over its runs; a commit without records falls back to its
/// declared metrics files (marked `files`).
#[derive(Args)]
pub struct LogArgs {
    /// Revision or range (default HEAD), e.g. `main`, `v1..HEAD`
    #[arg(default_value = "HEAD")]
    range: String,

    /// Only these metrics (repeatable; default: all)
    #[arg(long = "metric", value_name = "NAME")]
    metrics: Vec<String>,

    /// At most N commits
    #[arg(short = 'n', long, value_name = "N")]
    max_count: Option<usize>,

    /// Digits after the decimal point
    #[arg(long, default_value_t = 4, value_name = "N")]
    precision: usize,

    /// Print the result as JSON
    #[arg(long, conflicts_with = "csv")]
    json: bool,

    /// Print the result as CSV
    #[arg(long)]
    csv: bool,
}

pub fn run(ctx: &Ctx, args: LogArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let report = gitml::record::log::log(&ws, &args.range, &args.metrics, args.max_count)?;
    for w in &report.warnings {
        warning!("{}", w.message);
    }
    if args.json {
        output::json(&report)?;
        return Ok(Outcome::Ok);
    }
    let fmt = |v: Option<f64>| {
        v.map(|x| format!("{x:.*}", args.precision))
            .unwrap_or_default()
    };
    if args.csv {
        let mut header = vec!["commit".to_string(), "date".into(), "source".into()];
        header.extend(report.metrics.iter().map(|m| gitml::text::csv(m)));
        outln!("{}", header.join(","));
        for e in &report.entries {
            let mut row = vec![e.commit.clone(), e.date.clone(), origin(e.origin).into()];
            row.extend(
                report
                    .metrics
                    .iter()
                    .map(|m| fmt(e.metrics.get(m).copied().flatten())),
            );
            outln!("{}", row.join(","));
        }
        return Ok(Outcome::Ok);
    }
    let mut table = output::table();
    let mut header = vec!["commit".to_string(), "date".into(), "source".into()];
    header.extend(report.metrics.iter().cloned());
    table.set_header(output::cells(header));
    for e in &report.entries {
        let mut row = vec![
            e.commit[..10].to_string(),
            e.date.get(..10).unwrap_or(&e.date).to_string(),
            match e.origin {
                Origin::Record => format!("{} run{}", e.runs, if e.runs == 1 { "" } else { "s" }),
                o => origin(o).to_string(),
            },
        ];
        row.extend(
            report
                .metrics
                .iter()
                .map(|m| fmt(e.metrics.get(m).copied().flatten())),
        );
        table.add_row(output::cells(row));
    }
    output::print_table(&table);
    if !report.metrics.is_empty() && !report.entries.is_empty() {
        outln!();
        let width = report.metrics.iter().map(|m| m.len()).max().unwrap_or(0);
        for m in &report.metrics {
            // Oldest first, left to right.
            let series: Vec<Option<f64>> = report
                .entries
                .iter()
                .rev()
                .map(|e| e.metrics.get(m).copied().flatten())
                .collect();
            outln!("{m:width$}  {}", sparkline(&series));
        }
    }
    if report.shallow && !ctx.quiet {
        eprintln!(
            "note: shallow clone: older history is not here (`git fetch --unshallow`, or `fetch-depth: 0` in actions/checkout)"
        );
    }
    Ok(Outcome::Ok)
}

fn origin(o: Origin) -> &'static str {
    match o {
        Origin::Record => "record",
        Origin::Files => "files",
        Origin::Worktree => "workspace",
        Origin::None => "-",
    }
}
