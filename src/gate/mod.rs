//! Gates: rules on metrics that decide whether a change may go in.
//!
//! `[gates.METRIC]` in `gitml.toml` holds bounds (`min`, `max`) and allowed movement against the
//! baseline (`max_drop`, `max_increase`; absolute, or relative as `"2%"`). The invariant: every
//! verdict names the rule that decided it and the numbers it used, and a value that is not a
//! number (NaN, infinite, text) never passes a rule by accident.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::record::diff::{DiffReport, Stat};

/// An amount: absolute, or relative to the baseline's value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum Amount {
    Absolute(f64),
    /// A fraction (`"2%"` is 0.02).
    Relative(f64),
}

impl Amount {
    fn describe(&self) -> String {
        match self {
            Amount::Absolute(v) => format!("{v}"),
            Amount::Relative(f) => format!("{}%", f * 100.0),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gate {
    pub metric: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub max_drop: Option<Amount>,
    pub max_increase: Option<Amount>,
    pub higher_is_better: bool,
    /// Whether `higher_is_better` was stated or inferred from the rules.
    pub direction_inferred: bool,
    /// A change smaller than `noise_k` × the pooled standard deviation does not count (needs two
    /// or more runs on both sides).
    pub noise_k: Option<f64>,
    /// Fewer runs than this on a side: the gate is skipped, and says so.
    pub min_runs: usize,
}

const KEYS: &[&str] = &[
    "min",
    "max",
    "max_drop",
    "max_increase",
    "higher_is_better",
    "noise_k",
    "min_runs",
];

/// Which way each metric is better, for colouring a change: `[metrics] higher_is_better = [...]`
/// and `lower_is_better = [...]`, then every gate's direction (stated or inferred), which wins.
/// A metric in neither has no direction, and its changes are not coloured.
pub fn directions(project: &toml::Table) -> Result<std::collections::BTreeMap<String, bool>> {
    let mut out = std::collections::BTreeMap::new();
    let metrics = project.get("metrics").and_then(|m| m.as_table());
    for (key, higher) in [("higher_is_better", true), ("lower_is_better", false)] {
        let Some(v) = metrics.and_then(|m| m.get(key)) else {
            continue;
        };
        let bad = || Error::Config {
            file: crate::config::PROJECT_FILE.into(),
            message: format!("[metrics] `{key}` must be a list of metric names"),
        };
        for name in v.as_array().ok_or_else(bad)? {
            out.insert(name.as_str().ok_or_else(bad)?.to_string(), higher);
        }
    }
    for g in gates(project)? {
        out.insert(g.metric, g.higher_is_better);
    }
    Ok(out)
}

/// Parse `[gates.*]`.
pub fn gates(project: &toml::Table) -> Result<Vec<Gate>> {
    let Some(t) = project.get("gates") else {
        return Ok(Vec::new());
    };
    let t = t.as_table().ok_or_else(|| Error::Config {
        file: crate::config::PROJECT_FILE.into(),
        message: "`gates` must be a table of `[gates.METRIC]` sections".into(),
    })?;
    let mut out = Vec::new();
    for (metric, v) in t {
        let bad = |m: String| Error::Config {
            file: crate::config::PROJECT_FILE.into(),
            message: format!("[gates.\"{metric}\"] {m}"),
        };
        let g = v.as_table().ok_or_else(|| bad("must be a table".into()))?;
        for k in g.keys() {
            if !KEYS.contains(&k.as_str()) {
                return Err(bad(format!(
                    "unknown key `{k}`; known keys: {}",
                    KEYS.join(", ")
                )));
            }
        }
        let num = |k: &str| -> Result<Option<f64>> {
            match g.get(k) {
                None => Ok(None),
                Some(v) => v
                    .as_float()
                    .or_else(|| v.as_integer().map(|i| i as f64))
                    .filter(|f| f.is_finite())
                    .map(Some)
                    .ok_or_else(|| bad(format!("`{k}` must be a finite number"))),
            }
        };
        let amount = |k: &str| -> Result<Option<Amount>> {
            match g.get(k) {
                None => Ok(None),
                Some(toml::Value::String(s)) => {
                    let p = s
                        .trim()
                        .strip_suffix('%')
                        .and_then(|n| n.trim().parse::<f64>().ok())
                        .filter(|f| f.is_finite() && *f >= 0.0)
                        .ok_or_else(|| {
                            bad(format!(
                                "`{k}` = \"{s}\": expected a number or a percentage like \"2%\""
                            ))
                        })?;
                    Ok(Some(Amount::Relative(p / 100.0)))
                }
                Some(_) => {
                    let n = num(k)?.expect("present");
                    if n < 0.0 {
                        return Err(bad(format!("`{k}` must not be negative")));
                    }
                    Ok(Some(Amount::Absolute(n)))
                }
            }
        };
        let min = num("min")?;
        let max = num("max")?;
        let max_drop = amount("max_drop")?;
        let max_increase = amount("max_increase")?;
        if min.is_none() && max.is_none() && max_drop.is_none() && max_increase.is_none() {
            return Err(bad(
                "has no rule: set `min`, `max`, `max_drop` or `max_increase`".into(),
            ));
        }
        let stated = match g.get("higher_is_better") {
            None => None,
            Some(v) => Some(
                v.as_bool()
                    .ok_or_else(|| bad("`higher_is_better` must be true or false".into()))?,
            ),
        };
        // Inferred: a floor or a limit on drops means higher is better; a ceiling or a limit on
        // increases, lower.
        let inferred =
            if max_drop.is_some() || (min.is_some() && max.is_none() && max_increase.is_none()) {
                true
            } else {
                !(max_increase.is_some() || max.is_some())
            };
        let min_runs = match g.get("min_runs") {
            None => 1,
            Some(v) => v
                .as_integer()
                .filter(|n| *n >= 1)
                .ok_or_else(|| bad("`min_runs` must be a whole number ≥ 1".into()))?
                as usize,
        };
        out.push(Gate {
            metric: metric.clone(),
            min,
            max,
            max_drop,
            max_increase,
            higher_is_better: stated.unwrap_or(inferred),
            direction_inferred: stated.is_none(),
            noise_k: num("noise_k")?,
            min_runs,
        });
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    /// Not evaluated (missing on the new side, too few runs); `reason` says why.
    Skipped,
    /// Only on the new side: bounds were checked, there is nothing to compare with.
    New,
}

/// One rule's evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct RuleResult {
    /// e.g. `acc >= 0.8`, `drop <= 1%`.
    pub rule: String,
    pub passed: bool,
    /// The numbers it used, e.g. `0.91`, `drop 0.004 (0.5%)`.
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GateResult {
    pub metric: String,
    pub verdict: Verdict,
    pub old: Option<Stat>,
    pub new: Option<Stat>,
    pub higher_is_better: bool,
    pub direction_inferred: bool,
    pub rules: Vec<RuleResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn pooled_sd(a: &Stat, b: &Stat) -> Option<f64> {
    let (sa, sb) = (a.spread?, b.spread?);
    if a.n < 2 || b.n < 2 {
        return None;
    }
    let dof = (a.n + b.n - 2) as f64;
    Some(((sa * sa * (a.n - 1) as f64 + sb * sb * (b.n - 1) as f64) / dof).sqrt())
}

/// Evaluate one gate on a metric's two sides.
pub fn evaluate(g: &Gate, old: Option<&Stat>, new: Option<&Stat>) -> GateResult {
    let mut r = GateResult {
        metric: g.metric.clone(),
        verdict: Verdict::Pass,
        old: old.cloned(),
        new: new.cloned(),
        higher_is_better: g.higher_is_better,
        direction_inferred: g.direction_inferred,
        rules: Vec::new(),
        reason: None,
    };
    let Some(new) = new else {
        r.verdict = Verdict::Skipped;
        r.reason = Some("the metric is not in the new side's results".into());
        return r;
    };
    if new.n < g.min_runs && new.text.is_none() {
        r.verdict = Verdict::Skipped;
        r.reason = Some(format!(
            "needs {} on the new side, has {}",
            crate::text::plural(g.min_runs as u64, "run", "runs"),
            new.n
        ));
        return r;
    }
    let Some(value) = new.mean.filter(|v| v.is_finite()) else {
        // NaN, infinity or text on the new side fails every rule: it is not a measurement.
        r.verdict = Verdict::Fail;
        r.rules.push(RuleResult {
            rule: "is a number".into(),
            passed: false,
            detail: format!("value is {}", new.text.as_deref().unwrap_or("not a number")),
        });
        return r;
    };
    if let Some(min) = g.min {
        r.rules.push(RuleResult {
            rule: format!(">= {min}"),
            passed: value >= min,
            detail: format!("{value}"),
        });
    }
    if let Some(max) = g.max {
        r.rules.push(RuleResult {
            rule: format!("<= {max}"),
            passed: value <= max,
            detail: format!("{value}"),
        });
    }
    let relative_rules = g.max_drop.is_some() || g.max_increase.is_some();
    let base = old.and_then(|o| o.mean).filter(|v| v.is_finite());
    match (relative_rules, old, base) {
        (_, None, _) => {
            r.verdict = Verdict::New;
            r.reason = Some("not in the baseline: only bounds were checked".into());
        }
        (false, _, _) => {}
        (true, Some(o), _) if o.n < g.min_runs && o.text.is_none() => {
            r.verdict = Verdict::Skipped;
            r.reason = Some(format!(
                "needs {} on the baseline, has {}",
                crate::text::plural(g.min_runs as u64, "run", "runs"),
                o.n
            ));
            return r;
        }
        (true, Some(o), None) => {
            r.verdict = Verdict::Skipped;
            r.reason = Some(format!(
                "the baseline's value is {}, not a number: nothing to compare with",
                o.text.as_deref().unwrap_or("missing")
            ));
            return r;
        }
        (true, Some(o), Some(b)) => {
            let mut change = value - b;
            let mut noise_note = String::new();
            if let (Some(k), Some(sd)) = (g.noise_k, pooled_sd(o, new))
                && change.abs() <= k * sd
            {
                noise_note = format!(", within {k} × pooled sd {sd:.4}: not counted");
                change = 0.0;
            }
            // Movement in the bad direction.
            let (worse, name, limit) = if g.higher_is_better {
                (-change, "drop", g.max_drop)
            } else {
                (change, "increase", g.max_increase)
            };
            for (label, amount, amount_worse) in [
                (name, limit, worse),
                // A rule on the good direction's opposite, when both are set (e.g. a metric
                // that must not move much either way).
                (
                    if g.higher_is_better {
                        "increase"
                    } else {
                        "drop"
                    },
                    if g.higher_is_better {
                        g.max_increase
                    } else {
                        g.max_drop
                    },
                    -worse,
                ),
            ] {
                let Some(a) = amount else { continue };
                let (passed, detail) = match a {
                    Amount::Absolute(v) => (
                        amount_worse <= v,
                        format!("{label} {amount_worse:.6}{noise_note}"),
                    ),
                    Amount::Relative(f) => {
                        if b == 0.0 {
                            // Relative to zero is undefined: any movement in that direction
                            // beyond rounding fails, and the output says why.
                            (
                                amount_worse <= 0.0,
                                format!(
                                    "{label} {amount_worse:.6} from a baseline of 0 (relative rules need a non-zero baseline){noise_note}"
                                ),
                            )
                        } else {
                            let rel = amount_worse / b.abs();
                            (
                                rel <= f + 1e-12,
                                format!("{label} {:.4}%{noise_note}", rel * 100.0),
                            )
                        }
                    }
                };
                r.rules.push(RuleResult {
                    rule: format!("{label} <= {}", a.describe()),
                    passed,
                    detail,
                });
            }
        }
    }
    if r.rules.iter().any(|x| !x.passed) {
        r.verdict = Verdict::Fail;
    }
    r
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub passed: bool,
    pub base: crate::record::diff::Side,
    pub new: crate::record::diff::Side,
    pub gates: Vec<GateResult>,
    /// The data gates (`[data.gates."GLOB"]`), one result per gate and table it matches.
    pub data: Vec<crate::profile::gate::DataGateResult>,
}

/// Evaluate every gate on a diff between the baseline and the new side (data gates on the
/// diff's tables).
pub fn check_all(
    diff: &DiffReport,
    gates: &[Gate],
    data_gates: &[crate::profile::gate::DataGate],
) -> CheckReport {
    let mut r = check(diff, gates);
    r.data = crate::profile::gate::check(data_gates, &diff.table_sides);
    r.passed = r.passed && !r.data.iter().any(|d| d.verdict == Verdict::Fail);
    r
}

/// Evaluate the metric gates on a diff between the baseline and the new side.
pub fn check(diff: &DiffReport, gates: &[Gate]) -> CheckReport {
    let results: Vec<GateResult> = gates
        .iter()
        .map(|g| {
            let row = diff.metrics.iter().find(|m| m.name == g.metric);
            evaluate(
                g,
                row.and_then(|m| m.old.as_ref()),
                row.and_then(|m| m.new.as_ref()),
            )
        })
        .collect();
    CheckReport {
        passed: !results.iter().any(|r| r.verdict == Verdict::Fail),
        base: diff.old.clone(),
        new: diff.new.clone(),
        gates: results,
        data: Vec::new(),
    }
}

/// The commit a model is at in a stage: the newest `NAME#STAGE#N` tag (GTO's promotion tags).
pub fn baseline_commit(root: &std::path::Path, spec: &str) -> Result<String> {
    let Some((name, stage)) = spec.split_once('#') else {
        return Err(Error::Other(format!(
            "`{spec}` is not MODEL#STAGE (e.g. `churn#production`)"
        )));
    };
    let pattern = format!("refs/tags/{name}#{stage}#*");
    let out = crate::git::run(
        root,
        &["for-each-ref", "--format=%(refname:strip=2)", &pattern],
    )?;
    let best = String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|t| {
            t.rsplit_once('#')
                .and_then(|(_, n)| n.parse::<u64>().ok())
                .map(|n| (n, t.to_string()))
        })
        .max();
    let Some((_, tag)) = best else {
        return Err(Error::Other(format!(
            "no model `{name}` is in stage `{stage}` (no tag `{name}#{stage}#N`); promote one first, or use `--base REV`"
        )));
    };
    crate::git::resolve_commit(root, &tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(v: f64) -> Stat {
        Stat {
            mean: Some(v),
            spread: None,
            n: 1,
            text: None,
        }
    }

    fn gate(t: &str) -> Gate {
        let table: toml::Table = toml::from_str(&format!("[gates.m]\n{t}")).unwrap();
        gates(&table).unwrap().remove(0)
    }

    #[test]
    fn direction_is_inferred_and_stated() {
        assert!(gate("min = 0.5").higher_is_better);
        assert!(gate("max_drop = 0.1").higher_is_better);
        assert!(!gate("max = 3").higher_is_better);
        assert!(!gate("max_increase = \"5%\"").higher_is_better);
        let g = gate("max_increase = 1\nhigher_is_better = true");
        assert!(g.higher_is_better && !g.direction_inferred);
        let bad = |t: &str| {
            let table: toml::Table = toml::from_str(&format!("[gates.m]\n{t}")).unwrap();
            gates(&table).unwrap_err().to_string()
        };
        assert!(bad("").contains("no rule"));
        assert!(bad("max_drop = \"x%\"").contains("percentage"));
        assert!(bad("min = nan").contains("finite"));
        assert!(bad("colour = 1").contains("unknown key"));
    }

    /// Deterministic pseudo-random numbers for property checks.
    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }

    #[test]
    fn properties_of_drop_rules() {
        let mut seed = 7;
        for _ in 0..5000 {
            let old = lcg(&mut seed) * 10.0;
            let new = lcg(&mut seed) * 10.0;
            let limit = lcg(&mut seed).abs();
            // Absolute drop: pass exactly when old - new <= limit.
            let g = gate(&format!("max_drop = {limit}"));
            let r = evaluate(&g, Some(&stat(old)), Some(&stat(new)));
            assert_eq!(
                r.verdict == Verdict::Pass,
                old - new <= limit,
                "{old} -> {new} limit {limit}"
            );
            // Improving never fails a drop rule.
            if new >= old {
                assert_eq!(r.verdict, Verdict::Pass);
            }
            // Relative: pass exactly when the drop is within limit × |old| (old != 0).
            let pct = limit * 50.0;
            let g = gate(&format!("max_drop = \"{pct}%\""));
            let r = evaluate(&g, Some(&stat(old)), Some(&stat(new)));
            if old != 0.0 {
                let ok = (old - new) / old.abs() <= pct / 100.0 + 1e-12;
                assert_eq!(r.verdict == Verdict::Pass, ok, "{old} -> {new} {pct}%");
            }
            // Lower-is-better mirrors it.
            let g = gate(&format!("max_increase = {limit}"));
            let r = evaluate(&g, Some(&stat(old)), Some(&stat(new)));
            assert_eq!(r.verdict == Verdict::Pass, new - old <= limit);
        }
    }

    #[test]
    fn relative_rules_near_zero_and_non_numbers() {
        let g = gate("max_drop = \"1%\"");
        // From a baseline of zero: any drop fails, no drop passes; the detail says why.
        let r = evaluate(&g, Some(&stat(0.0)), Some(&stat(-1e-9)));
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(r.rules[0].detail.contains("baseline of 0"));
        assert_eq!(
            evaluate(&g, Some(&stat(0.0)), Some(&stat(0.0))).verdict,
            Verdict::Pass
        );
        // NaN on the new side fails; on the baseline, the comparison is skipped.
        let nan = Stat {
            mean: None,
            spread: None,
            n: 0,
            text: Some("nan".into()),
        };
        assert_eq!(
            evaluate(&g, Some(&stat(1.0)), Some(&nan)).verdict,
            Verdict::Fail
        );
        let r = evaluate(&g, Some(&nan), Some(&stat(1.0)));
        assert_eq!(r.verdict, Verdict::Skipped);
        assert!(r.reason.unwrap().contains("nan"));
        // Missing on the new side: skipped; only on the new side: new, bounds still apply.
        assert_eq!(
            evaluate(&g, Some(&stat(1.0)), None).verdict,
            Verdict::Skipped
        );
        let floor = gate("min = 0.5\nmax_drop = 0.1");
        assert_eq!(
            evaluate(&floor, None, Some(&stat(0.7))).verdict,
            Verdict::New
        );
        assert_eq!(
            evaluate(&floor, None, Some(&stat(0.4))).verdict,
            Verdict::Fail
        );
    }

    #[test]
    fn noise_aware_changes_and_minimum_runs() {
        let g = gate("max_drop = 0.01\nnoise_k = 2\nmin_runs = 3");
        let s = |mean: f64, sd: f64, n: usize| Stat {
            mean: Some(mean),
            spread: Some(sd),
            n,
            text: None,
        };
        // A drop of 0.02 with a pooled sd of 0.02: within 2 sd, not counted.
        assert_eq!(
            evaluate(&g, Some(&s(0.90, 0.02, 5)), Some(&s(0.88, 0.02, 5))).verdict,
            Verdict::Pass
        );
        // The same drop with tight runs counts and fails.
        assert_eq!(
            evaluate(&g, Some(&s(0.90, 0.001, 5)), Some(&s(0.88, 0.001, 5))).verdict,
            Verdict::Fail
        );
        // Too few runs: skipped, with the count.
        let r = evaluate(&g, Some(&s(0.9, 0.01, 5)), Some(&s(0.8, 0.01, 2)));
        assert_eq!(r.verdict, Verdict::Skipped);
        assert!(r.reason.unwrap().contains("has 2"));
    }
}
