//! Reading a table in one streaming pass on all cores: the file is read in blocks that end on a
//! record boundary, each block is parsed and accumulated by a worker, and the blocks' columns
//! merge. Memory stays bounded: a few blocks in flight, and a record may not be longer than
//! [`MAX_RECORD`].

use std::io::Read;
use std::path::Path;
use std::sync::atomic::Ordering;

use super::acc::{self, Column, Value};
use crate::error::{Error, Result};

/// Bytes per block handed to a worker.
const BLOCK: usize = 4 << 20;
/// The longest record (line) a table may have.
pub const MAX_RECORD: usize = 64 << 20;
/// Rows read first, on one thread, to choose each numeric column's sketch offset.
const SAMPLE_ROWS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Csv(u8),
    JsonLines,
}

/// A table's columns after the pass.
pub struct Pass {
    pub rows: u64,
    pub columns: Vec<(String, Column)>,
}

/// An error at a byte offset of the file, turned into a line number once (only on failure).
struct At {
    offset: u64,
    message: String,
}

fn table_error(path: &Path, display: &str, at: At) -> Error {
    let line = line_of(path, at.offset).unwrap_or(0);
    Error::Table {
        file: display.to_string(),
        message: if line > 0 {
            format!("line {line}: {}", at.message)
        } else {
            at.message
        },
    }
}

/// The 1-based line holding byte `offset`.
fn line_of(path: &Path, offset: u64) -> Option<u64> {
    let mut f = std::fs::File::open(path).ok()?.take(offset);
    let mut buf = vec![0u8; 1 << 20];
    let mut lines = 1u64;
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            return Some(lines);
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
    }
}

/// Where the last complete record of `buf` ends (after its newline), for a block that starts
/// at a record boundary; `None` when `buf` holds no complete record.
fn record_end(buf: &[u8], quoted: bool) -> Option<usize> {
    if !quoted || memchr::memchr(b'"', buf).is_none() {
        return memchr::memrchr(b'\n', buf).map(|i| i + 1);
    }
    // A newline inside quotes is part of a field; RFC 4180's doubled quotes keep the parity.
    let mut inside = false;
    let mut last = None;
    for i in memchr::memchr2_iter(b'"', b'\n', buf) {
        if buf[i] == b'"' {
            inside = !inside;
        } else if !inside {
            last = Some(i + 1);
        }
    }
    last
}

/// Where the quote that is still open at the end of `buf` was opened (a block starts outside
/// quotes).
fn unclosed_quote(buf: &[u8]) -> Option<usize> {
    let mut open = None;
    for i in memchr::memchr_iter(b'"', buf) {
        open = if open.is_some() { None } else { Some(i) };
    }
    open
}

enum Bad {
    TooLong(u64),
    Unclosed(u64),
}

/// Reads a file in blocks that end on record boundaries.
/// A block of whole records and its offset in the file.
type Block = (u64, Vec<u8>);

struct Blocks {
    file: std::fs::File,
    carry: Vec<u8>,
    offset: u64,
    eof: bool,
    quoted: bool,
    /// Bytes to read per block ([`BLOCK`]; smaller in tests).
    size: usize,
}

impl Blocks {
    /// The next block and its offset in the file; `Err` with the offset of a record longer than
    /// [`MAX_RECORD`], or of a quote that is never closed.
    fn next_block(&mut self) -> std::io::Result<Option<std::result::Result<Block, Bad>>> {
        let mut buf = std::mem::take(&mut self.carry);
        loop {
            if self.eof {
                if buf.is_empty() {
                    return Ok(None);
                }
                let at = self.offset;
                if self.quoted
                    && let Some(open) = unclosed_quote(&buf)
                {
                    return Ok(Some(Err(Bad::Unclosed(at + open as u64))));
                }
                self.offset += buf.len() as u64;
                return Ok(Some(Ok((at, buf))));
            }
            let want = buf.len() + self.size;
            let start = buf.len();
            buf.resize(want, 0);
            let mut filled = start;
            while filled < want {
                let n = self.file.read(&mut buf[filled..])?;
                if n == 0 {
                    self.eof = true;
                    break;
                }
                filled += n;
            }
            buf.truncate(filled);
            if self.eof {
                continue;
            }
            match record_end(&buf, self.quoted) {
                Some(end) => {
                    self.carry = buf[end..].to_vec();
                    buf.truncate(end);
                    let at = self.offset;
                    self.offset += buf.len() as u64;
                    return Ok(Some(Ok((at, buf))));
                }
                None if buf.len() > MAX_RECORD => return Ok(Some(Err(Bad::TooLong(self.offset)))),
                None => {}
            }
        }
    }
}

/// Run the pass over `path`.
pub fn pass(path: &Path, display: &str, dialect: Dialect, jobs: usize) -> Result<Pass> {
    pass_in_blocks(path, display, dialect, jobs, BLOCK)
}

fn pass_in_blocks(
    path: &Path,
    display: &str,
    dialect: Dialect,
    jobs: usize,
    size: usize,
) -> Result<Pass> {
    let file = fs_err::File::open(path)?.into_parts().0;
    let mut blocks = Blocks {
        file,
        carry: Vec::new(),
        offset: 0,
        eof: false,
        quoted: matches!(dialect, Dialect::Csv(_)),
        size,
    };
    let too_long = |bad: Bad| match bad {
        Bad::TooLong(offset) => At {
            offset,
            message: format!(
                "a record longer than {} MiB: not a table git-ml can profile (is it {}?)",
                MAX_RECORD >> 20,
                match dialect {
                    Dialect::Csv(b'\t') => "tab-separated",
                    Dialect::Csv(_) => "CSV",
                    Dialect::JsonLines => "JSON Lines",
                }
            ),
        },
        Bad::Unclosed(offset) => At {
            offset,
            message: "a quoted field is never closed (a `\"` without its pair)".into(),
        },
    };
    let Some(first) = blocks.next_block()? else {
        return Ok(Pass {
            rows: 0,
            columns: Vec::new(),
        });
    };
    let (mut offset, mut first) = first.map_err(|o| table_error(path, display, too_long(o)))?;
    if first.starts_with(b"\xEF\xBB\xBF") {
        first.drain(..3);
        offset += 3;
    }
    let template = match dialect {
        Dialect::Csv(d) => {
            let (names, header_len) =
                csv_header(&first, d).map_err(|at| table_error(path, display, at))?;
            let offsets = csv_sample(&first[header_len..], d, names.len());
            first.drain(..header_len);
            offset += header_len as u64;
            Some(
                names
                    .into_iter()
                    .zip(offsets)
                    .map(|(n, o)| (n, Column::new(o)))
                    .collect::<Vec<_>>(),
            )
        }
        Dialect::JsonLines => None,
    };
    let jobs = jobs.max(1);
    let empty = Acc {
        rows: 0,
        first: template
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, _)| (0, i))
            .collect(),
        columns: template.clone().unwrap_or_default(),
        index: Default::default(),
    };
    // One long-lived accumulator per worker, fed blocks round-robin: its sketches fill once
    // for the whole file (not once per block), reading overlaps parsing, and the merge order is
    // fixed, so a profile does not depend on thread timing. After an error, blocks past it are
    // skipped; the earliest error in the file is the one reported.
    let stop = std::sync::atomic::AtomicU64::new(u64::MAX);
    let (results, fed) = std::thread::scope(|s| {
        let mut senders = Vec::with_capacity(jobs);
        let mut workers = Vec::with_capacity(jobs);
        for _ in 0..jobs {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Block>(2);
            senders.push(tx);
            let mut acc = empty.clone();
            let (stop, template) = (&stop, &template);
            workers.push(s.spawn(move || -> std::result::Result<Acc, At> {
                for (at, block) in rx {
                    if at > stop.load(Ordering::Relaxed) {
                        continue;
                    }
                    let r = match (dialect, template) {
                        (Dialect::Csv(d), Some(t)) => csv_block(&block, at, d, t, &mut acc),
                        _ => jsonl_block(&block, at, &mut acc),
                    };
                    if let Err(e) = r {
                        stop.fetch_min(e.offset, Ordering::Relaxed);
                        return Err(e);
                    }
                }
                Ok(acc)
            }));
        }
        let mut fed: std::io::Result<Option<At>> = Ok(None);
        let mut next = Some((offset, first));
        let mut i = 0;
        while let Some(block) = next.take() {
            if block.0 > stop.load(Ordering::Relaxed) || senders[i % jobs].send(block).is_err() {
                break;
            }
            i += 1;
            match blocks.next_block() {
                Ok(Some(Ok(b))) => next = Some(b),
                Ok(Some(Err(bad))) => fed = Ok(Some(too_long(bad))),
                Ok(None) => {}
                Err(e) => fed = Err(e),
            }
        }
        drop(senders);
        let results: Vec<_> = workers
            .into_iter()
            .map(|w| w.join().expect("a profile worker panicked"))
            .collect();
        (results, fed)
    });
    let mut error = fed?;
    let mut accs = Vec::with_capacity(jobs);
    for r in results {
        match r {
            Ok(acc) => accs.push(acc),
            Err(e) => {
                if error.as_ref().is_none_or(|x| e.offset < x.offset) {
                    error = Some(e);
                }
            }
        }
    }
    if let Some(at) = error {
        return Err(table_error(path, display, at));
    }
    Ok(finish(empty, accs))
}

/// The workers' accumulators merged in their fixed order, columns in the order the file first
/// names them (JSON Lines: across workers too).
pub(super) fn finish(mut total: Acc, accs: Vec<Acc>) -> Pass {
    for acc in accs {
        total.merge(acc);
    }
    let mut columns: Vec<((u64, usize), (String, Column))> =
        total.first.into_iter().zip(total.columns).collect();
    columns.sort_by_key(|(first, _)| *first);
    Pass {
        rows: total.rows,
        columns: columns.into_iter().map(|(_, c)| c).collect(),
    }
}

/// A worker's accumulator: its rows, its columns, and where each column first appeared.
#[derive(Clone)]
pub(super) struct Acc {
    pub(super) rows: u64,
    pub(super) columns: Vec<(String, Column)>,
    /// Where each column was first seen: the byte offset of its row, and its position there.
    pub(super) first: Vec<(u64, usize)>,
    /// JSON Lines: a column's index by name.
    index: std::collections::HashMap<String, usize>,
}

impl Acc {
    /// An accumulator for these columns, in this order.
    pub(super) fn with_columns(columns: Vec<(String, Column)>) -> Acc {
        Acc {
            rows: 0,
            first: (0..columns.len()).map(|i| (0, i)).collect(),
            columns,
            index: Default::default(),
        }
    }

    fn merge(&mut self, o: Acc) {
        self.rows += o.rows;
        for ((name, col), first) in o.columns.into_iter().zip(o.first) {
            match self.columns.iter().position(|(n, _)| *n == name) {
                Some(i) => {
                    self.columns[i].1.merge(col);
                    self.first[i] = self.first[i].min(first);
                }
                None => {
                    self.columns.push((name, col));
                    self.first.push(first);
                }
            }
        }
    }
}

fn reader(block: &[u8], delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(block)
}

/// The header's column names (pandas' rules: an empty name is `Unnamed: i`, a repeated one
/// `name.1`) and its length in bytes.
fn csv_header(block: &[u8], delimiter: u8) -> std::result::Result<(Vec<String>, usize), At> {
    let mut r = reader(block, delimiter);
    let mut rec = csv::ByteRecord::new();
    match r.read_byte_record(&mut rec) {
        Ok(true) => {}
        Ok(false) => return Ok((Vec::new(), block.len())),
        Err(e) => {
            return Err(At {
                offset: 0,
                message: format!("the header cannot be read: {e}"),
            });
        }
    }
    let mut names: Vec<String> = Vec::with_capacity(rec.len());
    for (i, f) in rec.iter().enumerate() {
        let name = std::str::from_utf8(f).map_err(|_| At {
            offset: 0,
            message: format!(
                "column {} of the header is not UTF-8 (convert the file, e.g. `iconv -f latin1 -t utf-8`)",
                i + 1
            ),
        })?;
        let mut name = if name.is_empty() {
            format!("Unnamed: {i}")
        } else {
            name.to_string()
        };
        let base = name.clone();
        let mut k = 1;
        while names.contains(&name) {
            name = format!("{base}.{k}");
            k += 1;
        }
        names.push(name);
    }
    Ok((names, r.position().byte() as usize))
}

/// Each column's sketch offset: the median of its numbers in the first rows (0 without any).
fn csv_sample(block: &[u8], delimiter: u8, columns: usize) -> Vec<f64> {
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); columns];
    let mut r = reader(block, delimiter);
    let mut rec = csv::ByteRecord::new();
    let mut rows = 0;
    while rows < SAMPLE_ROWS && matches!(r.read_byte_record(&mut rec), Ok(true)) {
        rows += 1;
        for (i, f) in rec.iter().enumerate().take(columns) {
            match acc::classify(f) {
                Value::Int(x) => values[i].push(x as f64),
                Value::Float(x) if x.is_finite() => values[i].push(x),
                _ => {}
            }
        }
    }
    values.into_iter().map(median).collect()
}

pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn csv_block(
    block: &[u8],
    at: u64,
    delimiter: u8,
    template: &[(String, Column)],
    acc: &mut Acc,
) -> std::result::Result<(), At> {
    let columns = &mut acc.columns;
    // One check of the whole block (fast on ASCII) spares one per field: fields split a valid
    // block at ASCII bytes, so each is valid too. Only a block that fails is checked by field,
    // to name the column.
    let block_utf8 = std::str::from_utf8(block).is_ok();
    let mut r = reader(block, delimiter);
    let mut rec = csv::ByteRecord::new();
    let mut rows = 0u64;
    loop {
        let start = r.position().byte();
        match r.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(At {
                    offset: at + start,
                    message: format!("cannot be read as CSV: {e}"),
                });
            }
        }
        if rec.len() != columns.len() {
            return Err(At {
                offset: at + rec.position().map_or(start, |p| p.byte()),
                message: format!(
                    "{} fields, but the header has {} (a ragged row: a missing or extra delimiter, or an unquoted delimiter inside a value)",
                    rec.len(),
                    columns.len()
                ),
            });
        }
        rows += 1;
        for (i, f) in rec.iter().enumerate() {
            if acc::is_null(f) {
                continue;
            }
            let v = acc::classify(f);
            if let Value::Text(t) = v
                && !block_utf8
                && std::str::from_utf8(t).is_err()
            {
                return Err(At {
                    offset: at + rec.position().map_or(start, |p| p.byte()),
                    message: format!(
                        "column `{}` is not UTF-8 (convert the file, e.g. `iconv -f latin1 -t utf-8`)",
                        crate::text::escape_control(&template[i].0)
                    ),
                });
            }
            columns[i].1.add(v);
        }
    }
    acc.rows += rows;
    Ok(())
}

/// One JSON object's members, in the order the line gives them.
struct Members(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<Members, A::Error> {
                let mut out = Vec::new();
                while let Some(kv) = m.next_entry()? {
                    out.push(kv);
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn jsonl_block(block: &[u8], at: u64, acc: &mut Acc) -> std::result::Result<(), At> {
    let mut pos = 0usize;
    // The row in which each column last took a value: a key repeated within one object counts
    // once (the last one wins, as in pandas).
    let mut seen: Vec<u64> = vec![u64::MAX; acc.columns.len()];
    for line in block.split(|&b| b == b'\n') {
        let here = pos;
        pos += line.len() + 1;
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let Members(members) = serde_json::from_slice(line).map_err(|e| At {
            offset: at + here as u64,
            message: format!("not a JSON object: {e}"),
        })?;
        let row = acc.rows;
        acc.rows += 1;
        for (position, (k, v)) in members.into_iter().enumerate().rev() {
            let i = match acc.index.get(&k) {
                Some(&i) => i,
                None => {
                    acc.index.insert(k.clone(), acc.columns.len());
                    acc.columns.push((k, Column::new(0.0)));
                    acc.first.push((at + here as u64, position));
                    seen.push(u64::MAX);
                    acc.columns.len() - 1
                }
            };
            if seen[i] == row {
                continue;
            }
            seen[i] = row;
            let c = &mut acc.columns[i].1;
            match &v {
                serde_json::Value::Null => {}
                serde_json::Value::Bool(b) => c.add(Value::Bool(*b)),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) => c.add(Value::Int(i)),
                    None => c.add(Value::Float(n.as_f64().unwrap_or(f64::NAN))),
                },
                serde_json::Value::String(s) => c.add(Value::Text(s.as_bytes())),
                other => c.add(Value::Nested(other.to_string().as_bytes())),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_ends_respect_quotes() {
        assert_eq!(record_end(b"a,b\n1,2\n3", true), Some(8));
        assert_eq!(record_end(b"a,\"x\ny\"\n1,\"2\n", true), Some(8));
        assert_eq!(record_end(b"\"only\nquoted", true), None);
        assert_eq!(record_end(b"no newline", false), None);
    }

    fn write(text: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, text).unwrap();
        f
    }

    #[test]
    fn csv_pass_counts_rows_types_and_nulls() {
        let f = write(b"\xEF\xBB\xBFa,b,a,\n1,x,2.5,\n2,\"y,\nz\",NA,t\n3,x,,\n");
        let p = pass(f.path(), "t.csv", Dialect::Csv(b','), 2).unwrap();
        assert_eq!(p.rows, 3);
        let names: Vec<&str> = p.columns.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b", "a.1", "Unnamed: 3"]);
        assert_eq!(p.columns[0].1.ints, 3);
        assert_eq!(p.columns[1].1.texts, 3);
        assert_eq!(p.columns[1].1.values.len(), 2);
        assert_eq!(p.columns[2].1.present, 1);
        assert_eq!(p.columns[3].1.present, 1);
    }

    #[test]
    fn ragged_rows_and_bad_utf8_name_their_line() {
        let f = write(b"a,b\n1,2\n3\n");
        let e = pass(f.path(), "t.csv", Dialect::Csv(b','), 1)
            .err()
            .unwrap();
        assert!(e.to_string().contains("t.csv: line 3: 1 fields"), "{e}");
        let f = write(b"a,b\n1,2\n3,\xff\xfe\n");
        let e = pass(f.path(), "t.csv", Dialect::Csv(b','), 1)
            .err()
            .unwrap();
        assert!(
            e.to_string().contains("line 3: column `b` is not UTF-8"),
            "{e}"
        );
    }

    #[test]
    fn jsonl_columns_in_first_appearance_order() {
        let f = write(b"{\"z\":1,\"a\":\"x\"}\n\n{\"a\":null,\"n\":[1,2],\"z\":2.5}\n");
        let p = pass(f.path(), "t.jsonl", Dialect::JsonLines, 2).unwrap();
        assert_eq!(p.rows, 2);
        let names: Vec<&str> = p.columns.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["z", "a", "n"]);
        assert_eq!(p.columns[0].1.n, 2);
        assert_eq!(p.columns[2].1.nested, 1);
        let f = write(b"{\"a\":1}\n[1]\n");
        let e = pass(f.path(), "t.jsonl", Dialect::JsonLines, 1)
            .err()
            .unwrap();
        assert!(e.to_string().contains("line 2: not a JSON object"), "{e}");
    }

    /// Everything a pass reports, to compare passes of one file.
    fn summary(p: &Pass) -> String {
        let mut out = format!("rows {}\n", p.rows);
        for (name, c) in &p.columns {
            let mut values: Vec<_> = c.values.iter().collect();
            values.sort();
            let mut numbers: Vec<_> = c.numbers.iter().collect();
            numbers.sort();
            out += &format!(
                "{name}: present {} ints {} floats {} bools {} texts {} nested {} n {} min {} max {} mean {:.9} len {}..{}/{} values {values:?} numbers {numbers:?}\n",
                c.present,
                c.ints,
                c.floats,
                c.bools,
                c.texts,
                c.nested,
                c.n,
                c.min,
                c.max,
                c.mean,
                c.len_min,
                c.len_max,
                c.len_sum
            );
        }
        out
    }

    #[test]
    fn many_small_blocks_on_many_workers_agree_with_one() {
        let mut csv = b"id,x,label,note\n".to_vec();
        let mut jsonl = Vec::new();
        for i in 0..2000 {
            csv.extend(
                format!(
                    "{i},{}.5,{},\"n\n{}\"\n",
                    i % 37,
                    ["a", "b", "c"][i % 3],
                    i % 5
                )
                .bytes(),
            );
            // A key that first appears late, and one repeated within an object (the last wins).
            let late = if i == 1500 { ",\"late\":1" } else { "" };
            jsonl.extend(
                format!(
                    "{{\"x\":{},\"x\":{}{late},\"s\":\"v{}\"}}\n",
                    i,
                    i % 7,
                    i % 11
                )
                .bytes(),
            );
        }
        for (text, name, dialect) in [
            (&csv, "t.csv", Dialect::Csv(b',')),
            (&jsonl, "t.jsonl", Dialect::JsonLines),
        ] {
            let f = write(text);
            let one = summary(&pass_in_blocks(f.path(), name, dialect, 1, BLOCK).unwrap());
            for jobs in [2, 3] {
                let many = pass_in_blocks(f.path(), name, dialect, jobs, 100).unwrap();
                assert_eq!(summary(&many), one, "{name} on {jobs} workers");
            }
        }
        let f = write(&jsonl);
        let p = pass_in_blocks(f.path(), "t.jsonl", Dialect::JsonLines, 3, 100).unwrap();
        let names: Vec<&str> = p.columns.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["x", "s", "late"]);
        assert_eq!(p.columns[0].1.present, 2000, "a repeated key counts once");
        assert_eq!(p.columns[0].1.max, 6.0, "the last of a repeated key wins");
    }

    #[test]
    fn the_earliest_error_is_reported_whichever_worker_finds_it() {
        let mut csv = b"a,b\n".to_vec();
        for i in 0..3000 {
            csv.extend(if i == 700 || i == 2500 {
                b"1\n".to_vec()
            } else {
                b"1,2\n".to_vec()
            });
        }
        let f = write(&csv);
        for jobs in [1, 2, 3] {
            let e = pass_in_blocks(f.path(), "t.csv", Dialect::Csv(b','), jobs, 64)
                .err()
                .unwrap();
            assert!(
                e.to_string().contains("line 702: 1 fields"),
                "{jobs} workers: {e}"
            );
        }
    }
}
