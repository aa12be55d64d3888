//! `git ml export`: the metric history of [`super::log`] for other tools. OpenMetrics text (what
//! Prometheus' textfile collector and a pushgateway read) and long-format CSV (one row per
//! commit and metric, as pandas and spreadsheets want it).

use super::Origin;
use super::log::LogReport;

/// The OpenMetrics exposition of `report`: one `gitml_metric` sample per metric per commit, with
/// labels `metric`, `branch`, `commit`, `source` (`record`: mean over the commit's run records;
/// `files`: read from the committed metrics files), and each commit's time as
/// `gitml_commit_timestamp_seconds`.
///
/// Metric names are label values, not metric names: any name a repository uses is exported as
/// it is (escaped), none is mangled into Prometheus' name alphabet, and one family holds them
/// all. Samples carry no timestamp, which the textfile collector and the pushgateway refuse; the
/// commit time is its own series instead.
pub fn openmetrics(report: &LogReport, branch: &str) -> String {
    let mut out = String::new();
    out.push_str("# TYPE gitml_metric gauge\n");
    out.push_str("# HELP gitml_metric A metric of a commit: the mean over its run records, or its committed metrics file.\n");
    for e in &report.entries {
        for (name, value) in &e.metrics {
            let Some(v) = value else { continue };
            out.push_str(&format!(
                "gitml_metric{{metric=\"{}\",branch=\"{}\",commit=\"{}\",source=\"{}\"}} {}\n",
                label(name),
                label(branch),
                label(&e.commit),
                source(e.origin),
                number(*v)
            ));
        }
    }
    out.push_str("# TYPE gitml_commit_timestamp_seconds gauge\n");
    out.push_str("# UNIT gitml_commit_timestamp_seconds seconds\n");
    out.push_str(
        "# HELP gitml_commit_timestamp_seconds When the commit was made (committer date).\n",
    );
    for e in &report.entries {
        if e.metrics.values().all(Option::is_none) {
            continue;
        }
        if let Some(t) = unix_seconds(&e.date) {
            out.push_str(&format!(
                "gitml_commit_timestamp_seconds{{branch=\"{}\",commit=\"{}\"}} {t}\n",
                label(branch),
                label(&e.commit)
            ));
        }
    }
    out.push_str("# EOF\n");
    out
}

/// Long-format CSV: `commit,date,branch,source,metric,value`, newest commit first.
pub fn csv(report: &LogReport, branch: &str) -> String {
    let mut out = String::from("commit,date,branch,source,metric,value\n");
    for e in &report.entries {
        for (name, value) in &e.metrics {
            let Some(v) = value else { continue };
            out.push_str(&format!(
                "{},{},{},{},{},{}\n",
                e.commit,
                e.date,
                crate::text::csv(branch),
                source(e.origin),
                crate::text::csv(name),
                number(*v)
            ));
        }
    }
    out
}

fn source(o: Origin) -> &'static str {
    match o {
        Origin::Record => "record",
        Origin::Files => "files",
        Origin::Worktree => "worktree",
        Origin::None => "none",
    }
}

/// A label value: backslash, double quote and line feed escaped, as the format requires.
fn label(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        // Shortest text that reads back to the same f64.
        format!("{v:?}")
    }
}

/// `2026-01-01T12:00:00+02:00` (git's `%cI`) as seconds since the epoch.
fn unix_seconds(iso: &str) -> Option<i64> {
    let b = iso.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| iso.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, mi, s) = (n(11..13)?, n(14..16)?, n(17..19)?);
    let offset = match iso.get(19..) {
        Some("Z") | Some("") => 0,
        Some(z) if z.len() == 6 => {
            let sign = match &z[..1] {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            sign * (z.get(1..3)?.parse::<i64>().ok()? * 3600
                + z.get(4..6)?.parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + s - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_dates_to_epoch_seconds() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            unix_seconds("2026-01-01T00:00:00+00:00"),
            Some(1_767_225_600)
        );
        assert_eq!(
            unix_seconds("2026-01-01T02:00:00+02:00"),
            Some(1_767_225_600)
        );
        assert_eq!(unix_seconds("2000-02-29T12:30:15-05:30"), Some(951_847_215));
        assert_eq!(unix_seconds("yesterday"), None);
    }

    #[test]
    fn label_values_and_numbers_in_the_exposition_format() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(1e300), "1e300");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::NEG_INFINITY), "-Inf");
        assert_eq!(number(3.0), "3.0");
    }
}
