use clap::Args;

use gitml::record::diff::{DiffReport, Stat};

use super::{Ctx, Outcome, output};

/// What a change did: metrics, params, data and models between two revisions
///
/// `git ml diff` compares the merge-base with the default branch to the working tree; `git ml
/// diff A` compares A to the working tree; `git ml diff A B` compares two revisions. A side with
/// several runs shows mean ± standard deviation (n). Each side says where its numbers came from:
/// run records, the files in its tree, or the working tree.
#[derive(Args)]
pub struct DiffArgs {
    /// The old side
    a: Option<String>,

    /// The new side (default: the working tree)
    b: Option<String>,

    /// Include unchanged metrics, params and data
    #[arg(long)]
    all: bool,

    /// Digits after the decimal point
    #[arg(long, default_value_t = 4, value_name = "N")]
    precision: usize,

    /// Print the result as JSON (schema: docs/cli.md)
    #[arg(long, conflicts_with = "md")]
    json: bool,

    /// Print GitHub-flavoured Markdown (for pull request comments)
    #[arg(long)]
    md: bool,
}

pub fn run(ctx: &Ctx, args: DiffArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let (a, b) = gitml::record::diff::resolve(&ws, args.a.as_deref(), args.b.as_deref())?;
    let report = gitml::record::diff::diff(&ws, &a, &b)?;
    for w in &report.warnings {
        eprintln!("warning: {}", w.message);
    }
    if args.json {
        output::json(&report)?;
    } else {
        let r = Render {
            precision: args.precision,
            all: args.all,
            md: args.md,
        };
        print!("{}", r.render(&report));
    }
    Ok(Outcome::Ok)
}

pub struct Render {
    pub precision: usize,
    pub all: bool,
    pub md: bool,
}

impl Render {
    fn num(&self, x: f64) -> String {
        format!("{x:.*}", self.precision)
    }

    fn signed(&self, x: f64) -> String {
        let s = self.num(x);
        if x >= 0.0 { format!("+{s}") } else { s }
    }

    fn stat(&self, s: &Option<Stat>) -> String {
        match s {
            None => "-".into(),
            Some(s) => match (s.mean, &s.text) {
                (Some(m), _) if s.n > 1 => format!(
                    "{} ± {} (n={})",
                    self.num(m),
                    self.num(s.spread.unwrap_or(0.0)),
                    s.n
                ),
                (Some(m), _) => self.num(m),
                (None, Some(t)) => t.clone(),
                (None, None) => "-".into(),
            },
        }
    }

    fn label(side: &gitml::record::diff::Side) -> String {
        let short = side
            .commit
            .as_deref()
            .map(|c| c[..10.min(c.len())].to_string());
        match short {
            Some(c) if c.starts_with(&side.rev) || side.rev.len() == 40 => c,
            Some(c) => format!("{} ({c})", side.rev),
            None => side.rev.clone(),
        }
    }

    fn cell(&self, s: &str) -> String {
        if self.md { md_escape(s) } else { s.to_string() }
    }

    fn table(&self, header: &[String], rows: Vec<Vec<String>>) -> String {
        if self.md {
            let mut out = format!(
                "| {} |\n",
                header
                    .iter()
                    .map(|h| self.cell(h))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
            out.push_str(&format!("|{}\n", " --- |".repeat(header.len())));
            for r in rows {
                out.push_str(&format!(
                    "| {} |\n",
                    r.iter()
                        .map(|c| self.cell(c))
                        .collect::<Vec<_>>()
                        .join(" | ")
                ));
            }
            out
        } else {
            let mut t = comfy_table::Table::new();
            t.load_preset(comfy_table::presets::NOTHING);
            t.set_header(header.to_vec());
            for r in rows {
                t.add_row(r);
            }
            let lines: Vec<String> = t
                .to_string()
                .lines()
                .map(|l| super::output::shown(l.trim_end()).into_owned())
                .collect();
            format!("{}\n", lines.join("\n"))
        }
    }

    /// The rows of each section (unescaped), and the sides' labels and sources.
    pub fn sections(&self, d: &DiffReport) -> Sections {
        let (old, new) = (Self::label(&d.old), Self::label(&d.new));
        let source = |s: &gitml::record::diff::Side| match s.origin {
            gitml::record::Origin::Record => {
                output::plural(s.runs as u64, "run record", "run records")
            }
            gitml::record::Origin::Files => "files in its tree (no run record)".into(),
            gitml::record::Origin::Worktree => "files in the working tree".into(),
            gitml::record::Origin::None => "no metrics".into(),
        };
        let metrics: Vec<Vec<String>> = d
            .metrics
            .iter()
            .filter(|m| self.all || m.changed)
            .map(|m| {
                vec![
                    m.name.clone(),
                    self.stat(&m.old),
                    self.stat(&m.new),
                    m.change
                        .map(|c| self.signed(c))
                        .unwrap_or_else(|| "-".into()),
                    m.relative
                        .map(|r| format!("{:+.1}%", r * 100.0))
                        .unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        let params: Vec<Vec<String>> = d
            .params
            .iter()
            .filter(|p| self.all || p.changed)
            .map(|p| {
                let v = |x: &Option<serde_json::Value>| match x {
                    None => "-".to_string(),
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                };
                vec![p.name.clone(), v(&p.old), v(&p.new)]
            })
            .collect();
        let data: Vec<Vec<String>> = d
            .data
            .iter()
            .filter(|r| self.all || r.status != "unchanged")
            .map(|r| {
                let mut what = r.status.to_string();
                if let Some(f) = &r.files {
                    what.push_str(&format!(
                        ": {} added, {} removed, {} modified",
                        f.added.len(),
                        f.removed.len(),
                        f.modified.len()
                    ));
                }
                let size = |s: Option<u64>| s.map(output::size).unwrap_or_else(|| "-".into());
                let delta = if r.size_change >= 0 {
                    format!("+{}", output::size(r.size_change as u64))
                } else {
                    format!("-{}", output::size(r.size_change.unsigned_abs()))
                };
                vec![
                    r.path.clone(),
                    size(r.old_size),
                    size(r.new_size),
                    delta,
                    what,
                ]
            })
            .collect();
        let models: Vec<Vec<String>> = d
            .models
            .iter()
            .filter(|m| self.all || m.changed)
            .map(|m| {
                let short = |o: &Option<String>| {
                    o.as_deref()
                        .map(|s| s.trim_start_matches("blake3:")[..12].to_string())
                        .unwrap_or_else(|| "-".into())
                };
                vec![
                    format!("{} ({})", m.name, m.path),
                    short(&m.old_oid),
                    short(&m.new_oid),
                    if m.changed {
                        "changed".into()
                    } else {
                        "same".into()
                    },
                ]
            })
            .collect();
        Sections {
            old_source: source(&d.old),
            new_source: source(&d.new),
            old,
            new,
            metrics,
            params,
            data,
            models,
        }
    }

    pub fn render(&self, d: &DiffReport) -> String {
        let Sections {
            old,
            new,
            old_source,
            new_source,
            metrics,
            params,
            data,
            models,
        } = self.sections(d);
        let mut out = String::new();
        if self.md {
            out.push_str(&format!(
                "**{}** ({old_source}) → **{}** ({new_source})\n\n",
                self.cell(&old),
                self.cell(&new),
            ));
        } else {
            out.push_str(&format!("{old} ({old_source}) -> {new} ({new_source})\n\n"));
        }
        let h = |first: &str, rest: &[&str]| -> Vec<String> {
            let mut v = vec![first.to_string(), old.clone(), new.clone()];
            v.extend(rest.iter().map(|s| s.to_string()));
            v
        };
        if !metrics.is_empty() {
            out.push_str(&self.table(&h("Metric", &["Change", "Relative"]), metrics));
            out.push('\n');
        }
        if !params.is_empty() {
            out.push_str(&self.table(&h("Param", &[]), params));
            out.push('\n');
        }
        if !data.is_empty() {
            out.push_str(&self.table(&h("Data", &["Size change", "What"]), data));
            out.push('\n');
        }
        if !models.is_empty() {
            out.push_str(&self.table(&h("Model", &["Status"]), models));
            out.push('\n');
        }
        if metrics_empty(d, self.all) {
            out.push_str("no differences in metrics, params, data or models\n");
        }
        out
    }
}

/// A diff's sections as rows of cells, for tables and templates.
pub struct Sections {
    pub old: String,
    pub new: String,
    pub old_source: String,
    pub new_source: String,
    pub metrics: Vec<Vec<String>>,
    pub params: Vec<Vec<String>>,
    pub data: Vec<Vec<String>>,
    pub models: Vec<Vec<String>>,
}

fn metrics_empty(d: &DiffReport, all: bool) -> bool {
    !all && !d.metrics.iter().any(|m| m.changed)
        && !d.params.iter().any(|p| p.changed)
        && !d.data.iter().any(|r| r.status != "unchanged")
        && !d.models.iter().any(|m| m.changed)
}

/// Escape text for a GitHub Markdown table cell (see [`gitml::text::markdown`]: cell and
/// formatting characters escaped, HTML as entities, `@mentions` defused).
pub fn md_escape(s: &str) -> String {
    gitml::text::markdown(s)
}
