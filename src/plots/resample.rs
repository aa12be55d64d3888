//! Fewer points with the same look: downsampling for drawing, and a common x grid for Mermaid
//! charts (whose lines share one x axis).
//!
//! The invariant: a resampled series keeps its first and last points and never has more than the
//! number asked for; every output point is either an input point or (on a grid) a linear
//! interpolation between two neighbouring input points.

/// At most `max` points of a line, chosen by largest-triangle-three-buckets: the series is cut
/// into `max - 2` buckets and each keeps the point that spans the largest triangle with the point
/// kept before it and the next bucket's mean, so peaks and turns survive.
pub fn lttb(points: &[[f64; 2]], max: usize) -> Vec<[f64; 2]> {
    let n = points.len();
    if n <= max || max < 3 {
        return stride(points, max);
    }
    let buckets = max - 2;
    let width = (n - 2) as f64 / buckets as f64;
    let mut out = Vec::with_capacity(max);
    out.push(points[0]);
    let mut kept = 0;
    for b in 0..buckets {
        let start = 1 + (b as f64 * width) as usize;
        let end = (1 + ((b + 1) as f64 * width) as usize).min(n - 1);
        // The next bucket's mean (the last point for the last bucket).
        let (next_start, next_end) = if b + 1 < buckets {
            (end, (1 + ((b + 2) as f64 * width) as usize).min(n - 1))
        } else {
            (n - 1, n)
        };
        let next = &points[next_start..next_end.max(next_start + 1)];
        let mean = [
            next.iter().map(|p| p[0]).sum::<f64>() / next.len() as f64,
            next.iter().map(|p| p[1]).sum::<f64>() / next.len() as f64,
        ];
        let a = points[kept];
        let mut best = start;
        let mut best_area = -1.0;
        for (i, p) in points
            .iter()
            .enumerate()
            .take(end.max(start + 1))
            .skip(start)
        {
            let area = ((a[0] - mean[0]) * (p[1] - a[1]) - (a[0] - p[0]) * (mean[1] - a[1])).abs();
            if area > best_area {
                best_area = area;
                best = i;
            }
        }
        out.push(points[best]);
        kept = best;
    }
    out.push(points[n - 1]);
    out
}

/// At most `max` points at evenly spaced indices, first and last included (for scatter plots,
/// where no point is "between" two others).
pub fn stride(points: &[[f64; 2]], max: usize) -> Vec<[f64; 2]> {
    let n = points.len();
    if n <= max {
        return points.to_vec();
    }
    if max < 2 {
        return points.iter().take(max).copied().collect();
    }
    (0..max).map(|i| points[i * (n - 1) / (max - 1)]).collect()
}

/// `n` evenly spaced x values from `lo` to `hi` (both included).
pub fn grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![lo],
        // Weighted ends, not `lo + (hi - lo) * t`: the width may overflow for huge ranges.
        _ => (0..n)
            .map(|i| {
                let t = i as f64 / (n - 1) as f64;
                lo * (1.0 - t) + hi * t
            })
            .collect(),
    }
}

/// The series' y at each grid x, by linear interpolation between the neighbouring points (sorted
/// by x; at a repeated x, the last point there). Outside the series' x range the nearest end's
/// value is used: Mermaid lines cannot have gaps.
pub fn interpolate(points: &[[f64; 2]], xs: &[f64]) -> Vec<f64> {
    if points.is_empty() {
        return Vec::new();
    }
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let first = sorted[0];
    let last = sorted[sorted.len() - 1];
    xs.iter()
        .map(|&x| {
            if x <= first[0] || x.is_nan() {
                return first[1];
            }
            if x >= last[0] {
                return last[1];
            }
            // The first point strictly right of x; its predecessor is at or left of x.
            let i = sorted.partition_point(|p| p[0] <= x);
            let (a, b) = (sorted[i - 1], sorted[i]);
            if a[0] == x || b[0] == a[0] {
                a[1]
            } else {
                a[1] + (b[1] - a[1]) * (x - a[0]) / (b[0] - a[0])
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn line(n: usize) -> Vec<[f64; 2]> {
        (0..n)
            .map(|i| [i as f64, (i as f64 / 10.0).sin()])
            .collect()
    }

    #[test]
    fn lttb_keeps_ends_and_peaks() {
        let mut pts = line(10_000);
        pts[5_000][1] = 100.0;
        let out = lttb(&pts, 100);
        assert_eq!(out.len(), 100);
        assert_eq!(out[0], pts[0]);
        assert_eq!(out[99], pts[9_999]);
        assert!(out.contains(&[5_000.0, 100.0]), "the spike was dropped");
        assert!(out.windows(2).all(|w| w[0][0] < w[1][0]), "order kept");
    }

    #[test]
    fn short_series_are_untouched() {
        assert_eq!(lttb(&line(5), 100), line(5));
        assert_eq!(stride(&line(5), 100), line(5));
    }

    #[test]
    fn interpolation() {
        let pts = [[0.0, 0.0], [1.0, 10.0], [1.0, 20.0], [2.0, 0.0]];
        assert_eq!(
            interpolate(&pts, &[-1.0, 0.5, 1.0, 1.5, 3.0]),
            [0.0, 5.0, 20.0, 10.0, 0.0]
        );
        assert_eq!(grid(0.0, 1.0, 5), [0.0, 0.25, 0.5, 0.75, 1.0]);
    }

    proptest! {
        #[test]
        fn resampling_is_bounded(n in 0usize..3000, max in 0usize..200) {
            let pts = line(n);
            for out in [lttb(&pts, max), stride(&pts, max)] {
                prop_assert!(out.len() <= max.max(n.min(max)));
                prop_assert!(out.len() <= n);
                if n > 0 && max >= 2 {
                    prop_assert_eq!(out[0], pts[0]);
                    prop_assert_eq!(*out.last().unwrap(), pts[n - 1]);
                }
                for p in &out {
                    prop_assert!(pts.contains(p));
                }
            }
        }

        #[test]
        fn grids_of_extreme_ranges_are_finite(lo in -1e308f64..0.0, hi in 0.0f64..1e308, n in 0usize..60) {
            let xs = grid(lo, hi, n);
            prop_assert_eq!(xs.len(), n);
            prop_assert!(xs.iter().all(|x| x.is_finite() && *x >= lo && *x <= hi));
            prop_assert_eq!(interpolate(&[[lo, 1.0], [hi, 2.0]], &xs).len(), n);
        }

        #[test]
        fn interpolation_stays_within_range(ys in prop::collection::vec(-1e6f64..1e6, 1..50), k in 1usize..60) {
            let pts: Vec<[f64; 2]> = ys.iter().enumerate().map(|(i, y)| [i as f64, *y]).collect();
            let lo = ys.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = ys.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let xs = grid(-1.0, ys.len() as f64, k);
            for y in interpolate(&pts, &xs) {
                prop_assert!(y >= lo - 1e-6 && y <= hi + 1e-6);
            }
        }
    }
}
