//! From a table to what is drawn: which fields are x and y (given, or inferred as DVC does), the
//! points of each y field, or a confusion matrix.
//!
//! The invariant: a point is drawn only when both its coordinates are finite numbers; every
//! record left out is counted (missing field, not a number, NaN or infinite), so the output can
//! say how many were skipped. Series are resampled to at most [`MAX_POINTS`] points here, which
//! bounds everything downstream whatever the file's size.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use serde::ser::SerializeTuple;

use super::Kind;
use super::config::Settings;
use super::parse::{Cell, Problem, Table};
use super::resample;

/// Points kept per series for drawing (and in JSON).
pub const MAX_POINTS: usize = 1000;

/// More classes than this is not a confusion matrix one can read.
pub const MAX_CLASSES: usize = 100;

/// Pairs of field names that make a two-field file a confusion matrix: (actual, predicted).
const CONFUSION_PAIRS: &[(&str, &str)] = &[
    ("actual", "predicted"),
    ("y_true", "y_pred"),
    ("label", "prediction"),
    ("true", "pred"),
    ("target", "prediction"),
];

/// The fields a plot draws.
#[derive(Debug, Clone, PartialEq)]
pub struct Fields {
    pub kind: Kind,
    /// `None`: the record's position (0, 1, ...).
    pub x: Option<String>,
    pub y: Vec<String>,
}

/// An x value: a number, or a category (a string field on the x axis).
#[derive(Debug, Clone, PartialEq)]
pub enum X {
    Num(f64),
    Label(Arc<str>),
}

/// One drawn point, serialised as `[x, y]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Point(pub X, pub f64);

impl Serialize for Point {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        match &self.0 {
            X::Num(x) => t.serialize_element(x)?,
            X::Label(l) => t.serialize_element(&**l)?,
        }
        t.serialize_element(&self.1)?;
        t.end()
    }
}

/// One y field's points at one revision.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub field: String,
    /// At most [`MAX_POINTS`], resampled from `total`.
    pub points: Vec<Point>,
    /// Plottable points in the file.
    pub total: usize,
    /// Records without this field or x, or where it is not a number.
    pub skipped_missing: usize,
    /// Records where x or y is NaN or infinite.
    pub skipped_non_finite: usize,
}

/// A confusion matrix: `counts[actual][predicted]` over `labels`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Matrix {
    pub labels: Vec<String>,
    pub counts: Vec<Vec<u64>>,
    /// Records without one of the two fields.
    pub skipped: usize,
}

fn fields_list(t: &Table) -> String {
    let names: Vec<String> = t.names().iter().map(|n| format!("`{n}`")).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn field_missing(t: &Table, name: &str, place: &str) -> Problem {
    Problem::new(format!(
        "has no field `{name}` (fields: {})",
        fields_list(t)
    ))
    .hint(format!(
        "name the fields with `x = \"...\"` and `y = \"...\"` in {place}"
    ))
}

/// The fields to draw from `t` (the file `path`), as `settings` say or inferred: x is `step` or
/// `epoch` if present, else the first field (none if there is only one); y is the field named
/// like the file (dvclive's `plots/metrics/loss.tsv` holds `loss`), else the last numeric field
/// other than x and `timestamp`. Two label fields named like actual/predicted make a confusion
/// matrix. `place` names where the plot is declared, for hints.
pub fn infer(t: &Table, settings: &Settings, path: &str, place: &str) -> Result<Fields, Problem> {
    for name in settings.x.iter().chain(&settings.y) {
        if t.field(name).is_none() {
            return Err(field_missing(t, name, place));
        }
    }
    let pair = confusion_pair(t, settings);
    let kind = match settings.kind {
        Some(k) => k,
        None if pair.is_some() => Kind::Confusion,
        None => Kind::Line,
    };
    if kind == Kind::Confusion {
        let (a, p) =
            match (&settings.x, settings.y.first(), pair) {
                (Some(a), Some(p), _) => (a.clone(), p.clone()),
                (_, _, Some((a, p))) => (
                    settings.x.clone().unwrap_or(a),
                    settings.y.first().cloned().unwrap_or(p),
                ),
                _ if t.columns.len() >= 2 => (
                    settings
                        .x
                        .clone()
                        .unwrap_or_else(|| t.columns[0].name.clone()),
                    settings
                        .y
                        .first()
                        .cloned()
                        .unwrap_or_else(|| t.columns[1].name.clone()),
                ),
                _ => {
                    return Err(Problem::new(format!(
                    "a confusion matrix needs two fields, actual and predicted class (fields: {})",
                    fields_list(t)
                ))
                .hint(format!("set `x = \"actual\"` and `y = \"predicted\"` in {place}")));
                }
            };
        return Ok(Fields {
            kind,
            x: Some(a),
            y: vec![p],
        });
    }
    let x = match &settings.x {
        Some(x) => Some(x.clone()),
        None => ["step", "epoch"]
            .iter()
            .find(|n| t.field(n).is_some())
            .map(|n| n.to_string())
            .or_else(|| (t.columns.len() >= 2).then(|| t.columns[0].name.clone())),
    };
    if !settings.y.is_empty() {
        return Ok(Fields {
            kind,
            x,
            y: settings.y.clone(),
        });
    }
    let numeric = |i: usize| t.is_numeric(i) && Some(&t.columns[i].name) != x.as_ref();
    let stem = path
        .rsplit('/')
        .next()
        .and_then(|n| n.rsplit_once('.').map(|(s, _)| s))
        .unwrap_or("");
    let by_stem = t.field(stem).filter(|&i| numeric(i));
    let last = |skip_timestamp: bool| {
        (0..t.columns.len())
            .rev()
            .find(|&i| numeric(i) && !(skip_timestamp && t.columns[i].name == "timestamp"))
    };
    match by_stem.or_else(|| last(true)).or_else(|| last(false)) {
        Some(i) => Ok(Fields {
            kind,
            x,
            y: vec![t.columns[i].name.clone()],
        }),
        None => Err(Problem::new(format!(
            "has no numeric field to plot{} (fields: {})",
            x.as_ref()
                .map(|x| format!(" against `{x}`"))
                .unwrap_or_default(),
            fields_list(t)
        ))
        .hint(format!("name the field with `y = \"...\"` in {place}"))),
    }
}

fn confusion_pair(t: &Table, settings: &Settings) -> Option<(String, String)> {
    let (a, b) = match (&settings.x, settings.y.as_slice()) {
        (Some(x), [y]) => (t.field(x)?, t.field(y)?),
        (None, []) if t.columns.len() == 2 => (0, 1),
        _ => return None,
    };
    if !t.is_labels(a) || !t.is_labels(b) {
        return None;
    }
    let (na, nb) = (
        t.columns[a].name.to_ascii_lowercase(),
        t.columns[b].name.to_ascii_lowercase(),
    );
    CONFUSION_PAIRS.iter().find_map(|(actual, predicted)| {
        if na == *actual && nb == *predicted {
            Some((t.columns[a].name.clone(), t.columns[b].name.clone()))
        } else if na == *predicted && nb == *actual {
            Some((t.columns[b].name.clone(), t.columns[a].name.clone()))
        } else {
            None
        }
    })
}

/// The points of each y field (resampled to at most [`MAX_POINTS`]).
pub fn series(t: &Table, f: &Fields, place: &str) -> Result<Vec<Series>, Problem> {
    let xcol = match &f.x {
        Some(name) => Some(t.field(name).ok_or_else(|| field_missing(t, name, place))?),
        None => None,
    };
    let categorical = xcol.is_some_and(|c| {
        t.columns[c]
            .cells
            .iter()
            .any(|&(_, cell)| !matches!(cell, Cell::Null) && t.number(cell).is_none())
    });
    let mut out = Vec::new();
    for yname in &f.y {
        let ycol = t
            .field(yname)
            .ok_or_else(|| field_missing(t, yname, place))?;
        let ycells = &t.columns[ycol].cells;
        // x as a number per row (categories numbered in order of first appearance).
        let mut categories: HashMap<String, usize> = HashMap::new();
        let mut labels: Vec<Arc<str>> = Vec::new();
        let mut raw: Vec<[f64; 2]> = Vec::new();
        let (mut missing, mut non_finite) = (0usize, 0usize);
        let mut xi = 0;
        let xcells = xcol.map(|c| &t.columns[c].cells[..]);
        let mut rows_with_y = 0usize;
        for &(row, ycell) in ycells {
            rows_with_y += 1;
            let xv = match xcells {
                None => Some(row as f64),
                Some(xs) => {
                    while xi < xs.len() && xs[xi].0 < row {
                        xi += 1;
                    }
                    match xs.get(xi) {
                        Some(&(r, cell)) if r == row => {
                            if categorical {
                                t.label(cell).map(|l| {
                                    let next = labels.len();
                                    let i = *categories.entry(l.clone()).or_insert(next);
                                    if i == next {
                                        labels.push(Arc::from(l.as_str()));
                                    }
                                    i as f64
                                })
                            } else {
                                t.number(cell)
                            }
                        }
                        _ => None,
                    }
                }
            };
            let (Some(x), Some(y)) = (xv, t.number(ycell)) else {
                missing += 1;
                continue;
            };
            if !x.is_finite() || !y.is_finite() {
                non_finite += 1;
                continue;
            }
            raw.push([x, y]);
        }
        missing += t.rows - rows_with_y;
        let total = raw.len();
        let kept = match f.kind {
            Kind::Scatter => resample::stride(&raw, MAX_POINTS),
            _ => resample::lttb(&raw, MAX_POINTS),
        };
        let points = kept
            .into_iter()
            .map(|[x, y]| {
                let x = if categorical {
                    X::Label(labels[x as usize].clone())
                } else {
                    X::Num(x)
                };
                Point(x, y)
            })
            .collect();
        out.push(Series {
            field: yname.clone(),
            points,
            total,
            skipped_missing: missing,
            skipped_non_finite: non_finite,
        });
    }
    if out.iter().all(|s| s.total == 0) {
        let s = &out[0];
        return Err(Problem::new(format!(
            "has no plottable points: {}, {} without a number for {}{}, {} with NaN or infinity",
            crate::text::plural(t.rows as u64, "record", "records"),
            s.skipped_missing,
            f.y.iter()
                .map(|y| format!("`{y}`"))
                .collect::<Vec<_>>()
                .join(", "),
            f.x.as_ref()
                .map(|x| format!(" or `{x}`"))
                .unwrap_or_default(),
            s.skipped_non_finite
        ))
        .hint(format!(
            "check the field names (fields: {}) in {place}",
            fields_list(t)
        )));
    }
    Ok(out)
}

/// Count (actual, predicted) pairs into a matrix over the sorted union of labels (numerically
/// when every label is an integer).
pub fn matrix(t: &Table, f: &Fields, place: &str) -> Result<Matrix, Problem> {
    let actual_name = f.x.as_deref().unwrap_or("actual");
    let predicted_name = f.y.first().map(String::as_str).unwrap_or("predicted");
    let a = t
        .field(actual_name)
        .ok_or_else(|| field_missing(t, actual_name, place))?;
    let p = t
        .field(predicted_name)
        .ok_or_else(|| field_missing(t, predicted_name, place))?;
    let mut pairs: HashMap<(String, String), u64> = HashMap::new();
    let (acells, pcells) = (&t.columns[a].cells, &t.columns[p].cells);
    let mut pi = 0;
    let mut counted = 0usize;
    for &(row, acell) in acells {
        while pi < pcells.len() && pcells[pi].0 < row {
            pi += 1;
        }
        let Some(&(r, pcell)) = pcells.get(pi) else {
            break;
        };
        if r != row {
            continue;
        }
        let (Some(al), Some(pl)) = (t.label(acell), t.label(pcell)) else {
            continue;
        };
        *pairs.entry((al, pl)).or_default() += 1;
        counted += 1;
        if pairs.len() > MAX_CLASSES * MAX_CLASSES {
            break;
        }
    }
    let mut labels: Vec<String> = pairs
        .keys()
        .flat_map(|(a, p)| [a.clone(), p.clone()])
        .collect();
    labels.sort();
    labels.dedup();
    if labels.len() > MAX_CLASSES {
        return Err(Problem::new(format!(
            "has more than {MAX_CLASSES} distinct classes in `{actual_name}` and `{predicted_name}`; that is not a confusion matrix"
        ))
        .hint(format!("check `x` and `y` (the actual and predicted class fields) in {place}")));
    }
    if labels.is_empty() {
        return Err(Problem::new(format!(
            "has no records with both `{actual_name}` and `{predicted_name}` (fields: {})",
            fields_list(t)
        ))
        .hint(format!(
            "set `x` (actual class) and `y` (predicted class) in {place}"
        )));
    }
    if labels.iter().all(|l| l.parse::<i64>().is_ok()) {
        labels.sort_by_key(|l| l.parse::<i64>().unwrap_or(0));
    }
    let index: HashMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let mut counts = vec![vec![0u64; labels.len()]; labels.len()];
    for ((al, pl), n) in &pairs {
        counts[index[al.as_str()]][index[pl.as_str()]] += n;
    }
    Ok(Matrix {
        skipped: t.rows - counted,
        labels,
        counts,
    })
}

#[cfg(test)]
mod tests {
    use super::super::parse::{Format, parse};
    use super::*;

    fn table(text: &str, format: Format) -> Table {
        parse(text.as_bytes(), format).unwrap()
    }

    fn settings(x: Option<&str>, y: &[&str]) -> Settings {
        Settings {
            x: x.map(str::to_string),
            y: y.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    const PLACE: &str = "gitml.toml [plots.p]";

    #[test]
    fn dvclive_tsv_infers_step_and_the_metric() {
        let t = table("timestamp\tstep\tloss\n1\t0\t0.9\n2\t1\t0.5\n", Format::Tsv);
        let f = infer(
            &t,
            &Settings::default(),
            "dvclive/plots/metrics/loss.tsv",
            PLACE,
        )
        .unwrap();
        assert_eq!(f.x.as_deref(), Some("step"));
        assert_eq!(f.y, ["loss"]);
        // Also when the timestamp column comes last, and the file is named otherwise.
        let t = table("step,acc,timestamp\n0,0.5,1\n", Format::Csv);
        let f = infer(&t, &Settings::default(), "m.csv", PLACE).unwrap();
        assert_eq!(
            (f.x.as_deref(), f.y.as_slice()),
            (Some("step"), &["acc".to_string()][..])
        );
    }

    #[test]
    fn default_inference_is_first_and_last_numeric() {
        let t = table(r#"[{"fpr": 0, "tpr": 0, "threshold": 1.0}]"#, Format::Json);
        let f = infer(&t, &Settings::default(), "roc.json", PLACE).unwrap();
        assert_eq!(f.x.as_deref(), Some("fpr"));
        assert_eq!(f.y, ["threshold"]);
        assert_eq!(f.kind, Kind::Line);
        let t = table(r#"[{"loss": 1}, {"loss": 0.5}]"#, Format::Json);
        let f = infer(&t, &Settings::default(), "l.json", PLACE).unwrap();
        assert_eq!((f.x, f.y), (None, vec!["loss".to_string()]));
    }

    #[test]
    fn confusion_is_recognised() {
        for text in [
            r#"[{"actual": "cat", "predicted": "dog"}]"#,
            r#"[{"y_pred": 1, "y_true": 0}]"#,
            r#"[{"label": "a", "prediction": "b"}]"#,
        ] {
            let t = table(text, Format::Json);
            let f = infer(&t, &Settings::default(), "cm.json", PLACE).unwrap();
            assert_eq!(f.kind, Kind::Confusion, "{text}");
        }
        let f = infer(
            &table(r#"[{"y_pred": 1, "y_true": 0}]"#, Format::Json),
            &Settings::default(),
            "cm.json",
            PLACE,
        )
        .unwrap();
        assert_eq!(
            (f.x.as_deref(), f.y.as_slice()),
            (Some("y_true"), &["y_pred".to_string()][..])
        );
        // Fractions are not classes.
        let t = table(r#"[{"actual": 0.5, "predicted": 1}]"#, Format::Json);
        assert_eq!(
            infer(&t, &Settings::default(), "x.json", PLACE)
                .unwrap()
                .kind,
            Kind::Line
        );
    }

    #[test]
    fn matrix_counts_over_sorted_labels() {
        let t = table(
            "actual,predicted\n2,2\n10,2\n2,2\n10,10\n1,10\n,3\n",
            Format::Csv,
        );
        let f = infer(&t, &Settings::default(), "cm.csv", PLACE).unwrap();
        let m = matrix(&t, &f, PLACE).unwrap();
        assert_eq!(m.labels, ["1", "2", "10"]);
        assert_eq!(m.counts, [[0, 0, 1], [0, 2, 0], [0, 1, 1]]);
        assert_eq!(m.skipped, 1);
    }

    #[test]
    fn series_skip_and_count() {
        let t = table(
            r#"[{"step": 0, "loss": 1.0}, {"step": 1, "loss": NaN}, {"step": 2}, {"step": 3, "loss": "n/a"}, {"loss": 0.1}, {"step": 5, "loss": 0.2}]"#,
            Format::Json,
        );
        let f = infer(&t, &settings(None, &["loss"]), "l.json", PLACE).unwrap();
        let s = &series(&t, &f, PLACE).unwrap()[0];
        assert_eq!(s.points, [Point(X::Num(0.0), 1.0), Point(X::Num(5.0), 0.2)]);
        assert_eq!(
            (s.total, s.skipped_non_finite, s.skipped_missing),
            (2, 1, 3)
        );
    }

    #[test]
    fn categorical_x() {
        let t = table("class,f1\ncat,0.5\ndog,0.7\n", Format::Csv);
        let f = infer(&t, &Settings::default(), "f1.csv", PLACE).unwrap();
        let s = &series(&t, &f, PLACE).unwrap()[0];
        assert_eq!(s.points[1], Point(X::Label("dog".into()), 0.7));
    }

    #[test]
    fn a_million_points_are_bounded() {
        let mut text = String::from("step,loss\n");
        for i in 0..1_000_000 {
            text.push_str(&format!("{i},{}\n", 1.0 / (i + 1) as f64));
        }
        let t = table(&text, Format::Csv);
        let f = infer(&t, &Settings::default(), "loss.csv", PLACE).unwrap();
        let s = &series(&t, &f, PLACE).unwrap()[0];
        assert_eq!(s.total, 1_000_000);
        assert_eq!(s.points.len(), MAX_POINTS);
        assert_eq!(s.points[0], Point(X::Num(0.0), 1.0));
        assert_eq!(s.points[MAX_POINTS - 1].0, X::Num(999_999.0));
    }

    #[test]
    fn errors_name_the_fields() {
        let t = table(r#"[{"a": 1, "b": 2}]"#, Format::Json);
        let e = infer(&t, &settings(Some("fpr"), &["tpr"]), "r.json", PLACE).unwrap_err();
        assert!(
            e.message.contains("no field `fpr` (fields: `a`, `b`)"),
            "{e:?}"
        );
        assert!(e.hint.unwrap().contains(PLACE));
        let t = table(r#"[{"a": "x", "b": "y", "c": "z"}]"#, Format::Json);
        let e = infer(&t, &Settings::default(), "r.json", PLACE).unwrap_err();
        assert!(e.message.contains("no numeric field"), "{e:?}");
        let t = table(r#"[{"x": 1, "y": "a"}]"#, Format::Json);
        let e = series(
            &t,
            &infer(&t, &settings(Some("x"), &["y"]), "r.json", PLACE).unwrap(),
            PLACE,
        )
        .unwrap_err();
        assert!(e.message.contains("no plottable points"), "{e:?}");
        let mut text = String::from("actual,predicted\n");
        for i in 0..200 {
            text.push_str(&format!("{i},{i}\n"));
        }
        let t = table(&text, Format::Csv);
        let f = infer(&t, &Settings::default(), "cm.csv", PLACE).unwrap();
        assert!(
            matrix(&t, &f, PLACE)
                .unwrap_err()
                .message
                .contains("more than 100")
        );
    }
}
