//! A diff (`record::diff`) as rows, a terminal table or Markdown: what `git ml diff`, the check
//! and the report print. Every string from the repository is escaped for where it goes (control
//! characters for a terminal, Markdown and mentions for GitHub).

use crate::record::diff::{DiffReport, Stat};

#[derive(Default)]
pub struct Render {
    pub precision: usize,
    pub all: bool,
    pub md: bool,
    /// Colour for the terminal (the CLI's; `None`: plain text).
    pub paint: Option<fn(Tone, &str) -> String>,
    /// Metric -> whether higher is better (from the gates): a change is coloured by it, never by
    /// its sign alone.
    pub directions: std::collections::BTreeMap<String, bool>,
}

/// What a piece of output means to the person scanning it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Bad,
    Warn,
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

    fn label(side: &crate::record::diff::Side) -> String {
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
            // Cells were escaped by `render` before any colour was added.
            format!("{}\n", crate::text::table(&t))
        }
    }

    /// The rows of each section (unescaped), and the sides' labels and sources.
    pub fn sections(&self, d: &DiffReport) -> Sections {
        let (old, new) = (Self::label(&d.old), Self::label(&d.new));
        let source = |s: &crate::record::diff::Side| match s.origin {
            crate::record::Origin::Record => {
                crate::text::plural(s.runs as u64, "run record", "run records")
            }
            crate::record::Origin::Files => "its committed files, no run record".into(),
            crate::record::Origin::Worktree => "files in the working tree".into(),
            crate::record::Origin::None => "no metrics".into(),
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
                let size = |s: Option<u64>| s.map(crate::text::size).unwrap_or_else(|| "-".into());
                let delta = if r.size_change >= 0 {
                    format!("+{}", crate::text::size(r.size_change as u64))
                } else {
                    format!("-{}", crate::text::size(r.size_change.unsigned_abs()))
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
            mut metrics,
            mut params,
            mut data,
            mut models,
        } = self.sections(d);
        // For a terminal every cell from the repository is escaped first, so that the colour
        // added next is the only escape sequence that reaches it.
        let (old, new, old_source, new_source) = if self.md {
            (old, new, old_source, new_source)
        } else {
            let e = |s: String| crate::text::escape_control(&s).into_owned();
            for section in [&mut metrics, &mut params, &mut data, &mut models] {
                for cell in section.iter_mut().flatten() {
                    *cell = e(std::mem::take(cell));
                }
            }
            (e(old), e(new), e(old_source), e(new_source))
        };
        if let (Some(paint), false) = (self.paint, self.md) {
            let shown = d.metrics.iter().filter(|m| self.all || m.changed);
            for (row, m) in metrics.iter_mut().zip(shown) {
                let tone = match (self.directions.get(&m.name), m.change) {
                    (Some(&higher), Some(c)) if c != 0.0 => Some(if (c > 0.0) == higher {
                        Tone::Good
                    } else {
                        Tone::Bad
                    }),
                    _ => None,
                };
                if let Some(t) = tone {
                    for cell in row.iter_mut().skip(3) {
                        *cell = paint(t, cell);
                    }
                }
            }
        }
        let mut out = String::new();
        if self.md {
            out.push_str(&format!(
                "**{}**: {old_source} → **{}**: {new_source}\n\n",
                self.cell(&old),
                self.cell(&new),
            ));
        } else {
            out.push_str(&format!("{old}: {old_source} -> {new}: {new_source}\n\n"));
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
        if let Some(t) = self.tables(d) {
            out.push_str(if self.md {
                "**Data checks**\n\n"
            } else {
                "Data checks\n"
            });
            out.push_str(&t);
            out.push('\n');
        }
        if metrics_empty(d, self.all) {
            out.push_str("no differences in metrics, params, data or models\n");
        }
        out
    }
}

impl Render {
    /// The tables section (schema, rows, nulls, drift of every changed table; `--all`: every
    /// table), escaped for the output; `None` when there is nothing to show.
    pub fn tables(&self, d: &DiffReport) -> Option<String> {
        let shown: Vec<_> = d
            .tables
            .iter()
            .filter(|t| self.all || t.changed())
            .cloned()
            .collect();
        (!shown.is_empty())
            .then(|| super::data::diff(&shown, true, super::data::Out { md: self.md }))
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
        && !d.tables.iter().any(|t| t.changed())
}

/// Escape text for a GitHub Markdown table cell (see [`crate::text::markdown`]: cell and
/// formatting characters escaped, HTML as entities, `@mentions` defused).
pub fn md_escape(s: &str) -> String {
    crate::text::markdown(s)
}
