//! The HTML page: one self-contained document (inline CSS, inline SVG per chart, tables for
//! confusion matrices and images), readable offline and needing no JavaScript.
//!
//! The invariant: the page loads nothing, runs nothing and links nowhere; a Content Security
//! Policy that allows only inline styles backs up the escaping of every repository string.

use std::fmt::Write;

use super::escape::html as esc;
use super::series::Matrix;
use super::svg::{self, fmt_num};
use super::{Kind, Plot, PlotRev, Report, Revision};

pub const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px;color:#111;max-width:1100px}\
h1{font-size:20px}h2{font-size:16px;margin:28px 0 4px}.meta{color:#555;font-size:13px;margin:0 0 8px}\
table{border-collapse:collapse;margin:6px 0 14px;font-size:13px}td,th{border:1px solid #ccd;padding:3px 8px;text-align:left}td.n{text-align:right}\
th{background:#f0f2f5}.err{color:#b00020}.note{color:#555}.swatch{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:-1px}\
code{font-size:12px}";

fn revision_name(revisions: &[Revision], pr: &PlotRev) -> String {
    revisions
        .get(pr.index)
        .map(Revision::label)
        .unwrap_or_else(|| pr.rev.clone())
}

/// The whole page.
pub fn page(report: &Report) -> String {
    let mut out = String::new();
    out.push_str("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    out.push_str("<title>git-ml plots</title><style>");
    out.push_str(STYLE);
    out.push_str("</style></head><body>\n<h1>Plots</h1>\n<p class=\"meta\">");
    for (i, r) in report.revisions.iter().enumerate() {
        if i > 0 {
            out.push_str(" &middot; ");
        }
        let _ = write!(
            out,
            "<span class=\"swatch\" style=\"background:{}\"></span>{}",
            svg::colour(i),
            esc(&r.label())
        );
    }
    out.push_str("</p>\n");
    if report.plots.is_empty() {
        out.push_str("<p class=\"note\">No plots found.</p>\n");
    }
    out.push_str(&sections(report));
    out.push_str("</body></html>\n");
    out
}

/// The plots (and warnings) as HTML for a page of someone else's, e.g. `git ml report`'s; the
/// page must include [`STYLE`].
pub fn sections(report: &Report) -> String {
    let mut out = String::new();
    for plot in &report.plots {
        section(&mut out, plot, &report.revisions);
    }
    if !report.warnings.is_empty() {
        out.push_str("<h2>Warnings</h2>\n<ul>");
        for w in &report.warnings {
            let _ = write!(out, "<li>{}</li>", esc(&w.message));
        }
        out.push_str("</ul>\n");
    }
    out
}

fn section(out: &mut String, plot: &Plot, revisions: &[Revision]) {
    let _ = write!(
        out,
        "<section>\n<h2>{}</h2>\n<p class=\"meta\"><code>{}</code> &middot; {}</p>\n",
        esc(&plot.title),
        esc(&plot.path),
        plot.kind.name()
    );
    match plot.kind {
        Kind::Line | Kind::Scatter => {
            if let Some(chart) = svg::chart(plot, revisions, plot.kind == Kind::Scatter) {
                out.push_str(&chart);
                out.push('\n');
            }
        }
        Kind::Confusion => {
            for r in &plot.revisions {
                if let Some(m) = &r.matrix {
                    let _ = writeln!(
                        out,
                        "<p><span class=\"swatch\" style=\"background:{}\"></span><b>{}</b></p>",
                        svg::colour(r.index),
                        esc(&revision_name(revisions, r))
                    );
                    matrix(out, m, svg::colour(r.index), plot);
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
                out.push_str(
                    "<table><tr><th>Revision</th><th>Path</th><th>Size</th><th>Oid</th></tr>",
                );
                for r in rows {
                    let img = r.image.as_ref().expect("filtered");
                    let _ = write!(
                        out,
                        "<tr><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td><code>{}</code></td></tr>",
                        esc(&revision_name(revisions, r)),
                        esc(&plot.path),
                        img.size,
                        esc(&img.oid)
                    );
                }
                out.push_str("</table>\n");
            }
        }
    }
    for r in &plot.revisions {
        let name = esc(&revision_name(revisions, r));
        if let Some(e) = &r.error {
            let _ = write!(out, "<p class=\"err\">{name}: {}", esc(e));
            if let Some(h) = &r.hint {
                let _ = write!(out, "<br>hint: {}", esc(h));
            }
            out.push_str("</p>\n");
        } else if r.missing {
            let _ = writeln!(
                out,
                "<p class=\"note\">{name}: not present{}</p>",
                r.note
                    .as_ref()
                    .map(|n| format!(" ({})", esc(n)))
                    .unwrap_or_default()
            );
        }
        for s in r.series.iter().flatten() {
            let skipped = s.skipped_missing + s.skipped_non_finite;
            if skipped > 0 {
                let _ = writeln!(
                    out,
                    "<p class=\"note\">{name}: {skipped} of {} of <code>{}</code> skipped ({} without a number, {} NaN or infinite)</p>",
                    crate::text::plural((skipped + s.total) as u64, "record", "records"),
                    esc(&s.field),
                    s.skipped_missing,
                    s.skipped_non_finite
                );
            }
        }
    }
    out.push_str("</section>\n");
}

/// A confusion matrix as a table, cells shaded by their share of the row.
fn matrix(out: &mut String, m: &Matrix, colour: &str, plot: &Plot) {
    let _ = write!(
        out,
        "<table><tr><th>{} \\ {}</th>",
        esc(plot.x.as_deref().unwrap_or("actual")),
        esc(plot.y.first().map(String::as_str).unwrap_or("predicted"))
    );
    for l in &m.labels {
        let _ = write!(out, "<th>{}</th>", esc(l));
    }
    out.push_str("</tr>");
    for (label, row) in m.labels.iter().zip(&m.counts) {
        let total: u64 = row.iter().sum();
        let _ = write!(out, "<tr><th>{}</th>", esc(label));
        for &n in row {
            let share = if total == 0 {
                0.0
            } else {
                n as f64 / total as f64
            };
            // Alpha as two hex digits on the revision's colour.
            let alpha = (share * 200.0).round() as u8;
            let _ = write!(
                out,
                "<td class=\"n\" style=\"background:{colour}{alpha:02x}\" title=\"{}\">{n}</td>",
                fmt_num(share, 0.001)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>\n");
}
