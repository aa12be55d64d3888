//! Profiles and table diffs as terminal tables or GitHub Markdown (`git ml data show`,
//! `git ml data diff`, and the "Data checks" part of `git ml diff` and the report). Every string
//! from the repository (paths, column names, values) is escaped for where it goes.

use crate::profile::drift::TableDiff;
use crate::profile::{ColumnProfile, Profile};

/// How cells are written: for a terminal (control characters escaped) or Markdown.
#[derive(Clone, Copy)]
pub struct Out {
    pub md: bool,
}

impl Out {
    pub fn cell(&self, s: &str) -> String {
        if self.md {
            crate::text::markdown(s)
        } else {
            crate::text::escape_control(s).into_owned()
        }
    }

    /// A name in running text: code in Markdown, backticks in a terminal.
    pub fn name(&self, s: &str) -> String {
        if self.md {
            format!("`{}`", crate::text::markdown(s).replace('`', "'"))
        } else {
            format!("`{}`", crate::text::escape_control(s))
        }
    }

    /// `rows` are unescaped; every cell is escaped here.
    pub fn table(&self, header: &[&str], rows: Vec<Vec<String>>) -> String {
        if self.md {
            let mut out = format!(
                "| {} |\n|{}\n",
                header.join(" | "),
                " --- |".repeat(header.len())
            );
            for r in rows {
                let cells: Vec<String> = r.iter().map(|c| self.cell(c)).collect();
                out.push_str(&format!("| {} |\n", cells.join(" | ")));
            }
            out
        } else {
            let mut t = comfy_table::Table::new();
            t.load_preset(comfy_table::presets::NOTHING);
            t.set_header(header.to_vec());
            for r in rows {
                t.add_row(r.iter().map(|c| self.cell(c)).collect::<Vec<_>>());
            }
            format!("{}\n", crate::text::table(&t))
        }
    }
}

pub fn num(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        format!("{x:.0}")
    } else if x.abs() >= 1e6 || (x != 0.0 && x.abs() < 1e-3) {
        format!("{x:.4e}")
    } else {
        format!("{x:.4}")
    }
}

pub fn pct(r: f64) -> String {
    let p = r * 100.0;
    if p == 0.0 {
        "0%".into()
    } else if p < 0.1 {
        "<0.1%".into()
    } else {
        format!("{p:.1}%")
    }
}

fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn top(c: &ColumnProfile, k: usize) -> String {
    let Some(values) = &c.values else {
        return if c.numbers.is_none() {
            format!("more than {} distinct", crate::profile::acc::MAX_VALUES)
        } else {
            String::new()
        };
    };
    let total: u64 = values.iter().map(|v| v.count).sum();
    let mut parts: Vec<String> = values
        .iter()
        .take(k)
        .map(|v| {
            let mut s: String = v.value.chars().take(24).collect();
            if v.value.chars().count() > 24 {
                s.push('…');
            }
            format!("{s} {}", pct(v.count as f64 / total.max(1) as f64))
        })
        .collect();
    if values.len() > k {
        parts.push(format!("+{} more", values.len() - k));
    }
    parts.join(", ")
}

/// `git ml data show`: a profile.
pub fn show(path: &str, p: &Profile, out: Out) -> String {
    let mut s = format!(
        "{} ({}, {}): {} rows, {}; content {}\n\n",
        out.name(path),
        format!("{:?}", p.format).to_lowercase(),
        crate::text::size(p.bytes),
        count(p.rows),
        crate::text::plural(p.columns.len() as u64, "column", "columns"),
        &p.oid.trim_start_matches("blake3:")[..12.min(p.oid.len())],
    );
    if p.columns.is_empty() {
        s.push_str("the file is empty: no header, no rows\n");
        return s;
    }
    let rows = p
        .columns
        .iter()
        .map(|c| {
            let n = c.numbers.as_ref();
            let q = |name: &str| {
                n.and_then(|n| n.quantiles.iter().find(|(k, _)| k == name))
                    .map(|(_, v)| num(*v))
                    .unwrap_or_default()
            };
            let opt = |v: Option<f64>| v.map(num).unwrap_or_default();
            vec![
                c.name.clone(),
                c.kind.name().to_string(),
                format!("{} ({})", count(c.nulls), pct(c.null_ratio)),
                format!(
                    "{}{}",
                    if c.distinct_exact { "" } else { "~" },
                    count(c.distinct)
                ),
                opt(n.and_then(|n| n.min)),
                opt(n.and_then(|n| n.mean)),
                opt(n.and_then(|n| n.sd)),
                q("p50"),
                opt(n.and_then(|n| n.max)),
                match &c.lengths {
                    Some(l) => format!("{}-{} (mean {:.1})", l.min, l.max, l.mean),
                    None => String::new(),
                },
                top(c, 3),
            ]
        })
        .collect();
    s.push_str(&out.table(
        &[
            "Column",
            "Type",
            "Nulls",
            "Distinct",
            "Min",
            "Mean",
            "Sd",
            "Median",
            "Max",
            "Length",
            "Top values",
        ],
        rows,
    ));
    s
}

fn rows_cell(d: &TableDiff) -> String {
    match (&d.old, &d.new) {
        (Some(a), Some(b)) if a.rows == b.rows => count(b.rows),
        (Some(a), Some(b)) => {
            let ch = b.rows as i64 - a.rows as i64;
            format!(
                "{} → {} ({}{})",
                count(a.rows),
                count(b.rows),
                if ch >= 0 { "+" } else { "-" },
                count(ch.unsigned_abs())
            )
        }
        (None, Some(b)) => format!("new: {}", count(b.rows)),
        (Some(a), None) => format!("{} → -", count(a.rows)),
        (None, None) => "-".into(),
    }
}

fn schema_cell(d: &TableDiff) -> String {
    let s = &d.schema;
    let mut parts = Vec::new();
    let names = |v: Vec<&str>| v.join(", ");
    if !s.added.is_empty() {
        parts.push(format!(
            "+{}",
            names(s.added.iter().map(|c| c.name.as_str()).collect())
        ));
    }
    if !s.removed.is_empty() {
        parts.push(format!(
            "−{}",
            names(s.removed.iter().map(|c| c.name.as_str()).collect())
        ));
    }
    for r in &s.retyped {
        parts.push(format!("{} {}→{}", r.name, r.old.name(), r.new.name()));
    }
    if parts.is_empty() {
        if d.old.is_some() && d.new.is_some() {
            "same".into()
        } else {
            "-".into()
        }
    } else {
        parts.join("; ")
    }
}

fn drift_cell(d: &TableDiff) -> String {
    if d.old.is_none() || d.new.is_none() {
        return if d.notes.is_empty() {
            "-".into()
        } else {
            "not profiled".into()
        };
    }
    if d.drifted.is_empty() {
        let measured = d.columns.iter().filter(|c| c.value.is_some()).count();
        return format!("none of {measured}");
    }
    d.columns
        .iter()
        .filter(|c| c.drifted)
        .map(|c| {
            format!(
                "{} ({} {:.3})",
                c.column,
                c.statistic.as_deref().unwrap_or(""),
                c.value.unwrap_or(f64::NAN)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Null-rate changes of more than half a percentage point.
fn nulls_cell(d: &TableDiff) -> String {
    let moved: Vec<String> = d
        .columns
        .iter()
        .filter(|c| (c.new_null_ratio - c.old_null_ratio).abs() > 0.005)
        .map(|c| {
            format!(
                "{} {}→{}",
                c.column,
                pct(c.old_null_ratio),
                pct(c.new_null_ratio)
            )
        })
        .collect();
    if moved.is_empty() {
        "-".into()
    } else {
        moved.join(", ")
    }
}

/// The summary table: one row per table.
pub fn summary(tables: &[TableDiff], out: Out) -> String {
    let rows = tables
        .iter()
        .map(|d| {
            vec![
                d.path.clone(),
                rows_cell(d),
                schema_cell(d),
                nulls_cell(d),
                drift_cell(d),
            ]
        })
        .collect();
    out.table(&["Table", "Rows", "Columns", "Null rate", "Drifted"], rows)
}

/// Every column of one table: its statistics and whether it drifted.
pub fn columns(d: &TableDiff, out: Out) -> String {
    let rows = d
        .columns
        .iter()
        .map(|c| {
            let stats = c
                .statistics
                .iter()
                .map(|(k, v)| format!("{k} {v:.4}"))
                .collect::<Vec<_>>()
                .join(", ");
            vec![
                c.column.clone(),
                c.kind.name().to_string(),
                format!("{} → {}", pct(c.old_null_ratio), pct(c.new_null_ratio)),
                if stats.is_empty() {
                    c.note.clone().unwrap_or_default()
                } else {
                    stats
                },
                match (c.value, c.threshold) {
                    (Some(_), Some(t)) => format!(
                        "{} ({} {} {t})",
                        if c.drifted { "yes" } else { "no" },
                        c.statistic.as_deref().unwrap_or(""),
                        if c.drifted { ">" } else { "≤" }
                    ),
                    _ => "-".into(),
                },
            ]
        })
        .collect();
    out.table(&["Column", "Type", "Nulls", "Statistics", "Drifted"], rows)
}

/// `git ml data diff`: the summary, then each changed table's columns (folded in Markdown).
pub fn diff(tables: &[TableDiff], all: bool, out: Out) -> String {
    let shown: Vec<TableDiff> = tables
        .iter()
        .filter(|t| all || t.changed())
        .cloned()
        .collect();
    if shown.is_empty() {
        return "no tracked table changed\n".into();
    }
    let mut s = summary(&shown, out);
    for d in &shown {
        if d.columns.is_empty() && d.notes.is_empty() {
            continue;
        }
        s.push('\n');
        if out.md {
            s.push_str(&format!(
                "<details><summary>{}: columns</summary>\n\n",
                crate::text::markdown(&d.path)
            ));
        } else {
            s.push_str(&format!("{}:\n", out.name(&d.path)));
        }
        if !d.columns.is_empty() {
            s.push_str(&columns(d, out));
        }
        for n in &d.notes {
            s.push_str(&format!("note: {}\n", out.cell(n)));
        }
        if out.md {
            s.push_str("\n</details>\n");
        }
    }
    s
}
