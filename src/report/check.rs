//! A gate check as a terminal table or Markdown, and the names of its sides.

use crate::gate::{CheckReport, Verdict};

fn num(s: &Option<crate::record::diff::Stat>) -> String {
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
    render_painted(r, md, None)
}

/// [`render`], with verdicts coloured by `paint` in the terminal table.
pub fn render_painted(
    r: &CheckReport,
    md: bool,
    paint: Option<fn(super::diff::Tone, &str) -> String>,
) -> String {
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
        use super::diff::Tone;
        let tone = |v: &str| match v {
            "pass" | "PASS" => Some(Tone::Good),
            "FAIL" => Some(Tone::Bad),
            "skipped" => Some(Tone::Warn),
            _ => None,
        };
        let painted = |v: &str| match (paint, tone(v)) {
            (Some(p), Some(t)) => p(t, v),
            _ => v.to_string(),
        };
        for row in rows {
            t.add_row(row.iter().enumerate().map(|(i, c)| {
                let c = crate::text::escape_control(c).into_owned();
                if i == 3 { painted(&c) } else { c }
            }));
        }
        format!(
            "gates: {} ({} against {})\n{}\n",
            painted(verdict),
            label(&r.new),
            label(&r.base),
            crate::text::table(&t)
        )
    }
}

/// How a side is named in tables: `rev (commit)`, the short commit, or `workspace`.
pub fn side_label(s: &crate::record::diff::Side) -> String {
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
        let v = verdict_name(g.verdict);
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
    for d in &r.data {
        let mut rules: Vec<String> = d
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
        if let Some(reason) = &d.reason {
            rules.push(reason.clone());
        }
        let rows_of = |side: &str| {
            d.rows
                .iter()
                .find(|(s, _)| s == side)
                .map(|(_, n)| format!("{n} rows"))
                .unwrap_or_else(|| "-".into())
        };
        rows.push([
            match &d.path {
                Some(p) if p != &d.gate => format!("data {p} ({})", d.gate),
                Some(p) => format!("data {p}"),
                None => format!("data {}", d.gate),
            },
            rows_of("old"),
            rows_of("new"),
            verdict_name(d.verdict).to_string(),
            rules.join("; "),
        ]);
    }
    rows
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "FAIL",
        Verdict::Skipped => "skipped",
        Verdict::New => "new",
    }
}
