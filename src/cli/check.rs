use clap::Args;

use gitml::gate::{CheckReport, Verdict};

use super::{Ctx, Outcome, output};

/// Check metrics against the gates in gitml.toml (`[gates.METRIC]`)
///
/// Compares REV (default: HEAD when it has run records, else the working tree's metrics files)
/// with a baseline (default: the merge-base with the default branch; `--base REV`; or
/// `--baseline MODEL#STAGE`, the commit of the model version in that stage). Each gate passes,
/// fails, is skipped (and says why) or is new (no baseline value). Exit code 0 when no gate
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
    if gates.is_empty() {
        return Err(gitml::Error::Other(
            "no gates in gitml.toml; add e.g. `[gates.acc]` with `min = 0.8` or `max_drop = \"1%\"` (docs/configuration.md)".into(),
        ));
    }
    let report = check(
        &ws,
        args.rev.as_deref(),
        args.base.as_deref(),
        args.baseline.as_deref(),
    )?;
    if args.json {
        output::json(&report)?;
    } else {
        print!("{}", render(&report, args.md));
    }
    Ok(if report.passed {
        Outcome::Ok
    } else {
        Outcome::Found
    })
}

/// Resolve the sides and evaluate the gates (shared with `report`).
pub fn check(
    ws: &gitml::Workspace,
    rev: Option<&str>,
    base: Option<&str>,
    baseline: Option<&str>,
) -> gitml::Result<CheckReport> {
    let new = match rev {
        Some(r) => r.to_string(),
        None => {
            let mut batch = gitml::git::Batch::new(ws.root())?;
            let head_has_record = match batch.commit("HEAD") {
                Ok(c) => batch.note(gitml::record::notes::REF, &c)?.is_some(),
                Err(_) => false,
            };
            if head_has_record {
                "HEAD".into()
            } else {
                gitml::record::diff::WORKSPACE.into()
            }
        }
    };
    let old = match (base, baseline) {
        (Some(b), _) => b.to_string(),
        (None, Some(spec)) => gitml::gate::baseline_commit(ws.root(), spec)?,
        (None, None) => gitml::record::diff::resolve(ws, None, None)?.0,
    };
    let diff = gitml::record::diff::diff(ws, &old, &new)?;
    for w in &diff.warnings {
        eprintln!("warning: {}", w.message);
    }
    let gates = gitml::gate::gates(&ws.config.project)?;
    Ok(gitml::gate::check(&diff, &gates))
}

fn num(s: &Option<gitml::record::diff::Stat>) -> String {
    match s {
        None => "-".into(),
        Some(s) => match (s.mean, &s.text) {
            (Some(m), _) if s.n > 1 => {
                format!("{m:.4} ± {:.4} (n={})", s.spread.unwrap_or(0.0), s.n)
            }
            (Some(m), _) => format!("{m:.4}"),
            (None, Some(t)) => t.clone(),
            _ => "-".into(),
        },
    }
}

/// The verdict and one row per gate, as a terminal table or Markdown.
pub fn render(r: &CheckReport, md: bool) -> String {
    let label = side_label;
    let verdict = if r.passed { "PASS" } else { "FAIL" };
    let rows = gate_rows(r);
    let header = [
        "Metric".to_string(),
        label(&r.base),
        label(&r.new),
        "Gate".into(),
        "Rule".into(),
    ];
    if md {
        let esc = super::diff::md_escape;
        let mut out = format!(
            "**Gates: {verdict}** ({} against {})\n\n| {} |\n|{}\n",
            esc(&label(&r.new)),
            esc(&label(&r.base)),
            header
                .iter()
                .map(|h| esc(h))
                .collect::<Vec<_>>()
                .join(" | "),
            " --- |".repeat(header.len())
        );
        for row in rows {
            out.push_str(&format!(
                "| {} |\n",
                row.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
            ));
        }
        out
    } else {
        let mut t = comfy_table::Table::new();
        t.load_preset(comfy_table::presets::NOTHING);
        t.set_header(header);
        for row in rows {
            t.add_row(row.iter().map(|c| super::output::shown(c).into_owned()));
        }
        format!(
            "gates: {verdict} ({} against {})\n{t}\n",
            label(&r.new),
            label(&r.base)
        )
    }
}

/// How a side is named in tables: `rev (commit)`, the short commit, or `workspace`.
pub fn side_label(s: &gitml::record::diff::Side) -> String {
    match &s.commit {
        Some(c) if s.rev.len() == 40 => c[..10].to_string(),
        Some(c) => format!("{} ({})", s.rev, &c[..10]),
        None => s.rev.clone(),
    }
}

/// One row per gate: metric, old, new, verdict, rules (unescaped).
pub fn gate_rows(r: &CheckReport) -> Vec<[String; 5]> {
    let mut rows = Vec::new();
    for g in &r.gates {
        let v = match g.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Skipped => "skipped",
            Verdict::New => "new",
        };
        let mut rules: Vec<String> = g
            .rules
            .iter()
            .map(|x| {
                format!(
                    "{} {} ({})",
                    if x.passed { "✓" } else { "✗" },
                    x.rule,
                    x.detail
                )
            })
            .collect();
        if let Some(reason) = &g.reason {
            rules.push(reason.clone());
        }
        let direction = format!(
            "{} is better{}",
            if g.higher_is_better {
                "higher"
            } else {
                "lower"
            },
            if g.direction_inferred {
                " (inferred)"
            } else {
                ""
            }
        );
        rows.push([
            g.metric.clone(),
            num(&g.old),
            num(&g.new),
            v.to_string(),
            format!("{}; {direction}", rules.join("; ")),
        ]);
    }
    rows
}
