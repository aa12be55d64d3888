//! The pipeline: stages declared in `gitml.toml`, ordered by what they produce and consume, run
//! only when something they depend on changed, and restored from a run cache when the same inputs
//! were seen before.
//!
//! The invariant: `gitml.lock` describes, per stage, exactly the inputs (cmd, deps, params) and
//! outputs of its last *successful* run; a failed or interrupted stage leaves its entry untouched
//! and caches nothing, so "up to date" can always be trusted.

pub mod dag;
pub mod hash;
pub mod lockfile;
pub mod merge;
pub mod run;
pub mod runcache;

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// A param a stage depends on: a key in a params file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ParamRef {
    pub file: String,
    pub key: String,
}

impl ParamRef {
    /// The name used in `gitml.lock` and messages: `key`, or `file:key` outside the default file.
    pub fn label(&self, default_file: &str) -> String {
        if self.file == default_file {
            self.key.clone()
        } else {
            format!("{}:{}", self.file, self.key)
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Stage {
    pub name: String,
    pub cmd: String,
    pub deps: Vec<String>,
    pub outs: Vec<String>,
    pub params: Vec<ParamRef>,
    pub metrics: Vec<String>,
    pub plots: Vec<String>,
    /// Directory the command runs in, relative to the repository root.
    pub wdir: Option<String>,
    pub env: BTreeMap<String, String>,
    pub always_run: bool,
    /// Keep the outputs in place while the command runs (it updates them, e.g. a checkpoint);
    /// by default outputs whose content is in the cache are removed first.
    pub persist: bool,
    /// Line of `[stages.NAME]` in `gitml.toml`, for messages.
    pub line: usize,
}

impl Stage {
    /// What defines the stage (everything but where it is written), for comparing a stage as it
    /// ran with the same stage at another revision.
    pub fn definition(&self) -> serde_json::Value {
        serde_json::json!({
            "cmd": self.cmd,
            "deps": self.deps,
            "outs": self.outs,
            "params": self.params.iter().map(|p| format!("{}:{}", p.file, p.key)).collect::<Vec<_>>(),
            "metrics": self.metrics,
            "wdir": self.wdir,
            "env": self.env,
            "always_run": self.always_run,
            "persist": self.persist,
        })
    }

    /// `gitml.toml:LINE [stages.NAME]`, naming where the stage is declared.
    pub fn origin(&self) -> String {
        format!(
            "{}:{} [stages.{}]",
            crate::config::PROJECT_FILE,
            self.line,
            self.name
        )
    }
}

const STAGE_KEYS: &[&str] = &[
    "cmd",
    "deps",
    "outs",
    "params",
    "metrics",
    "plots",
    "wdir",
    "env",
    "always_run",
    "persist",
];

/// The default params file: the first `[params] files` entry, else `params.yaml`.
pub fn default_params_file(project: &toml::Table) -> String {
    project
        .get("params")
        .and_then(|p| p.get("files"))
        .and_then(|f| match f {
            toml::Value::String(s) => Some(s.clone()),
            toml::Value::Array(a) => a.first().and_then(|v| v.as_str()).map(str::to_string),
            _ => None,
        })
        .unwrap_or_else(|| "params.yaml".into())
}

fn origin(name: &str, line: usize) -> String {
    format!("{}:{line} [stages.{name}]", crate::config::PROJECT_FILE)
}

/// git-ml's own files, which no stage may produce (they would be replaced by pointers).
fn is_own_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    path == crate::config::PROJECT_FILE
        || path == lockfile::FILE
        || name == ".gitignore"
        || name.ends_with(crate::data::pointer::SUFFIX)
}

/// Parse `[stages.*]`; `text` is the file, for line numbers.
pub fn stages(project: &toml::Table, text: &str) -> Result<Vec<Stage>> {
    let Some(table) = project.get("stages") else {
        return Ok(Vec::new());
    };
    let table = table.as_table().ok_or_else(|| Error::Config {
        file: crate::config::PROJECT_FILE.into(),
        message: "`stages` must be a table of `[stages.NAME]` sections".into(),
    })?;
    let default_params = default_params_file(project);
    // The line of each `[stages.NAME]` header, for error messages; found in one pass.
    let mut headers: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, l) in text.lines().enumerate() {
        if let Some(name) = l
            .trim()
            .strip_prefix("[stages.")
            .and_then(|r| r.strip_suffix(']'))
        {
            let name = name
                .strip_prefix('"')
                .and_then(|n| n.strip_suffix('"'))
                .unwrap_or(name);
            headers.entry(name).or_insert(i + 1);
        }
    }
    let mut out = Vec::new();
    for (name, v) in table {
        let line = headers.get(name.as_str()).copied().unwrap_or(0);
        let bad = |message: String| Error::Config {
            file: format!("{}:{line}", crate::config::PROJECT_FILE),
            message: format!("[stages.{name}] {message}"),
        };
        let t = v.as_table().ok_or_else(|| bad("must be a table".into()))?;
        for key in t.keys() {
            if !STAGE_KEYS.contains(&key.as_str()) {
                return Err(bad(format!(
                    "unknown key `{key}`; known keys: {}",
                    STAGE_KEYS.join(", ")
                )));
            }
        }
        let list = |key: &str| -> Result<Vec<String>> {
            match t.get(key) {
                None => Ok(Vec::new()),
                Some(toml::Value::String(s)) => Ok(vec![s.clone()]),
                Some(toml::Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(|s| s.trim_end_matches('/').to_string())
                            .ok_or_else(|| bad(format!("`{key}` entries must be strings")))
                    })
                    .collect(),
                Some(_) => Err(bad(format!(
                    "`{key}` must be a string or a list of strings"
                ))),
            }
        };
        let cmd = match t.get("cmd") {
            Some(toml::Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(toml::Value::Array(parts)) if !parts.is_empty() => parts
                .iter()
                .map(|p| p.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("`cmd` list entries must be strings".into()))?
                .join(" && "),
            None => return Err(bad("needs `cmd = \"...\"`, the command to run".into())),
            Some(toml::Value::String(_)) | Some(toml::Value::Array(_)) => {
                return Err(bad("`cmd` is empty".into()));
            }
            Some(other) => {
                return Err(bad(format!(
                    "`cmd` must be a string or a list of strings, not {}",
                    other.type_str()
                )));
            }
        };
        let params = list("params")?
            .into_iter()
            .map(|p| match p.split_once(':') {
                Some((file, key)) => ParamRef {
                    file: file.to_string(),
                    key: key.to_string(),
                },
                None => ParamRef {
                    file: default_params.clone(),
                    key: p,
                },
            })
            .collect();
        let mut env = BTreeMap::new();
        if let Some(e) = t.get("env") {
            let e = e
                .as_table()
                .ok_or_else(|| bad("`env` must be a table of NAME = \"value\"".into()))?;
            for (k, v) in e {
                let v = match v {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                env.insert(k.clone(), v);
            }
        }
        let always_run = match t.get("always_run") {
            None => false,
            Some(v) => v
                .as_bool()
                .ok_or_else(|| bad("`always_run` must be true or false".into()))?,
        };
        let persist = match t.get("persist") {
            None => false,
            Some(v) => v
                .as_bool()
                .ok_or_else(|| bad("`persist` must be true or false".into()))?,
        };
        let wdir = match t.get("wdir") {
            None => None,
            Some(v) => {
                let w = v
                    .as_str()
                    .ok_or_else(|| bad("`wdir` must be a path".into()))?
                    .trim_end_matches('/');
                match w.trim_start_matches("./") {
                    "" | "." => None,
                    w => {
                        crate::data::path::check_relative(w, &|| {
                            format!("{} `wdir`", origin(name, line))
                        })?;
                        Some(w.to_string())
                    }
                }
            }
        };
        let stage = Stage {
            name: name.clone(),
            cmd,
            deps: list("deps")?,
            outs: list("outs")?,
            params,
            metrics: list("metrics")?,
            plots: list("plots")?,
            wdir,
            env,
            always_run,
            persist,
            line,
        };
        for p in stage
            .deps
            .iter()
            .chain(&stage.outs)
            .chain(&stage.metrics)
            .chain(&stage.plots)
            .chain(stage.params.iter().map(|p| &p.file))
        {
            crate::data::path::check_relative(p, &|| stage.origin())?;
        }
        for o in &stage.outs {
            if is_own_file(o) {
                return Err(bad(format!(
                    "`{o}` cannot be an output: git-ml's own files (gitml.toml, gitml.lock, .gitignore, `*.gitml` pointers) stay in git"
                )));
            }
        }
        out.push(stage);
    }
    Ok(out)
}
