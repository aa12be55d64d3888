//! YAML reading shared by the DVC parsers: parse errors with their line, and the line of a key
//! for messages about values that parsed but make no sense.

use serde_yaml_ng::Value;

use crate::error::{Error, Result};

/// Files larger than this are not DVC metadata; refusing them keeps a hostile repository from
/// making the parser allocate without bound.
pub const MAX_TEXT: usize = 64 * 1024 * 1024;

pub fn err(file: &str, line: usize, message: impl Into<String>) -> Error {
    Error::Dvc {
        file: file.to_string(),
        line,
        message: message.into(),
    }
}

/// Parse YAML; an empty document is `Null`.
pub fn parse(text: &str, file: &str) -> Result<Value> {
    if text.len() > MAX_TEXT {
        return Err(err(file, 0, "larger than 64 MiB: not a DVC file"));
    }
    serde_yaml_ng::from_str::<Value>(text).map_err(|e| {
        let line = e.location().map_or(0, |l| l.line());
        let msg = e.to_string();
        // The message repeats the position; keep only what went wrong.
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        err(file, line, format!("not valid YAML: {msg}"))
    })
}

/// The line (1-based) where the key path `keys` is written, found by indentation: each key is
/// looked for below the previous one, more indented. Falls back to the deepest key found (0: none).
pub fn line_of(text: &str, keys: &[&str]) -> usize {
    let mut found = 0;
    let mut indent: Option<usize> = None;
    let mut from = 0;
    let lines: Vec<&str> = text.lines().collect();
    'keys: for key in keys {
        for (i, line) in lines.iter().enumerate().skip(from) {
            let stripped = line.trim_start();
            let ind = line.len() - stripped.len();
            if stripped.is_empty() || stripped.starts_with('#') {
                continue;
            }
            if let Some(base) = indent
                && ind <= base
                && !stripped.starts_with("- ")
            {
                break;
            }
            let item = stripped.trim_start_matches("- ");
            let matches = [
                format!("{key}:"),
                format!("\"{key}\":"),
                format!("'{key}':"),
            ]
            .iter()
            .any(|k| item.starts_with(k.as_str()));
            if matches {
                found = i + 1;
                indent = Some(ind);
                from = i + 1;
                continue 'keys;
            }
        }
        break;
    }
    found
}

/// A scalar as DVC would print it into a string (Python's `str`, with booleans lower-case as
/// DVC's interpolation writes them); `None` for lists, mappings and null.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(if let Some(i) = n.as_i64() {
            i.to_string()
        } else if let Some(u) = n.as_u64() {
            u.to_string()
        } else {
            py_float(n.as_f64().unwrap_or(f64::NAN))
        }),
        Value::Tagged(t) => scalar_text(&t.value),
        _ => None,
    }
}

/// Python's `repr` of a float: the shortest digits that round-trip, positional for exponents
/// from -4 to 15, else `d.ddde-XX`.
pub fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // `{:e}` gives the shortest round-trip digits: "1.5e-5", "1e20".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exp: i32 = exp.parse().expect("exponent is a number");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let body = if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if (point as usize) >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        format!("{sign}{body}")
    } else {
        let m = if digits.len() == 1 {
            digits.clone()
        } else {
            format!("{}.{}", &digits[..1], &digits[1..])
        };
        let esign = if exp < 0 { "-" } else { "+" };
        format!("{sign}{m}e{esign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python() {
        for (f, s) in [
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (0.1, "0.1"),
            (2.0, "2.0"),
            (-1.5, "-1.5"),
            (123456.789, "123456.789"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e15, "1000000000000000.0"),
            (2.71, "2.71"),
        ] {
            assert_eq!(py_float(f), s, "{f}");
        }
    }

    #[test]
    fn key_lines() {
        let text = "stages:\n  prep:\n    cmd: x\n  train:\n    cmd: y\n    wdir: ../..\n";
        assert_eq!(line_of(text, &["stages", "train", "wdir"]), 6);
        assert_eq!(line_of(text, &["stages", "prep", "cmd"]), 3);
        assert_eq!(line_of(text, &["stages", "nope"]), 1);
    }
}
