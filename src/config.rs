//! Configuration, layered in one documented order:
//! built-in defaults < `gitml.toml` (committed) < `<common dir>/gitml/config.toml` (this machine)
//! < `GITML_*` environment variables < `-c key=value` on the command line.
//!
//! Each layer is parsed on its own into [`Layer`], so an error names the file (with line and
//! column) or the variable it came from; layers are then merged field by field. Sections that
//! later features own (`remotes`, `stages`, ...) are kept as raw TOML in [`Config::project`].

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

pub const PROJECT_FILE: &str = "gitml.toml";
pub const LOCAL_FILE: &str = "config.toml";

/// How a working-tree file is made from a cache object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkMode {
    /// Copy-on-write clone (btrfs, XFS, APFS): instant, no extra space, safe to edit.
    Reflink,
    /// A plain copy: always works, safe to edit.
    Copy,
    /// A hard link to the read-only cache object: instant, no extra space, not editable in place.
    Hardlink,
    /// A symbolic link to the cache object: instant, no extra space, not editable in place.
    Symlink,
}

impl LinkMode {
    pub fn name(self) -> &'static str {
        match self {
            LinkMode::Reflink => "reflink",
            LinkMode::Copy => "copy",
            LinkMode::Hardlink => "hardlink",
            LinkMode::Symlink => "symlink",
        }
    }

    pub fn parse(s: &str) -> Option<LinkMode> {
        Some(match s.trim() {
            "reflink" => LinkMode::Reflink,
            "copy" => LinkMode::Copy,
            "hardlink" => LinkMode::Hardlink,
            "symlink" => LinkMode::Symlink,
            _ => return None,
        })
    }
}

/// One layer of settings; `None` means "not set here".
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layer {
    #[serde(default)]
    core: CoreLayer,
    #[serde(default)]
    cache: CacheLayer,
    #[serde(default)]
    gc: GcLayer,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct GcLayer {
    keep_commits: Option<usize>,
    grace: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CoreLayer {
    jobs: Option<usize>,
    lock_timeout: Option<u64>,
    remote: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheLayer {
    dir: Option<PathBuf>,
    link: Option<Vec<LinkMode>>,
}

/// `gitml.toml` as a whole, for checking: the settings layer, and the sections the features read
/// from the raw table (accepted here so that an unknown section is an error that lists them all,
/// with the line and column of the mistake).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ProjectFile {
    #[serde(default)]
    core: CoreLayer,
    #[serde(default)]
    cache: CacheLayer,
    #[serde(default)]
    gc: GcLayer,
    remotes: Option<serde::de::IgnoredAny>,
    metrics: Option<serde::de::IgnoredAny>,
    params: Option<serde::de::IgnoredAny>,
    stages: Option<serde::de::IgnoredAny>,
    plots: Option<serde::de::IgnoredAny>,
    gates: Option<serde::de::IgnoredAny>,
    models: Option<serde::de::IgnoredAny>,
    registry: Option<serde::de::IgnoredAny>,
    report: Option<serde::de::IgnoredAny>,
    data: Option<serde::de::IgnoredAny>,
    ci: Option<serde::de::IgnoredAny>,
    hooks: Option<serde::de::IgnoredAny>,
}

/// The machine-local `config.toml`: the settings layer and remotes (which may hold credentials).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct LocalFile {
    #[serde(default)]
    core: CoreLayer,
    #[serde(default)]
    cache: CacheLayer,
    #[serde(default)]
    gc: GcLayer,
    remotes: Option<serde::de::IgnoredAny>,
}

/// A TOML error as one line: `line L, column C: message`, never the offending text itself (a
/// hostile or binary file may have a 600 KB line).
pub fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let mut message = e.message().trim().replace('\n', " ");
    if message.len() > 300 {
        let mut cut = 300;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push_str("...");
    }
    match e.span() {
        Some(span) => {
            let before = &text.as_bytes()[..span.start.min(text.len())];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
            // Name the key when the line is `key = value` (the message alone often does not).
            let start = span.start.min(text.len()) + 1 - col;
            let key = text[start..]
                .lines()
                .next()
                .and_then(|l| l.split_once('='))
                .map(|(k, _)| k.trim())
                .filter(|k| !k.is_empty() && k.len() <= 60 && !k.starts_with('['));
            match key {
                Some(k) => format!(
                    "line {line}, column {col}: `{}`: {message}",
                    crate::text::escape_control(k)
                ),
                None => format!("line {line}, column {col}: {message}"),
            }
        }
        None => message,
    }
}

/// Keys settable from the environment and `-c`, with their variable names.
pub const SCALAR_KEYS: &[(&str, &str)] = &[
    ("core.jobs", "GITML_CORE_JOBS"),
    ("core.lock_timeout", "GITML_CORE_LOCK_TIMEOUT"),
    ("cache.dir", "GITML_CACHE_DIR"),
    ("cache.link", "GITML_CACHE_LINK"),
    ("core.remote", "GITML_CORE_REMOTE"),
    ("gc.keep_commits", "GITML_GC_KEEP_COMMITS"),
    ("gc.grace", "GITML_GC_GRACE"),
];

#[derive(Debug, Clone)]
pub struct Config {
    /// Worker threads for hashing and copying.
    pub jobs: usize,
    /// Seconds to wait for another git-ml process holding the repository lock.
    pub lock_timeout: u64,
    /// Cache directory (absolute).
    pub cache_dir: PathBuf,
    /// Link modes to try, in order, when materialising files.
    pub link: Vec<LinkMode>,
    /// The default remote's name (`core.remote`).
    pub remote: Option<String>,
    /// `gc` keeps what the last this-many commits of every branch point to.
    pub gc_keep_commits: usize,
    /// `gc` never removes an object younger than this (a push not yet committed).
    pub gc_grace: std::time::Duration,
    /// The whole `gitml.toml`, for the sections later features read.
    pub project: toml::Table,
    /// The `[remotes]` section of the machine-local config (it may hold credentials).
    pub local_remotes: toml::Table,
    /// Settings that were read but not applied, and why (the CLI prints them as warnings).
    pub warnings: Vec<String>,
}

impl Config {
    /// Load every layer for the repository at `root` with git-ml dir `gitml_dir`.
    pub fn load(root: &Path, gitml_dir: &Path, overrides: &[String]) -> Result<Config> {
        let project_path = root.join(PROJECT_FILE);
        let (project_layer, project) = match read_text(&project_path, PROJECT_FILE)? {
            Some(text) => parse_file(&text, PROJECT_FILE, true)?,
            None => Default::default(),
        };
        let local_path = gitml_dir.join(LOCAL_FILE);
        let local_name = local_path.display().to_string();
        let (local_layer, local_remotes) = match read_text(&local_path, &local_name)? {
            Some(text) => {
                let (layer, mut raw) = parse_file(&text, &local_name, false)?;
                let remotes = match raw.remove("remotes") {
                    Some(toml::Value::Table(t)) => t,
                    _ => toml::Table::new(),
                };
                (layer, remotes)
            }
            None => Default::default(),
        };
        let mut env_layer = Layer::default();
        for (key, var) in SCALAR_KEYS {
            if let Ok(value) = std::env::var(var) {
                set_key(
                    &mut env_layer,
                    key,
                    &value,
                    &format!("environment variable `{var}`"),
                )?;
            }
        }
        let mut cli_layer = Layer::default();
        for o in overrides {
            let (key, value) = o.split_once('=').ok_or_else(|| Error::ConfigValue {
                key: o.clone(),
                origin: "`-c`".into(),
                message: "expected `key=value`".into(),
            })?;
            set_key(&mut cli_layer, key.trim(), value.trim(), "`-c`")?;
        }
        let mut warnings = Vec::new();
        let mut project_layer = project_layer;
        // A cloned repository must not decide where git-ml writes (and sweeps) on this machine:
        // the committed file may only place the cache inside the repository.
        if let Some(dir) = project_layer.cache.dir.take() {
            let common = gitml_dir.parent().unwrap_or(gitml_dir);
            if is_inside(&root.join(&dir), &[root, common]) {
                project_layer.cache.dir = Some(dir);
            } else {
                warnings.push(format!(
                    "`{PROJECT_FILE}` sets `cache.dir = \"{}\"`, outside the repository; ignored (a cloned repository may not choose where git-ml writes on this machine): set it in `.git/gitml/config.toml`, `GITML_CACHE_DIR` or `-c cache.dir=...` to use it",
                    dir.display()
                ));
            }
        }
        // Highest precedence first.
        let layers = [&cli_layer, &env_layer, &local_layer, &project_layer];
        let jobs = layers
            .iter()
            .find_map(|l| l.core.jobs)
            // Twice the cores (at least 4): stat and read calls block in the kernel, and a
            // no-change status on 10,000 files measured fastest with the pool oversubscribed.
            .unwrap_or_else(|| {
                let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
                (2 * cores).clamp(4, 64)
            });
        let lock_timeout = layers
            .iter()
            .find_map(|l| l.core.lock_timeout)
            .unwrap_or(600);
        let cache_dir = layers
            .iter()
            .find_map(|l| l.cache.dir.clone())
            .map(|d| if d.is_absolute() { d } else { root.join(d) })
            .unwrap_or_else(|| gitml_dir.join("cache"));
        let link = layers
            .iter()
            .find_map(|l| l.cache.link.clone())
            .unwrap_or_else(|| vec![LinkMode::Reflink, LinkMode::Copy]);
        let remote = layers.iter().find_map(|l| l.core.remote.clone());
        let gc_keep_commits = layers.iter().find_map(|l| l.gc.keep_commits).unwrap_or(10);
        let gc_grace = match layers.iter().find_map(|l| l.gc.grace.clone()) {
            Some(text) => parse_duration(&text).ok_or_else(|| Error::ConfigValue {
                key: "gc.grace".into(),
                origin: "configuration".into(),
                message: format!(
                    "`{text}` is not a duration like `0`, `90s`, `30m`, `24h` or `7d`"
                ),
            })?,
            None => std::time::Duration::from_secs(24 * 3600),
        };
        Ok(Config {
            jobs: jobs.max(1),
            lock_timeout,
            cache_dir,
            link,
            remote,
            gc_keep_commits,
            gc_grace,
            project,
            local_remotes,
            warnings,
        })
    }
}

/// Whether `path` (absolute) lies inside one of `roots`, judged after resolving `..` and the
/// symlinks of its longest existing ancestor, so neither `../x` nor a link can lead out.
fn is_inside(path: &Path, roots: &[&Path]) -> bool {
    let mut normal = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                normal.pop();
            }
            std::path::Component::CurDir => {}
            other => normal.push(other),
        }
    }
    let mut existing = normal.as_path();
    let mut rest = Vec::new();
    let resolved = loop {
        match std::fs::canonicalize(existing) {
            Ok(p) => break rest.iter().rev().fold(p, |acc: PathBuf, c| acc.join(c)),
            Err(_) => match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_os_string());
                    existing = parent;
                }
                _ => break normal.clone(),
            },
        }
    };
    roots.iter().any(|r| {
        let r = std::fs::canonicalize(r).unwrap_or_else(|_| r.to_path_buf());
        resolved.starts_with(&r)
    })
}

/// Check the text of a `gitml.toml` (staged, say) the way loading it would: the settings, the
/// stages, gates, declared files and hooks settings.
pub fn check_project_text(text: &str) -> Result<()> {
    let (_, project) = parse_file(text, PROJECT_FILE, true)?;
    crate::pipeline::stages(&project, text)?;
    crate::gate::gates(&project)?;
    crate::profile::gate::gates(&project)?;
    crate::profile::selection(&project)?;
    crate::record::capture::Declared::from_project(&project)?;
    crate::hooks::Settings::from_project(&project)?;
    Ok(())
}

/// A config file's text; `None` if it does not exist. Not UTF-8 is an error naming it.
fn read_text(path: &Path, name: &str) -> Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|e| Error::Config {
                file: name.to_string(),
                message: format!(
                    "not valid UTF-8 (at byte {}); TOML files are UTF-8 text",
                    e.utf8_error().valid_up_to()
                ),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(fs_err::File::open(path).err().unwrap_or(e).into()),
    }
}

fn parse_file(text: &str, name: &str, project: bool) -> Result<(Layer, toml::Table)> {
    let err = |message: String| Error::Config {
        file: name.to_string(),
        message,
    };
    let raw: toml::Table = toml::from_str(text).map_err(|e| err(toml_error(text, &e)))?;
    // Deserialised from the text, not the table, so a wrong type has its line and column.
    let layer = if project {
        let f: ProjectFile = toml::from_str(text).map_err(|e| err(toml_error(text, &e)))?;
        Layer {
            core: f.core,
            cache: f.cache,
            gc: f.gc,
        }
    } else {
        let f: LocalFile = toml::from_str(text).map_err(|e| err(toml_error(text, &e)))?;
        Layer {
            core: f.core,
            cache: f.cache,
            gc: f.gc,
        }
    };
    Ok((layer, raw))
}

fn set_key(layer: &mut Layer, key: &str, value: &str, origin: &str) -> Result<()> {
    let bad = |message: String| Error::ConfigValue {
        key: key.to_string(),
        origin: origin.to_string(),
        message,
    };
    match key {
        "core.jobs" => {
            layer.core.jobs = Some(
                value
                    .parse()
                    .map_err(|_| bad(format!("`{value}` is not a whole number")))?,
            )
        }
        "core.lock_timeout" => {
            layer.core.lock_timeout = Some(
                value
                    .parse()
                    .map_err(|_| bad(format!("`{value}` is not a number of seconds")))?,
            )
        }
        "cache.dir" => layer.cache.dir = Some(PathBuf::from(value)),
        "core.remote" => layer.core.remote = Some(value.to_string()),
        "gc.keep_commits" => {
            layer.gc.keep_commits = Some(
                value
                    .parse()
                    .map_err(|_| bad(format!("`{value}` is not a whole number")))?,
            )
        }
        "gc.grace" => {
            parse_duration(value).ok_or_else(|| {
                bad(format!(
                    "`{value}` is not a duration like `0`, `90s`, `30m`, `24h` or `7d`"
                ))
            })?;
            layer.gc.grace = Some(value.to_string());
        }
        "cache.link" => {
            let modes = value
                .split(',')
                .map(|m| {
                    LinkMode::parse(m).ok_or_else(|| {
                        bad(format!(
                            "`{m}` is not one of reflink, copy, hardlink, symlink"
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            layer.cache.link = Some(modes);
        }
        _ => {
            let known: Vec<&str> = SCALAR_KEYS.iter().map(|(k, _)| *k).collect();
            return Err(bad(format!(
                "unknown key; known keys: {}",
                known.join(", ")
            )));
        }
    }
    Ok(())
}

/// `90`, `90s`, `30m`, `24h`, `7d`.
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (n, unit) = text.split_at(split);
    let n: u64 = n.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(secs))
}

/// The commented, minimal `gitml.toml` that `git ml init` writes.
pub const INIT_TEMPLATE: &str = r#"# git-ml project file: commit it. Reference: docs/configuration.md
#
# Settings here are shared by everyone who clones the repository. Machine-specific settings go in
# `.git/gitml/config.toml` (same keys), or in `GITML_*` variables, or `git ml -c key=value`.

[cache]
# Where cache objects live. Default: `.git/gitml/cache` (shared by all worktrees).
# dir = "/mnt/fast/gitml-cache"
# How data is placed in the work tree, tried in order: reflink, copy, hardlink, symlink.
# Hardlinks and symlinks save space but make files read-only.
# link = ["reflink", "copy"]
"#;
