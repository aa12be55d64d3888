//! Reading a Parquet file for its profile: the row groups are shared round-robin among the
//! workers, each with its own reader and accumulator (as the text formats' blocks are), through
//! the `parquet` crate's record reader. Scalar columns profile as numbers, booleans or text
//! (dates and times as their ISO text, as a CSV holds them); lists, maps and structs are nested
//! values, counted by their JSON text (binary values that are not UTF-8 by their bytes).

use std::path::Path;

use parquet::basic::{LogicalType, TimeUnit};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, Row};

use super::acc::{Column, Value};
use super::table::{self, Acc, Pass};
use crate::error::{Error, Result};

/// Rows read first, on one thread, to choose each numeric column's sketch offset.
const SAMPLE_ROWS: usize = 1000;

fn error(display: &str, message: String) -> Error {
    Error::Table {
        file: display.to_string(),
        message,
    }
}

/// What the `parquet` crate said, in the user's terms.
fn explain(e: &parquet::errors::ParquetError) -> String {
    let text = e.to_string();
    if text.contains("Disabled feature") || text.contains("not supported") {
        format!(
            "uses a Parquet feature git-ml does not read ({text}); rewrite it with snappy, zstd, gzip or lz4 compression (pandas: `df.to_parquet(path, compression=\"zstd\")`)"
        )
    } else {
        format!(
            "cannot be read as Parquet: {text} (is the file whole? `git ml verify` checks the cache)"
        )
    }
}

fn open(path: &Path, display: &str) -> Result<SerializedFileReader<std::fs::File>> {
    let file = fs_err::File::open(path)?.into_parts().0;
    SerializedFileReader::new(file).map_err(|e| error(display, explain(&e)))
}

/// Run the pass over the Parquet file at `path`.
pub fn pass(path: &Path, display: &str, jobs: usize) -> Result<Pass> {
    let reader = open(path, display)?;
    let fields = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .root_schema()
        .get_fields()
        .to_vec();
    let names: Vec<String> = fields.iter().map(|f| f.name().to_string()).collect();
    // The record reader gives nanosecond timestamps (pandas' and pyarrow's default) as plain
    // integers: the schema says which they are.
    let nanos: Vec<bool> = fields
        .iter()
        .map(|f| {
            f.is_primitive()
                && matches!(
                    f.get_basic_info().logical_type_ref(),
                    Some(LogicalType::Timestamp(t)) if matches!(t.unit, TimeUnit::NANOS)
                )
        })
        .collect();
    let nanos = &nanos[..];
    let groups = reader.num_row_groups();
    let offsets = sample(&reader, display, names.len())?;
    drop(reader);
    let empty = Acc::with_columns(
        names
            .into_iter()
            .zip(offsets)
            .map(|(n, o)| (n, Column::new(o)))
            .collect(),
    );
    let jobs = jobs.clamp(1, groups.max(1));
    let results: Vec<Result<Acc>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..jobs)
            .map(|w| {
                let mut acc = empty.clone();
                s.spawn(move || -> Result<Acc> {
                    let reader = open(path, display)?;
                    for g in (w..groups).step_by(jobs) {
                        read_group(&reader, g, display, nanos, &mut acc)?;
                    }
                    Ok(acc)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    Err(error(
                        display,
                        "the Parquet reader stopped on malformed data (is the file whole? `git ml verify` checks the cache)".into(),
                    ))
                })
            })
            .collect()
    });
    let mut accs = Vec::with_capacity(jobs);
    for r in results {
        accs.push(r?);
    }
    Ok(table::finish(empty, accs))
}

/// Each column's sketch offset: the median of its numbers in the first rows.
fn sample(
    reader: &SerializedFileReader<std::fs::File>,
    display: &str,
    columns: usize,
) -> Result<Vec<f64>> {
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); columns];
    if reader.num_row_groups() > 0 {
        let group = reader
            .get_row_group(0)
            .map_err(|e| error(display, format!("row group 1: {}", explain(&e))))?;
        let rows = group
            .get_row_iter(None)
            .map_err(|e| error(display, format!("row group 1: {}", explain(&e))))?;
        for row in rows.take(SAMPLE_ROWS) {
            let row = row.map_err(|e| error(display, format!("row group 1: {}", explain(&e))))?;
            for (i, (_, f)) in row.get_column_iter().enumerate().take(columns) {
                if let Some(Value::Int(x)) = scalar(f).as_ref().map(Scalar::value) {
                    values[i].push(x as f64);
                } else if let Some(Value::Float(x)) = scalar(f).as_ref().map(Scalar::value)
                    && x.is_finite()
                {
                    values[i].push(x);
                }
            }
        }
    }
    Ok(values.into_iter().map(table::median).collect())
}

fn read_group(
    reader: &SerializedFileReader<std::fs::File>,
    g: usize,
    display: &str,
    nanos: &[bool],
    acc: &mut Acc,
) -> Result<()> {
    let at = |e: parquet::errors::ParquetError| {
        error(display, format!("row group {}: {}", g + 1, explain(&e)))
    };
    let group = reader.get_row_group(g).map_err(at)?;
    for row in group.get_row_iter(None).map_err(at)? {
        let row = row.map_err(at)?;
        if row.len() != acc.columns.len() {
            return Err(error(
                display,
                format!(
                    "row group {}: a row of {} columns, but the schema has {}",
                    g + 1,
                    row.len(),
                    acc.columns.len()
                ),
            ));
        }
        acc.rows += 1;
        for (i, (_, f)) in row.get_column_iter().enumerate() {
            if let (Field::Long(ns), true) = (f, nanos[i]) {
                let t = chrono::DateTime::from_timestamp_nanos(*ns);
                let text = t.format("%Y-%m-%d %H:%M:%S%.9f").to_string();
                acc.columns[i].1.add(Value::Text(text.as_bytes()));
            } else if let Some(v) = scalar(f) {
                acc.columns[i].1.add(v.value());
            }
        }
    }
    Ok(())
}

/// A field's value for the accumulator (`None` for null); text it had to render is owned here.
enum Scalar<'a> {
    Borrowed(Value<'a>),
    Text(String),
    Nested(String),
}

impl Scalar<'_> {
    fn value(&self) -> Value<'_> {
        match self {
            Scalar::Borrowed(v) => *v,
            Scalar::Text(t) => Value::Text(t.as_bytes()),
            Scalar::Nested(t) => Value::Nested(t.as_bytes()),
        }
    }
}

fn scalar(f: &Field) -> Option<Scalar<'_>> {
    use Scalar::{Borrowed, Text};
    Some(match f {
        Field::Null => return None,
        Field::Bool(b) => Borrowed(Value::Bool(*b)),
        Field::Byte(x) => Borrowed(Value::Int(*x as i64)),
        Field::Short(x) => Borrowed(Value::Int(*x as i64)),
        Field::Int(x) => Borrowed(Value::Int(*x as i64)),
        Field::Long(x) => Borrowed(Value::Int(*x)),
        Field::UByte(x) => Borrowed(Value::Int(*x as i64)),
        Field::UShort(x) => Borrowed(Value::Int(*x as i64)),
        Field::UInt(x) => Borrowed(Value::Int(*x as i64)),
        Field::ULong(x) => Borrowed(match i64::try_from(*x) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(*x as f64),
        }),
        Field::Float16(x) => Borrowed(Value::Float(x.to_f64())),
        Field::Float(x) => Borrowed(Value::Float(*x as f64)),
        Field::Double(x) => Borrowed(Value::Float(*x)),
        Field::Decimal(d) => Borrowed(Value::Float(decimal(d.data(), d.scale()))),
        Field::Str(s) => Borrowed(Value::Text(s.as_bytes())),
        Field::Bytes(b) => match std::str::from_utf8(b.data()) {
            Ok(s) => Borrowed(Value::Text(s.as_bytes())),
            Err(_) => Borrowed(Value::Nested(b.data())),
        },
        Field::Date(_)
        | Field::TimeMillis(_)
        | Field::TimeMicros(_)
        | Field::TimestampMillis(_)
        | Field::TimestampMicros(_) => Text(temporal(f)),
        Field::Group(_) | Field::ListInternal(_) | Field::MapInternal(_) => {
            Scalar::Nested(json(f).to_string())
        }
    })
}

/// A decimal's big-endian two's-complement digits, scaled.
fn decimal(bytes: &[u8], scale: i32) -> f64 {
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut x = 0f64;
    for &b in bytes {
        x = x * 256.0 + (if negative { !b } else { b }) as f64;
    }
    if negative {
        x = -(x + 1.0);
    }
    x / 10f64.powi(scale)
}

/// Dates and times as ISO text (UTC), or the raw number when it is out of any calendar's range
/// (the `parquet` crate's own rendering panics there).
fn temporal(f: &Field) -> String {
    use chrono::{DateTime, NaiveDate, NaiveTime};
    let shown = match *f {
        Field::Date(d) => NaiveDate::from_num_days_from_ce_opt(d.saturating_add(719_163))
            .map(|d| d.format("%Y-%m-%d").to_string()),
        Field::TimeMillis(ms) => u32::try_from(ms).ok().and_then(|ms| {
            NaiveTime::from_num_seconds_from_midnight_opt(ms / 1000, (ms % 1000) * 1_000_000)
                .map(|t| t.format("%H:%M:%S%.3f").to_string())
        }),
        Field::TimeMicros(us) => u64::try_from(us).ok().and_then(|us| {
            let secs = u32::try_from(us / 1_000_000).ok()?;
            NaiveTime::from_num_seconds_from_midnight_opt(secs, (us % 1_000_000) as u32 * 1000)
                .map(|t| t.format("%H:%M:%S%.6f").to_string())
        }),
        Field::TimestampMillis(ms) => DateTime::from_timestamp_millis(ms)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string()),
        Field::TimestampMicros(us) => DateTime::from_timestamp_micros(us)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
        _ => None,
    };
    shown.unwrap_or_else(|| match *f {
        Field::Date(x) | Field::TimeMillis(x) => x.to_string(),
        Field::TimeMicros(x) | Field::TimestampMillis(x) | Field::TimestampMicros(x) => {
            x.to_string()
        }
        _ => String::new(),
    })
}

/// A field as JSON, for a nested value's length (without the `parquet` crate's date rendering,
/// which panics on dates out of range).
fn json(f: &Field) -> serde_json::Value {
    use serde_json::Value as J;
    match f {
        Field::Group(row) => J::Object(row_json(row)),
        Field::ListInternal(list) => J::Array(list.elements().iter().map(json).collect()),
        Field::MapInternal(map) => J::Array(
            map.entries()
                .iter()
                .map(|(k, v)| J::Array(vec![json(k), json(v)]))
                .collect(),
        ),
        other => match scalar(other) {
            None => J::Null,
            Some(s) => match s.value() {
                Value::Int(i) => J::from(i),
                Value::Float(x) => J::from(x),
                Value::Bool(b) => J::Bool(b),
                Value::Text(t) => J::String(String::from_utf8_lossy(t).into_owned()),
                Value::Nested(t) => J::String(String::from_utf8_lossy(t).into_owned()),
            },
        },
    }
}

fn row_json(row: &Row) -> serde_json::Map<String, serde_json::Value> {
    row.get_column_iter()
        .map(|(k, v)| (k.clone(), json(v)))
        .collect()
}
