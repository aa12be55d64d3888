//! Per-column accumulators of one streaming pass: each worker fills its own for a block of rows,
//! and blocks merge in any order (counts add, moments merge by Chan's formula, sketches merge).
//! Memory is bounded per column: the exact value counts stop at [`MAX_VALUES`] distinct values
//! (or [`MAX_VALUE_BYTES`] of them), after which only the estimates remain.

use std::collections::HashMap;
use std::hash::BuildHasher;

use hyperloglogplus::{HyperLogLog, HyperLogLogPlus};
use sketches_ddsketch::{Config, DDSketch};

/// Exact counts of values are kept up to this many distinct values per column; past it the
/// column is high-cardinality: no top values, no categorical drift, distinct count estimated.
pub const MAX_VALUES: usize = 10_000;
/// ... or this many bytes of distinct values, whichever comes first.
pub const MAX_VALUE_BYTES: usize = 4 << 20;

/// The sketch's relative accuracy on a value (after the column's offset is subtracted) and its
/// bin limit; collapsing starts at the values nearest the offset, where the absolute error is
/// smallest.
pub fn sketch_config() -> Config {
    Config::new(0.002, 4096, 1e-9)
}

/// One fixed hash for every worker and run, so that distinct-count sketches merge.
fn hasher() -> foldhash::quality::FixedState {
    foldhash::quality::FixedState::with_seed(0x6769_742d_6d6c)
}

pub type Hll = HyperLogLogPlus<u64, foldhash::quality::FixedState>;

pub fn new_hll() -> Hll {
    HyperLogLogPlus::new(14, hasher()).expect("precision 14 is valid")
}

pub fn hash_bytes(b: &[u8]) -> u64 {
    hasher().hash_one(b)
}

/// What a field holds, once it is not null.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(&'a [u8]),
    /// A JSON array or object (JSON Lines; a Parquet list, map or struct), as its JSON text:
    /// counted like a text value, its length in bytes.
    Nested(&'a [u8]),
}

/// The values pandas reads as missing by default (`read_csv`'s `na_values`), so that a profile
/// and a notebook agree on what a null is.
pub fn is_null(field: &[u8]) -> bool {
    matches!(
        field,
        b"" | b"#N/A"
            | b"#N/A N/A"
            | b"#NA"
            | b"-1.#IND"
            | b"-1.#QNAN"
            | b"-NaN"
            | b"-nan"
            | b"1.#IND"
            | b"1.#QNAN"
            | b"<NA>"
            | b"N/A"
            | b"NA"
            | b"NULL"
            | b"NaN"
            | b"None"
            | b"n/a"
            | b"nan"
            | b"null"
    )
}

/// Classify a CSV field (not null): a whole number, a number, true/false, or text.
pub fn classify(field: &[u8]) -> Value<'_> {
    let t = field.trim_ascii();
    if t.is_empty() {
        return Value::Text(field);
    }
    if let Some(i) = parse_int(t) {
        return Value::Int(i);
    }
    let first = t[0];
    if (first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.' | b'i' | b'I'))
        && let Ok(s) = std::str::from_utf8(t)
        && let Ok(f) = s.parse::<f64>()
    {
        return Value::Float(f);
    }
    match t {
        b"true" | b"True" | b"TRUE" => Value::Bool(true),
        b"false" | b"False" | b"FALSE" => Value::Bool(false),
        _ => Value::Text(field),
    }
}

fn parse_int(t: &[u8]) -> Option<i64> {
    let (neg, digits) = match t[0] {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (d - b'0') as i64;
    }
    Some(if neg { -v } else { v })
}

/// One column's accumulator.
#[derive(Clone)]
pub struct Column {
    /// Values seen that were not null.
    pub present: u64,
    pub ints: u64,
    pub floats: u64,
    pub bools: u64,
    pub texts: u64,
    pub nested: u64,
    /// Numbers: Welford's running mean and sum of squared deviations.
    pub n: u64,
    pub mean: f64,
    pub m2: f64,
    pub min: f64,
    pub max: f64,
    /// NaN and infinities are counted, not put in the moments.
    pub non_finite: u64,
    /// Quantile sketch of `value - offset`.
    pub sketch: DDSketch,
    pub offset: f64,
    pub hll: Hll,
    /// Exact counts of text and boolean values, until the column has too many.
    pub values: HashMap<Vec<u8>, u64, foldhash::fast::RandomState>,
    pub value_bytes: usize,
    pub overflow: bool,
    /// Exact counts of numbers (by their bits), until the column has too many: discrete
    /// columns (labels, counts, ages) then drift exactly, with ties where they are.
    pub numbers: HashMap<u64, u64, foldhash::fast::RandomState>,
    pub numbers_overflow: bool,
    /// Text lengths in characters.
    pub len_min: u64,
    pub len_max: u64,
    pub len_sum: u64,
}

impl Column {
    pub fn new(offset: f64) -> Column {
        Column {
            present: 0,
            ints: 0,
            floats: 0,
            bools: 0,
            texts: 0,
            nested: 0,
            n: 0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            non_finite: 0,
            sketch: DDSketch::new(sketch_config()),
            offset,
            hll: new_hll(),
            values: HashMap::default(),
            value_bytes: 0,
            overflow: false,
            numbers: HashMap::default(),
            numbers_overflow: false,
            len_min: u64::MAX,
            len_max: 0,
            len_sum: 0,
        }
    }

    pub fn add(&mut self, v: Value<'_>) {
        self.present += 1;
        match v {
            Value::Int(i) => {
                self.ints += 1;
                self.number(i as f64);
            }
            Value::Float(f) => {
                self.floats += 1;
                self.number(f);
            }
            Value::Bool(b) => {
                self.bools += 1;
                self.count_value(if b { b"true" } else { b"false" });
            }
            Value::Text(t) => {
                self.texts += 1;
                let chars = t.iter().filter(|&&b| (b as i8) >= -0x40).count() as u64;
                self.len_min = self.len_min.min(chars);
                self.len_max = self.len_max.max(chars);
                self.len_sum += chars;
                self.count_value(t);
            }
            Value::Nested(t) => {
                self.nested += 1;
                let l = t.len() as u64;
                self.len_min = self.len_min.min(l);
                self.len_max = self.len_max.max(l);
                self.len_sum += l;
                self.count_value(t);
            }
        }
    }

    fn number(&mut self, x: f64) {
        if !x.is_finite() {
            self.non_finite += 1;
            return;
        }
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        // -0.0 and 0.0 are one value.
        let bits = if x == 0.0 { 0 } else { x.to_bits() };
        // The estimates are only needed once the exact counts stop: until then the counts
        // hold everything, and go into the sketch with one logarithm per distinct value.
        if self.numbers_overflow {
            self.sketch.add(x - self.offset);
            self.hll.insert(&bits);
        } else {
            *self.numbers.entry(bits).or_insert(0) += 1;
            if self.numbers.len() > MAX_VALUES {
                self.spill_numbers();
            }
        }
    }

    /// Too many distinct numbers: keep only the estimates.
    fn spill_numbers(&mut self) {
        self.sketch_numbers();
        for k in self.numbers.keys() {
            self.hll.insert(k);
        }
        self.numbers = HashMap::default();
        self.numbers_overflow = true;
    }

    /// Put the exactly counted numbers into the sketch (which holds only the numbers seen after
    /// the counts stopped): before the counts are dropped, and once at the end of the pass.
    pub fn sketch_numbers(&mut self) {
        for (&bits, &n) in &self.numbers {
            self.sketch
                .add_with_count(f64::from_bits(bits) - self.offset, n);
        }
    }

    fn count_value(&mut self, v: &[u8]) {
        if self.overflow {
            self.hll.insert(&hash_bytes(v));
            return;
        }
        if let Some(c) = self.values.get_mut(v) {
            *c += 1;
            return;
        }
        if self.values.len() >= MAX_VALUES || self.value_bytes + v.len() > MAX_VALUE_BYTES {
            self.spill();
            self.hll.insert(&hash_bytes(v));
            return;
        }
        self.value_bytes += v.len();
        self.values.insert(v.to_vec(), 1);
    }

    /// Too many distinct values: keep only the estimate.
    fn spill(&mut self) {
        for k in self.values.keys() {
            self.hll.insert(&hash_bytes(k));
        }
        self.values = HashMap::default();
        self.value_bytes = 0;
        self.overflow = true;
    }

    pub fn merge(&mut self, mut o: Column) {
        self.present += o.present;
        self.ints += o.ints;
        self.floats += o.floats;
        self.bools += o.bools;
        self.texts += o.texts;
        self.nested += o.nested;
        self.non_finite += o.non_finite;
        if o.n > 0 {
            let n = self.n + o.n;
            let d = o.mean - self.mean;
            self.m2 += o.m2 + d * d * (self.n as f64 * o.n as f64) / n as f64;
            self.mean += d * o.n as f64 / n as f64;
            self.n = n;
            self.min = self.min.min(o.min);
            self.max = self.max.max(o.max);
        }
        self.len_min = self.len_min.min(o.len_min);
        self.len_max = self.len_max.max(o.len_max);
        self.len_sum += o.len_sum;
        if o.overflow && !self.overflow {
            self.spill();
        }
        if self.overflow {
            for k in o.values.keys() {
                self.hll.insert(&hash_bytes(k));
            }
        } else {
            for (k, c) in o.values.drain() {
                match self.values.get_mut(&k) {
                    Some(mine) => *mine += c,
                    None => {
                        self.value_bytes += k.len();
                        self.values.insert(k, c);
                    }
                }
            }
            if self.values.len() > MAX_VALUES || self.value_bytes > MAX_VALUE_BYTES {
                self.spill();
            }
        }
        if o.numbers_overflow && !self.numbers_overflow {
            self.spill_numbers();
        }
        if self.numbers_overflow {
            o.sketch_numbers();
            self.sketch
                .merge(&o.sketch)
                .expect("every sketch of a run has one configuration");
            for k in o.numbers.keys() {
                self.hll.insert(k);
            }
        } else {
            // Empty: `o` has its numbers still counted.
            self.sketch
                .merge(&o.sketch)
                .expect("every sketch of a run has one configuration");
            for (k, c) in o.numbers.drain() {
                *self.numbers.entry(k).or_insert(0) += c;
            }
            if self.numbers.len() > MAX_VALUES {
                self.spill_numbers();
            }
        }
        self.hll
            .merge(&o.hll)
            .expect("every distinct-count sketch of a run has one precision");
    }

    pub fn exact_distinct(&self) -> bool {
        !self.overflow && !self.numbers_overflow
    }

    /// Distinct non-null values: exact while the value counts are (and the column has no
    /// numbers), else the estimate.
    pub fn distinct(&mut self) -> u64 {
        if self.exact_distinct() {
            return (self.values.len() + self.numbers.len()) as u64;
        }
        // The values still counted exactly join the estimate.
        if !self.overflow {
            for k in self.values.keys() {
                self.hll.insert(&hash_bytes(k));
            }
        }
        if !self.numbers_overflow {
            for k in self.numbers.keys() {
                self.hll.insert(k);
            }
        }
        self.hll.count().round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_fields() {
        assert_eq!(classify(b"42"), Value::Int(42));
        assert_eq!(classify(b" -7 "), Value::Int(-7));
        assert_eq!(classify(b"1.5e3"), Value::Float(1500.0));
        assert_eq!(classify(b"True"), Value::Bool(true));
        assert_eq!(classify(b"abc"), Value::Text(b"abc"));
        assert_eq!(
            classify(b"1234567890123456789012"),
            Value::Float(1.2345678901234568e21)
        );
        assert!(is_null(b"") && is_null(b"NA") && !is_null(b"na"));
    }

    #[test]
    fn merged_moments_equal_one_pass() {
        let xs: Vec<f64> = (0..1000)
            .map(|i| ((i * 37) % 101) as f64 * 0.5 - 3.0)
            .collect();
        let mut whole = Column::new(0.0);
        xs.iter().for_each(|&x| whole.add(Value::Float(x)));
        let mut a = Column::new(0.0);
        let mut b = Column::new(0.0);
        xs[..300].iter().for_each(|&x| a.add(Value::Float(x)));
        xs[300..].iter().for_each(|&x| b.add(Value::Float(x)));
        a.merge(b);
        assert_eq!(a.n, whole.n);
        assert!((a.mean - whole.mean).abs() < 1e-9);
        assert!((a.m2 - whole.m2).abs() < 1e-6 * whole.m2);
        assert_eq!((a.min, a.max), (whole.min, whole.max));
    }

    #[test]
    fn the_sketch_holds_every_number_whether_counted_or_spilled() {
        // One side keeps exact counts (few distinct values), the other spills: after the merge
        // and the end of the pass the sketch has seen every finite number once.
        let mut few = Column::new(0.0);
        (0..5000).for_each(|i| few.add(Value::Int(i % 7)));
        let mut many = Column::new(0.0);
        (0..(MAX_VALUES + 500)).for_each(|i| many.add(Value::Float(i as f64 + 0.5)));
        assert!(!few.numbers_overflow && many.numbers_overflow);
        for (mut a, b) in [(few.clone(), many.clone()), (many, few.clone())] {
            a.merge(b);
            assert!(a.numbers_overflow);
            assert_eq!(a.sketch.count() as u64, a.n);
        }
        let mut exact = few.clone();
        exact.merge(few);
        exact.sketch_numbers();
        assert_eq!((exact.sketch.count(), exact.n), (10_000, 10_000));
        let median = exact.sketch.quantile(0.5).unwrap().unwrap();
        assert!((median - 3.0).abs() < 0.01, "{median}");
    }

    #[test]
    fn value_counts_spill_past_the_limit() {
        let mut c = Column::new(0.0);
        for i in 0..(MAX_VALUES + 10) {
            c.add(Value::Text(format!("v{i}").as_bytes()));
        }
        assert!(c.overflow);
        let d = c.distinct() as f64;
        assert!((d - (MAX_VALUES + 10) as f64).abs() / d < 0.03, "{d}");
    }
}
