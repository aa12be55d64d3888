//! Run records: what a training run produced, kept on the commit that produced it.
//!
//! One git note per commit under `refs/notes/gitml`; its body is JSON Lines, one [`Run`] per line,
//! so that concurrent records merge with `git notes merge -s cat_sort_uniq` (a line-wise union)
//! and nothing is ever rewritten. The invariant: a line that does not parse is skipped with a
//! warning naming the commit and line, and never takes the other runs of that commit with it.
//! Revisions without a record fall back to the metrics and params files declared in `gitml.toml`,
//! read from the revision's tree, and every answer says which source it used.

pub mod at;
pub mod capture;
pub mod diff;
pub mod dvc_era;
pub mod export;
pub mod files;
pub mod log;
pub mod notes;
pub mod pending;
pub mod sync;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use files::Values;

/// Where a run happened.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Source {
    /// `local` or `ci`.
    pub kind: String,
    /// The CI run's URL, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// One run of a commit. Field names are a stable format (docs/formats.md).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Run {
    pub id: String,
    /// RFC 3339, UTC.
    pub time: String,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    #[serde(default)]
    pub metrics: Values,
    #[serde(default)]
    pub params: Values,
    /// Tracked path -> oid, from the pointers at record time.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
    /// Model name -> oid of its tracked artifact.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Recorded with uncommitted changes (`--allow-dirty`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dirty: bool,
}

impl Run {
    /// The JSON line stored in the note.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a run serialises")
    }
}

/// The runs of one note and the warnings its bad lines produced.
pub type NoteRuns = (Vec<Run>, Vec<Warning>);

/// A problem with stored or supplied data that was skipped, not fatal.
#[derive(Debug, Clone, Serialize)]
pub struct Warning {
    pub message: String,
}

/// Parse a note body; bad lines become warnings naming `commit` and the line.
pub fn parse_note(text: &str, commit: &str) -> (Vec<Run>, Vec<Warning>) {
    let mut runs = Vec::new();
    let mut warnings = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str::<Run>(line) {
            Ok(r) => runs.push(r),
            Err(e) => warnings.push(Warning {
                message: format!(
                    "run record of commit {} line {}: {e}; skipped",
                    &commit[..commit.len().min(12)],
                    n + 1
                ),
            }),
        }
    }
    // Lines are kept sorted by the notes merge strategy; present runs in time order.
    runs.sort_by(|a, b| a.time.cmp(&b.time).then(a.id.cmp(&b.id)));
    (runs, warnings)
}

/// Where the metrics of a revision came from.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Run records in the revision's note.
    Record,
    /// The metrics/params files in the revision's tree (no record).
    Files,
    /// The working tree's files.
    Worktree,
    /// Nothing: no record and no files.
    None,
}

/// What one revision has to say: its runs (or one pseudo-run from files), and where from.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// The commit, or `null` for the working tree.
    pub commit: Option<String>,
    pub origin: Origin,
    pub runs: Vec<Run>,
    /// Runs recorded with uncommitted changes: shown, labelled, but never the side's metrics.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dirty: Vec<Run>,
    pub warnings: Vec<Warning>,
}

/// A fresh run id: time and randomness, 16 hex digits.
pub fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// Now as RFC 3339 UTC with milliseconds (runs of one commit sort by it), without a date library. `GITML_NOW` (RFC 3339) overrides it,
/// for reproducible tests and benchmarks.
pub fn now_rfc3339() -> String {
    if let Ok(t) = std::env::var("GITML_NOW") {
        return t;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = rfc3339(now.as_secs());
    format!("{}.{:03}Z", secs.trim_end_matches('Z'), now.subsec_millis())
}

fn rfc3339(secs: u64) -> String {
    let days = secs / 86400;
    let rem = secs % 86400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_798_761_599), "2026-12-31T23:59:59Z");
    }

    #[test]
    fn a_bad_line_is_skipped_and_named() {
        let good = r#"{"id":"a","time":"2026-01-01T00:00:00Z","source":{"kind":"local"},"metrics":{"acc":0.5}}"#;
        let text = format!("{good}\n{{not json\n\n{}\n", good.replace("\"a\"", "\"b\""));
        let (runs, warnings) = parse_note(&text, "0123456789abcdef0123");
        assert_eq!(runs.len(), 2);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].message.contains("0123456789ab line 2"),
            "{:?}",
            warnings
        );
    }
}
