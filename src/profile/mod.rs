//! Profiles of tabular data: schema, row count and per-column statistics of a tracked CSV, TSV
//! or JSON Lines file, derived from its content in one streaming pass ([`table`]).
//!
//! A profile is a function of the content alone, so it is computed once per content oid and
//! kept in the cache (`<cache>/profiles/v1/ab/cdef...json`), and travels to and from remotes
//! under the same name with the data. [`drift`] compares two profiles; [`gate`] holds the data
//! gates of `gitml.toml`.
//!
//! The invariant: a profile is only ever stored under the oid of the bytes it was computed from,
//! and one that does not parse, names another oid or another format version is computed again.

pub mod acc;
pub mod drift;
pub mod gate;
pub mod parquet;
pub mod remote;
pub mod table;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::oid::Oid;
use crate::workspace::Workspace;

/// Bumped whenever a profile's meaning or layout changes: older profiles are recomputed.
pub const VERSION: u32 = 2;

/// File names profiled by default (`[data] profile` replaces the list).
pub const DEFAULT_GLOBS: &[&str] = &[
    "**/*.csv",
    "**/*.tsv",
    "**/*.jsonl",
    "**/*.ndjson",
    "**/*.parquet",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Tsv,
    Jsonl,
    Parquet,
}

impl Format {
    /// The format a file name says, or why it cannot be profiled.
    pub fn of(path: &str) -> std::result::Result<Format, String> {
        let lower = path.to_ascii_lowercase();
        let ext = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        match ext {
            "csv" => Ok(Format::Csv),
            "tsv" | "tab" => Ok(Format::Tsv),
            "jsonl" | "ndjson" => Ok(Format::Jsonl),
            "parquet" | "pq" => Ok(Format::Parquet),
            _ => Err("not a table git-ml can profile: the name must end in .csv, .tsv, .jsonl, .ndjson or .parquet".into()),
        }
    }

    /// How a text format is split into records (`None`: Parquet, read by its own reader).
    fn dialect(self) -> Option<table::Dialect> {
        match self {
            Format::Csv => Some(table::Dialect::Csv(b',')),
            Format::Tsv => Some(table::Dialect::Csv(b'\t')),
            Format::Jsonl => Some(table::Dialect::JsonLines),
            Format::Parquet => None,
        }
    }
}

/// A column's inferred type: the narrowest that holds every non-null value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    Integer,
    Float,
    Boolean,
    String,
    /// JSON arrays or objects.
    Nested,
    /// Numbers and text mixed (the numbers are profiled as numbers, the text as text).
    Mixed,
    /// Only nulls.
    Empty,
}

impl ColumnType {
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Integer => "integer",
            ColumnType::Float => "float",
            ColumnType::Boolean => "boolean",
            ColumnType::String => "string",
            ColumnType::Nested => "nested",
            ColumnType::Mixed => "mixed",
            ColumnType::Empty => "empty",
        }
    }

    pub fn numeric(self) -> bool {
        matches!(self, ColumnType::Integer | ColumnType::Float)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    pub version: u32,
    /// The content this profile is of.
    pub oid: String,
    pub format: Format,
    pub bytes: u64,
    pub rows: u64,
    pub columns: Vec<ColumnProfile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// Non-null values.
    pub count: u64,
    pub nulls: u64,
    pub null_ratio: f64,
    /// Distinct non-null values; exact when `distinct_exact`, else a HyperLogLog++ estimate
    /// (about 1% error).
    pub distinct: u64,
    pub distinct_exact: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numbers: Option<Numbers>,
    /// Text and boolean values with their counts, most frequent first: all of them, unless the
    /// column has more than `acc::MAX_VALUES` distinct values (then `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<ValueCount>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lengths: Option<Lengths>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Numbers {
    pub count: u64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    /// Sample standard deviation (n − 1), as pandas gives it.
    pub sd: Option<f64>,
    /// NaN and infinite values (not in the moments or the sketch).
    pub non_finite: u64,
    /// p1, p5, p25, p50, p75, p95, p99: exact from `values` when the column has them, else
    /// from the sketch.
    pub quantiles: Vec<(String, f64)>,
    /// Every finite value with its count, ascending, unless the column has more than
    /// `acc::MAX_VALUES` distinct numbers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<(f64, u64)>>,
    /// `None` when no value was finite.
    pub sketch: Option<Sketch>,
}

/// A mergeable quantile sketch (DDSketch, 0.2% relative accuracy) of `value − offset`.
#[derive(Clone, Serialize, Deserialize)]
pub struct Sketch {
    pub offset: f64,
    pub ddsketch: sketches_ddsketch::DDSketch,
}

impl std::fmt::Debug for Sketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sketch")
            .field("offset", &self.offset)
            .field("count", &self.ddsketch.count())
            .finish()
    }
}

impl Sketch {
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.ddsketch
            .quantile(q.clamp(0.0, 1.0))
            .ok()
            .flatten()
            .map(|v| v + self.offset)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ValueCount {
    pub value: String,
    pub count: u64,
}

/// Lengths of text values in characters (of JSON text for nested values).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lengths {
    pub min: u64,
    pub max: u64,
    pub mean: f64,
}

pub const QUANTILES: &[(&str, f64)] = &[
    ("p1", 0.01),
    ("p5", 0.05),
    ("p25", 0.25),
    ("p50", 0.5),
    ("p75", 0.75),
    ("p95", 0.95),
    ("p99", 0.99),
];

fn column_profile(name: String, mut c: acc::Column, rows: u64) -> ColumnProfile {
    let numbers = c.ints + c.floats;
    let kind = if c.present == 0 {
        ColumnType::Empty
    } else if c.nested == c.present {
        ColumnType::Nested
    } else if c.ints == c.present {
        ColumnType::Integer
    } else if numbers == c.present {
        ColumnType::Float
    } else if c.bools == c.present {
        ColumnType::Boolean
    } else if numbers > 0 {
        ColumnType::Mixed
    } else {
        ColumnType::String
    };
    if !c.numbers_overflow {
        c.sketch_numbers();
    }
    let distinct_exact = c.exact_distinct();
    let distinct = c.distinct();
    let nums = (numbers > 0).then(|| {
        let finite = c.n > 0;
        let sketch = finite.then(|| Sketch {
            offset: c.offset,
            ddsketch: c.sketch.clone(),
        });
        let values = (!c.numbers_overflow && finite).then(|| {
            let mut v: Vec<(f64, u64)> = c
                .numbers
                .drain()
                .map(|(bits, n)| (f64::from_bits(bits), n))
                .collect();
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            v
        });
        let cdf = drift::Cdf::of_parts(values.as_deref(), sketch.as_ref());
        Numbers {
            count: numbers,
            min: finite.then_some(c.min),
            max: finite.then_some(c.max),
            mean: finite.then_some(c.mean),
            sd: (c.n > 1).then(|| (c.m2 / (c.n - 1) as f64).sqrt()),
            non_finite: c.non_finite,
            quantiles: cdf
                .map(|cdf| {
                    QUANTILES
                        .iter()
                        .map(|(n, q)| (n.to_string(), cdf.quantile(*q)))
                        .collect()
                })
                .unwrap_or_default(),
            values,
            sketch,
        }
    });
    let texts = c.texts + c.bools + c.nested;
    let values = (texts > 0 && !c.overflow).then(|| {
        let mut v: Vec<ValueCount> = c
            .values
            .drain()
            .map(|(k, n)| ValueCount {
                value: String::from_utf8_lossy(&k).into_owned(),
                count: n,
            })
            .collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        v
    });
    let lengths = (c.texts + c.nested > 0).then(|| Lengths {
        min: c.len_min,
        max: c.len_max,
        mean: c.len_sum as f64 / (c.texts + c.nested) as f64,
    });
    ColumnProfile {
        name,
        kind,
        count: c.present,
        nulls: rows - c.present.min(rows),
        null_ratio: if rows == 0 {
            0.0
        } else {
            (rows - c.present.min(rows)) as f64 / rows as f64
        },
        distinct,
        distinct_exact,
        numbers: nums,
        values,
        lengths,
    }
}

/// Profile the file at `path` (its bytes are the content `oid`).
pub fn compute(path: &Path, display: &str, oid: Oid, jobs: usize) -> Result<Profile> {
    let format = Format::of(display).map_err(|message| Error::Table {
        file: display.to_string(),
        message,
    })?;
    let bytes = fs_err::metadata(path)?.len();
    let pass = match format.dialect() {
        Some(dialect) => table::pass(path, display, dialect, jobs)?,
        None => parquet::pass(path, display, jobs)?,
    };
    let rows = pass.rows;
    Ok(Profile {
        version: VERSION,
        oid: oid.to_string(),
        format,
        bytes,
        rows,
        columns: pass
            .columns
            .into_iter()
            .map(|(n, c)| column_profile(n, c, rows))
            .collect(),
    })
}

/// `profiles/v1/ab/cdef...json`: a profile's name under a cache or remote root.
pub fn name(oid: &Oid) -> String {
    let hex = oid.hex();
    format!("profiles/v{VERSION}/{}/{}.json", &hex[..2], &hex[2..])
}

/// Remove a file; one that is not there is fine.
pub(crate) fn remove_if_there(path: &Path) -> Result<()> {
    match fs_err::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

/// After a cache gc: remove the stored profiles (and push markers) of contents that are neither
/// kept nor still in the cache (an object within the grace period keeps its profile), and the
/// profiles of older layouts, which are never read. Returns how many profiles went.
pub fn gc_local(ws: &Workspace, keep: &std::collections::HashSet<Oid>) -> Result<usize> {
    let root = ws.cache.root().join("profiles");
    let Ok(layouts) = std::fs::read_dir(&root) else {
        return Ok(0);
    };
    let current = format!("v{VERSION}");
    let mut removed = 0;
    for layout in layouts
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
    {
        if layout.file_name() != current.as_str() {
            // Written by an older git-ml: recomputed whenever needed, never read. (A newer
            // layout is left to the git-ml that reads it.)
            let older = layout
                .file_name()
                .to_str()
                .and_then(|n| n.strip_prefix('v')?.parse::<u32>().ok())
                .is_some_and(|v| v < VERSION);
            if older {
                fs_err::remove_dir_all(layout.path())?;
            }
            continue;
        }
        // Directories only (not followed if links): anything else here is not ours to judge.
        let dirs = |p: &Path| -> Result<Vec<fs_err::DirEntry>> {
            Ok(fs_err::read_dir(p)?
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .collect())
        };
        let gone = |hex: &str| {
            format!("{}{hex}", crate::oid::PREFIX)
                .parse::<Oid>()
                .is_ok_and(|oid| !keep.contains(&oid) && !ws.cache.contains(&oid))
        };
        for dir in dirs(&layout.path())? {
            let name = dir.file_name().to_string_lossy().into_owned();
            if name == "pushed" {
                for remote in dirs(&dir.path())? {
                    for mark in fs_err::read_dir(remote.path())?.flatten() {
                        if gone(&mark.file_name().to_string_lossy()) {
                            remove_if_there(&mark.path())?;
                        }
                    }
                }
                continue;
            }
            for file in fs_err::read_dir(dir.path())?.flatten() {
                let stem = file.file_name().to_string_lossy().into_owned();
                let Some(rest) = stem.strip_suffix(".json") else {
                    continue;
                };
                if gone(&format!("{name}{rest}")) {
                    remove_if_there(&file.path())?;
                    removed += 1;
                }
            }
        }
    }
    Ok(removed)
}

/// A stored profile of `oid`, if there is one that parses and is of `oid`.
pub fn parse_stored(bytes: &[u8], oid: &Oid) -> Option<Profile> {
    let p: Profile = serde_json::from_slice(bytes).ok()?;
    (p.version == VERSION && p.oid == oid.to_string()).then_some(p)
}

pub fn read_local(ws: &Workspace, oid: &Oid) -> Option<Profile> {
    let bytes = std::fs::read(ws.cache.root().join(name(oid))).ok()?;
    parse_stored(&bytes, oid)
}

pub fn write_local(ws: &Workspace, p: &Profile) -> Result<()> {
    let oid: Oid = p
        .oid
        .parse()
        .map_err(|_| Error::Other("profile of a bad oid".into()))?;
    write_local_bytes(
        ws,
        &oid,
        &serde_json::to_vec(p).expect("a profile serialises"),
    )
}

pub fn write_local_bytes(ws: &Workspace, oid: &Oid, bytes: &[u8]) -> Result<()> {
    let path = ws.cache.root().join(name(oid));
    fs_err::create_dir_all(path.parent().expect("fan-out dir"))?;
    crate::fsutil::atomic_write(&path, bytes, 0o444)?;
    Ok(())
}

/// The profile of the content `oid` (a file named `display`): the stored one, else computed
/// from the cache object and stored. `None` when the content is not in the cache.
pub fn of_content(
    ws: &Workspace,
    oid: &Oid,
    display: &str,
    recompute: bool,
) -> Result<Option<Profile>> {
    if !recompute && let Some(p) = read_local(ws, oid) {
        return Ok(Some(p));
    }
    let object = ws.cache.object_path(oid);
    if !ws.cache.contains(oid) {
        return Ok(None);
    }
    let p = compute(&object, display, *oid, ws.config.jobs)?;
    write_local(ws, &p)?;
    Ok(Some(p))
}

/// Which tracked files are profiled: `[data] profile = ["glob", ...]`, else [`DEFAULT_GLOBS`].
pub fn selection(project: &toml::Table) -> Result<globset::GlobSet> {
    let bad = |m: String| Error::Config {
        file: crate::config::PROJECT_FILE.into(),
        message: m,
    };
    let globs: Vec<String> = match project.get("data").and_then(|d| d.get("profile")) {
        None => DEFAULT_GLOBS.iter().map(|s| s.to_string()).collect(),
        Some(v) => v
            .as_array()
            .and_then(|a| a.iter().map(|g| g.as_str().map(str::to_string)).collect())
            .ok_or_else(|| {
                bad("[data] `profile` must be a list of globs, e.g. [\"data/*.csv\"]".into())
            })?,
    };
    glob_set(&globs).map_err(bad)
}

/// Globs over repository paths: `*` stays within a directory, `**` crosses them.
pub fn glob_set(globs: &[String]) -> std::result::Result<globset::GlobSet, String> {
    let mut b = globset::GlobSetBuilder::new();
    for g in globs {
        b.add(
            globset::GlobBuilder::new(g)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("`{g}` is not a glob: {e}"))?,
        );
    }
    b.build().map_err(|e| e.to_string())
}

/// A table's profile on one side of a comparison.
#[derive(Debug, Clone)]
pub enum Loaded {
    Profile(Profile),
    /// The path is not on this side.
    Absent,
    /// The content is not in the local cache (and no profile of it is): why, with the fix.
    Missing(String),
    /// The content is not a table git-ml can read: the error.
    Failed(String),
}

impl Loaded {
    pub fn profile(&self) -> Option<&Profile> {
        match self {
            Loaded::Profile(p) => Some(p),
            _ => None,
        }
    }

    pub fn note(&self) -> Option<&str> {
        match self {
            Loaded::Missing(s) | Loaded::Failed(s) => Some(s),
            _ => None,
        }
    }
}

/// A tracked table on two sides.
#[derive(Debug, Clone)]
pub struct Table {
    pub path: String,
    pub old_oid: Option<Oid>,
    pub new_oid: Option<Oid>,
    pub old: Loaded,
    pub new: Loaded,
}

impl Table {
    /// What changed, each column judged by the first of `gates` whose `max_drift` covers it (the
    /// default statistics otherwise), so that a report and `git ml check` say the same thing.
    pub fn diff(&self, gates: &[gate::DataGate]) -> drift::TableDiff {
        let choose = |column: &str, numeric: bool| gate::limit(gates, &self.path, column, numeric);
        let mut d = drift::diff_by(&self.path, self.old.profile(), self.new.profile(), &choose);
        for (side, l) in [("old", &self.old), ("new", &self.new)] {
            if let Some(n) = l.note() {
                d.notes.push(format!("{side} side: {n}"));
            }
        }
        d
    }
}

/// The files among `ptrs` (tracked files, and files inside tracked directories) that `select`
/// matches: path -> content oid. A directory whose manifest is not in the cache is named in the
/// second list.
pub fn tracked_tables(
    ws: &Workspace,
    ptrs: &std::collections::BTreeMap<String, crate::data::pointer::Pointer>,
    select: &globset::GlobSet,
) -> (std::collections::BTreeMap<String, Oid>, Vec<String>) {
    use crate::data::pointer::Kind;
    let mut out = std::collections::BTreeMap::new();
    let mut unread = Vec::new();
    for (path, p) in ptrs {
        match p.kind {
            Kind::File => {
                if select.is_match(path) {
                    out.insert(path.clone(), p.oid);
                }
            }
            Kind::Dir => match crate::data::load_manifest(ws, p.oid, path) {
                Ok(m) => {
                    for e in &m.entries {
                        if let crate::data::manifest::EntryKind::File { oid, .. } = e.kind {
                            let full = format!("{path}/{}", e.path);
                            if select.is_match(&full) {
                                out.insert(full, oid);
                            }
                        }
                    }
                }
                Err(_) => unread.push(path.clone()),
            },
        }
    }
    (out, unread)
}

/// Load (computing once if needed) the profile of one side.
pub fn load(ws: &Workspace, path: &str, oid: Option<Oid>, recompute: bool) -> Loaded {
    let Some(oid) = oid else {
        return Loaded::Absent;
    };
    match of_content(ws, &oid, path, recompute) {
        Ok(Some(p)) => Loaded::Profile(p),
        Ok(None) => Loaded::Missing(format!(
            "the content ({}) is not in the cache: `git ml pull` brings it, or its profile",
            &oid.to_string()[..12]
        )),
        Err(e) => Loaded::Failed(e.to_string()),
    }
}

/// The tables of two sides' pointers, each side profiled (unchanged tables are loaded once).
pub fn tables(
    ws: &Workspace,
    old: &std::collections::BTreeMap<String, crate::data::pointer::Pointer>,
    new: &std::collections::BTreeMap<String, crate::data::pointer::Pointer>,
    only: Option<&str>,
) -> Result<(Vec<Table>, Vec<String>)> {
    let select = selection(&ws.config.project)?;
    let (a, mut unread) = tracked_tables(ws, old, &select);
    let (b, unread_new) = tracked_tables(ws, new, &select);
    unread.extend(unread_new);
    unread.sort();
    unread.dedup();
    let paths: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut out = Vec::new();
    for path in paths {
        if let Some(o) = only
            && path != o
            && !path.starts_with(&format!("{}/", o.trim_end_matches('/')))
        {
            continue;
        }
        let (oa, ob) = (a.get(path).copied(), b.get(path).copied());
        let new = load(ws, path, ob, false);
        let old = if oa == ob {
            new.clone()
        } else {
            load(ws, path, oa, false)
        };
        out.push(Table {
            path: path.clone(),
            old_oid: oa,
            new_oid: ob,
            old,
            new,
        });
    }
    let notes = unread
        .into_iter()
        .map(|d| format!("`{d}`: its manifest is not in the cache, so its tables were not profiled (`git ml pull {d}`)"))
        .collect();
    Ok((out, notes))
}
