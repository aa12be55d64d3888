use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{Ctx, Outcome};

/// A report for a change: verdict, gates, metrics, params, data, models and metric history
///
/// The same comparison as `git ml check` (REV against the merge-base, `--base` or `--baseline`),
/// plus the full diff and, for each gated metric (else the first five), its value over the last
/// N first-parent commits of the baseline and this revision: a Mermaid `xychart-beta` in
/// Markdown (GitHub renders it in a pull-request comment), an inline SVG in HTML. Every string
/// from the repository is escaped; Markdown stays under GitHub's 64 KB comment limit.
/// Exit code as for `check`: 1 when a gate failed.
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

/// The Markdown template to use, and a name for errors.
fn template(
    ws: &gitml::Workspace,
    flag: Option<&std::path::Path>,
) -> gitml::Result<(String, String)> {
    let configured = ws
        .config
        .project
        .get("report")
        .and_then(|r| r.get("template"))
        .and_then(|t| t.as_str())
        .map(|t| {
            // The committed file names a template inside the repository only: otherwise a pull
            // request could have CI post any file of the runner as its report.
            gitml::data::path::check_relative(t, &|| "gitml.toml [report] template".into())
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

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Md,
    Json,
    Term,
    Html,
}

/// GitHub's limit on a comment body, with room for a note.
const MD_LIMIT: usize = 64 * 1024 - 512;

#[derive(serde::Serialize)]
struct Series {
    metric: String,
    points: Vec<(String, f64)>,
}

pub fn run(ctx: &Ctx, args: ReportArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let gates = gitml::gate::gates(&ws.config.project)?;
    let check = super::check::check(
        &ws,
        args.rev.as_deref(),
        args.base.as_deref(),
        args.baseline.as_deref(),
    )?;
    let old = check
        .base
        .commit
        .clone()
        .unwrap_or_else(|| check.base.rev.clone());
    let diff = gitml::record::diff::diff(&ws, &old, &check.new.rev)?;
    // History: the baseline's last N first-parent commits, then the new side.
    let history = gitml::record::log::log(&ws, &old, &[], Some(args.last))?;
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
    // The declared plots, the baseline's and the new side's overlaid.
    let decls = gitml::plots::declared(&ws)?;
    let plots = if decls.is_empty() || matches!(args.format, Format::Term) {
        None
    } else {
        let revisions = [&check.base, &check.new].map(|s| gitml::plots::Revision {
            rev: super::check::side_label(s),
            commit: s.commit.clone(),
        });
        Some(gitml::plots::build(&ws, &decls, &revisions)?)
    };
    let text = match args.format {
        Format::Json => {
            serde_json::to_string_pretty(&serde_json::json!({
                "passed": check.passed,
                "check": check,
                "diff": diff,
                "history": series,
                "plots": plots,
            }))
            .map_err(std::io::Error::other)?
                + "\n"
        }
        Format::Term => {
            let mut out = String::new();
            if !gates.is_empty() {
                out.push_str(&super::check::render(&check, false));
                out.push('\n');
            }
            out.push_str(
                &super::diff::Render {
                    precision: 4,
                    all: false,
                    md: false,
                }
                .render(&diff),
            );
            for s in &series {
                let vals: Vec<Option<f64>> = s.points.iter().map(|p| Some(p.1)).collect();
                out.push_str(&format!(
                    "{}  {}\n",
                    s.metric,
                    gitml::record::log::sparkline(&vals)
                ));
            }
            out
        }
        Format::Md => {
            let (name, text) = template(&ws, args.template.as_deref())?;
            let plots_md = plots.as_ref().map(|p| {
                p.plots
                    .iter()
                    .map(|plot| gitml::plots::markdown::section(plot, &p.revisions))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            markdown(
                &check,
                &diff,
                &series,
                !gates.is_empty(),
                plots_md.as_deref(),
                &text,
                &name,
            )?
        }
        Format::Html => html(&check, &diff, &series, !gates.is_empty(), plots.as_ref()),
    };
    match &args.output {
        Some(f) => gitml::fsutil::atomic_write(f, text.as_bytes(), 0o644)?,
        None => print!("{text}"),
    }
    Ok(if check.passed {
        Outcome::Ok
    } else {
        Outcome::Found
    })
}

/// The built-in template (templates/report.md.j2); `[report] template` or `--template` replaces it.
const TEMPLATE: &str = include_str!("../../templates/report.md.j2");

fn markdown(
    check: &gitml::gate::CheckReport,
    diff: &gitml::record::diff::DiffReport,
    series: &[Series],
    gated: bool,
    plots: Option<&str>,
    template: &str,
    template_name: &str,
) -> gitml::Result<String> {
    let esc = super::diff::md_escape;
    let row = |cells: &[String], keys: &[&str]| -> serde_json::Value {
        keys.iter()
            .zip(cells)
            .map(|(k, c)| (k.to_string(), serde_json::Value::String(esc(c))))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let sections = super::diff::Render {
        precision: 4,
        all: false,
        md: false,
    }
    .sections(diff);
    let rows = |list: &[Vec<String>], keys: &[&str]| -> Vec<serde_json::Value> {
        list.iter().map(|r| row(r, keys)).collect()
    };
    // Mermaid string literals: quotes, brackets, markup and mentions would end, inject or ping.
    let q = gitml::text::mermaid;
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
    let gates: Vec<serde_json::Value> = super::check::gate_rows(check)
        .iter()
        .map(|r| row(r, &["metric", "old", "new", "verdict", "rules"]))
        .collect();
    let context = serde_json::json!({
        "verdict": if gated { Some(if check.passed { "PASS" } else { "FAIL" }) } else { None },
        "base_label": esc(&super::check::side_label(&check.base)),
        "new_label": esc(&super::check::side_label(&check.new)),
        "base_source": esc(&sections.old_source),
        "new_source": esc(&sections.new_source),
        "gates": gates,
        "metrics": rows(&sections.metrics, &["name", "old", "new", "change", "relative"]),
        "params": rows(&sections.params, &["name", "old", "new"]),
        "data": rows(&sections.data, &["path", "old", "new", "delta", "what"]),
        "models": rows(&sections.models, &["name", "old", "new", "status"]),
        "charts": charts,
        // Already escaped by the plots renderer (names, titles, labels).
        "plots": plots.filter(|p| !p.trim().is_empty()),
    });
    let mut env = minijinja::Environment::new();
    let bad = |e: minijinja::Error| gitml::Error::Config {
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

fn html(
    check: &gitml::gate::CheckReport,
    diff: &gitml::record::diff::DiffReport,
    series: &[Series],
    gated: bool,
    plots: Option<&gitml::plots::Report>,
) -> String {
    let mut out = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>git-ml report</title><style>{}</style></head><body>\n<h1>git-ml report</h1>\n",
        gitml::plots::html::STYLE
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
        &super::diff::Render {
            precision: 4,
            all: false,
            md: false,
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
        out.push_str(&gitml::plots::html::sections(p));
    }
    out.push_str("</body></html>\n");
    out
}
