//! `.dvc` files, `.dir` listings and `dvc.lock`: what DVC recorded about content.
//!
//! An entry's `path` is kept as written (relative to the `.dvc` file's directory, or to the
//! stage's working directory); callers resolve it with [`super::join_inside`], which refuses
//! anything that leaves the repository. md5 names are checked to be md5 names before any of them
//! becomes part of a path into a cache.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml_ng::Value;

use super::md5::is_md5;
use super::yaml::{self, err};
use crate::error::Result;

/// An output or dependency as DVC recorded it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entry {
    pub path: String,
    /// md5, with `.dir` for a directory; `None` when DVC recorded none (never added, a URL).
    pub md5: Option<String>,
    pub size: Option<u64>,
    pub nfiles: Option<u64>,
    /// No `hash: md5` field: a DVC 2 entry (md5 of text after dos2unix, flat cache layout).
    pub legacy: bool,
    pub isexec: bool,
    /// `cache: false`: the file stays in git, DVC keeps no copy.
    pub cache: bool,
    pub persist: bool,
    /// Line of the entry, for messages.
    pub line: usize,
    /// Keys present that git-ml does not carry over (`remote`, `push`, `desc`...).
    pub other: Vec<String>,
}

impl Entry {
    pub fn is_dir(&self) -> bool {
        self.md5.as_deref().is_some_and(|m| m.ends_with(".dir"))
    }
}

/// A `.dvc` file: usually one output added with `dvc add`; `deps` when it came from
/// `dvc import` or `dvc import-url`.
#[derive(Debug, Clone, Default)]
pub struct DvcFile {
    pub outs: Vec<Entry>,
    pub deps: Vec<Entry>,
    pub wdir: Option<String>,
    pub frozen: bool,
    /// A `cmd` (DVC 1 single-stage files): a pipeline stage git-ml does not convert.
    pub cmd: Option<String>,
}

const ENTRY_KEYS: &[&str] = &[
    "path", "md5", "size", "nfiles", "hash", "isexec", "cache", "persist", "etag", "checksum",
];

fn u64_of(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// Check an md5 name as written (`<32 hex>` or `<32 hex>.dir`).
fn md5_name(v: &Value, file: &str, line: usize) -> Result<String> {
    let s = match v {
        Value::String(s) => s.clone(),
        _ => return Err(err(file, line, "`md5` must be a string")),
    };
    let hex = s.strip_suffix(".dir").unwrap_or(&s);
    if !is_md5(hex) {
        return Err(err(
            file,
            line,
            format!("`md5: {s}` is not an md5 (32 lowercase hex digits, `.dir` for a directory)"),
        ));
    }
    Ok(s)
}

/// One entry of an `outs` or `deps` list. DVC writes `- path: x` mappings; `dvc.yaml`-style
/// `- x` strings and `- x: {cache: false}` mappings are accepted too.
fn entry(v: &Value, file: &str, text: &str, list: &str, index: usize) -> Result<Entry> {
    let line = entry_line(text, list, index);
    let map = match v {
        Value::String(s) => {
            return Ok(Entry {
                path: s.clone(),
                cache: true,
                line,
                ..Default::default()
            });
        }
        Value::Mapping(m) => m,
        _ => {
            return Err(err(
                file,
                line,
                format!("`{list}` entries must be mappings"),
            ));
        }
    };
    let mut e = Entry {
        cache: true,
        line,
        ..Default::default()
    };
    let mut hash = None;
    for (k, val) in map {
        let Some(k) = k.as_str() else {
            return Err(err(file, line, "keys must be strings"));
        };
        match k {
            "path" => {
                e.path = val
                    .as_str()
                    .ok_or_else(|| err(file, line, "`path` must be a string"))?
                    .to_string()
            }
            "md5" => e.md5 = Some(md5_name(val, file, line)?),
            "size" => e.size = u64_of(val),
            "nfiles" => e.nfiles = u64_of(val),
            "hash" => hash = val.as_str().map(str::to_string),
            "isexec" => e.isexec = val.as_bool().unwrap_or(false),
            "cache" => e.cache = val.as_bool().unwrap_or(true),
            "persist" => e.persist = val.as_bool().unwrap_or(false),
            "etag" | "checksum" => e.other.push(k.to_string()),
            other if !ENTRY_KEYS.contains(&other) => e.other.push(other.to_string()),
            _ => {}
        }
    }
    e.legacy = match hash.as_deref() {
        None => true,
        Some("md5") => false,
        Some(h) => {
            return Err(err(
                file,
                line,
                format!("`hash: {h}` is not a hash git-ml can verify (only DVC's md5)"),
            ));
        }
    };
    if e.path.is_empty() {
        return Err(err(file, line, format!("a `{list}` entry has no `path`")));
    }
    Ok(e)
}

/// The line of the `index`-th `- ` item below `list:` (first match), for messages.
fn entry_line(text: &str, list: &str, index: usize) -> usize {
    let start = yaml::line_of(text, &[list]);
    if start == 0 {
        return 0;
    }
    text.lines()
        .enumerate()
        .skip(start)
        .filter(|(_, l)| l.trim_start().starts_with("- ") || l.trim() == "-")
        .nth(index)
        .map_or(start, |(i, _)| i + 1)
}

fn entries(v: Option<&Value>, file: &str, text: &str, list: &str) -> Result<Vec<Entry>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Sequence(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| entry(item, file, text, list, i))
            .collect(),
        Some(_) => Err(err(
            file,
            yaml::line_of(text, &[list]),
            format!("`{list}` must be a list"),
        )),
    }
}

/// Parse a `.dvc` file; `file` is its repository-relative path, for messages.
pub fn parse_dvc_file(text: &str, file: &str) -> Result<DvcFile> {
    let v = yaml::parse(text, file)?;
    let map = match &v {
        Value::Mapping(m) => m,
        Value::Null => return Err(err(file, 1, "empty: no `outs`")),
        _ => return Err(err(file, 1, "expected a mapping with `outs`")),
    };
    let get = |k: &str| map.get(Value::String(k.into()));
    let mut out = DvcFile {
        outs: entries(get("outs"), file, text, "outs")?,
        deps: entries(get("deps"), file, text, "deps")?,
        wdir: get("wdir").and_then(|w| w.as_str()).map(str::to_string),
        frozen: get("frozen").and_then(|f| f.as_bool()).unwrap_or(false),
        cmd: None,
    };
    if let Some(c) = get("cmd") {
        out.cmd = Some(yaml::scalar_text(c).unwrap_or_else(|| format!("{c:?}")));
    }
    if out.outs.is_empty() && out.cmd.is_none() {
        return Err(err(file, 1, "no `outs`: nothing to convert"));
    }
    Ok(out)
}

/// One file of a directory, as a `.dir` listing names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// `/`-separated, relative to the directory; checked safe.
    pub relpath: String,
    pub md5: String,
    pub isexec: bool,
}

/// Largest `.dir` listing read (a 10-million-file directory is about 800 MB of JSON; a bigger
/// one is not a listing DVC wrote).
pub const MAX_DIR_LISTING: u64 = 1 << 30;

/// Whether a listing's relative path is safe to join below the directory.
fn safe_relpath(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && !p.contains('\0')
        && !p.contains('\\')
        && p.split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.eq_ignore_ascii_case(".git"))
}

/// Parse a `.dir` object: a JSON list of `{"md5": ..., "relpath": ...}`. `name` (the object's
/// md5 name) is used in messages. Unsafe or duplicate paths are refused.
pub fn parse_dir(bytes: &[u8], name: &str) -> Result<Vec<DirEntry>> {
    #[derive(serde::Deserialize)]
    struct Raw {
        md5: String,
        relpath: String,
        #[serde(default)]
        isexec: bool,
    }
    let file = format!("DVC directory listing {name}");
    let raw: Vec<Raw> = serde_json::from_slice(bytes)
        .map_err(|e| err(&file, 0, format!("not a `.dir` listing: {e}")))?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for r in raw {
        if !safe_relpath(&r.relpath) {
            return Err(err(
                &file,
                0,
                format!(
                    "unsafe path `{}` (absolute, `..`, `.git` or empty parts): refused",
                    r.relpath
                ),
            ));
        }
        if !is_md5(&r.md5) {
            return Err(err(
                &file,
                0,
                format!("`{}` has a bad md5 `{}`", r.relpath, r.md5),
            ));
        }
        if !seen.insert(r.relpath.clone()) {
            return Err(err(&file, 0, format!("`{}` is listed twice", r.relpath)));
        }
        out.push(DirEntry {
            relpath: r.relpath,
            md5: r.md5,
            isexec: r.isexec,
        });
    }
    // A file cannot also be a directory of the listing.
    for e in &out {
        let mut p = e.relpath.as_str();
        while let Some((parent, _)) = p.rsplit_once('/') {
            if seen.contains(parent) {
                return Err(err(
                    &file,
                    0,
                    format!("`{}` lies below the file `{parent}`", e.relpath),
                ));
            }
            p = parent;
        }
    }
    Ok(out)
}

/// The bytes of the `.dir` object DVC writes for these files: Python's
/// `json.dumps(sorted(entries), sort_keys=True)`, ASCII-escaped. Its md5 (plus `.dir`) names the
/// directory, so a directory can be checked against DVC's name without DVC's listing.
pub fn dir_bytes(entries: &[(String, String)]) -> Vec<u8> {
    let mut sorted: Vec<&(String, String)> = entries.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::from("[");
    for (i, (relpath, md5)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str("{\"md5\": ");
        py_json_str(&mut out, md5);
        out.push_str(", \"relpath\": ");
        py_json_str(&mut out, relpath);
        out.push('}');
    }
    out.push(']');
    out.into_bytes()
}

/// A JSON string as Python's `json.dumps` (with `ensure_ascii`) writes it.
fn py_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            c => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

/// What `dvc.lock` holds for one stage.
#[derive(Debug, Clone, Default)]
pub struct LockStage {
    /// The command as it ran; a list when `cmd` was a list.
    pub cmd: Vec<String>,
    pub deps: Vec<Entry>,
    pub outs: Vec<Entry>,
    /// Params file -> the values it had (a mapping of the keys the stage used).
    pub params: BTreeMap<String, Value>,
    pub line: usize,
}

/// Parse `dvc.lock` (schema 2.0, DVC 2 and 3): stage name -> what its last run saw.
pub fn parse_lock(text: &str, file: &str) -> Result<BTreeMap<String, LockStage>> {
    let v = yaml::parse(text, file)?;
    let mut out = BTreeMap::new();
    let map = match &v {
        Value::Null => return Ok(out),
        Value::Mapping(m) => m,
        _ => {
            return Err(err(
                file,
                1,
                "expected a mapping with `schema` and `stages`",
            ));
        }
    };
    let schema = map
        .get(Value::String("schema".into()))
        .and_then(yaml::scalar_text);
    if schema.as_deref() != Some("2.0") {
        return Err(err(
            file,
            yaml::line_of(text, &["schema"]).max(1),
            format!(
                "lock file schema `{}` is not supported (DVC 2 and 3 write `schema: '2.0'`); run `dvc repro` with DVC 2 or later first",
                schema.unwrap_or_else(|| "none".into())
            ),
        ));
    }
    let Some(stages) = map.get(Value::String("stages".into())) else {
        return Ok(out);
    };
    let stages = match stages {
        Value::Mapping(m) => m,
        Value::Null => return Ok(out),
        _ => {
            return Err(err(
                file,
                yaml::line_of(text, &["stages"]),
                "`stages` must be a mapping",
            ));
        }
    };
    for (name, body) in stages {
        let Some(name) = name.as_str() else {
            return Err(err(
                file,
                yaml::line_of(text, &["stages"]),
                "stage names must be strings",
            ));
        };
        let line = yaml::line_of(text, &["stages", name]);
        let body = match body {
            Value::Mapping(m) => m,
            _ => return Err(err(file, line, format!("stage `{name}` must be a mapping"))),
        };
        // Entries are looked up by position below this stage's own lines.
        let stage_text: String = text
            .lines()
            .skip(line.saturating_sub(1))
            .collect::<Vec<_>>()
            .join("\n");
        let relocate = |mut e: Entry| {
            if e.line > 0 {
                e.line += line.saturating_sub(1);
            }
            e
        };
        let get = |k: &str| body.get(Value::String(k.into()));
        let cmd = match get("cmd") {
            None => Vec::new(),
            Some(Value::Sequence(items)) => items.iter().filter_map(yaml::scalar_text).collect(),
            Some(c) => vec![yaml::scalar_text(c).unwrap_or_default()],
        };
        let mut params = BTreeMap::new();
        if let Some(Value::Mapping(p)) = get("params") {
            for (f, vals) in p {
                if let Some(f) = f.as_str() {
                    params.insert(f.to_string(), vals.clone());
                }
            }
        }
        out.insert(
            name.to_string(),
            LockStage {
                cmd,
                deps: entries(get("deps"), file, &stage_text, "deps")?
                    .into_iter()
                    .map(relocate)
                    .collect(),
                outs: entries(get("outs"), file, &stage_text, "outs")?
                    .into_iter()
                    .map(relocate)
                    .collect(),
                params,
                line,
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dvc_files_of_both_versions() {
        // As DVC 3.67 writes it.
        let v3 = "outs:\n- md5: 5cbe56e5fc1e3919c2d0dc3c61ee0810.dir\n  size: 1009\n  nfiles: 3\n  hash: md5\n  path: imgs\n";
        let f = parse_dvc_file(v3, "imgs.dvc").unwrap();
        assert_eq!(f.outs.len(), 1);
        let o = &f.outs[0];
        assert!(o.is_dir() && !o.legacy && o.cache);
        assert_eq!(
            (o.path.as_str(), o.nfiles, o.size),
            ("imgs", Some(3), Some(1009))
        );
        // DVC 2: no `hash` field.
        let v2 = "outs:\n- md5: b1946ac92492d2347c6235b4d2611184\n  size: 6\n  path: a.txt\n";
        assert!(parse_dvc_file(v2, "a.txt.dvc").unwrap().outs[0].legacy);
    }

    #[test]
    fn hostile_dvc_files_are_refused_with_their_line() {
        let bad_md5 = "outs:\n- md5: ../../../../etc/passwd\n  path: a\n";
        let e = parse_dvc_file(bad_md5, "a.dvc").unwrap_err().to_string();
        assert!(e.starts_with("a.dvc:2: "), "{e}");
        let e = parse_dvc_file("outs: [\n", "b.dvc")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("b.dvc:"), "{e}");
        assert!(parse_dvc_file("- 1\n- 2\n", "c.dvc").is_err());
        let e = parse_dvc_file(
            "outs:\n- md5: b1946ac92492d2347c6235b4d2611184\n  hash: sha1\n  path: a\n",
            "d.dvc",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("sha1"), "{e}");
    }

    #[test]
    fn dir_listing_round_trips_dvc_bytes() {
        // The listing and its md5 as DVC 3.67 wrote them for a three-file directory.
        let listing = br#"[{"md5": "e20942bc0763636e19c18b95bb194501", "relpath": "crlf.txt"}, {"md5": "9dada955b3c9897eb14d73c1e99e4bf6", "relpath": "sub/b.bin"}, {"md5": "88df14e6957d2adb8ae54d0269f546ab", "relpath": "\u00fc.txt"}]"#;
        let entries = parse_dir(listing, "x.dir").unwrap();
        assert_eq!(entries[2].relpath, "ü.txt");
        let pairs: Vec<(String, String)> = entries
            .iter()
            .rev()
            .map(|e| (e.relpath.clone(), e.md5.clone()))
            .collect();
        assert_eq!(dir_bytes(&pairs), listing.to_vec());
        assert_eq!(
            super::super::md5::of(listing),
            "5cbe56e5fc1e3919c2d0dc3c61ee0810"
        );
    }

    #[test]
    fn hostile_listings_are_refused() {
        let m = "b1946ac92492d2347c6235b4d2611184";
        for bad in [
            "../x",
            "/etc/passwd",
            "a/../../b",
            ".git/config",
            "a//b",
            "",
        ] {
            let listing = format!(r#"[{{"md5": "{m}", "relpath": "{bad}"}}]"#);
            assert!(parse_dir(listing.as_bytes(), "x.dir").is_err(), "{bad}");
        }
        let dup =
            format!(r#"[{{"md5": "{m}", "relpath": "a"}}, {{"md5": "{m}", "relpath": "a"}}]"#);
        assert!(parse_dir(dup.as_bytes(), "x.dir").is_err());
        let under =
            format!(r#"[{{"md5": "{m}", "relpath": "a"}}, {{"md5": "{m}", "relpath": "a/b"}}]"#);
        assert!(parse_dir(under.as_bytes(), "x.dir").is_err());
    }

    #[test]
    fn lock_stages() {
        let text = "schema: '2.0'\nstages:\n  prep:\n    cmd: echo 1e-05\n    deps:\n    - path: data/a.txt\n      hash: md5\n      md5: b1946ac92492d2347c6235b4d2611184\n      size: 6\n    params:\n      params.yaml:\n        prep.n: 2\n    outs:\n    - path: feat\n      hash: md5\n      md5: a97f8cba98e3be36aae85c22b350f946.dir\n      size: 14\n      nfiles: 1\n";
        let l = parse_lock(text, "dvc.lock").unwrap();
        let p = &l["prep"];
        assert_eq!(p.cmd, vec!["echo 1e-05".to_string()]);
        assert_eq!(p.deps[0].path, "data/a.txt");
        assert!(p.outs[0].is_dir());
        assert_eq!(p.outs[0].line, 14);
        assert!(p.params.contains_key("params.yaml"));
        let e = parse_lock("schema: '1.0'\n", "dvc.lock")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("dvc.lock:1:"), "{e}");
    }
}
