//! `dvc.yaml`: stages, top-level `metrics`, `params`, `plots` and `artifacts`, with DVC's
//! templating resolved: `vars` (and `params.yaml`, loaded by default), `${...}` interpolation,
//! and `foreach`/`matrix` stages expanded to one stage per item, named as DVC names them in
//! `dvc.lock` (`train@small`, `mx@1-x`).
//!
//! Paths are returned as written (relative to the `dvc.yaml` directory, then to the stage's
//! `wdir`); the caller resolves them and refuses any that leave the repository.

use std::collections::BTreeMap;

use serde_yaml_ng::{Mapping, Value};

use super::yaml::{self, err, scalar_text};
use crate::error::Result;

/// An output, metric or plot of a stage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Out {
    pub path: String,
    pub cache: bool,
    pub persist: bool,
    /// Plot properties (stage `plots` only).
    pub plot: Option<PlotProps>,
    /// Keys git-ml does not carry over (`remote`, `push`, `desc`, ...).
    pub other: Vec<String>,
}

/// How a plot is drawn, in the terms git-ml's `[plots.*]` tables use.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlotProps {
    pub x: Option<Field>,
    pub y: Option<Field>,
    pub title: Option<String>,
    pub x_label: Option<String>,
    pub y_label: Option<String>,
    pub template: Option<String>,
    /// Keys git-ml's plots cannot express.
    pub other: Vec<String>,
}

/// A plot axis: one field, several fields, or fields of named files (`{file: field}`).
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    One(String),
    Many(Vec<String>),
    /// file -> its field(s)
    Files(Vec<(String, Vec<String>)>),
}

/// A `params` entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// Keys in a file (`None`: the default `params.yaml` of the stage's directory).
    Keys {
        file: Option<String>,
        keys: Vec<String>,
    },
    /// Every key of the file (`- file.yaml:` with nothing after it).
    WholeFile(String),
}

#[derive(Debug, Clone, Default)]
pub struct Stage {
    /// As in `dvc.lock`: `name`, `name@item`, `name@a-b`.
    pub name: String,
    pub line: usize,
    pub cmd: Vec<String>,
    pub wdir: Option<String>,
    pub deps: Vec<String>,
    pub params: Vec<Param>,
    pub outs: Vec<Out>,
    pub metrics: Vec<Out>,
    pub plots: Vec<Out>,
    pub frozen: bool,
    pub always_changed: bool,
    pub desc: Option<String>,
    /// Keys git-ml does not carry over (`meta`, ...).
    pub other: Vec<String>,
}

/// A top-level plot definition.
#[derive(Debug, Clone, Default)]
pub struct TopPlot {
    /// The id DVC shows: a path, or a name whose `y` names the files.
    pub id: String,
    pub props: PlotProps,
    pub line: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Artifact {
    pub path: String,
    pub kind: Option<String>,
    pub line: usize,
    pub other: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct DvcYaml {
    pub stages: Vec<Stage>,
    pub metrics: Vec<String>,
    pub params: Vec<String>,
    pub plots: Vec<TopPlot>,
    pub artifacts: BTreeMap<String, Artifact>,
    /// Top-level keys git-ml does not know, with their line.
    pub other: Vec<(String, usize)>,
}

/// At most this many stages from one `foreach` or `matrix` (a hostile file could ask for a
/// product of astronomical size).
const MAX_EXPANDED: usize = 10_000;

/// Reads a file relative to the `dvc.yaml` directory (`vars` files, `params.yaml`); `None` when
/// it does not exist.
pub type Reader<'a> = &'a dyn Fn(&str) -> Option<String>;

fn key(k: &str) -> Value {
    Value::String(k.to_string())
}

/// Load a vars/params file into a mapping.
fn load_vars(
    path: &str,
    keys: Option<&[String]>,
    file: &str,
    line: usize,
    read: Reader,
) -> Result<Mapping> {
    let text =
        read(path).ok_or_else(|| err(file, line, format!("vars file `{path}` does not exist")))?;
    let lower = path.to_ascii_lowercase();
    let value: Value = if lower.ends_with(".toml") {
        let t: toml::Value = toml::from_str(&text)
            .map_err(|e| err(path, 0, format!("not valid TOML: {}", e.message())))?;
        serde_yaml_ng::to_value(t).map_err(|e| err(path, 0, e.to_string()))?
    } else if lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json") {
        yaml::parse(&text, path)?
    } else {
        return Err(err(
            file,
            line,
            format!(
                "vars file `{path}`: only YAML, JSON and TOML files can be read (Python params files cannot)"
            ),
        ));
    };
    let map = match value {
        Value::Mapping(m) => m,
        Value::Null => Mapping::new(),
        _ => return Err(err(path, 1, "expected a mapping of names to values")),
    };
    Ok(match keys {
        None => map,
        Some(keys) => {
            let mut out = Mapping::new();
            for k in keys {
                let v = lookup(&Value::Mapping(map.clone()), k)
                    .ok_or_else(|| err(file, line, format!("`{k}` is not in `{path}`")))?;
                out.insert(key(k), v);
            }
            out
        }
    })
}

/// `a.b[0].c` in `ctx`.
fn lookup(ctx: &Value, expr: &str) -> Option<Value> {
    let mut cur = ctx.clone();
    for part in expr.split('.') {
        let (name, rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            cur = match &cur {
                Value::Mapping(m) => m.get(key(name))?.clone(),
                _ => return None,
            };
        }
        let mut rest = rest;
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let idx = r[..end].trim();
            cur = match &cur {
                Value::Sequence(s) => s.get(idx.parse::<usize>().ok()?)?.clone(),
                Value::Mapping(m) => m.get(key(idx))?.clone(),
                _ => return None,
            };
            rest = &r[end + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(cur)
}

/// Interpolate one string. A string that is exactly one `${...}` takes the value's type.
fn interpolate(s: &str, ctx: &Value, at: &dyn Fn(String) -> crate::error::Error) -> Result<Value> {
    let trimmed = s.trim();
    if trimmed.starts_with("${")
        && trimmed.ends_with('}')
        && trimmed.matches("${").count() == 1
        && !trimmed.starts_with("\\${")
    {
        let expr = trimmed[2..trimmed.len() - 1].trim();
        return lookup(ctx, expr).ok_or_else(|| {
            at(format!(
                "`${{{expr}}}` is not defined (in `vars` or `params.yaml`)"
            ))
        });
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        if i > 0 && rest.as_bytes()[i - 1] == b'\\' {
            out.push_str(&rest[..i - 1]);
            out.push_str("${");
            rest = &rest[i + 2..];
            continue;
        }
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| at(format!("unclosed `${{` in `{s}`")))?;
        let expr = after[..end].trim();
        let v = lookup(ctx, expr).ok_or_else(|| {
            at(format!(
                "`${{{expr}}}` is not defined (in `vars` or `params.yaml`)"
            ))
        })?;
        let text = scalar_text(&v).ok_or_else(|| {
            at(format!(
                "`${{{expr}}}` is a list or mapping; git-ml resolves only values that print as text (DVC's dict unpacking into `cmd` is not converted)"
            ))
        })?;
        out.push_str(&text);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Value::String(out))
}

/// Resolve every string (and mapping key) in `v`.
fn resolve(v: &Value, ctx: &Value, at: &dyn Fn(String) -> crate::error::Error) -> Result<Value> {
    Ok(match v {
        Value::String(s) if s.contains("${") => interpolate(s, ctx, at)?,
        Value::Sequence(items) => Value::Sequence(
            items
                .iter()
                .map(|i| resolve(i, ctx, at))
                .collect::<Result<_>>()?,
        ),
        Value::Mapping(m) => {
            let mut out = Mapping::new();
            for (k, val) in m {
                let k = match k {
                    Value::String(s) if s.contains("${") => {
                        let r = interpolate(s, ctx, at)?;
                        Value::String(scalar_text(&r).unwrap_or_default())
                    }
                    other => other.clone(),
                };
                out.insert(k, resolve(val, ctx, at)?);
            }
            Value::Mapping(out)
        }
        other => other.clone(),
    })
}

fn merge(into: &mut Mapping, from: Mapping) {
    for (k, v) in from {
        into.insert(k, v);
    }
}

/// `vars:` entries into `ctx`.
fn apply_vars(
    ctx: &mut Mapping,
    vars: &Value,
    file: &str,
    line: usize,
    read: Reader,
) -> Result<()> {
    let items = match vars {
        Value::Sequence(s) => s.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    };
    for item in items {
        match item {
            Value::String(s) => {
                let (path, keys) = match s.split_once(':') {
                    Some((p, k)) => (
                        p.to_string(),
                        Some(
                            k.split(',')
                                .map(|k| k.trim().to_string())
                                .filter(|k| !k.is_empty())
                                .collect::<Vec<_>>(),
                        ),
                    ),
                    None => (s.clone(), None),
                };
                merge(ctx, load_vars(&path, keys.as_deref(), file, line, read)?);
            }
            Value::Mapping(m) => merge(ctx, m),
            _ => return Err(err(file, line, "`vars` entries are file names or mappings")),
        }
    }
    Ok(())
}

fn str_list(v: Option<&Value>, what: &str, file: &str, line: usize) -> Result<Vec<String>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|i| {
                scalar_text(i)
                    .ok_or_else(|| err(file, line, format!("`{what}` entries must be paths")))
            })
            .collect(),
        Some(v) => scalar_text(v)
            .map(|s| vec![s])
            .ok_or_else(|| err(file, line, format!("`{what}` must be a list of paths"))),
    }
}

fn field(v: &Value) -> Option<Field> {
    match v {
        Value::Sequence(items) => Some(Field::Many(items.iter().filter_map(scalar_text).collect())),
        Value::Mapping(m) => {
            let mut files = Vec::new();
            for (f, fields) in m {
                let f = scalar_text(f)?;
                let fields = match fields {
                    Value::Sequence(s) => s.iter().filter_map(scalar_text).collect(),
                    other => vec![scalar_text(other)?],
                };
                files.push((f, fields));
            }
            Some(Field::Files(files))
        }
        other => scalar_text(other).map(Field::One),
    }
}

fn plot_props(m: &Mapping, skip: &[&str]) -> PlotProps {
    let mut p = PlotProps::default();
    for (k, v) in m {
        let Some(k) = k.as_str() else { continue };
        match k {
            "x" => p.x = field(v),
            "y" => p.y = field(v),
            "title" => p.title = scalar_text(v),
            "x_label" => p.x_label = scalar_text(v),
            "y_label" => p.y_label = scalar_text(v),
            "template" => p.template = scalar_text(v),
            k if skip.contains(&k) => {}
            other => p.other.push(other.to_string()),
        }
    }
    p
}

/// `outs`, `metrics` or `plots`: `- path` or `- path: {cache: false, ...}`.
fn outs(v: Option<&Value>, what: &str, file: &str, line: usize) -> Result<Vec<Out>> {
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Sequence(s)) => s,
        Some(_) => return Err(err(file, line, format!("`{what}` must be a list"))),
    };
    let mut out = Vec::new();
    for item in items {
        match item {
            Value::Mapping(m) if m.len() == 1 => {
                let (p, props) = m.iter().next().expect("one entry");
                let path = scalar_text(p)
                    .ok_or_else(|| err(file, line, format!("`{what}` paths must be strings")))?;
                let mut o = Out {
                    path,
                    cache: true,
                    ..Default::default()
                };
                if let Value::Mapping(props) = props {
                    for (k, v) in props {
                        match k.as_str() {
                            Some("cache") => o.cache = v.as_bool().unwrap_or(true),
                            Some("persist") => o.persist = v.as_bool().unwrap_or(false),
                            Some("x" | "y" | "title" | "x_label" | "y_label" | "template")
                                if what == "plots" => {}
                            Some(k) => o.other.push(k.to_string()),
                            None => {}
                        }
                    }
                    if what == "plots" {
                        o.plot = Some(plot_props(
                            props,
                            &["cache", "persist", "desc", "remote", "push"],
                        ));
                    }
                }
                out.push(o);
            }
            other => {
                let path = scalar_text(other).ok_or_else(|| {
                    err(
                        file,
                        line,
                        format!("`{what}` entries are paths or `path: {{...}}` mappings"),
                    )
                })?;
                out.push(Out {
                    path,
                    cache: true,
                    ..Default::default()
                });
            }
        }
    }
    Ok(out)
}

fn params(v: Option<&Value>, file: &str, line: usize) -> Result<Vec<Param>> {
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Sequence(s)) => s,
        Some(_) => return Err(err(file, line, "`params` must be a list")),
    };
    let mut out = Vec::new();
    for item in items {
        match item {
            Value::Mapping(m) => {
                for (f, keys) in m {
                    let f = scalar_text(f)
                        .ok_or_else(|| err(file, line, "params file names must be strings"))?;
                    match keys {
                        Value::Null => out.push(Param::WholeFile(f)),
                        Value::Sequence(s) if s.is_empty() => out.push(Param::WholeFile(f)),
                        Value::Sequence(s) => out.push(Param::Keys {
                            file: Some(f),
                            keys: s
                                .iter()
                                .map(|k| {
                                    scalar_text(k).ok_or_else(|| {
                                        err(file, line, "param keys must be strings")
                                    })
                                })
                                .collect::<Result<_>>()?,
                        }),
                        other => out.push(Param::Keys {
                            file: Some(f),
                            keys: vec![
                                scalar_text(other)
                                    .ok_or_else(|| err(file, line, "param keys must be strings"))?,
                            ],
                        }),
                    }
                }
            }
            other => out.push(Param::Keys {
                file: None,
                keys: vec![scalar_text(other).ok_or_else(|| {
                    err(file, line, "`params` entries are keys or `file: [keys]`")
                })?],
            }),
        }
    }
    Ok(out)
}

const STAGE_KEYS: &[&str] = &[
    "cmd",
    "wdir",
    "deps",
    "params",
    "outs",
    "metrics",
    "plots",
    "frozen",
    "always_changed",
    "desc",
    "vars",
];

fn stage_from(name: String, body: &Mapping, file: &str, line: usize) -> Result<Stage> {
    let get = |k: &str| body.get(key(k));
    let cmd = match get("cmd") {
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|c| {
                scalar_text(c).ok_or_else(|| {
                    err(
                        file,
                        line,
                        format!("stage `{name}`: `cmd` entries must be strings"),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?,
        Some(c) => vec![scalar_text(c).ok_or_else(|| {
            err(
                file,
                line,
                format!("stage `{name}`: `cmd` must be a string or list"),
            )
        })?],
        None => return Err(err(file, line, format!("stage `{name}` has no `cmd`"))),
    };
    let mut other = Vec::new();
    for k in body.keys() {
        if let Some(k) = k.as_str()
            && !STAGE_KEYS.contains(&k)
        {
            other.push(k.to_string());
        }
    }
    Ok(Stage {
        line,
        cmd,
        wdir: get("wdir").and_then(scalar_text),
        deps: str_list(get("deps"), "deps", file, line)?,
        params: params(get("params"), file, line)?,
        outs: outs(get("outs"), "outs", file, line)?,
        metrics: outs(get("metrics"), "metrics", file, line)?,
        plots: outs(get("plots"), "plots", file, line)?,
        frozen: get("frozen").and_then(|f| f.as_bool()).unwrap_or(false),
        always_changed: get("always_changed")
            .and_then(|f| f.as_bool())
            .unwrap_or(false),
        desc: get("desc").and_then(scalar_text),
        other,
        name,
    })
}

/// The name suffix DVC gives a `foreach` item or `matrix` value.
fn suffix(v: &Value) -> Option<String> {
    match v {
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.into()),
        Value::Sequence(_) | Value::Mapping(_) | Value::Null => None,
        other => scalar_text(other),
    }
}

/// Parse `dvc.yaml`; `file` is its repository-relative path; `read` reads files next to it.
pub fn parse(text: &str, file: &str, read: Reader) -> Result<DvcYaml> {
    let v = yaml::parse(text, file)?;
    let top = match v {
        Value::Mapping(m) => m,
        Value::Null => Mapping::new(),
        _ => return Err(err(file, 1, "expected a mapping with `stages`")),
    };
    let mut out = DvcYaml::default();
    // `params.yaml` next to dvc.yaml is always part of the templating context.
    let mut ctx = Mapping::new();
    if read("params.yaml").is_some() {
        merge(&mut ctx, load_vars("params.yaml", None, file, 0, read)?);
    }
    if let Some(vars) = top.get(key("vars")) {
        apply_vars(&mut ctx, vars, file, yaml::line_of(text, &["vars"]), read)?;
    }
    let global = Value::Mapping(ctx.clone());
    for (k, v) in &top {
        let Some(k) = k.as_str() else { continue };
        let line = yaml::line_of(text, &[k]);
        match k {
            "stages" | "vars" => {}
            "metrics" => {
                out.metrics = str_list(
                    Some(&resolve(v, &global, &|m| err(file, line, m))?),
                    "metrics",
                    file,
                    line,
                )?
            }
            "params" => {
                out.params = str_list(
                    Some(&resolve(v, &global, &|m| err(file, line, m))?),
                    "params",
                    file,
                    line,
                )?
            }
            "plots" => {
                let v = resolve(v, &global, &|m| err(file, line, m))?;
                let Value::Sequence(items) = v else {
                    return Err(err(file, line, "`plots` must be a list"));
                };
                for item in items {
                    match item {
                        Value::Mapping(m) if m.len() == 1 => {
                            let (id, props) = m.iter().next().expect("one entry");
                            let id = scalar_text(id)
                                .ok_or_else(|| err(file, line, "plot ids must be strings"))?;
                            let props = match props {
                                Value::Mapping(p) => plot_props(p, &[]),
                                _ => PlotProps::default(),
                            };
                            let pline = yaml::line_of(text, &["plots", &id]).max(line);
                            out.plots.push(TopPlot {
                                id,
                                props,
                                line: pline,
                            });
                        }
                        other => {
                            let id = scalar_text(&other).ok_or_else(|| {
                                err(
                                    file,
                                    line,
                                    "`plots` entries are paths or `id: {...}` mappings",
                                )
                            })?;
                            out.plots.push(TopPlot {
                                id,
                                props: PlotProps::default(),
                                line,
                            });
                        }
                    }
                }
            }
            "artifacts" => {
                let Value::Mapping(arts) = v else {
                    return Err(err(file, line, "`artifacts` must be a mapping"));
                };
                for (name, a) in arts {
                    let Some(name) = name.as_str() else { continue };
                    let aline = yaml::line_of(text, &["artifacts", name]).max(line);
                    let Value::Mapping(a) = resolve(a, &global, &|m| err(file, aline, m))? else {
                        return Err(err(
                            file,
                            aline,
                            format!("artifact `{name}` must be a mapping with `path`"),
                        ));
                    };
                    let path = a.get(key("path")).and_then(scalar_text).ok_or_else(|| {
                        err(file, aline, format!("artifact `{name}` has no `path`"))
                    })?;
                    let other = a
                        .keys()
                        .filter_map(|k| k.as_str())
                        .filter(|k| !matches!(*k, "path" | "type" | "desc"))
                        .map(str::to_string)
                        .collect();
                    out.artifacts.insert(
                        name.to_string(),
                        Artifact {
                            path,
                            kind: a.get(key("type")).and_then(scalar_text),
                            line: aline,
                            other,
                        },
                    );
                }
            }
            other => out.other.push((other.to_string(), line)),
        }
    }
    let stages = match top.get(key("stages")) {
        None | Some(Value::Null) => return Ok(out),
        Some(Value::Mapping(m)) => m.clone(),
        Some(_) => {
            return Err(err(
                file,
                yaml::line_of(text, &["stages"]),
                "`stages` must be a mapping",
            ));
        }
    };
    for (name, body) in &stages {
        let name = name
            .as_str()
            .ok_or_else(|| {
                err(
                    file,
                    yaml::line_of(text, &["stages"]),
                    "stage names must be strings",
                )
            })?
            .to_string();
        let line = yaml::line_of(text, &["stages", &name]);
        let at = |m: String| err(file, line, format!("stage `{name}`: {m}"));
        if name.is_empty() || name.contains(['@', ':', '/', '\n', '"', '\\']) {
            return Err(at(
                "stage names use letters, digits, `-`, `_` and `.`".into()
            ));
        }
        let Value::Mapping(body) = body else {
            return Err(at("must be a mapping".into()));
        };
        // Stage-level `vars` add to the context for this stage only.
        let mut sctx = ctx.clone();
        if let Some(vars) = body.get(key("vars")) {
            apply_vars(&mut sctx, vars, file, line, read)?;
        }
        let sctx = Value::Mapping(sctx);
        let mut items: Vec<(String, Mapping)> = Vec::new();
        if let Some(fe) = body.get(key("foreach")) {
            let fe = match fe {
                Value::String(s) => interpolate(s, &sctx, &at)?,
                other => resolve(other, &sctx, &at)?,
            };
            let Some(Value::Mapping(template)) = body.get(key("do")) else {
                return Err(at("`foreach` needs a `do` mapping".into()));
            };
            let len = match &fe {
                Value::Sequence(l) => l.len(),
                Value::Mapping(m) => m.len(),
                _ => 0,
            };
            if len > MAX_EXPANDED {
                return Err(at(format!(
                    "`foreach` expands to more than {MAX_EXPANDED} stages; refused"
                )));
            }
            match fe {
                Value::Sequence(list) => {
                    for (i, item) in list.iter().enumerate() {
                        let mut c = Mapping::new();
                        c.insert(key("item"), item.clone());
                        c.insert(key("key"), Value::Number(i.into()));
                        let s = suffix(item).unwrap_or_else(|| i.to_string());
                        items.push((format!("{name}@{s}"), c));
                    }
                }
                Value::Mapping(map) => {
                    for (k, item) in map {
                        let ks = scalar_text(&k)
                            .ok_or_else(|| at("`foreach` keys must be text".into()))?;
                        let mut c = Mapping::new();
                        c.insert(key("item"), item.clone());
                        c.insert(key("key"), k.clone());
                        items.push((format!("{name}@{ks}"), c));
                    }
                }
                _ => return Err(at("`foreach` must be a list or a mapping".into())),
            }
            for (n, extra) in items {
                let mut c = match &sctx {
                    Value::Mapping(m) => m.clone(),
                    _ => Mapping::new(),
                };
                merge(&mut c, extra);
                let resolved = resolve(&Value::Mapping(template.clone()), &Value::Mapping(c), &at)?;
                let Value::Mapping(body) = resolved else {
                    unreachable!("a mapping resolves to a mapping")
                };
                out.stages.push(stage_from(n, &body, file, line)?);
            }
            continue;
        }
        if let Some(mx) = body.get(key("matrix")) {
            let Value::Mapping(mx) = resolve(mx, &sctx, &at)? else {
                return Err(at("`matrix` must be a mapping of names to lists".into()));
            };
            // Cartesian product, in the order written.
            let mut combos: Vec<(Vec<String>, Mapping)> = vec![(Vec::new(), Mapping::new())];
            for (k, values) in &mx {
                let ks = scalar_text(k).ok_or_else(|| at("`matrix` names must be text".into()))?;
                let Value::Sequence(values) = values else {
                    return Err(at(format!("`matrix.{ks}` must be a list")));
                };
                if combos.len().saturating_mul(values.len()) > MAX_EXPANDED {
                    return Err(at(format!(
                        "`matrix` expands to more than {MAX_EXPANDED} stages; refused"
                    )));
                }
                let mut next = Vec::new();
                for (names, item) in &combos {
                    for (i, v) in values.iter().enumerate() {
                        let mut names = names.clone();
                        names.push(suffix(v).unwrap_or_else(|| format!("{ks}{i}")));
                        let mut item = item.clone();
                        item.insert(k.clone(), v.clone());
                        next.push((names, item));
                    }
                }
                combos = next;
            }
            let mut template = body.clone();
            template.remove(key("matrix"));
            template.remove(key("vars"));
            for (names, item) in combos {
                let mut c = match &sctx {
                    Value::Mapping(m) => m.clone(),
                    _ => Mapping::new(),
                };
                c.insert(key("item"), Value::Mapping(item));
                let resolved = resolve(&Value::Mapping(template.clone()), &Value::Mapping(c), &at)?;
                let Value::Mapping(body) = resolved else {
                    unreachable!("a mapping resolves to a mapping")
                };
                out.stages.push(stage_from(
                    format!("{name}@{}", names.join("-")),
                    &body,
                    file,
                    line,
                )?);
            }
            continue;
        }
        let resolved = resolve(&Value::Mapping(body.clone()), &sctx, &at)?;
        let Value::Mapping(body) = resolved else {
            unreachable!("a mapping resolves to a mapping")
        };
        out.stages
            .push(stage_from(name.clone(), &body, file, line)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
vars:
  - extra: 3
stages:
  prep:
    cmd: head -n ${prep.n} a > b && echo ${prep.ratio} ${extra}
    deps: [a]
    params: [prep.n]
    outs: [feat]
  train:
    foreach: ${models}
    do:
      cmd: train ${item} --lr ${train.lr}
      params:
        - train
        - other.yaml:
          - seed
        - other.yaml:
      outs: ["model-${item}.txt"]
      metrics:
        - m-${item}.json:
            cache: false
  mx:
    matrix:
      a: [1, 2]
      b: [x]
    cmd: echo ${item.a}${item.b}
    outs: ["mx-${item.a}-${item.b}.txt"]
  plotit:
    cmd: make-plot
    plots:
      - loss.csv:
          x: step
          y: loss
          title: Loss
    frozen: true
plots:
  - confusion:
      template: confusion
      x: actual
      y:
        preds.csv: predicted
artifacts:
  clf:
    path: model-small.txt
    type: model
"#;

    fn reader(p: &str) -> Option<String> {
        match p {
            "params.yaml" => Some(
                "prep:\n  n: 2\n  ratio: 0.00001\ntrain:\n  lr: 0.1\nmodels: [small, big]\n".into(),
            ),
            _ => None,
        }
    }

    #[test]
    fn expands_and_interpolates_like_dvc() {
        let y = parse(YAML, "dvc.yaml", &reader).unwrap();
        let names: Vec<&str> = y.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "prep",
                "train@small",
                "train@big",
                "mx@1-x",
                "mx@2-x",
                "plotit"
            ]
        );
        // The command exactly as dvc.lock records it (Python prints 0.00001 as 1e-05).
        assert_eq!(
            y.stages[0].cmd,
            vec!["head -n 2 a > b && echo 1e-05 3".to_string()]
        );
        let t = &y.stages[1];
        assert_eq!(t.cmd, vec!["train small --lr 0.1".to_string()]);
        assert_eq!(t.outs[0].path, "model-small.txt");
        assert!(!t.metrics[0].cache);
        assert_eq!(t.params[2], Param::WholeFile("other.yaml".into()));
        assert_eq!(y.stages[3].outs[0].path, "mx-1-x.txt");
        let p = y.stages[5].plots[0].plot.as_ref().unwrap();
        assert_eq!(p.x, Some(Field::One("step".into())));
        assert!(y.stages[5].frozen);
        assert_eq!(y.plots[0].props.template.as_deref(), Some("confusion"));
        assert_eq!(y.artifacts["clf"].kind.as_deref(), Some("model"));
    }

    #[test]
    fn undefined_and_malformed_name_their_line() {
        let e = parse(
            "stages:\n  a:\n    cmd: echo ${nope}\n",
            "dvc.yaml",
            &|_| None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("dvc.yaml:2: stage `a`"), "{e}");
        assert!(e.contains("nope"), "{e}");
        let e = parse("stages:\n  a: [\n", "dvc.yaml", &|_| None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("dvc.yaml:"), "{e}");
        let e = parse("stages:\n  a:\n    deps: [x]\n", "dvc.yaml", &|_| None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no `cmd`"), "{e}");
        // A matrix asking for 100^4 stages is refused before it is built.
        let values: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        let list = values.join(", ");
        let bomb = format!(
            "stages:\n  m:\n    matrix:\n      a: [{list}]\n      b: [{list}]\n      c: [{list}]\n      d: [{list}]\n    cmd: x\n"
        );
        let e = parse(&bomb, "dvc.yaml", &|_| None).unwrap_err().to_string();
        assert!(e.contains("more than 10000"), "{e}");
        // Escaped interpolation stays literal.
        let y = parse(
            "stages:\n  a:\n    cmd: echo \\${HOME}\n",
            "dvc.yaml",
            &|_| None,
        )
        .unwrap();
        assert_eq!(y.stages[0].cmd, vec!["echo ${HOME}".to_string()]);
    }
}
