//! Line and scatter charts as inline SVG: axes with ticks and labels, one colour per revision,
//! one dash pattern per y field, and a legend naming both.
//!
//! The invariant: the SVG holds no script, no link and no external reference, and every string
//! in it went through [`escape::html`]; its size is bounded because series arrive resampled
//! (at most [`super::series::MAX_POINTS`] points each).

use std::collections::HashMap;
use std::fmt::Write;

use super::escape;
use super::series::X;
use super::{Plot, Revision};

/// Line colours, one per revision in the order given (repeating after eight).
pub const PALETTE: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// Dash patterns, one per y field.
const DASHES: [&str; 4] = ["", "6 4", "2 3", "8 3 2 3"];

/// The plot area's background (tests find the plot area by it).
pub const PLOT_BACKGROUND: &str = "#f4f6f9";

const WIDTH: f64 = 760.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 12.0;
const HEIGHT: f64 = 320.0;
const LEGEND_ROW: f64 = 18.0;

pub fn colour(revision: usize) -> &'static str {
    PALETTE[revision % PALETTE.len()]
}

/// An axis: its domain and tick positions.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub ticks: Vec<f64>,
    pub step: f64,
}

/// A "nice" axis over `[lo, hi]`: about six ticks at 1, 2 or 5 times a power of ten, the domain
/// widened to whole ticks.
pub fn nice_axis(lo: f64, hi: f64) -> Axis {
    let (mut lo, mut hi) = (lo.min(hi), lo.max(hi));
    if lo == hi {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        lo -= pad;
        hi += pad;
    }
    let range = hi - lo;
    if !range.is_finite() || range <= 0.0 {
        return Axis {
            lo,
            hi,
            ticks: vec![lo, hi],
            step: f64::NAN,
        };
    }
    let raw = range / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let (nlo, nhi) = ((lo / step).floor() * step, (hi / step).ceil() * step);
    let n = ((nhi - nlo) / step).round() as usize;
    if !nlo.is_finite() || !nhi.is_finite() || n == 0 || n > 20 {
        return Axis {
            lo,
            hi,
            ticks: vec![lo, hi],
            step: f64::NAN,
        };
    }
    let ticks = (0..=n)
        .map(|i| {
            let t = nlo + step * i as f64;
            // Snap float noise (0.30000000000000004) and negative zero.
            let t = (t / step).round() * step;
            if t == 0.0 { 0.0 } else { t }
        })
        .collect();
    Axis {
        lo: nlo,
        hi: nhi,
        ticks,
        step,
    }
}

/// A number for a tick label or a table: as many decimals as the step needs, exponent notation
/// for very large or very small magnitudes.
pub fn fmt_num(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-4..1e9).contains(&a) {
        return format!("{v:.2e}");
    }
    let decimals = if step.is_finite() && step > 0.0 {
        (-step.log10().floor()).clamp(0.0, 10.0) as usize
    } else {
        4
    };
    format!("{v:.decimals$}")
}

/// The chart of a line or scatter plot, or `None` when no revision has points.
pub fn chart(plot: &Plot, revisions: &[Revision], scatter: bool) -> Option<String> {
    let drawn: Vec<_> = plot
        .revisions
        .iter()
        .filter(|r| {
            r.series
                .as_ref()
                .is_some_and(|s| s.iter().any(|s| !s.points.is_empty()))
        })
        .collect();
    if drawn.is_empty() {
        return None;
    }
    let categories = plot.categories();
    let cat_index: HashMap<&str, usize> = categories
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| (&**c, i))
        .collect();
    let xnum = |x: &X| match x {
        X::Num(v) => *v,
        X::Label(l) => cat_index.get(&**l).copied().unwrap_or(0) as f64,
    };
    let points = || {
        drawn
            .iter()
            .flat_map(|r| r.series.iter().flatten())
            .flat_map(|s| s.points.iter())
    };
    let (mut xlo, mut xhi, mut ylo, mut yhi) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for p in points() {
        let x = xnum(&p.0);
        xlo = xlo.min(x);
        xhi = xhi.max(x);
        ylo = ylo.min(p.1);
        yhi = yhi.max(p.1);
    }
    let xaxis = match &categories {
        Some(c) => Axis {
            lo: -0.5,
            hi: c.len() as f64 - 0.5,
            ticks: (0..c.len()).map(|i| i as f64).collect(),
            step: 1.0,
        },
        None => nice_axis(xlo, xhi),
    };
    let yaxis = nice_axis(ylo, yhi);
    let pw = WIDTH - LEFT - RIGHT;
    // Halved before subtracting: the span of two huge values must not overflow to infinity.
    let frac = |v: f64, a: &Axis| (v / 2.0 - a.lo / 2.0) / (a.hi / 2.0 - a.lo / 2.0);
    let px = |x: f64| LEFT + frac(x, &xaxis) * pw;
    let py = |y: f64| TOP + HEIGHT - frac(y, &yaxis) * HEIGHT;

    let mut legend: Vec<(usize, usize, String)> = Vec::new();
    for r in &drawn {
        for (fi, s) in r.series.iter().flatten().enumerate() {
            let label = revisions
                .get(r.index)
                .map(Revision::label)
                .unwrap_or_else(|| r.rev.clone());
            let text = if plot.y.len() > 1 {
                format!("{label} — {}", s.field)
            } else {
                label
            };
            legend.push((r.index, fi, text));
        }
    }
    let height = TOP + HEIGHT + 52.0 + legend.len() as f64 * LEGEND_ROW + 6.0;
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"{t}\" font-family=\"sans-serif\" font-size=\"12\"><title>{t}</title>",
        t = escape::html(&plot.title)
    );
    let _ = write!(
        out,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{pw}\" height=\"{HEIGHT}\" fill=\"{PLOT_BACKGROUND}\"/>"
    );
    // Grid and ticks.
    let thin_x = (xaxis.ticks.len() / 12).max(1);
    for (i, &t) in xaxis.ticks.iter().enumerate() {
        if i % thin_x != 0 {
            continue;
        }
        let x = px(t);
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#dde1e6\"/>",
            TOP + HEIGHT + 4.0
        );
        let label = match &categories {
            Some(c) => truncate(&c[i], 14),
            None => fmt_num(t, xaxis.step),
        };
        let _ = write!(
            out,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#333\">{}</text>",
            TOP + HEIGHT + 18.0,
            escape::html(&label)
        );
    }
    for &t in &yaxis.ticks {
        let y = py(t);
        let _ = write!(
            out,
            "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#dde1e6\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#333\">{}</text>",
            LEFT - 4.0,
            LEFT + pw,
            LEFT - 7.0,
            y + 4.0,
            escape::html(&fmt_num(t, yaxis.step))
        );
    }
    let _ = write!(
        out,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{pw}\" height=\"{HEIGHT}\" fill=\"none\" stroke=\"#8a939e\"/>"
    );
    // Axis labels.
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#111\">{}</text>",
        LEFT + pw / 2.0,
        TOP + HEIGHT + 38.0,
        escape::html(&plot.x_label)
    );
    let _ = write!(
        out,
        "<text transform=\"translate(16 {:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"#111\">{}</text>",
        TOP + HEIGHT / 2.0,
        escape::html(&plot.y_label)
    );
    // The data, older revisions first so the newest is on top.
    for r in &drawn {
        let c = colour(r.index);
        for (fi, s) in r.series.iter().flatten().enumerate() {
            let dash = DASHES[fi % DASHES.len()];
            let dash = if dash.is_empty() {
                String::new()
            } else {
                format!(" stroke-dasharray=\"{dash}\"")
            };
            if scatter {
                let _ = write!(out, "<g fill=\"{c}\" fill-opacity=\"0.75\">");
                for p in &s.points {
                    let _ = write!(
                        out,
                        "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\"/>",
                        px(xnum(&p.0)),
                        py(p.1)
                    );
                }
                out.push_str("</g>");
            } else {
                let mut pts = String::with_capacity(s.points.len() * 12);
                for p in &s.points {
                    let _ = write!(pts, "{:.1},{:.1} ", px(xnum(&p.0)), py(p.1));
                }
                let _ = write!(
                    out,
                    "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" stroke-linejoin=\"round\"{dash} points=\"{}\"/>",
                    pts.trim_end()
                );
            }
        }
    }
    // Legend, below the axis label.
    for (row, (ri, fi, text)) in legend.iter().enumerate() {
        let y = TOP + HEIGHT + 58.0 + row as f64 * LEGEND_ROW;
        let c = colour(*ri);
        let dash = DASHES[fi % DASHES.len()];
        let dash = if dash.is_empty() {
            String::new()
        } else {
            format!(" stroke-dasharray=\"{dash}\"")
        };
        if scatter {
            let _ = write!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{c}\"/>",
                LEFT + 14.0,
                y - 4.0
            );
        } else {
            let _ = write!(
                out,
                "<line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{c}\" stroke-width=\"3\"{dash}/>",
                y - 4.0,
                LEFT + 28.0,
                y - 4.0
            );
        }
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#111\">{}</text>",
            LEFT + 36.0,
            y,
            escape::html(text)
        );
    }
    out.push_str("</svg>");
    Some(out)
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_axes() {
        let a = nice_axis(0.0, 1.0);
        assert_eq!(a.ticks, [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        let a = nice_axis(3.0, 97.0);
        assert_eq!((a.lo, a.hi, a.step), (0.0, 100.0, 20.0));
        let a = nice_axis(5.0, 5.0);
        assert!(a.lo < 5.0 && a.hi > 5.0);
        let a = nice_axis(-1e308, 1e308);
        assert_eq!(a.ticks.len(), 2, "an infinite range falls back to its ends");
        assert_eq!(fmt_num(0.6000000000000001, 0.2), "0.6");
        assert_eq!(fmt_num(1234.0, 500.0), "1234");
        assert_eq!(fmt_num(2e12, 1e12), "2.00e12");
    }
}
