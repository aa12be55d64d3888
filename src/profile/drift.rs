//! What changed between two profiles of a table: schema, row count, null rates and, per column,
//! drift with a named statistic.
//!
//! Numbers: the population stability index (PSI, ten bins at the old side's deciles) and the
//! Kolmogorov–Smirnov statistic D (the largest gap between the two cumulative distributions).
//! Both are exact when both sides have their values counted (at most `acc::MAX_VALUES` distinct
//! numbers), else read from the quantile sketches (within about 0.002 in D). Categories (text,
//! booleans): the Jensen–Shannon distance (base 2, in [0, 1]) and L∞ (the largest change in a
//! value's share), as TFDV computes them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{ColumnProfile, ColumnType, Numbers, Profile, Sketch, ValueCount};

/// The statistics, by the name `gitml.toml` and the JSON use.
pub const NUMERIC: &[&str] = &["psi", "ks"];
pub const CATEGORICAL: &[&str] = &["js", "linf"];

/// A column drifted when its default statistic is above this (PSI 0.2 is the common "major
/// shift" line; a JS distance of 0.1 is Evidently's default).
pub fn default_threshold(statistic: &str) -> f64 {
    match statistic {
        "psi" => 0.2,
        _ => 0.1,
    }
}

/// Points of the sketch's distribution read for D and PSI.
const GRID: usize = 1000;
/// A PSI bin's share is at least this (an empty bin would make it infinite).
const PSI_FLOOR: f64 = 1e-4;

/// A cumulative distribution of a column's finite numbers.
pub enum Cdf {
    /// From the counted values: `xs` ascending, `cum[i]` = values ≤ `xs[i]`.
    Exact { xs: Vec<f64>, cum: Vec<u64> },
    /// From the sketch: the values at ranks i/GRID.
    Grid(Vec<f64>),
}

impl Cdf {
    pub fn of(n: &Numbers) -> Option<Cdf> {
        Cdf::of_parts(n.values.as_deref(), n.sketch.as_ref())
    }

    pub fn of_parts(values: Option<&[(f64, u64)]>, sketch: Option<&Sketch>) -> Option<Cdf> {
        if let Some(v) = values.filter(|v| !v.is_empty()) {
            let mut total = 0;
            let cum = v
                .iter()
                .map(|(_, c)| {
                    total += c;
                    total
                })
                .collect();
            return Some(Cdf::Exact {
                xs: v.iter().map(|(x, _)| *x).collect(),
                cum,
            });
        }
        let s = sketch?;
        let grid: Option<Vec<f64>> = (0..=GRID)
            .map(|i| s.quantile(i as f64 / GRID as f64))
            .collect();
        let mut grid = grid?;
        // Rounding in the sketch may leave neighbours out of order by an ulp.
        grid.sort_by(f64::total_cmp);
        Some(Cdf::Grid(grid))
    }

    /// P(X ≤ x).
    pub fn at(&self, x: f64) -> f64 {
        match self {
            Cdf::Exact { xs, cum } => {
                let i = xs.partition_point(|&v| v <= x);
                if i == 0 {
                    0.0
                } else {
                    cum[i - 1] as f64 / *cum.last().expect("not empty") as f64
                }
            }
            Cdf::Grid(g) => g.partition_point(|&v| v <= x) as f64 / g.len() as f64,
        }
    }

    /// The value at rank ⌊q·(n − 1)⌋ (numpy's `method="lower"`).
    pub fn quantile(&self, q: f64) -> f64 {
        match self {
            Cdf::Exact { xs, cum } => {
                let n = *cum.last().expect("not empty");
                let rank = (q.clamp(0.0, 1.0) * (n - 1) as f64).floor() as u64;
                xs[cum.partition_point(|&c| c <= rank).min(xs.len() - 1)]
            }
            Cdf::Grid(g) => g[((q.clamp(0.0, 1.0) * GRID as f64).round() as usize).min(GRID)],
        }
    }

    fn points(&self) -> &[f64] {
        match self {
            Cdf::Exact { xs, .. } => xs,
            Cdf::Grid(g) => g,
        }
    }
}

/// Kolmogorov–Smirnov D: the largest |F_old(x) − F_new(x)|.
pub fn ks(a: &Cdf, b: &Cdf) -> f64 {
    a.points()
        .iter()
        .chain(b.points())
        .map(|&x| (a.at(x) - b.at(x)).abs())
        .fold(0.0, f64::max)
}

/// PSI of `new` against `old`, binned at the old side's deciles (repeated edges merged).
pub fn psi(old: &Cdf, new: &Cdf) -> f64 {
    let mut edges: Vec<f64> = (1..10).map(|k| old.quantile(k as f64 / 10.0)).collect();
    edges.dedup();
    let share = |c: &Cdf| -> Vec<f64> {
        let mut prev = 0.0;
        let mut out: Vec<f64> = edges
            .iter()
            .map(|&e| {
                let f = c.at(e);
                let s = f - prev;
                prev = f;
                s
            })
            .collect();
        out.push(1.0 - prev);
        out
    };
    share(old)
        .into_iter()
        .zip(share(new))
        .map(|(a, b)| {
            let (a, b) = (a.max(PSI_FLOOR), b.max(PSI_FLOOR));
            (b - a) * (b / a).ln()
        })
        .sum()
}

fn shares(values: &[ValueCount]) -> BTreeMap<&str, f64> {
    let total: u64 = values.iter().map(|v| v.count).sum();
    values
        .iter()
        .map(|v| (v.value.as_str(), v.count as f64 / total.max(1) as f64))
        .collect()
}

/// Jensen–Shannon distance (base 2) and L∞ between two value distributions.
pub fn categorical(old: &[ValueCount], new: &[ValueCount]) -> (f64, f64) {
    let (p, q) = (shares(old), shares(new));
    let keys: std::collections::BTreeSet<&str> = p.keys().chain(q.keys()).copied().collect();
    let mut js = 0.0;
    let mut linf: f64 = 0.0;
    for k in keys {
        let (a, b) = (
            p.get(k).copied().unwrap_or(0.0),
            q.get(k).copied().unwrap_or(0.0),
        );
        let m = (a + b) / 2.0;
        if a > 0.0 {
            js += 0.5 * a * (a / m).log2();
        }
        if b > 0.0 {
            js += 0.5 * b * (b / m).log2();
        }
        linf = linf.max((a - b).abs());
    }
    (js.max(0.0).sqrt(), linf)
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnRef {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ColumnType,
}

#[derive(Debug, Clone, Serialize)]
pub struct Retyped {
    pub name: String,
    pub old: ColumnType,
    pub new: ColumnType,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Schema {
    pub added: Vec<ColumnRef>,
    pub removed: Vec<ColumnRef>,
    pub retyped: Vec<Retyped>,
}

impl Schema {
    pub fn changed(&self) -> bool {
        !(self.added.is_empty() && self.removed.is_empty() && self.retyped.is_empty())
    }
}

/// One column present on both sides.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnDrift {
    pub column: String,
    #[serde(rename = "type")]
    pub kind: ColumnType,
    pub old_null_ratio: f64,
    pub new_null_ratio: f64,
    /// Every statistic computed for the column, by name.
    pub statistics: BTreeMap<String, f64>,
    /// The statistic `drifted` was decided by, its value and the threshold.
    pub statistic: Option<String>,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub drifted: bool,
    /// Why no statistic could be computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableSide {
    pub oid: String,
    pub rows: u64,
    pub columns: usize,
}

/// What changed in one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableDiff {
    pub path: String,
    pub old: Option<TableSide>,
    pub new: Option<TableSide>,
    pub rows_change: Option<i64>,
    pub schema: Schema,
    pub columns: Vec<ColumnDrift>,
    /// Columns that drifted (by the data gate's `max_drift` where one applies to the column,
    /// otherwise by the default statistics).
    pub drifted: Vec<String>,
    /// Why a side has no profile (content not in the cache, not a table git-ml reads).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl TableDiff {
    pub fn changed(&self) -> bool {
        self.old.as_ref().map(|s| &s.oid) != self.new.as_ref().map(|s| &s.oid)
    }
}

fn side(p: &Profile) -> TableSide {
    TableSide {
        oid: p.oid.clone(),
        rows: p.rows,
        columns: p.columns.len(),
    }
}

/// The statistics of one column on both sides; `statistic` chooses the deciding one (default:
/// PSI for numbers, JS for categories) and `threshold` its limit.
pub fn column(
    old: &ColumnProfile,
    new: &ColumnProfile,
    choose: &dyn Fn(bool) -> Option<(String, f64)>,
) -> ColumnDrift {
    let mut d = ColumnDrift {
        column: new.name.clone(),
        kind: new.kind,
        old_null_ratio: old.null_ratio,
        new_null_ratio: new.null_ratio,
        statistics: BTreeMap::new(),
        statistic: None,
        value: None,
        threshold: None,
        drifted: false,
        note: None,
    };
    let numeric = old.kind.numeric() && new.kind.numeric();
    let is_categorical = matches!(
        (old.kind, new.kind),
        (ColumnType::String, ColumnType::String)
            | (ColumnType::Boolean, ColumnType::Boolean)
            | (ColumnType::Nested, ColumnType::Nested)
    );
    if numeric {
        match (
            old.numbers.as_ref().and_then(Cdf::of),
            new.numbers.as_ref().and_then(Cdf::of),
        ) {
            (Some(a), Some(b)) => {
                d.statistics.insert("psi".into(), psi(&a, &b));
                d.statistics.insert("ks".into(), ks(&a, &b));
            }
            _ => d.note = Some("no finite numbers on one side".into()),
        }
    } else if is_categorical {
        match (&old.values, &new.values) {
            (Some(a), Some(b)) => {
                let (js, linf) = categorical(a, b);
                d.statistics.insert("js".into(), js);
                d.statistics.insert("linf".into(), linf);
            }
            _ => {
                d.note = Some(format!(
                    "more than {} distinct values: no categorical drift",
                    super::acc::MAX_VALUES
                ))
            }
        }
    } else if old.kind != new.kind {
        d.note = Some(format!(
            "type changed from {} to {}: no drift",
            old.kind.name(),
            new.kind.name()
        ));
    } else {
        d.note = Some(format!(
            "no drift statistic for {} columns",
            new.kind.name()
        ));
    }
    if !d.statistics.is_empty()
        && let Some((stat, limit)) = choose(numeric)
    {
        match d.statistics.get(&stat) {
            Some(&v) => {
                d.drifted = v > limit;
                d.value = Some(v);
                d.statistic = Some(stat);
                d.threshold = Some(limit);
            }
            None => {
                d.note = Some(format!(
                    "`{stat}` is not computed for {} columns (use {})",
                    new.kind.name(),
                    if numeric { NUMERIC } else { CATEGORICAL }.join(" or ")
                ))
            }
        }
    }
    d
}

/// A drift statistic's name and the value above which a column has drifted.
pub type Limit = (String, f64);

/// The default choice: PSI for numbers, JS for categories, at their default thresholds.
pub fn default_choice(numeric: bool) -> Option<Limit> {
    let s = if numeric { "psi" } else { "js" };
    Some((s.to_string(), default_threshold(s)))
}

/// Compare two profiles of `path` (either may be missing: added, removed, or not profiled), with
/// the default statistics.
pub fn diff(path: &str, old: Option<&Profile>, new: Option<&Profile>) -> TableDiff {
    diff_by(path, old, new, &|_, numeric| default_choice(numeric))
}

/// [`diff`], with `choose(column, numeric)` deciding each column's statistic and threshold (the
/// data gate's `max_drift` where one applies, so that the report and the gate agree).
pub fn diff_by(
    path: &str,
    old: Option<&Profile>,
    new: Option<&Profile>,
    choose: &dyn Fn(&str, bool) -> Option<Limit>,
) -> TableDiff {
    let mut t = TableDiff {
        path: path.to_string(),
        old: old.map(side),
        new: new.map(side),
        rows_change: match (old, new) {
            (Some(a), Some(b)) => Some(b.rows as i64 - a.rows as i64),
            _ => None,
        },
        schema: Schema::default(),
        columns: Vec::new(),
        drifted: Vec::new(),
        notes: Vec::new(),
    };
    let (Some(a), Some(b)) = (old, new) else {
        return t;
    };
    for c in &b.columns {
        match a.columns.iter().find(|o| o.name == c.name) {
            None => t.schema.added.push(ColumnRef {
                name: c.name.clone(),
                kind: c.kind,
            }),
            Some(o) => {
                // An all-null column has no type to lose: empty <-> anything is not a retype.
                if o.kind != c.kind && o.kind != ColumnType::Empty && c.kind != ColumnType::Empty {
                    t.schema.retyped.push(Retyped {
                        name: c.name.clone(),
                        old: o.kind,
                        new: c.kind,
                    });
                }
                let d = column(o, c, &|numeric| choose(&c.name, numeric));
                if d.drifted {
                    t.drifted.push(d.column.clone());
                }
                t.columns.push(d);
            }
        }
    }
    for o in &a.columns {
        if !b.columns.iter().any(|c| c.name == o.name) {
            t.schema.removed.push(ColumnRef {
                name: o.name.clone(),
                kind: o.kind,
            });
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(xs: &[f64]) -> Cdf {
        let mut m: BTreeMap<u64, u64> = BTreeMap::new();
        let mut v: Vec<f64> = xs.to_vec();
        v.sort_by(f64::total_cmp);
        for x in &v {
            *m.entry(x.to_bits()).or_default() += 1;
        }
        let mut pairs: Vec<(f64, u64)> =
            m.into_iter().map(|(b, c)| (f64::from_bits(b), c)).collect();
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        Cdf::of_parts(Some(&pairs), None).unwrap()
    }

    #[test]
    fn ks_and_psi_of_identical_and_shifted() {
        let a: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        let b: Vec<f64> = (0..1000).map(|i| i as f64 + 100.0).collect();
        assert_eq!(ks(&exact(&a), &exact(&a)), 0.0);
        assert!(psi(&exact(&a), &exact(&a)).abs() < 1e-12);
        // Shifted by a tenth of the range: D is 0.1.
        assert!((ks(&exact(&a), &exact(&b)) - 0.1).abs() < 1e-9);
        assert!(psi(&exact(&a), &exact(&b)) > 0.1);
        // Lower quantile: rank floor(q (n-1)).
        assert_eq!(exact(&a).quantile(0.5), 499.0);
    }

    #[test]
    fn categorical_distances() {
        let v = |pairs: &[(&str, u64)]| -> Vec<ValueCount> {
            pairs
                .iter()
                .map(|(s, c)| ValueCount {
                    value: s.to_string(),
                    count: *c,
                })
                .collect()
        };
        let (js, linf) = categorical(&v(&[("a", 5), ("b", 5)]), &v(&[("a", 5), ("b", 5)]));
        assert_eq!((js, linf), (0.0, 0.0));
        // Disjoint supports: JS distance 1, L∞ the largest share.
        let (js, linf) = categorical(&v(&[("a", 1)]), &v(&[("b", 1)]));
        assert!((js - 1.0).abs() < 1e-12 && (linf - 1.0).abs() < 1e-12);
    }
}
