//! Data gates: `[data.gates."GLOB"]` in `gitml.toml`, rules on the tables a glob matches, with
//! the same verdicts as the metric gates (pass, fail, skipped with a reason, new).
//!
//! ```toml
//! [data.gates."data/*.csv"]
//! schema = "additive"          # or "no-changes", "no-removed-columns"
//! min_rows = 1000
//! max_null_ratio = 0.05        # every column (or those in `columns`)
//! max_drift = 0.2              # PSI for numbers, JS distance for categories; or a table:
//! # max_drift = { ks = 0.1, linf = 0.2 }
//! columns = ["age", "income"]  # which columns null and drift rules look at (default: all)
//! ```

use serde::Serialize;

use super::drift::{self, CATEGORICAL, ColumnDrift, NUMERIC};
use super::{Profile, Table};
use crate::error::{Error, Result};
use crate::gate::{RuleResult, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchemaRule {
    NoChanges,
    Additive,
    NoRemovedColumns,
}

pub use super::drift::Limit;

#[derive(Debug, Clone, Serialize)]
pub struct DataGate {
    pub glob: String,
    pub schema: Option<SchemaRule>,
    pub min_rows: Option<u64>,
    pub max_null_ratio: Option<f64>,
    /// The statistic for numbers and for categories, each with its limit.
    pub max_drift: Option<(Option<Limit>, Option<Limit>)>,
    pub columns: Option<Vec<String>>,
    #[serde(skip)]
    matcher: Option<globset::GlobMatcher>,
}

impl DataGate {
    pub fn matches(&self, path: &str) -> bool {
        self.matcher.as_ref().is_some_and(|m| m.is_match(path))
    }

    fn selected(&self, column: &str) -> bool {
        self.columns
            .as_ref()
            .is_none_or(|c| c.iter().any(|n| n == column))
    }
}

/// The statistic and threshold that decide whether `column` of `path` drifted: the first gate
/// matching the path whose `max_drift` names one for the column's kind and selects the column,
/// else the default ([`drift::default_choice`]).
pub fn limit(gates: &[DataGate], path: &str, column: &str, numeric: bool) -> Option<Limit> {
    gates
        .iter()
        .filter(|g| g.matches(path) && g.selected(column))
        .find_map(|g| {
            let (num, cat) = g.max_drift.as_ref()?;
            if numeric { num.clone() } else { cat.clone() }
        })
        .or_else(|| drift::default_choice(numeric))
}

const KEYS: &[&str] = &[
    "schema",
    "min_rows",
    "max_null_ratio",
    "max_drift",
    "columns",
];

/// Parse `[data.gates.*]`.
pub fn gates(project: &toml::Table) -> Result<Vec<DataGate>> {
    if let Some(d) = project.get("data") {
        let d = d.as_table().ok_or_else(|| Error::Config {
            file: crate::config::PROJECT_FILE.into(),
            message: "`data` must be a table (`[data]`)".into(),
        })?;
        if let Some(k) = d
            .keys()
            .find(|k| !["profile", "gates"].contains(&k.as_str()))
        {
            return Err(Error::Config {
                file: crate::config::PROJECT_FILE.into(),
                message: format!(
                    "[data] unknown key `{}`; known keys: profile, gates",
                    crate::text::escape_control(k)
                ),
            });
        }
    }
    let Some(t) = project.get("data").and_then(|d| d.get("gates")) else {
        return Ok(Vec::new());
    };
    let t = t.as_table().ok_or_else(|| Error::Config {
        file: crate::config::PROJECT_FILE.into(),
        message: "[data] `gates` must be a table of `[data.gates.\"GLOB\"]` sections".into(),
    })?;
    let mut out = Vec::new();
    for (glob, v) in t {
        let bad = |m: String| Error::Config {
            file: crate::config::PROJECT_FILE.into(),
            message: format!("[data.gates.\"{}\"] {m}", crate::text::escape_control(glob)),
        };
        let g = v.as_table().ok_or_else(|| bad("must be a table".into()))?;
        for k in g.keys() {
            if !KEYS.contains(&k.as_str()) {
                return Err(bad(format!(
                    "unknown key `{}`; known keys: {}",
                    crate::text::escape_control(k),
                    KEYS.join(", ")
                )));
            }
        }
        let matcher = globset::GlobBuilder::new(glob)
            .literal_separator(true)
            .build()
            .map_err(|e| bad(format!("`{glob}` is not a glob: {e}")))?
            .compile_matcher();
        let schema = match g.get("schema") {
            None => None,
            Some(v) => Some(match v.as_str() {
                Some("no-changes") => SchemaRule::NoChanges,
                Some("additive") => SchemaRule::Additive,
                Some("no-removed-columns") => SchemaRule::NoRemovedColumns,
                _ => {
                    return Err(bad(
                        "`schema` must be \"no-changes\", \"additive\" or \"no-removed-columns\""
                            .into(),
                    ));
                }
            }),
        };
        let ratio = |k: &str, v: &toml::Value| -> Result<f64> {
            v.as_float()
                .or_else(|| v.as_integer().map(|i| i as f64))
                .filter(|f| f.is_finite() && *f >= 0.0)
                .ok_or_else(|| bad(format!("`{k}` must be a number ≥ 0")))
        };
        let min_rows = match g.get("min_rows") {
            None => None,
            Some(v) => Some(
                v.as_integer()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| bad("`min_rows` must be a whole number ≥ 0".into()))?
                    as u64,
            ),
        };
        let max_null_ratio = g
            .get("max_null_ratio")
            .map(|v| ratio("max_null_ratio", v))
            .transpose()?;
        let max_drift = match g.get("max_drift") {
            None => None,
            Some(toml::Value::Table(t)) => {
                let (mut num, mut cat) = (None, None);
                for (stat, v) in t {
                    let limit = ratio(&format!("max_drift.{stat}"), v)?;
                    if NUMERIC.contains(&stat.as_str()) {
                        if num.is_some() {
                            return Err(bad(
                                "`max_drift` names two statistics for numbers; choose psi or ks"
                                    .into(),
                            ));
                        }
                        num = Some((stat.clone(), limit));
                    } else if CATEGORICAL.contains(&stat.as_str()) {
                        if cat.is_some() {
                            return Err(bad("`max_drift` names two statistics for categories; choose js or linf".into()));
                        }
                        cat = Some((stat.clone(), limit));
                    } else {
                        return Err(bad(format!(
                            "`max_drift.{}`: unknown statistic; known: psi, ks (numbers), js, linf (categories)",
                            crate::text::escape_control(stat)
                        )));
                    }
                }
                Some((num, cat))
            }
            Some(v) => {
                let limit = ratio("max_drift", v)?;
                Some((
                    Some(("psi".to_string(), limit)),
                    Some(("js".to_string(), limit)),
                ))
            }
        };
        let columns = match g.get("columns") {
            None => None,
            Some(v) => Some(
                v.as_array()
                    .and_then(|a| a.iter().map(|c| c.as_str().map(str::to_string)).collect())
                    .ok_or_else(|| bad("`columns` must be a list of column names".into()))?,
            ),
        };
        if schema.is_none() && min_rows.is_none() && max_null_ratio.is_none() && max_drift.is_none()
        {
            return Err(bad(
                "has no rule: set `schema`, `min_rows`, `max_null_ratio` or `max_drift`".into(),
            ));
        }
        out.push(DataGate {
            glob: glob.clone(),
            schema,
            min_rows,
            max_null_ratio,
            max_drift,
            columns,
            matcher: Some(matcher),
        });
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct DataGateResult {
    /// The gate's glob.
    pub gate: String,
    /// The table it was evaluated on (`null` when the glob matched none).
    pub path: Option<String>,
    pub verdict: Verdict,
    pub rules: Vec<RuleResult>,
    /// Every selected column present on both sides, with the gate's statistic.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<ColumnDrift>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Rows on each side that has a profile (`old`, `new`).
    #[serde(skip)]
    pub rows: Vec<(String, u64)>,
}

fn list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Evaluate one gate on one table.
fn evaluate(g: &DataGate, t: &Table) -> DataGateResult {
    let mut r = DataGateResult {
        gate: g.glob.clone(),
        path: Some(t.path.clone()),
        verdict: Verdict::Pass,
        rules: Vec::new(),
        columns: Vec::new(),
        reason: None,
        rows: [("old", &t.old), ("new", &t.new)]
            .iter()
            .filter_map(|(s, l)| l.profile().map(|p| (s.to_string(), p.rows)))
            .collect(),
    };
    let new: &Profile = match (&t.new, &t.old) {
        (super::Loaded::Profile(p), _) => p,
        (super::Loaded::Failed(e), _) => {
            r.verdict = Verdict::Fail;
            r.rules.push(RuleResult {
                rule: "is a table git-ml can read".into(),
                passed: false,
                detail: e.clone(),
            });
            return r;
        }
        (super::Loaded::Missing(why), _) => {
            r.verdict = Verdict::Skipped;
            r.reason = Some(why.clone());
            return r;
        }
        (super::Loaded::Absent, _) => {
            if g.schema.is_some() {
                r.verdict = Verdict::Fail;
                r.rules.push(RuleResult {
                    rule: "schema: the table exists".into(),
                    passed: false,
                    detail: "removed on the new side".into(),
                });
            } else {
                r.verdict = Verdict::Skipped;
                r.reason = Some("the table was removed on the new side".into());
            }
            return r;
        }
    };
    if let Some(min) = g.min_rows {
        r.rules.push(RuleResult {
            rule: format!("rows >= {min}"),
            passed: new.rows >= min,
            detail: format!("{} rows", new.rows),
        });
    }
    if let Some(limit) = g.max_null_ratio {
        let worst = new
            .columns
            .iter()
            .filter(|c| g.selected(&c.name))
            .max_by(|a, b| a.null_ratio.total_cmp(&b.null_ratio));
        let over: Vec<String> = new
            .columns
            .iter()
            .filter(|c| g.selected(&c.name) && c.null_ratio > limit)
            .map(|c| c.name.clone())
            .collect();
        r.rules.push(RuleResult {
            rule: format!("null ratio <= {limit}"),
            passed: over.is_empty(),
            detail: match worst {
                None => "no columns".into(),
                Some(w) if over.is_empty() => {
                    format!("highest: `{}` {:.4}", w.name, w.null_ratio)
                }
                Some(w) => format!(
                    "over the limit: {}; highest `{}` {:.4}",
                    list(&over),
                    w.name,
                    w.null_ratio
                ),
            },
        });
    }
    let old = match &t.old {
        super::Loaded::Profile(p) => p,
        super::Loaded::Absent => {
            r.verdict = Verdict::New;
            r.reason = Some("not in the baseline: only rows and nulls were checked".into());
            if r.rules.iter().any(|x| !x.passed) {
                r.verdict = Verdict::Fail;
            }
            return r;
        }
        super::Loaded::Missing(why) | super::Loaded::Failed(why) => {
            if g.schema.is_some() || g.max_drift.is_some() {
                r.verdict = Verdict::Skipped;
                r.reason = Some(format!("the baseline has no profile: {why}"));
                return r;
            }
            if r.rules.iter().any(|x| !x.passed) {
                r.verdict = Verdict::Fail;
            }
            return r;
        }
    };
    let table = drift::diff(&t.path, Some(old), Some(new));
    if let Some(rule) = g.schema {
        let s = &table.schema;
        let names = |v: Vec<String>| list(&v);
        let removed = names(s.removed.iter().map(|c| c.name.clone()).collect());
        let retyped = s
            .retyped
            .iter()
            .map(|c| format!("`{}` {} -> {}", c.name, c.old.name(), c.new.name()))
            .collect::<Vec<_>>()
            .join(", ");
        let added = names(s.added.iter().map(|c| c.name.clone()).collect());
        let (name, passed) = match rule {
            SchemaRule::NoChanges => ("schema: no changes", !s.changed()),
            SchemaRule::Additive => (
                "schema: additive",
                s.removed.is_empty() && s.retyped.is_empty(),
            ),
            SchemaRule::NoRemovedColumns => ("schema: no removed columns", s.removed.is_empty()),
        };
        let mut parts = Vec::new();
        if !added.is_empty() {
            parts.push(format!("added {added}"));
        }
        if !removed.is_empty() {
            parts.push(format!("removed {removed}"));
        }
        if !retyped.is_empty() {
            parts.push(format!("retyped {retyped}"));
        }
        r.rules.push(RuleResult {
            rule: name.into(),
            passed,
            detail: if parts.is_empty() {
                "unchanged".into()
            } else {
                parts.join("; ")
            },
        });
    }
    if let Some((num, cat)) = &g.max_drift {
        let choose = |numeric: bool| if numeric { num.clone() } else { cat.clone() };
        for c in &new.columns {
            if !g.selected(&c.name) {
                continue;
            }
            if let Some(o) = old.columns.iter().find(|o| o.name == c.name) {
                r.columns.push(drift::column(o, c, &choose));
            }
        }
        let drifted: Vec<String> = r
            .columns
            .iter()
            .filter(|c| c.drifted)
            .map(|c| {
                format!(
                    "`{}` {} {:.4}",
                    c.column,
                    c.statistic.as_deref().unwrap_or("?"),
                    c.value.unwrap_or(f64::NAN)
                )
            })
            .collect();
        let limits = [num, cat]
            .iter()
            .filter_map(|x| x.as_ref().map(|(s, l)| format!("{s} <= {l}")))
            .collect::<Vec<_>>()
            .join(", ");
        let measured = r.columns.iter().filter(|c| c.value.is_some()).count();
        r.rules.push(RuleResult {
            rule: format!("drift: {limits}"),
            passed: drifted.is_empty(),
            detail: if drifted.is_empty() {
                format!(
                    "no column drifted ({} measured)",
                    crate::text::plural(measured as u64, "column", "columns")
                )
            } else {
                format!("drifted: {}", drifted.join(", "))
            },
        });
    }
    if r.rules.iter().any(|x| !x.passed) {
        r.verdict = Verdict::Fail;
    }
    r
}

/// Every gate on every table it matches (a gate matching none is skipped, and says so).
pub fn check(gates: &[DataGate], tables: &[Table]) -> Vec<DataGateResult> {
    let mut out = Vec::new();
    for g in gates {
        let mut any = false;
        for t in tables.iter().filter(|t| g.matches(&t.path)) {
            any = true;
            out.push(evaluate(g, t));
        }
        if !any {
            out.push(DataGateResult {
                gate: g.glob.clone(),
                path: None,
                verdict: Verdict::Skipped,
                rules: Vec::new(),
                columns: Vec::new(),
                reason: Some("no tracked table matches the glob on either side".into()),
                rows: Vec::new(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<Vec<DataGate>> {
        gates(&toml::from_str(t).unwrap())
    }

    #[test]
    fn gates_parse_and_refuse_mistakes() {
        let g = parse("[data.gates.\"data/*.csv\"]\nschema = \"additive\"\nmax_drift = { ks = 0.1 }\ncolumns = [\"a\"]\n").unwrap();
        assert_eq!(g[0].schema, Some(SchemaRule::Additive));
        assert_eq!(g[0].max_drift, Some((Some(("ks".into(), 0.1)), None)));
        assert!(g[0].matches("data/x.csv") && !g[0].matches("data/sub/x.csv"));
        let err = |t: &str| parse(t).unwrap_err().to_string();
        assert!(err("[data.gates.\"*.csv\"]\n").contains("has no rule"));
        assert!(err("[data.gates.\"*.csv\"]\nschema = \"loose\"").contains("no-changes"));
        assert!(
            err("[data.gates.\"*.csv\"]\nmax_drift = { chi2 = 1 }").contains("unknown statistic")
        );
        assert!(
            err("[data.gates.\"*.csv\"]\nmax_drift = { psi = 1, ks = 1 }")
                .contains("two statistics")
        );
        assert!(err("[data.gates.\"*.csv\"]\nmin_rows = -1").contains("whole number"));
        assert!(err("[data.gates.\"*.csv\"]\nrows = 1").contains("unknown key"));
        assert!(err("[data.gates.\"[\"]\nmin_rows = 1").contains("not a glob"));
    }
}
