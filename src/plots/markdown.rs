//! GitHub-flavoured Markdown for pull-request comments and job summaries: a Mermaid
//! `xychart-beta` per line or scatter plot, a table per confusion matrix and revision, a table of
//! images.
//!
//! The invariant: the output fits a GitHub comment (at most [`LIMIT`] bytes; plots that do not
//! fit are named as left out), and every repository string is escaped for where it lands:
//! [`escape::markdown`] in text and tables, [`escape::mermaid`] inside the chart.

use std::collections::HashMap;
use std::fmt::Write;

use super::escape::{markdown as md, mermaid as mq};
use super::resample;
use super::series::{Matrix, Series, X};
use super::svg;
use super::{Kind, Plot, PlotRev, Report, Revision};

/// The budget for the whole Markdown (GitHub's comment limit is 65,536 characters).
pub const LIMIT: usize = 60 * 1024;

/// Points per Mermaid line.
pub const CHART_POINTS: usize = 50;

/// Larger confusion matrices are left to HTML and JSON.
pub const MAX_TABLE_CLASSES: usize = 20;

/// Mermaid string length.
const LABEL_CHARS: usize = 60;

const COLOUR_NAMES: [&str; 8] = [
    "blue", "orange", "green", "red", "purple", "brown", "pink", "cyan",
];

fn rev_label(revisions: &[Revision], pr: &PlotRev) -> String {
    revisions
        .get(pr.index)
        .map(Revision::label)
        .unwrap_or_else(|| pr.rev.clone())
}

/// The whole Markdown document.
pub fn document(report: &Report) -> String {
    let mut out = String::from("## Plots\n\n");
    let revs: Vec<String> = report
        .revisions
        .iter()
        .map(|r| format!("**{}**", md(&r.label())))
        .collect();
    let _ = writeln!(out, "{}\n", revs.join(" → "));
    if report.plots.is_empty() {
        out.push_str("No plots found.\n");
    }
    let mut left_out = 0;
    for plot in &report.plots {
        let s = section(plot, &report.revisions);
        if left_out > 0 || out.len() + s.len() > LIMIT - 1024 {
            left_out += 1;
            continue;
        }
        out.push_str(&s);
    }
    if left_out > 0 {
        let _ = writeln!(
            out,
            "_{} left out to fit a comment; `git ml plots diff --format html -o plots.html` shows all of them._\n",
            crate::text::plural(left_out as u64, "more plot", "more plots")
        );
    }
    if !report.warnings.is_empty() {
        let mut w = String::from("<details><summary>Warnings</summary>\n\n");
        for warning in &report.warnings {
            let _ = writeln!(w, "- {}", md(&warning.message));
        }
        w.push_str("\n</details>\n");
        if out.len() + w.len() <= LIMIT {
            out.push_str(&w);
        }
    }
    out
}

/// One plot's Markdown.
pub fn section(plot: &Plot, revisions: &[Revision]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### {}\n\n{} · {}\n",
        md(&plot.title),
        md(&plot.path),
        plot.kind.name()
    );
    match plot.kind {
        Kind::Line | Kind::Scatter => {
            if let Some(chart) = chart(plot, revisions) {
                out.push_str(&chart);
            }
        }
        Kind::Confusion => {
            for r in &plot.revisions {
                if let Some(m) = &r.matrix {
                    let _ = writeln!(out, "**{}**\n", md(&rev_label(revisions, r)));
                    out.push_str(&matrix(m, plot));
                    out.push('\n');
                }
            }
        }
        Kind::Image => {
            let rows: Vec<&PlotRev> = plot
                .revisions
                .iter()
                .filter(|r| r.image.is_some())
                .collect();
            if !rows.is_empty() {
                out.push_str("| Revision | Path | Size | Oid |\n| --- | --- | --- | --- |\n");
                for r in rows {
                    let img = r.image.as_ref().expect("filtered");
                    let short = img.oid.trim_start_matches(crate::oid::PREFIX);
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} |",
                        md(&rev_label(revisions, r)),
                        md(&plot.path),
                        size(img.size),
                        md(&short[..12.min(short.len())])
                    );
                }
                out.push('\n');
            }
        }
    }
    for r in &plot.revisions {
        let name = md(&rev_label(revisions, r));
        if let Some(e) = &r.error {
            let _ = write!(out, "> **{name}**: {}", md(e));
            if let Some(h) = &r.hint {
                let _ = write!(out, "<br>hint: {}", md(h));
            }
            out.push_str("\n\n");
        } else if r.missing {
            let _ = writeln!(
                out,
                "_{name}: not present{}_\n",
                r.note
                    .as_ref()
                    .map(|n| format!(" ({})", md(n)))
                    .unwrap_or_default()
            );
        }
        for s in r.series.iter().flatten() {
            let skipped = s.skipped_missing + s.skipped_non_finite;
            if skipped > 0 {
                let _ = writeln!(
                    out,
                    "_{name}: {skipped} of {} of {} skipped ({} without a number, {} NaN or infinite)_\n",
                    crate::text::plural((skipped + s.total) as u64, "record", "records"),
                    md(&s.field),
                    s.skipped_missing,
                    s.skipped_non_finite
                );
            }
        }
    }
    out
}

/// A number as Mermaid reads it: plain decimal digits (no exponent), four significant (a chart
/// in a comment needs no more, and every byte counts against the comment limit).
pub fn mermaid_num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0".into();
    }
    let a = v.abs();
    if a >= 1e15 {
        return format!("{v:.0}");
    }
    let decimals = (3.0 - a.log10().floor()).clamp(0.0, 12.0) as usize;
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

/// The Mermaid chart: every line on one shared x axis (Mermaid's xychart has no per-line x), so
/// each series is resampled onto a common grid of at most [`CHART_POINTS`] x values by linear
/// interpolation (categories: the first [`CHART_POINTS`]); a legend below names each line's
/// colour.
pub fn chart(plot: &Plot, revisions: &[Revision]) -> Option<String> {
    let lines: Vec<(&PlotRev, usize, &Series)> = plot
        .revisions
        .iter()
        .flat_map(|r| {
            r.series
                .iter()
                .flatten()
                .enumerate()
                .filter(|(_, s)| !s.points.is_empty())
                .map(move |(fi, s)| (r, fi, s))
        })
        .collect();
    if lines.is_empty() {
        return None;
    }
    let categories = plot.categories();
    let (x_axis, values): (String, Vec<Vec<f64>>) = match &categories {
        Some(cats) => {
            let n = cats.len().min(CHART_POINTS);
            let shown: Vec<_> = (0..n)
                .map(|i| {
                    cats[if n < 2 {
                        0
                    } else {
                        i * (cats.len() - 1) / (n - 1)
                    }]
                    .clone()
                })
                .collect();
            let axis = shown
                .iter()
                .map(|c| format!("\"{}\"", mq(c, 24)))
                .collect::<Vec<_>>()
                .join(", ");
            let values = lines
                .iter()
                .map(|(_, _, s)| {
                    let by: HashMap<&str, f64> = s
                        .points
                        .iter()
                        .filter_map(|p| match &p.0 {
                            X::Label(l) => Some((&**l, p.1)),
                            X::Num(_) => None,
                        })
                        .collect();
                    let first = s.points[0].1;
                    let mut last = first;
                    shown
                        .iter()
                        .map(|c| {
                            if let Some(&v) = by.get(&**c) {
                                last = v;
                            }
                            last
                        })
                        .collect()
                })
                .collect();
            (
                format!("x-axis \"{}\" [{axis}]", mq(&plot.x_label, LABEL_CHARS)),
                values,
            )
        }
        None => {
            let num = |p: &super::series::Point| match p.0 {
                X::Num(v) => v,
                X::Label(_) => 0.0,
            };
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for (_, _, s) in &lines {
                for p in &s.points {
                    lo = lo.min(num(p));
                    hi = hi.max(num(p));
                }
            }
            if hi <= lo {
                hi = lo + 1.0;
            }
            let xs = shared_xs(&lines).unwrap_or_else(|| resample::grid(lo, hi, CHART_POINTS));
            let values = lines
                .iter()
                .map(|(_, _, s)| {
                    let pts: Vec<[f64; 2]> = s.points.iter().map(|p| [num(p), p.1]).collect();
                    resample::interpolate(&pts, &xs)
                })
                .collect();
            (
                format!(
                    "x-axis \"{}\" {} --> {}",
                    mq(&plot.x_label, LABEL_CHARS),
                    mermaid_num(lo),
                    mermaid_num(hi)
                ),
                values,
            )
        }
    };
    let several_fields = plot.y.len() > 1;
    let colours: Vec<usize> = lines
        .iter()
        .enumerate()
        .map(|(k, (r, _, _))| if several_fields { k } else { r.index })
        .collect();
    let palette = colours
        .iter()
        .map(|&c| svg::colour(c))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = String::from("```mermaid\n");
    let _ = writeln!(
        out,
        "%%{{init: {{\"themeVariables\": {{\"xyChart\": {{\"plotColorPalette\": \"{palette}\"}}}}}}}}%%"
    );
    out.push_str("xychart-beta\n");
    let _ = writeln!(out, "    title \"{}\"", mq(&plot.title, LABEL_CHARS));
    let _ = writeln!(out, "    {x_axis}");
    let _ = writeln!(out, "    y-axis \"{}\"", mq(&plot.y_label, LABEL_CHARS));
    for v in &values {
        let nums: Vec<String> = v.iter().map(|&y| mermaid_num(y)).collect();
        let _ = writeln!(out, "    line [{}]", nums.join(", "));
    }
    out.push_str("```\n\n");
    let legend: Vec<String> = lines
        .iter()
        .zip(&colours)
        .map(|((r, _, s), &c)| {
            let name = md(&rev_label(revisions, r));
            let colour = COLOUR_NAMES[c % COLOUR_NAMES.len()];
            if several_fields {
                format!("{colour}: {name} {}", md(&s.field))
            } else {
                format!("{colour}: {name}")
            }
        })
        .collect();
    let _ = writeln!(out, "{}\n", legend.join(" · "));
    Some(out)
}

/// The lines' x values themselves, when together they are at most [`CHART_POINTS`] evenly spaced
/// values (training steps, epochs): then no point is interpolated.
fn shared_xs(lines: &[(&PlotRev, usize, &Series)]) -> Option<Vec<f64>> {
    let mut xs: Vec<f64> = Vec::new();
    for (_, _, s) in lines {
        for p in &s.points {
            let X::Num(x) = p.0 else { return None };
            xs.push(x);
        }
        if xs.len() > 4 * CHART_POINTS {
            xs.sort_by(f64::total_cmp);
            xs.dedup();
            if xs.len() > CHART_POINTS {
                return None;
            }
        }
    }
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    if xs.len() < 2 || xs.len() > CHART_POINTS {
        return None;
    }
    let step = xs[1] - xs[0];
    let even = xs
        .windows(2)
        .all(|w| ((w[1] - w[0]) - step).abs() <= step.abs() * 1e-6);
    even.then_some(xs)
}

/// A confusion matrix as a table: actual classes down, predicted across.
pub fn matrix(m: &Matrix, plot: &Plot) -> String {
    if m.labels.len() > MAX_TABLE_CLASSES {
        return format!(
            "_{} classes: too many for a table here; `--format html` or `--format json` shows the matrix._\n",
            m.labels.len()
        );
    }
    let mut out = format!(
        "| {} \\\\ {} |",
        md(plot.x.as_deref().unwrap_or("actual")),
        md(plot.y.first().map(String::as_str).unwrap_or("predicted"))
    );
    for l in &m.labels {
        let _ = write!(out, " {} |", md(l));
    }
    out.push_str("\n|");
    out.push_str(&" --- |".repeat(m.labels.len() + 1));
    out.push('\n');
    for (l, row) in m.labels.iter().zip(&m.counts) {
        let _ = write!(out, "| **{}** |", md(l));
        for n in row {
            let _ = write!(out, " {n} |");
        }
        out.push('\n');
    }
    out
}

fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mermaid_numbers_have_no_exponent() {
        assert_eq!(mermaid_num(0.5), "0.5");
        assert_eq!(mermaid_num(1.0 / 3.0), "0.3333");
        assert_eq!(mermaid_num(-2.0), "-2");
        assert_eq!(mermaid_num(1e-9), "0.000000001");
        assert_eq!(mermaid_num(123456789.0), "123456789");
        assert!(!mermaid_num(1e20).contains('e'));
        assert_eq!(mermaid_num(f64::NAN), "0");
    }
}
