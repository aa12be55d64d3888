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

/// Sections owned by later features; accepted in `gitml.toml` and kept raw.
const PROJECT_SECTIONS: &[&str] = &[
    "remotes", "metrics", "params", "stages", "gates", "models", "registry", "report", "ci",
    "hooks", "plots",
];

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
}

impl Config {
    /// Load every layer for the repository at `root` with git-ml dir `gitml_dir`.
    pub fn load(root: &Path, gitml_dir: &Path, overrides: &[String]) -> Result<Config> {
        let project_path = root.join(PROJECT_FILE);
        let (project_layer, project) = match std::fs::read_to_string(&project_path) {
            Ok(text) => parse_file(&text, PROJECT_FILE, true)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
            Err(e) => return Err(fs_err::File::open(&project_path).err().unwrap_or(e).into()),
        };
        let local_path = gitml_dir.join(LOCAL_FILE);
        let (local_layer, local_remotes) = match std::fs::read_to_string(&local_path) {
            Ok(text) => {
                let (layer, mut raw) = parse_file(&text, &local_path.display().to_string(), false)?;
                let remotes = match raw.remove("remotes") {
                    Some(toml::Value::Table(t)) => t,
                    _ => toml::Table::new(),
                };
                (layer, remotes)
            }
            Err(_) => Default::default(),
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
        })
    }
}

fn parse_file(text: &str, name: &str, project: bool) -> Result<(Layer, toml::Table)> {
    let err = |message: String| Error::Config {
        file: name.to_string(),
        message,
    };
    let mut table: toml::Table =
        toml::from_str(text).map_err(|e| err(e.to_string().trim().into()))?;
    let raw = table.clone();
    if project {
        for section in PROJECT_SECTIONS {
            table.remove(*section);
        }
    }
    if !project {
        // Read by the remote layer, which allows credentials only here.
        table.remove("remotes");
    }
    let layer: Layer = table
        .try_into()
        .map_err(|e: toml::de::Error| err(e.to_string().trim().into()))?;
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
