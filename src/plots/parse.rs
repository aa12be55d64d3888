//! Plot files into tables: JSON (a list of records, or an object whose one key holds that list),
//! CSV and TSV with a header row, and YAML lists of records.
//!
//! The invariant: whatever the bytes, parsing returns a [`Table`] or a [`Problem`] saying what is
//! wrong and how to fix it, in memory bounded by the file's size (which the caller has already
//! checked against [`MAX_FILE_BYTES`]): only cells present in the file are stored, never padding,
//! and the number of distinct fields is capped.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Larger plot files are refused before they are read.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// More distinct fields than this is not a plot file.
pub const MAX_FIELDS: usize = 1000;

/// What is wrong with a plot file, and the edit that fixes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    pub fn new(message: impl Into<String>) -> Problem {
        Problem {
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Problem {
        self.hint = Some(hint.into());
        self
    }
}

/// One value of a record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell {
    Null,
    Num(f64),
    Int(i64),
    /// An index into [`Table::strings`].
    Text(u32),
    Bool(bool),
    /// A list or an object: not plottable.
    Other,
}

/// A field and the rows that have it, in row order.
#[derive(Debug, Clone, Default)]
pub struct Column {
    pub name: String,
    pub cells: Vec<(u32, Cell)>,
}

/// Records as sparse columns, fields in order of first appearance.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<Column>,
    pub strings: Vec<String>,
    pub rows: usize,
    index: HashMap<String, usize>,
}

impl Table {
    pub fn field(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    pub fn names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// The number in a cell: numbers, and strings that read as numbers (`"0.5"`, `"NaN"`).
    pub fn number(&self, cell: Cell) -> Option<f64> {
        match cell {
            Cell::Num(x) => Some(x),
            Cell::Int(i) => Some(i as f64),
            Cell::Text(s) => self.strings[s as usize].trim().parse().ok(),
            _ => None,
        }
    }

    /// The cell as a class label or category.
    pub fn label(&self, cell: Cell) -> Option<String> {
        match cell {
            Cell::Text(s) => Some(self.strings[s as usize].clone()),
            Cell::Int(i) => Some(i.to_string()),
            Cell::Bool(b) => Some(b.to_string()),
            Cell::Num(x) if x.is_finite() => Some(x.to_string()),
            _ => None,
        }
    }

    /// Whether a column holds numbers only (ignoring nulls), at least one.
    pub fn is_numeric(&self, col: usize) -> bool {
        let mut any = false;
        for &(_, c) in &self.columns[col].cells {
            match c {
                Cell::Null => {}
                c if self.number(c).is_some() => any = true,
                _ => return false,
            }
        }
        any
    }

    /// Whether a column holds labels: strings or integers (no fractions, lists or objects).
    pub fn is_labels(&self, col: usize) -> bool {
        let cells = &self.columns[col].cells;
        !cells.is_empty()
            && cells
                .iter()
                .all(|(_, c)| matches!(c, Cell::Text(_) | Cell::Int(_) | Cell::Bool(_)))
    }

    fn column(&mut self, name: &str) -> Result<usize, String> {
        if let Some(&i) = self.index.get(name) {
            return Ok(i);
        }
        if self.columns.len() >= MAX_FIELDS {
            return Err(format!(
                "more than {MAX_FIELDS} distinct fields; a plot file is a list of records with a few fields each"
            ));
        }
        self.index.insert(name.to_string(), self.columns.len());
        self.columns.push(Column {
            name: name.to_string(),
            cells: Vec::new(),
        });
        Ok(self.columns.len() - 1)
    }

    fn put(&mut self, col: usize, row: usize, cell: Cell) {
        let cells = &mut self.columns[col].cells;
        let row = row as u32;
        match cells.last_mut() {
            // A key repeated within one record: the last one wins, as in most JSON readers.
            Some(last) if last.0 == row => last.1 = cell,
            _ => cells.push((row, cell)),
        }
    }

    fn text(&mut self, s: &str) -> Cell {
        self.strings.push(s.to_string());
        Cell::Text((self.strings.len() - 1) as u32)
    }
}

/// File formats of series and confusion files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Tsv,
    Yaml,
}

impl Format {
    /// By extension (case-insensitive).
    pub fn of(path: &str) -> Option<Format> {
        let ext = extension(path)?;
        Some(match ext.as_str() {
            "json" => Format::Json,
            "csv" => Format::Csv,
            "tsv" => Format::Tsv,
            "yaml" | "yml" => Format::Yaml,
            _ => return None,
        })
    }
}

/// Image extensions: listed, never embedded.
pub fn is_image(path: &str) -> bool {
    matches!(
        extension(path).as_deref(),
        Some("png" | "jpg" | "jpeg" | "svg" | "gif")
    )
}

fn extension(path: &str) -> Option<String> {
    let name = path.rsplit('/').next()?;
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// Parse a series file.
pub fn parse(bytes: &[u8], format: Format) -> Result<Table, Problem> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if let Err(e) = std::str::from_utf8(bytes) {
        let at = e.valid_up_to();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        return Err(
            Problem::new(format!("not valid UTF-8 (line {line}, byte {at})"))
                .hint("save the file as UTF-8"),
        );
    }
    let table = match format {
        Format::Json => parse_json(bytes)?,
        Format::Csv => parse_delimited(bytes, b',')?,
        Format::Tsv => parse_delimited(bytes, b'\t')?,
        Format::Yaml => {
            let mut table = Table::default();
            let de = serde_yaml_ng::Deserializer::from_slice(bytes);
            Top(&mut table)
                .deserialize(de)
                .map_err(|e| shape_problem(e.to_string()))?;
            table
        }
    };
    if table.rows == 0 {
        return Err(Problem::new("no records").hint(RECORDS_HINT));
    }
    Ok(table)
}

const RECORDS_HINT: &str = "write a list of records, e.g. `[{\"step\": 0, \"loss\": 0.9}, {\"step\": 1, \"loss\": 0.7}]`, or a CSV/TSV file with a header row";

fn shape_problem(message: String) -> Problem {
    Problem::new(message).hint(RECORDS_HINT)
}

fn parse_json(bytes: &[u8]) -> Result<Table, Problem> {
    let attempt = |bytes: &[u8]| -> Result<Table, serde_json::Error> {
        let mut table = Table::default();
        let mut de = serde_json::Deserializer::from_slice(bytes);
        Top(&mut table).deserialize(&mut de)?;
        de.end()?;
        Ok(table)
    };
    match attempt(bytes) {
        Ok(t) => Ok(t),
        Err(e) if e.is_syntax() => {
            // Python's json module writes bare NaN and Infinity; read them as non-finite values
            // (skipped later, and counted) instead of refusing the file.
            match python_tokens(bytes) {
                Some(fixed) => attempt(&fixed).map_err(|e| json_problem(&e)),
                None => Err(json_problem(&e)),
            }
        }
        Err(e) => Err(json_problem(&e)),
    }
}

fn json_problem(e: &serde_json::Error) -> Problem {
    if e.is_syntax() || e.is_eof() {
        Problem::new(format!("not valid JSON: {e}"))
            .hint("check the file with `python -m json.tool FILE`")
    } else {
        shape_problem(e.to_string())
    }
}

/// `bytes` with bare `NaN`, `Infinity` and `-Infinity` outside strings turned into strings, or
/// `None` if there are none.
fn python_tokens(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() + 64);
    let mut in_string = false;
    let mut escaped = false;
    let mut changed = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        let rest = &bytes[i..];
        let token = [&b"-Infinity"[..], b"Infinity", b"NaN"]
            .into_iter()
            .find(|t| rest.starts_with(t));
        match (b, token) {
            (b'"', _) => {
                in_string = true;
                out.push(b);
                i += 1;
            }
            (_, Some(t)) => {
                out.push(b'"');
                out.extend_from_slice(t);
                out.push(b'"');
                changed = true;
                i += t.len();
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    changed.then_some(out)
}

fn parse_delimited(bytes: &[u8], delimiter: u8) -> Result<Table, Problem> {
    let kind = if delimiter == b'\t' { "TSV" } else { "CSV" };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let bad = |e: csv::Error| Problem::new(format!("not valid {kind}: {e}"));
    let headers = reader.headers().map_err(bad)?.clone();
    if headers.is_empty() || headers.iter().all(str::is_empty) {
        return Err(Problem::new("no header row").hint(format!(
            "the first line of a {kind} plot file names the columns, e.g. `step{}loss`",
            delimiter as char
        )));
    }
    let mut table = Table::default();
    let mut cols = Vec::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        let name = if h.is_empty() {
            format!("column {}", i + 1)
        } else {
            h.to_string()
        };
        cols.push(table.column(&name).map_err(Problem::new)?);
    }
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(bad)? {
        let row = table.rows;
        for (value, &col) in record.iter().zip(&cols) {
            if value.is_empty() {
                continue;
            }
            let cell = if let Ok(i) = value.parse::<i64>() {
                Cell::Int(i)
            } else if let Ok(x) = value.parse::<f64>() {
                Cell::Num(x)
            } else {
                table.text(value)
            };
            table.put(col, row, cell);
        }
        table.rows += 1;
    }
    Ok(table)
}

const EXPECTED: &str = "a list of records like [{\"step\": 0, \"loss\": 0.9}], or an object with one key holding such a list";

/// The top level: a list of records, or `{"name": [records]}`.
struct Top<'a>(&'a mut Table);

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        Records(self.0).visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom(format!(
                "an empty object; expected {EXPECTED}"
            )));
        };
        map.next_value_seed(Records(self.0))?;
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(format!(
                "an object with more than one key (`{key}` and more); expected exactly one key holding the list of records"
            )));
        }
        Ok(())
    }
}

struct Records<'a>(&'a mut Table);

impl<'de> DeserializeSeed<'de> for Records<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Records<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of records like [{\"step\": 0, \"loss\": 0.9}]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Record(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

struct Record<'a>(&'a mut Table);

impl<'de> DeserializeSeed<'de> for Record<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Record<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "record {} to be an object like {{\"step\": 0, \"loss\": 0.9}}",
            self.0.rows + 1
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let table = self.0;
        let row = table.rows;
        while let Some(col) = map.next_key_seed(Key(&mut *table))? {
            let cell = map.next_value_seed(Value(&mut *table))?;
            table.put(col, row, cell);
        }
        table.rows += 1;
        Ok(())
    }
}

struct Key<'a>(&'a mut Table);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = usize;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = usize;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<usize, E> {
        self.0.column(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<usize, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<usize, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<usize, E> {
        self.visit_str(&v.to_string())
    }
}

struct Value<'a>(&'a mut Table);

impl<'de> DeserializeSeed<'de> for Value<'_> {
    type Value = Cell;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Cell, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Value<'_> {
    type Value = Cell;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Cell, E> {
        Ok(Cell::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Cell, E> {
        Ok(Cell::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Cell, E> {
        Ok(i64::try_from(v).map_or(Cell::Num(v as f64), Cell::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Cell, E> {
        Ok(Cell::Num(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Cell, E> {
        Ok(self.0.text(v))
    }
    fn visit_unit<E>(self) -> Result<Cell, E> {
        Ok(Cell::Null)
    }
    fn visit_none<E>(self) -> Result<Cell, E> {
        Ok(Cell::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Cell, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Cell, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Cell::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Cell, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Cell::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Result<Table, Problem> {
        parse(text.as_bytes(), Format::Json)
    }

    #[test]
    fn json_records_keep_field_order() {
        let t = json(
            r#"[{"fpr": 0, "tpr": 0, "threshold": 1.0}, {"fpr": 1, "tpr": 1, "threshold": 0.5}]"#,
        )
        .unwrap();
        assert_eq!(t.names(), ["fpr", "tpr", "threshold"]);
        assert_eq!(t.rows, 2);
        assert_eq!(
            t.columns[2].cells,
            [(0, Cell::Num(1.0)), (1, Cell::Num(0.5))]
        );
        assert!(t.is_numeric(0));
    }

    #[test]
    fn json_object_with_one_key() {
        let t = json(r#"{"roc": [{"fpr": 0, "tpr": 0}]}"#).unwrap();
        assert_eq!(t.names(), ["fpr", "tpr"]);
        let e = json(r#"{"a": [], "b": []}"#).unwrap_err();
        assert!(e.message.contains("more than one key"), "{e:?}");
    }

    #[test]
    fn wrong_shapes_say_what_is_expected() {
        for (text, needle) in [
            ("5", "expected a list of records"),
            ("[1, 2]", "record 1 to be an object"),
            ("[{\"a\": 1}, \"x\"]", "record 2 to be an object"),
            ("{}", "an empty object"),
            ("[]", "no records"),
            ("[{\"a\": 1", "not valid JSON"),
            ("\"text\"", "expected a list of records"),
        ] {
            let e = json(text).unwrap_err();
            assert!(e.message.contains(needle), "{text}: {e:?}");
            assert!(e.hint.is_some(), "{text}: no hint");
        }
    }

    #[test]
    fn python_nan_tokens_become_values() {
        let t = json(r#"[{"x": 0, "y": NaN, "s": "NaN in a string"}, {"x": 1, "y": -Infinity}, {"x": 2, "y": Infinity}]"#).unwrap();
        let y = t.field("y").unwrap();
        let vals: Vec<f64> = t.columns[y]
            .cells
            .iter()
            .map(|c| t.number(c.1).unwrap())
            .collect();
        assert!(vals[0].is_nan());
        assert_eq!(vals[1], f64::NEG_INFINITY);
        assert_eq!(vals[2], f64::INFINITY);
        assert_eq!(
            t.label(t.columns[2].cells[0].1).as_deref(),
            Some("NaN in a string")
        );
    }

    #[test]
    fn csv_and_tsv() {
        let t = parse(b"step,loss\n0,0.9\n1,0.5\n2,\n", Format::Csv).unwrap();
        assert_eq!(t.names(), ["step", "loss"]);
        assert_eq!(t.rows, 3);
        // The empty cell is absent, not a zero.
        assert_eq!(t.columns[1].cells.len(), 2);
        let t = parse(b"timestamp\tstep\tacc\n1700000000\t0\t0.5\n", Format::Tsv).unwrap();
        assert_eq!(t.names(), ["timestamp", "step", "acc"]);
        let e = parse(b"", Format::Csv).unwrap_err();
        assert!(e.message.contains("no header row"), "{e:?}");
    }

    #[test]
    fn yaml_records() {
        let t = parse(
            b"- {step: 0, loss: .nan}\n- {step: 1, loss: 0.5}\n",
            Format::Yaml,
        )
        .unwrap();
        assert_eq!(t.names(), ["step", "loss"]);
        assert!(t.number(t.columns[1].cells[0].1).unwrap().is_nan());
        assert!(parse(b"just text", Format::Yaml).is_err());
    }

    #[test]
    fn non_utf8_is_refused_with_its_position() {
        let e = parse(b"step,loss\n0,\xff\n", Format::Csv).unwrap_err();
        assert!(e.message.contains("line 2"), "{e:?}");
    }

    #[test]
    fn repeated_keys_and_nested_values() {
        let t = json(r#"[{"a": 1, "a": 2, "b": {"deep": [1, 2]}}]"#).unwrap();
        assert_eq!(t.columns[0].cells, [(0, Cell::Int(2))]);
        assert_eq!(t.columns[1].cells, [(0, Cell::Other)]);
        assert!(!t.is_numeric(1));
    }

    #[test]
    fn too_many_fields() {
        let mut text = String::from("[{");
        for i in 0..=MAX_FIELDS {
            text.push_str(&format!("\"f{i}\": 1,"));
        }
        text.push_str("\"z\": 1}]");
        let e = json(&text).unwrap_err();
        assert!(e.message.contains("distinct fields"), "{e:?}");
    }

    proptest::proptest! {
        /// Any bytes, in any format: a table or a problem, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            for f in [Format::Json, Format::Csv, Format::Tsv, Format::Yaml] {
                let _ = parse(&bytes, f);
            }
        }

        /// JSON-ish text made of the tokens that matter.
        #[test]
        fn json_like_text_never_panics(parts in proptest::collection::vec(proptest::sample::select(vec![
            "[", "]", "{", "}", ",", ":", "\"a\"", "\"b\"", "1", "-1.5e3", "NaN", "-Infinity", "null", "true", "\"\\\"", " ",
        ]), 0..60)) {
            let text: String = parts.concat();
            let _ = parse(text.as_bytes(), Format::Json);
            let _ = parse(text.as_bytes(), Format::Yaml);
        }
    }

    #[test]
    fn extensions() {
        assert_eq!(Format::of("a/b.JSON"), Some(Format::Json));
        assert_eq!(Format::of("plots/metrics/loss.tsv"), Some(Format::Tsv));
        assert_eq!(Format::of(".json"), None);
        assert!(is_image("eval/cm.PNG"));
        assert!(!is_image("eval/cm.json"));
    }
}
