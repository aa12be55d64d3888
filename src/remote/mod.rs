//! Remotes: where cache objects go to be shared — a directory, an S3-compatible object store
//! (also GCS and Azure through the same object-store layer), or read-only HTTP(S).
//!
//! Every remote mirrors the cache layout (`blake3/ab/cdef...`), so any clone can read any remote.
//! The invariants: an object downloaded from a remote enters the cache only after its bytes hash
//! to its name; and a directory's manifest chunks go up only after all their files, its root only
//! after all its chunks — so a root (or chunk) present on a remote means everything below it is.
//! Settings come from `[remotes.NAME]` in `gitml.toml` and the machine-local config; credentials
//! only from the latter, the environment or an AWS profile, and they never reach any output.

pub mod edit;
pub mod gc;
mod store;
pub mod transfer;
pub mod transport;

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::{Error, Result};

pub use transport::{RemoteObject, Transport};

pub(crate) use store::runtime;

/// Keys a `[remotes.NAME]` table may have in `gitml.toml`.
const PROJECT_KEYS: &[&str] = &[
    "url",
    "endpoint",
    "region",
    "path_style",
    "allow_http",
    "anonymous",
    "account",
    "profile",
    "jobs",
];
/// Keys that hold secrets: only in the machine-local config.
const SECRET_KEYS: &[&str] = &["access_key_id", "secret_access_key", "session_token"];

/// What a remote URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A directory on this machine (local disk, NFS mount).
    Dir(PathBuf),
    /// `s3://bucket/prefix` on AWS or any S3-compatible endpoint.
    S3 { bucket: String, prefix: String },
    /// `gs://bucket/prefix`.
    Gcs { bucket: String, prefix: String },
    /// `az://container/prefix`.
    Azure { container: String, prefix: String },
    /// `http(s)://...`, read-only.
    Http(String),
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Dir(_) => "directory",
            Kind::S3 { .. } => "s3",
            Kind::Gcs { .. } => "gcs",
            Kind::Azure { .. } => "azure",
            Kind::Http(_) => "http",
        }
    }
}

/// A remote's settings, merged from `gitml.toml` and the machine-local config.
#[derive(Clone, Default)]
pub struct RemoteSpec {
    pub name: String,
    pub url: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub path_style: Option<bool>,
    pub allow_http: Option<bool>,
    pub anonymous: bool,
    /// Azure: the storage account (default `AZURE_STORAGE_ACCOUNT_NAME`).
    pub account: Option<String>,
    pub profile: Option<String>,
    pub jobs: Option<usize>,
    pub(crate) access_key_id: Option<String>,
    pub(crate) secret_access_key: Option<String>,
    pub(crate) session_token: Option<String>,
}

// Never derive Debug: it would print the keys.
impl std::fmt::Debug for RemoteSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSpec")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("endpoint", &self.endpoint)
            .field("has_keys", &self.secret_access_key.is_some())
            .finish()
    }
}

impl RemoteSpec {
    /// A remote with only a name and URL (for checking a URL before it is saved).
    pub fn new(name: &str, url: &str) -> RemoteSpec {
        RemoteSpec {
            name: name.into(),
            url: url.into(),
            ..Default::default()
        }
    }

    /// Parse the URL; relative directory paths are relative to the repository root.
    pub fn kind(&self, root: &Path) -> Result<Kind> {
        let url = self.url.trim();
        let bad = |message: String| Error::RemoteConfig {
            remote: self.name.clone(),
            message,
        };
        let split = |rest: &str| -> Result<(String, String)> {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad(format!("`{url}` names no bucket")));
            }
            Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
        };
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = split(rest)?;
            return Ok(Kind::S3 { bucket, prefix });
        }
        if let Some(rest) = url.strip_prefix("gs://") {
            let (bucket, prefix) = split(rest)?;
            return Ok(Kind::Gcs { bucket, prefix });
        }
        if let Some(rest) = url.strip_prefix("az://") {
            let (container, prefix) = split(rest)?;
            return Ok(Kind::Azure { container, prefix });
        }
        if url.starts_with("http://") || url.starts_with("https://") {
            return Ok(Kind::Http(url.trim_end_matches('/').to_string()));
        }
        if let Some(path) = url.strip_prefix("file://") {
            return Ok(Kind::Dir(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(bad(format!(
                "unsupported URL scheme `{scheme}://`; use a path, `file://`, `s3://`, `gs://`, `az://`, `http://` or `https://`"
            )));
        }
        if url.is_empty() {
            return Err(bad("`url` is empty".into()));
        }
        let path = Path::new(url);
        Ok(Kind::Dir(if path.is_absolute() {
            path.to_path_buf()
        } else {
            root.join(path)
        }))
    }
}

/// Every configured remote, sorted by name.
pub fn list(config: &Config) -> Result<Vec<RemoteSpec>> {
    let mut names: Vec<String> = Vec::new();
    for table in [remotes_table(&config.project), Some(&config.local_remotes)]
        .into_iter()
        .flatten()
    {
        names.extend(table.keys().cloned());
    }
    names.sort();
    names.dedup();
    names.iter().map(|n| spec(config, n)).collect()
}

fn remotes_table(project: &toml::Table) -> Option<&toml::Table> {
    project.get("remotes").and_then(|v| v.as_table())
}

/// The settings of remote `name`, or an error listing the known ones.
pub fn spec(config: &Config, name: &str) -> Result<RemoteSpec> {
    let project = remotes_table(&config.project).and_then(|t| t.get(name));
    let local = config.local_remotes.get(name);
    if project.is_none() && local.is_none() {
        let known = match remotes_table(&config.project) {
            Some(t) => t.keys().cloned().collect(),
            None => Vec::new(),
        };
        return Err(Error::UnknownRemote {
            name: name.into(),
            known,
        });
    }
    let mut spec = RemoteSpec {
        name: name.to_string(),
        ..Default::default()
    };
    if let Some(v) = project {
        apply(&mut spec, v, false)?;
    }
    if let Some(v) = local {
        apply(&mut spec, v, true)?;
    }
    if spec.url.is_empty() {
        return Err(Error::RemoteConfig {
            remote: name.into(),
            message: "no `url` is set".into(),
        });
    }
    for s in [&spec.secret_access_key, &spec.session_token]
        .into_iter()
        .flatten()
    {
        crate::error::register_secret(s);
    }
    Ok(spec)
}

fn apply(spec: &mut RemoteSpec, value: &toml::Value, local: bool) -> Result<()> {
    let file = if local {
        ".git/gitml/config.toml"
    } else {
        crate::config::PROJECT_FILE
    };
    let bad = |message: String| Error::Config {
        file: file.to_string(),
        message: format!("[remotes.{}] {message}", spec.name),
    };
    let table = value
        .as_table()
        .ok_or_else(|| bad("must be a table".into()))?;
    for (key, v) in table {
        let key = key.as_str();
        if SECRET_KEYS.contains(&key) && !local {
            // Say so without echoing the value.
            return Err(Error::Config {
                file: file.to_string(),
                message: format!(
                    "[remotes.{}] `{key}` is a secret and must not be committed; move it to `.git/gitml/config.toml` or the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`)",
                    spec.name
                ),
            });
        }
        if !PROJECT_KEYS.contains(&key) && !SECRET_KEYS.contains(&key) {
            return Err(bad(format!(
                "unknown key `{key}`; known keys: {}",
                PROJECT_KEYS.join(", ")
            )));
        }
        let string = || {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| bad(format!("`{key}` must be a string")))
        };
        let boolean = || {
            v.as_bool()
                .ok_or_else(|| bad(format!("`{key}` must be true or false")))
        };
        if matches!(key, "url" | "endpoint")
            && let Some(text) = v.as_str()
            && !crate::error::userinfo_ranges(text).is_empty()
        {
            if !local {
                // Say so without echoing the value.
                return Err(bad(format!(
                    "`{key}` carries credentials (`user:password@`), which must not be committed; move the remote to `.git/gitml/config.toml` (`git ml remote add --local`), or give the credentials through the environment"
                )));
            }
            for r in crate::error::userinfo_ranges(text) {
                let info = &text[r];
                crate::error::register_secret(info);
                if let Some((_, password)) = info.split_once(':') {
                    crate::error::register_secret(password);
                }
            }
        }
        match key {
            "url" => spec.url = string()?,
            "endpoint" => spec.endpoint = Some(string()?),
            "region" => spec.region = Some(string()?),
            "path_style" => spec.path_style = Some(boolean()?),
            "allow_http" => spec.allow_http = Some(boolean()?),
            "anonymous" => spec.anonymous = boolean()?,
            "account" => spec.account = Some(string()?),
            "profile" => spec.profile = Some(string()?),
            "jobs" => {
                let n = v
                    .as_integer()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad("`jobs` must be a positive whole number".into()))?;
                spec.jobs = Some(n as usize);
            }
            "access_key_id" => spec.access_key_id = Some(string()?),
            "secret_access_key" => spec.secret_access_key = Some(string()?),
            "session_token" => spec.session_token = Some(string()?),
            _ => unreachable!("keys checked above"),
        }
    }
    Ok(())
}

/// The remote to use: `-r NAME`, else `core.remote`, else the only one configured.
pub fn choose(config: &Config, name: Option<&str>) -> Result<RemoteSpec> {
    if let Some(n) = name.or(config.remote.as_deref()) {
        return spec(config, n);
    }
    let all = list(config)?;
    match all.len() {
        0 => Err(Error::NoRemote),
        1 => Ok(all.into_iter().next().expect("one remote")),
        count => Err(Error::NoDefaultRemote { count }),
    }
}

/// Connect to a remote (no network traffic yet). Directory remotes may hard-link objects with
/// the cache unless the work tree may hold hard links to cache objects.
pub fn open(spec: &RemoteSpec, root: &Path, config: &Config) -> Result<Box<dyn Transport>> {
    use crate::config::LinkMode;
    // Objects a work-tree file may link to are never shared with a remote (see
    // `Cache::prepare_for_worktree_link`): not when the configuration links, nor once a
    // checkout has (`--link` on the command line leaves a marker in the cache).
    let link = !config
        .link
        .iter()
        .any(|m| matches!(m, LinkMode::Hardlink | LinkMode::Symlink))
        && !crate::data::cache::Cache::new(config.cache_dir.clone()).has_worktree_links();
    for var in [
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AZURE_STORAGE_ACCOUNT_KEY",
        "AZURE_STORAGE_SAS_KEY",
        "GOOGLE_SERVICE_ACCOUNT_KEY",
    ] {
        if let Ok(v) = std::env::var(var) {
            crate::error::register_secret(&v);
        }
    }
    match spec.kind(root)? {
        Kind::Dir(path) => Ok(Box::new(transport::DirTransport::new(
            &spec.name, path, link,
        ))),
        kind => Ok(Box::new(store::StoreTransport::new(spec, kind)?)),
    }
}

/// Parallel transfers: `-j`, else the remote's `jobs`, else a default for its kind (directory
/// copies are disk-bound, like `core.jobs`; object stores are latency-bound and want more).
pub fn jobs(spec: &RemoteSpec, kind: &Kind, config: &Config, flag: Option<usize>) -> usize {
    flag.or(spec.jobs)
        .unwrap_or(match kind {
            Kind::Dir(_) => config.jobs.min(8),
            _ => 16,
        })
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str) -> RemoteSpec {
        RemoteSpec {
            name: "r".into(),
            url: url.into(),
            ..Default::default()
        }
    }

    #[test]
    fn urls_name_their_kind() {
        let root = Path::new("/repo");
        assert_eq!(
            spec("s3://b/some/prefix/").kind(root).unwrap(),
            Kind::S3 {
                bucket: "b".into(),
                prefix: "some/prefix".into()
            }
        );
        assert_eq!(
            spec("../store").kind(root).unwrap(),
            Kind::Dir("/repo/../store".into())
        );
        assert_eq!(
            spec("file:///mnt/x").kind(root).unwrap(),
            Kind::Dir("/mnt/x".into())
        );
        assert!(matches!(
            spec("https://h/x/").kind(root).unwrap(),
            Kind::Http(u) if u == "https://h/x"
        ));
        assert!(spec("ssh://host/x").kind(root).is_err());
        assert!(spec("s3:///x").kind(root).is_err());
    }

    #[test]
    fn secrets_are_refused_in_the_project_file() {
        let v: toml::Value =
            toml::from_str("url = 's3://b'\nsecret_access_key = 'hunter2-secret'").unwrap();
        let mut s = spec("");
        let e = apply(&mut s, &v, false).unwrap_err().to_string();
        assert!(e.contains("secret_access_key"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        apply(&mut s, &v, true).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
