//! Reports: the verdict of the gates, the diff, metric history and the plots of a change, as
//! Markdown (a pull-request comment or job summary, from a minijinja template), HTML (inline
//! SVG), JSON or a terminal table. One renderer for `git ml report` and `git ml ci`.
//!
//! The invariant: every string from the repository reaches the output escaped for it, and the
//! Markdown fits GitHub's 64 KB comment limit.

pub mod check;
pub mod data;
pub mod diff;

use serde::Serialize;

use crate::error::Result;
use crate::record::Warning;
use crate::workspace::Workspace;

/// Resolve the sides (REV default: HEAD when it has run records, else the working tree; the
/// baseline: `base`, the commit of `baseline` (`MODEL#STAGE`), else the merge-base with the
/// default branch) and evaluate the gates; with the diff's warnings.
pub fn check_revisions(
    ws: &Workspace,
    rev: Option<&str>,
    base: Option<&str>,
    baseline: Option<&str>,
) -> Result<(crate::gate::CheckReport, Vec<Warning>)> {
    let new = match rev {
        Some(r) => r.to_string(),
        None => {
            let mut batch = crate::git::Batch::new(ws.root())?;
            let head_has_record = match batch.commit("HEAD") {
                Ok(c) => batch.note(crate::record::notes::REF, &c)?.is_some(),
                Err(_) => false,
            };
            if head_has_record {
                "HEAD".into()
            } else {
                crate::record::diff::WORKSPACE.into()
            }
        }
    };
    let old = match (base, baseline) {
        (Some(b), _) => b.to_string(),
        (None, Some(spec)) => crate::gate::baseline_commit(ws.root(), spec)?,
        (None, None) => crate::record::diff::resolve(ws, None, None)?.0,
    };
    let diff = crate::record::diff::diff(ws, &old, &new)?;
    let gates = crate::gate::gates(&ws.config.project)?;
    let data_gates = crate::profile::gate::gates(&ws.config.project)?;
    Ok((
        crate::gate::check_all(&diff, &gates, &data_gates),
        diff.warnings,
    ))
}

/// What a report is about.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    pub rev: Option<String>,
    pub base: Option<String>,
    pub baseline: Option<String>,
    /// Commits of history in the charts.
    pub last: usize,
    /// Draw the declared plots (not needed for a terminal table).
    pub plots: bool,
}

/// Everything a report shows, computed once for any format.
pub struct Report {
    pub check: crate::gate::CheckReport,
    pub diff: crate::record::diff::DiffReport,
    pub series: Vec<Series>,
    pub plots: Option<crate::plots::Report>,
    /// Whether gates are declared (a report without them has no verdict).
    pub gated: bool,
    pub warnings: Vec<Warning>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.check.passed
    }
}

/// Compute a report: the check, the full diff, each gated metric's history (the baseline's
/// last `last` first-parent commits, then the new side) and, when asked, the plots of both sides.
pub fn build(ws: &Workspace, opts: &ReportOptions) -> Result<Report> {
    let gates = crate::gate::gates(&ws.config.project)?;
    let (check, mut warnings) = check_revisions(
        ws,
        opts.rev.as_deref(),
        opts.base.as_deref(),
        opts.baseline.as_deref(),
    )?;
    let old = check
        .base
        .commit
        .clone()
        .unwrap_or_else(|| check.base.rev.clone());
    let diff = crate::record::diff::diff(ws, &old, &check.new.rev)?;
    let history = crate::record::log::log(ws, &old, &[], Some(opts.last.max(1)))?;
    warnings.extend(history.warnings.iter().cloned());
    let mut names: Vec<String> = gates.iter().map(|g| g.metric.clone()).collect();
    if names.is_empty() {
        names = diff
            .metrics
            .iter()
            .take(5)
            .map(|m| m.name.clone())
            .collect();
    }
    let series: Vec<Series> = names
        .iter()
        .map(|n| {
            let mut points: Vec<(String, f64)> = history
                .entries
                .iter()
                .rev()
                .filter_map(|e| {
                    e.metrics
                        .get(n)
                        .copied()
                        .flatten()
                        .map(|v| (e.commit[..7].to_string(), v))
                })
                .collect();
            if let Some(v) = diff
                .metrics
                .iter()
                .find(|m| &m.name == n)
                .and_then(|m| m.new.as_ref())
                .and_then(|s| s.mean)
            {
                let label = check
                    .new
                    .commit
                    .as_deref()
                    .map_or("workspace".to_string(), |c| c[..7].to_string());
                points.push((format!("{label} (new)"), v));
            }
            Series {
                metric: n.clone(),
                points,
            }
        })
        .collect();
    let decls = if opts.plots {
        crate::plots::declared(ws)?
    } else {
        Vec::new()
    };
    let plots = if decls.is_empty() {
        None
    } else {
        let revisions = [&check.base, &check.new].map(|s| crate::plots::Revision {
            rev: check::side_label(s),
            commit: s.commit.clone(),
        });
        Some(crate::plots::build(ws, &decls, &revisions)?)
    };
    Ok(Report {
        check,
        diff,
        series,
        plots,
        gated: !gates.is_empty() || !crate::profile::gate::gates(&ws.config.project)?.is_empty(),
        warnings,
    })
}

/// The report as JSON (schema: docs/cli.md).
pub fn json(r: &Report) -> serde_json::Value {
    serde_json::json!({
        "passed": r.check.passed,
        "check": r.check,
        "diff": r.diff,
        "history": r.series,
        "plots": r.plots,
    })
}

/// The report as a terminal table (names with control characters escaped).
pub fn term(r: &Report) -> String {
    let mut out = String::new();
    if r.gated {
        out.push_str(&check::render(&r.check, false));
        out.push('\n');
    }
    out.push_str(
        &diff::Render {
            precision: 4,
            ..Default::default()
        }
        .render(&r.diff),
    );
    for s in &r.series {
        let vals: Vec<Option<f64>> = s.points.iter().map(|p| Some(p.1)).collect();
        out.push_str(&format!(
            "{}  {}\n",
            crate::text::escape_control(&s.metric),
            crate::record::log::sparkline(&vals)
        ));
    }
    out
}

/// The report as GitHub Markdown, from `template` (`[report] template`, `--template`, else the
/// built-in one), cut under GitHub's comment limit.
pub fn markdown(ws: &Workspace, r: &Report, template: Option<&std::path::Path>) -> Result<String> {
    let (name, text) = template_text(ws, template)?;
    let plots_md = r.plots.as_ref().map(|p| {
        p.plots
            .iter()
            .map(|plot| crate::plots::markdown::section(plot, &p.revisions))
            .collect::<Vec<_>>()
            .join("\n")
    });
    render_markdown(
        &r.check,
        &r.diff,
        &r.series,
        r.gated,
        plots_md.as_deref(),
        &text,
        &name,
    )
}

/// The report as one self-contained HTML page.
pub fn html(r: &Report) -> String {
    render_html(&r.check, &r.diff, &r.series, r.gated, r.plots.as_ref())
}

/// The Markdown limit of a comment body (GitHub's is 65,536 characters), with room for a note.
pub const MD_LIMIT: usize = 64 * 1024 - 512;

/// The Markdown template to use, and a name for errors.
fn template_text(ws: &Workspace, flag: Option<&std::path::Path>) -> Result<(String, String)> {
    let configured = ws
        .config
        .project
        .get("report")
        .and_then(|r| r.get("template"))
        .and_then(|t| t.as_str())
        .map(|t| {
            // The committed file names a template inside the repository only: otherwise a pull
            // request could have CI post any file of the runner as its report.
            crate::data::path::check_relative(t, &|| "gitml.toml [report] template".into())
                .map(|_| ws.abs(t))
        })
        .transpose()?;
    match flag.map(|f| ws.cwd.join(f)).or(configured) {
        Some(path) => Ok((path.display().to_string(), fs_err::read_to_string(&path)?)),
        None => Ok((
            "templates/report.md.j2 (built in)".into(),
            TEMPLATE.to_string(),
        )),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub metric: String,
    pub points: Vec<(String, f64)>,
}

/// The built-in template (templates/report.md.j2); `[report] template` or `--template` replaces it.
const TEMPLATE: &str = include_str!("../../templates/report.md.j2");

fn render_markdown(
    check: &crate::gate::CheckReport,
    diff: &crate::record::diff::DiffReport,
    series: &[Series],
    gated: bool,
    plots: Option<&str>,
    template: &str,
    template_name: &str,
) -> crate::Result<String> {
    let esc = diff::md_escape;
    let row = |cells: &[String], keys: &[&str]| -> serde_json::Value {
        keys.iter()
            .zip(cells)
            .map(|(k, c)| (k.to_string(), serde_json::Value::String(esc(c))))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let sections = diff::Render {
        precision: 4,
        ..Default::default()
    }
    .sections(diff);
    let rows = |list: &[Vec<String>], keys: &[&str]| -> Vec<serde_json::Value> {
        list.iter().map(|r| row(r, keys)).collect()
    };
    // Mermaid string literals: quotes, brackets, markup and mentions would end, inject or ping.
    let q = crate::text::mermaid;
    let charts: Vec<serde_json::Value> = series
        .iter()
        .filter(|s| s.points.len() >= 2)
        .map(|s| {
            let xs: Vec<String> = s
                .points
                .iter()
                .map(|p| format!("\"{}\"", q(&p.0)))
                .collect();
            let ys: Vec<String> = s.points.iter().map(|p| format!("{}", p.1)).collect();
            serde_json::json!({
                "metric": esc(&s.metric),
                "title": q(&s.metric),
                "points": s.points.len(),
                "xs": xs.join(", "),
                "ys": ys.join(", "),
            })
        })
        .collect();
    let gates: Vec<serde_json::Value> = check::gate_rows(check)
        .iter()
        .map(|r| row(r, &["metric", "old", "new", "verdict", "rules"]))
        .collect();
    let context = serde_json::json!({
        "verdict": if gated { Some(if check.passed { "PASS" } else { "FAIL" }) } else { None },
        "base_label": esc(&check::side_label(&check.base)),
        "new_label": esc(&check::side_label(&check.new)),
        "base_source": esc(&sections.old_source),
        "new_source": esc(&sections.new_source),
        "gates": gates,
        "metrics": rows(&sections.metrics, &["name", "old", "new", "change", "relative"]),
        "params": rows(&sections.params, &["name", "old", "new"]),
        "data": rows(&sections.data, &["path", "old", "new", "delta", "what"]),
        "models": rows(&sections.models, &["name", "old", "new", "status"]),
        // Already escaped (paths, column names) by the data renderer.
        "data_checks": diff::Render { md: true, ..Default::default() }.tables(diff),
        "charts": charts,
        // Already escaped by the plots renderer (names, titles, labels).
        "plots": plots.filter(|p| !p.trim().is_empty()),
    });
    let mut env = minijinja::Environment::new();
    let bad = |e: minijinja::Error| crate::Error::Config {
        file: template_name.to_string(),
        message: e.to_string(),
    };
    env.add_template("report", template).map_err(bad)?;
    let mut out = env
        .get_template("report")
        .and_then(|t| t.render(minijinja::value::Serde(&context)))
        .map_err(bad)?;
    if !out.ends_with('\n') {
        out.push('\n');
    }
    if out.len() > MD_LIMIT {
        let mut cut = MD_LIMIT;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        // Do not leave a code fence or <details> open.
        if out.matches("```").count() % 2 == 1 {
            out.push_str("\n```\n");
        }
        if out.matches("<details>").count() > out.matches("</details>").count() {
            out.push_str("\n</details>\n");
        }
        out.push_str("\n\n_Report truncated to fit GitHub's comment limit; run `git ml report --format md` for all of it._\n");
    }
    Ok(out)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn svg(s: &Series) -> String {
    let (w, h, pad) = (480.0, 160.0, 20.0);
    let ys: Vec<f64> = s.points.iter().map(|p| p.1).collect();
    let (lo, hi) = ys
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let n = ys.len().max(2) as f64 - 1.0;
    let pts: Vec<String> = ys
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = pad + (w - 2.0 * pad) * i as f64 / n;
            let y = h - pad - (h - 2.0 * pad) * (v - lo) / span;
            format!("{x:.1},{y:.1}")
        })
        .collect();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\"><title>{}</title><polyline fill=\"none\" stroke=\"#2563eb\" stroke-width=\"2\" points=\"{}\"/><text x=\"{pad}\" y=\"14\" font-size=\"12\">{} (min {lo:.4}, max {hi:.4})</text></svg>",
        html_escape(&s.metric),
        pts.join(" "),
        html_escape(&s.metric)
    )
}

fn render_html(
    check: &crate::gate::CheckReport,
    diff: &crate::record::diff::DiffReport,
    series: &[Series],
    gated: bool,
    plots: Option<&crate::plots::Report>,
) -> String {
    let mut out = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>git-ml report</title><style>{}</style></head><body>\n<h1>git-ml report</h1>\n",
        crate::plots::html::STYLE
    );
    if gated {
        out.push_str(&format!(
            "<h2>Gates: {}</h2>\n<table border=\"1\"><tr><th>Metric</th><th>Verdict</th><th>Rules</th></tr>\n",
            if check.passed { "PASS" } else { "FAIL" }
        ));
        for g in &check.gates {
            let rules: Vec<String> = g
                .rules
                .iter()
                .map(|r| {
                    format!(
                        "{} {} ({})",
                        if r.passed { "✓" } else { "✗" },
                        r.rule,
                        r.detail
                    )
                })
                .collect();
            out.push_str(&format!(
                "<tr><td>{}</td><td>{:?}</td><td>{}</td></tr>\n",
                html_escape(&g.metric),
                g.verdict,
                html_escape(&(rules.join("; ") + g.reason.as_deref().unwrap_or("")))
            ));
        }
        out.push_str("</table>\n");
    }
    out.push_str("<h2>Changes</h2>\n<pre>");
    out.push_str(&html_escape(
        &diff::Render {
            precision: 4,
            ..Default::default()
        }
        .render(diff),
    ));
    out.push_str("</pre>\n");
    for s in series.iter().filter(|s| s.points.len() >= 2) {
        out.push_str(&format!(
            "<h3>{}</h3>\n{}\n",
            html_escape(&s.metric),
            svg(s)
        ));
    }
    if let Some(p) = plots.filter(|p| !p.plots.is_empty()) {
        out.push_str("<h2>Plots</h2>\n");
        out.push_str(&crate::plots::html::sections(p));
    }
    out.push_str("</body></html>\n");
    out
}
