//! Metrics and params files (JSON, YAML, TOML), flattened to `dotted.keys`.
//!
//! Nested tables become dotted keys (`train.loss`), list items get their index (`layers.0`).
//! Numbers stay numbers; NaN and infinities (which YAML and TOML can spell, JSON cannot) are kept
//! as the strings `"nan"`, `"inf"`, `"-inf"` so nothing is silently dropped or turned into `null`;
//! they take no part in arithmetic. A file that does not parse is an error naming it and the line.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{Error, Result};

/// Flattened key -> value.
pub type Values = BTreeMap<String, Value>;

/// The file formats we read, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    Toml,
}

impl Format {
    pub fn of(path: &str) -> Option<Format> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".json") {
            Some(Format::Json)
        } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Some(Format::Yaml)
        } else if lower.ends_with(".toml") {
            Some(Format::Toml)
        } else {
            None
        }
    }
}

/// Deeper nesting than this is refused before parsing: nobody's metrics are 64 levels deep, and
/// some parsers take quadratic time on deeply nested flow collections.
const MAX_DEPTH: usize = 64;

/// Parse and flatten `text`, the content of `name`.
pub fn parse(text: &str, name: &str) -> Result<Values> {
    parse_report(text, name).map(|(values, _)| values)
}

/// [`parse`], with the warnings it has: keys that collide once flattened (`{"a.b": 1, "a":
/// {"b": 2}}`: the later one is kept).
pub fn parse_report(text: &str, name: &str) -> Result<(Values, Vec<String>)> {
    let bad = |message: String| {
        let mut message = message.replace('\n', " ");
        if message.len() > 300 {
            let mut cut = 300;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str("...");
        }
        Error::Metrics {
            file: name.to_string(),
            message,
        }
    };
    let format = Format::of(name).ok_or_else(|| {
        bad("unknown format: metrics and params files end in .json, .yaml, .yml or .toml".into())
    })?;
    if nesting(text) > MAX_DEPTH {
        return Err(bad(format!(
            "nested more than {MAX_DEPTH} levels deep; metrics and params are a table of names and values"
        )));
    }
    let value: Value = match format {
        Format::Json => match serde_json::from_str(text) {
            Ok(v) => v,
            // Python's `json.dump` writes bare NaN and Infinity, which JSON does not allow; they
            // are what users' code emits, so read them (as the strings non-finite values become).
            Err(e) => relax_json(text)
                .and_then(|t| serde_json::from_str(&t).ok())
                .ok_or_else(|| bad(e.to_string()))?,
        },
        Format::Yaml => {
            let y: serde_yaml_ng::Value =
                serde_yaml_ng::from_str(text).map_err(|e| bad(e.to_string()))?;
            yaml_to_json(y)
        }
        Format::Toml => {
            let t: toml::Value =
                toml::from_str(text).map_err(|e| bad(crate::config::toml_error(text, &e)))?;
            toml_to_json(t)
        }
    };
    let mut out = Values::new();
    let mut warnings = Vec::new();
    match value {
        Value::Object(_) => flatten("", value, &mut out, &mut |key| {
            warnings.push(format!(
                "{name}: `{key}` appears twice once nested keys are joined with `.`; the last one is kept"
            ))
        }),
        Value::Null => {}
        other => {
            return Err(bad(format!(
                "expected a table of names and values at the top, found {}",
                kind(&other)
            )));
        }
    }
    Ok((out, warnings))
}

/// The deepest nesting of `[`/`{` outside quoted strings (an upper bound for YAML block style,
/// which it does not count; serde_yaml bounds that itself).
fn nesting(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '[' | '{' => {
                    depth += 1;
                    max = max.max(depth);
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    max
}

/// JSON with Python's bare `NaN`, `Infinity` and `-Infinity` written as the strings git-ml keeps
/// non-finite values as; `None` if there were none to rewrite.
fn relax_json(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_string = false;
    let mut escaped = false;
    let mut changed = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else {
            let token = [
                ("-Infinity", "\"-inf\""),
                ("Infinity", "\"inf\""),
                ("NaN", "\"nan\""),
            ]
            .into_iter()
            .find(|(t, _)| rest.starts_with(t));
            if let Some((t, replacement)) = token {
                out.push_str(replacement);
                rest = &rest[t.len()..];
                changed = true;
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    changed.then_some(out)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

fn flatten(prefix: &str, v: Value, out: &mut Values, collided: &mut dyn FnMut(&str)) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(&key(&k), v, out, collided);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.into_iter().enumerate() {
                flatten(&key(&i.to_string()), v, out, collided);
            }
        }
        other => {
            if out.insert(prefix.to_string(), other).is_some() {
                collided(prefix);
            }
        }
    }
}

/// A float as JSON: non-finite values as strings.
pub fn float(f: f64) -> Value {
    match serde_json::Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("nan".into()),
        None if f > 0.0 => Value::String("inf".into()),
        None => Value::String("-inf".into()),
    }
}

fn yaml_to_json(v: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let k = match k {
                        Y::String(s) => s,
                        other => serde_yaml_ng::to_string(&other)
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    };
                    (k, yaml_to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => yaml_to_json(t.value),
    }
}

fn toml_to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => float(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

/// A `key=value` from the command line: a number if it reads as one, else a string.
pub fn parse_assignment(text: &str) -> Result<(String, Value)> {
    let (k, v) = text
        .split_once('=')
        .ok_or_else(|| Error::Other(format!("`{text}` is not `name=value`")))?;
    let k = k.trim();
    if k.is_empty() {
        return Err(Error::Other(format!("`{text}` has an empty name")));
    }
    let v = v.trim();
    // An integer literal stays an integer (`epochs=10` is 10, not 10.0).
    let value = if let Ok(i) = v.parse::<i64>() {
        Value::from(i)
    } else if let Ok(f) = v.parse::<f64>() {
        float(f)
    } else {
        Value::String(v.to_string())
    };
    Ok((k.to_string(), value))
}

/// The number in a value, if it is a finite one.
pub fn as_number(v: &Value) -> Option<f64> {
    v.as_f64().filter(|f| f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_flatten_alike() {
        let j = parse(
            r#"{"train": {"loss": 0.25, "acc": 0.9}, "layers": [64, 32]}"#,
            "m.json",
        )
        .unwrap();
        let y = parse(
            "train:\n  loss: 0.25\n  acc: 0.9\nlayers: [64, 32]\n",
            "m.yaml",
        )
        .unwrap();
        let t = parse(
            "layers = [64, 32]\n[train]\nloss = 0.25\nacc = 0.9\n",
            "m.toml",
        )
        .unwrap();
        assert_eq!(j, y);
        assert_eq!(j, t);
        assert_eq!(j["train.loss"], Value::from(0.25));
        assert_eq!(j["layers.1"], Value::from(32));
    }

    #[test]
    fn non_finite_numbers_survive_as_strings() {
        let y = parse("a: .nan\nb: .inf\nc: -.inf\n", "m.yaml").unwrap();
        assert_eq!(y["a"], Value::from("nan"));
        assert_eq!(y["b"], Value::from("inf"));
        assert_eq!(y["c"], Value::from("-inf"));
        let t = parse("a = nan\nb = -inf\n", "m.toml").unwrap();
        assert_eq!(t["a"], Value::from("nan"));
        assert!(as_number(&t["b"]).is_none());
    }

    #[test]
    fn bad_files_name_themselves() {
        let e = parse("{\"a\": 1,,}", "metrics.json")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("metrics.json:"), "{e}");
        assert!(parse("[1, 2]", "m.json").is_err());
        assert!(parse("a: 1", "m.txt").is_err());
    }

    #[test]
    fn python_json_and_hostile_shapes() {
        let v = parse(
            r#"{"loss": NaN, "best": Infinity, "worst": -Infinity, "s": "NaN"}"#,
            "m.json",
        )
        .unwrap();
        assert_eq!(v["loss"], Value::from("nan"));
        assert_eq!(v["best"], Value::from("inf"));
        assert_eq!(v["worst"], Value::from("-inf"));
        assert_eq!(
            v["s"],
            Value::from("NaN"),
            "text inside strings is left alone"
        );
        let (_, warnings) = parse_report(r#"{"a.b": 1, "a": {"b": 2}}"#, "m.json").unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let deep = format!("a: {}1{}", "{b: ".repeat(100_000), "}".repeat(100_000));
        let t = std::time::Instant::now();
        let e = parse(&deep, "m.yaml").unwrap_err().to_string();
        assert!(e.contains("nested"), "{e}");
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
        let long = format!("{{\"a\": [{}x]}}", "1,".repeat(300_000));
        let e = parse(&long, "m.json").unwrap_err().to_string();
        assert!(e.len() < 500, "{} bytes", e.len());
    }

    #[test]
    fn assignments() {
        assert_eq!(
            parse_assignment("lr=0.01").unwrap(),
            ("lr".into(), Value::from(0.01))
        );
        assert_eq!(
            parse_assignment("epochs=10").unwrap(),
            ("epochs".into(), Value::from(10))
        );
        assert_eq!(
            parse_assignment("opt=adam").unwrap(),
            ("opt".into(), Value::from("adam"))
        );
        assert!(parse_assignment("novalue").is_err());
    }
}
